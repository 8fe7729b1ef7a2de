// A replica on CPUs of its own, as tune measures it and `mlserve run
// --replica-cpus` runs it: every process of a real harness replica (its
// supervisor and the workers it forks), and every thread of each, may run only
// on the replica's CPUs; under the docker driver the container's cpuset is
// those CPUs. Read back from /proc and from the engine, never assumed.
import {describe, test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {ResultPromise} from 'execa'
import {request} from 'undici'
import {loadProject} from '../../src/config/index.js'
import {availableCpus, formatCpuList, startReplicaUnderTest, type ReplicaUnderTest} from '../../src/runtime/index.js'
import {runCli, startRunCli} from '../helpers/cli.js'
import {buildTestImage, docker, removeImage, requireDocker} from '../helpers/docker.js'
import {apiYaml, projectsRemovedAfterFile, sleepPredictor} from '../helpers/projects.js'
import {post, waitFor} from '../helpers/http.js'

const makeProject = projectsRemovedAfterFile()
const running: ReplicaUnderTest[] = []
const children: ResultPromise[] = []
// `mlserve run` announces itself in a state dir of this file's own.
const stateDir = mkdtempSync(join(tmpdir(), 'mlserve-state-'))
const cliEnv = {NO_COLOR: '1', MLSERVE_STATE_DIR: stateDir}
after(async () => {
  await Promise.all(running.splice(0).map((replica) => replica.stop({drain: false})))
  for (const child of children.splice(0)) {
    child.kill('SIGKILL')
    await child.catch(() => undefined)
  }
  rmSync(stateDir, {recursive: true, force: true})
})

/** The highest-numbered CPU: the one splitCpus gives a one-CPU replica. */
const replicaCpu = Math.max(...availableCpus())

/** The pids of the live processes in process group `pgid`. */
function groupPids(pgid: number): number[] {
  const pids: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      // Fields after the command name (which may hold spaces) start after the last ')'; the 3rd is the group.
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === pgid) pids.push(Number(name))
    } catch {
      // exited while we looked
    }
  }
  return pids
}

/** Cpus_allowed_list of every thread of process `pid`, by thread id. */
function threadCpus(pid: number): Map<string, string> {
  const cpus = new Map<string, string>()
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const line = /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'))
    cpus.set(`${pid}/${tid}`, line?.[1] ?? '(none)')
  }
  return cpus
}

async function replicaPid(replica: ReplicaUnderTest): Promise<number> {
  const pid = (await replica.status()).apis[0].replicas[0].pid
  assert.ok(pid, 'the replica reports its process (group leader)')
  return pid
}

function project() {
  return makeProject({'mlserve.yaml': apiYaml({processes: 2, threads: 2}), 'predictor.py': sleepPredictor})
}

describe('process driver: a pinned replica', () => {
  test('every process and thread of the replica’s group runs only on its CPUs, and it serves', async () => {
    const p = project()
    const replica = await startReplicaUnderTest(await loadProject(p.dir), {api: 'sleepy', cpus: [replicaCpu], log: () => undefined})
    running.push(replica)
    assert.equal((await post(replica.url, {})).status, 200)
    const pgid = await replicaPid(replica)
    await waitFor(() => groupPids(pgid).length >= 3, 'the supervisor and its 2 workers')
    const pids = groupPids(pgid)
    for (const pid of pids) {
      for (const [thread, cpus] of threadCpus(pid)) assert.equal(cpus, String(replicaCpu), `thread ${thread}`)
    }
  })

  test('a command server and the process it starts run only on the replica’s CPUs', async () => {
    // A server that forks a helper, as a uvicorn or gunicorn master forks its workers.
    const server = `import os, subprocess
from http.server import BaseHTTPRequestHandler, HTTPServer
helper = subprocess.Popen(["sleep", "600"])
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("content-length", "0"); self.end_headers()
    def log_message(self, *a): pass
HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
`
    const p = makeProject({'mlserve.yaml': 'name: cmd\npredictor:\n  type: command\n  command: python3 server.py\n', 'server.py': server})
    const replica = await startReplicaUnderTest(await loadProject(p.dir), {api: 'cmd', cpus: [replicaCpu], log: () => undefined})
    running.push(replica)
    const pgid = await replicaPid(replica)
    await waitFor(() => groupPids(pgid).length >= 2, 'the server and its helper')
    for (const pid of groupPids(pgid)) {
      for (const [thread, cpus] of threadCpus(pid)) assert.equal(cpus, String(replicaCpu), `thread ${thread}`)
    }
  })

  test('an unpinned replica keeps every CPU this process may use', async () => {
    const p = project()
    const replica = await startReplicaUnderTest(await loadProject(p.dir), {api: 'sleepy', log: () => undefined})
    running.push(replica)
    const pgid = await replicaPid(replica)
    await waitFor(() => groupPids(pgid).length >= 3, 'the supervisor and its 2 workers')
    const pids = groupPids(pgid)
    for (const pid of pids) {
      for (const [thread, cpus] of threadCpus(pid)) assert.equal(cpus, formatCpuList(availableCpus()), `thread ${thread}`)
    }
  })
})

describe('mlserve run --replica-cpus', () => {
  test('pins the replicas to the CPUs given and mlserve itself (the gateway) to the others', async () => {
    const p = project()
    const run = await startRunCli([p.dir, '--port', '0', '--replica-cpus', String(replicaCpu)], cliEnv, (child) => children.push(child))
    const rest = availableCpus().filter((cpu) => cpu !== replicaCpu)
    const status = (await (await request(`${run.url}/status`)).body.json()) as {apis: Array<{replicas: Array<{pid: number}>}>}
    const pgid = status.apis[0].replicas[0].pid
    await waitFor(() => groupPids(pgid).length >= 3, 'the supervisor and its 2 workers')
    for (const pid of groupPids(pgid)) {
      for (const [thread, cpus] of threadCpus(pid)) assert.equal(cpus, String(replicaCpu), `replica thread ${thread}`)
    }
    // On a one-CPU machine nothing is left, and mlserve says the gateway shares the replica's CPU.
    const gateway = rest.length > 0 ? formatCpuList(rest) : String(replicaCpu)
    for (const [thread, cpus] of threadCpus(run.child.pid!)) assert.equal(cpus, gateway, `mlserve thread ${thread}`)
    assert.match(run.stderr(), rest.length > 0 ? new RegExp(`Replicas run on CPUs ${replicaCpu}; the gateway on CPUs ${gateway}\\.`) : /the gateway shares them with the replicas/)
    assert.equal((await post(`${run.url}/sleepy`, {})).status, 200)
  })

  test('a CPU this process may not use is MLS_INVALID_FLAG, naming the value and the CPUs there are', async () => {
    const p = project()
    const result = await runCli(['run', p.dir, '--port', '0', '--replica-cpus', '4095'], {env: cliEnv})
    assert.equal(result.exitCode, 2, result.stderr)
    assert.match(result.stderr, /MLS_INVALID_FLAG/)
    assert.match(result.stderr, /Invalid value for --replica-cpus: received "4095"/)
    assert.ok(result.stderr.includes(`the CPUs this process may use (${formatCpuList(availableCpus())})`), result.stderr)
  })
})

describe('docker driver: a pinned replica', () => {
  let image = ''
  before(async () => {
    await requireDocker()
    image = await buildTestImage({'predictor.py': sleepPredictor}, 'pinning')
  })
  after(async () => {
    if (image) await removeImage(image)
  })

  test('the container’s cpuset is the replica’s CPUs, next to compute.cpu’s NanoCpus; its processes run only there', async () => {
    const p = makeProject({
      'mlserve.yaml': apiYaml({processes: 2, threads: 1, extra: '  compute:\n    cpu: 1\n'}),
      'predictor.py': sleepPredictor,
    })
    const replica = await startReplicaUnderTest(await loadProject(p.dir), {api: 'sleepy', driver: 'docker', image, cpus: [replicaCpu], log: () => undefined})
    running.push(replica)
    assert.equal((await post(replica.url, {})).status, 200)
    const container = (await replica.status()).apis[0].replicas[0].container
    assert.ok(container, 'the replica reports its container')
    const info = await docker.getContainer(container).inspect()
    assert.equal(info.HostConfig.CpusetCpus, String(replicaCpu))
    assert.equal(info.HostConfig.NanoCpus, 1_000_000_000)
    // The harness's supervisor as the host sees it: the cpuset bounds its affinity too.
    for (const [thread, cpus] of threadCpus(info.State.Pid)) assert.equal(cpus, String(replicaCpu), `thread ${thread}`)
  })
})
