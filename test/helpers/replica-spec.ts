// A replica spec for unit tests of the drivers and the harness's door: a
// python API "iris", 2 processes × 3 threads, with the fields a test changes
// passed as overrides.
import type {ReplicaSpec} from '../../src/runtime/replica.js'

export function replicaSpec(overrides: Partial<ReplicaSpec> = {}): ReplicaSpec {
  return {
    api: 'iris',
    index: 0,
    kind: 'python',
    projectDir: '/home/me/iris',
    interpreter: 'python3',
    predictorPath: '/home/me/iris/src/predictor.py',
    predictorConfig: {k: 1},
    env: {MODEL: 'small'},
    processes: 2,
    threads: 3,
    readinessPath: '/healthz',
    predictPath: '/predict',
    gpus: [],
    cpus: null,
    readinessTimeoutMs: 1000,
    maxBodyBytes: 1024,
    ...overrides,
  }
}
