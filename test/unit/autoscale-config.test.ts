// cortex#933: an API whose target_replica_concurrency is at or above its
// max_replica_concurrency can never scale up. A located error whenever the API
// autoscales (the effective max_replicas, written or its default 100, above
// min_replicas), else a warning; both name the fixes.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {parseProject} from '../../src/config/index.js'
import {configErrors} from '../helpers/config.js'

const FILE = 'mlserve.yaml'
const BASE = 'name: iris\npredictor:\n  type: python\n  path: p.py\n  processes_per_replica: 1\n  threads_per_process: 2\n'

const errorsOf = configErrors

describe('cortex#933: a target at or above max_replica_concurrency', () => {
  test('with max_replicas above min_replicas it is a located error naming the fixes', () => {
    const details = errorsOf(`${BASE}autoscaling:\n  min_replicas: 1\n  max_replicas: 3\n  max_replica_concurrency: 4\n  target_replica_concurrency: 4\n`)
    assert.equal(details.length, 1, details.join('\n'))
    assert.ok(details[0].startsWith(`${FILE}:11:31  autoscaling.target_replica_concurrency: `), details[0])
    assert.match(details[0], /target_replica_concurrency \(4\) equals max_replica_concurrency \(4\), so the autoscaler can never scale this API up/)
    assert.match(details[0], /a replica answers 503 past 4 requests in flight/)
    assert.match(details[0], /cortex#933\); it autoscales from min_replicas \(1\) to max_replicas \(3\)\./)
    assert.match(details[0], /Lower autoscaling\.target_replica_concurrency below 4 \(e\.g\. 2\), raise autoscaling\.max_replica_concurrency above 4, or set autoscaling\.max_replicas to min_replicas \(1\) to turn autoscaling off/)
  })

  test('the default max_replicas (100) autoscales too: a file without max_replicas gets the error (the trap new users met)', () => {
    for (const scaling of ['', '  min_replicas: 2\n']) {
      const details = errorsOf(`${BASE}autoscaling:\n${scaling}  max_replica_concurrency: 1\n  target_replica_concurrency: 1\n`)
      assert.equal(details.length, 1, details.join('\n'))
      assert.match(details[0], /autoscaling\.target_replica_concurrency: target_replica_concurrency \(1\) equals max_replica_concurrency \(1\)/)
      assert.match(details[0], /503 past 1 request in flight/)
      assert.match(details[0], new RegExp(`from min_replicas \\(${scaling ? 2 : 1}\\) to max_replicas \\(100, its default\\)`))
      assert.match(details[0], /below 1 \(e\.g\. 0\.5\)/)
    }
  })

  test('the default target (processes × threads) points at the concurrency field and explains the default', () => {
    const details = errorsOf(`${BASE}autoscaling:\n  max_replicas: 3\n  max_replica_concurrency: 2\n`)
    assert.equal(details.length, 1, details.join('\n'))
    assert.ok(details[0].startsWith(`${FILE}:9:28  autoscaling.max_replica_concurrency: `), details[0])
    assert.match(details[0], /target_replica_concurrency \(2, its default: processes_per_replica × threads_per_process = 1 × 2\) equals max_replica_concurrency \(2\)/)
  })

  test('with max_replicas equal to min_replicas (no autoscaling) it is a located warning with the fixes, and the file loads', () => {
    for (const scaling of ['  min_replicas: 2\n  max_replicas: 2\n', '  max_replicas: 1\n']) {
      const project = parseProject(`${BASE}autoscaling:\n${scaling}  max_replica_concurrency: 2\n`, FILE)
      const warnings = project.warnings.filter((w) => /cortex#933/.test(w.message))
      assert.equal(warnings.length, 1, scaling)
      assert.equal(warnings[0].path, 'autoscaling.max_replica_concurrency')
      assert.match(warnings[0].message, /never scale this API up .*Lower autoscaling\.target_replica_concurrency below 2 \(e\.g\. 1\), raise autoscaling\.max_replica_concurrency above 2, or set autoscaling\.max_replicas to min_replicas \(\d\) to turn autoscaling off \(a warning: max_replicas equals min_replicas, so this API does not autoscale\)$/)
    }
  })

  test('a target above the cap is an error even without autoscaling', () => {
    const details = errorsOf(`${BASE}autoscaling:\n  max_replicas: 1\n  max_replica_concurrency: 2\n  target_replica_concurrency: 3\n`)
    assert.equal(details.length, 1, details.join('\n'))
    assert.match(details[0], /target_replica_concurrency \(3\) is greater than max_replica_concurrency \(2\)/)
  })

  test('an AsyncAPI scales on its backlog, which no cap bounds: a target at the cap is fine there', () => {
    const project = parseProject(`${BASE.replace('name: iris\n', 'name: jobs\nkind: AsyncAPI\n')}autoscaling:\n  max_replicas: 3\n  max_replica_concurrency: 2\n`, FILE)
    assert.equal(project.apis.length, 1)
    assert.deepEqual(project.warnings, [])
  })

  test('a target below the cap is fine', () => {
    const project = parseProject(`${BASE}autoscaling:\n  max_replicas: 3\n  max_replica_concurrency: 8\n  target_replica_concurrency: 2\n`, FILE)
    assert.deepEqual(project.warnings, [])
  })
})
