// What planRuntime puts in each replica's spec for a measurement: the CPUs it
// is pinned to (every replica, each its own copy) and environment that tuning
// sets over predictor.env (BLAS/OpenMP threads per candidate).
import {test, after} from 'node:test'
import assert from 'node:assert/strict'
import {loadProject} from '../../src/config/index.js'
import {planRuntime, runtimeDefaults, type PlanOptions} from '../../src/runtime/plan.js'
import {apiYaml, makeProject, sleepPredictor} from '../helpers/projects.js'

const project = makeProject({
  'mlserve.yaml': apiYaml().replace('    threads_per_process: 1\n', '    threads_per_process: 1\n    env:\n      MODEL: small\n      OMP_NUM_THREADS: "8"\n'),
  'predictor.py': sleepPredictor,
})
after(() => project.cleanup())

const plan = async (options: Partial<PlanOptions>) =>
  planRuntime(await loadProject(project.dir), {...runtimeDefaults, port: 0, accessLog: false, announce: false, ...options})

test('replicaCpus pins every replica, each spec with its own copy; without it replicas are unpinned', async () => {
  const cpus = [1, 3]
  const pinned = await plan({replicas: 2, replicaCpus: cpus})
  const specs = pinned.apis[0].replicas
  assert.deepEqual(specs.map((spec) => spec.cpus), [[1, 3], [1, 3]])
  assert.notEqual(specs[0].cpus, cpus)
  assert.notEqual(specs[0].cpus, specs[1].cpus)
  assert.deepEqual((await plan({})).apis[0].replicas.map((spec) => spec.cpus), [null])
})

test('overrides.env is set over predictor.env, which keeps its other variables', async () => {
  const overridden = await plan({overrides: {env: {OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1'}}})
  assert.deepEqual(overridden.apis[0].replicas[0].env, {MODEL: 'small', OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1'})
  assert.deepEqual((await plan({})).apis[0].replicas[0].env, {MODEL: 'small', OMP_NUM_THREADS: '8'})
})
