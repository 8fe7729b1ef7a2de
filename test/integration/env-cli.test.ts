// `mlserve env add|list|use|remove`, and how push picks an environment, run
// as a user runs them (the built CLI) against a config directory of the
// test's own (MLSERVE_CONFIG_DIR): the user's ~/.config is never touched.
// No engine is needed: each push here fails before it would reach one.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {EnvAddResult} from '../../src/commands/env/add.js'
import type {EnvListResult} from '../../src/commands/env/list.js'
import type {EnvRemoveResult} from '../../src/commands/env/remove.js'
import type {EnvUseResult} from '../../src/commands/env/use.js'
import {runCli} from '../helpers/cli.js'

let configDir: string
let env: Record<string, string>

before(() => {
  configDir = mkdtempSync(join(tmpdir(), 'mlserve-env-cli-'))
  env = {MLSERVE_CONFIG_DIR: configDir, MLSERVE_ENV: ''}
})

after(() => rmSync(configDir, {recursive: true, force: true}))

async function json<T>(args: string[], extra: Record<string, string> = {}): Promise<T> {
  const result = await runCli([...args, '--json'], {env: {...env, ...extra}})
  assert.equal(result.exitCode, 0, `${args.join(' ')}: ${result.stdout}${result.stderr}`)
  return JSON.parse(result.stdout) as T
}

async function fails(args: string[], code: string, exitCode: number, extra: Record<string, string> = {}): Promise<{code: string; message: string; suggestion: string}> {
  const result = await runCli([...args, '--json'], {env: {...env, ...extra}})
  assert.equal(result.exitCode, exitCode, `${args.join(' ')}: ${result.stdout}${result.stderr}`)
  const {error} = JSON.parse(result.stdout) as {error: {code: string; message: string; suggestion: string}}
  assert.equal(error.code, code, error.message)
  return error
}

describe('mlserve env', () => {
  test('add: typed flags become a stored environment (mode 0600), with defaults filled in', async () => {
    const swarm = await json<EnvAddResult>(['env', 'add', 'local', '--engine', 'swarm', '--registry', '127.0.0.1:5000', '--gateway-port', '9888', '--spot-label', 'node.kind=spot'])
    assert.equal(swarm.file, join(configDir, 'environments.yaml'))
    assert.deepEqual(swarm.environment, {
      name: 'local',
      engine: 'swarm',
      registry: '127.0.0.1:5000',
      dockerHost: null,
      kubeconfig: null,
      context: null,
      namespace: 'default',
      gatewayPort: 9888,
      spotLabel: {key: 'node.kind', value: 'spot'},
    })
    assert.equal(statSync(swarm.file).mode & 0o777, 0o600)
    const k8s = await json<EnvAddResult>(['env', 'add', 'prod', '--engine', 'kubernetes', '--registry', 'registry.example.com/ml', '--context', 'prod-eu', '--namespace', 'serving', '--use'])
    assert.equal(k8s.current, true)
    assert.deepEqual([k8s.environment.context, k8s.environment.namespace, k8s.environment.gatewayPort], ['prod-eu', 'serving', 8888])
  })

  test('add: bad values fail where the flag is declared; engine-specific flags must match the engine', async () => {
    const registry = await fails(['env', 'add', 'x', '--engine', 'swarm', '--registry', 'https://r.example.com'], 'MLS_INVALID_FLAG', 2)
    assert.match(registry.message, /--registry/)
    assert.match(registry.suggestion, /HOST\[:PORT\]\[\/NAMESPACE\] without a scheme/)
    await fails(['env', 'add', 'x', '--engine', 'nomad'], 'MLS_INVALID_FLAG', 2)
    await fails(['env', 'add', 'x', '--engine', 'swarm', '--spot-label', 'spot'], 'MLS_INVALID_FLAG', 2)
    await fails(['env', 'add', 'x', '--engine', 'swarm', '--spot-label', 'cloud.google.com/gke-spot=true'], 'MLS_INVALID_FLAG', 2)
    await fails(['env', 'add', 'x', '--engine', 'swarm', '--gateway-port', '0'], 'MLS_INVALID_FLAG', 2)
    const conflict = await fails(['env', 'add', 'x', '--engine', 'swarm', '--context', 'c'], 'MLS_FLAG_CONFLICT', 2)
    assert.match(conflict.message, /--context applies to kubernetes environments/)
    await fails(['env', 'add', 'x', '--engine', 'kubernetes', '--docker-host', 'unix:///var/run/docker.sock'], 'MLS_FLAG_CONFLICT', 2)
    await fails(['env', 'add', 'Bad Name', '--engine', 'swarm'], 'MLS_ENV_INVALID_NAME', 2)
    await fails(['env', 'add', 'local', '--engine', 'swarm'], 'MLS_ENV_EXISTS', 2)
    const names = (await json<EnvListResult>(['env', 'list'])).environments.map((e) => e.name)
    assert.deepEqual(names, ['local', 'prod'], 'nothing was written by the failed adds')
  })

  test('list: the environments and the active one, MLSERVE_ENV over `env use`', async () => {
    const listed = await json<EnvListResult>(['env', 'list'])
    assert.equal(listed.current, 'prod')
    assert.deepEqual(listed.active, {name: 'prod', source: 'mlserve env use'})
    const overridden = await json<EnvListResult>(['env', 'list'], {MLSERVE_ENV: 'local'})
    assert.deepEqual(overridden.active, {name: 'local', source: 'MLSERVE_ENV'})
    const human = await runCli(['env', 'list'], {env})
    assert.equal(human.stdout, '', 'human output goes to stderr')
    assert.match(human.stderr, /\* prod +kubernetes · context prod-eu · namespace serving · registry registry\.example\.com\/ml/)
    assert.match(human.stderr, /^ {2}local +swarm · local engine · gateway port 9888 · registry 127\.0\.0\.1:5000 · spot node\.kind=spot$/m)
  })

  test('use and remove: the default moves, and removing it leaves none', async () => {
    assert.deepEqual(await json<EnvUseResult>(['env', 'use', 'local']), {file: join(configDir, 'environments.yaml'), current: 'local'})
    const unknown = await fails(['env', 'use', 'qa'], 'MLS_ENV_NOT_FOUND', 2)
    assert.match(unknown.suggestion, /local, prod/)
    const removed = await json<EnvRemoveResult>(['env', 'remove', 'local'])
    assert.deepEqual([removed.removed, removed.wasCurrent], ['local', true])
    assert.equal((await json<EnvListResult>(['env', 'list'])).current, null)
    assert.doesNotMatch(readFileSync(join(configDir, 'environments.yaml'), 'utf8'), /local:/)
  })
})

describe('how push chooses an environment', () => {
  test('none chosen: MLS_ENV_NONE_CHOSEN says --env, MLSERVE_ENV and `mlserve env use`', async () => {
    const error = await fails(['push', 'iris'], 'MLS_ENV_NONE_CHOSEN', 2)
    for (const way of ['--env', 'MLSERVE_ENV', 'mlserve env use']) assert.ok(error.suggestion.includes(way), error.suggestion)
  })

  test('an unknown --env or MLSERVE_ENV names the known environments and `mlserve env add`', async () => {
    const flag = await fails(['push', 'iris', '--env', 'staging'], 'MLS_ENV_NOT_FOUND', 2)
    assert.match(flag.message, /"staging" \(from --env\)/)
    assert.match(flag.suggestion, /The environments are prod; add one with `mlserve env add staging --engine/)
    const variable = await fails(['push', 'iris'], 'MLS_ENV_NOT_FOUND', 2, {MLSERVE_ENV: 'qa'})
    assert.match(variable.message, /from MLSERVE_ENV/)
    await fails(['push', 'iris', '--env', 'NOT A NAME'], 'MLS_INVALID_FLAG', 2)
  })

  test('an environment without a registry: MLS_PUSH_NO_REGISTRY', async () => {
    await json<EnvAddResult>(['env', 'add', 'bare', '--engine', 'swarm'])
    const error = await fails(['push', 'iris', '--env', 'bare'], 'MLS_PUSH_NO_REGISTRY', 2)
    assert.match(error.suggestion, /--registry HOST:PORT --force/)
  })
})
