// The gateway image against the real engine: built on the local base image
// with the Node runtime carried in, it runs mlserve (`IMAGE --version`), as a
// non-root user, with the production packages only; a second call reuses the
// tag. The base is derived from MLSERVE_TEST_BASE_IMAGE so that this test's
// tag is its own (a deploy test may be using the tag of the plain base).
import {after, before, test} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {execa} from 'execa'
import {ensureGatewayImage} from '../../src/swarm/gateway-image.js'
import {LABELS} from '../../src/docker/index.js'
import {cleanupDocker, deriveBaseImage, docker, requireDocker, trackImage} from '../helpers/docker.js'
import {repoRoot} from '../helpers/cli.js'

const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {version: string}).version
let base = ''

before(async () => {
  await requireDocker()
  base = await deriveBaseImage('true', 'gateway-base')
})
after(cleanupDocker)

async function inImage(tag: string, entrypoint: string, args: string[]): Promise<{stdout: string; stderr: string; exitCode: number}> {
  const result = await execa('docker', ['run', '--rm', '--workdir', '/opt/mlserve', '--entrypoint', entrypoint, tag, ...args], {reject: false})
  return {stdout: String(result.stdout), stderr: String(result.stderr), exitCode: result.exitCode ?? -1}
}

test('ensureGatewayImage builds an image that runs mlserve on the carried Node, then reuses it', {timeout: 300_000}, async () => {
  const lines: string[] = []
  const first = await ensureGatewayImage(docker, {baseImage: base, log: (line) => lines.push(line)})
  trackImage(first.tag)
  assert.equal(first.built, true)
  assert.match(first.tag, new RegExp(`^mlserve-gateway:${version.replaceAll('.', '\\.')}-[0-9a-f]{12}$`))
  assert.match(lines.join('\n'), /built mlserve-gateway:\S+ in [\d.]+ s \(\d+ MB\)/)
  console.log(`gateway image ${first.tag}: ${(first.size / 1e6).toFixed(0)} MB`)

  // The entrypoint is mlserve itself.
  const run = await execa('docker', ['run', '--rm', first.tag, '--version'], {reject: false})
  assert.equal(run.exitCode, 0, String(run.stderr))
  assert.match(String(run.stdout), new RegExp(`^mlserve/${version.replaceAll('.', '\\.')} linux-x64 node-${process.version.replaceAll('.', '\\.')}`))

  // The Node this CLI runs on, not Debian's: the same version.
  assert.equal((await inImage(first.tag, '/usr/local/bin/node', ['--version'])).stdout.trim(), process.version)

  // A non-root user; the harness is where the runtime resolves it from dist; the platform's lmdb binary is there, dev tools are not.
  const probe = await inImage(first.tag, '/bin/sh', [
    '-c',
    'id -u; test -f /opt/mlserve/src/runtime/harness/mlserve_harness/__main__.py && echo harness; test -d /opt/mlserve/node_modules/@lmdb/lmdb-linux-x64 && echo lmdb; test -e /opt/mlserve/node_modules/typescript || echo no-typescript',
  ])
  assert.deepEqual(probe.stdout.trim().split('\n'), ['65534', 'harness', 'lmdb', 'no-typescript'], probe.stderr)
  // The runtime's packages load (dockerode for the autoscaler, undici for the gateway, lmdb's native binding).
  const load = await inImage(first.tag, '/usr/local/bin/node', ['-e', "Promise.all(['dockerode','undici','lmdb'].map((m) => import(m))).then(() => console.log('loaded'))"])
  assert.equal(load.stdout.trim(), 'loaded', load.stderr)

  const labels = (await docker.getImage(first.tag).inspect()).Config.Labels ?? {}
  assert.equal(labels[LABELS.managed], 'true')
  assert.equal(labels[LABELS.version], version)
  assert.equal(labels[LABELS.revision], first.tag.split('-').at(-1))
  assert.equal(labels[LABELS.nodeVersion], process.version)

  const second = await ensureGatewayImage(docker, {baseImage: base, log: (line) => lines.push(line)})
  assert.deepEqual({tag: second.tag, id: second.id, built: second.built}, {tag: first.tag, id: first.id, built: false})
  assert.match(lines.at(-1) ?? '', /is there \(\d+ MB\), reused/)
})

test('a base that is not on the engine is named', async () => {
  await assert.rejects(ensureGatewayImage(docker, {baseImage: 'mlserve-no-such-base:none'}), (error: {code?: string; message: string}) => {
    assert.equal(error.code, 'MLS_SWARM_GATEWAY_BASE_MISSING')
    assert.match(error.message, /mlserve-no-such-base:none/)
    return true
  })
})
