// `mlserve validate` and `mlserve schema`, run as a user runs them: the built
// CLI (npm run build first), real files, both output streams captured.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {copyFile, mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {repoRoot, runCli} from '../helpers/cli.js'

const cortexFixtures = join(repoRoot, 'test', 'fixtures', 'cortex')

const GOOD = `# yaml-language-server: $schema=https://mlserve.dev/schema/mlserve.schema.json
- name: iris-a
  predictor:
    type: python
    path: a.py
    processes_per_replica: 2
- name: iris-b
  predictor:
    type: python
    path: b.py
    models: {path: s3://bucket/model/}
- name: iris
  kind: TrafficSplitter
  apis:
    - {name: iris-a, weight: 50}
    - {name: iris-b, weight: 50}
`

const BROKEN = `name: iris
predictor:
  type: python
  path: predictor.py
  procesess_per_replica: 2
  threads_per_process: two
`

// One field error and one cross-field error: both are reported.
const TWO_KINDS = `name: iris
predictor:
  type: python
  path: a.py
autoscaling:
  min_replicas: 3
  max_replicas: 2
  window: 10 parsecs
`

const PREDICTOR = 'class PythonPredictor:\n    def __init__(self, config):\n        pass\n\n    def predict(self, payload):\n        return payload\n'

let dir: string
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlserve-validate-'))
  await writeFile(join(dir, 'mlserve.yaml'), GOOD)
  await writeFile(join(dir, 'broken.yaml'), BROKEN)
  await writeFile(join(dir, 'two-kinds.yaml'), TWO_KINDS)
  await writeFile(join(dir, 'binary.yaml'), '--- !!binary\nR0lGODlhDAAMAIQAAP//9/X17unp5WZmZgAAAOfn515eXvPz7Y6OjuDg4J+fn5\n')
  await writeFile(join(dir, 'proto.yaml'), 'name: iris\npredictor:\n  type: python\n  path: a.py\n  toString: 1\n  constructor: 2\n')
  await writeFile(join(dir, 'tf.yaml'), 'name: iris\npredictor:\n  type: tensorflow\n  path: a.py\n')
  await writeFile(join(dir, 'missing.yaml'), 'name: iris\npredictor:\n  type: python\n  path: nowhere.py\n')
  await writeFile(join(dir, 'scaling.yaml'), 'name: iris\npredictor:\n  type: python\n  path: a.py\nautoscaling:\n  min_replicas: 1\n  max_replicas: 4\n')
  for (const file of ['a.py', 'b.py', 'predictor.py']) await writeFile(join(dir, file), PREDICTOR)
  // A Cortex project whose handler file exists.
  await mkdir(join(dir, 'captions'))
  await copyFile(join(cortexFixtures, 'v0.35--handler-batching.yaml'), join(dir, 'captions', 'cortex.yaml'))
  await writeFile(join(dir, 'captions', 'caption_handler.py'), PREDICTOR)
})
after(async () => {
  await rm(dir, {recursive: true, force: true})
})

describe('mlserve validate', () => {
  test('a valid project directory exits 0, with warnings and a summary on stderr', async () => {
    const result = await runCli(['validate', dir])
    assert.equal(result.exitCode, 0, result.stderr)
    assert.equal(result.stdout, '')
    assert.match(result.stderr, /warning .*mlserve\.yaml:11:5: api "iris-b" › predictor\.models is a Cortex field mlserve does not implement; it is ignored/)
    assert.match(result.stderr, /✓ .*mlserve\.yaml: 3 APIs valid \(iris-a, iris-b, iris\)/)
  })

  test('FILE defaults to the current directory', async () => {
    const result = await runCli(['validate'], {cwd: dir})
    assert.equal(result.exitCode, 0, result.stderr)
    assert.match(result.stderr, /✓ mlserve\.yaml: 3 APIs valid/)
  })

  test('a Cortex file loads as it is', async () => {
    const result = await runCli(['validate', join(dir, 'captions')])
    assert.equal(result.exitCode, 0, result.stderr)
    assert.match(result.stderr, /cortex\.yaml:12:5: api "caption-writer" › handler\.dependencies is a Cortex field/)
    assert.match(result.stderr, /✓ .*cortex\.yaml: 1 API valid \(caption-writer\)/)
  })

  test('what a run cannot serve is a located error: an onnx handler, a handler file that is not there', async () => {
    const result = await runCli(['validate', join(cortexFixtures, 'v0.35--traffic-splitter-shadow.yaml')])
    assert.equal(result.exitCode, 2, result.stderr)
    assert.match(result.stderr, /MLS_CONFIG_INVALID\] .*v0\.35--traffic-splitter-shadow\.yaml has 3 errors\./)
    assert.match(result.stderr, /:7:11 {2}api "iris-classifier-pytorch" › handler\.path: "torch_handler\.py" does not exist \(looked for .*torch_handler\.py\); the path is relative to the directory of this file/)
    assert.match(result.stderr, /:14:11 {2}api "iris-classifier-onnx" › handler\.type: onnx is a Cortex predictor type mlserve does not serve, so run refuses this API; use type python/)
    assert.ok(!result.stderr.includes('    at '), `no stack trace:\n${result.stderr}`)
  })

  test('a tensorflow predictor and a missing predictor file fail validate as they would fail run', async () => {
    const tf = await runCli(['validate', 'tf.yaml'], {cwd: dir})
    assert.equal(tf.exitCode, 2)
    assert.match(tf.stderr, /tf\.yaml:3:9 {2}predictor\.type: tensorflow is a Cortex predictor type mlserve does not serve/)
    const missing = await runCli(['validate', 'missing.yaml'], {cwd: dir})
    assert.equal(missing.exitCode, 2)
    assert.match(missing.stderr, /missing\.yaml:4:9 {2}predictor\.path: "nowhere\.py" does not exist/)
  })

  test('a cross-field error is reported together with a field error elsewhere', async () => {
    const result = await runCli(['validate', 'two-kinds.yaml'], {cwd: dir})
    assert.equal(result.exitCode, 2)
    assert.match(result.stderr, /two-kinds\.yaml has 2 errors\./)
    assert.match(result.stderr, /two-kinds\.yaml:6:17 {2}autoscaling\.min_replicas: min_replicas \(3\) is greater than max_replicas \(2\)/)
    assert.match(result.stderr, /two-kinds\.yaml:8:11 {2}autoscaling\.window: expected a duration/)
  })

  test('a !!binary document and keys named like Object methods are config errors, never MLS_INTERNAL', async () => {
    const binary = await runCli(['validate', 'binary.yaml'], {cwd: dir})
    assert.equal(binary.exitCode, 2)
    assert.match(binary.stderr, /binary\.yaml:1:5 {2}YAML tag not supported: !!binary/)
    const proto = await runCli(['validate', 'proto.yaml'], {cwd: dir})
    assert.equal(proto.exitCode, 2)
    assert.match(proto.stderr, /proto\.yaml:5:3 {2}unknown key 'toString' at predictor/)
    assert.match(proto.stderr, /proto\.yaml:6:3 {2}unknown key 'constructor' at predictor/)
    for (const result of [binary, proto]) assert.ok(!result.stderr.includes('MLS_INTERNAL'), result.stderr)
  })

  test('the autoscaling fields are acted on: no warning says otherwise', async () => {
    const result = await runCli(['validate', 'scaling.yaml'], {cwd: dir})
    assert.equal(result.exitCode, 0, result.stderr)
    assert.ok(!result.stderr.includes('not yet acted on'), result.stderr)
  })

  test('a broken file exits 2 and names line, field and fix, without a stack trace', async () => {
    const result = await runCli(['validate', 'broken.yaml'], {cwd: dir})
    assert.equal(result.exitCode, 2)
    assert.equal(result.stdout, '')
    assert.match(result.stderr, /Error \[MLS_CONFIG_INVALID\] broken\.yaml has 2 errors\./)
    assert.match(result.stderr, /broken\.yaml:5:3 {2}unknown key 'procesess_per_replica' at predictor; did you mean 'processes_per_replica'\?/)
    assert.match(result.stderr, /broken\.yaml:6:24 {2}predictor\.threads_per_process: expected an integer ≥ 1, found "two" \(a string\)/)
    assert.match(result.stderr, /→ Fix each field listed above/)
    assert.ok(!result.stderr.includes('    at '), `no stack trace:\n${result.stderr}`)
  })

  test('a missing file exits 2 with MLS_CONFIG_NOT_FOUND', async () => {
    const result = await runCli(['validate', join(dir, 'nope')])
    assert.equal(result.exitCode, 2)
    assert.match(result.stderr, /MLS_CONFIG_NOT_FOUND/)
    assert.ok(!result.stderr.includes('    at '))
  })

  test('--json on a valid file prints only the result', async () => {
    const result = await runCli(['validate', dir, '--json'])
    assert.equal(result.exitCode, 0, result.stderr)
    const parsed = JSON.parse(result.stdout) as {file: string; valid: boolean; apis: unknown; warnings: Array<{line: number; path: string}>}
    assert.equal(parsed.file, join(dir, 'mlserve.yaml'))
    assert.equal(parsed.valid, true)
    assert.deepEqual(parsed.apis, [
      {name: 'iris-a', kind: 'RealtimeAPI'},
      {name: 'iris-b', kind: 'RealtimeAPI'},
      {name: 'iris', kind: 'TrafficSplitter'},
    ])
    // A splitter's apis are served now, so only the Cortex field mlserve ignores is warned about.
    assert.deepEqual(parsed.warnings.map((w) => [w.line, w.path]), [[11, 'api "iris-b" › predictor.models']])
    assert.equal(result.stderr, '')
  })

  test('--json on a broken file prints only the error, exit 2', async () => {
    const result = await runCli(['validate', join(dir, 'broken.yaml'), '--json'])
    assert.equal(result.exitCode, 2)
    const parsed = JSON.parse(result.stdout) as {error: {code: string; message: string; suggestion: string; details: string[]}}
    assert.equal(parsed.error.code, 'MLS_CONFIG_INVALID')
    assert.equal(parsed.error.details.length, 2)
    assert.match(parsed.error.details[1], /:6:24 {2}predictor\.threads_per_process: expected an integer ≥ 1/)
    assert.ok(!result.stderr.includes('    at '))
  })
})

describe('mlserve schema', () => {
  type Schema = {$id: string; $defs: {RealtimeAPI: {properties: Record<string, {properties?: Record<string, unknown>}>}}}

  const predictorFields = (schema: Schema) => Object.keys(schema.$defs.RealtimeAPI.properties.predictor.properties ?? {})

  test('prints the JSON Schema to stdout', async () => {
    const result = await runCli(['schema'])
    assert.equal(result.exitCode, 0, result.stderr)
    const schema = JSON.parse(result.stdout) as Schema
    assert.equal(schema.$id, 'https://mlserve.dev/schema/mlserve.schema.json')
    for (const field of ['type', 'path', 'processes_per_replica', 'threads_per_process', 'server_side_batching', 'interpreter']) {
      assert.ok(predictorFields(schema).includes(field), field)
    }
  })

  test('--json prints the schema once', async () => {
    const result = await runCli(['schema', '--json'])
    assert.equal(result.exitCode, 0, result.stderr)
    const schema = JSON.parse(result.stdout) as Schema
    assert.ok(predictorFields(schema).includes('threads_per_process'))
  })
})
