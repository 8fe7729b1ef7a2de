import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {chmodSync, utimesSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import * as tar from 'tar-stream'
import {
  contextBytes,
  DEFAULT_IGNORES,
  fileEntry,
  IgnoreMatcher,
  inlineEntry,
  isSecretName,
  parseIgnoreFile,
  planBuild,
  requirementsInfo,
  secretFileReason,
  walkProject,
  type ContextEntry,
} from '../../src/image/index.js'
import {loadProject} from '../../src/config/index.js'
import {isMlserveError, type MlserveError} from '../../src/errors.js'
import {harnessFiles} from '../../src/runtime/harness/index.js'
import {projectsRemovedAfterFile} from '../helpers/projects.js'

const project = projectsRemovedAfterFile()

const API = `name: demo
kind: RealtimeAPI
predictor:
  type: python
  path: predictor.py
`

describe('.dockerignore matching (Docker semantics)', () => {
  const m = (patterns: string[], path: string) => new IgnoreMatcher(patterns).ignores(path)

  test('a pattern is relative to the root; *.pyc matches only there, **/*.pyc everywhere', () => {
    assert.equal(m(['*.pyc'], 'a.pyc'), true)
    assert.equal(m(['*.pyc'], 'pkg/a.pyc'), false)
    assert.equal(m(['**/*.pyc'], 'pkg/sub/a.pyc'), true)
    assert.equal(m(['**/*.pyc'], 'a.pyc'), true)
    assert.equal(m(['/build'], 'build/x'), true)
    assert.equal(m(['./docs/../build'], 'build/x'), true)
  })

  test('a directory pattern excludes everything below it', () => {
    assert.equal(m(['tests'], 'tests/unit/test_a.py'), true)
    assert.equal(m(['tests'], 'src/tests/x.py'), false)
    assert.equal(m(['**/__pycache__'], 'pkg/__pycache__/a.cpython-311.pyc'), true)
  })

  test('* stays in one segment, ? is one character, [] is a class, \\ escapes', () => {
    assert.equal(m(['data/*.csv'], 'data/a.csv'), true)
    assert.equal(m(['data/*.csv'], 'data/sub/a.csv'), false)
    assert.equal(m(['file?.txt'], 'file1.txt'), true)
    assert.equal(m(['file?.txt'], 'file10.txt'), false)
    assert.equal(m(['log[0-9].txt'], 'log7.txt'), true)
    assert.equal(m(['log[!0-9].txt'], 'log7.txt'), false)
    assert.equal(m(['a\\*b'], 'a*b'), true)
    assert.equal(m(['a\\*b'], 'axb'), false)
    assert.equal(m(['a/**/b'], 'a/b'), true)
    assert.equal(m(['a/**/b'], 'a/x/y/b'), true)
  })

  test('! re-includes, and the last matching pattern wins', () => {
    assert.equal(m(['*.md', '!README.md'], 'README.md'), false)
    assert.equal(m(['*.md', '!README.md'], 'CHANGES.md'), true)
    assert.equal(m(['*.md', '!README.md', 'README*'], 'README.md'), true)
  })

  test('parseIgnoreFile drops comments and blank lines', () => {
    assert.deepEqual(parseIgnoreFile('# comment\n\n  .env*  \n!keep\r\n'), ['.env*', '!keep'])
  })

  test('the defaults leave out VCS, caches, tests, payloads and .mlserve', () => {
    const d = new IgnoreMatcher(DEFAULT_IGNORES)
    for (const path of ['.git/HEAD', '.mlserve/state.json', 'pkg/__pycache__/x.pyc', 'tests/test_x.py', 'payloads/a.json', '.venv/bin/python', 'x.pyc']) {
      assert.equal(d.ignores(path), true, path)
    }
    for (const path of ['predictor.py', 'model/weights.json', 'src/app.py']) assert.equal(d.ignores(path), false, path)
  })
})

describe('secret-looking files and names', () => {
  test('files: dockle CIS-DI-0010 names, extensions and directories', () => {
    for (const path of ['.env', '.env.production', '.env_secrets', 'conf/server.pem', 'tls.key', 'id_rsa', 'keys/id_ed25519', 'credentials.json', '.aws/credentials', 'home/.ssh/config', 'password.txt', 'store.jks', '.netrc']) {
      assert.notEqual(secretFileReason(path), null, path)
    }
    for (const path of ['predictor.py', 'environment.yml', 'id_rsa.pub', 'model/keys.json', 'monkey.py', 'README.md']) {
      assert.equal(secretFileReason(path), null, path)
    }
  })

  test('names: a word such as TOKEN, KEY, SECRET or PASSWORD', () => {
    for (const name of ['HF_TOKEN', 'AWS_SECRET_ACCESS_KEY', 'DB_PASSWORD', 'api-key', 'GITHUB_AUTHTOKEN', 'OPENAI_APIKEY', 'PASSWD']) assert.equal(isSecretName(name), true, name)
    for (const name of ['TOKENIZERS_PARALLELISM', 'OMP_NUM_THREADS', 'KEYBOARD_LAYOUT', 'MONKEY', 'ACCESS_LOG', 'PASSTHROUGH']) assert.equal(isSecretName(name), false, name)
  })
})

describe('the build context', () => {
  test('walkProject applies the defaults, .dockerignore, build.exclude and build.include, and skips virtualenvs', async () => {
    const p = project({
      'mlserve.yaml': API,
      'predictor.py': 'x',
      'lib/util.py': 'x',
      'lib/__pycache__/util.cpython-311.pyc': 'x',
      'notes.md': 'x',
      'tests/test_a.py': 'x',
      'env/pyvenv.cfg': 'home = /usr/bin',
      'env/lib/site.py': 'x',
      '.git/HEAD': 'ref',
    })
    const all = await walkProject(p.dir, {ignore: new IgnoreMatcher([...DEFAULT_IGNORES, '*.md'])})
    assert.deepEqual(
      all.files.map((f) => f.rel),
      ['lib/util.py', 'mlserve.yaml', 'predictor.py'],
    )
    assert.deepEqual(all.virtualenvs, ['env'])
    const only = await walkProject(p.dir, {ignore: new IgnoreMatcher(DEFAULT_IGNORES), include: new IgnoreMatcher(['*.py']), alwaysInclude: (rel) => rel === 'mlserve.yaml'})
    assert.deepEqual(
      only.files.map((f) => f.rel),
      ['mlserve.yaml', 'predictor.py'],
    )
  })

  test('the tar is the same bytes twice, whatever the files’ times and modes on disk', async () => {
    const p = project({'a.py': 'print(1)\n', 'pkg/b.py': 'print(2)\n', 'run.sh': '#!/bin/sh\n'})
    chmodSync(join(p.dir, 'run.sh'), 0o755)
    const entries = async (): Promise<ContextEntry[]> => {
      const walked = await walkProject(p.dir, {ignore: new IgnoreMatcher([])})
      return [...walked.files.map((f) => fileEntry(`app/${f.rel}`, f)), inlineEntry('Dockerfile', 'FROM scratch\n')]
    }
    const first = await contextBytes(await entries())
    utimesSync(join(p.dir, 'a.py'), new Date('2001-02-03'), new Date('2001-02-03'))
    chmodSync(join(p.dir, 'pkg', 'b.py'), 0o600)
    const second = await contextBytes(await entries())
    assert.ok(first.equals(second), 'identical tar bytes')
    // Sorted, with parent directories, fixed times, owners and normalised modes.
    const headers: tar.Header[] = []
    const extract = tar.extract()
    const done = (async () => {
      for await (const entry of extract) {
        headers.push(entry.header)
        entry.resume()
      }
    })()
    extract.end(second)
    await done
    assert.deepEqual(
      headers.map((h) => h.name),
      ['Dockerfile', 'app/', 'app/a.py', 'app/pkg/', 'app/pkg/b.py', 'app/run.sh'],
    )
    for (const h of headers) {
      assert.equal(h.mtime.getTime(), 1000, h.name)
      assert.equal(h.uid, 0)
      assert.equal(h.gid, 0)
      assert.equal(h.uname, '')
    }
    const mode = Object.fromEntries(headers.map((h) => [h.name, h.mode]))
    assert.equal(mode['app/run.sh'], 0o755)
    assert.equal(mode['app/pkg/b.py'], 0o644)
    assert.equal(mode['app/'], 0o755)
  })

  test('requirementsInfo: only real requirement lines count', () => {
    assert.equal(requirementsInfo('# nothing here\n\n   # still nothing\n').real, false)
    assert.equal(requirementsInfo('--index-url https://example.com/simple\n').real, false)
    assert.equal(requirementsInfo('numpy==1.26.4  # pinned\n').real, true)
    assert.deepEqual(requirementsInfo('-r base.txt\n-c constraints.txt\n'), {real: true, includes: ['base.txt', 'constraints.txt']})
  })
})

describe('planBuild', () => {
  async function refusal(promise: Promise<unknown>): Promise<MlserveError> {
    try {
      await promise
    } catch (error) {
      if (isMlserveError(error)) return error
      throw error
    }
    assert.fail('expected an MlserveError')
  }

  test('builds an AsyncAPI as it builds a RealtimeAPI (its replicas run the same image)', async () => {
    const p = project({'mlserve.yaml': 'name: jobs\nkind: AsyncAPI\npredictor:\n  type: python\n  path: predictor.py\n', 'predictor.py': 'x'})
    const plan = await planBuild({project: await loadProject(p.dir)})
    assert.equal(plan.api.name, 'jobs')
    assert.equal(plan.api.kind, 'AsyncAPI')
    assert.ok(plan.files.includes('predictor.py'))
  })

  test('refuses secret-looking files, listing each with how to leave it out or allow it', async () => {
    const p = project({'mlserve.yaml': API, 'predictor.py': 'x', '.env_secrets': 'A=1', 'certs/server.pem': 'x', '.aws/credentials': 'x'})
    const error = await refusal(planBuild({project: await loadProject(p.dir)}))
    assert.equal(error.code, 'MLS_SECRET_FILES')
    assert.equal(error.exitCode, 2)
    assert.deepEqual(
      error.details.map((d) => d.split(' ')[0]),
      ['.aws/credentials', '.env_secrets', 'certs/server.pem'],
    )
    assert.match(error.suggestion, /\.dockerignore/)
    assert.match(error.suggestion, /--allow-secret/)
    // Excluded, or allowed by path, they no longer stop the build.
    writeFileSync(join(p.dir, '.dockerignore'), '.env*\n.aws\n')
    const plan = await planBuild({project: await loadProject(p.dir), allowSecrets: ['certs/server.pem']})
    assert.ok(plan.files.includes('certs/server.pem'))
    assert.ok(!plan.files.includes('.env_secrets'))
  })

  test('refuses secret-looking names with values in predictor.env and in a user Dockerfile', async () => {
    const withEnv = project({'mlserve.yaml': `${API}  env:\n    HF_TOKEN: hf_abc\n    TOKENIZERS_PARALLELISM: "false"\n`, 'predictor.py': 'x'})
    const error = await refusal(planBuild({project: await loadProject(withEnv.dir)}))
    assert.equal(error.code, 'MLS_SECRET_ENV')
    assert.deepEqual(error.details, ['HF_TOKEN  (predictor.env)'])
    const allowed = await planBuild({project: await loadProject(withEnv.dir), allowSecrets: ['HF_TOKEN']})
    assert.match(allowed.dockerfile, /HF_TOKEN=hf_abc/)

    const own = project({'mlserve.yaml': `${API}build:\n  dockerfile: Dockerfile\n`, 'predictor.py': 'x', Dockerfile: 'FROM debian:12\nARG NPM_TOKEN=abc\nENV DB_PASSWORD secret\n'})
    const error2 = await refusal(planBuild({project: await loadProject(own.dir)}))
    assert.equal(error2.code, 'MLS_SECRET_ENV')
    assert.deepEqual(error2.details, ['NPM_TOKEN  (Dockerfile:2 (ARG))', 'DB_PASSWORD  (Dockerfile:3 (ENV))'])
  })

  test('lays the context out in sections, and leaves out what is not needed', async () => {
    const p = project({
      'mlserve.yaml': `${API}build:\n  model_dir: model\n  python_requirements: requirements.txt\n`,
      'predictor.py': 'x',
      'requirements.txt': 'numpy==1.26.4\n-r extra.txt\n',
      'extra.txt': 'scipy==1.11.4\n',
      'model/weights.bin': 'w',
      'payloads/a.json': '{}',
    })
    const plan = await planBuild({project: await loadProject(p.dir), baseImage: 'mlserve-base:bookworm'})
    assert.deepEqual(plan.entries.map((e) => e.name).sort(), [
      '.mlserve-build/Dockerfile',
      '.mlserve-build/app/predictor.py',
      '.mlserve-build/config/mlserve.yaml',
      ...harnessFiles().map((file) => `.mlserve-build/mlserve_harness/${file.rel}`),
      '.mlserve-build/model/weights.bin',
      '.mlserve-build/requirements/extra.txt',
      '.mlserve-build/requirements/requirements.txt',
    ])
    assert.match(plan.dockerfile, /^FROM mlserve-base:bookworm$/m)
    assert.deepEqual(plan.lint, [])
  })

  test('an empty requirements file, or no model_dir, makes no layer', async () => {
    const p = project({'mlserve.yaml': API, 'predictor.py': 'x', 'requirements.txt': '# stdlib only\n'})
    const plan = await planBuild({project: await loadProject(p.dir)})
    assert.doesNotMatch(plan.dockerfile, /pip install|requirements/)
    assert.doesNotMatch(plan.dockerfile, /\.mlserve-build\/model/)
    assert.ok(plan.notes.some((n) => /lists no requirements/.test(n)))
  })

  test('names a missing or excluded input', async () => {
    const missingModel = project({'mlserve.yaml': `${API}build:\n  model_dir: weights\n`, 'predictor.py': 'x'})
    const e1 = await refusal(planBuild({project: await loadProject(missingModel.dir)}))
    assert.equal(e1.code, 'MLS_BUILD_INPUT_INVALID')
    assert.match(e1.message, /build\.model_dir weights/)
    const excluded = project({'mlserve.yaml': API, 'predictor.py': 'x', '.dockerignore': '*.py\n'})
    const e2 = await refusal(planBuild({project: await loadProject(excluded.dir)}))
    assert.match(e2.message, /predictor\.path predictor\.py: it is excluded/)
    const outside = project({'mlserve.yaml': `${API}build:\n  model_dir: ../elsewhere\n`, 'predictor.py': 'x'})
    const e3 = await refusal(planBuild({project: await loadProject(outside.dir)}))
    assert.match(e3.message, /inside the project/)
  })
})
