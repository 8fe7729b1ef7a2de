// The environment store: where the file lives, its mode, comment-keeping
// atomic edits, the --env / MLSERVE_ENV / `env use` precedence, and the
// errors that name the known environments. Each test gets a config dir of
// its own (MLSERVE_CONFIG_DIR); the real ~/.config is never touched.
import {afterEach, beforeEach, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {
  addEnvironment,
  configDir,
  environmentsFile,
  listEnvironments,
  parseDockerHost,
  isSwarmLabelKey,
  parseNodeLabel,
  parseRegistry,
  removeEnvironment,
  resolveEnvironment,
  resolveEnvironmentWithSource,
  useEnvironment,
  type Environment,
} from '../../src/environments/index.js'
import {isMlserveError} from '../../src/errors.js'

const saved = {MLSERVE_CONFIG_DIR: process.env.MLSERVE_CONFIG_DIR, XDG_CONFIG_HOME: process.env.XDG_CONFIG_HOME, MLSERVE_ENV: process.env.MLSERVE_ENV}
let dir: string

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mlserve-env-unit-'))
  process.env.MLSERVE_CONFIG_DIR = join(dir, 'config')
  delete process.env.MLSERVE_ENV
})

afterEach(() => {
  for (const [key, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[key]
    else process.env[key] = value
  }
  rmSync(dir, {recursive: true, force: true})
})

function swarm(name: string, registry: string | null = '127.0.0.1:5000'): Environment {
  return {name, engine: 'swarm', registry, dockerHost: null, kubeconfig: null, context: null, namespace: 'default', gatewayPort: 8888, spotLabel: null}
}

/** Runs `fn`, which must throw the mlserve error `code`; returns it. */
function throwsCode(fn: () => unknown, code: string) {
  try {
    fn()
  } catch (error) {
    assert.ok(isMlserveError(error), `expected an mlserve error, got ${String(error)}`)
    assert.equal(error.code, code)
    return error
  }
  assert.fail(`expected ${code}, nothing was thrown`)
}

describe('where the file lives', () => {
  test('MLSERVE_CONFIG_DIR first, then $XDG_CONFIG_HOME/mlserve, then ~/.config/mlserve', () => {
    assert.equal(environmentsFile(), join(dir, 'config', 'environments.yaml'))
    delete process.env.MLSERVE_CONFIG_DIR
    process.env.XDG_CONFIG_HOME = join(dir, 'xdg')
    assert.equal(configDir(), join(dir, 'xdg', 'mlserve'))
    // The XDG spec ignores a relative XDG_CONFIG_HOME.
    process.env.XDG_CONFIG_HOME = 'relative/path'
    assert.match(configDir(), /\/\.config\/mlserve$/)
  })

  test('no file means no environments and no default', () => {
    assert.deepEqual(listEnvironments(), {current: null, environments: []})
  })
})

describe('writing', () => {
  test('the file is created with mode 0600 in a 0700 directory, and read back with its defaults', () => {
    addEnvironment({...swarm('prod'), spotLabel: {key: 'node.kind', value: 'spot'}, gatewayPort: 9000})
    assert.equal(statSync(environmentsFile()).mode & 0o777, 0o600)
    assert.equal(statSync(join(dir, 'config')).mode & 0o777, 0o700)
    const [prod] = listEnvironments().environments
    assert.deepEqual(prod, {...swarm('prod'), spotLabel: {key: 'node.kind', value: 'spot'}, gatewayPort: 9000})
    // Defaults are not written: the file says only what differs.
    const text = readFileSync(environmentsFile(), 'utf8')
    assert.doesNotMatch(text, /namespace/)
    assert.match(text, /gateway_port: 9000/)
    assert.match(text, /spot_label: node\.kind=spot/)
  })

  test("edits keep the user's comments and order, leave no temp file, and make a 0644 file 0600", () => {
    const file = environmentsFile()
    addEnvironment(swarm('seed'))
    writeFileSync(
      file,
      `# my team's clusters\nenvironments:\n  # the big one\n  prod:\n    engine: kubernetes # EKS\n    context: prod-eu\n    namespace: ml\n`,
    )
    chmodSync(file, 0o644)
    addEnvironment(swarm('local'))
    useEnvironment('local')
    removeEnvironment('local')
    addEnvironment(swarm('staging'))
    const text = readFileSync(file, 'utf8')
    for (const comment of ["# my team's clusters", '# the big one', '# EKS']) assert.ok(text.includes(comment), `${comment} kept in:\n${text}`)
    assert.ok(text.indexOf('prod:') < text.indexOf('staging:'), 'existing entries keep their place')
    assert.equal(statSync(file).mode & 0o777, 0o600)
    assert.deepEqual(readdirSync(join(dir, 'config')), ['environments.yaml'])
    assert.deepEqual(
      listEnvironments().environments.map((e) => [e.name, e.engine, e.namespace]),
      [
        ['prod', 'kubernetes', 'ml'],
        ['staging', 'swarm', 'default'],
      ],
    )
  })

  test('adding a name that exists fails with MLS_ENV_EXISTS unless replacing', () => {
    addEnvironment(swarm('prod'))
    const error = throwsCode(() => addEnvironment(swarm('prod', null)), 'MLS_ENV_EXISTS')
    assert.match(error.suggestion, /--force/)
    addEnvironment(swarm('prod', null), {replace: true})
    assert.equal(listEnvironments().environments[0].registry, null)
  })

  test('a bad name is refused with MLS_ENV_INVALID_NAME and nothing is written', () => {
    throwsCode(() => addEnvironment(swarm('Prod EU')), 'MLS_ENV_INVALID_NAME')
    assert.deepEqual(listEnvironments().environments, [])
  })

  test('removing the default leaves no default', () => {
    addEnvironment(swarm('a'))
    addEnvironment(swarm('b'))
    useEnvironment('a')
    assert.deepEqual(removeEnvironment('a').wasCurrent, true)
    assert.deepEqual(listEnvironments().current, null)
    assert.doesNotMatch(readFileSync(environmentsFile(), 'utf8'), /current:/)
    assert.equal(removeEnvironment('b').wasCurrent, false)
    throwsCode(() => removeEnvironment('b'), 'MLS_ENV_NOT_FOUND')
  })
})

describe('choosing an environment', () => {
  beforeEach(() => {
    for (const name of ['dev', 'staging', 'prod']) addEnvironment(swarm(name))
    useEnvironment('dev')
  })

  test('--env wins over MLSERVE_ENV, which wins over `env use`', () => {
    assert.deepEqual(resolveEnvironmentWithSource().source, 'mlserve env use')
    assert.equal(resolveEnvironment().name, 'dev')
    process.env.MLSERVE_ENV = 'staging'
    assert.deepEqual([resolveEnvironment().name, resolveEnvironmentWithSource().source], ['staging', 'MLSERVE_ENV'])
    assert.deepEqual([resolveEnvironment('prod').name, resolveEnvironmentWithSource('prod').source], ['prod', '--env'])
    // An empty MLSERVE_ENV is unset, as in a shell's `MLSERVE_ENV= mlserve push`.
    process.env.MLSERVE_ENV = ''
    assert.equal(resolveEnvironment().name, 'dev')
  })

  test('an unknown name lists the known environments and how to add one', () => {
    const error = throwsCode(() => resolveEnvironment('qa'), 'MLS_ENV_NOT_FOUND')
    assert.match(error.message, /"qa" \(from --env\)/)
    assert.match(error.suggestion, /dev, staging, prod/)
    assert.match(error.suggestion, /mlserve env add qa --engine/)
    process.env.MLSERVE_ENV = 'typo'
    assert.match(throwsCode(() => resolveEnvironment(), 'MLS_ENV_NOT_FOUND').message, /from MLSERVE_ENV/)
  })

  test('with nothing chosen, the error says --env, MLSERVE_ENV and `mlserve env use`', () => {
    removeEnvironment('dev')
    const error = throwsCode(() => resolveEnvironment(), 'MLS_ENV_NONE_CHOSEN')
    for (const way of ['--env', 'MLSERVE_ENV', 'mlserve env use']) assert.ok(error.suggestion.includes(way), `${way} in: ${error.suggestion}`)
    assert.match(error.suggestion, /staging, prod/)
  })

  test('with no environments at all, the error says how to add one', () => {
    rmSync(environmentsFile())
    assert.match(throwsCode(() => resolveEnvironment(), 'MLS_ENV_NONE_CHOSEN').suggestion, /mlserve env add NAME --engine/)
  })
})

describe('a file edited by hand', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['not YAML', 'environments: [unclosed\n', /cannot be read/],
    ['an unknown engine', 'environments:\n  prod:\n    engine: nomad\n', /environments\.prod\.engine must be swarm or kubernetes \(found "nomad"\)/],
    ['an unknown field', 'environments:\n  prod:\n    engine: swarm\n    registy: x\n', /unknown field "registy"/],
    ['a registry with a scheme', 'environments:\n  prod:\n    engine: swarm\n    registry: https://r.example.com\n', /registry must be HOST\[:PORT\]/],
    ['a bad port', 'environments:\n  prod:\n    engine: swarm\n    gateway_port: 70000\n', /gateway_port must be a port/],
    ['a list at the top', '- prod\n', /top level must be a mapping/],
  ]
  for (const [what, text, reason] of cases) {
    test(`${what} fails with MLS_ENV_FILE_INVALID naming the field`, () => {
      addEnvironment(swarm('seed'))
      writeFileSync(environmentsFile(), text)
      const error = throwsCode(() => listEnvironments(), 'MLS_ENV_FILE_INVALID')
      assert.match(error.message, reason)
      assert.ok(error.message.includes(environmentsFile()))
    })
  }

  test('a `current` that names no environment reads as none', () => {
    addEnvironment(swarm('seed'))
    writeFileSync(environmentsFile(), 'current: gone\nenvironments:\n  prod:\n    engine: swarm\n')
    assert.equal(listEnvironments().current, null)
  })
})

describe('field shapes', () => {
  test('registries are HOST[:PORT][/NAMESPACE] without a scheme', () => {
    assert.equal(parseRegistry('127.0.0.1:5000'), '127.0.0.1:5000')
    assert.equal(parseRegistry('registry.example.com/team/ml/'), 'registry.example.com/team/ml')
    for (const bad of ['http://127.0.0.1:5000', '127.0.0.1:0', 'host:99999', 'r.example.com/Team', '', 'a b']) assert.equal(parseRegistry(bad), undefined, bad)
  })

  test('Docker endpoints and node labels', () => {
    assert.equal(parseDockerHost('unix:///var/run/docker.sock'), 'unix:///var/run/docker.sock')
    assert.equal(parseDockerHost('tcp://10.0.0.5:2376'), 'tcp://10.0.0.5:2376')
    assert.equal(parseDockerHost('ssh://me@host'), 'ssh://me@host')
    assert.equal(parseDockerHost('http://host:2375'), undefined)
    assert.deepEqual(parseNodeLabel('node.kind=spot'), {key: 'node.kind', value: 'spot'})
    assert.equal(parseNodeLabel('=spot'), undefined)
    assert.equal(parseNodeLabel('spot'), undefined)
    // A Kubernetes key may have a prefix; Swarm's constraint parser refuses one.
    assert.deepEqual(parseNodeLabel('cloud.google.com/gke-spot=true'), {key: 'cloud.google.com/gke-spot', value: 'true'})
    assert.equal(isSwarmLabelKey('cloud.google.com/gke-spot'), false)
    assert.equal(isSwarmLabelKey('node.kind'), true)
  })
})
