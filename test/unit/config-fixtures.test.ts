// Cortex-format files written for these tests (test/fixtures/cortex, v0.20
// `predictor:` and v0.35 `handler:` styles) load unchanged: implemented fields
// take effect, ignored Cortex fields give one warning each, fields parsed but
// not acted on yet say so, and tensorflow/onnx predictors load (they fail only
// when run). The real Cortex corpus is test/integration/cortex-corpus.test.ts.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {readdirSync} from 'node:fs'
import {join} from 'node:path'
import {
  parseDurationMs,
  realtimeApis,
  type RealtimeApiConfig,
  type TrafficSplitterConfig,
} from '../../src/config/index.js'
import {repoRoot} from '../helpers/cli.js'
import {assertLoadsAsCortex, expectedIgnoredFields, projectsIn} from '../helpers/cortex.js'

const fixtureDir = join(repoRoot, 'test', 'fixtures', 'cortex')
const files = readdirSync(fixtureDir).filter((f) => f.endsWith('.yaml')).sort()

const project = projectsIn(fixtureDir)
const expectedIgnored = (file: string): string[] => expectedIgnoredFields(join(fixtureDir, file))

const api = async (file: string, index = 0) => (await project(file)).apis[index] as RealtimeApiConfig

describe('Cortex-format fixtures', () => {
  test('the fixture folder holds v0.20 and v0.35 files', () => {
    assert.ok(files.length >= 10, `expected the Cortex-format fixtures, found ${files.length}`)
    assert.ok(files.some((f) => f.startsWith('v0.20--')) && files.some((f) => f.startsWith('v0.35--')))
  })

  for (const file of files) {
    test(`${file} loads without errors, warning once for each ignored Cortex field`, async () => {
      assertLoadsAsCortex(await project(file), expectedIgnored(file))
    })
  }
})

describe('Cortex-format fixtures: values take effect', () => {
  test('tensorflow and onnx predictors load, with a warning that they are not served', async () => {
    const tf = await api('v0.20--tensorflow-batching.yaml')
    assert.equal(tf.predictor.type, 'tensorflow')
    const onnx = await api('v0.20--onnx-multi-model.yaml')
    assert.equal(onnx.predictor.type, 'onnx')
    const warnings = (await project('v0.20--onnx-multi-model.yaml')).warnings.map((w) => w.message)
    assert.ok(warnings.some((m) => /onnx is a Cortex predictor type mlserve does not serve/.test(m)))
    assert.ok(warnings.some((m) => /predictor\.models is a Cortex field/.test(m)))
    assert.ok(warnings.some((m) => /predictor\.image is a Cortex field/.test(m)))
  })

  test('predictor config and env are kept; env values become strings', async () => {
    const a = await api('v0.20--python-sentiment.yaml')
    assert.deepEqual(a.predictor.config, {vocabulary: 's3://example-bucket/sentiment/vocab.txt', max_length: 128})
    assert.deepEqual(a.predictor.env, {TOKENIZERS_PARALLELISM: 'false', BATCH_HINT: '4'})
    assert.equal(a.networking.endpoint, '/review-sentiment')
  })

  test('handler files (v0.35) are read as predictor, with server-side batching', async () => {
    const a = await api('v0.35--handler-batching.yaml')
    assert.equal(a.predictor.type, 'python')
    assert.equal(a.predictor.path, 'caption_handler.py')
    assert.equal(a.predictor.threads_per_process, 4)
    assert.deepEqual(a.predictor.server_side_batching, {max_batch_size: 4, batch_interval: '50ms'})
    assert.equal(a.autoscaling.target_replica_concurrency, 4)
    const tf = await api('v0.35--tensorflow-serving.yaml')
    assert.equal(parseDurationMs(tf.predictor.server_side_batching!.batch_interval), 100)
    assert.equal(tf.networking.endpoint, '/speech/tag')
  })

  test('concurrency and compute fields', async () => {
    const a = await api('v0.20--tensorflow-batching.yaml')
    assert.equal(a.predictor.processes_per_replica, 2)
    assert.equal(a.predictor.threads_per_process, 192)
    assert.equal(a.autoscaling.max_replica_concurrency, 8192)
    assert.equal(a.autoscaling.target_replica_concurrency, 384)
    assert.deepEqual(a.compute, {cpu: '4', gpu: 0, mem: '6G', inf: 2, shm: null})
  })

  test('compute quantities in every Cortex form', async () => {
    assert.equal((await api('v0.20--python-sentiment.yaml')).compute.cpu, '1')
    assert.equal((await api('v0.20--onnx-multi-model.yaml')).compute.cpu, '200m')
    assert.equal((await api('v0.20--onnx-multi-model.yaml')).compute.mem, '512Mi')
    assert.equal((await api('v0.35--handler-batching.yaml')).compute.mem, '2.5G')
    assert.equal((await api('v0.35--model-caching.yaml')).compute.cpu, '1.5')
    assert.equal((await api('v0.35--model-caching.yaml')).compute.mem, '16Gi')
  })

  test('the autoscaling block is validated and acted on, with no warning', async () => {
    const a = await api('v0.35--grpc-autoscaling.yaml')
    assert.deepEqual([a.autoscaling.min_replicas, a.autoscaling.max_replicas, a.autoscaling.init_replicas], [2, 6, 3])
    assert.equal(a.autoscaling.target_replica_concurrency, 6)
    assert.equal(a.autoscaling.window, '30s')
    const warnings = (await project('v0.35--grpc-autoscaling.yaml')).warnings.filter((w) => w.path.includes('autoscaling'))
    assert.deepEqual(warnings, [])
  })

  test('update_strategy is validated and warned about', async () => {
    const a = await api('v0.35--model-caching.yaml')
    assert.deepEqual(a.update_strategy, {max_surge: '1', max_unavailable: '0%'})
    const warnings = (await project('v0.35--model-caching.yaml')).warnings.map((w) => w.message)
    assert.ok(warnings.some((m) => /^api "translator" › update_strategy is a Cortex field mlserve does not implement; it is ignored \(mlserve does not do rolling updates\)/.test(m)))
  })

  test('a BatchAPI is skipped with a warning; the RealtimeAPI beside it loads', async () => {
    const loaded = await project('v0.20--batch-and-realtime.yaml')
    assert.deepEqual(loaded.apis.map((a) => a.name), ['embeddings'])
    assert.ok(loaded.warnings.some((w) => /kind BatchAPI is a Cortex kind mlserve does not implement; this API is ignored/.test(w.message)))
    assert.equal((loaded.apis[0] as RealtimeApiConfig).compute.gpu, 1)
  })

  test('traffic splitters, including a shadow API with weight 100', async () => {
    const v20 = await project('v0.20--traffic-splitter.yaml')
    const s20 = v20.apis.find((a) => a.kind === 'TrafficSplitter') as TrafficSplitterConfig
    assert.deepEqual(s20.apis, [
      {name: 'fraud-scorer-v1', weight: 60, shadow: false},
      {name: 'fraud-scorer-v2', weight: 40, shadow: false},
    ])
    const v35 = await project('v0.35--traffic-splitter-shadow.yaml')
    const s35 = v35.apis.find((a) => a.kind === 'TrafficSplitter') as TrafficSplitterConfig
    assert.deepEqual(s35.apis[2], {name: 'request-recorder', weight: 100, shadow: true})
    assert.deepEqual(realtimeApis(v35).map((a) => a.name), ['iris-classifier-pytorch', 'iris-classifier-onnx', 'request-recorder'])
    // Splitters are served now: no "not acted on" warning for their apis.
    assert.ok(!v35.warnings.some((w) => w.path === 'api "iris-classifier" › apis'))
  })
})
