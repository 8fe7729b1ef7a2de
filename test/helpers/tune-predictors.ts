// The predictors whose behaviour tune must get right (test/fixtures/tune/),
// and the config each runs under: shared by the tune tests and the tune
// benchmarks, so that docs/tune.md's figures are of what the tests run.
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {repoRoot} from './cli.js'

const fixture = (name: string): string => readFileSync(join(repoRoot, 'test', 'fixtures', 'tune', name), 'utf8')

export interface TunePredictor {
  /** predictor.py */
  source: string
  /** Lines under predictor: (interpreter, env), indented two spaces. */
  predictorExtra: string
}

/** About 4 ms of pure Python per request, holding the GIL. */
export const cpuBound = (): TunePredictor => ({source: fixture('cpu_bound.py'), predictorExtra: '  interpreter: /usr/bin/python3\n'})
/** A 50 ms sleep: waiting on I/O with the GIL released. */
export const ioBound = (): TunePredictor => ({source: fixture('io_bound.py'), predictorExtra: ''})
/** A 300 × 300 matrix product: BLAS with its own thread pool. */
export const numpyPool = (): TunePredictor => ({source: fixture('numpy_bound.py'), predictorExtra: '  interpreter: /usr/bin/python3\n'})
/** The same, with BLAS held to one thread in its env. */
export const numpyOneThread = (): TunePredictor => ({source: fixture('numpy_bound.py'), predictorExtra: '  interpreter: /usr/bin/python3\n  env:\n    OPENBLAS_NUM_THREADS: "1"\n'})

/** 20 ms per predict call whatever the batch size, with server-side batching of 4 requests within 20 ms. */
export const batchedSleep = (): TunePredictor => ({
  source: fixture('batch_sleep.py'),
  predictorExtra: '  server_side_batching:\n    max_batch_size: 4\n    batch_interval: 20ms\n',
})

/** mlserve.yaml for one of them, compute.cpu 1; the first comment line must survive --write. */
export function tuneConfig(predictor: TunePredictor): string {
  return `# Tuning writes below; this comment must survive.
name: subject
kind: RealtimeAPI
predictor:
  type: python
  path: predictor.py # the predictor
  processes_per_replica: 1
  threads_per_process: 1
${predictor.predictorExtra}compute:
  cpu: 1
autoscaling:
  min_replicas: 1
  max_replicas: 10
`
}
