// The gateway's prediction cache, end to end with real Python replicas. The
// predictor (test/fixtures/cache/counting.py) answers with its process's call
// count, so a hit shows it never reached the replica: the count in the body
// is the stored one, and the next miss's count is only one past the last.
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {request} from 'undici'
import {loadProject} from '../../src/config/index.js'
import {planRuntime, type RuntimePlan} from '../../src/runtime/plan.js'
import {Runtime, runtimeDefaults} from '../../src/runtime/runtime.js'
import {post, waitFor, type Answer} from '../helpers/http.js'
import {makeProject, type TestProject} from '../helpers/projects.js'

const counting = readFileSync(new URL('../fixtures/cache/counting.py', import.meta.url), 'utf8')

function api(name: string, path: string, cache: string, version = name): string {
  return `- name: ${name}
  predictor:
    type: python
    path: ${path}
    config: {version: ${version}}
    cache: ${cache}
`
}

const yaml = (cCache = '{}'): string =>
  api('c', 'predictor.py', cCache) +
  api('ttl', 'other.py', '{ttl: 1s}') +
  api('small', 'other.py', '{max_bytes: 2Ki, max_entries: 1000}') +
  api('s1', 'other.py', '{}') +
  api('s2', 'other.py', '{}') +
  `- name: plain
  predictor: {type: python, path: other.py}
- name: split
  kind: TrafficSplitter
  apis:
    - {name: s1, weight: 50}
    - {name: s2, weight: 50}
`

const cacheHeader = (answer: Answer): unknown => answer.headers['x-mlserve-cache']

/** POSTs a raw body (not re-encoded), for bodies that differ only in key order or whitespace. */
async function postRaw(url: string, body: string, headers: Record<string, string> = {'content-type': 'application/json'}): Promise<Answer> {
  const response = await request(url, {method: 'POST', body, headers})
  const text = await response.body.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {
    // not JSON
  }
  return {status: response.statusCode, headers: response.headers, body: parsed, at: performance.now()}
}

/** The samples of one metric family for an API, by their other labels. */
async function metric(url: string, name: string, apiName: string): Promise<Record<string, number>> {
  return samplesIn(await (await request(`${url}/metrics`)).body.text(), name, apiName)
}

/** The samples of one metric family for an API in one scrape's text, by their other labels. */
function samplesIn(text: string, name: string, apiName: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const line of text.split('\n')) {
    const match = line.match(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`))
    if (!match) continue
    const labels = Object.fromEntries([...match[1].matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]))
    if (labels.api !== apiName) continue
    const rest = Object.entries(labels).filter(([key]) => key !== 'api').map(([key, value]) => `${key}=${value}`).join(',')
    out[rest] = Number(match[2])
  }
  return out
}
const one = async (url: string, name: string, apiName: string): Promise<number> => (await metric(url, name, apiName))[''] ?? NaN

describe('the prediction cache: 200 answers to JSON bodies, per API and version', () => {
  let project: TestProject
  let runtime: Runtime
  let url: string

  async function plan(text: string): Promise<RuntimePlan> {
    writeFileSync(project.file, text)
    return planRuntime(await loadProject(project.dir), {...runtimeDefaults, port: runtime.gateway.port, accessLog: false, announce: false})
  }

  before(async () => {
    project = makeProject({'mlserve.yaml': yaml(), 'predictor.py': counting, 'other.py': counting})
    const first = await planRuntime(await loadProject(project.dir), {...runtimeDefaults, port: 0, accessLog: false, announce: false})
    runtime = await Runtime.start(first, {log: () => undefined})
    url = runtime.url
  })

  after(async () => {
    await runtime?.stop({drain: false})
    project?.cleanup()
  })

  test('a repeated body is answered from the cache without reaching the replica, whatever its key order and whitespace', async () => {
    const miss = await postRaw(`${url}/c`, '{"a":1,"b":[1,2]}')
    assert.equal(miss.status, 200)
    assert.equal(cacheHeader(miss), 'miss')
    const hit = await postRaw(`${url}/c`, '{"a":1,"b":[1,2]}')
    assert.equal(hit.status, 200)
    assert.equal(cacheHeader(hit), 'hit')
    assert.equal(hit.headers['x-mlserve-api'], 'c')
    assert.match(String(hit.headers['content-type']), /^application\/json/)
    assert.deepEqual(hit.body, miss.body, 'the stored answer, call count included')
    const reordered = await postRaw(`${url}/c`, ' { "b" : [ 1, 2 ],\n  "a" : 1.0 } ')
    assert.equal(cacheHeader(reordered), 'hit')
    assert.deepEqual(reordered.body, miss.body)
    // The replica saw one call only: the next new body is its second.
    const next = await post(`${url}/c`, {a: 2})
    assert.equal(cacheHeader(next), 'miss')
    assert.equal(next.body.calls, miss.body.calls + 1)
    // Array order matters, so this is a new body.
    assert.equal(cacheHeader(await postRaw(`${url}/c`, '{"a":1,"b":[2,1]}')), 'miss')

    assert.equal(await one(url, 'mlserve_cache_hits_total', 'c'), 2)
    assert.equal(await one(url, 'mlserve_cache_misses_total', 'c'), 3)
    assert.equal(await one(url, 'mlserve_cache_entries', 'c'), 3)
    // Hits are counted as 200 answers of the API, on the "cache" replica label.
    const requests = await metric(url, 'mlserve_requests_total', 'c')
    assert.equal(requests['replica=cache,code=200'], 2)
    const figures = (await (await request(`${url}/traffic`)).body.json()) as {apis: Record<string, {codes: Record<string, number>}>}
    assert.equal(figures.apis.c.codes['200'], 5)
  })

  test('Cache-Control: no-cache goes to the replica and stores the fresh answer; no-store neither looks up nor stores', async () => {
    const first = await post(`${url}/c`, {k: 'fresh'})
    const fresh = await post(`${url}/c`, {k: 'fresh'}, {'cache-control': 'no-cache'})
    assert.equal(cacheHeader(fresh), 'miss')
    assert.equal(fresh.body.calls, first.body.calls + 1, 'it reached the replica')
    const after = await post(`${url}/c`, {k: 'fresh'})
    assert.equal(cacheHeader(after), 'hit')
    assert.deepEqual(after.body, fresh.body, 'the fresh answer replaced the stored one')

    const unstored = await post(`${url}/c`, {k: 'private'}, {'cache-control': 'max-age=0, No-Store'})
    assert.equal(cacheHeader(unstored), 'miss')
    const again = await post(`${url}/c`, {k: 'private'})
    assert.equal(cacheHeader(again), 'miss', 'no-store kept it out of the cache')
    assert.equal(again.body.calls, unstored.body.calls + 1)
  })

  test('only 200 answers are stored, and a body the predictor does not read as JSON is neither looked up nor stored', async () => {
    for (let i = 0; i < 2; i++) {
      const failed = await post(`${url}/c`, {fail: true})
      assert.equal(failed.status, 500)
      assert.equal(cacheHeader(failed), 'miss')
    }
    for (const [body, headers] of [
      ['{"t":1}', {'content-type': 'text/plain'}],
      ['not json', {'content-type': 'application/json'}],
    ] as const) {
      const first = await postRaw(`${url}/c`, body, headers)
      const second = await postRaw(`${url}/c`, body, headers)
      assert.equal(cacheHeader(first), 'miss')
      assert.equal(cacheHeader(second), 'miss', `${headers['content-type']} ${body}`)
    }
    // A JSON body without a Content-Type is JSON to the predictor, so it is cached.
    await postRaw(`${url}/c`, '{"untyped":1}', {})
    assert.equal(cacheHeader(await postRaw(`${url}/c`, '{"untyped":1}', {})), 'hit')
    // A query string is part of the key (the predictor may read it).
    assert.equal(cacheHeader(await post(`${url}/c?q=1`, {untyped: 1})), 'miss')
    assert.equal(cacheHeader(await post(`${url}/c?q=1`, {untyped: 1})), 'hit')
  })

  test('an answer older than the ttl is not served: the next request reaches the replica, and the eviction is counted', async () => {
    const stored = await post(`${url}/ttl`, {t: 1})
    assert.equal(cacheHeader(stored), 'miss')
    const storedAt = Date.now()
    await waitFor(() => Date.now() - storedAt > 1_200, 'the 1 s ttl to pass')
    const expired = await post(`${url}/ttl`, {t: 1})
    assert.equal(cacheHeader(expired), 'miss')
    assert.equal(expired.body.calls, stored.body.calls + 1)
    assert.deepEqual(await metric(url, 'mlserve_cache_evictions_total', 'ttl'), {'reason=bounds': 0, 'reason=ttl': 1})
  })

  test('one scrape after the ttl shows the entry gone and its ttl eviction together, not one scrape later', async () => {
    const before = await (await request(`${url}/metrics`)).body.text()
    const held = samplesIn(before, 'mlserve_cache_entries', 'ttl')['']
    const ttlBefore = samplesIn(before, 'mlserve_cache_evictions_total', 'ttl')['reason=ttl']
    assert.equal(cacheHeader(await post(`${url}/ttl`, {t: 2})), 'miss')
    const storedAt = Date.now()
    await waitFor(() => Date.now() - storedAt > 1_200, 'the 1 s ttl to pass')
    const scrape = await (await request(`${url}/metrics`)).body.text()
    assert.equal(samplesIn(scrape, 'mlserve_cache_entries', 'ttl')[''], 0)
    assert.equal(samplesIn(scrape, 'mlserve_cache_evictions_total', 'ttl')['reason=ttl'], ttlBefore + held + 1)
  })

  test('max_bytes bounds the memory held: older answers are evicted and counted, and bytes stay within it', async () => {
    const keys = 40
    for (let i = 0; i < keys; i++) assert.equal((await post(`${url}/small`, {i, pad: 100})).status, 200)
    const bytes = await one(url, 'mlserve_cache_bytes', 'small')
    const entries = await one(url, 'mlserve_cache_entries', 'small')
    const evictions = await metric(url, 'mlserve_cache_evictions_total', 'small')
    assert.ok(bytes > 0 && bytes <= 2048, `${bytes} bytes held`)
    assert.ok(entries > 0 && entries < keys, `${entries} entries held`)
    assert.equal(evictions['reason=bounds'], keys - entries)
    assert.equal(cacheHeader(await post(`${url}/small`, {i: keys - 1, pad: 100})), 'hit', 'the newest answer is held')
    assert.equal(cacheHeader(await post(`${url}/small`, {i: 0, pad: 100})), 'miss', 'the oldest was evicted')
  })

  test('an API without a cache answers with no cache header', async () => {
    const answer = await post(`${url}/plain`, {a: 1})
    assert.equal(answer.status, 200)
    assert.equal(cacheHeader(answer), undefined)
    assert.deepEqual(await metric(url, 'mlserve_cache_hits_total', 'plain'), {})
  })

  test('splitter traffic is cached per chosen API: a hit comes from the API the splitter chose, and counts in its share', async () => {
    const answers: Answer[] = []
    for (let i = 0; i < 6; i++) answers.push(await post(`${url}/split`, {same: true}))
    const apis = answers.map((answer) => answer.headers['x-mlserve-api'])
    assert.deepEqual([...apis].sort(), ['s1', 's1', 's1', 's2', 's2', 's2'])
    const firstOf: Record<string, Answer> = {}
    for (const answer of answers) {
      const name = String(answer.headers['x-mlserve-api'])
      if (!firstOf[name]) {
        firstOf[name] = answer
        assert.equal(cacheHeader(answer), 'miss')
      } else {
        assert.equal(cacheHeader(answer), 'hit')
        assert.deepEqual(answer.body, firstOf[name].body, `${name}'s own stored answer`)
      }
      assert.equal(answer.body.version, name)
    }
    assert.equal(await one(url, 'mlserve_cache_hits_total', 's1'), 2)
    assert.equal(await one(url, 'mlserve_cache_hits_total', 's2'), 2)
    const status = (await (await request(`${url}/traffic`)).body.json()) as {splitters: Array<{routed: Record<string, number>}>}
    assert.deepEqual(status.splitters[0].routed, {s1: 3, s2: 3})
  })

  test('mlserve apply after editing predictor.py empties that API\'s cache; an apply that changes nothing keeps it', async () => {
    const before = await post(`${url}/c`, {apply: 1})
    assert.equal(cacheHeader(await post(`${url}/c`, {apply: 1})), 'hit')
    const same = await runtime.apply(await plan(yaml()))
    assert.deepEqual(same.changes, [])
    assert.equal(cacheHeader(await post(`${url}/c`, {apply: 1})), 'hit', 'the same code and config keep the answers')

    writeFileSync(join(project.dir, 'predictor.py'), counting.replace('CODE = "v1"', 'CODE = "v2"'))
    const result = await runtime.apply(await plan(yaml()))
    assert.ok(result.changes.includes('api c: cache emptied (code or predictor config changed)'), result.changes.join(' | '))
    assert.equal(result.changes.filter((change) => change.includes('cache')).length, 1, 'only c\'s cache')
    const after = await post(`${url}/c`, {apply: 1})
    assert.equal(cacheHeader(after), 'miss')
    assert.equal(after.body.code, 'v2')
    assert.equal(before.body.code, 'v1')
    assert.equal(cacheHeader(await post(`${url}/c`, {apply: 1})), 'hit')
    assert.equal(await one(url, 'mlserve_cache_entries', 'c'), 1)
    assert.ok((await one(url, 'mlserve_cache_hits_total', 'c')) > 2, 'the counts carry on across the new cache')

    // New cache settings: a new, empty cache too; no cache section: the cache is off.
    const resized = await runtime.apply(await plan(yaml('{max_entries: 5}')))
    assert.deepEqual(resized.changes, ['api c: cache emptied (cache settings changed)'])
    assert.equal(cacheHeader(await post(`${url}/c`, {apply: 1})), 'miss')
    const off = await runtime.apply(await plan(yaml().replace(/( {4}cache: \{\}\n)/, '')))
    assert.deepEqual(off.changes, ['api c: cache off (dropped)'])
    assert.equal(cacheHeader(await post(`${url}/c`, {apply: 1})), undefined)
  })
})
