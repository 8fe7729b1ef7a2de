// `mlserve init` end to end, through the built CLI: every template scaffolds,
// validates with the config loader, and its predictor answers the sample
// payloads under the interpreter init chose. The sklearn and fastapi checks
// need /usr/bin/python3 (or MLSERVE_PYTHON) with python3-sklearn or
// python3-fastapi + python3-uvicorn; they fail, never skip, without them.
import {test, describe, after} from 'node:test'
import assert from 'node:assert/strict'
import {spawn, type ChildProcess} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, readdirSync, rmSync} from 'node:fs'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa} from 'execa'
import {loadProject, SCHEMA_URL} from '../../src/config/index.js'
import {templateNames} from '../../src/scaffold/index.js'
import {runCli, type CliResult} from '../helpers/cli.js'

interface InitJson {
  dir: string
  template: string
  name: string
  files: string[]
  interpreter: string | null
  trained: boolean
  warnings: string[]
}

const root = mkdtempSync(join(tmpdir(), 'mlserve-init-'))
after(() => rmSync(root, {recursive: true, force: true}))

function noStack(result: CliResult): void {
  assert.ok(!result.stderr.includes('    at '), `stack trace in stderr:\n${result.stderr}`)
}

async function init(args: string[]): Promise<InitJson> {
  const result = await runCli(['init', ...args, '--json'])
  noStack(result)
  assert.equal(result.exitCode, 0, `init ${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`)
  return JSON.parse(result.stdout) as InitJson
}

/** The API's config as mlserve loads it, asserting the file is valid and warning-free. */
async function loadApi(dir: string, name: string) {
  const project = await loadProject(dir)
  assert.deepEqual(project.warnings, [], 'mlserve.yaml loads without warnings')
  assert.equal(project.apis.length, 1)
  const api = project.apis[0]
  assert.equal(api.kind, 'RealtimeAPI')
  if (api.kind !== 'RealtimeAPI') throw new Error('unreachable')
  assert.equal(api.name, name)
  return api
}

function assertSchemaHeader(dir: string): void {
  const first = readFileSync(join(dir, 'mlserve.yaml'), 'utf8').split('\n')[0]
  assert.equal(first, `# yaml-language-server: $schema=${SCHEMA_URL}`)
}

/** The interpreter the runtime would use: MLSERVE_PYTHON, then predictor.interpreter, then python3. */
function runtimeInterpreter(configured: string | undefined): string {
  return process.env.MLSERVE_PYTHON || configured || 'python3'
}

function payloadFiles(dir: string): string[] {
  return readdirSync(join(dir, 'payloads')).filter((f) => f.endsWith('.json')).sort().map((f) => join('payloads', f))
}

const PREDICT_SCRIPT = `
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("predictor", "predictor.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
predictor = module.PythonPredictor(json.loads(sys.argv[1]))
answers = {}
for path in sys.argv[2:]:
    with open(path) as f:
        answers[path] = predictor.predict(json.load(f))
print(json.dumps(answers))
`

/** Imports predictor.py under `interpreter`, builds PythonPredictor(config), predicts every payload. */
async function predictInProcess(dir: string, interpreter: string, config: unknown, payloads: string[]): Promise<Record<string, unknown>> {
  const result = await execa(interpreter, ['-c', PREDICT_SCRIPT, JSON.stringify(config), ...payloads], {
    cwd: dir,
    reject: false,
    timeout: 60_000,
    env: {PYTHONDONTWRITEBYTECODE: '1'},
  })
  assert.equal(result.exitCode, 0, `predictor failed under ${interpreter}:\n${String(result.stderr)}`)
  return JSON.parse(String(result.stdout)) as Record<string, unknown>
}

const IRIS = new Set(['setosa', 'versicolor', 'virginica'])

/** An iris answer: one prediction and probability per instance in the payload. */
function assertIrisAnswer(payload: {instances?: unknown[]; instance?: unknown[]}, answer: unknown, file: string): void {
  const expected = payload.instances ? payload.instances.length : 1
  const {predictions, probabilities} = answer as {predictions: string[]; probabilities: number[]}
  assert.equal(predictions.length, expected, `${file}: predictions`)
  assert.equal(probabilities.length, expected, `${file}: probabilities`)
  assert.ok(predictions.every((p) => IRIS.has(p)), `${file}: ${predictions.join(', ')}`)
  assert.ok(probabilities.every((p) => p > 0 && p <= 1))
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

async function stopGroup(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  try {
    process.kill(-child.pid, 'SIGTERM')
  } catch {
    return
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL')
    } catch {
      // already gone
    }
  }, 5_000)
  await exited
  clearTimeout(timer)
}

describe('mlserve init, every template', () => {
  test('python: scaffolds, validates, and its predictor answers every payload', async () => {
    const dir = join(root, 'sentiment')
    const result = await init([dir, '--template', 'python'])
    assert.equal(result.name, 'sentiment')
    assert.equal(result.template, 'python')
    assert.equal(result.interpreter, null)
    assert.equal(result.trained, false)
    assertSchemaHeader(dir)
    const api = await loadApi(dir, 'sentiment')
    assert.equal(api.predictor.type, 'python')

    const payloads = payloadFiles(dir)
    const answers = await predictInProcess(dir, runtimeInterpreter(api.predictor.interpreter), api.predictor.config, payloads)
    for (const file of payloads) {
      const payload = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {texts?: string[]}
      const answer = answers[file] as {label?: string; score?: number; predictions?: Array<{label: string}>}
      if (payload.texts) {
        assert.equal(answer.predictions?.length, payload.texts.length, file)
      } else {
        assert.ok(answer.label === 'positive' || answer.label === 'negative', file)
        assert.ok(typeof answer.score === 'number' && answer.score >= 0 && answer.score <= 1)
      }
    }
    assert.equal((answers['payloads/sample.json'] as {label: string}).label, 'positive')
  })

  test('sklearn: finds an interpreter with scikit-learn, trains, validates, and predicts batches', async () => {
    const dir = join(root, 'iris')
    const result = await init([dir, '--template', 'sklearn'])
    assert.notEqual(
      result.interpreter,
      null,
      `no interpreter can import sklearn, numpy and joblib; this test needs them (apt-get install python3-sklearn, or set MLSERVE_PYTHON). Warnings: ${result.warnings.join(' ')}`,
    )
    assert.equal(result.trained, true)
    for (const file of ['model/model.joblib', 'model/metrics.json', 'train.py']) assert.ok(result.files.includes(file), file)
    const metrics = JSON.parse(readFileSync(join(dir, 'model', 'metrics.json'), 'utf8')) as {accuracy: number}
    assert.ok(metrics.accuracy > 0.85, `accuracy ${metrics.accuracy}`)
    assertSchemaHeader(dir)
    const api = await loadApi(dir, 'iris')
    if (result.interpreter === 'python3') assert.equal(api.predictor.interpreter, undefined)
    else assert.equal(api.predictor.interpreter, result.interpreter, 'a non-default interpreter is pinned in mlserve.yaml')

    const payloads = payloadFiles(dir)
    assert.ok(payloads.length >= 2)
    const answers = await predictInProcess(dir, runtimeInterpreter(api.predictor.interpreter), api.predictor.config, payloads)
    for (const file of payloads) assertIrisAnswer(JSON.parse(readFileSync(join(dir, file), 'utf8')), answers[file], file)
    assert.deepEqual((answers['payloads/sample.json'] as {predictions: string[]}).predictions, ['setosa'])
  })

  test('fastapi: its command serves /healthz and /predict on $PORT', async () => {
    const dir = join(root, 'iris-fastapi')
    const result = await init([dir, '--template', 'fastapi'])
    assert.notEqual(
      result.interpreter,
      null,
      `no interpreter can import fastapi and uvicorn; this test needs them (apt-get install python3-fastapi python3-uvicorn, or set MLSERVE_PYTHON). Warnings: ${result.warnings.join(' ')}`,
    )
    assertSchemaHeader(dir)
    const api = await loadApi(dir, 'iris-fastapi')
    assert.equal(api.predictor.type, 'command')
    const command = api.predictor.command
    assert.ok(command !== undefined)

    const port = await freePort()
    const processes = api.predictor.processes_per_replica
    const env = {
      ...process.env,
      ...api.predictor.env,
      PORT: String(port),
      MLSERVE_PYTHON: runtimeInterpreter(api.predictor.interpreter),
      MLSERVE_PROCESSES: String(processes),
      MLSERVE_THREADS: String(api.predictor.threads_per_process),
      WEB_CONCURRENCY: String(processes),
      PYTHONDONTWRITEBYTECODE: '1',
    }
    const child =
      typeof command === 'string'
        ? spawn('/bin/sh', ['-c', command], {cwd: dir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe']})
        : spawn(command[0], command.slice(1), {cwd: dir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe']})
    let output = ''
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()))
    try {
      const base = `http://127.0.0.1:${port}`
      const deadline = Date.now() + 60_000
      for (;;) {
        assert.equal(child.exitCode, null, `the server exited early:\n${output}`)
        const status = await fetch(`${base}${api.predictor.readiness_path}`).then((r) => r.status, () => 0)
        if (status === 200) break
        assert.ok(Date.now() < deadline, `/healthz never answered 200:\n${output}`)
        await new Promise((r) => setTimeout(r, 200))
      }
      for (const file of payloadFiles(dir)) {
        const body = readFileSync(join(dir, file), 'utf8')
        const response = await fetch(`${base}${api.predictor.predict_path}`, {method: 'POST', headers: {'content-type': 'application/json'}, body})
        assert.equal(response.status, 200, `${file}: ${await response.clone().text()}`)
        assertIrisAnswer(JSON.parse(body), await response.json(), file)
      }
      const bad = await fetch(`${base}/predict`, {method: 'POST', headers: {'content-type': 'application/json'}, body: '{"instances": [[1, 2]]}'})
      assert.equal(bad.status, 422)
    } finally {
      await stopGroup(child)
    }
  })

  test('every registered template was exercised above', () => {
    assert.deepEqual([...templateNames()].sort(), ['fastapi', 'python', 'sklearn'])
  })
})

describe('mlserve init, the command', () => {
  test('defaults: the python template, named after the directory; human output lists files and next steps', async () => {
    const dir = join(root, 'my-default')
    const result = await runCli(['init', dir])
    noStack(result)
    assert.equal(result.exitCode, 0, result.stderr)
    assert.equal(result.stdout, '')
    assert.match(result.stderr, /Created my-default from the python template/)
    assert.match(result.stderr, /predictor\.py/)
    assert.match(result.stderr, /\.github\/workflows\/mlserve\.yml/)
    assert.match(result.stderr, new RegExp(`mlserve run ${dir}`))
    assert.match(result.stderr, /mlserve predict my-default --data @.*payloads\/sample\.json/)
    assert.match(readFileSync(join(dir, 'mlserve.yaml'), 'utf8'), /^name: my-default$/m)
  })

  test('--list --json prints the templates as JSON; --list shows a table on stderr', async () => {
    const json = await runCli(['init', '--list', '--json'])
    noStack(json)
    assert.equal(json.exitCode, 0)
    const parsed = JSON.parse(json.stdout) as {templates: Array<{name: string; description: string; modules: string[]}>}
    assert.deepEqual(parsed.templates.map((t) => t.name), templateNames())
    assert.ok(parsed.templates.every((t) => t.description.length > 20))
    assert.deepEqual(parsed.templates.find((t) => t.name === 'sklearn')?.modules, ['sklearn', 'numpy', 'joblib'])

    const human = await runCli(['init', '--list'])
    assert.equal(human.exitCode, 0)
    assert.equal(human.stdout, '')
    for (const name of templateNames()) assert.match(human.stderr, new RegExp(`│ ${name}`))
  })

  test('refuses to overwrite: exit 2, every existing file listed, nothing changed', async () => {
    const dir = join(root, 'twice')
    await init([dir])
    const before = readFileSync(join(dir, 'mlserve.yaml'), 'utf8')
    const again = await runCli(['init', dir, '--name', 'other'])
    noStack(again)
    assert.equal(again.exitCode, 2)
    assert.match(again.stderr, /MLS_INIT_FILES_EXIST/)
    for (const file of ['mlserve.yaml', 'predictor.py', 'README.md', 'requirements.txt', '.dockerignore', 'payloads/sample.json', 'model/weights.json']) {
      assert.ok(again.stderr.includes(file), `${file} not listed:\n${again.stderr}`)
    }
    assert.match(again.stderr, /--force/)
    assert.equal(readFileSync(join(dir, 'mlserve.yaml'), 'utf8'), before)

    const json = await runCli(['init', dir, '--json'])
    assert.equal(json.exitCode, 2)
    assert.equal((JSON.parse(json.stdout) as {error: {code: string}}).error.code, 'MLS_INIT_FILES_EXIST')

    const forced = await runCli(['init', dir, '--name', 'other', '--force', '--json'])
    assert.equal(forced.exitCode, 0, forced.stderr)
    assert.match(readFileSync(join(dir, 'mlserve.yaml'), 'utf8'), /^name: other$/m)
  })

  test('a bad name: exit 2 with a DNS-1123 proposal, nothing created', async () => {
    const dir = join(root, 'Bad_Name')
    const result = await runCli(['init', dir])
    noStack(result)
    assert.equal(result.exitCode, 2)
    assert.match(result.stderr, /MLS_INVALID_API_NAME/)
    assert.match(result.stderr, /"bad-name"/)
    assert.equal(existsSync(dir), false)

    const flag = await runCli(['init', join(root, 'ok-dir'), '--name', 'Iris Classifier'])
    noStack(flag)
    assert.equal(flag.exitCode, 2)
    assert.match(flag.stderr, /"iris-classifier"/)
    assert.equal(existsSync(join(root, 'ok-dir')), false)
  })

  test('an unknown template: exit 2 listing the available ones', async () => {
    const result = await runCli(['init', join(root, 'nope'), '--template', 'pytorch'])
    noStack(result)
    assert.equal(result.exitCode, 2)
    assert.match(result.stderr, /MLS_TEMPLATE_UNKNOWN/)
    for (const name of templateNames()) assert.ok(result.stderr.includes(name))
    assert.equal(existsSync(join(root, 'nope')), false)
  })
})
