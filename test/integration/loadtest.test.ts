// The load generators against test servers whose behaviour is known, on
// loopback: a stall must show in the open loop and hide in the closed loop,
// the open loop must keep its rate, and fast answers must keep their
// sub-millisecond latencies. Each run is a few seconds.
import {describe, test, after} from 'node:test'
import assert from 'node:assert/strict'
import {loadRequestSource, nowNs, runClosedLoop, runOpenLoop, type RequestSource} from '../../src/loadtest/index.js'
import {
  hangingServer,
  instantServer,
  resettingServer,
  slowServer,
  stallingServer,
  statusServer,
  type TestServer,
} from '../helpers/servers.js'

const servers: TestServer[] = []
after(async () => {
  await Promise.all(servers.map((s) => s.close()))
})
async function serve(server: Promise<TestServer>): Promise<TestServer> {
  const s = await server
  servers.push(s)
  return s
}

let get: RequestSource
let post: RequestSource
const requests = async (): Promise<void> => {
  get ??= await loadRequestSource({})
  post ??= await loadRequestSource({data: '{"x": [1, 2, 3]}'})
}

describe('accuracy: a stall', () => {
  test('a server stalling 1 s every 5 s: the open loop shows it in p99, the closed loop hides it', async () => {
    await requests()
    const server = await serve(stallingServer(5000, 1000))
    // 6 s windows always hold one whole stall.
    const closed = await runClosedLoop({url: server.url, connections: 2, durationMs: 6000, request: get})
    const open = await runOpenLoop({url: server.url, rate: 100, durationMs: 6000, request: get})

    // Closed loop: the 2 connections simply wait out the stall; only ~2 of
    // many thousands of requests are slow, so p99 stays small.
    assert.ok(closed.requests.total > 1000, `closed loop sent ${closed.requests.total}`)
    assert.ok(closed.latencyMs.max >= 500, `the closed loop did meet the stall (max ${closed.latencyMs.max} ms)`)
    assert.ok(closed.latencyMs.p99 < 50, `closed-loop p99 ${closed.latencyMs.p99} ms hides the stall`)

    // Open loop: ~100 requests arrive during each stall and wait up to 1 s.
    assert.ok(open.latencyMs.p99 >= 500, `open-loop p99 ${open.latencyMs.p99} ms shows the stall`)
    assert.ok(open.latencyMs.p90 >= 100, `open-loop p90 ${open.latencyMs.p90} ms`)
    assert.ok(open.latencyMs.p99 > 20 * closed.latencyMs.p99, 'the open-loop p99 is far above the closed-loop one')
    // The stall is visible in the timeline too: some second has p99 ≥ 500 ms.
    assert.ok(open.timeline.some((s) => (s.p99Ms ?? 0) >= 500), 'a second of the timeline shows the stall')
    // And the open loop did not slow down while the server stalled.
    assert.ok(Math.abs(open.sendRate! / 100 - 1) < 0.02, `send rate ${open.sendRate}`)
  })
})

describe('accuracy: the rate', () => {
  test('constant arrivals: the achieved rate is within 2% of --rate', async () => {
    await requests()
    const server = await serve(instantServer())
    const result = await runOpenLoop({url: server.url, rate: 500, durationMs: 3000, warmupMs: 500, request: post})
    assert.ok(Math.abs(result.sendRate! / 500 - 1) < 0.02, `achieved ${result.sendRate} req/s`)
    assert.ok(Math.abs(result.requests.total / 1500 - 1) < 0.02, `${result.requests.total} measured`)
    assert.ok(Math.abs(result.throughput / 500 - 1) < 0.02, `throughput ${result.throughput}`)
    const whole = result.timeline.filter((s) => s.lengthS >= 1)
    assert.ok(whole.length >= 3)
    // Second by second too, within 10% (a scheduling hiccup on a busy machine can move a few sends across a second boundary).
    for (const s of whole) assert.ok(Math.abs(s.sent! / s.lengthS / 500 - 1) < 0.1, `second ${s.second}: ${s.sent} sent`)
    assert.equal(result.requests.ok, result.requests.total)
    assert.equal(server.hits(), 1750, 'warm-up and measured requests, and nothing else, reached the server')
  })

  test('poisson arrivals average the rate too (seeded, so the run is repeatable)', async () => {
    await requests()
    const server = await serve(instantServer())
    const result = await runOpenLoop({url: server.url, rate: 500, arrival: 'poisson', seed: 1234, durationMs: 3000, request: get})
    assert.ok(Math.abs(result.sendRate! / 500 - 1) < 0.08, `achieved ${result.sendRate} req/s`)
  })

  test('the open loop keeps its rate when the server is slow, and latency counts from the planned time', async () => {
    await requests()
    const server = await serve(slowServer(100))
    const result = await runOpenLoop({url: server.url, rate: 200, durationMs: 2000, request: get})
    assert.ok(Math.abs(result.sendRate! / 200 - 1) < 0.02, `achieved ${result.sendRate} req/s`)
    assert.ok(result.latencyMs.p50 >= 100 && result.latencyMs.p50 < 150, `p50 ${result.latencyMs.p50}`)
  })

  test('past --max-connections, sends wait for a connection, count as late for the target, and latency includes the wait', async () => {
    await requests()
    const server = await serve(slowServer(200))
    // 5 connections × 5 answers/s each = 25 req/s of capacity, against 50 req/s.
    const result = await runOpenLoop({url: server.url, rate: 50, durationMs: 1000, maxConnections: 5, request: get})
    assert.equal(result.requests.ok, 50)
    assert.ok(result.generator.waitedForConnection >= 40, `${result.generator.waitedForConnection} waited`)
    // Late sends that did not wait for a connection are the generator's own; waiting ones are not held against it.
    assert.ok(result.generator.lateSends - result.generator.waitedForConnection <= 3, JSON.stringify(result.generator))
    // 50 requests at 25 req/s of capacity: the last, planned at 0.98 s, is answered near 2 s.
    assert.ok(result.latencyMs.max >= 900, `the last request waited its turn: max ${result.latencyMs.max} ms`)
    assert.match(result.generator.warnings.join('\n'), /waited for a free connection/)
  })
})

describe('accuracy: fast responses', () => {
  test('a server answering in a few hundred µs: closed-loop percentiles are not rounded to whole ms', async () => {
    await requests()
    const server = await serve(instantServer())
    const result = await runClosedLoop({url: server.url, connections: 1, durationMs: 1500, request: post})
    const l = result.latencyMs
    // Resolution, not speed: how fast a loaded machine answers is not what this checks.
    assert.ok(l.p50 > 0, `p50 ${l.p50} ms`)
    assert.notEqual(l.p50 % 1, 0, `p50 ${l.p50} is not a whole number of ms`)
    assert.ok(l.min > 0 && l.min % 1 !== 0, `min ${l.min}`)
    assert.ok(l.mean > 0 && l.mean % 1 !== 0, `mean ${l.mean}`)
    assert.ok(result.timeline.every((s) => s.p50Ms !== null && s.p50Ms > 0), 'a p50 every second too')
  })

  test('the same in the open loop, where latency counts from the planned send time', async () => {
    await requests()
    const server = await serve(instantServer())
    const result = await runOpenLoop({url: server.url, rate: 200, durationMs: 1500, request: post})
    const l = result.latencyMs
    assert.ok(l.p50 > 0, `p50 ${l.p50} ms`)
    assert.notEqual(l.p50 % 1, 0, `p50 ${l.p50} is not a whole number of ms`)
    // Latency counts from the planned send: a request's latency includes its send's lateness.
    assert.ok(result.generator.lateness!.p50 >= 0 && l.max >= result.generator.lateness!.max, JSON.stringify({lateness: result.generator.lateness, max: l.max}))
  })
})

describe('outcomes', () => {
  test('503 (shed) is counted apart from other errors; byStatus has every code', async () => {
    await requests()
    const server = await serve(statusServer((hit) => (hit % 4 === 0 ? 503 : hit % 10 === 0 ? 500 : 200)))
    const result = await runClosedLoop({url: server.url, connections: 1, amount: 400, request: get})
    const c = result.requests
    assert.equal(c.total, 400)
    assert.equal(c.shed, 100)
    assert.equal(c.httpErrors, 20)
    assert.equal(c.ok, 280)
    assert.deepEqual(c.byStatus, {200: 280, 500: 20, 503: 100})
    assert.equal(result.errorRate, 0.3)
    // Each class is timed apart: the 2xx answers, the sheds, the other errors.
    assert.deepEqual([result.latencyMs.samples, result.shedLatencyMs.samples, result.errorLatencyMs.samples], [280, 100, 20])
  })

  test('a server that never answers: every request times out, and the timeouts count in the errors’ latency', async () => {
    await requests()
    const server = await serve(hangingServer())
    const result = await runOpenLoop({url: server.url, rate: 20, durationMs: 500, timeoutMs: 300, request: get})
    assert.equal(result.requests.timeouts, 10)
    assert.equal(result.requests.failed, 10)
    assert.equal(result.errorRate, 1)
    assert.equal(result.latencyMs.samples, 0)
    assert.ok(result.errorLatencyMs.p50 >= 300 && result.errorLatencyMs.p50 < 1300, `p50 ${result.errorLatencyMs.p50}`)
    assert.match(result.warnings.join('\n'), /got no answer within 300 ms/)
  })

  test('closed-loop timeouts are counted as timeouts, not connection errors', async () => {
    await requests()
    const server = await serve(hangingServer())
    const result = await runClosedLoop({url: server.url, connections: 2, durationMs: 1600, timeoutMs: 1000, request: get})
    assert.equal(result.requests.timeouts, 2)
    assert.equal(result.requests.connectionErrors, 0)
  })

  test('connections reset before an answer count as connection errors', async () => {
    await requests()
    const server = await serve(resettingServer(5))
    const result = await runOpenLoop({url: server.url, rate: 50, durationMs: 400, request: get})
    assert.equal(result.requests.total, 20)
    assert.ok(result.requests.connectionErrors >= 1 && result.requests.connectionErrors <= 5, `${result.requests.connectionErrors} connection errors`)
    assert.equal(result.requests.ok + result.requests.connectionErrors, 20)
  })
})

describe('stopping', () => {
  for (const model of ['open', 'closed'] as const) {
    test(`${model} loop: an abort ends the run at once with what was measured`, async () => {
      await requests()
      const server = await serve(slowServer(5))
      const controller = new AbortController()
      setTimeout(() => controller.abort(), 1200)
      const started = nowNs()
      const options = {url: server.url, durationMs: 20_000, request: get, signal: controller.signal}
      const result = model === 'open' ? await runOpenLoop({...options, rate: 100}) : await runClosedLoop({...options, connections: 2})
      const tookMs = (nowNs() - started) / 1e6
      assert.ok(tookMs < 2000, `stopped after ${tookMs} ms`)
      assert.equal(result.aborted, true)
      assert.ok(result.durationS > 1 && result.durationS < 1.5, `window ${result.durationS} s`)
      assert.ok(result.requests.ok > 50, `${result.requests.ok} measured before the stop`)
      assert.match(result.warnings.join('\n'), /stopped early/)
    })
  }
})
