// `mlserve login` and `mlserve push` against a real registry (Debian's
// docker-registry with htpasswd auth, test/helpers/registry.ts) through the
// real Docker engine, run as a user runs them (the built CLI). Every image
// and tag made here, and both registries, are removed afterwards.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, mkdtempSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {request} from 'undici'
import type {PushCommandResult} from '../../src/commands/push.js'
import {isMlserveError} from '../../src/errors.js'
import {checkLogin, pushImage} from '../../src/registry/index.js'
import {runCli} from '../helpers/cli.js'
import {baseImage, buildTestImage, cleanupDocker, docker, requireDocker, trackImage, uniqueName} from '../helpers/docker.js'
import {startRegistry, type TestRegistry} from '../helpers/registry.js'

const PREDICTOR = (answer: string) => `class PythonPredictor:\n    def __init__(self, config):\n        pass\n\n    def predict(self, payload):\n        return {"answer": "${answer}"}\n`

let registry: TestRegistry
let configDir: string
let env: Record<string, string>
// One API name for the test file: its images are API:v1, API:v2, as `mlserve build` tags them.
const api = uniqueName('mlserve-push')

before(async () => {
  await requireDocker()
  registry = await startRegistry()
  configDir = mkdtempSync(join(tmpdir(), 'mlserve-push-config-'))
  // A config dir and a Docker config of the test's own: the user's are never read or written.
  env = {MLSERVE_CONFIG_DIR: configDir, DOCKER_CONFIG: join(configDir, 'docker'), MLSERVE_ENV: '', MLSERVE_REGISTRY_USERNAME: '', MLSERVE_REGISTRY_PASSWORD: ''}
})

after(async () => {
  await cleanupDocker()
  await registry?.stop()
  if (configDir) rmSync(configDir, {recursive: true, force: true})
})

/** Tags the built image `source` as API:VERSION (what `mlserve build` would have tagged), tracked for cleanup, with the tag the push adds. */
async function asBuilt(source: string, version: string): Promise<string> {
  await docker.getImage(source).tag({repo: api, tag: version})
  trackImage(`${registry.url}/${api}:${version}`)
  return trackImage(`${api}:${version}`)
}

/** The digest the registry serves for REPO:TAG (its Docker-Content-Digest), or null when it has no such tag. */
async function registryDigest(repo: string, tag: string): Promise<string | null> {
  const response = await request(`http://${registry.url}/v2/${repo}/manifests/${tag}`, {
    method: 'HEAD',
    headers: {accept: 'application/vnd.docker.distribution.manifest.v2+json', authorization: `Basic ${Buffer.from(`${registry.username}:${registry.password}`).toString('base64')}`},
  })
  await response.body.dump()
  return response.statusCode === 200 ? String(response.headers['docker-content-digest']) : null
}

describe('mlserve login', () => {
  test('a wrong password fails with MLS_REGISTRY_AUTH_FAILED and stores nothing', async () => {
    const result = await runCli(['login', registry.url, '--username', registry.username, '--password-stdin', '--json'], {env, input: 'not-the-password\n'})
    assert.equal(result.exitCode, 1, result.stderr)
    const {error} = JSON.parse(result.stdout) as {error: {code: string; message: string}}
    assert.equal(error.code, 'MLS_REGISTRY_AUTH_FAILED')
    assert.match(error.message, /401 Unauthorized/)
    assert.equal(existsSync(join(configDir, 'credentials.yaml')), false)
  })

  test('no password on standard input fails with MLS_REGISTRY_NO_PASSWORD', async () => {
    const result = await runCli(['login', registry.url, '--username', registry.username], {env, input: ''})
    assert.equal(result.exitCode, 2)
    assert.match(result.stderr, /MLS_REGISTRY_NO_PASSWORD/)
    assert.match(result.stderr, /--password-stdin/)
  })

  test('a registry that is down fails with MLS_REGISTRY_UNREACHABLE', async () => {
    const down = await startRegistry()
    await down.stop()
    const result = await runCli(['login', down.url, '--username', 'u', '--password-stdin'], {env, input: 'p\n'})
    assert.equal(result.exitCode, 1, result.stderr)
    assert.match(result.stderr, /\[MLS_REGISTRY_UNREACHABLE\] The registry 127\.0\.0\.1:\d+ is not reachable: .*connection refused/)
    // The library says the same to a caller (deploy) that checks credentials itself.
    await assert.rejects(checkLogin(docker, {username: 'u', password: 'p', serveraddress: down.url}), (error) => isMlserveError(error) && error.code === 'MLS_REGISTRY_UNREACHABLE')
  })

  test('the right password is checked by the registry and stored with mode 0600', async () => {
    const result = await runCli(['login', registry.url, '--username', registry.username, '--password-stdin', '--json'], {env, input: `${registry.password}\n`})
    assert.equal(result.exitCode, 0, result.stderr)
    const login = JSON.parse(result.stdout) as {registry: string; status: string; file: string}
    assert.deepEqual([login.registry, login.status], [registry.url, 'Login Succeeded'])
    assert.equal(login.file, join(configDir, 'credentials.yaml'))
    assert.equal(statSync(login.file).mode & 0o777, 0o600)
  })
})

describe('mlserve push', () => {
  let first: PushCommandResult['pushes'][number]

  before(async () => {
    const added = await runCli(['env', 'add', 'local', '--engine', 'swarm', '--registry', registry.url, '--use'], {env})
    assert.equal(added.exitCode, 0, added.stderr)
  })

  test('an API with no image built fails with MLS_PUSH_NO_IMAGE, suggesting mlserve build', async () => {
    const result = await runCli(['push', api], {env})
    assert.equal(result.exitCode, 2, result.stderr)
    assert.match(result.stderr, /\[MLS_PUSH_NO_IMAGE\]/)
    assert.ok(result.stderr.includes(`mlserve build --api ${api}`), result.stderr)
  })

  test("without API, the project's APIs are pushed (a TrafficSplitter has no image): one not built fails with the build hint", async () => {
    const project = mkdtempSync(join(tmpdir(), 'mlserve-push-project-'))
    try {
      const missing = `${api}-unbuilt`
      writeFileSync(join(project, 'predictor.py'), PREDICTOR('p'))
      writeFileSync(
        join(project, 'mlserve.yaml'),
        `- name: ${missing}\n  predictor:\n    type: python\n    path: predictor.py\n- name: split\n  kind: TrafficSplitter\n  apis:\n    - {name: ${missing}, weight: 100}\n`,
      )
      const result = await runCli(['push', '--dir', project, '--json'], {env})
      assert.equal(result.exitCode, 2, result.stderr)
      const {error} = JSON.parse(result.stdout) as {error: {code: string; suggestion: string}}
      assert.equal(error.code, 'MLS_PUSH_NO_IMAGE')
      assert.ok(error.suggestion.includes(`mlserve build --api ${missing}`), error.suggestion)
    } finally {
      rmSync(project, {recursive: true, force: true})
    }
  })

  test('the first push sends every layer and reports the digest the registry serves', async () => {
    await asBuilt(trackImage(await buildTestImage({'predictor.py': PREDICTOR('one')}, 'push')), 'v1')
    const result = await runCli(['push', api, '--json'], {env, timeout: 300_000})
    assert.equal(result.exitCode, 0, result.stderr)
    const out = JSON.parse(result.stdout) as PushCommandResult
    assert.deepEqual([out.environment, out.registry, out.credentials], ['local', registry.url, 'login'])
    first = out.pushes[0]
    assert.equal(first.reference, `${registry.url}/${api}:v1`)
    assert.match(first.digest, /^sha256:[0-9a-f]{64}$/)
    assert.equal(first.pinned, `${registry.url}/${api}@${first.digest}`)
    assert.equal(await registryDigest(api, 'v1'), first.digest)
    assert.equal(first.sizes, 'manifest')
    assert.equal(first.attempts, 1)
    // A fresh registry has none of the layers: all of them went out, the base's tens of MB among them.
    assert.ok(first.layers.every((layer) => layer.status === 'pushed'), JSON.stringify(first.layers))
    assert.equal(first.bytesPresent, 0)
    assert.ok(first.bytesSent > 10_000_000, `bytesSent ${first.bytesSent}`)
  })

  test('after a one-file change only the small layer is sent; the rest was present', async () => {
    await asBuilt(trackImage(await buildTestImage({'predictor.py': PREDICTOR('two')}, 'push')), 'v2')
    const result = await runCli(['push', api], {env, timeout: 300_000})
    assert.equal(result.exitCode, 0, result.stderr)
    // Human output: one line per layer, the digest, and the bytes.
    const sent = /sent ([\d.]+ (?:B|kB)) \((\d+) layers?\); the registry already had ([\d.]+ MB)/.exec(result.stderr)
    assert.ok(sent, result.stderr)
    assert.equal(sent[2], '1')
    assert.match(result.stderr, /digest {2}sha256:[0-9a-f]{64}/)
    // The same push through the library, for the exact figures (the registry has it all now: 0 sent).
    const again = await pushImage({docker, image: `${api}:v2`, registry: registry.url, repo: api, tag: 'v2-again', auth: {username: registry.username, password: registry.password, serveraddress: registry.url}})
    trackImage(`${registry.url}/${api}:v2-again`)
    assert.equal(again.bytesSent, 0)
    assert.ok(again.bytesPresent > first.bytesSent * 0.99, `present ${again.bytesPresent} vs the first push's ${first.bytesSent}`)
  })

  test('--json: the second push sent a few kB against tens of MB present', async () => {
    await asBuilt(trackImage(await buildTestImage({'predictor.py': PREDICTOR('three')}, 'push')), 'v3')
    const result = await runCli(['push', api, '--json'], {env, timeout: 300_000})
    assert.equal(result.exitCode, 0, result.stderr)
    const [push] = (JSON.parse(result.stdout) as PushCommandResult).pushes
    assert.equal(push.reference, `${registry.url}/${api}:v3`)
    assert.equal(push.layers.filter((layer) => layer.status === 'pushed').length, 1, JSON.stringify(push.layers))
    assert.ok(push.bytesSent > 0 && push.bytesSent < 10_000, `bytesSent ${push.bytesSent}`)
    assert.ok(push.bytesPresent > 10_000_000, `bytesPresent ${push.bytesPresent}`)
    assert.equal(await registryDigest(api, 'v3'), push.digest)
    process.stderr.write(`# push figures: first push sent ${first.bytesSent} B; after a one-file change sent ${push.bytesSent} B, present ${push.bytesPresent} B\n`)
  })

  test('wrong credentials from the environment fail the push with MLS_REGISTRY_AUTH_FAILED, naming their source', async () => {
    const result = await runCli(['push', api, '--json'], {env: {...env, MLSERVE_REGISTRY_USERNAME: registry.username, MLSERVE_REGISTRY_PASSWORD: 'wrong'}})
    assert.equal(result.exitCode, 1, result.stderr)
    const {error} = JSON.parse(result.stdout) as {error: {code: string; message: string}}
    assert.equal(error.code, 'MLS_REGISTRY_AUTH_FAILED')
    assert.match(error.message, /from MLSERVE_REGISTRY_USERNAME\/MLSERVE_REGISTRY_PASSWORD/)
  })

  test('a registry that is down is retried, then fails with MLS_REGISTRY_UNREACHABLE', async () => {
    const down = await startRegistry()
    await down.stop()
    trackImage(`${down.url}/${api}:down`)
    const retries: number[] = []
    await assert.rejects(
      pushImage({docker, image: baseImage, registry: down.url, repo: api, tag: 'down', auth: null, retry: {attempts: 2, baseDelayMs: 100}, onProgress: (e) => e.type === 'retry' && retries.push(e.attempt)}),
      (error) => isMlserveError(error) && error.code === 'MLS_REGISTRY_UNREACHABLE' && /\(2 attempts\)/.test(error.message),
    )
    assert.deepEqual(retries, [1])
    // The tag the failed push made is gone again.
    await assert.rejects(docker.getImage(`${down.url}/${api}:down`).inspect(), (error: {statusCode?: number}) => error.statusCode === 404)
  })

  test('--ci refuses an image that fails the efficiency checks, and pushes nothing', async () => {
    // A layer that writes 2 MB and the next that deletes them: 2 MB wasted.
    const wasteful = trackImage(`${uniqueName('mlserve-push-waste')}:test`)
    const context = mkdtempSync(join(tmpdir(), 'mlserve-push-waste-'))
    try {
      writeFileSync(join(context, 'Dockerfile'), `FROM ${baseImage}\nRUN head -c 2000000 /dev/urandom > /junk\nRUN rm /junk\n`)
      const stream = await docker.buildImage({context, src: ['Dockerfile']}, {t: wasteful, rm: true, forcerm: true, labels: {'dev.mlserve.test': 'true'}})
      const output = await new Promise<Array<{error?: string}>>((resolve, reject) => docker.modem.followProgress(stream, (error, out) => (error ? reject(error) : resolve(out))))
      assert.equal(output.find((event) => event.error), undefined)
    } finally {
      rmSync(context, {recursive: true, force: true})
    }
    await asBuilt(wasteful, 'v4')
    const result = await runCli(['push', api, '--ci', '--highest-wasted-bytes', '1MB'], {env, timeout: 300_000})
    assert.equal(result.exitCode, 1, result.stderr)
    assert.match(result.stderr, /\[MLS_PUSH_CHECKS_FAILED\] .*:v4 fails 2 image checks, so under --ci it was not pushed/)
    assert.match(result.stderr, /highestWastedBytes/)
    assert.equal(await registryDigest(api, 'v4'), null)
  })
})
