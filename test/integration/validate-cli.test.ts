// `mlserve validate` and `mlserve schema`, run as a user runs them: the built
// CLI (npm run build first), real files, both output streams captured.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {repoRoot, runCli} from '../helpers/cli.js'

const cortexFixtures = join(repoRoot, '..', 'shared', 'fixtures', 'cortex')

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

let dir: string
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlserve-validate-'))
  await writeFile(join(dir, 'mlserve.yaml'), GOOD)
  await writeFile(join(dir, 'broken.yaml'), BROKEN)
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
    const result = await runCli(['validate', join(cortexFixtures, 'v0.35--traffic-splitter__cortex.yaml')])
    assert.equal(result.exitCode, 0, result.stderr)
    assert.match(result.stderr, /handler\.dependencies is a Cortex field/)
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
