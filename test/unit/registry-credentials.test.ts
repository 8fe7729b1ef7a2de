// Where push's credentials come from, in order: MLSERVE_REGISTRY_USERNAME /
// MLSERVE_REGISTRY_PASSWORD, then `mlserve login`'s store, then Docker's
// config.json (plain auths only). Each test has config dirs of its own.
import {afterEach, beforeEach, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {credentialsFile} from '../../src/environments/index.js'
import {dockerConfigAuths, findRegistryAuth, registryAuth, storedLogins, storeLogin} from '../../src/registry/index.js'

const KEYS = ['MLSERVE_CONFIG_DIR', 'DOCKER_CONFIG', 'MLSERVE_REGISTRY_USERNAME', 'MLSERVE_REGISTRY_PASSWORD'] as const
const saved = Object.fromEntries(KEYS.map((key) => [key, process.env[key]]))
let dir: string

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mlserve-creds-unit-'))
  process.env.MLSERVE_CONFIG_DIR = join(dir, 'config')
  process.env.DOCKER_CONFIG = join(dir, 'docker')
  delete process.env.MLSERVE_REGISTRY_USERNAME
  delete process.env.MLSERVE_REGISTRY_PASSWORD
})

afterEach(() => {
  for (const key of KEYS) {
    if (saved[key] === undefined) delete process.env[key]
    else process.env[key] = saved[key]
  }
  rmSync(dir, {recursive: true, force: true})
})

function dockerConfig(config: object): void {
  mkdirSync(join(dir, 'docker'), {recursive: true})
  writeFileSync(join(dir, 'docker', 'config.json'), JSON.stringify(config))
}

const basic = (user: string, password: string) => Buffer.from(`${user}:${password}`).toString('base64')

test('no credentials anywhere: anonymous (null)', () => {
  assert.equal(registryAuth('127.0.0.1:5000'), null)
})

test('the environment wins over a stored login, which wins over Docker config.json', () => {
  dockerConfig({auths: {'127.0.0.1:5000': {auth: basic('from-docker', 'd')}}})
  assert.deepEqual(findRegistryAuth('127.0.0.1:5000'), {auth: {username: 'from-docker', password: 'd', serveraddress: '127.0.0.1:5000'}, source: 'docker-config'})
  storeLogin({username: 'from-login', password: 'l', serveraddress: '127.0.0.1:5000'})
  assert.deepEqual(findRegistryAuth('127.0.0.1:5000'), {auth: {username: 'from-login', password: 'l', serveraddress: '127.0.0.1:5000'}, source: 'login'})
  process.env.MLSERVE_REGISTRY_USERNAME = 'from-env'
  process.env.MLSERVE_REGISTRY_PASSWORD = 'e'
  assert.deepEqual(findRegistryAuth('127.0.0.1:5000'), {auth: {username: 'from-env', password: 'e', serveraddress: '127.0.0.1:5000'}, source: 'environment'})
  // A username alone is not credentials: the stored login still counts.
  delete process.env.MLSERVE_REGISTRY_PASSWORD
  assert.equal(findRegistryAuth('127.0.0.1:5000')?.source, 'login')
})

test('credentials are found by host: a registry with a namespace uses its host’s login', () => {
  storeLogin({username: 'u', password: 'p', serveraddress: 'registry.example.com'})
  assert.deepEqual(registryAuth('registry.example.com/team/ml'), {username: 'u', password: 'p', serveraddress: 'registry.example.com'})
  assert.equal(registryAuth('other.example.com'), null)
})

test('Docker config.json: plain auths are read (URL keys too); credsStore-only entries and bad ones are skipped', () => {
  dockerConfig({
    credsStore: 'desktop',
    auths: {
      'https://index.docker.io/v1/': {auth: basic('hub', 'h:with:colons')},
      'helper.example.com': {},
      'broken.example.com': {auth: basic('nocolon', '').slice(0, 4)},
      'http://127.0.0.1:5000': {auth: basic('local', 'l')},
    },
  })
  assert.deepEqual(dockerConfigAuths(), {'index.docker.io': {username: 'hub', password: 'h:with:colons'}, '127.0.0.1:5000': {username: 'local', password: 'l'}})
  assert.equal(registryAuth('helper.example.com'), null)
})

test('a config.json that is not JSON is ignored (anonymous), not fatal', () => {
  mkdirSync(join(dir, 'docker'), {recursive: true})
  writeFileSync(join(dir, 'docker', 'config.json'), '{not json')
  assert.deepEqual(dockerConfigAuths(), {})
})

test('the login store is 0600, keeps comments, and replaces a registry’s login', () => {
  storeLogin({username: 'a', password: '1', serveraddress: '127.0.0.1:5000'})
  const file = credentialsFile()
  assert.equal(file, join(dir, 'config', 'credentials.yaml'))
  assert.equal(statSync(file).mode & 0o777, 0o600)
  writeFileSync(file, `${readFileSync(file, 'utf8')}# a note of mine\n`)
  storeLogin({username: 'b', password: '2', serveraddress: '127.0.0.1:5000'})
  storeLogin({username: 'c', password: '3', serveraddress: 'registry.example.com'})
  assert.match(readFileSync(file, 'utf8'), /# a note of mine/)
  assert.equal(statSync(file).mode & 0o777, 0o600)
  assert.deepEqual(storedLogins(), {'127.0.0.1:5000': {username: 'b', password: '2'}, 'registry.example.com': {username: 'c', password: '3'}})
})
