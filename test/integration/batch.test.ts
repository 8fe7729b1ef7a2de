// The batch endpoint (POST <endpoint>/batch) with real Python replicas behind
// the real gateway: duplicates removed by canonical JSON and restored in the
// request's order, predict_batch called once with the unique items, the
// fallbacks (one by one, server-side batching, a command predictor's single
// calls), the limits, per-item failures, the prediction cache per item, and a
// batch through a TrafficSplitter.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {request} from 'undici'
import {loadProject} from '../../src/config/index.js'
import {planRuntime} from '../../src/runtime/plan.js'
import {Runtime, runtimeDefaults} from '../../src/runtime/runtime.js'
import {initProject} from '../../src/scaffold/index.js'
import {makeProject} from '../helpers/projects.js'
import {runtimesOfThisFile} from '../helpers/runtimes.js'

const {projects, runtimes} = runtimesOfThisFile('batch')

const fixture = readFileSync(new URL('../fixtures/predictors/batch_items/predictor.py', import.meta.url), 'utf8')

interface Shape {
  name?: string
  threads?: number
  config?: Record<string, unknown>
  /** More lines of the predictor section, indented by four spaces. */
  predictor?: string
  endpoint?: string
}

function apiYaml(shape: Shape): string {
  return `- name: ${shape.name ?? 'model'}
  kind: RealtimeAPI
  predictor:
    type: python
    path: predictor.py
    config: ${JSON.stringify(shape.config ?? {})}
    threads_per_process: ${shape.threads ?? 1}
${shape.predictor ?? ''}  autoscaling:
    max_replica_concurrency: 16
${shape.endpoint ? `  networking: {endpoint: ${shape.endpoint}}\n` : ''}`
}

async function start(yaml: string, files: Record<string, string> = {'predictor.py': fixture}): Promise<Runtime> {
  const project = makeProject({'mlserve.yaml': yaml, ...files})
  projects.push(project)
  const plan = await planRuntime(await loadProject(project.dir), {...runtimeDefaults, port: 0, accessLog: false, announce: false})
  const runtime = await Runtime.start(plan, {log: () => undefined})
  runtimes.push(runtime)
  return runtime
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{status: number; headers: Record<string, unknown>; body: any}> {
  const response = await request(url, {method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: {'content-type': 'application/json', ...headers}})
  const text = await response.body.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {
    // not JSON: kept as text
  }
  return {status: response.statusCode, headers: response.headers, body: parsed}
}

type Call = {kind: string; payload: any; thread: string}
async function calls(runtime: Runtime, endpoint = '/model'): Promise<{calls: Call[]; most_at_once: number}> {
  return (await post(`${runtime.url}${endpoint}`, {calls: true}, {'cache-control': 'no-store'})).body
}

async function metric(runtime: Runtime, line: RegExp): Promise<number> {
  const response = await request(`${runtime.url}/metrics`)
  const text = await response.body.text()
  const match = text.split('\n').find((l) => line.test(l))
  return match === undefined ? Number.NaN : Number(match.split(' ').pop())
}

describe('batch endpoint', () => {
  test('duplicates are predicted once (canonical JSON), predict_batch gets only the unique items, answers come back in order', async () => {
    const runtime = await start(apiYaml({}))
    const items = [{x: 1, b: 0}, {x: 2}, {b: 0, x: 1}, {x: 3}, {x: 2}, {x: 1, b: 0}]
    const answer = await post(`${runtime.url}/model/batch`, items)
    assert.equal(answer.status, 200)
    assert.equal(answer.headers['x-mlserve-api'], 'model')
    assert.equal(answer.headers['x-mlserve-batch'], 'items=6 distinct=3 cached=0')
    assert.deepEqual(
      answer.body,
      items.map((item) => ({status: 200, body: {x: item.x, y: 2 * item.x}})),
    )
    const log = await calls(runtime)
    assert.deepEqual(
      log.calls.map((c) => [c.kind, c.payload]),
      [['predict_batch', [{b: 0, x: 1}, {x: 2}, {x: 3}]]],
      'one predict_batch call, with each unique item once, in first-seen order',
    )
    assert.equal(await metric(runtime, /^mlserve_batch_items_total\{api="model",outcome="duplicate"\}/), 3)
    assert.equal(await metric(runtime, /^mlserve_batch_items_total\{api="model",outcome="unique"\}/), 3)
    assert.equal(await metric(runtime, /^mlserve_batch_requests_total\{api="model"\}/), 1)
    // An empty list is an empty answer, with no call.
    const empty = await post(`${runtime.url}/model/batch`, [])
    assert.deepEqual([empty.status, empty.body], [200, []])
  })

  test('the batch route parses the body as JSON whatever its Content-Type (curl -d sends form-urlencoded)', async () => {
    const runtime = await start(apiYaml({}))
    const response = await request(`${runtime.url}/model/batch`, {method: 'POST', headers: {'content-type': 'application/x-www-form-urlencoded'}, body: '[{"x": 1}, {"x": 1}]'})
    const text = await response.body.text()
    assert.equal(response.statusCode, 200)
    assert.equal(response.headers['x-mlserve-batch'], 'items=2 distinct=1 cached=0')
    assert.equal(text, '[{"status":200,"body":{"x":1,"y":2}},{"status":200,"body":{"x":1,"y":2}}]')
  })

  test('numbers JSON.parse would round pass through exactly: such a body goes to the replica as it came, each item its own', async () => {
    const runtime = await start(apiYaml({}))
    const response = await request(`${runtime.url}/model/batch`, {
      method: 'POST',
      headers: {'content-type': 'application/json'},
      body: '[{"x": 4611686018427387905}, {"x": 4611686018427387905}, {"x": 1}]',
    })
    const text = await response.body.text()
    assert.equal(response.statusCode, 200)
    assert.equal(response.headers['x-mlserve-batch'], 'items=3 distinct=3 cached=0')
    assert.equal(
      text,
      '[{"status":200,"body":{"x":4611686018427387905,"y":9223372036854775810}},{"status":200,"body":{"x":4611686018427387905,"y":9223372036854775810}},{"status":200,"body":{"x":1,"y":2}}]',
    )
  })

  test('a bad item fails alone with its index (duplicates too); predict_batch raising fails the whole batch', async () => {
    const runtime = await start(apiYaml({}))
    const answer = await post(`${runtime.url}/model/batch`, [{x: 1}, {bad: true, x: 2}, {x: 3}, {bad: true, x: 2}])
    assert.equal(answer.status, 200)
    assert.deepEqual(answer.body[0], {status: 200, body: {x: 1, y: 2}})
    assert.deepEqual(answer.body[2], {status: 200, body: {x: 3, y: 6}})
    for (const index of [1, 3]) {
      assert.equal(answer.body[index].index, index)
      assert.equal(answer.body[index].status, 500)
      assert.match(answer.body[index].error, /ValueError: bad item x=2/)
      assert.match(answer.body[index].error_id, /^[0-9a-f]{8}$/)
    }
    const whole = await post(`${runtime.url}/model/batch`, [{x: 1}, {fail_batch: true}])
    assert.equal(whole.status, 500)
    assert.equal(whole.body.code, 'MLS_BATCH_FAILED')
    assert.match(whole.body.error, /RuntimeError: the whole batch failed/)
    assert.match(whole.body.error_id, /^[0-9a-f]{8}$/)
  })

  test('without predict_batch the items run one by one, on as many threads as the replica has free slots', async () => {
    const runtime = await start(apiYaml({threads: 2, config: {predict_batch: false, sleep: 0.05}}))
    const first = await post(`${runtime.url}/model/batch`, [{x: 1}, {x: 1}, {bad: true, x: 9}, {x: 2}])
    assert.equal(first.status, 200)
    assert.deepEqual(first.body[0], {status: 200, body: {x: 1, y: 2}})
    assert.deepEqual(first.body[1], first.body[0])
    assert.equal(first.body[2].status, 500)
    assert.equal(first.body[2].index, 2)
    assert.deepEqual(first.body[3], {status: 200, body: {x: 2, y: 4}})
    const items = [1, 2, 3, 4, 5, 6].map((x) => ({x: x + 10}))
    const second = await post(`${runtime.url}/model/batch`, items)
    assert.deepEqual(second.body.map((item: any) => item.body.y), items.map((item) => 2 * item.x))
    const log = await calls(runtime)
    assert.deepEqual(log.calls.map((c) => c.kind), new Array(9).fill('predict'), 'predict once per unique item, no predict_batch')
    // The replica said it runs items one by one, so the next call held both of its (free) slots.
    assert.equal(new Set(log.calls.slice(3).map((c) => c.thread)).size, 2)
    assert.equal(log.most_at_once, 2, 'never more items at once than the replica has threads')
  })

  test('with server_side_batching the unique items go through the batcher', async () => {
    const runtime = await start(apiYaml({threads: 4, config: {predict_batch: false}, predictor: '    server_side_batching: {max_batch_size: 2, batch_interval: 50ms}\n'}))
    const answer = await post(`${runtime.url}/model/batch`, [{x: 1}, {x: 2}, {x: 1}, {x: 3}])
    assert.equal(answer.status, 200)
    assert.deepEqual(answer.body.map((item: any) => item.body.y), [2, 4, 2, 6])
    const log = await calls(runtime)
    const batches = log.calls.map((c) => c.payload as unknown[])
    assert.ok(batches.every((b) => Array.isArray(b) && b.length <= 2), JSON.stringify(batches))
    assert.deepEqual(batches.flat(), [{x: 1}, {x: 2}, {x: 3}])
  })

  test('413 past max_items, 400 for a body that is not a JSON list, 405 for GET', async () => {
    const runtime = await start(apiYaml({predictor: '    batch_endpoint: {max_items: 3}\n'}))
    const ok = await post(`${runtime.url}/model/batch`, [{x: 1}, {x: 2}, {x: 3}])
    assert.equal(ok.status, 200)
    const tooMany = await post(`${runtime.url}/model/batch`, [{x: 1}, {x: 2}, {x: 3}, {x: 4}])
    assert.equal(tooMany.status, 413)
    assert.equal(tooMany.body.code, 'MLS_BATCH_TOO_MANY_ITEMS')
    assert.match(tooMany.body.error, /4 items.*at most 3/)
    assert.match(tooMany.body.suggestion, /max_items/)
    const notList = await post(`${runtime.url}/model/batch`, {x: 1})
    assert.equal(notList.status, 400)
    assert.equal(notList.body.code, 'MLS_BATCH_NOT_A_LIST')
    assert.match(notList.body.error, /JSON list.*the body is a JSON object/)
    const notJson = await post(`${runtime.url}/model/batch`, '[{"x": 1},')
    assert.equal(notJson.status, 400)
    assert.match(notJson.body.error, /not JSON/)
    const get = await request(`${runtime.url}/model/batch`)
    await get.body.dump()
    assert.equal(get.statusCode, 405)
    const log = await calls(runtime)
    assert.equal(log.calls.length, 1, 'only the valid batch reached the predictor')
  })

  test('the cache is consulted per item: a hit iff a single POST would hit; batch answers serve later single calls', async () => {
    const runtime = await start(apiYaml({predictor: '    cache: {max_entries: 100}\n'}))
    const single = await post(`${runtime.url}/model`, {x: 5, z: 1})
    assert.equal(single.headers['x-mlserve-cache'], 'miss')
    const answer = await post(`${runtime.url}/model/batch`, [{z: 1, x: 5}, {x: 6}, {x: 6}])
    assert.equal(answer.headers['x-mlserve-batch'], 'items=3 distinct=2 cached=1')
    assert.deepEqual(answer.body.map((item: any) => item.body.y), [10, 12, 12])
    const afterBatch = await post(`${runtime.url}/model`, {x: 6})
    assert.equal(afterBatch.headers['x-mlserve-cache'], 'hit', "the batch's answer for {x: 6} was stored")
    assert.deepEqual(afterBatch.body, {x: 6, y: 12})
    const log = await calls(runtime)
    assert.deepEqual(
      log.calls.map((c) => [c.kind, c.payload]),
      [['predict', {x: 5, z: 1}], ['predict_batch', [{x: 6}]]],
      'the cached item never reached the predictor',
    )
    assert.equal(await metric(runtime, /^mlserve_batch_items_total\{api="model",outcome="cached"\}/), 1)
    // The query string is part of the key, as for a single POST.
    await post(`${runtime.url}/model?v=2`, {x: 7})
    const withQuery = await post(`${runtime.url}/model/batch?v=2`, [{x: 7}, {x: 5, z: 1}])
    assert.equal(withQuery.headers['x-mlserve-batch'], 'items=2 distinct=2 cached=1')
    // Cache-Control: no-cache skips the lookup, as for a single POST.
    const fresh = await post(`${runtime.url}/model/batch`, [{x: 6}], {'cache-control': 'no-cache'})
    assert.equal(fresh.headers['x-mlserve-batch'], 'items=1 distinct=1 cached=0')
  })

  test('through a TrafficSplitter the split picks one API for the whole batch', async () => {
    const yaml = `${apiYaml({name: 'model-a', config: {tag: 'a'}})}${apiYaml({name: 'model-b', config: {tag: 'b'}})}- name: model
  kind: TrafficSplitter
  apis:
    - {name: model-a, weight: 50}
    - {name: model-b, weight: 50}
`
    const runtime = await start(yaml)
    const seen = new Set<string>()
    for (let i = 0; i < 4; i++) {
      const answer = await post(`${runtime.url}/model/batch`, [{x: 1}, {x: 2}, {x: 1}])
      assert.equal(answer.status, 200)
      const api = String(answer.headers['x-mlserve-api'])
      seen.add(api)
      assert.deepEqual(new Set(answer.body.map((item: any) => `model-${item.body.tag}`)), new Set([api]), 'every item answered by the API the split chose')
    }
    assert.deepEqual([...seen].sort(), ['model-a', 'model-b'], 'smooth round-robin alternates the batches')
    const log = await calls(runtime, '/model-a')
    assert.ok(log.calls.every((c) => c.kind === 'predict_batch'))
  })

  test('a command predictor (no batch route) gets the unique items as single calls', async () => {
    const server = `
import json, os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
CALLS = []
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def do_GET(self):
        self.reply(200, {"calls": CALLS} if self.path == "/calls" else {"ok": True})
    def do_POST(self):
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path != "/predict": return self.reply(404, {"error": "no route"})
        CALLS.append(payload)
        if payload.get("bad"): return self.reply(422, {"error": "bad payload"})
        self.reply(200, {"x": payload["x"], "y": 2 * payload["x"]})
ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
`
    const runtime = await start(`name: cmd\npredictor:\n  type: command\n  command: ["python3", "server.py"]\n`, {'server.py': server})
    const answer = await post(`${runtime.url}/cmd/batch`, [{x: 1}, {x: 2}, {x: 1}, {bad: true, x: 0}])
    assert.equal(answer.status, 200)
    assert.deepEqual(answer.body.slice(0, 3), [{status: 200, body: {x: 1, y: 2}}, {status: 200, body: {x: 2, y: 4}}, {status: 200, body: {x: 1, y: 2}}])
    assert.deepEqual(answer.body[3], {index: 3, status: 422, error: 'bad payload'})
    const route = runtime.gateway.api('cmd')!.replicas[0]
    const origin = route.replica.origin!
    const logged = (await (await request(`${origin}/calls`)).body.json()) as {calls: unknown[]}
    assert.deepEqual(logged.calls, [{x: 1}, {x: 2}, {bad: true, x: 0}], 'one single call per unique item')
  })

  test("the sklearn template's predict_batch: the same answers as single calls, and a bad payload fails alone", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlserve-batch-iris-'))
    projects.push({dir, file: join(dir, 'mlserve.yaml'), cleanup: () => rmSync(dir, {recursive: true, force: true})})
    const init = await initProject({dir, template: 'sklearn', name: 'iris'})
    assert.ok(init.trained, `the sklearn template trains (needs python3-sklearn): ${init.warnings.join('; ')}`)
    const plan = await planRuntime(await loadProject(dir), {...runtimeDefaults, port: 0, accessLog: false, announce: false})
    const runtime = await Runtime.start(plan, {log: () => undefined})
    runtimes.push(runtime)
    const payloads = [{instance: [5.1, 3.5, 1.4, 0.2]}, {instances: [[6.3, 3.3, 6.0, 2.5], [7.0, 3.2, 4.7, 1.4]]}, {instance: [1, 2]}, {instance: [5.1, 3.5, 1.4, 0.2]}]
    const answer = await post(`${runtime.url}/iris/batch`, payloads)
    assert.equal(answer.status, 200)
    assert.equal(answer.headers['x-mlserve-batch'], 'items=4 distinct=3 cached=0')
    for (const i of [0, 1, 3]) {
      const single = await post(`${runtime.url}/iris`, payloads[i])
      assert.deepEqual(answer.body[i], {status: 200, body: single.body}, `item ${i}`)
    }
    assert.deepEqual(answer.body[0].body.predictions, ['setosa'])
    assert.equal(answer.body[1].body.predictions.length, 2)
    assert.equal(answer.body[2].index, 2)
    assert.equal(answer.body[2].status, 500)
    assert.match(answer.body[2].error, /ValueError: expected instances of 4 features each/)
  })

  test('no endpoint may take another API\'s batch path', async () => {
    const project = makeProject({'mlserve.yaml': `${apiYaml({name: 'model'})}${apiYaml({name: 'other', endpoint: '/model/batch'})}`, 'predictor.py': fixture})
    projects.push(project)
    await assert.rejects(loadProject(project.dir), (error: Error) => {
      assert.match(error.message + JSON.stringify(error), /endpoint \/model\/batch is the batch endpoint of/)
      return true
    })
  })
})
