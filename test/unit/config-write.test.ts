import {describe, test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {copyFile, mkdtemp, readdir, readFile, rm, stat, chmod, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {loadProject, updateConfigFile, type RealtimeApiConfig, type TrafficSplitterConfig} from '../../src/config/index.js'
import type {MlserveError} from '../../src/errors.js'
import {repoRoot} from '../helpers/cli.js'

let dir: string
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlserve-write-'))
})
after(async () => {
  await rm(dir, {recursive: true, force: true})
})

async function fileWith(name: string, text: string): Promise<string> {
  const file = join(dir, name)
  await writeFile(file, text)
  return file
}

const MAPPING = `# yaml-language-server: $schema=https://mlserve.dev/schema/mlserve.schema.json
# The iris API.
name: iris

predictor:
  type: python
  path: predictor.py   # the PythonPredictor class
  # How many requests run at once: processes × threads.
  processes_per_replica: 1
  threads_per_process: 1
  config: {model: model.pkl, labels: [setosa, versicolor]}

compute:
  cpu: "1"   # quoted on purpose
  mem: 512Mi
`

const apiOf = async (file: string, index = 0) => (await loadProject(file)).apis[index] as RealtimeApiConfig

describe('updateConfigFile', () => {
  test('changes only the edited values, keeping comments, order, quotes and flow style', async () => {
    const file = await fileWith('mapping.yaml', MAPPING)
    await updateConfigFile(file, [
      {api: 'iris', path: ['predictor', 'processes_per_replica'], value: 4},
      {api: 'iris', path: ['predictor', 'threads_per_process'], value: 2},
    ])
    const text = await readFile(file, 'utf8')
    assert.equal(text, MAPPING.replace('processes_per_replica: 1', 'processes_per_replica: 4').replace('threads_per_process: 1', 'threads_per_process: 2'))
    const api = await apiOf(file)
    assert.equal(api.predictor.processes_per_replica, 4)
    assert.equal(api.autoscaling.target_replica_concurrency, 8)
  })

  test('strings stay strings: quoting is kept or added where needed, also inside flow mappings', async () => {
    const file = await fileWith('strings.yaml', MAPPING)
    await updateConfigFile(file, [
      {api: 'iris', path: ['compute', 'cpu'], value: '2'},
      {api: 'iris', path: ['compute', 'mem'], value: '1Gi'},
      {api: 'iris', path: ['predictor', 'path'], value: 'serve.py'},
      {api: 'iris', path: ['predictor', 'config', 'model'], value: 'models/v2, final.pkl'},
      {api: 'iris', path: ['predictor', 'config', 'labels', 1], value: 'true'},
    ])
    const text = await readFile(file, 'utf8')
    assert.match(text, /\n {2}cpu: "2" {3}# quoted on purpose\n {2}mem: 1Gi\n/)
    assert.match(text, /\n {2}path: serve\.py {3}# the PythonPredictor class\n/)
    assert.match(text, /config: \{model: "models\/v2, final\.pkl", labels: \[setosa, "true"\]\}\n/)
    const api = await apiOf(file)
    assert.equal(api.compute.cpu, '2')
    assert.deepEqual(api.predictor.config, {model: 'models/v2, final.pkl', labels: ['setosa', 'true']})
  })

  test('adds missing fields and sections at the end of their mapping', async () => {
    const file = await fileWith('add.yaml', MAPPING)
    await updateConfigFile(file, [
      {api: 'iris', path: ['autoscaling', 'max_replica_concurrency'], value: 16},
      {api: 'iris', path: ['compute', 'gpu'], value: 1},
    ])
    const text = await readFile(file, 'utf8')
    assert.ok(text.startsWith(MAPPING.trimEnd().split('\n').slice(0, 14).join('\n')), text)
    assert.match(text, /mem: 512Mi\n {2}gpu: 1\n/)
    assert.match(text, /\nautoscaling:\n {2}max_replica_concurrency: 16\n$/)
    const api = await apiOf(file)
    assert.equal(api.autoscaling.max_replica_concurrency, 16)
    assert.equal(api.compute.gpu, 1)
  })

  test('edits the right API in a list file, through a handler section, keeping the rest byte for byte', async () => {
    const file = join(dir, 'cortex.yaml')
    await copyFile(join(repoRoot, 'test', 'fixtures', 'cortex', 'v0.35--traffic-splitter-shadow.yaml'), file)
    const before = await readFile(file, 'utf8')
    await updateConfigFile(file, [
      {api: 'iris-classifier-onnx', path: ['predictor', 'processes_per_replica'], value: 2},
      {api: 'iris-classifier', path: ['apis'], value: [
        {name: 'iris-classifier-onnx', weight: 50},
        {name: 'iris-classifier-pytorch', weight: 50},
      ]},
    ])
    const after = await readFile(file, 'utf8')
    assert.match(after, /path: s3:\/\/cortex-examples\/onnx\/iris-classifier\/\n {4}processes_per_replica: 2\n/)
    assert.ok(!after.includes('predictor:'), 'the handler section is edited in place, not duplicated')
    assert.equal(after.split('- name: request-recorder')[0].replace('    processes_per_replica: 2\n', ''), before.split('- name: request-recorder')[0])
    const project = await loadProject(file)
    assert.equal((project.apis[1] as RealtimeApiConfig).predictor.processes_per_replica, 2)
    assert.deepEqual((project.apis[3] as TrafficSplitterConfig).apis.map((a) => a.weight), [50, 50])
  })

  test('keeps a 4-space indentation style', async () => {
    const text = 'name: iris\npredictor:\n    type: python\n    path: p.py\nautoscaling:\n    min_replicas: 1\n'
    const file = await fileWith('four.yaml', text)
    await updateConfigFile(file, [{api: 'iris', path: ['autoscaling', 'max_replicas'], value: 3}])
    assert.equal(await readFile(file, 'utf8'), `${text}    max_replicas: 3\n`)
  })

  test('an undefined value removes the field', async () => {
    const file = await fileWith('remove.yaml', MAPPING)
    await updateConfigFile(file, [{api: 'iris', path: ['compute', 'mem'], value: undefined}])
    const text = await readFile(file, 'utf8')
    assert.ok(!text.includes('mem:'))
    assert.ok(text.includes('cpu: "1"   # quoted on purpose'))
  })

  test('is atomic: no temp file is left, and the file mode is kept', async () => {
    const file = await fileWith('atomic.yaml', MAPPING)
    await chmod(file, 0o640)
    await updateConfigFile(file, [{api: 'iris', path: ['predictor', 'threads_per_process'], value: 3}])
    assert.equal((await stat(file)).mode & 0o777, 0o640)
    const leftovers = (await readdir(dir)).filter((f) => f.endsWith('.tmp'))
    assert.deepEqual(leftovers, [])
  })

  test('an unknown API is MLS_API_NOT_FOUND and nothing is written', async () => {
    const file = await fileWith('unknown.yaml', MAPPING)
    await assert.rejects(
      updateConfigFile(file, [{api: 'nope', path: ['predictor', 'threads_per_process'], value: 3}]),
      (e: MlserveError) => e.code === 'MLS_API_NOT_FOUND' && e.suggestion.includes('iris'),
    )
    assert.equal(await readFile(file, 'utf8'), MAPPING)
  })

  test('an edit that would make the file invalid is refused and nothing is written', async () => {
    const file = await fileWith('invalid.yaml', MAPPING)
    await assert.rejects(updateConfigFile(file, [{api: 'iris', path: ['predictor', 'threads_per_process'], value: 0}]), (e: MlserveError) => {
      assert.equal(e.code, 'MLS_CONFIG_INVALID')
      assert.match(e.details.join('\n'), /nothing was written[\s\S]*predictor\.threads_per_process: expected an integer ≥ 1, found 0/)
      return true
    })
    assert.equal(await readFile(file, 'utf8'), MAPPING)
    assert.deepEqual((await readdir(dir)).filter((f) => f.endsWith('.tmp')), [])
  })
})
