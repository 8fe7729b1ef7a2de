// `mlserve run`, `status` and `predict` as a user runs them: the built CLI, real processes.
import {describe, test, after, afterEach} from 'node:test'
import assert from 'node:assert/strict'
import {createServer} from 'node:net'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {ResultPromise} from 'execa'
import {request} from 'undici'
import {runCli, startRunCli} from '../helpers/cli.js'
import {apiYaml, makeProject, sleepPredictor, sleepProject, type TestProject} from '../helpers/projects.js'
import {waitFor} from '../helpers/http.js'

const projects: TestProject[] = []
const children: ResultPromise[] = []
// Each test file gets its own state dir, so `status` sees only its own runtimes.
const stateDir = mkdtempSync(join(tmpdir(), 'mlserve-state-'))
const env = {NO_COLOR: '1', MLSERVE_STATE_DIR: stateDir}

after(() => {
  projects.forEach((p) => p.cleanup())
  rmSync(stateDir, {recursive: true, force: true})
})
afterEach(async () => {
  for (const child of children.splice(0)) {
    child.kill('SIGKILL')
    await child.catch(() => undefined)
  }
})

interface Started {
  child: ResultPromise
  url: string
  stderr: () => string
}

/** Starts `mlserve run` and waits for its "Ready: URL" line. */
async function startRun(project: TestProject, args: string[] = []): Promise<Started> {
  projects.push(project)
  return startRunCli([project.dir, '--port', '0', ...args], env, (child) => children.push(child))
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('mlserve run lifecycle', () => {
  test('SIGTERM drains the request in flight, then stops every process', async () => {
    const run = await startRun(sleepProject({processes: 2, threads: 1}))
    const status = (await (await request(`${run.url}/status`)).body.json()) as any
    const replicaPid: number = status.apis[0].replicas[0].pid
    assert.ok(isAlive(replicaPid))
    const inFlight = request(`${run.url}/sleepy`, {method: 'POST', body: '{"sleep": 1}', headers: {'content-type': 'application/json'}})
    await new Promise((r) => setTimeout(r, 300))
    run.child.kill('SIGTERM')
    const answer = await inFlight
    assert.equal(answer.statusCode, 200, 'the request in flight finished')
    await answer.body.dump()
    const result = await run.child
    assert.equal(result.exitCode, 0, run.stderr())
    assert.match(run.stderr(), /draining 1 request/)
    // No process of the replica's group is left behind.
    assert.throws(() => process.kill(-replicaPid, 0), /ESRCH/)
  })

  test('a predictor that fails to import fails fast with its traceback and a non-zero exit', async () => {
    const project = makeProject({'mlserve.yaml': apiYaml(), 'predictor.py': 'import no_such_module_for_mlserve\n'})
    projects.push(project)
    const result = await runCli(['run', project.dir, '--port', '0'], {env})
    assert.equal(result.exitCode, 1)
    assert.match(result.stderr, /ModuleNotFoundError: No module named 'no_such_module_for_mlserve'/)
    assert.match(result.stderr, /MLS_REPLICA_START_FAILED/)
    assert.doesNotMatch(result.stderr, /\n\s+at .*\.js:\d+/, 'no JavaScript stack trace')
  })

  test('a port already in use gets a clear error naming it', async () => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const port = (blocker.address() as {port: number}).port
    try {
      const project = sleepProject()
      projects.push(project)
      const result = await runCli(['run', project.dir, '--port', String(port)], {env})
      assert.equal(result.exitCode, 2)
      assert.match(result.stderr, new RegExp(`MLS_PORT_IN_USE\\] Port ${port} on 127.0.0.1 is already in use`))
      assert.match(result.stderr, /--port/)
    } finally {
      blocker.close()
    }
  })

  test('asking for GPUs where there are none is an error before anything starts', async () => {
    const project = sleepProject({extra: '  compute:\n    gpu: 1\n'})
    projects.push(project)
    const result = await runCli(['run', project.dir, '--port', '0'], {env: {...env, MLSERVE_NVIDIA_SMI: '/nonexistent/nvidia-smi'}})
    assert.equal(result.exitCode, 2)
    assert.match(result.stderr, /MLS_GPU_UNAVAILABLE/)
    assert.match(result.stderr, /compute.gpu/)
    assert.doesNotMatch(result.stderr, /Ready:/)
  })

  test('a Cortex predictor type mlserve does not serve fails validate and run, each with a clear error', async () => {
    const project = makeProject({'mlserve.yaml': '- name: tf\n  kind: RealtimeAPI\n  predictor:\n    type: tensorflow\n    path: predictor.py\n    model_path: s3://bucket/model\n'})
    projects.push(project)
    // validate checks what a run needs, so it refuses what run would refuse.
    const validate = await runCli(['validate', project.dir], {env})
    assert.equal(validate.exitCode, 2, validate.stderr)
    assert.match(validate.stderr, /mlserve\.yaml:4:11 .*tensorflow is a Cortex predictor type mlserve does not serve/)
    const result = await runCli(['run', project.dir, '--port', '0'], {env})
    assert.equal(result.exitCode, 2)
    assert.match(result.stderr, /MLS_PREDICTOR_TYPE_UNSUPPORTED/)
  })

  test('a command predictor (any HTTP server reading $PORT) is served through the gateway', async () => {
    const server = `
import json, os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/healthz" else 404); self.send_header("content-length", "0"); self.end_headers()
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        out = json.dumps({"echo": json.loads(body), "processes": os.environ["MLSERVE_PROCESSES"], "web_concurrency": os.environ["WEB_CONCURRENCY"]}).encode()
        self.send_response(200); self.send_header("content-type", "application/json"); self.send_header("content-length", str(len(out))); self.end_headers(); self.wfile.write(out)
    def log_message(self, *a): pass
ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
`
    const project = makeProject({
      'mlserve.yaml': 'name: cmd\npredictor:\n  type: command\n  command: python3 server.py\n  processes_per_replica: 3\n',
      'server.py': server,
    })
    const run = await startRun(project)
    const answer = await request(`${run.url}/cmd`, {method: 'POST', body: '{"a": 1}', headers: {'content-type': 'application/json'}})
    assert.equal(answer.statusCode, 200)
    assert.deepEqual(await answer.body.json(), {echo: {a: 1}, processes: '3', web_concurrency: '3'})
    run.child.kill('SIGINT')
    assert.equal((await run.child).exitCode, 0)
  })
})

describe('mlserve status and predict', () => {
  test('status lists the running runtime as a table and as JSON; predict retries through it', async () => {
    const project = makeProject({'mlserve.yaml': apiYaml({processes: 1, threads: 2, maxReplicaConcurrency: 4}), 'predictor.py': sleepPredictor})
    const run = await startRun(project)
    const table = await runCli(['status'], {env})
    assert.equal(table.exitCode, 0, table.stderr)
    assert.match(table.stderr, /sleepy-0/)
    assert.match(table.stderr, /0\/2/)
    const json = await runCli(['status', '--json'], {env})
    const parsed = JSON.parse(json.stdout)
    assert.equal(parsed.runtimes[0].apis[0].name, 'sleepy')
    assert.equal(parsed.runtimes[0].url, run.url)

    const predicted = await runCli(['predict', '--data', '{"sleep": 0}', '--json'], {env})
    assert.equal(predicted.exitCode, 0, predicted.stderr)
    const body = JSON.parse(predicted.stdout)
    assert.equal(body.status, 200)
    assert.equal(body.attempts, 1)
    assert.equal(typeof body.body.pid, 'number')

    // Fill the replica (2 running + 2 queued for 3 s): predict is shed, backs off, and gets through.
    const fillers = Array.from({length: 4}, () => request(`${run.url}/sleepy`, {method: 'POST', body: '{"sleep": 3}', headers: {'content-type': 'application/json'}}))
    await waitFor(async () => {
      const live = (await (await request(`${run.url}/status`)).body.json()) as any
      return live.apis[0].replicas[0].running === 2 && live.apis[0].replicas[0].queued === 2
    }, 'the replica to be full')
    const retried = await runCli(['predict', 'sleepy', '--data', '{"sleep": 0}', '--retries', '8', '--json'], {env})
    assert.equal(retried.exitCode, 0, retried.stderr)
    const retriedBody = JSON.parse(retried.stdout)
    assert.equal(retriedBody.status, 200)
    assert.ok(retriedBody.attempts > 1, 'the first try was shed with 503 and retried')
    await Promise.all(fillers.map(async (f) => (await f).body.dump()))
  })

  test('predict with no runtime running gives MLS_RUNTIME_NOT_FOUND', async () => {
    const emptyState = mkdtempSync(join(tmpdir(), 'mlserve-empty-'))
    try {
      const result = await runCli(['predict', '--data', '{}'], {env: {...env, MLSERVE_STATE_DIR: emptyState}})
      assert.equal(result.exitCode, 1)
      assert.match(result.stderr, /MLS_RUNTIME_NOT_FOUND/)
      assert.match(result.stderr, /mlserve run/)
    } finally {
      rmSync(emptyState, {recursive: true, force: true})
    }
  })

  test('predict rejects --data that is not JSON, naming the flag', async () => {
    const result = await runCli(['predict', '--data', '{not json', '--url', 'http://127.0.0.1:9'], {env})
    assert.equal(result.exitCode, 2)
    assert.match(result.stderr, /MLS_DATA_INVALID\] Invalid --data/)
  })
})
