// Answers by API, end to end on loopback: a server that answers as a traffic
// split would (X-Mlserve-Api: a for nine requests in ten, b for the tenth,
// with some 503s and 500s that name their API too, and a few answers that name
// none), driven by both generators. The counts are known from the server's hit
// counter, so byApi must match them exactly. Each run is a few hundred requests.
import {describe, test, after} from 'node:test'
import assert from 'node:assert/strict'
import {loadRequestSource, runClosedLoop, runOpenLoop, type ApiLoadStats, type LoadResult, type RequestSource} from '../../src/loadtest/index.js'
import {instantServer, startServer, type TestServer} from '../helpers/servers.js'

const servers: TestServer[] = []
after(async () => {
  await Promise.all(servers.map((s) => s.close()))
})

/** What the split server answers to its hit-th request (1-based). */
function answerTo(hit: number): {api: string | null; status: number} {
  // One in a hundred names no API (as a gateway's answer before any API was chosen would not).
  if (hit % 100 === 1) return {api: null, status: 404}
  const api = hit % 10 === 0 ? 'b' : 'a'
  const status = hit % 20 === 5 || hit % 40 === 10 ? 503 : hit % 40 === 30 ? 500 : 200
  return {api, status}
}

function splitServer(): Promise<TestServer> {
  return startServer((req, res, hit) => {
    req.resume()
    const {api, status} = answerTo(hit)
    // Mixed case, as a gateway may send it: header names are case-insensitive.
    res.writeHead(status, {'content-type': 'application/json', ...(api ? {'X-Mlserve-Api': api} : {})})
    res.end(JSON.stringify({status}))
  })
}

/** The byApi counts the first `hits` answers of the split server should give. */
function expected(hits: number): Record<string, Omit<ApiLoadStats, 'p50Ms' | 'p99Ms'>> {
  const byApi: Record<string, Omit<ApiLoadStats, 'p50Ms' | 'p99Ms'>> = {}
  for (let hit = 1; hit <= hits; hit++) {
    const {api, status} = answerTo(hit)
    if (api === null) continue
    const e = (byApi[api] ??= {requests: 0, ok: 0, shed: 0, errors: 0, share: 0})
    e.requests++
    if (status === 200) e.ok++
    else if (status === 503) e.shed++
    else e.errors++
  }
  for (const e of Object.values(byApi)) e.share = Math.round((e.requests / hits) * 1e6) / 1e6
  return byApi
}

function countsOf(result: LoadResult): Record<string, Omit<ApiLoadStats, 'p50Ms' | 'p99Ms'>> {
  return Object.fromEntries(Object.entries(result.byApi ?? {}).map(([name, {p50Ms: _p50, p99Ms: _p99, ...counts}]) => [name, counts]))
}

let get: RequestSource
const request = async (): Promise<RequestSource> => (get ??= await loadRequestSource({}))

const AMOUNT = 400

describe('answers by API', () => {
  test('the expected counts themselves: a nine-to-one split with sheds, errors and unnamed answers', () => {
    const e = expected(AMOUNT)
    assert.deepEqual(e, {
      a: {requests: 356, ok: 336, shed: 20, errors: 0, share: 0.89},
      b: {requests: 40, ok: 20, shed: 10, errors: 10, share: 0.1},
    })
  })

  for (const model of ['closed', 'open'] as const) {
    test(`${model} loop: byApi matches what the server answered, by API and outcome`, async () => {
      const server = await splitServer()
      servers.push(server)
      const options = {url: server.url, amount: AMOUNT, request: await request()}
      const result = model === 'closed' ? await runClosedLoop({...options, connections: 4}) : await runOpenLoop({...options, rate: 200})
      assert.equal(server.hits(), AMOUNT, 'every request reached the server once')
      assert.equal(result.requests.total, AMOUNT)
      assert.deepEqual(countsOf(result), expected(AMOUNT))
      assert.deepEqual(Object.keys(result.byApi!), ['a', 'b'])
      // Each API has the latency of its 2xx answers.
      for (const name of ['a', 'b']) {
        const stats = result.byApi![name]
        assert.ok(stats.p50Ms !== null && stats.p99Ms !== null && stats.p50Ms <= stats.p99Ms, JSON.stringify(stats))
      }
      // The whole run is counted as before.
      assert.equal(result.requests.shed, 30)
      assert.equal(result.requests.ok, 356)
      assert.deepEqual(result.requests.byStatus, {200: 356, 404: 4, 500: 10, 503: 30})
    })
  }

  for (const model of ['closed', 'open'] as const) {
    test(`${model} loop: a server that names no API gives a result without byApi`, async () => {
      const server = await instantServer()
      servers.push(server)
      const options = {url: server.url, amount: 50, request: await request()}
      const result = model === 'closed' ? await runClosedLoop({...options, connections: 2}) : await runOpenLoop({...options, rate: 200})
      assert.equal(result.requests.ok, 50)
      assert.equal('byApi' in result, false)
    })
  }
})
