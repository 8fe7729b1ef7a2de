// Counts in user-facing text agree with their noun.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {noun, plural} from '../../src/plural.js'

test('one is singular, everything else plural (0 and fractions too), with an irregular plural when given', () => {
  assert.equal(plural(1, 'replica'), '1 replica')
  assert.equal(plural(2, 'replica'), '2 replicas')
  assert.equal(plural(0, 'request'), '0 requests')
  assert.equal(plural(1.5, 'request'), '1.5 requests')
  assert.equal(plural(3, 'process', 'processes'), '3 processes')
  assert.equal(noun(1, 'process', 'processes'), 'process')
})

test("the gateway's shed answer agrees with its count", async () => {
  const {errorRegistry} = await import('../../src/errors.js')
  assert.match(errorRegistry.MLS_GATEWAY_SHED.message({api: 'a', maxReplicaConcurrency: 1}), /holds max_replica_concurrency \(1\) request\.$/)
  assert.match(errorRegistry.MLS_GATEWAY_SHED.message({api: 'a', maxReplicaConcurrency: 4}), /holds max_replica_concurrency \(4\) requests\.$/)
})
