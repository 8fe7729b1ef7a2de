import {test} from 'node:test'
import assert from 'node:assert/strict'
import {entryBytes, PredictionCache} from '../../src/runtime/gateway/cache.js'

const answer = (text: string) => ({body: Buffer.from(text), contentType: 'application/json'})

/** lru-cache's clock, moved by hand. */
function clock() {
  let now = 1_000
  return {perf: {now: () => now}, advance: (ms: number) => (now += ms)}
}

test('a stored answer is a hit; an unknown key is a miss', () => {
  const cache = new PredictionCache({maxEntries: 10, maxBytes: 1 << 20, ttlMs: 60_000})
  assert.equal(cache.get('{"a":1}'), undefined)
  cache.set('{"a":1}', answer('[1]'))
  assert.deepEqual(cache.get('{"a":1}'), answer('[1]'))
  cache.bypassed()
  assert.deepEqual({hits: cache.hits, misses: cache.misses}, {hits: 1, misses: 2})
  assert.equal(cache.entries, 1)
  assert.equal(cache.bytes, entryBytes(answer('[1]'), '{"a":1}'))
})

test('max_entries: the least recently used answer leaves first, counted as an eviction by bounds', () => {
  const cache = new PredictionCache({maxEntries: 2, maxBytes: 1 << 20, ttlMs: 60_000})
  cache.set('a', answer('1'))
  cache.set('b', answer('2'))
  cache.get('a') // b is now the least recently used
  cache.set('c', answer('3'))
  assert.equal(cache.get('b'), undefined)
  assert.ok(cache.get('a'))
  assert.ok(cache.get('c'))
  assert.deepEqual(cache.evictions, {bounds: 1, ttl: 0})
  assert.equal(cache.entries, 2)
})

test('max_bytes bounds the key and body bytes held, whatever the entry count', () => {
  const maxBytes = 1_000
  const cache = new PredictionCache({maxEntries: 1_000, maxBytes, ttlMs: 60_000})
  for (let i = 0; i < 100; i++) {
    cache.set(`{"i":${i}}`, answer('x'.repeat(90)))
    assert.ok(cache.bytes <= maxBytes, `${cache.bytes} bytes after ${i + 1} answers`)
  }
  const size = entryBytes(answer('x'.repeat(90)), '{"i":10}')
  assert.equal(cache.entries, Math.floor(maxBytes / size))
  assert.equal(cache.evictions.bounds, 100 - cache.entries)
  assert.ok(cache.get('{"i":99}'), 'the newest answer is held')
  assert.equal(cache.get('{"i":0}'), undefined, 'the oldest is gone')
})

test('an answer larger than max_bytes by itself is not stored, and evicts nothing', () => {
  const cache = new PredictionCache({maxEntries: 10, maxBytes: 100, ttlMs: 60_000})
  cache.set('small', answer('1'))
  cache.set('big', answer('x'.repeat(200)))
  assert.equal(cache.get('big'), undefined)
  assert.ok(cache.get('small'))
  assert.ok(cache.bytes <= 100)
  assert.deepEqual(cache.evictions, {bounds: 0, ttl: 0})
})

test('an answer older than the TTL is gone, counted as an eviction by ttl; reading it does not extend its life', () => {
  const time = clock()
  const cache = new PredictionCache({maxEntries: 10, maxBytes: 1 << 20, ttlMs: 5_000}, 'v1', {perf: time.perf})
  cache.set('k', answer('1'))
  time.advance(4_000)
  assert.ok(cache.get('k'), 'still fresh at 4 s')
  time.advance(1_001)
  assert.equal(cache.get('k'), undefined, 'gone past 5 s although it was read at 4 s')
  assert.deepEqual(cache.evictions, {bounds: 0, ttl: 1})
  assert.deepEqual({hits: cache.hits, misses: cache.misses}, {hits: 1, misses: 1})
})

test('entries and bytes leave out expired answers nobody read again', () => {
  const time = clock()
  const cache = new PredictionCache({maxEntries: 10, maxBytes: 1 << 20, ttlMs: 1_000}, 'v1', {perf: time.perf})
  cache.set('a', answer('1'))
  cache.set('b', answer('2'))
  time.advance(500)
  cache.set('c', answer('3'))
  time.advance(600)
  assert.equal(cache.entries, 1)
  assert.equal(cache.bytes, entryBytes(answer('3'), 'c'))
  assert.equal(cache.evictions.ttl, 2)
})

test('clear drops everything without counting evictions', () => {
  const cache = new PredictionCache({maxEntries: 10, maxBytes: 1 << 20, ttlMs: 60_000})
  cache.set('a', answer('1'))
  cache.set('b', answer('2'))
  cache.clear()
  assert.equal(cache.entries, 0)
  assert.equal(cache.bytes, 0)
  assert.equal(cache.get('a'), undefined)
  assert.deepEqual(cache.evictions, {bounds: 0, ttl: 0})
})
