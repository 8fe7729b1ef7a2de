// mlserve tune on predictors whose best setting is not in processes × threads:
// a BLAS pool (swept, or left alone when the env sets it) and server-side
// batching. Apart from tune.test.ts so that neither file nears the runner's
// per-file limit: each proof tunes and then runs the pick.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {tuneCliFixtures} from '../helpers/tune-cli.js'
import {batchedSleep, numpyOneThread, numpyPool} from '../helpers/tune-predictors.js'

const {tuneProject, tuneCli, measured} = tuneCliFixtures()

describe('recommendations beyond processes × threads: BLAS threads and batching, proven by running them', () => {
  test('numpy with its default BLAS pool: BLAS threads are swept, and the pick sets them', async () => {
    const project = tuneProject(numpyPool())
    const result = await tuneCli(project, ['--slo-p99', '200', '--peak-rps', '50', '--processes', '1', '--threads', '1,2', '--search', 'exhaustive'])
    assert.deepEqual(result.grid.blasThreads, [1, null], 'one CPU: one BLAS thread, or the library default')
    assert.equal(result.candidates.length, 4, measured(result))
    const rec = result.recommendation!
    assert.ok(rec, measured(result))
    assert.equal(rec.blasThreads, 1, `the default pool costs the same or more on one CPU, so a tie goes to one BLAS thread\n${measured(result)}`)
    assert.equal(rec.env.OPENBLAS_NUM_THREADS, '1')
    assert.ok(rec.verifications.at(-1)!.passed, measured(result))
  })

  test('server-side batching: the config\'s pair is halved and doubled, and a larger batch that serves the peak with fewer replicas is the pick', async () => {
    const project = tuneProject(batchedSleep())
    // 20 ms per call: batches of 4 sustain under 200 req/s, batches of 8 nearly 400.
    const result = await tuneCli(project, ['--slo-p99', '500', '--peak-rps', '300', '--processes', '1', '--threads', '4'], ['--window', '2s', '--window-requests', '300'])
    assert.deepEqual(result.grid.batches, [
      {maxBatchSize: 2, intervalMs: 10},
      {maxBatchSize: 8, intervalMs: 40},
    ])
    const rec = result.recommendation!
    assert.ok(rec, measured(result))
    assert.deepEqual(rec.batch, {maxBatchSize: 8, intervalMs: 40}, measured(result))
    assert.equal(rec.threads_per_process, 8, 'threads hold a full batch')
    assert.ok(rec.verifications.at(-1)!.passed, measured(result))
  })

  test('numpy with BLAS threads set in its env: they are not swept', async () => {
    const project = tuneProject(numpyOneThread())
    const result = await tuneCli(project, ['--slo-p99', '200', '--peak-rps', '50', '--processes', '1', '--threads', '1', '--no-verify'])
    assert.deepEqual(result.grid.blasThreads, [null])
    assert.ok(result.recommendation, measured(result))
    assert.deepEqual(result.recommendation.env, {})
    assert.deepEqual(result.recommendation.verifications, [], '--no-verify')
  })
})
