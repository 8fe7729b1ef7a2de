import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mlserveError} from '../../src/errors.js'
import {storeProblem} from '../../src/runtime/async/store-problem.js'

const redis = {store: 'redis' as const, dir: '/p/.mlserve/async/jobs', redisUrl: 'redis://user:s3cret@127.0.0.1:18950/0'}

test('a Redis that is down is said in our words, without ioredis settings or the password', () => {
  const retries = Object.assign(new Error('Reached the max retries per request limit (which is 3). Refer to "maxRetriesPerRequest" option for details.'), {name: 'MaxRetriesPerRequestError'})
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:18950'), {code: 'ECONNREFUSED'})
  for (const error of [retries, refused, new Error('Connection is closed.')]) {
    assert.equal(storeProblem(redis, error), 'Redis at redis://user:***@127.0.0.1:18950/0 did not answer')
  }
})

test("a Redis reply error keeps Redis's own words, once closed", () => {
  assert.equal(storeProblem(redis, new Error('OOM command not allowed when used memory > maxmemory.')), 'Redis at redis://user:***@127.0.0.1:18950/0 refused the request: OOM command not allowed when used memory > maxmemory')
})

test('the embedded store names its directory', () => {
  assert.equal(storeProblem({...redis, store: 'embedded'}, new Error('MDB_MAP_FULL')), 'the embedded store in /p/.mlserve/async/jobs failed: MDB_MAP_FULL')
})

test('the 503 message reads as one sentence with one period', () => {
  const error = mlserveError('MLS_ASYNC_STORE_FAILED', {api: 'jobs', store: 'redis', reason: storeProblem(redis, new Error('Connection is closed.'))})
  assert.equal(error.message, 'AsyncAPI "jobs" could not use its job store: Redis at redis://user:***@127.0.0.1:18950/0 did not answer.')
})
