import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtemp, mkdir, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {
  CORTEX_UNIMPLEMENTED,
  SCHEMA_URL,
  configJsonSchema,
  loadProject,
  parseProject,
  realtimeApis,
  selectApi,
  type Project,
  type RealtimeApiConfig,
  type TrafficSplitterConfig,
} from '../../src/config/index.js'
import {KEY_SPECS, type KeySpec} from '../../src/config/schema.js'
import type {MlserveError} from '../../src/errors.js'
import {repoRoot} from '../helpers/cli.js'
import {configErrors, configFailure} from '../helpers/config.js'

const FILE = 'mlserve.yaml'

function load(text: string): Project {
  return parseProject(text, FILE)
}

function only(text: string): RealtimeApiConfig {
  const project = load(text)
  assert.equal(project.apis.length, 1)
  return project.apis[0] as RealtimeApiConfig
}

const errors = configErrors

/** Asserts exactly one error, at line:col, matching every pattern. */
function oneError(text: string, line: number, column: number, ...patterns: RegExp[]): string {
  const details = errors(text)
  assert.equal(details.length, 1, `expected one error, got:\n${details.join('\n')}`)
  const [detail] = details
  assert.ok(detail.startsWith(`${FILE}:${line}:${column}  `), `expected ${FILE}:${line}:${column}, got: ${detail}`)
  for (const pattern of patterns) assert.match(detail, pattern)
  return detail
}

const MINIMAL = `name: iris
predictor:
  type: python
  path: predictor.py
`

describe('defaults', () => {
  test('a minimal RealtimeAPI gets every Cortex default', () => {
    const api = only(MINIMAL)
    assert.equal(api.kind, 'RealtimeAPI')
    assert.deepEqual(api.predictor, {
      type: 'python',
      path: 'predictor.py',
      readiness_path: '/healthz',
      predict_path: '/predict',
      config: {},
      env: {},
      processes_per_replica: 1,
      threads_per_process: 1,
    })
    assert.deepEqual(api.compute, {cpu: '200m', gpu: 0, mem: null, inf: 0, shm: null})
    assert.deepEqual(api.autoscaling, {
      min_replicas: 1,
      max_replicas: 100,
      init_replicas: 1,
      max_replica_concurrency: 1024,
      target_replica_concurrency: 1,
      window: '60s',
      downscale_stabilization_period: '5m',
      upscale_stabilization_period: '1m',
      max_downscale_factor: 0.75,
      max_upscale_factor: 1.5,
      downscale_tolerance: 0.05,
      upscale_tolerance: 0.05,
    })
    assert.deepEqual(api.networking, {endpoint: '/iris'})
    assert.deepEqual(api.update_strategy, {max_surge: '25%', max_unavailable: '25%'})
    assert.deepEqual(api.build, {base_image: 'python:3.11-slim', system_packages: [], python_requirements: 'requirements.txt', exclude: [], allow_secrets: []})
    assert.equal(api.predictor.interpreter, undefined, 'the interpreter is resolved by the runtime, not here')
    assert.equal(api.predictor.server_side_batching, undefined)
  })

  test('target_replica_concurrency defaults to processes × threads, init_replicas to min_replicas', () => {
    const api = only(`${MINIMAL}  processes_per_replica: 2\n  threads_per_process: 3\nautoscaling:\n  min_replicas: 3\n`)
    assert.equal(api.autoscaling.target_replica_concurrency, 6)
    assert.equal(api.autoscaling.init_replicas, 3)
    assert.equal(api.autoscaling.min_replicas, 3)
  })

  test('explicit values win, and a fractional target is kept', () => {
    const api = only(`${MINIMAL}autoscaling:\n  target_replica_concurrency: 1.6\n  init_replicas: 4\nnetworking:\n  endpoint: /v1/iris\n`)
    assert.equal(api.autoscaling.target_replica_concurrency, 1.6)
    assert.equal(api.autoscaling.init_replicas, 4)
    assert.equal(api.networking.endpoint, '/v1/iris')
  })

  test('quantities, env and config are normalized', () => {
    const api = only(`${MINIMAL}  env: {WORKERS: 4, DEBUG: true, NAME: x}\n  config:\ncompute:\n  cpu: 1\n  mem: 2Gi\n  gpu: 1\n`)
    assert.deepEqual(api.predictor.env, {WORKERS: '4', DEBUG: 'true', NAME: 'x'})
    assert.deepEqual(api.predictor.config, {})
    assert.equal(api.compute.cpu, '1')
    assert.equal(api.compute.mem, '2Gi')
    assert.equal(api.compute.gpu, 1)
  })

  test('cpu may be null (no reservation) and an empty section means all defaults', () => {
    const api = only(`${MINIMAL}compute:\n  cpu: null\nautoscaling:\n`)
    assert.equal(api.compute.cpu, null)
    assert.equal(api.autoscaling.max_replicas, 100)
  })

  test('server_side_batching and command predictors', () => {
    const api = only(`name: srv
predictor:
  type: command
  command: [uvicorn, app:app, --port, $PORT]
  readiness_path: /ready
  threads_per_process: 8
  server_side_batching: {max_batch_size: 8, batch_interval: 100ms}
`)
    assert.deepEqual(api.predictor.command, ['uvicorn', 'app:app', '--port', '$PORT'])
    assert.equal(api.predictor.readiness_path, '/ready')
    assert.equal(api.predictor.predict_path, '/predict')
    assert.deepEqual(api.predictor.server_side_batching, {max_batch_size: 8, batch_interval: '100ms'})
    assert.equal(api.autoscaling.target_replica_concurrency, 8)
  })

  test('the build section', () => {
    const api = only(`${MINIMAL}build:\n  base_image: python:3.12-slim\n  system_packages: [libgomp1]\n  model_dir: model\n  include: ['*.py']\n  dockerfile: Dockerfile\n  allow_secrets: [certs/test.pem]\n`)
    assert.deepEqual(api.build, {
      base_image: 'python:3.12-slim',
      system_packages: ['libgomp1'],
      python_requirements: 'requirements.txt',
      model_dir: 'model',
      include: ['*.py'],
      exclude: [],
      dockerfile: 'Dockerfile',
      allow_secrets: ['certs/test.pem'],
    })
  })
})

describe('file forms', () => {
  test('a single mapping and a one-item list give the same API', () => {
    const list = `- ${MINIMAL.trimEnd().split('\n').join('\n  ')}\n`
    assert.deepEqual(load(list).apis, load(MINIMAL).apis)
  })

  test('a list of APIs keeps its order and kinds', () => {
    const project = load(`- name: a
  predictor: {type: python, path: a.py}
- name: b
  kind: RealtimeAPI
  predictor: {type: python, path: b.py}
- name: ab
  kind: TrafficSplitter
  apis:
    - {name: a, weight: 80}
    - {name: b, weight: 20}
`)
    assert.deepEqual(project.apis.map((a) => [a.name, a.kind]), [['a', 'RealtimeAPI'], ['b', 'RealtimeAPI'], ['ab', 'TrafficSplitter']])
    const splitter = project.apis[2] as TrafficSplitterConfig
    assert.deepEqual(splitter.apis, [{name: 'a', weight: 80, shadow: false}, {name: 'b', weight: 20, shadow: false}])
    assert.equal(splitter.networking.endpoint, '/ab')
    assert.deepEqual(realtimeApis(project).map((a) => a.name), ['a', 'b'])
  })

  test('handler (Cortex v0.34+) is read as predictor', () => {
    const api = only('name: iris\nhandler:\n  type: python\n  path: handler.py\n  threads_per_process: 2\n')
    assert.equal(api.predictor.path, 'handler.py')
    assert.equal(api.predictor.threads_per_process, 2)
    assert.equal((api as unknown as Record<string, unknown>).handler, undefined)
  })

  test('errors inside handler name handler, not predictor', () => {
    oneError('name: iris\nhandler:\n  type: python\n  path: h.py\n  threads_per_process: 0\n', 5, 24, /handler\.threads_per_process: expected an integer ≥ 1, found 0 \(a number\)/)
  })

  test('predictor and handler together are an error at handler', () => {
    oneError(`${MINIMAL}handler:\n  type: python\n`, 5, 1, /handler: both predictor and handler are given; keep one/)
  })

  test('file, dir and display paths', () => {
    const project = load(MINIMAL)
    assert.equal(project.file, join(process.cwd(), FILE))
    assert.equal(project.dir, process.cwd())
    assert.deepEqual(project.warnings, [])
  })
})

describe('errors are located and say what was expected and found', () => {
  test('wrong type', () => {
    oneError(
      `${MINIMAL}  threads_per_process: two\n`,
      5,
      24,
      /^mlserve\.yaml:5:24 {2}predictor\.threads_per_process: expected an integer ≥ 1, found "two" \(a string\)$/,
    )
  })

  test('a float where an integer is expected', () => {
    oneError(`${MINIMAL}compute:\n  gpu: 0.5\n`, 6, 8, /compute\.gpu: expected an integer ≥ 0, found 0\.5 \(a number\)/)
  })

  test('unknown key with did-you-mean', () => {
    oneError(
      `${MINIMAL}  procesess_per_replica: 2\n`,
      5,
      3,
      /unknown key 'procesess_per_replica' at predictor; did you mean 'processes_per_replica'\?/,
    )
  })

  test('unknown top-level key with did-you-mean', () => {
    oneError(`${MINIMAL}autoscalling:\n  min_replicas: 2\n`, 5, 1, /unknown key 'autoscalling' at the top level; did you mean 'autoscaling'\?/)
  })

  test('unknown key far from any lists the accepted keys', () => {
    oneError(`${MINIMAL}compute:\n  disk: 10Gi\n`, 6, 3, /unknown key 'disk' at compute; expected one of: cpu, gpu, mem, inf, shm/)
  })

  test('bad duration lists the accepted forms', () => {
    oneError(
      `${MINIMAL}  server_side_batching:\n    max_batch_size: 4\n    batch_interval: 100 ms\n`,
      7,
      21,
      /predictor\.server_side_batching\.batch_interval: expected a duration like 100ms, 2s, 1\.5s, 1m30s, 5m or 1h .*found "100 ms" \(a string\)/,
    )
  })

  test('a bare number as a duration says the unit is missing; a negative one says it must not be negative', () => {
    const ttl = (value: string): string => oneError(`${MINIMAL}  cache:\n    ttl: ${value}\n`, 6, 10)
    assert.match(ttl('0'), /predictor\.cache\.ttl: a duration needs a unit, e\.g\. 0s or 5m; found 0 \(a number\)/)
    assert.match(ttl('300'), /predictor\.cache\.ttl: a duration needs a unit, e\.g\. 0s or 5m; found 300/)
    assert.match(ttl('-1'), /predictor\.cache\.ttl: a duration must not be negative, and needs a unit, e\.g\. 0s or 5m; found -1/)
    assert.match(ttl('-1s'), /predictor\.cache\.ttl: a duration must not be negative, e\.g\. 0s or 5m; found "-1s"/)
    assert.match(ttl('0s'), /predictor\.cache\.ttl: expected a duration greater than 0/)
  })

  test('window must be a multiple of 10s', () => {
    oneError(`${MINIMAL}autoscaling:\n  window: 15s\n`, 6, 11, /autoscaling\.window: expected a multiple of 10s/)
  })

  test('bad CPU quantity lists the accepted forms', () => {
    oneError(`${MINIMAL}compute:\n  cpu: 2 cores\n`, 6, 8, /compute\.cpu: expected a CPU quantity like 200m, 0\.5, 1 or 2 .*found "2 cores" \(a string\)/)
  })

  test('bad memory quantity lists the accepted forms', () => {
    oneError(`${MINIMAL}compute:\n  mem: 2GB\n`, 6, 8, /compute\.mem: expected a memory quantity like 512Mi, 2Gi, 100M or 1G/)
  })

  test("memory in 'm' (milli) is caught with the fix", () => {
    oneError(`${MINIMAL}compute:\n  mem: 100m\n`, 6, 8, /compute\.mem: "100m" means 100 thousandths of a byte .*write 100M for megabytes or 100Mi for mebibytes/)
  })

  test('enum value with did-you-mean', () => {
    oneError('name: iris\npredictor:\n  type: pyton\n  path: p.py\n', 3, 9, /predictor\.type: expected one of python, command, tensorflow, onnx, found "pyton" \(a string\); did you mean 'python'\?/)
  })

  test('missing required field points at its parent', () => {
    oneError('name: iris\npredictor:\n  path: p.py\n', 2, 1, /predictor\.type: required field is missing; expected one of python, command/)
  })

  test('missing predictor section', () => {
    oneError('name: iris\n', 1, 1, /predictor: required field is missing; expected a mapping/)
  })

  test('missing path for type python', () => {
    oneError('name: iris\npredictor:\n  type: python\n', 2, 1, /predictor\.path: required for type python; expected the file that defines your PythonPredictor class/)
  })

  test('missing command for type command', () => {
    oneError('name: srv\npredictor:\n  type: command\n', 2, 1, /predictor\.command: required for type command/)
  })

  test('server_side_batching needs both fields', () => {
    oneError(`${MINIMAL}  server_side_batching:\n    max_batch_size: 4\n`, 5, 3, /predictor\.server_side_batching\.batch_interval: required field is missing; expected a duration/)
  })

  test('min_replicas > max_replicas', () => {
    oneError(`${MINIMAL}autoscaling:\n  min_replicas: 5\n  max_replicas: 2\n`, 6, 17, /autoscaling\.min_replicas: min_replicas \(5\) is greater than max_replicas \(2\)/)
  })

  test('init_replicas outside [min, max]', () => {
    oneError(`${MINIMAL}autoscaling:\n  min_replicas: 2\n  init_replicas: 1\n`, 7, 18, /autoscaling\.init_replicas: init_replicas \(1\) must be between min_replicas \(2\) and max_replicas \(100\)/)
  })

  test('target_replica_concurrency > max_replica_concurrency', () => {
    oneError(
      `${MINIMAL}autoscaling:\n  max_replica_concurrency: 8\n  target_replica_concurrency: 10\n`,
      7,
      31,
      /autoscaling\.target_replica_concurrency: target_replica_concurrency \(10\) is greater than max_replica_concurrency \(8\)/,
    )
  })

  test('a derived target above max_replica_concurrency points at the concurrency and explains the default', () => {
    oneError(
      `${MINIMAL}  processes_per_replica: 4\n  threads_per_process: 300\n`,
      6,
      24,
      /predictor\.threads_per_process: target_replica_concurrency \(1200, its default: processes_per_replica × threads_per_process = 4 × 300\) is greater than max_replica_concurrency \(1024\)/,
    )
  })

  test('a name that is not a DNS-1123 label gets a proposal', () => {
    oneError('name: Iris_Classifier\npredictor: {type: python, path: p.py}\n', 1, 7, /name: "Iris_Classifier" is not a valid API name: .*DNS-1123.*use "iris-classifier"/)
  })

  test('YAML syntax errors are located', () => {
    oneError('name: iris\npredictor:\n  type: python\n path: p.py\n', 4, 1, /YAML syntax error: /)
  })

  test('duplicate YAML keys are a syntax error', () => {
    oneError('name: iris\nname: iris2\npredictor: {type: python, path: p.py}\n', 2, 1, /YAML syntax error: Map keys must be unique/)
  })

  test('an empty file', () => {
    oneError('', 1, 1, /expected one API .* or a list of APIs, found an empty file/)
  })

  test('a list item that is not a mapping', () => {
    oneError(`- ${MINIMAL.trimEnd().split('\n').join('\n  ')}\n- just a string\n`, 5, 3, /\[1\]: expected a mapping \(an API/)
  })

  test('an unknown kind with did-you-mean', () => {
    oneError('name: x\nkind: RealTimeAPI\npredictor: {type: python, path: p.py}\n', 2, 7, /kind: expected one of RealtimeAPI, TrafficSplitter, AsyncAPI, found "RealTimeAPI" \(a string\); did you mean 'RealtimeAPI'\?/)
  })

  test('all errors of a file are collected, sorted by line, and counted', () => {
    const error = configFailure(`name: Bad_Name
predictor:
  type: python
  path: p.py
  threads_per_process: 0
compute:
  cpu: lots
autoscaling:
  windw: 60s
`)
    assert.equal(error.message, 'mlserve.yaml has 4 errors.')
    assert.deepEqual(error.details.map((d) => d.split('  ')[0]), ['mlserve.yaml:1:7', 'mlserve.yaml:5:24', 'mlserve.yaml:7:8', 'mlserve.yaml:9:3'])
    assert.match(error.details[3], /unknown key 'windw' at autoscaling; did you mean 'window'\?/)
    assert.match(error.suggestion, /mlserve schema/)
  })
})

describe('list files and TrafficSplitters', () => {
  const two = `- name: iris-a
  predictor: {type: python, path: a.py}
- name: iris-b
  predictor: {type: python, path: b.py}
`

  test('errors in list files name the API', () => {
    const detail = oneError(`${two}  compute: {gpu: -1}\n`, 5, 18, /api "iris-b" › compute\.gpu: expected an integer ≥ 0, found -1/)
    assert.ok(detail)
  })

  test('duplicate names', () => {
    oneError(`${two}- name: iris-a\n  predictor: {type: python, path: c.py}\n`, 5, 9, /\[2\]|api "iris-a" › name: "iris-a" is already the name of api "iris-a"; API names must be unique/)
  })

  test('duplicate endpoints', () => {
    oneError(`${two}  networking: {endpoint: /iris-a}\n`, 5, 26, /networking\.endpoint: endpoint \/iris-a is already used by api "iris-a"/)
  })

  test('splitter weights must add up to 100', () => {
    oneError(
      `${two}- name: iris
  kind: TrafficSplitter
  apis:
    - {name: iris-a, weight: 60}
    - {name: iris-b, weight: 30}
`,
      7,
      3,
      /api "iris" › apis: the weights of the non-shadow APIs add up to 90; they must add up to 100/,
    )
  })

  test('a shadow API does not count towards 100 (Cortex v0.35 example)', () => {
    const project = load(`${two}- name: rec
  predictor: {type: python, path: r.py}
- name: iris
  kind: TrafficSplitter
  apis:
    - {name: iris-a, weight: 30}
    - {name: iris-b, weight: 70}
    - {name: rec, shadow: true, weight: 100}
`)
    const splitter = project.apis[3] as TrafficSplitterConfig
    assert.equal(splitter.apis[2].shadow, true)
  })

  test('at most one shadow', () => {
    oneError(
      `${two}- name: iris-c
  predictor: {type: python, path: c.py}
- name: iris
  kind: TrafficSplitter
  apis:
    - {name: iris-a, weight: 100}
    - {name: iris-b, weight: 10, shadow: true}
    - {name: iris-c, weight: 10, shadow: true}
`,
      12,
      42,
      /apis\[2\]\.shadow: a TrafficSplitter can have at most one shadow API/,
    )
  })

  test('a splitter naming an API missing from the file is an error with did-you-mean', () => {
    oneError(
      `${two}- name: iris
  kind: TrafficSplitter
  apis:
    - {name: iris-a, weight: 50}
    - {name: iris-bb, weight: 50}
`,
      9,
      14,
      /apis\[1\]\.name: no RealtimeAPI named "iris-bb" in this file; did you mean 'iris-b'\?/,
    )
  })

  test('a file with only a splitter (APIs deployed separately, as Cortex allowed) loads with warnings', () => {
    const project = load(`name: iris
kind: TrafficSplitter
apis:
  - {name: iris-a, weight: 50}
  - {name: iris-b, weight: 50}
`)
    assert.equal(project.apis.length, 1)
    assert.deepEqual(project.warnings.map((w) => [w.line, w.column, w.path]), [[4, 12, 'apis[0].name'], [5, 12, 'apis[1].name']])
    assert.match(project.warnings[0].message, /"iris-a" is not defined in this file/)
    assert.throws(() => selectApi(project), (e: MlserveError) => e.code === 'MLS_NO_REALTIME_API')
  })

  test('splitter entries need name and weight', () => {
    oneError(`${two}- name: s\n  kind: TrafficSplitter\n  apis:\n    - {name: iris-a}\n`, 8, 7, /apis\[0\]\.weight: required field is missing; expected an integer from 0 to 100/)
  })
})

describe('warnings', () => {
  test('Cortex fields mlserve ignores give one located warning each', () => {
    const project = load(`- name: iris
  kind: RealtimeAPI
  handler:
    type: python
    path: handler.py
    dependencies:
      pip: requirements.txt
    multi_model_reloading:
      path: s3://bucket/model/
  monitoring:
    model_type: classification
  compute:
    inf: 1
  networking:
    api_gateway: none
  update_strategy:
    max_surge: 1
`)
    assert.deepEqual(
      project.warnings.map((w) => `${w.line}:${w.column} ${w.path}`),
      [
        '6:5 api "iris" › handler.dependencies',
        '8:5 api "iris" › handler.multi_model_reloading',
        '10:3 api "iris" › monitoring',
        '13:5 api "iris" › compute.inf',
        '15:5 api "iris" › networking.api_gateway',
        '16:3 api "iris" › update_strategy',
      ],
    )
    assert.equal(
      project.warnings[0].message,
      'api "iris" › handler.dependencies is a Cortex field mlserve does not implement; it is ignored (use build.python_requirements and build.system_packages)',
    )
    const api = project.apis[0] as RealtimeApiConfig
    assert.equal(api.update_strategy.max_surge, '1')
    assert.equal(api.networking.api_gateway, 'none')
    assert.equal((api.predictor as Record<string, unknown>).dependencies, undefined)
  })

  test('compute.inf: 0 is not warned about', () => {
    assert.deepEqual(load(`${MINIMAL}compute:\n  inf: 0\n`).warnings, [])
  })

  test('tensorflow and onnx predictors load, with a warning that they are not served', () => {
    const project = load('name: tf\npredictor:\n  type: tensorflow\n  path: predictor.py\n  model_path: s3://bucket/model\n')
    assert.equal((project.apis[0] as RealtimeApiConfig).predictor.type, 'tensorflow')
    assert.deepEqual(project.warnings.map((w) => `${w.line}:${w.column} ${w.path}`), ['3:9 predictor.type', '5:3 predictor.model_path'])
    assert.match(project.warnings[0].message, /tensorflow is a Cortex predictor type mlserve does not serve/)
  })

  test('Cortex kinds mlserve does not implement are skipped with a warning', () => {
    const project = load(`- name: batch
  kind: BatchAPI
  predictor: {type: python, path: b.py}
${`- ${MINIMAL.trimEnd().split('\n').join('\n  ')}`}
`)
    assert.deepEqual(project.apis.map((a) => a.name), ['iris'])
    assert.match(project.warnings[0].message, /kind BatchAPI is a Cortex kind mlserve does not implement; this API is ignored/)
    assert.equal(project.warnings[0].line, 2)
  })

  test('batching with fewer threads than max_batch_size warns (Cortex required them equal)', () => {
    const project = load(`${MINIMAL}  server_side_batching: {max_batch_size: 8, batch_interval: 100ms}\n`)
    assert.equal(project.warnings.length, 1)
    assert.match(project.warnings[0].message, /max_batch_size: 8 is greater than threads_per_process \(1\)/)
  })

  test('command-only fields on a python predictor warn', () => {
    const project = load(`${MINIMAL}  command: python serve.py\n`)
    assert.match(project.warnings[0].message, /predictor\.command: is only used with type command/)
  })
})

describe('selectApi', () => {
  const project = load(`- name: a
  predictor: {type: python, path: a.py}
- name: b
  predictor: {type: python, path: b.py}
- name: ab
  kind: TrafficSplitter
  apis: [{name: a, weight: 50}, {name: b, weight: 50}]
`)

  test('by name', () => assert.equal(selectApi(project, 'b').name, 'b'))
  test('the only RealtimeAPI without a name', () => assert.equal(selectApi(load(MINIMAL)).name, 'iris'))
  test('unknown name → MLS_API_NOT_FOUND listing the RealtimeAPIs', () => {
    assert.throws(() => selectApi(project, 'c'), (e: MlserveError) => e.code === 'MLS_API_NOT_FOUND' && /Use one of: a, b\./.test(e.suggestion))
  })
  test('a splitter is not a RealtimeAPI', () => {
    assert.throws(() => selectApi(project, 'ab'), (e: MlserveError) => e.code === 'MLS_API_NOT_FOUND')
  })
  test('several and no name → MLS_API_AMBIGUOUS', () => {
    assert.throws(() => selectApi(project), (e: MlserveError) => e.code === 'MLS_API_AMBIGUOUS' && e.message.includes('a, b'))
  })
})

describe('loadProject', () => {
  test('finds mlserve.yaml, then cortex.yaml, in a directory; a missing path is MLS_CONFIG_NOT_FOUND', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mlserve-config-'))
    try {
      await assert.rejects(loadProject(dir), (e: MlserveError) => e.code === 'MLS_CONFIG_NOT_FOUND')
      await assert.rejects(loadProject(join(dir, 'nope.yaml')), (e: MlserveError) => e.code === 'MLS_CONFIG_NOT_FOUND')
      await writeFile(join(dir, 'cortex.yaml'), `- ${MINIMAL.trimEnd().split('\n').join('\n  ').replace('iris', 'from-cortex')}\n`)
      assert.equal((await loadProject(dir)).apis[0].name, 'from-cortex')
      await writeFile(join(dir, 'mlserve.yaml'), MINIMAL)
      const project = await loadProject(dir)
      assert.equal(project.apis[0].name, 'iris')
      assert.equal(project.file, join(dir, 'mlserve.yaml'))
      assert.equal(project.dir, dir)
      assert.equal((await loadProject(join(dir, 'cortex.yaml'))).apis[0].name, 'from-cortex')
      await mkdir(join(dir, 'sub', 'mlserve.yaml'), {recursive: true})
      await assert.rejects(loadProject(join(dir, 'sub')), (e: MlserveError) => e.code === 'MLS_CONFIG_NOT_FOUND')
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })

  test('errors from a file name the file as given', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mlserve-config-'))
    try {
      await writeFile(join(dir, 'mlserve.yaml'), 'name: iris\npredictor: 3\n')
      await assert.rejects(loadProject(dir), (e: MlserveError) => {
        assert.equal(e.details.length, 1)
        assert.ok(e.details[0].startsWith(`${join(dir, 'mlserve.yaml')}:2:12  predictor: expected a mapping`), e.details[0])
        return true
      })
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })
})

describe('JSON Schema', () => {
  const schema = configJsonSchema() as {
    $schema: string
    $id: string
    $defs: Record<string, {properties: Record<string, {properties?: Record<string, {deprecated?: boolean}>}>; oneOf?: unknown}>
  }

  test('is draft 2020-12 with the documented $id', () => {
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema')
    assert.equal(schema.$id, SCHEMA_URL)
  })

  test('describes the predictor fields, handler as an alias, and the ignored Cortex fields as deprecated', () => {
    const realtime = schema.$defs.RealtimeAPI
    const predictor = realtime.properties.predictor.properties!
    for (const key of ['type', 'path', 'command', 'interpreter', 'processes_per_replica', 'threads_per_process', 'server_side_batching', 'env', 'config']) {
      assert.ok(key in predictor, key)
    }
    assert.deepEqual(Object.keys(realtime.properties.handler.properties!), Object.keys(predictor))
    assert.equal(predictor.models.deprecated, true)
    assert.ok(realtime.oneOf)
    assert.ok('apis' in schema.$defs.TrafficSplitter.properties)
  })
})

describe('docs/config.md', () => {
  test('documents every field the schema accepts and every Cortex field it ignores', async () => {
    const docs = await readFile(join(repoRoot, 'docs', 'config.md'), 'utf8')
    const keys = new Set<string>()
    const collect = (spec: KeySpec) => {
      for (const key of spec.keys) keys.add(key)
      for (const sub of [...Object.values(spec.maps), ...Object.values(spec.lists)]) collect(sub)
    }
    collect(KEY_SPECS.RealtimeAPI)
    collect(KEY_SPECS.TrafficSplitter)
    for (const fields of Object.values(CORTEX_UNIMPLEMENTED)) for (const key of Object.keys(fields)) keys.add(key)
    // Written as `key`, `section.key` or `apis[].key`.
    const missing = [...keys].filter((key) => !new RegExp(`[\`.\\]]${key}\``).test(docs))
    assert.deepEqual(missing, [])
    assert.ok(docs.includes('mlserve schema > mlserve.schema.json'))
    assert.ok(docs.includes(SCHEMA_URL))
  })

  test('its example configs are valid', async () => {
    const docs = await readFile(join(repoRoot, 'docs', 'config.md'), 'utf8')
    const examples = [...docs.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]).filter((y) => /^(# yaml-language-server.*\n)?-? ?name: /.test(y))
    assert.ok(examples.length >= 4, `found ${examples.length} examples`)
    for (const example of examples) {
      try {
        parseProject(example, 'example.yaml')
      } catch (error) {
        assert.fail(`docs example does not validate:\n${example}\n${(error as MlserveError).details?.join('\n') ?? String(error)}`)
      }
    }
  })
})
