// The runtime end to end: real Python workers behind the real gateway, real HTTP on loopback.
import {describe, test, after, afterEach} from 'node:test'
import assert from 'node:assert/strict'
import {request} from 'undici'
import {loadProject} from '../../src/config/index.js'
import {planRuntime, type PlanOptions} from '../../src/runtime/plan.js'
import {Runtime, runtimeDefaults} from '../../src/runtime/runtime.js'
import {sleepProject, type TestProject} from '../helpers/projects.js'
import {post, waitFor} from '../helpers/http.js'

const projects: TestProject[] = []
const runtimes: Runtime[] = []
after(() => projects.forEach((p) => p.cleanup()))
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.stop({drain: false})))
})

const logs: string[] = []
async function start(project: TestProject, options: Partial<PlanOptions> = {}): Promise<Runtime> {
  projects.push(project)
  const runtime = await Runtime.start(await planRuntime(await loadProject(project.dir), {
    ...runtimeDefaults,
    port: 0,
    accessLog: false,
    announce: false,
    ...options,
  }), {log: (line) => logs.push(line)})
  runtimes.push(runtime)
  return runtime
}

describe('admission control and load shedding', () => {
  test('the documented scenario: 1×2 replica, max_replica_concurrency 4, 2 s predictor; 4 requests then 5 more: the 5 get 503 at once, the 4 get 200', async () => {
    const runtime = await start(sleepProject({processes: 1, threads: 2, maxReplicaConcurrency: 4, config: {sleep: 2}}))
    const url = runtime.endpointUrl('sleepy')
    const first = Array.from({length: 4}, () => post(url, {}))
    await waitFor(() => {
      const [replica] = runtime.status().apis[0].replicas
      return replica.running === 2 && replica.queued === 2
    }, '2 running and 2 queued')
    const more = await Promise.all(Array.from({length: 5}, () => post(url, {})))
    const shedDone = performance.now()
    for (const answer of more) {
      assert.equal(answer.status, 503)
      assert.equal(answer.headers['retry-after'], '1')
      assert.equal(answer.body.max_replica_concurrency, 4)
      assert.match(answer.body.error, /max_replica_concurrency/)
    }
    const firstAnswers = await Promise.all(first)
    assert.deepEqual(firstAnswers.map((a) => a.status), [200, 200, 200, 200])
    // "At once": every 503 came back before any of the admitted requests finished.
    assert.ok(firstAnswers.every((a) => a.at > shedDone), 'the 503s arrived while the first four were still running')
    const [replica] = runtime.status().apis[0].replicas
    assert.equal(replica.shed, 5)
  })

  test('p × t requests really run in parallel: 4 requests to a 2×2 replica overlap in time, on 2 processes', async () => {
    const runtime = await start(sleepProject({processes: 2, threads: 2, maxReplicaConcurrency: 8, config: {sleep: 1}}))
    const url = runtime.endpointUrl('sleepy')
    const answers = await Promise.all(Array.from({length: 4}, () => post(url, {})))
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200])
    const latestStart = Math.max(...answers.map((a) => a.body.start))
    const earliestEnd = Math.min(...answers.map((a) => a.body.end))
    assert.ok(latestStart < earliestEnd, 'all four started before any finished: they ran at once, not in two waves')
    assert.equal(new Set(answers.map((a) => a.body.pid)).size, 2, 'two processes served them')
  })

  test('a fifth request to a 2×2 replica waits in the queue until a slot frees', async () => {
    const runtime = await start(sleepProject({processes: 2, threads: 2, maxReplicaConcurrency: 8, config: {sleep: 1}}))
    const url = runtime.endpointUrl('sleepy')
    const answers = await Promise.all(Array.from({length: 5}, () => post(url, {})))
    assert.ok(answers.every((a) => a.status === 200))
    const sorted = answers.map((a) => a.body).sort((a, b) => a.start - b.start)
    const firstEnd = Math.min(...sorted.slice(0, 4).map((b) => b.end))
    assert.ok(sorted[4].start >= firstEnd - 0.01, 'the fifth started only after one of the first four ended')
  })

  test('a timeout gives 504 and frees the slot', async () => {
    const runtime = await start(sleepProject({processes: 1, threads: 1, config: {sleep: 0}}), {timeoutMs: 300})
    const url = runtime.endpointUrl('sleepy')
    const slow = await post(url, {sleep: 2})
    assert.equal(slow.status, 504)
    assert.match(slow.body.error, /timeout/)
    await waitFor(() => runtime.status().apis[0].replicas[0].running === 0, 'the slot to be free')
  })

  test('a client that disconnects while queued is taken out of the queue and never runs', async () => {
    const runtime = await start(sleepProject({processes: 1, threads: 1, maxReplicaConcurrency: 10}))
    const url = runtime.endpointUrl('sleepy')
    const blocker = post(url, {sleep: 1})
    await waitFor(() => runtime.status().apis[0].replicas[0].running === 1, 'the blocker to run')
    const controller = new AbortController()
    const abandoned = request(url, {method: 'POST', body: '{"sleep": 0}', headers: {'content-type': 'application/json'}, signal: controller.signal}).catch(() => 'aborted')
    await waitFor(() => runtime.status().apis[0].replicas[0].queued === 1, 'the second request to queue')
    controller.abort()
    assert.equal(await abandoned, 'aborted')
    await waitFor(() => runtime.status().apis[0].replicas[0].queued === 0, 'the queue to empty')
    const first = await blocker
    const next = await post(url, {})
    assert.equal(first.status, 200)
    assert.equal(next.status, 200)
    // calls counts predict() runs in the process: the abandoned request never ran.
    assert.equal(next.body.calls, first.body.calls + 1)
  })
})

describe('routing and the HTTP surface', () => {
  test('X-Request-ID is propagated, or made when missing', async () => {
    const runtime = await start(sleepProject())
    const url = runtime.endpointUrl('sleepy')
    const given = await post(url, {}, {'x-request-id': 'abc-123'})
    assert.equal(given.headers['x-request-id'], 'abc-123')
    const made = await post(url, {})
    assert.match(String(made.headers['x-request-id']), /^[0-9a-f-]{36}$/)
  })

  test('413 for an oversized body, 404 for an unknown endpoint, 405 for GET on an API', async () => {
    const runtime = await start(sleepProject(), {maxBodyBytes: 1024})
    const big = await post(runtime.endpointUrl('sleepy'), {pad: 'x'.repeat(4096)})
    assert.equal(big.status, 413)
    const unknown = await post(`${runtime.url}/nope`, {})
    assert.equal(unknown.status, 404)
    assert.deepEqual(unknown.body.endpoints, ['/sleepy'])
    const get = await request(runtime.endpointUrl('sleepy'))
    assert.equal(get.statusCode, 405)
    assert.equal(get.headers.allow, 'POST')
    await get.body.dump()
  })

  test('requests are spread over replicas, least loaded first', async () => {
    const runtime = await start(sleepProject({minReplicas: 2, config: {sleep: 0.5}}))
    const url = runtime.endpointUrl('sleepy')
    const answers = await Promise.all([post(url, {}), post(url, {})])
    assert.equal(new Set(answers.map((a) => a.body.pid)).size, 2, 'two concurrent requests went to two replicas')
  })

  test('/metrics serves Prometheus text per API and replica, counting shed requests', async () => {
    const runtime = await start(sleepProject({maxReplicaConcurrency: 1, maxReplicas: 1}))
    const url = runtime.endpointUrl('sleepy')
    const running = post(url, {sleep: 0.5})
    await waitFor(() => runtime.status().apis[0].replicas[0].running === 1, 'one running')
    assert.equal((await post(url, {})).status, 503)
    await running
    const metrics = await (await request(`${runtime.url}/metrics`)).body.text()
    assert.match(metrics, /mlserve_requests_shed_total\{api="sleepy",replica="sleepy-0"\} 1/)
    assert.match(metrics, /mlserve_requests_in_flight\{api="sleepy",replica="sleepy-0"\} 0/)
    assert.match(metrics, /mlserve_requests_queued\{api="sleepy",replica="sleepy-0"\} 0/)
    assert.match(metrics, /mlserve_request_duration_seconds_count\{api="sleepy",replica="sleepy-0"\} 2/)
    assert.match(metrics, /mlserve_requests_total\{api="sleepy",replica="sleepy-0",code="503"\} 1/)
  })

  test('a crashed replica is taken out of routing, restarted, and serves again', async () => {
    const runtime = await start(sleepProject())
    const before = runtime.status().apis[0].replicas[0]
    assert.ok(before.pid)
    process.kill(-before.pid!, 'SIGKILL')
    await waitFor(() => runtime.status().apis[0].replicas[0].restarts === 1, 'a restart')
    await waitFor(() => runtime.status().apis[0].replicas[0].ready, 'the replica to be ready again')
    const answer = await post(runtime.endpointUrl('sleepy'), {})
    assert.equal(answer.status, 200)
    assert.notEqual(runtime.status().apis[0].replicas[0].pid, before.pid)
  })
})
