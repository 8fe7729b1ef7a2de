// The one door into the Python harness (docs/replica-contract.md): where it
// lives here and in an image, how it is invoked, the environment a replica
// container gets, and the events it reports. The process driver, the docker
// driver and `mlserve build` use the harness only through this file.
import {readdirSync, statSync} from 'node:fs'
import {join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'
import type {ReplicaSpec} from '../replica.js'

/**
 * The harness here: a Python package directory (standard library only), run
 * as `python3 DIR ...`. Resolved from src/ also when running from dist/.
 */
export const harnessPath = fileURLToPath(new URL('../../../src/runtime/harness/mlserve_harness', import.meta.url))

/** The harness's files (rel is relative to its directory, POSIX), for a build context. */
export function harnessFiles(): Array<{rel: string; abs: string; size: number}> {
  return readdirSync(harnessPath)
    .filter((name) => name.endsWith('.py'))
    .sort()
    .map((name) => {
      const abs = join(harnessPath, name)
      return {rel: name, abs, size: statSync(abs).size}
    })
}

// ---------------------------------------------------------------------------
// The in-image contract: between an image that `mlserve build` makes and the
// docker driver that runs it.

/** Where the harness's directory lives inside an image (`python3 /opt/mlserve/mlserve_harness serve`). */
export const HARNESS_IN_IMAGE = '/opt/mlserve/mlserve_harness'
/** The project's code inside an image; the harness runs with it as cwd. */
export const APP_DIR_IN_IMAGE = '/app'
/** The port a replica container listens on. */
export const CONTAINER_PORT = 8080
/** Written by the harness once every process has loaded the predictor; read by HEALTHCHECK. */
export const STATUS_FILE_IN_IMAGE = '/tmp/mlserve-ready'

/**
 * The environment a replica container gets. Processes, threads, the
 * predictor's config and batching come from mlserve.yaml at run time, so one
 * image serves any concurrency setting.
 */
export function containerEnv(spec: ReplicaSpec): Record<string, string> {
  const env: Record<string, string> = {
    ...spec.env,
    PYTHONUNBUFFERED: '1',
    MLSERVE_HOST: '0.0.0.0',
    MLSERVE_PORT: String(CONTAINER_PORT),
    PORT: String(CONTAINER_PORT),
    MLSERVE_API: spec.api,
    MLSERVE_NAME: spec.api,
    MLSERVE_REPLICA: String(spec.index),
    MLSERVE_PROCESSES: String(spec.processes),
    MLSERVE_THREADS: String(spec.threads),
    WEB_CONCURRENCY: String(spec.processes),
    MLSERVE_PROJECT_DIR: APP_DIR_IN_IMAGE,
    MLSERVE_CONFIG_JSON: JSON.stringify(spec.predictorConfig),
    MLSERVE_MAX_BODY_BYTES: String(spec.maxBodyBytes),
    MLSERVE_STATUS_FILE: STATUS_FILE_IN_IMAGE,
    MLSERVE_WATCH_STDIN: '0',
  }
  if (spec.predictorPath) env.MLSERVE_PREDICTOR = relative(spec.projectDir, spec.predictorPath)
  if (spec.batching) {
    env.MLSERVE_BATCH_MAX_SIZE = String(spec.batching.maxBatchSize)
    env.MLSERVE_BATCH_INTERVAL_MS = String(spec.batching.intervalMs)
  }
  return env
}

// ---------------------------------------------------------------------------
// Invocation

/** The harness's `serve` arguments for a python-kind replica of the process driver (events on fd 3). */
export function serveArgs(spec: ReplicaSpec): string[] {
  const args = [
    'serve',
    '--host', '127.0.0.1',
    '--port', '0',
    '--processes', String(spec.processes),
    '--threads', String(spec.threads),
    '--project-dir', spec.projectDir,
    '--predictor', spec.predictorPath ?? 'predictor.py',
    '--config-json', JSON.stringify(spec.predictorConfig),
    '--events-fd', '3',
    '--name', spec.api,
    '--max-body-bytes', String(spec.maxBodyBytes),
  ]
  if (spec.batching) {
    args.push('--batch-max-size', String(spec.batching.maxBatchSize), '--batch-interval-ms', String(spec.batching.intervalMs))
  }
  return [harnessPath, ...args]
}

/**
 * The argv (after the interpreter) that runs `command` so that it gets SIGTERM
 * when the process `parentPid` dies, for machines without setpriv: the
 * harness's `launch` arms Linux's parent-death signal and execs the command
 * (same pid, nothing left in between), or, without prctl, stays beside it
 * and stops its process group when its standard input, mlserve's pipe, closes.
 */
export function launchArgs(command: readonly string[], parentPid: number = process.pid): string[] {
  return [harnessPath, 'launch', '--parent-pid', String(parentPid), '--', ...command]
}

// ---------------------------------------------------------------------------
// Events (JSON lines; see docs/replica-contract.md, Events)

export interface HarnessEvent {
  event: string
  port?: number
  pid?: number
  pids?: number[]
  worker?: number
  traceback?: string
  code?: number | null
  signal?: string | null
  delay_s?: number
  message?: string
}

/**
 * Events sent on standard error (in a container, where there is no fd 3)
 * start with this marker, so that they can be told from log lines.
 */
export const EVENT_LINE_MARKER = '@mlserve-event '

/** The event on a log line that carries one, or null for an ordinary line. */
export function eventOfLine(line: string): HarnessEvent | null {
  if (!line.startsWith(EVENT_LINE_MARKER)) return null
  try {
    const event = JSON.parse(line.slice(EVENT_LINE_MARKER.length)) as HarnessEvent
    return typeof event?.event === 'string' ? event : null
  } catch {
    return null
  }
}
