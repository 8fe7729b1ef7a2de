// Config values are input from outside: odd YAML types, huge numbers and keys
// named like Object's methods give located errors; every error of a file is
// reported at once; validate's run checks and the "parsed but not acted on"
// warnings.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {checkRunnable, loadProject, parseProject, type Project, type RealtimeApiConfig} from '../../src/config/index.js'
import {LIMITS} from '../../src/config/limits.js'
import type {MlserveError} from '../../src/errors.js'
import {configErrors} from '../helpers/config.js'

const FILE = 'mlserve.yaml'

const errors = configErrors

const BASE = 'name: iris\npredictor:\n  type: python\n  path: p.py\n'

describe('odd YAML types', () => {
  test('a --- !!binary document is a located error, not a TypeError', () => {
    assert.deepEqual(errors('--- !!binary\nR0lGODlhDAAMAIQAAP//9/X17unp5WZmZgAAAOfn515eXvPz7Y6OjuDg4J+fn5\n'), [
      'mlserve.yaml:1:5  YAML tag not supported: !!binary; a config value is a string, number, boolean, list or mapping, so write it without the tag',
    ])
  })

  test('!!binary, !!set, !!timestamp, !!omap and custom tags inside fields are located errors', () => {
    const details = errors(`${BASE}  config:\n    blob: !!binary aGVsbG8=\n    when: !!timestamp 2001-12-14\n    tags: !!set {? a, ? b}\n    order: !!omap [a: 1]\n  python_path: !custom lib\n`)
    assert.deepEqual(
      details.map((d) => d.split('  ')[0]),
      ['mlserve.yaml:6:11', 'mlserve.yaml:7:11', 'mlserve.yaml:8:11', 'mlserve.yaml:9:12', 'mlserve.yaml:10:16'],
    )
    for (const [i, tag] of ['!!binary', '!!timestamp', '!!set', '!!omap', '!custom'].entries()) assert.match(details[i], new RegExp(`YAML tag not supported: ${tag}`))
  })

  test('an unquoted timestamp-like value stays a string', () => {
    const project = parseProject(`${BASE}  config:\n    when: 2001-12-14\n`, FILE)
    assert.deepEqual((project.apis[0] as RealtimeApiConfig).predictor.config, {when: '2001-12-14'})
  })

  test('aliases and merge keys resolve; an alias bomb is refused', () => {
    const project = parseProject(`${BASE}  config: &shared {a: 1}\n  env:\n    <<: {X: 1}\nbuild:\n  system_packages: &pk [curl]\n  exclude: *pk\n`, FILE)
    const api = project.apis[0] as RealtimeApiConfig
    assert.deepEqual(api.predictor.env, {X: '1'})
    assert.deepEqual(api.build.exclude, ['curl'])
    const bomb = `${BASE}  config:\n    a: &a [x, x, x, x, x, x, x, x, x, x]\n    b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n    c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n    d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n    e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n`
    assert.match(errors(bomb)[0], /^mlserve\.yaml:1:1 {2}YAML error: /)
  })

  test('a file nested thousands of levels deep is a located error', () => {
    const deep = `${BASE}  config:\n    x: ${'['.repeat(20_000)}${']'.repeat(20_000)}\n`
    const details = errors(deep)
    assert.equal(details.length, 1, details.join('\n'))
    assert.match(details[0], /^mlserve\.yaml:6:\d+ {2}nested too deeply to read; a config file is a few levels of mappings and lists$/)
  })
})

describe('upper bounds', () => {
  const cases: Array<[string, string, number, number, RegExp]> = [
    ['threads_per_process', `${BASE}  threads_per_process: 1000000000\n`, 5, 24, /predictor\.threads_per_process: expected an integer ≤ 4096, found 1000000000/],
    ['processes_per_replica', `${BASE}  processes_per_replica: 1000000\n`, 5, 26, /predictor\.processes_per_replica: expected an integer ≤ 1024, found 1000000/],
    ['max_batch_size', `${BASE}  threads_per_process: 8\n  server_side_batching: {max_batch_size: 100000, batch_interval: 10ms}\n`, 6, 42, /max_batch_size: expected an integer ≤ 4096/],
    ['batch_interval', `${BASE}  server_side_batching: {max_batch_size: 1, batch_interval: 2h}\n`, 5, 61, /batch_interval: expected a duration of at most 1m, found "2h"/],
    ['compute.cpu', `${BASE}compute:\n  cpu: 1e308\n`, 6, 8, /compute\.cpu: expected a CPU quantity of at most 1024 \(cores\)/],
    ['compute.cpu far out (a string, read exactly)', `${BASE}compute:\n  cpu: "1e999999999"\n`, 6, 8, /compute\.cpu: expected a CPU quantity of at most 1024/],
    ['compute.cpu far out (a YAML number)', `${BASE}compute:\n  cpu: 1e999999999\n`, 6, 8, /compute\.cpu: expected a CPU quantity like 200m.*found Infinity/],
    ['compute.mem', `${BASE}compute:\n  mem: 1e20\n`, 6, 8, /compute\.mem: expected a memory quantity of at most 64Ti/],
    ['compute.shm', `${BASE}compute:\n  shm: 100Pi\n`, 6, 8, /compute\.shm: expected a memory quantity of at most 64Ti/],
    ['compute.gpu', `${BASE}compute:\n  gpu: 1000\n`, 6, 8, /compute\.gpu: expected an integer ≤ 64/],
    ['compute.inf', `${BASE}compute:\n  inf: 1000\n`, 6, 8, /compute\.inf: expected an integer ≤ 64/],
    ['min_replicas', `${BASE}autoscaling:\n  min_replicas: 5000\n  max_replicas: 5000\n`, 6, 17, /min_replicas: expected an integer ≤ 1000/],
    ['init_replicas', `${BASE}autoscaling:\n  init_replicas: 1001\n`, 6, 18, /init_replicas: expected an integer ≤ 1000/],
    ['max_replica_concurrency', `${BASE}autoscaling:\n  max_replica_concurrency: 1000000\n`, 6, 28, /max_replica_concurrency: expected an integer ≤ 65536/],
    ['target_replica_concurrency', `${BASE}autoscaling:\n  target_replica_concurrency: 1e9\n`, 6, 31, /target_replica_concurrency: expected a number ≤ 65536/],
    ['window', `${BASE}autoscaling:\n  window: 1000h\n`, 6, 11, /window: expected a duration of at most 24h, found "1000h"/],
    ['downscale_stabilization_period', `${BASE}autoscaling:\n  downscale_stabilization_period: 9999999h\n`, 6, 35, /downscale_stabilization_period: expected a duration of at most 24h/],
  ]
  for (const [name, text, line, column, pattern] of cases) {
    test(`${name} past its bound is a located error`, () => {
      const details = errors(text)
      const hit = details.find((d) => pattern.test(d))
      assert.ok(hit, `no error matching ${pattern}:\n${details.join('\n')}`)
      assert.ok(hit.startsWith(`${FILE}:${line}:${column}  `), hit)
    })
  }

  test('the bounds themselves are accepted', () => {
    const text = `${BASE}  processes_per_replica: ${LIMITS.processesPerReplica}\n  threads_per_process: 64\n  server_side_batching: {max_batch_size: 64, batch_interval: 1m}\ncompute:\n  cpu: 1024\n  mem: 64Ti\n  gpu: 64\nautoscaling:\n  min_replicas: 1000\n  max_replicas: 1000\n  max_replica_concurrency: 65536\n  window: 24h\n`
    const api = parseProject(text, FILE).apis[0] as RealtimeApiConfig
    assert.equal(api.predictor.processes_per_replica, 1024)
    assert.equal(api.autoscaling.max_replica_concurrency, 65536)
  })

  test('NaN and Infinity (as YAML numbers or strings) are errors', () => {
    for (const value of ['.nan', '.inf', '-.inf', 'NaN', 'Infinity']) {
      const details = errors(`${BASE}  threads_per_process: ${value}\n`)
      assert.equal(details.length, 1, details.join('\n'))
      assert.match(details[0], /^mlserve\.yaml:5:24 {2}predictor\.threads_per_process: expected an integer ≥ 1/)
    }
  })
})

describe('keys named like Object methods', () => {
  for (const key of ['toString', '__proto__', 'constructor', 'valueOf', 'hasOwnProperty']) {
    test(`${key} is an unknown key, as foo is`, () => {
      for (const [text, line, where] of [
        [`${BASE}${key}: 1\n`, 5, 'the top level'],
        [`${BASE}  ${key}: 1\n`, 5, 'predictor'],
        [`${BASE}autoscaling:\n  ${key}: 1\n`, 6, 'autoscaling'],
        [`${BASE}compute:\n  ${key}: {}\n`, 6, 'compute'],
      ] as const) {
        const details = errors(text)
        assert.equal(details.length, 1, details.join('\n'))
        assert.ok(details[0].startsWith(`${FILE}:${line}:`), details[0])
        assert.match(details[0], new RegExp(`unknown key '${key}' at ${where}`))
      }
    })
  }

  test('__proto__ in config or env is an error, so the predictor never silently misses it', () => {
    const details = errors(`${BASE}  config:\n    __proto__: {polluted: 1}\n    toString: kept\n  env:\n    __proto__: x\n`)
    assert.equal(details.length, 2, details.join('\n'))
    assert.match(details[0], /^mlserve\.yaml:6:5 {2}predictor\.config\.__proto__: a key named __proto__ is not accepted/)
    assert.match(details[1], /^mlserve\.yaml:9:5 {2}predictor\.env\.__proto__: a key named __proto__ is not accepted/)
    assert.equal(({} as Record<string, unknown>).polluted, undefined)
  })

  test('other Object-method names are ordinary keys in config and env', () => {
    const api = parseProject(`${BASE}  config:\n    toString: kept\n    constructor: {a: 1}\n  env:\n    valueOf: v\n`, FILE).apis[0] as RealtimeApiConfig
    assert.deepEqual(api.predictor.config, {toString: 'kept', constructor: {a: 1}})
    assert.deepEqual(api.predictor.env, {valueOf: 'v'})
  })
})

describe('all errors are reported at once', () => {
  test('a cross-field error is reported beside a field error elsewhere', () => {
    const details = errors(`${BASE}autoscaling:\n  min_replicas: 3\n  max_replicas: 2\n  window: 10 parsecs\n`)
    assert.deepEqual(details.map((d) => d.split('  ')[0]), ['mlserve.yaml:6:17', 'mlserve.yaml:8:11'])
    assert.match(details[0], /min_replicas \(3\) is greater than max_replicas \(2\)/)
    assert.match(details[1], /window: expected a duration/)
  })

  test('init_replicas and the target are checked when the predictor section has an error', () => {
    const details = errors(`name: iris\npredictor:\n  type: python\n  path: p.py\n  python_path: 5\n  threads_per_process: 8\nautoscaling:\n  max_replica_concurrency: 4\n  init_replicas: 200\n`)
    assert.equal(details.length, 3, details.join('\n'))
    assert.match(details[0], /:5:16 {2}predictor\.python_path: expected a non-empty string/)
    assert.match(details[1], /:8:28 {2}autoscaling\.max_replica_concurrency: target_replica_concurrency \(8, its default/)
    assert.match(details[2], /:9:18 {2}autoscaling\.init_replicas: init_replicas \(200\) must be between min_replicas \(1\) and max_replicas \(100\)/)
  })

  test('a missing path is reported for type python beside another field error, but not when path itself is invalid', () => {
    const missing = errors('name: iris\npredictor:\n  type: python\n  threads_per_process: 0\n')
    assert.equal(missing.length, 2, missing.join('\n'))
    assert.ok(missing.some((d) => /predictor\.path: required for type python/.test(d)))
    const invalid = errors('name: iris\npredictor:\n  type: python\n  path: 5\n')
    assert.equal(invalid.length, 1, invalid.join('\n'))
    assert.match(invalid[0], /predictor\.path: expected a non-empty string, found 5/)
  })
})

describe('autoscaling fields are acted on', () => {
  const warningsOf = (text: string) => parseProject(text, FILE).warnings

  test('the autoscaler acts on every autoscaling field: none is warned about', () => {
    assert.deepEqual(warningsOf(`${BASE}autoscaling:\n  min_replicas: 2\n  max_replicas: 4\n  max_replica_concurrency: 16\n  window: 30s\n  upscale_tolerance: 0.1\n`), [])
  })

  test('no warning for the defaults, min_replicas or max_replica_concurrency', () => {
    assert.deepEqual(warningsOf(`${BASE}autoscaling:\n  min_replicas: 2\n  max_replica_concurrency: 16\n`), [])
    assert.deepEqual(warningsOf(BASE), [])
  })

  test('update_strategy is warned about; a TrafficSplitter\'s apis no longer are (splitters are served)', () => {
    const warnings = warningsOf(`- ${BASE.replace(/\n(?=.)/g, '\n  ')}  update_strategy: {max_surge: 1}\n- name: split\n  kind: TrafficSplitter\n  apis:\n    - {name: iris, weight: 100}\n`)
    assert.deepEqual(warnings.map((w) => w.path), ['api "iris" › update_strategy'])
  })
})

describe('what a run needs', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mlserve-runnable-'))
    await writeFile(join(dir, 'p.py'), 'class PythonPredictor:\n    pass\n')
  })
  after(async () => {
    await rm(dir, {recursive: true, force: true})
  })

  const write = async (name: string, text: string) => {
    await writeFile(join(dir, name), text)
    return join(dir, name)
  }

  test('a file that loads can still fail validate: a Cortex type, a missing or directory predictor file', async () => {
    const file = await write(
      'cortex.yaml',
      '- name: a\n  predictor: {type: python, path: p.py}\n- name: b\n  predictor: {type: onnx, path: p.py}\n- name: c\n  predictor: {type: python, path: gone.py}\n- name: d\n  predictor: {type: python, path: .}\n- name: e\n  predictor: {type: command, command: ./serve}\n',
    )
    const loaded: Project = await loadProject(file)
    assert.equal(loaded.apis.length, 5)
    await assert.rejects(loadProject(file, {runnable: true}), (error: MlserveError) => {
      assert.equal(error.code, 'MLS_CONFIG_INVALID')
      assert.equal(error.details.length, 3, error.details.join('\n'))
      assert.match(error.details[0], /cortex\.yaml:4:21 {2}api "b" › predictor\.type: onnx is a Cortex predictor type mlserve does not serve, so run refuses this API/)
      assert.match(error.details[1], /cortex\.yaml:6:35 {2}api "c" › predictor\.path: "gone\.py" does not exist \(looked for .*gone\.py\)/)
      assert.match(error.details[2], /cortex\.yaml:8:35 {2}api "d" › predictor\.path: "\." is not a file/)
      return true
    })
  })

  test('run checks are reported together with the field errors of the same file', async () => {
    const file = await write('mixed.yaml', 'name: iris\npredictor:\n  type: python\n  path: gone.py\n  threads_per_process: two\n')
    await assert.rejects(loadProject(file, {runnable: true}), (error: MlserveError) => {
      assert.deepEqual(error.details.map((d) => d.replace(/^.*mixed\.yaml:/, '').split('  ')[0]), ['4:9', '5:24'])
      return true
    })
  })

  test('checkRunnable throws the error run gives and returns the predictor file', async () => {
    const project = await loadProject(await write('many.yaml', '- name: a\n  predictor: {type: python, path: p.py}\n- name: b\n  predictor: {type: tensorflow, path: p.py}\n- name: c\n  predictor: {type: python, path: gone.py}\n'))
    const [a, b, c] = project.apis as RealtimeApiConfig[]
    assert.deepEqual(checkRunnable(project, a), {predictorPath: join(dir, 'p.py')})
    assert.throws(() => checkRunnable(project, b), (error: MlserveError) => error.code === 'MLS_PREDICTOR_TYPE_UNSUPPORTED' && /"b" uses predictor type "tensorflow"/.test(error.message))
    assert.throws(() => checkRunnable(project, c), (error: MlserveError) => error.code === 'MLS_PREDICTOR_NOT_FOUND' && error.message.includes(join(dir, 'gone.py')))
  })
})
