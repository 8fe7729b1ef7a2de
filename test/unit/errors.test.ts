import {test} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {errorRegistry, mlserveError, type ErrorCode} from '../../src/errors.js'
import {repoRoot} from '../helpers/cli.js'

const documented = new Set(
  [...readFileSync(join(repoRoot, 'docs', 'errors.md'), 'utf8').matchAll(/^## (MLS_[A-Z0-9_]+)$/gm)].map((m) => m[1]),
)

test('every error code in the registry is documented in docs/errors.md', () => {
  const missing = Object.keys(errorRegistry).filter((code) => !documented.has(code))
  assert.deepEqual(missing, [])
})

test('docs/errors.md documents no code that the registry lacks (besides MLS_INTERNAL)', () => {
  const stale = [...documented].filter((code) => code !== 'MLS_INTERNAL' && !(code in errorRegistry))
  assert.deepEqual(stale, [])
})

test('every registry entry has a message, a suggestion and an exit code', () => {
  for (const [code, spec] of Object.entries(errorRegistry)) {
    assert.ok(spec.exitCode === 1 || spec.exitCode === 2, `${code} exit code`)
    assert.equal(typeof spec.message, 'function', `${code} message`)
    assert.equal(typeof spec.suggestion, 'function', `${code} suggestion`)
  }
})

test('mlserveError fills message and suggestion from the registry', () => {
  const err = mlserveError('MLS_PORT_IN_USE', {port: 8080, host: '127.0.0.1'})
  assert.equal(err.code, 'MLS_PORT_IN_USE' satisfies ErrorCode)
  assert.match(err.message, /8080/)
  assert.match(err.suggestion, /--port/)
  assert.equal(err.exitCode, 2)
  assert.deepEqual(Object.keys(err.toJSON()).sort(), ['code', 'details', 'message', 'suggestion'])
})

test('a reason that already ends a sentence gets no second period (MLS_GATEWAY_APPLY_FAILED)', () => {
  assert.equal(mlserveError('MLS_GATEWAY_APPLY_FAILED', {reason: 'the driver changed.'}).message, 'The runtime could not apply the new config: the driver changed.')
  assert.equal(mlserveError('MLS_GATEWAY_APPLY_FAILED', {reason: 'the driver changed'}).message, 'The runtime could not apply the new config: the driver changed.')
})
