// Traffic policies with real Python replicas behind the real gateway: a
// weighted split, live weights, admission per API under a split, a shadow that
// never touches the primary, the shadow's diff report, session affinity by
// shard key, and the control routes' guards.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {networkInterfaces} from 'node:os'
import {request} from 'undici'
import {loadProject} from '../../src/config/index.js'
import {planRuntime, type PlanOptions} from '../../src/runtime/plan.js'
import {Runtime, runtimeDefaults} from '../../src/runtime/runtime.js'
import {listRuntimeRecords} from '../../src/runtime/state.js'
import type {TrafficStatus} from '../../src/runtime/gateway/traffic-types.js'
import {isLoopback} from '../../src/runtime/gateway/traffic-routes.js'
import {makeProject} from '../helpers/projects.js'
import {runtimesOfThisFile} from '../helpers/runtimes.js'
import {countByApi, fire, splitYaml, versionedPredictor, type SplitShape} from '../helpers/traffic.js'

const {projects, runtimes} = runtimesOfThisFile('traffic')

async function start(shape: SplitShape, options: Partial<PlanOptions> = {}): Promise<{runtime: Runtime; token: string; url: string}> {
  const project = makeProject({'mlserve.yaml': splitYaml(shape), 'predictor.py': versionedPredictor})
  projects.push(project)
  const plan = await planRuntime(await loadProject(project.dir), {...runtimeDefaults, port: 0, accessLog: false, ...options})
  const runtime = await Runtime.start(plan, {log: () => undefined})
  runtimes.push(runtime)
  const record = listRuntimeRecords().find((r) => r.url === runtime.url)
  assert.ok(record, 'the runtime announced itself')
  return {runtime, token: record.token, url: `${runtime.url}${shape.endpoint ?? `/${shape.splitter ?? 'model'}`}`}
}

async function control(runtime: Runtime, method: string, path: string, token: string | null, body?: unknown): Promise<{status: number; body: any}> {
  const headers: Record<string, string> = {'content-type': 'application/json'}
  if (token) headers.authorization = `Bearer ${token}`
  const response = await request(`${runtime.url}${path}`, {method: method as 'GET', headers, body: body === undefined ? undefined : JSON.stringify(body)})
  return {status: response.statusCode, body: await response.body.json()}
}

const twoVersions = (a: number, b: number, extra: Partial<SplitShape['apis'][number]> = {}): SplitShape => ({
  apis: [
    {name: 'model-a', weight: a, threads: 4, config: {version: 'a'}},
    {name: 'model-b', weight: b, threads: 4, config: {version: 'b'}, ...extra},
  ],
})

describe('weighted split', () => {
  test('90/10 over 10,000 requests: each answer names its API, and the shares hold', async () => {
    const {runtime, url} = await start(twoVersions(90, 10))
    const shots = await fire(url, 10_000, {concurrency: 16})
    assert.ok(shots.every((s) => s.status === 200), 'every request answered 200')
    assert.ok(shots.every((s) => s.body.version === s.api?.slice(-1)), 'X-Mlserve-Api names the API whose predictor answered')
    const counts = countByApi(shots)
    // Smooth weighted round-robin: exact over every 100 requests.
    assert.ok(Math.abs(counts['model-a'] - 9000) <= 50, `model-a answered ${counts['model-a']}`)
    assert.ok(Math.abs(counts['model-b'] - 1000) <= 50, `model-b answered ${counts['model-b']}`)
    const traffic = (await control(runtime, 'GET', '/traffic', null)).body as TrafficStatus
    assert.equal(traffic.apis['model-a'].codes['200'], counts['model-a'])
    assert.equal(traffic.apis['model-b'].codes['200'], counts['model-b'])
    assert.deepEqual(traffic.splitters[0].weights, {'model-a': 90, 'model-b': 10})
    // Each API's own endpoint still answers, as itself.
    const direct = await fire(`${runtime.url}/model-b`, 5)
    assert.deepEqual(countByApi(direct), {'model-b': 5})
  })

  test('a weight of 0 takes no traffic', async () => {
    const {url} = await start(twoVersions(100, 0))
    const shots = await fire(url, 300)
    assert.deepEqual(countByApi(shots), {'model-a': 300})
  })

  test("a split never bypasses an API's max_replica_concurrency", async () => {
    const {url} = await start({
      apis: [
        {name: 'model-a', weight: 0, config: {version: 'a'}},
        {name: 'model-b', weight: 100, threads: 1, maxReplicaConcurrency: 2, config: {version: 'b', sleep: 0.5}},
      ],
    })
    const shots = await fire(url, 8, {concurrency: 8})
    const statuses = shots.map((s) => s.status).sort()
    assert.deepEqual(statuses, [200, 200, 503, 503, 503, 503, 503, 503])
    assert.ok(shots.every((s) => s.api === 'model-b'), 'the shed answers name the API that shed them')
  })
})

describe('live weights', () => {
  test('set, then roll back, under load: no request fails, and the next requests follow the new weights', async () => {
    const {runtime, token, url} = await start(twoVersions(90, 10))
    let stop = false
    const failures: number[] = []
    const load = (async () => {
      let rounds = 0
      while (!stop && rounds++ < 200) {
        for (const shot of await fire(url, 40, {concurrency: 4})) if (shot.status !== 200) failures.push(shot.status)
      }
    })()
    for (const weights of [{'model-a': 50, 'model-b': 50}, {'model-a': 0, 'model-b': 100}]) {
      const set = await control(runtime, 'PUT', '/traffic/model', token, {weights})
      assert.equal(set.status, 200, JSON.stringify(set.body))
      assert.deepEqual(set.body.weights, weights)
      await new Promise((r) => setTimeout(r, 300))
    }
    try {
      assert.deepEqual(countByApi(await fire(url, 100)), {'model-b': 100})
      const back = await control(runtime, 'POST', '/traffic/model/rollback', token)
      assert.equal(back.status, 200)
      assert.deepEqual(back.body.weights, {'model-a': 50, 'model-b': 50})
      assert.deepEqual(back.body.previous, {'model-a': 0, 'model-b': 100})
    } finally {
      stop = true
      await load
    }
    assert.deepEqual(failures, [], 'no request failed while the weights changed')
    // With the load stopped, this client alone draws from the round-robin: exactly the weights.
    const counts = countByApi(await fire(url, 100))
    assert.deepEqual(counts, {'model-a': 50, 'model-b': 50})
  })

  test('bad weights, an unknown splitter and a missing token are refused and change nothing', async () => {
    const {runtime, token} = await start(twoVersions(90, 10))
    const sum = await control(runtime, 'PUT', '/traffic/model', token, {weights: {'model-a': 90, 'model-b': 20}})
    assert.equal(sum.status, 400)
    assert.equal(sum.body.code, 'MLS_GATEWAY_BAD_WEIGHTS')
    assert.match(sum.body.error, /add up to 110/)
    const unknown = await control(runtime, 'PUT', '/traffic/model', token, {weights: {'model-a': 90, 'model-c': 10}})
    assert.match(unknown.body.error, /"model-c" is not one of the splitter's APIs/)
    const missing = await control(runtime, 'PUT', '/traffic/nope', token, {weights: {'model-a': 100}})
    assert.equal(missing.status, 404)
    assert.equal(missing.body.code, 'MLS_GATEWAY_SPLITTER_NOT_FOUND')
    const anonymous = await control(runtime, 'PUT', '/traffic/model', null, {weights: {'model-a': 50, 'model-b': 50}})
    assert.equal(anonymous.status, 401)
    assert.equal(anonymous.body.code, 'MLS_GATEWAY_CONTROL_UNAUTHORIZED')
    const wrong = await control(runtime, 'POST', '/traffic/model/rollback', 'f'.repeat(64))
    assert.equal(wrong.status, 401)
    const nothing = await control(runtime, 'POST', '/traffic/model/rollback', token)
    assert.equal(nothing.status, 409)
    assert.deepEqual((await control(runtime, 'GET', '/traffic/model', null)).body.weights, {'model-a': 90, 'model-b': 10})
  })
})

describe('control routes from off the machine', () => {
  test('a gateway listening on every address answers /traffic from a non-loopback address with 403, and predictions as usual', async () => {
    // Docker's bridge or the machine's own network gives an address that is not loopback.
    const address = Object.values(networkInterfaces()).flat().find((i) => i && !i.internal && i.family === 'IPv4')?.address
    assert.ok(!isLoopback('192.0.2.7') && !isLoopback('::ffff:10.0.0.1') && isLoopback('127.0.0.1') && isLoopback('::1') && isLoopback('::ffff:127.0.0.1'))
    assert.ok(address, 'this machine has a non-loopback IPv4 address to test from')
    const {runtime, token} = await start(twoVersions(90, 10), {host: '0.0.0.0'})
    const remote = `http://${address}:${runtime.gateway.port}`
    for (const [method, path] of [['GET', '/traffic'], ['PUT', '/traffic/model'], ['POST', '/apply']] as const) {
      const response = await request(`${remote}${path}`, {method, headers: {authorization: `Bearer ${token}`, 'content-type': 'application/json'}, body: method === 'GET' ? undefined : '{}'})
      const body = (await response.body.json()) as {code: string}
      assert.equal(response.statusCode, 403, `${method} ${path}`)
      assert.equal(body.code, 'MLS_GATEWAY_CONTROL_FORBIDDEN')
    }
    const shots = await fire(`${remote}/model`, 10)
    assert.ok(shots.every((shot) => shot.status === 200))
  })
})

describe('shadow', () => {
  test('a shadow 10× slower takes copies without touching the primary, and the diff report compares them', async () => {
    const {runtime, url} = await start({
      apis: [
        {name: 'model-a', weight: 100, threads: 4, config: {version: 'a', sleep: 0.005, bare: true}},
        // Differs from model-a on every x divisible by 5; two threads, 10× slower: copies must be shed, never queued.
        {name: 'model-b', shadow: true, threads: 2, config: {version: 'b', sleep: 0.05, skew: 1, skew_every: 5, bare: true}},
      ],
    })
    const shots = await fire(url, 800, {concurrency: 4})
    assert.ok(shots.every((s) => s.status === 200 && s.api === 'model-a'), 'every answer came from the primary')
    await new Promise((r) => setTimeout(r, 300))
    const traffic = (await control(runtime, 'GET', '/traffic', null)).body as TrafficStatus
    const copies = traffic.apis['model-b'].shadow
    assert.equal(copies.sent + copies.shed, 800, 'every request was copied or its copy shed')
    assert.ok(copies.shed > 0, 'a slower shadow sheds copies rather than queueing them')
    assert.equal(copies.completed, copies.sent)
    assert.equal(traffic.apis['model-a'].shed, 0)
    const diff = (await control(runtime, 'GET', '/traffic/model/diff?examples=3', null)).body
    assert.equal(diff.compared, copies.completed)
    assert.equal(diff.shadowApi, 'model-b')
    assert.ok(diff.differ > 0 && diff.exact > 0)
    // x divisible by 5 → a fifth disagree, whichever requests were copied.
    assert.ok(Math.abs(diff.agreement - 0.8) < 0.2, `agreement ${diff.agreement}`)
    assert.equal(diff.examples.length, 3)
    assert.ok(diff.latency.shadow.p50 > diff.latency.primary.p50, 'the slower shadow shows as slower')
  })

  test('a shadow copy unanswered within the gateway timeout counts as failed, and the primary answers as usual', async () => {
    const {runtime, url} = await start(
      {
        apis: [
          {name: 'model-a', weight: 100, threads: 2, config: {version: 'a', bare: true}},
          {name: 'model-b', shadow: true, threads: 2, config: {version: 'b', sleep: 1.5, bare: true}},
        ],
      },
      {timeoutMs: 400},
    )
    const shots = await fire(url, 2, {concurrency: 1})
    assert.ok(shots.every((shot) => shot.status === 200 && shot.api === 'model-a'))
    await new Promise((r) => setTimeout(r, 600))
    const copies = ((await control(runtime, 'GET', '/traffic', null)).body as TrafficStatus).apis['model-b'].shadow
    assert.deepEqual(copies, {sent: 2, completed: 0, shed: 0, failed: 2})
    const diff = (await control(runtime, 'GET', '/traffic/model/diff', null)).body
    assert.equal(diff.shadowFailed, 2)
    assert.equal(diff.compared, 0)
  })

  test('shadow_percent copies that share of requests', async () => {
    const {runtime, url} = await start({
      apis: [
        {name: 'model-a', weight: 100, threads: 4, config: {version: 'a'}},
        {name: 'model-b', shadow: true, shadowPercent: 25, threads: 4, config: {version: 'b'}},
      ],
    })
    await fire(url, 200, {concurrency: 1})
    await new Promise((r) => setTimeout(r, 200))
    const copies = ((await control(runtime, 'GET', '/traffic', null)).body as TrafficStatus).apis['model-b'].shadow
    assert.equal(copies.sent + copies.shed, 50)
  })
})

describe('session affinity', () => {
  const keys = (n: number) => (i: number) => ({'x-shard-key': `user-${i % n}`})

  test('a shard key sticks to one API and one replica; 90/10 → 80/20 moves about the minimum share of keys', async () => {
    const {runtime, token, url} = await start({
      apis: [
        {name: 'model-a', weight: 90, minReplicas: 2, threads: 2, config: {version: 'a'}},
        {name: 'model-b', weight: 10, threads: 2, config: {version: 'b'}},
      ],
    })
    const n = 4000
    const before = await fire(url, n, {concurrency: 16, headers: keys(n)})
    const again = await fire(url, 400, {concurrency: 16, headers: keys(n)})
    for (const shot of again) {
      assert.equal(shot.api, before[shot.index].api)
      assert.equal(shot.body.pid, before[shot.index].body.pid, 'the same key reaches the same replica')
    }
    // Ray's X-SERVE-SHARD-KEY is read too.
    const ray = await fire(url, 400, {concurrency: 16, headers: (i) => ({'x-serve-shard-key': `user-${i % n}`})})
    for (const shot of ray) assert.equal(shot.api, before[shot.index].api)

    assert.equal((await control(runtime, 'PUT', '/traffic/model', token, {weights: {'model-a': 80, 'model-b': 20}})).status, 200)
    const after = await fire(url, n, {concurrency: 16, headers: keys(n)})
    const moved = after.filter((shot) => shot.api !== before[shot.index].api)
    const share = moved.length / n
    // The minimum is the total variation distance, 0.10; the goal is at most 1.2× it.
    assert.ok(share <= 0.12, `moved ${share}`)
    assert.ok(moved.every((shot) => shot.api === 'model-b'), 'keys move only to the API that gained weight')
    assert.ok(Math.abs(countByApi(after)['model-b'] / n - 0.2) < 0.03)
  })

  test('50/25/25 → 25/25/50 moves about a quarter of the keys', async () => {
    const {runtime, token, url} = await start({
      apis: [
        {name: 'model-a', weight: 50, config: {version: 'a'}, threads: 2},
        {name: 'model-b', weight: 25, config: {version: 'b'}, threads: 2},
        {name: 'model-c', weight: 25, config: {version: 'c'}, threads: 2},
      ],
    })
    const n = 4000
    const before = await fire(url, n, {concurrency: 16, headers: keys(n)})
    assert.equal((await control(runtime, 'PUT', '/traffic/model', token, {weights: {'model-a': 25, 'model-b': 25, 'model-c': 50}})).status, 200)
    const after = await fire(url, n, {concurrency: 16, headers: keys(n)})
    const share = after.filter((shot) => shot.api !== before[shot.index].api).length / n
    assert.ok(share <= 0.3, `moved ${share}; the minimum is 0.25`)
  })
})

describe('config', () => {
  test('a splitter over an API that is not in the project is a located error', async () => {
    const project = makeProject({
      'mlserve.yaml': splitYaml({apis: [{name: 'model-a', weight: 90, config: {}}, {name: 'model-x', weight: 10, config: {}}]}).replace(/- name: model-x\n[\s\S]*?(?=- name: model\n)/, ''),
      'predictor.py': versionedPredictor,
    })
    projects.push(project)
    await assert.rejects(loadProject(project.dir), (error: Error & {code?: string}) => /model-x/.test(error.message) || /model-x/.test(JSON.stringify(error)))
  })
})
