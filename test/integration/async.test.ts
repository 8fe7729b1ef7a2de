// AsyncAPI end to end with real parts: Python replicas, HTTP on loopback, the
// embedded LMDB store, a real redis-server, `mlserve run` as a child process
// killed with SIGKILL mid-way and started again.
import {after, afterEach, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {ResultPromise} from 'execa'
import {loadProject} from '../../src/config/index.js'
import {planRuntime, Runtime} from '../../src/runtime/index.js'
import {applyPlan, findProjectTarget} from '../../src/client/traffic.js'
import {startRunCli} from '../helpers/cli.js'
import {projectsRemovedAfterFile, type TestProject} from '../helpers/projects.js'
import {startRedis, type TestRedis} from '../helpers/redis.js'
import {startServer} from '../helpers/servers.js'

const predictor = `
import os, time

class PythonPredictor:
    def __init__(self, config):
        pass

    def predict(self, payload):
        if payload.get("fail"):
            raise ValueError("cannot score " + str(payload["fail"]))
        time.sleep(float(payload.get("sleep", 0)))
        return {"n": payload.get("n"), "pid": os.getpid()}
`

const makeProject = projectsRemovedAfterFile()
const stateDir = mkdtempSync(join(tmpdir(), 'mlserve-state-'))
const env = {NO_COLOR: '1', MLSERVE_STATE_DIR: stateDir}
// In-process runtimes that announce themselves (for POST /apply) do so here too.
process.env.MLSERVE_STATE_DIR = stateDir
const runtimes: Runtime[] = []
const children: ResultPromise[] = []
let redis: TestRedis

before(async () => {
  redis = await startRedis()
})
afterEach(async () => {
  for (const runtime of runtimes.splice(0)) await runtime.stop({drain: false})
  for (const child of children.splice(0)) {
    child.kill('SIGKILL')
    await child.catch(() => undefined)
  }
})
after(async () => {
  await redis.stop()
  rmSync(stateDir, {recursive: true, force: true})
})

function asyncProject(async: string, options: {threads?: number; name?: string} = {}): TestProject {
  return makeProject({
    'predictor.py': predictor,
    'mlserve.yaml': `- name: ${options.name ?? 'jobs'}
  kind: AsyncAPI
  predictor:
    type: python
    path: predictor.py
    threads_per_process: ${options.threads ?? 2}
  async:
${async
  .trim()
  .split('\n')
  .map((line) => `    ${line}`)
  .join('\n')}
`,
  })
}

async function startRuntime(project: TestProject, options: {announce?: boolean; log?: (line: string) => void} = {}): Promise<Runtime> {
  const plan = await planRuntime(await loadProject(project.dir), {
    host: '127.0.0.1',
    port: 0,
    timeoutMs: 30_000,
    maxBodyBytes: 1_000_000,
    readinessTimeoutMs: 60_000,
    retryAfterSeconds: 1,
    accessLog: false,
    announce: options.announce ?? false,
  })
  const runtime = await Runtime.start(plan, {log: options.log ?? (() => undefined)})
  runtimes.push(runtime)
  return runtime
}

async function submit(url: string, payload: unknown): Promise<string> {
  const answer = await fetch(url, {method: 'POST', body: JSON.stringify(payload), headers: {'content-type': 'application/json'}})
  assert.equal(answer.status, 200)
  const {id} = (await answer.json()) as {id: string}
  assert.match(id, /^[0-9a-f-]{36}$/)
  return id
}

interface Polled {
  status: number
  body: {id?: string; status?: string; result?: any; error?: any; retries?: number; code?: string}
}

async function poll(url: string, id: string): Promise<Polled> {
  const answer = await fetch(`${url}/${id}`)
  return {status: answer.status, body: (await answer.json()) as Polled['body']}
}

/** Polls until every job has finished (or 120 s pass, then fails naming how many did not). */
async function waitFinished(url: string, ids: string[]): Promise<Map<string, Polled['body']>> {
  const done = new Map<string, Polled['body']>()
  const until = Date.now() + 120_000
  while (done.size < ids.length && Date.now() < until) {
    for (const id of ids) {
      if (done.has(id)) continue
      const {body} = await poll(url, id)
      if (body.status === 'completed' || body.status === 'failed') done.set(id, body)
    }
    if (done.size < ids.length) await new Promise((resolve) => setTimeout(resolve, 200))
  }
  assert.equal(done.size, ids.length, `${ids.length - done.size} job(s) never finished`)
  return done
}

async function metric(baseUrl: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels))
  return line === undefined ? NaN : Number(line.split(' ').pop())
}

/** A metric once it reaches `expected` (the queue gauges are read from the store every 500 ms), or its last value after 10 s. */
async function settled(baseUrl: string, name: string, labels: string, expected: number): Promise<number> {
  let value = await metric(baseUrl, name, labels)
  for (let i = 0; i < 100 && value !== expected; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    value = await metric(baseUrl, name, labels)
  }
  return value
}

/** Jobs each of two runtimes completed, once they add up to `total` (each counts right after it records a job), or after 10 s. */
async function completedOn(a: string, b: string, total: number): Promise<[number, number]> {
  const read = async (): Promise<[number, number]> => [
    await metric(a, 'mlserve_async_jobs_total', 'status="completed"'),
    await metric(b, 'mlserve_async_jobs_total', 'status="completed"'),
  ]
  let counts = await read()
  for (let i = 0; i < 100 && counts[0] + counts[1] !== total; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    counts = await read()
  }
  return counts
}

describe('AsyncAPI on the embedded store', () => {
  test('POST answers {id} at once; GET <endpoint>/<id> goes in_queue → completed with the result; a raising predictor fails with its error', async () => {
    const runtime = await startRuntime(asyncProject('store: embedded'))
    const endpoint = `${runtime.url}/jobs`
    const ok = await submit(endpoint, {n: 7, sleep: 0.3})
    const first = await poll(endpoint, ok)
    assert.equal(first.status, 200)
    assert.ok(['in_queue', 'in_progress'].includes(first.body.status!), `fresh job is ${first.body.status}`)
    assert.equal(first.body.result, undefined)
    const bad = await submit(endpoint, {fail: 'row 3'})
    const done = await waitFinished(endpoint, [ok, bad])
    assert.equal(done.get(ok)!.status, 'completed')
    assert.equal(done.get(ok)!.result.n, 7)
    assert.equal(done.get(bad)!.status, 'failed')
    assert.equal(done.get(bad)!.error.status, 500)
    assert.match(done.get(bad)!.error.body.error, /ValueError: cannot score row 3/)

    const unknown = await poll(endpoint, '00000000-0000-0000-0000-000000000000')
    assert.equal(unknown.status, 404)
    assert.equal(unknown.body.code, 'MLS_ASYNC_JOB_NOT_FOUND')
    const wrongMethod = await fetch(endpoint)
    assert.equal(wrongMethod.status, 405)
    assert.equal(((await wrongMethod.json()) as {code: string}).code, 'MLS_GATEWAY_METHOD_NOT_ALLOWED')

    assert.equal(await settled(runtime.url, 'mlserve_async_jobs_total', 'status="completed"', 1), 1)
    assert.equal(await settled(runtime.url, 'mlserve_async_jobs_total', 'status="failed"', 1), 1)
    assert.equal(await settled(runtime.url, 'mlserve_async_queue_length', 'api="jobs"', 0), 0)
    assert.equal(await settled(runtime.url, 'mlserve_async_in_progress', 'api="jobs"', 0), 0)
  })

  test("the autoscaler's signal for an AsyncAPI is its backlog (queued + in progress), not requests in flight", async () => {
    const runtime = await startRuntime(asyncProject('store: embedded'))
    const signal = runtime.scalingSignals.get('jobs')
    assert.ok(signal, 'the AsyncAPI registered a scaling signal')
    assert.equal(signal(), 0)
    const ids: string[] = []
    for (let n = 0; n < 12; n++) ids.push(await submit(`${runtime.url}/jobs`, {n, sleep: 0.3}))
    // No client request is in flight now: only the backlog can make the signal positive.
    let seen = signal()
    for (let i = 0; i < 40 && seen < 6; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      seen = Math.max(seen, signal())
    }
    assert.ok(seen >= 6, `the backlog signal reached ${seen} with 12 jobs of 0.3 s on 2 threads`)
    await waitFinished(`${runtime.url}/jobs`, ids)
    let after = signal()
    for (let i = 0; i < 40 && after !== 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      after = signal()
    }
    assert.equal(after, 0)
  })

  test('mlserve apply refuses to change the async section (MLS_ASYNC_APPLY_UNSUPPORTED) and applies a predictor change live', async () => {
    const project = asyncProject('store: embedded')
    const logs: string[] = []
    const runtime = await startRuntime(project, {announce: true, log: (line) => logs.push(line)})
    const planOf = async () =>
      planRuntime(await loadProject(project.dir), {host: '127.0.0.1', port: 0, timeoutMs: 30_000, maxBodyBytes: 1_000_000, readinessTimeoutMs: 60_000, retryAfterSeconds: 1, accessLog: false, announce: false})
    writeFileSync(project.file, readFileSync(project.file, 'utf8').replace('store: embedded', 'store: embedded\n    result_ttl: 1h'))
    await assert.rejects(runtime.apply(await planOf()), (error: {code?: string; message: string}) => {
      assert.equal(error.code, 'MLS_ASYNC_APPLY_UNSUPPORTED')
      assert.match(error.message, /cannot change the async section or endpoint of AsyncAPI "jobs"/)
      return true
    })
    // Over POST /apply, as `mlserve apply` sends it, the code and words arrive whole, and the run log says it too.
    await assert.rejects(applyPlan(findProjectTarget(project.file), await planOf(), {timeoutMs: 60_000}), (error: {code?: string; message: string; suggestion: string; exitCode: number}) => {
      assert.equal(error.code, 'MLS_ASYNC_APPLY_UNSUPPORTED')
      assert.match(error.message, /^mlserve apply cannot change the async section or endpoint of AsyncAPI "jobs"/)
      assert.match(error.suggestion, /applied live\.$/)
      assert.equal(error.exitCode, 1)
      return true
    })
    assert.ok(logs.some((line) => /^apply: not applied: mlserve apply cannot change the async section/.test(line)), logs.join('\n'))
    writeFileSync(project.file, readFileSync(project.file, 'utf8').replace('    result_ttl: 1h\n', '').replace('threads_per_process: 2', 'threads_per_process: 3'))
    const {changes} = await runtime.apply(await planOf())
    assert.ok(changes.length > 0, 'the predictor change was applied')
    const id = await submit(`${runtime.url}/jobs`, {n: 9})
    assert.equal((await waitFinished(`${runtime.url}/jobs`, [id])).get(id)!.result.n, 9)
  })

  test('a result is removed after result_ttl: GET answers 404 then', async () => {
    const runtime = await startRuntime(asyncProject('result_ttl: 1s'))
    const endpoint = `${runtime.url}/jobs`
    const id = await submit(endpoint, {n: 1})
    assert.equal((await waitFinished(endpoint, [id])).get(id)!.status, 'completed')
    let answer = await poll(endpoint, id)
    for (let i = 0; i < 100 && answer.status === 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      answer = await poll(endpoint, id)
    }
    assert.equal(answer.status, 404)
    assert.equal(answer.body.code, 'MLS_ASYNC_JOB_NOT_FOUND')
  })

  test('the webhook gets {id, status, result}, retried with backoff past failures; a webhook that never answers 2xx is given up and counted', async () => {
    const received: Array<{hit: number; body: any}> = []
    const hook = await startServer((req, res, hit) => {
      let text = ''
      req.on('data', (chunk: Buffer) => (text += chunk.toString()))
      req.on('end', () => {
        received.push({hit, body: JSON.parse(text)})
        // The first two tries fail: one 500, one connection cut.
        if (hit === 1) {
          res.writeHead(500)
          res.end()
        } else if (hit === 2) res.socket?.destroy()
        else res.end('ok')
      })
    })
    const dead = await startServer((req, res) => {
      req.resume()
      res.writeHead(503)
      res.end()
    })
    try {
      const runtime = await startRuntime(
        makeProject({
          'predictor.py': predictor,
          'mlserve.yaml': `- name: hooked
  kind: AsyncAPI
  predictor: {type: python, path: predictor.py}
  async:
    webhook: {url: "${hook.url}/done", max_retries: 4, backoff: 50ms}
- name: unheard
  kind: AsyncAPI
  predictor: {type: python, path: predictor.py}
  async:
    webhook: {url: "${dead.url}/done", max_retries: 2, backoff: 20ms}
`,
        }),
      )
      const id = await submit(`${runtime.url}/hooked`, {n: 5})
      const lost = await submit(`${runtime.url}/unheard`, {n: 6})
      await waitFinished(`${runtime.url}/hooked`, [id])
      await waitFinished(`${runtime.url}/unheard`, [lost])
      for (let i = 0; i < 100 && ((await metric(runtime.url, 'mlserve_async_webhook_total', 'api="hooked",outcome="delivered"')) !== 1 || dead.hits() < 3); i++) {
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      assert.equal(hook.hits(), 3)
      for (const {body} of received) assert.deepEqual({id: body.id, status: body.status, n: body.result.n}, {id, status: 'completed', n: 5})
      assert.equal(await metric(runtime.url, 'mlserve_async_webhook_total', 'api="hooked",outcome="delivered"'), 1)
      assert.equal(await metric(runtime.url, 'mlserve_async_webhook_total', 'api="hooked",outcome="retried"'), 2)
      assert.equal(dead.hits(), 3, 'one call and max_retries 2')
      for (let i = 0; i < 100 && (await metric(runtime.url, 'mlserve_async_webhook_total', 'api="unheard",outcome="failed"')) !== 1; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      assert.equal(await metric(runtime.url, 'mlserve_async_webhook_total', 'api="unheard",outcome="failed"'), 1)
    } finally {
      await hook.close()
      await dead.close()
    }
  })
})

/**
 * Submits `count` jobs to `mlserve run`, kills it with SIGKILL once some have
 * completed and others are running, starts it again, and waits for every job.
 */
async function killMidway(project: TestProject, count: number): Promise<{finished: Map<string, Polled['body']>; retried: number; reported: number}> {
  const first = await startRunCli([project.dir, '--port', '0'], env, (child) => children.push(child))
  const endpoint = `${first.url}/jobs`
  const ids: string[] = []
  for (let n = 0; n < count; n++) ids.push(await submit(endpoint, {n, sleep: 0.3}))
  // Kill as soon as some jobs completed (one cheap read of the counter, so the kill lands while others run).
  let completed = 0
  for (let i = 0; i < 600 && completed < 4; i++) {
    completed = await metric(first.url, 'mlserve_async_jobs_total', 'status="completed"')
    if (completed < 4) await new Promise((resolve) => setTimeout(resolve, 20))
  }
  first.child.kill('SIGKILL')
  assert.ok(completed >= 4 && completed < count - 4, `killed with ${completed} of ${count} completed`)
  await first.child.catch(() => undefined)

  const second = await startRunCli([project.dir, '--port', '0'], env, (child) => children.push(child))
  const finished = await waitFinished(`${second.url}/jobs`, ids)
  const retried = [...finished.values()].filter((job) => (job.retries ?? 0) > 0).length
  const reported = await metric(second.url, 'mlserve_async_retries_total', 'api="jobs"')
  return {finished, retried, reported}
}

describe('AsyncAPI durability: mlserve run killed with SIGKILL mid-way, then started again', () => {
  test('embedded store: every job completes; those running at the kill are retried and counted', async () => {
    const {finished, retried, reported} = await killMidway(asyncProject('store: embedded\nlease: 1s'), 30)
    assert.deepEqual(new Set([...finished.values()].map((job) => job.status)), new Set(['completed']))
    assert.deepEqual(new Set([...finished.values()].map((job) => job.result.n)).size, 30)
    assert.ok(retried >= 1, 'the jobs in progress at the kill ran again')
    assert.equal(reported, retried, 'mlserve_async_retries_total counts them')
  })

  test('redis store: every job completes; those running at the kill are retried and counted', async () => {
    const {finished, retried, reported} = await killMidway(asyncProject(`store: redis\nredis_url: ${redis.url}\nlease: 1s`, {name: 'jobs'}), 30)
    assert.deepEqual(new Set([...finished.values()].map((job) => job.status)), new Set(['completed']))
    assert.equal(new Set([...finished.values()].map((job) => job.result.n)).size, 30)
    assert.ok(retried >= 1, 'the jobs in progress at the kill ran again')
    assert.equal(reported, retried, 'mlserve_async_retries_total counts them')
  })
})

describe('AsyncAPI on the embedded store, two processes', () => {
  test('two `mlserve run` of one project share its LMDB queue: jobs submitted to one run on both, each once', async () => {
    const project = asyncProject('store: embedded', {threads: 1})
    const a = await startRunCli([project.dir, '--port', '0'], env, (child) => children.push(child))
    const b = await startRunCli([project.dir, '--port', '0'], env, (child) => children.push(child))
    const ids: string[] = []
    for (let n = 0; n < 30; n++) ids.push(await submit(`${a.url}/jobs`, {n, sleep: 0.1}))
    const finished = await waitFinished(`${b.url}/jobs`, ids)
    assert.deepEqual(new Set([...finished.values()].map((job) => job.status)), new Set(['completed']))
    const [ranOnA, ranOnB] = await completedOn(a.url, b.url, 30)
    assert.equal(ranOnA + ranOnB, 30, 'each job finished once')
    assert.ok(ranOnA > 0 && ranOnB > 0, `A ran ${ranOnA}, B ran ${ranOnB}`)
  })
})

describe('AsyncAPI on Redis', () => {
  test('two runtimes share one queue: jobs submitted to one run on both', async () => {
    await redis.client.flushall()
    const yaml = `store: redis\nredis_url: ${redis.url}`
    const a = await startRuntime(asyncProject(yaml, {threads: 1}))
    const b = await startRuntime(asyncProject(yaml, {threads: 1}))
    const ids: string[] = []
    for (let n = 0; n < 30; n++) ids.push(await submit(`${a.url}/jobs`, {n, sleep: 0.1}))
    const finished = await waitFinished(`${b.url}/jobs`, ids)
    assert.deepEqual(new Set([...finished.values()].map((job) => job.status)), new Set(['completed']))
    const workers = [...finished.values()].map((job) => job.result.pid as number)
    // Each runtime counts the jobs it finished.
    const [ranOnA, ranOnB] = await completedOn(a.url, b.url, 30)
    assert.equal(ranOnA + ranOnB, 30)
    assert.ok(ranOnA > 0 && ranOnB > 0, `A ran ${ranOnA}, B ran ${ranOnB}`)
    assert.ok(new Set(workers).size >= 2, 'the two runtimes\' replicas did the work')
  })

  test('an unreachable Redis fails mlserve run at start with MLS_ASYNC_REDIS_UNREACHABLE', async () => {
    const project = asyncProject('store: redis\nredis_url: redis://127.0.0.1:1')
    await assert.rejects(startRuntime(project), (error: {code?: string; message: string}) => {
      assert.equal(error.code, 'MLS_ASYNC_REDIS_UNREACHABLE')
      assert.match(error.message, /could not connect to Redis at redis:\/\/127\.0\.0\.1:1/)
      return true
    })
  })
})

describe('an AsyncAPI has no batch endpoint', () => {
  test('POST <endpoint>/batch answers MLS_ASYNC_NO_BATCH, not a wrong-method answer', async () => {
    const runtime = await startRuntime(asyncProject('store: embedded'))
    const answer = await fetch(`${runtime.url}/jobs/batch`, {method: 'POST', body: '[{"n": 1}]', headers: {'content-type': 'application/json'}})
    assert.equal(answer.status, 404)
    const body = (await answer.json()) as {code: string; error: string}
    assert.equal(body.code, 'MLS_ASYNC_NO_BATCH')
    assert.match(body.error, /^AsyncAPI "jobs" has no batch endpoint/)
  })
})

describe('mlserve run with an AsyncAPI: what it says', () => {
  test('the banner gives the job routes and the replicas on lines of their own; Ctrl-C counts the running jobs it drains', async () => {
    const project = asyncProject('store: embedded')
    const run = await startRunCli([project.dir, '--port', '0'], env, (child) => children.push(child))
    const banner = run.stderr()
    assert.match(banner, /^ {2}jobs {2}AsyncAPI {2}POST \S+\/jobs → \{"id"\} {3}GET \S+\/jobs\/<id> → status and result$/m)
    assert.match(banner, /^ {8}jobs kept in the embedded job store, run by 1 replica × 1 process × 2 threads/m)
    assert.doesNotMatch(banner, /^ {2}jobs {2}POST /m, 'no line reads like a RealtimeAPI endpoint')
    const ids = [await submit(`${run.url}/jobs`, {n: 1, sleep: 3}), await submit(`${run.url}/jobs`, {n: 2, sleep: 3})]
    for (let i = 0; i < 300; i++) {
      const statuses = await Promise.all(ids.map(async (id) => (await poll(`${run.url}/jobs`, id)).body.status))
      if (statuses.every((status) => status === 'in_progress')) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    run.child.kill('SIGINT')
    await run.child
    assert.match(run.stderr(), /draining 0 requests in flight and 2 async jobs running/)
  })
})
