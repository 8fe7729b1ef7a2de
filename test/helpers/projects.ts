// Temporary mlserve projects for tests, removed by `cleanup()`.
import {after} from 'node:test'
import {mkdtempSync, rmSync, writeFileSync, mkdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'

/** A predictor that sleeps (payload.sleep or config.sleep seconds) and reports when and where it ran. */
export const sleepPredictor = `
import os, time, threading

CALLS = 0
LOCK = threading.Lock()

class PythonPredictor:
    def __init__(self, config):
        self.config = config

    def predict(self, payload):
        global CALLS
        with LOCK:
            CALLS += 1
            calls = CALLS
        start = time.time()
        payload = payload if isinstance(payload, dict) else {}
        time.sleep(float(payload.get("sleep", self.config.get("sleep", 0))))
        return {"pid": os.getpid(), "thread": threading.get_ident(), "start": start, "end": time.time(),
                "calls": calls, "cuda": os.environ.get("CUDA_VISIBLE_DEVICES")}
`

export interface TestProject {
  dir: string
  file: string
  cleanup: () => void
}

export function makeProject(files: Record<string, string | Buffer>): TestProject {
  const dir = mkdtempSync(join(tmpdir(), 'mlserve-test-'))
  for (const [name, content] of Object.entries(files)) {
    const path = join(dir, name)
    mkdirSync(dirname(path), {recursive: true})
    writeFileSync(path, content)
  }
  return {dir, file: join(dir, 'mlserve.yaml'), cleanup: () => rmSync(dir, {recursive: true, force: true})}
}

/** makeProject for one test file: every project it makes is removed in the file's after-hook. */
export function projectsRemovedAfterFile(): (files: Record<string, string | Buffer>) => TestProject {
  const projects: TestProject[] = []
  after(() => projects.forEach((p) => p.cleanup()))
  return (files) => {
    const p = makeProject(files)
    projects.push(p)
    return p
  }
}

export interface ApiShape {
  name?: string
  processes?: number
  threads?: number
  maxReplicaConcurrency?: number
  minReplicas?: number
  /** autoscaling.max_replicas; left out (Cortex's default, 100) when not given. */
  maxReplicas?: number
  config?: Record<string, unknown>
  extra?: string
}

export function apiYaml(shape: ApiShape = {}): string {
  const name = shape.name ?? 'sleepy'
  const config = JSON.stringify(shape.config ?? {})
  return `- name: ${name}
  kind: RealtimeAPI
  predictor:
    type: python
    path: predictor.py
    config: ${config}
    processes_per_replica: ${shape.processes ?? 1}
    threads_per_process: ${shape.threads ?? 1}
  autoscaling:
    min_replicas: ${shape.minReplicas ?? 1}
${shape.maxReplicas === undefined ? '' : `    max_replicas: ${shape.maxReplicas}\n`}    max_replica_concurrency: ${shape.maxReplicaConcurrency ?? 16}
${shape.extra ?? ''}`
}

export function sleepProject(shape: ApiShape = {}): TestProject {
  return makeProject({'mlserve.yaml': apiYaml(shape), 'predictor.py': sleepPredictor})
}
