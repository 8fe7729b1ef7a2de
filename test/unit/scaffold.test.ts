import {test, describe, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {SCHEMA_URL} from '../../src/config/index.js'
import {isMlserveError, type MlserveError} from '../../src/errors.js'
import {initProject, resolveApiName, TEMPLATES, templateNames, getTemplate} from '../../src/scaffold/index.js'
import {
  candidates,
  commentLines,
  interpreterBlock,
  interpreterWarnings,
  probeInterpreter,
  yamlScalar,
  type ProbeResult,
} from '../../src/scaffold/python-probe.js'
import {findPackageRoot, templatesRoot} from '../../src/scaffold/paths.js'
import {chooseInterpreter, interpreterCandidates} from '../../src/runtime/interpreter.js'
import {
  findConflicts,
  isText,
  listTemplateFiles,
  placeholdersIn,
  renderText,
  targetPath,
  UnknownPlaceholderError,
} from '../../src/scaffold/render.js'
import {runSetupStep} from '../../src/scaffold/setup.js'
import {repoRoot} from '../helpers/cli.js'

/** The placeholders init fills; a template may use these and no others. */
const KNOWN_PLACEHOLDERS = new Set(['name', 'schema_url', 'python', 'interpreter_block'])

const temps: string[] = []
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mlserve-scaffold-'))
  temps.push(dir)
  return dir
}
after(() => {
  for (const dir of temps) rmSync(dir, {recursive: true, force: true})
})

/** Every file under dir, relative, sorted. */
function tree(dir: string): string[] {
  const out: string[] = []
  const walk = (d: string, prefix: string): void => {
    for (const e of readdirSync(d, {withFileTypes: true})) {
      if (e.isDirectory()) walk(join(d, e.name), `${prefix}${e.name}/`)
      else out.push(prefix + e.name)
    }
  }
  walk(dir, '')
  return out.sort()
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<MlserveError> {
  try {
    await promise
  } catch (error) {
    assert.ok(isMlserveError(error), `expected an MlserveError, got ${String(error)}`)
    assert.equal(error.code, code)
    return error
  }
  assert.fail(`expected ${code}, but it resolved`)
}

describe('rendering', () => {
  test('dot- segments become dotfiles, other names stay', () => {
    assert.equal(targetPath('dot-dockerignore'), '.dockerignore')
    assert.equal(targetPath('dot-github/workflows/mlserve.yml'), '.github/workflows/mlserve.yml')
    assert.equal(targetPath('model/weights.json'), 'model/weights.json')
    assert.equal(targetPath('docs/not-dot-file.md'), 'docs/not-dot-file.md')
  })

  test('placeholders are substituted inline, GitHub ${{ }} expressions are left alone', () => {
    const text = 'name: {{name}}\nendpoint: /{{name}}\nrun: echo ${{ steps.python.outputs.python-path }} ${{matrix}}\n'
    assert.equal(
      renderText(text, {name: 'iris'}),
      'name: iris\nendpoint: /iris\nrun: echo ${{ steps.python.outputs.python-path }} ${{matrix}}\n',
    )
  })

  test('a placeholder alone on its line is a block: indented per line, removed when empty', () => {
    const text = 'predictor:\n  path: p.py\n  {{block}}\n  config: {}\n'
    assert.equal(renderText(text, {block: ''}), 'predictor:\n  path: p.py\n  config: {}\n')
    assert.equal(
      renderText(text, {block: '# why\ninterpreter: /usr/bin/python3'}),
      'predictor:\n  path: p.py\n  # why\n  interpreter: /usr/bin/python3\n  config: {}\n',
    )
  })

  test('CRLF line endings survive', () => {
    assert.equal(renderText('a: {{x}}\r\n  {{b}}\r\nc\r\n', {x: '1', b: ''}), 'a: 1\r\nc\r\n')
  })

  test('an unknown placeholder is an error naming it and the file', () => {
    assert.throws(() => renderText('hello {{nmae}}', {name: 'x'}, 'README.md'), (error: unknown) => {
      assert.ok(error instanceof UnknownPlaceholderError)
      assert.match(error.message, /README\.md.*\{\{nmae\}\}/)
      return true
    })
  })

  test('binary files are recognised (and copied as they are)', () => {
    assert.equal(isText(Buffer.from('plain {{name}} text ✓')), true)
    assert.equal(isText(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01])), false)
    assert.equal(isText(Buffer.from([0xff, 0xfe, 0x41])), false)
  })

  test('listTemplateFiles maps dotfiles, skips caches and sorts', () => {
    const dir = tempDir()
    mkdirSync(join(dir, 'dot-github', 'workflows'), {recursive: true})
    mkdirSync(join(dir, '__pycache__'))
    writeFileSync(join(dir, 'dot-github', 'workflows', 'ci.yml'), 'x')
    writeFileSync(join(dir, '__pycache__', 'p.cpython-311.pyc'), 'x')
    writeFileSync(join(dir, 'stale.pyc'), 'x')
    writeFileSync(join(dir, 'predictor.py'), 'x')
    writeFileSync(join(dir, 'dot-dockerignore'), 'x')
    assert.deepEqual(
      listTemplateFiles(dir).map((f) => f.target),
      ['.dockerignore', '.github/workflows/ci.yml', 'predictor.py'],
    )
  })

  test('findConflicts lists existing files and paths --force cannot fix', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'a.txt'), 'x')
    mkdirSync(join(dir, 'b.txt'))
    writeFileSync(join(dir, 'payloads'), 'a file where a directory goes')
    const conflicts = findConflicts(dir, ['a.txt', 'b.txt', 'c.txt', 'payloads/sample.json'])
    assert.deepEqual(conflicts.existing, ['a.txt'])
    assert.deepEqual(conflicts.blocked.map((b) => b.path), ['b.txt', 'payloads'])
  })
})

describe('API names', () => {
  test('a valid --name is kept; the default is the directory name', () => {
    assert.equal(resolveApiName('/tmp/whatever', 'iris-classifier'), 'iris-classifier')
    assert.equal(resolveApiName('/tmp/some/sentiment-v2'), 'sentiment-v2')
  })

  test('an invalid name is refused with a DNS-1123 proposal', () => {
    for (const [name, proposal] of [
      ['Iris_Classifier v2', 'iris-classifier-v2'],
      ['-bad-', 'bad'],
      ['a'.repeat(70), 'a'.repeat(63)],
    ]) {
      assert.throws(
        () => resolveApiName('/tmp/x', name),
        (error: unknown) => {
          assert.ok(isMlserveError(error))
          assert.equal(error.code, 'MLS_INVALID_API_NAME')
          assert.equal(error.exitCode, 2)
          assert.ok(error.suggestion.includes(`"${proposal}"`), error.suggestion)
          return true
        },
      )
    }
  })

  test("an invalid directory name is refused too, proposing the fixed one", () => {
    assert.throws(() => resolveApiName('/tmp/My_Model'), (error: unknown) => {
      assert.ok(isMlserveError(error))
      assert.match(error.message, /"My_Model"/)
      assert.match(error.suggestion, /"my-model"/)
      return true
    })
  })
})

describe('initProject', () => {
  test('writes the python template with placeholders filled and dotfiles restored', async () => {
    const dir = join(tempDir(), 'sentiment')
    const result = await initProject({dir, template: 'python'})
    assert.equal(result.name, 'sentiment')
    assert.equal(result.interpreter, null)
    assert.equal(result.trained, false)
    assert.deepEqual(result.files, tree(dir))
    for (const file of ['.dockerignore', '.gitignore', '.github/workflows/mlserve.yml', 'mlserve.yaml', 'predictor.py', 'README.md', 'requirements.txt', 'payloads/sample.json']) {
      assert.ok(result.files.includes(file), `${file} missing from ${result.files.join(', ')}`)
    }
    assert.ok(!result.files.some((f) => f.split('/').some((s) => s.startsWith('dot-'))))
    const yaml = readFileSync(join(dir, 'mlserve.yaml'), 'utf8')
    assert.equal(yaml.split('\n')[0], `# yaml-language-server: $schema=${SCHEMA_URL}`)
    assert.match(yaml, /^name: sentiment$/m)
    assert.match(yaml, /^ {2}endpoint: \/sentiment$/m)
    assert.doesNotMatch(yaml, /interpreter:/)
    for (const file of result.files) {
      const text = readFileSync(join(dir, file), 'utf8')
      assert.deepEqual(placeholdersIn(text), [], `${file} still has placeholders`)
    }
    const workflow = readFileSync(join(dir, '.github/workflows/mlserve.yml'), 'utf8')
    assert.match(workflow, /loadtest --api sentiment --duration 20 --max-p99 200 --max-error-rate 0\.01/)
  })

  test('refuses to overwrite, lists every conflicting file and writes nothing', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'predictor.py'), 'mine\n')
    writeFileSync(join(dir, 'README.md'), 'my readme\n')
    mkdirSync(join(dir, 'payloads'))
    writeFileSync(join(dir, 'payloads', 'sample.json'), '{}')
    writeFileSync(join(dir, 'notes.txt'), 'unrelated\n')
    const before = tree(dir)
    const error = await rejectsWith(initProject({dir, name: 'mine', template: 'python'}), 'MLS_INIT_FILES_EXIST')
    assert.equal(error.exitCode, 2)
    for (const file of ['README.md', 'payloads/sample.json', 'predictor.py']) assert.ok(error.message.includes(file), error.message)
    assert.match(error.suggestion, /--force/)
    assert.deepEqual(tree(dir), before)
    assert.equal(readFileSync(join(dir, 'predictor.py'), 'utf8'), 'mine\n')
  })

  test('--force overwrites the template files and leaves other files alone', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'predictor.py'), 'mine\n')
    writeFileSync(join(dir, 'notes.txt'), 'unrelated\n')
    const result = await initProject({dir, name: 'forced', template: 'python', force: true})
    assert.ok(result.files.includes('predictor.py'))
    assert.match(readFileSync(join(dir, 'predictor.py'), 'utf8'), /class PythonPredictor/)
    assert.equal(readFileSync(join(dir, 'notes.txt'), 'utf8'), 'unrelated\n')
  })

  test('paths in the way are refused even with --force, before anything is written', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'payloads'), 'a file where init needs a directory')
    mkdirSync(join(dir, 'predictor.py'))
    const error = await rejectsWith(initProject({dir, name: 'blocked', template: 'python', force: true}), 'MLS_INIT_DIR_INVALID')
    assert.match(error.message, /payloads/)
    assert.match(error.message, /predictor\.py/)
    assert.deepEqual(tree(dir), ['payloads'])
  })

  test('a target that is a file is refused', async () => {
    const file = join(tempDir(), 'file')
    writeFileSync(file, 'x')
    await rejectsWith(initProject({dir: file, name: 'x'}), 'MLS_INIT_DIR_INVALID')
  })

  test('an unknown template is refused listing the available ones, and nothing is created', async () => {
    const dir = join(tempDir(), 'never')
    const error = await rejectsWith(initProject({dir, template: 'pytorch'}), 'MLS_TEMPLATE_UNKNOWN')
    for (const name of templateNames()) assert.ok(error.suggestion.includes(name), error.suggestion)
    assert.throws(() => statSync(dir))
  })

  test('an invalid name is refused before anything is created', async () => {
    const dir = join(tempDir(), 'Bad_Name')
    const error = await rejectsWith(initProject({dir}), 'MLS_INVALID_API_NAME')
    assert.match(error.suggestion, /"bad-name"/)
    assert.throws(() => statSync(dir))
  })
})

describe('the shipped templates', () => {
  test('the package root and templates folder are found from the source tree', () => {
    assert.equal(findPackageRoot(join(repoRoot, 'src', 'scaffold')), repoRoot)
    assert.equal(templatesRoot(), join(repoRoot, 'templates'))
  })

  test('the registry and the templates folder hold the same templates', () => {
    const folders = readdirSync(templatesRoot(), {withFileTypes: true}).filter((e) => e.isDirectory()).map((e) => e.name).sort()
    assert.deepEqual([...templateNames()].sort(), folders)
    assert.equal(getTemplate('python').name, 'python')
  })

  for (const spec of TEMPLATES) {
    test(`${spec.name}: has every required file, only known placeholders and no literal dotfiles`, () => {
      const dir = join(templatesRoot(), spec.name)
      const files = listTemplateFiles(dir)
      const targets = files.map((f) => f.target)
      for (const required of ['mlserve.yaml', 'README.md', 'requirements.txt', '.dockerignore', '.gitignore', '.github/workflows/mlserve.yml', spec.samplePayload]) {
        assert.ok(targets.includes(required), `${spec.name} lacks ${required}`)
      }
      assert.ok(targets.includes('predictor.py') || targets.includes('app.py'), `${spec.name} has no predictor`)
      assert.ok(targets.filter((t) => t.startsWith('payloads/')).length >= 2, 'at least two sample payloads')
      for (const file of files) {
        const rel = file.source.slice(dir.length + 1)
        assert.ok(!rel.split(/[\\/]/).some((s) => s.startsWith('.')), `${spec.name}/${rel}: store dotfiles as dot-NAME (npm drops or renames some dotfiles)`)
        const text = readFileSync(file.source, 'utf8')
        for (const placeholder of placeholdersIn(text)) {
          assert.ok(KNOWN_PLACEHOLDERS.has(placeholder), `${spec.name}/${rel} uses unknown {{${placeholder}}}`)
        }
        if (file.target.startsWith('payloads/')) assert.doesNotThrow(() => JSON.parse(text), `${rel} is not JSON`)
      }
      const yaml = readFileSync(join(dir, 'mlserve.yaml'), 'utf8')
      assert.equal(yaml.split('\n')[0], '# yaml-language-server: $schema={{schema_url}}')
      for (const field of ['processes_per_replica', 'threads_per_process', 'max_replica_concurrency', 'target_replica_concurrency']) {
        assert.match(yaml, new RegExp(`# ${field}: `), `${field} is explained in a comment`)
      }
      assert.match(yaml, /mlserve tune/)
      assert.match(yaml, new RegExp(`^  type: ${spec.predictorType}$`, 'm'), 'the registry knows the predictor type')
      assert.equal(yaml.includes('{{interpreter_block}}'), spec.modules.length > 0, 'templates that need packages have a place to pin the interpreter')
      const workflow = readFileSync(join(dir, 'dot-github', 'workflows', 'mlserve.yml'), 'utf8')
      assert.match(workflow, /npx mlserve validate/)
      assert.match(workflow, /npx mlserve build --ci/)
      assert.match(workflow, /npx mlserve loadtest --api \{\{name\}\} --duration 20 --max-p99 200 --max-error-rate 0\.01/)
      assert.match(workflow, /node-version: 20/)
      const ignore = readFileSync(join(dir, 'dot-dockerignore'), 'utf8').split('\n')
      for (const entry of ['.git', '**/__pycache__', '.venv', 'venv', 'tests', 'payloads', '.env*', '*.pem', '*.key', '.mlserve']) {
        assert.ok(ignore.includes(entry), `.dockerignore lacks ${entry}`)
      }
    })
  }
})

describe('interpreter choice', () => {
  const modules = ['sklearn', 'numpy', 'joblib']
  const probe = (attempts: ProbeResult['attempts']): ProbeResult => ({interpreter: attempts.find((a) => a.ok)?.interpreter ?? null, attempts})

  test('candidates: MLSERVE_PYTHON first, then python3, then /usr/bin/python3, without repeats', () => {
    assert.deepEqual(candidates({}).map((c) => c.interpreter), ['python3', '/usr/bin/python3'])
    assert.deepEqual(candidates({MLSERVE_PYTHON: '/opt/py/bin/python'}).map((c) => c.interpreter), ['/opt/py/bin/python', 'python3', '/usr/bin/python3'])
    assert.deepEqual(candidates({MLSERVE_PYTHON: '/usr/bin/python3'}).map((c) => c.source), ['MLSERVE_PYTHON', 'PATH'])
  })

  test('one rule: the runtime runs the first of the same candidates, with predictor.interpreter between MLSERVE_PYTHON and python3', () => {
    for (const env of [{}, {MLSERVE_PYTHON: '/opt/py/bin/python'}]) assert.equal(chooseInterpreter(undefined, env), candidates(env)[0].interpreter)
    assert.equal(chooseInterpreter('/usr/bin/python3', {}), '/usr/bin/python3')
    assert.equal(chooseInterpreter('/usr/bin/python3', {MLSERVE_PYTHON: '/opt/py/bin/python'}), '/opt/py/bin/python')
    assert.deepEqual(interpreterCandidates('.venv/bin/python', {MLSERVE_PYTHON: 'py'}).map((c) => c.source), ['MLSERVE_PYTHON', 'config', 'PATH'])
  })

  test('plain python3 is not pinned', () => {
    assert.equal(interpreterBlock(probe([{interpreter: 'python3', source: 'PATH', ok: true}]), modules), '')
    assert.equal(interpreterBlock(probe([{interpreter: 'python3', source: 'PATH', ok: false, reason: 'x'}]), modules), '')
  })

  test('another interpreter is pinned with a comment saying why', () => {
    const block = interpreterBlock(
      probe([
        {interpreter: 'python3', source: 'PATH', ok: false, reason: "No module named 'sklearn'"},
        {interpreter: '/usr/bin/python3', source: 'system', ok: true},
      ]),
      modules,
    )
    const lines = block.split('\n')
    assert.equal(lines.at(-1), 'interpreter: /usr/bin/python3')
    const comment = lines.slice(0, -1).map((l) => l.slice(2)).join(' ')
    assert.ok(lines.slice(0, -1).every((l) => l.startsWith('# ') && l.length <= 78))
    assert.match(comment, /`python3` cannot import sklearn, numpy, joblib/)
    assert.match(comment, /No module named 'sklearn'/)
    assert.match(comment, /MLSERVE_PYTHON/)
  })

  test('an interpreter from MLSERVE_PYTHON is pinned, quoted when YAML needs it', () => {
    const block = interpreterBlock(probe([{interpreter: '/opt/my env/python', source: 'MLSERVE_PYTHON', ok: true}]), modules)
    assert.match(block, /under MLSERVE_PYTHON/)
    assert.equal(block.split('\n').at(-1), 'interpreter: "/opt/my env/python"')
    assert.equal(yamlScalar('/usr/bin/python3'), '/usr/bin/python3')
    assert.equal(yamlScalar('-x'), '"-x"')
  })

  test('a command predictor is told it gets the interpreter as $MLSERVE_PYTHON', () => {
    const block = interpreterBlock(probe([{interpreter: '/usr/bin/python3', source: 'system', ok: true}]), ['fastapi'], 'command')
    assert.match(block.replace(/\n# /g, ' '), /passes it to the command as \$MLSERVE_PYTHON/)
  })

  test('no interpreter found: the warning says what was tried and how to install', () => {
    const [warning, ...rest] = interpreterWarnings(
      probe([
        {interpreter: 'python3', source: 'PATH', ok: false, reason: "No module named 'sklearn'"},
        {interpreter: '/usr/bin/python3', source: 'system', ok: false, reason: 'not found'},
      ]),
      {modules, apt: ['python3-sklearn'], requirements: 'iris/requirements.txt'},
      {},
    )
    assert.equal(rest.length, 0)
    assert.match(warning, /No Python here can import sklearn, numpy, joblib/)
    assert.match(warning, /python3 \(No module named 'sklearn'\), \/usr\/bin\/python3 \(not found\)/)
    assert.match(warning, /sudo apt-get install python3-sklearn/)
    assert.match(warning, /pip install -r iris\/requirements\.txt/)
    assert.match(warning, /MLSERVE_PYTHON/)
  })

  test('an MLSERVE_PYTHON that lacks the modules is flagged, since it overrides the pinned interpreter', () => {
    const result = probe([
      {interpreter: '/opt/venv/bin/python', source: 'MLSERVE_PYTHON', ok: false, reason: "No module named 'sklearn'"},
      {interpreter: 'python3', source: 'PATH', ok: true},
    ])
    const [warning] = interpreterWarnings(result, {modules, apt: [], requirements: 'requirements.txt'}, {MLSERVE_PYTHON: '/opt/venv/bin/python'})
    assert.match(warning, /MLSERVE_PYTHON=\/opt\/venv\/bin\/python cannot import/)
    assert.match(warning, /point it at python3/)
    assert.deepEqual(interpreterWarnings(probe([{interpreter: 'python3', source: 'PATH', ok: true}]), {modules, apt: [], requirements: 'r'}, {}), [])
  })

  test('comment lines wrap at the width', () => {
    const lines = commentLines('word '.repeat(40), 30)
    assert.ok(lines.length > 1 && lines.every((l) => l.length <= 30 && l.startsWith('# ')))
  })

  test('a missing interpreter is reported as not found, and probing goes on', async () => {
    const result = await probeInterpreter([], {...process.env, MLSERVE_PYTHON: '/nonexistent/python3'})
    assert.deepEqual(result.attempts[0], {interpreter: '/nonexistent/python3', source: 'MLSERVE_PYTHON', ok: false, reason: 'not found'})
    assert.equal(result.interpreter, 'python3')
  })

  test('a missing module is reported in Python\'s words', async () => {
    const result = await probeInterpreter(['no_such_module_mlserve'], process.env)
    assert.equal(result.interpreter, null)
    assert.match(result.attempts[0].reason ?? '', /No module named 'no_such_module_mlserve'/)
  })
})

describe('setup steps', () => {
  let dir: string
  before(() => {
    dir = tempDir()
    writeFileSync(join(dir, 'ok.py'), 'print("step one")\nprint("accuracy 0.97")\n')
    writeFileSync(join(dir, 'fail.py'), 'print("loading data")\nraise SystemExit("boom: no data")\n')
    writeFileSync(join(dir, 'slow.py'), 'import time\nprint("starting", flush=True)\ntime.sleep(30)\n')
  })

  test('a step that succeeds returns its output', async () => {
    const outcome = await runSetupStep('t', {script: 'ok.py', title: 'ok', timeoutMs: 30_000, produces: []}, {dir, interpreter: 'python3'})
    assert.equal(outcome.output, 'step one\naccuracy 0.97')
  })

  test('a failing step is MLS_TEMPLATE_SETUP_FAILED with its output', async () => {
    const error = await rejectsWith(
      runSetupStep('sklearn', {script: 'fail.py', title: 'fail', timeoutMs: 30_000, produces: []}, {dir, interpreter: 'python3'}),
      'MLS_TEMPLATE_SETUP_FAILED',
    )
    assert.equal(error.exitCode, 1)
    assert.match(error.message, /sklearn template's setup step `python3 fail\.py`/)
    assert.match(error.message, /exited with code 1/)
    assert.match(error.message, /loading data/)
    assert.match(error.message, /boom: no data/)
  })

  test('a step past its timeout is stopped and reported', async () => {
    // slow.py sleeps 30 s, so only the timeout can end it. Whether Python got as
    // far as printing "starting" within the second depends on the machine's
    // load, so the report is checked for both shapes, never for a time.
    const error = await rejectsWith(
      runSetupStep('sklearn', {script: 'slow.py', title: 'slow', timeoutMs: 1_000, produces: []}, {dir, interpreter: 'python3'}),
      'MLS_TEMPLATE_SETUP_FAILED',
    )
    assert.match(error.message, /it ran past its 1s timeout and was stopped(?:; its output:\n {2}starting| with no output\.)/)
    assert.doesNotMatch(error.message, /exited with code/)
  })
})
