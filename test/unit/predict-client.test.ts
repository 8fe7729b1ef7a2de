import {test, after} from 'node:test'
import assert from 'node:assert/strict'
import {answerSummary, predict} from '../../src/client/predict.js'
import {MlserveError} from '../../src/errors.js'
import {flakyServer, resettingServer, slowServer, type TestServer} from '../helpers/servers.js'

const servers: TestServer[] = []
after(async () => {
  await Promise.all(servers.map((s) => s.close()))
})

const body = Buffer.from('{"x":1}')

test('retries 503 answers, honouring Retry-After, until one succeeds', async () => {
  const server = await flakyServer(2, '0.2')
  servers.push(server)
  const retries: number[] = []
  const response = await predict({url: `${server.url}/api`, body, contentType: 'application/json', timeoutMs: 2000, retries: 4, onRetry: (r) => retries.push(r.delayMs)})
  assert.equal(response.status, 200)
  assert.equal(response.attempts, 3)
  assert.equal(server.hits(), 3)
  assert.ok(retries.every((delay) => delay >= 200), `each wait honours Retry-After 0.2s: ${retries}`)
})

test('retries connection resets', async () => {
  const server = await resettingServer(1)
  servers.push(server)
  const response = await predict({url: server.url, body, contentType: 'application/json', timeoutMs: 2000, retries: 2})
  assert.equal(response.status, 200)
  assert.equal(response.attempts, 2)
})

test('a try that passes its timeout is retried, then gives MLS_PREDICT_FAILED', async () => {
  const server = await slowServer(2000)
  servers.push(server)
  await assert.rejects(predict({url: server.url, body, contentType: 'application/json', timeoutMs: 150, retries: 1}), (error: MlserveError) => {
    assert.equal(error.code, 'MLS_PREDICT_FAILED')
    assert.match(error.message, /2 attempt/)
    assert.match(error.message, /no answer within 150 ms/)
    return true
  })
  assert.equal(server.hits(), 2)
})

test('the last retryable answer is returned when retries run out', async () => {
  const server = await flakyServer(10)
  servers.push(server)
  const response = await predict({url: server.url, body, contentType: 'application/json', timeoutMs: 2000, retries: 1})
  assert.equal(response.status, 503)
  assert.equal(response.attempts, 2)
})

test('a 4xx is not retried', async () => {
  const {startServer} = await import('../helpers/servers.js')
  const server = await startServer((req, res) => {
    req.resume()
    res.writeHead(400)
    res.end('bad')
  })
  servers.push(server)
  const response = await predict({url: server.url, body, contentType: 'application/json', timeoutMs: 2000, retries: 3})
  assert.equal(response.status, 400)
  assert.equal(server.hits(), 1)
})

test('the X-Mlserve-Cache header comes back, and the one-line summary says a cache hit', async () => {
  const {startServer} = await import('../helpers/servers.js')
  const server = await startServer((req, res) => {
    req.resume()
    res.writeHead(200, {'content-type': 'application/json', 'x-mlserve-cache': 'hit'})
    res.end('{"y":2}')
  })
  servers.push(server)
  const response = await predict({url: server.url, body, contentType: 'application/json', timeoutMs: 2000, retries: 0})
  assert.equal(response.cache, 'hit')
  assert.equal(answerSummary({...response, latencyMs: 6.54}), '200 in 6.5 ms (1 attempt, cache hit)')
  assert.equal(answerSummary({status: 200, latencyMs: 3, attempts: 2, cache: null}), '200 in 3.0 ms (2 attempts)')
})
