// The shadow ledger and its diff report: how two answers compare, the ring of
// pairs, the figures of a report on a known set, and its text rendering.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {compareAnswers, ShadowLedger, type ShadowAnswer, type ShadowPair} from '../../src/runtime/gateway/shadow-diff.js'
import {renderDiffText} from '../../src/report/index.js'

const b = (text: string): Buffer => Buffer.from(text)
const T0 = Date.UTC(2026, 11, 4, 12, 0, 0)

function answer(status: number, body: string | null, ms: number): ShadowAnswer {
  return {status, body: body === null ? null : b(body), ms}
}

function pair(n: number, primary: ShadowAnswer, shadow: ShadowAnswer, primaryApi = 'iris-v1'): ShadowPair {
  return {requestId: `req-${n}`, at: T0 + n * 1000, request: b(`{"x":[${n}]}`), primaryApi, primary, shadowApi: 'iris-v2', shadow}
}

describe('compareAnswers', () => {
  test('the same bytes are exact, whatever they are', () => {
    assert.equal(compareAnswers(b('not json'), b('not json'), 0), 'exact')
    assert.equal(compareAnswers(b(''), b(''), 0), 'exact')
  })

  test('key order and whitespace do not matter: the same JSON value is exact', () => {
    assert.equal(compareAnswers(b('{"a":1,"b":[1,2]}'), b('{ "b": [1, 2],\n "a": 1 }'), 0), 'exact')
    assert.equal(compareAnswers(b('1.0'), b('1'), 0), 'exact')
  })

  test('numbers within the tolerance, relative or absolute', () => {
    assert.equal(compareAnswers(b('{"p":0.5000001}'), b('{"p":0.5}'), 1e-6), 'within-tolerance')
    assert.equal(compareAnswers(b('{"p":0.5001}'), b('{"p":0.5}'), 1e-6), 'differ')
    // Relative for large values: 1e-6 of a million is 1.
    assert.equal(compareAnswers(b('[1000000.5]'), b('[1000000]'), 1e-6), 'within-tolerance')
    assert.equal(compareAnswers(b('[1000002]'), b('[1000000]'), 1e-6), 'differ')
    // Absolute below 1: 1e-7 apart near zero is within 1e-6.
    assert.equal(compareAnswers(b('[1e-7]'), b('[0]'), 1e-6), 'within-tolerance')
    assert.equal(compareAnswers(b('[0.1]'), b('[0.2]'), 0), 'differ')
    assert.equal(compareAnswers(b('[0.1]'), b('[0.2]'), 0.5), 'within-tolerance')
  })

  test('nested arrays and objects compare element by element', () => {
    const a = b('{"predictions":[[0.1,0.9],[0.7,0.3]],"model":"v1"}')
    assert.equal(compareAnswers(a, b('{"model":"v1","predictions":[[0.1,0.9],[0.7,0.3]]}'), 1e-6), 'exact')
    assert.equal(compareAnswers(a, b('{"model":"v1","predictions":[[0.1000000001,0.9],[0.7,0.3]]}'), 1e-6), 'within-tolerance')
    assert.equal(compareAnswers(a, b('{"model":"v1","predictions":[[0.1,0.9],[0.3,0.7]]}'), 1e-6), 'differ')
    assert.equal(compareAnswers(a, b('{"model":"v2","predictions":[[0.1,0.9],[0.7,0.3]]}'), 1e-6), 'differ')
  })

  test('different lengths, keys or types differ', () => {
    assert.equal(compareAnswers(b('[1,2,3]'), b('[1,2]'), 1), 'differ')
    assert.equal(compareAnswers(b('{"a":1}'), b('{"a":1,"b":2}'), 1), 'differ')
    assert.equal(compareAnswers(b('{"a":1}'), b('{"b":1}'), 1), 'differ')
    assert.equal(compareAnswers(b('{"a":1}'), b('[1]'), 1), 'differ')
    assert.equal(compareAnswers(b('{"a":1}'), b('{"a":"1"}'), 1), 'differ')
    assert.equal(compareAnswers(b('{"a":null}'), b('{"a":0}'), 1), 'differ')
    assert.equal(compareAnswers(b('{"a":true}'), b('{"a":1}'), 1), 'differ')
    assert.equal(compareAnswers(b('{"a":[]}'), b('{"a":{}}'), 1), 'differ')
  })

  test('a body that is not JSON differs from any other body', () => {
    assert.equal(compareAnswers(b('setosa'), b('versicolor'), 1), 'differ')
    assert.equal(compareAnswers(b('{"a":1}'), b('{"a":1'), 1), 'differ')
    assert.equal(compareAnswers(b('<html>'), b('{"a":1}'), 1), 'differ')
  })

  test('a deeply nested answer does not overflow the stack', () => {
    const deep = '['.repeat(20000) + '1' + ']'.repeat(20000)
    const deep2 = '['.repeat(20000) + '1.0000000001' + ']'.repeat(20000)
    assert.equal(compareAnswers(b(deep), b(deep2), 1e-6), 'within-tolerance')
  })
})

describe('ShadowLedger', () => {
  test('an empty ledger reports nothing, with nulls rather than zeros where there is no figure', () => {
    const r = new ShadowLedger({}).report({})
    assert.deepEqual(r, {
      pairs: 0,
      kept: 0,
      since: null,
      primaryApi: null,
      shadowApi: null,
      compared: 0,
      exact: 0,
      withinTolerance: 0,
      differ: 0,
      agreement: null,
      tolerance: 1e-6,
      statusMismatch: 0,
      shadowFailed: 0,
      latency: {primary: {p50: null, p99: null}, shadow: {p50: null, p99: null}, medianDeltaMs: null, ratioP50: null},
      examples: [],
    })
  })

  test('the ring keeps the last `capacity` pairs and reports over them', () => {
    const ledger = new ShadowLedger({capacity: 3})
    // Pairs 0-1 differ; 2-6 are exact. After 7 pairs the ring holds 4, 5, 6.
    for (let n = 0; n < 7; n++) ledger.record(pair(n, answer(200, '[1]', 10), answer(200, n < 2 ? '[2]' : '[1]', 12)))
    const r = ledger.report({})
    assert.equal(r.pairs, 7)
    assert.equal(r.kept, 3)
    assert.equal(r.since, new Date(T0 + 4000).toISOString())
    assert.equal(r.compared, 3)
    assert.equal(r.exact, 3)
    assert.equal(r.differ, 0)
    assert.equal(r.agreement, 1)
    // One more wraps past the end of the array again: the oldest kept is now 5.
    ledger.record(pair(7, answer(200, '[1]', 10), answer(200, '[3]', 12)))
    const r2 = ledger.report({})
    assert.equal(r2.kept, 3)
    assert.equal(r2.since, new Date(T0 + 5000).toISOString())
    assert.equal(r2.differ, 1)
    assert.deepEqual(
      r2.examples.map((e) => e.requestId),
      ['req-7'],
    )
  })

  test('a report on a known set', () => {
    const ledger = new ShadowLedger({})
    let n = 0
    // 6 exact (one of them by key order), 2 within 1e-6, 2 differ: 10 compared.
    for (let i = 0; i < 5; i++) ledger.record(pair(n++, answer(200, '{"p":[0.25,0.75]}', 10 + i), answer(200, '{"p":[0.25,0.75]}', 20 + i)))
    ledger.record(pair(n++, answer(200, '{"a":1,"b":2}', 15), answer(200, '{"b":2,"a":1}', 25)))
    ledger.record(pair(n++, answer(200, '{"p":0.5}', 16), answer(200, '{"p":0.5000001}', 26)))
    ledger.record(pair(n++, answer(200, '{"p":0.5}', 17), answer(200, '{"p":0.4999999}', 27)))
    ledger.record(pair(n++, answer(200, '{"label":"setosa"}', 18), answer(200, '{"label":"virginica"}', 28)))
    ledger.record(pair(n++, answer(200, '{"p":0.5}', 19), answer(200, '{"p":0.6}', 29)))
    // Status mismatches: the shadow fails (500), the shadow gives no answer, the primary fails.
    ledger.record(pair(n++, answer(200, '{"p":0.5}', 11), answer(500, '{"error":"boom"}', 5)))
    ledger.record(pair(n++, answer(200, '{"p":0.5}', 11), answer(0, null, 3)))
    ledger.record(pair(n++, answer(503, '{"error":"shed"}', 1), answer(200, '{"p":0.5}', 30)))
    // Both fail: neither compared nor a mismatch, but the shadow failed.
    ledger.record(pair(n++, answer(500, 'x', 1), answer(502, 'y', 2), 'iris-v0'))

    const r = ledger.report({})
    assert.equal(r.pairs, 14)
    assert.equal(r.kept, 14)
    assert.equal(r.since, new Date(T0).toISOString())
    assert.equal(r.primaryApi, 'iris-v1')
    assert.equal(r.shadowApi, 'iris-v2')
    assert.equal(r.compared, 10)
    assert.equal(r.exact, 6)
    assert.equal(r.withinTolerance, 2)
    assert.equal(r.differ, 2)
    assert.equal(r.agreement, 0.8)
    assert.equal(r.tolerance, 1e-6)
    assert.equal(r.statusMismatch, 3)
    assert.equal(r.shadowFailed, 3)
    // Latency over the 10 compared pairs: primary 10..19, shadow 20..29, each shadow 10 ms slower.
    assert.deepEqual(r.latency, {primary: {p50: 14, p99: 19}, shadow: {p50: 24, p99: 29}, medianDeltaMs: 10, ratioP50: 24 / 14})
    // Newest first.
    assert.deepEqual(
      r.examples.map((e) => [e.requestId, e.verdict]),
      [
        ['req-12', 'status'],
        ['req-11', 'status'],
        ['req-10', 'status'],
        ['req-9', 'differ'],
        ['req-8', 'differ'],
      ],
    )
    const noAnswer = r.examples[1]
    assert.deepEqual(noAnswer.shadow, {status: 0, body: ''})
    assert.equal(noAnswer.request, '{"x":[11]}')
    assert.equal(noAnswer.at, new Date(T0 + 11000).toISOString())

    // A looser tolerance moves pairs from differ to within; a tighter one the other way.
    const loose = ledger.report({tolerance: 0.2})
    assert.deepEqual([loose.exact, loose.withinTolerance, loose.differ], [6, 3, 1])
    const strict = ledger.report({tolerance: 0})
    assert.deepEqual([strict.exact, strict.withinTolerance, strict.differ], [6, 0, 4])
    assert.equal(strict.agreement, 0.6)
  })

  test('examples are limited to the number asked for', () => {
    const ledger = new ShadowLedger({})
    for (let n = 0; n < 20; n++) ledger.record(pair(n, answer(200, '[1]', 1), answer(200, '[2]', 1)))
    assert.equal(ledger.report({}).examples.length, 5)
    assert.equal(ledger.report({examples: 2}).examples.length, 2)
    assert.equal(ledger.report({examples: 0}).examples.length, 0)
    assert.equal(ledger.report({examples: 50}).examples.length, 20)
    assert.equal(ledger.report({examples: 0}).differ, 20)
  })

  test('bodies are kept to maxBodyBytes; longer ones compare by kept bytes and length only', () => {
    const ledger = new ShadowLedger({maxBodyBytes: 32})
    const long = JSON.stringify({p: Array.from({length: 50}, (_, i) => i / 7)})
    const longNudged = JSON.stringify({p: Array.from({length: 50}, (_, i) => i / 7 + (i === 49 ? 1e-12 : 0))})
    assert.equal(compareAnswers(b(long), b(longNudged), 1e-6), 'within-tolerance')
    // Too long to parse from what is kept: same length and prefix count as exact, otherwise as differ.
    ledger.record(pair(0, answer(200, long, 1), answer(200, long, 1)))
    ledger.record(pair(1, answer(200, long, 1), answer(200, long + ' ', 1)))
    const r = ledger.report({})
    assert.deepEqual([r.exact, r.withinTolerance, r.differ], [1, 0, 1])
    const body = r.examples[0].primary.body
    assert.ok(body.endsWith('…'), body)
    assert.equal(body, long.slice(0, 32) + '…')
  })

  test('the ledger copies what it keeps, so the gateway may reuse or drop its buffers', () => {
    const ledger = new ShadowLedger({})
    const primary = b('[1]')
    const shadow = b('[2]')
    ledger.record(pair(0, {status: 200, body: primary, ms: 1}, {status: 200, body: shadow, ms: 1}))
    shadow.write('[1]')
    assert.equal(ledger.report({}).differ, 1)
  })

  test('examples show at most 300 characters of the request and of each answer', () => {
    const ledger = new ShadowLedger({})
    const big = JSON.stringify({label: 'é'.repeat(1000)})
    ledger.record({...pair(0, answer(200, big, 1), answer(200, '{"label":"x"}', 1)), request: b('ü'.repeat(2000))})
    const e = ledger.report({}).examples[0]
    assert.equal(Array.from(e.request).length, 300)
    assert.ok(e.request.endsWith('…'))
    assert.ok(!e.request.includes('\uFFFD'), 'no character cut in half')
    assert.equal(Array.from(e.primary.body).length, 300)
    assert.ok(e.primary.body.startsWith('{"label":"éé'))
    assert.equal(e.shadow.body, '{"label":"x"}')
  })
})

describe('renderDiffText', () => {
  test('shows the agreement, the counts, the latencies and the examples', () => {
    const ledger = new ShadowLedger({})
    for (let n = 0; n < 7; n++) ledger.record(pair(n, answer(200, '{"p":0.5}', 10), answer(200, '{"p":0.5}', 15)))
    ledger.record(pair(7, answer(200, '{"label":"setosa"}', 10), answer(200, '{"label":"virginica"}', 15)))
    ledger.record(pair(8, answer(200, '{"p":0.5}', 10), answer(0, null, 2)))
    const text = renderDiffText(ledger.report({}), 'iris')
    assert.match(text, /Splitter "iris": shadow iris-v2 against iris-v1, over the last 9 shadowed requests/)
    assert.match(text, /agreement: 87\.50% of 8 compared/)
    assert.match(text, /7 exact, 0 within tolerance 0\.000001, 1 differ/)
    assert.match(text, /status mismatches: 1/)
    assert.match(text, /shadow failed: 1/)
    assert.match(text, /iris-v1 +10\.0 +10\.0/)
    assert.match(text, /iris-v2 \(shadow\) +15\.0 +15\.0/)
    assert.match(text, /shadow p50 is 1\.5× the primary's; median shadow − primary per request: \+5\.000 ms/)
    assert.match(text, /1\. statuses differ {2}request req-8/)
    assert.match(text, /iris-v2: no answer/)
    assert.match(text, /2\. answers differ {2}request req-7/)
    assert.match(text, /request: \{"x":\[7\]\}/)
    assert.match(text, /iris-v1: 200 \{"label":"setosa"\}/)
    assert.match(text, /iris-v2: 200 \{"label":"virginica"\}/)
  })

  test('an empty report says so and how to get pairs', () => {
    const text = renderDiffText(new ShadowLedger({}).report({}), 'iris')
    assert.match(text, /no shadowed requests yet/)
    assert.match(text, /Send requests to the splitter's endpoint/)
    assert.match(text, /mlserve traffic show iris/)
  })

  test('pairs with nothing to compare show no agreement figure', () => {
    const ledger = new ShadowLedger({})
    ledger.record(pair(0, answer(200, '[1]', 1), answer(503, null, 0)))
    const text = renderDiffText(ledger.report({}), 'iris')
    assert.match(text, /agreement: - {2}\(no request where both answered 2xx/)
    assert.doesNotMatch(text, /latency/)
  })
})
