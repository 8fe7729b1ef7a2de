// The harness's batch route (POST /predict-batch), called directly: the real
// mlserve_harness package under python3, real processes, HTTP on 127.0.0.1.
// One predict_batch call for a whole batch; else server-side batching; else
// one by one on the threads the caller holds slots for. A bad item fails alone;
// predict_batch raising fails the whole batch.
import assert from 'node:assert/strict'
import {after, afterEach, describe, it} from 'node:test'
import {killAllHarnesses, postJson, startHarness} from '../helpers/harness.js'

afterEach(killAllHarnesses)
after(killAllHarnesses)

const batch = (port: number, payloads: unknown, headers: Record<string, string> = {}) => postJson(port, payloads, {path: '/predict-batch', headers})

async function calls(port: number): Promise<{calls: Array<{kind: string; payload: any; thread: string}>; most_at_once: number}> {
  return (await postJson(port, {calls: true})).json()
}

describe('harness: the batch route', () => {
  it('calls predict_batch once with every payload, and answers one item each, in order', async () => {
    const h = await startHarness({predictor: 'batch_items'})
    const res = await batch(h.port, [{x: 1}, {x: 2}, {x: 3}])
    assert.equal(res.status, 200)
    assert.equal(res.headers['x-mlserve-batch-mode'], 'predict_batch')
    assert.deepEqual(res.json(), [
      {status: 200, body: {x: 1, y: 2}},
      {status: 200, body: {x: 2, y: 4}},
      {status: 200, body: {x: 3, y: 6}},
    ])
    const log = await calls(h.port)
    assert.deepEqual(log.calls.map((c) => [c.kind, c.payload]), [['predict_batch', [{x: 1}, {x: 2}, {x: 3}]]])
  })

  it('an item predict_batch returns as an exception fails alone; predict_batch raising fails the whole batch', async () => {
    const h = await startHarness({predictor: 'batch_items'})
    const res = await batch(h.port, [{x: 1}, {bad: true, x: 2}, {x: 3}])
    assert.equal(res.status, 200)
    const items = res.json()
    assert.deepEqual(items[0], {status: 200, body: {x: 1, y: 2}})
    assert.equal(items[1].status, 500)
    assert.match(items[1].error, /ValueError: bad item x=2/)
    assert.match(items[1].error_id, /^[0-9a-f]{8}$/)
    assert.deepEqual(items[2], {status: 200, body: {x: 3, y: 6}})

    const whole = await batch(h.port, [{x: 1}, {fail_batch: true}])
    assert.equal(whole.status, 500)
    assert.match(whole.json().error, /RuntimeError: the whole batch failed/)
    assert.ok(whole.json().error_id)
  })

  it('without predict_batch, runs the items one by one with predict; a bad item fails alone', async () => {
    const h = await startHarness({predictor: 'batch_items', config: {predict_batch: false}})
    const res = await batch(h.port, [{x: 1}, {bad: true, x: 2}, {x: 3}])
    assert.equal(res.status, 200)
    assert.equal(res.headers['x-mlserve-batch-mode'], 'each')
    const items = res.json()
    assert.deepEqual([items[0], items[2]], [{status: 200, body: {x: 1, y: 2}}, {status: 200, body: {x: 3, y: 6}}])
    assert.equal(items[1].status, 500)
    assert.match(items[1].error, /ValueError/)
    const log = await calls(h.port)
    assert.deepEqual(log.calls.map((c) => [c.kind, c.payload]), [['predict', {x: 1}], ['predict', {bad: true, x: 2}], ['predict', {x: 3}]])
    assert.equal(log.most_at_once, 1, 'one thread by default: the one the call holds')
  })

  it('one by one on as many threads as the caller holds slots for, never more than threads_per_process', async () => {
    const h = await startHarness({predictor: 'batch_items', threads: 2, config: {predict_batch: false, sleep: 0.1}})
    const res = await batch(h.port, [{x: 1}, {x: 2}, {x: 3}, {x: 4}, {x: 5}, {x: 6}], {'x-mlserve-slots': '8'})
    assert.equal(res.status, 200)
    assert.deepEqual(res.json().map((item: any) => item.body.y), [2, 4, 6, 8, 10, 12])
    const log = await calls(h.port)
    assert.equal(log.calls.length, 6)
    assert.equal(log.most_at_once, 2, 'at most threads_per_process (2) items ran at once')
    assert.equal(new Set(log.calls.map((c) => c.thread)).size, 2, 'the calling thread and one helper')
  })

  it('with server-side batching, the items go through the batcher as that many requests would', async () => {
    const h = await startHarness({predictor: 'batch_items', config: {predict_batch: false}, batchMaxSize: 2, batchIntervalMs: 50})
    const res = await batch(h.port, [{x: 1}, {x: 2}, {x: 3}])
    assert.equal(res.status, 200)
    assert.equal(res.headers['x-mlserve-batch-mode'], 'server_side_batching')
    assert.deepEqual(res.json().map((item: any) => item.body), [{x: 1, y: 2}, {x: 2, y: 4}, {x: 3, y: 6}])
    const log = await calls(h.port)
    // {calls: true} went through the batcher too; the three items came in batches of at most 2.
    const batches = log.calls.map((c) => c.payload as unknown[])
    assert.deepEqual(batches.flat(), [{x: 1}, {x: 2}, {x: 3}])
    assert.ok(batches.every((b) => Array.isArray(b) && b.length <= 2), JSON.stringify(batches))
  })

  it('answers 400 for a body that is not a JSON list, and text and bytes items in JSON', async () => {
    const h = await startHarness({predictor: 'batch_items'})
    const notList = await batch(h.port, {x: 1})
    assert.equal(notList.status, 400)
    assert.match(notList.json().error, /JSON list/)
    const echo = await startHarness({predictor: 'bytes_echo'})
    const res = await batch(echo.port, ['text', [1]])
    assert.equal(res.status, 200)
    assert.equal(res.headers['x-mlserve-batch-mode'], 'each')
    assert.deepEqual(res.json(), [
      {status: 200, body: 'text', content_type: 'text/plain; charset=utf-8'},
      {status: 200, body: [1]},
    ])
  })
})
