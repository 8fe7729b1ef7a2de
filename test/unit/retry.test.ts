import {test} from 'node:test'
import assert from 'node:assert/strict'
import {parseRetryAfterMs, retryDelayMs} from '../../src/client/retry.js'

test('Retry-After in seconds and as an HTTP date', () => {
  assert.equal(parseRetryAfterMs('1'), 1000)
  assert.equal(parseRetryAfterMs('0.5'), 500)
  const now = Date.parse('2026-01-01T00:00:00Z')
  assert.equal(parseRetryAfterMs('Thu, 01 Jan 2026 00:00:03 GMT', now), 3000)
  assert.equal(parseRetryAfterMs(undefined), null)
  assert.equal(parseRetryAfterMs('soon'), null)
})

test('backoff grows exponentially, within [ceiling/2, ceiling], and is capped', () => {
  const low = (attempt: number) => retryDelayMs(attempt, null, undefined, () => 0)
  const high = (attempt: number) => retryDelayMs(attempt, null, undefined, () => 1)
  assert.deepEqual([1, 2, 3, 4].map(low), [50, 100, 200, 400])
  assert.deepEqual([1, 2, 3, 4].map(high), [100, 200, 400, 800])
  assert.equal(high(20), 5000)
})

test('Retry-After is honoured when longer than the backoff, and capped at 30 s', () => {
  assert.equal(retryDelayMs(1, 2000, undefined, () => 0), 2000)
  assert.equal(retryDelayMs(1, 10, undefined, () => 1), 100)
  assert.equal(retryDelayMs(1, 999_000, undefined, () => 0), 30_000)
})
