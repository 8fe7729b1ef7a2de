// The gateway image's pure parts: the freshness check of dist/, the choice of
// production packages from the lock, the context's parts and the Dockerfile's
// layer order. The build itself runs against the engine in
// test/integration/swarm-gateway-image.test.ts.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {checkDist, contextHash, contextParts, gatewayDockerfile, productionPackages} from '../../src/swarm/gateway-image.js'
import {isMlserveError} from '../../src/errors.js'
import {repoRoot} from '../helpers/cli.js'

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'mlserve-gateway-image-'))
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), {recursive: true})
    writeFileSync(join(root, path), content)
  }
  return root
}

function staleReason(root: string): string {
  try {
    checkDist(root)
  } catch (error) {
    assert.ok(isMlserveError(error))
    assert.equal(error.code, 'MLS_SWARM_GATEWAY_DIST_STALE')
    assert.match(error.suggestion, /npm run build/)
    return error.message
  }
  return 'fresh'
}

test('checkDist: a missing dist/, a source without its compiled file, and a source newer than it are each named', (t) => {
  const root = tree({'src/cli/main.ts': 'x', 'src/swarm/a.ts': 'x', 'src/types.d.ts': 'x'})
  t.after(() => rmSync(root, {recursive: true, force: true}))
  assert.match(staleReason(root), /dist\/ is missing/)

  mkdirSync(join(root, 'dist', 'cli'), {recursive: true})
  writeFileSync(join(root, 'dist', 'cli', 'main.js'), 'x')
  assert.match(staleReason(root), /dist\/ has no dist\/swarm\/a\.js for src\/swarm\/a\.ts/)

  mkdirSync(join(root, 'dist', 'swarm'))
  writeFileSync(join(root, 'dist', 'swarm', 'a.js'), 'x')
  const old = new Date(Date.now() - 60_000)
  utimesSync(join(root, 'dist', 'swarm', 'a.js'), old, old)
  assert.match(staleReason(root), /src\/swarm\/a\.ts changed after dist\/swarm\/a\.js was compiled/)

  utimesSync(join(root, 'dist', 'swarm', 'a.js'), new Date(), new Date())
  // Declaration files compile to nothing, and are not asked for.
  assert.equal(staleReason(root), 'fresh')
})

test('checkDist: an installed mlserve (dist/ and no src/) is taken as it was published', (t) => {
  const root = tree({'dist/cli/main.js': 'x'})
  t.after(() => rmSync(root, {recursive: true, force: true}))
  assert.equal(staleReason(root), 'fresh')
})

test('productionPackages: the lock without dev packages, and only those installed (no other platform\'s optional binaries)', (t) => {
  const root = tree({
    'package-lock.json': JSON.stringify({
      packages: {
        '': {name: 'mlserve'},
        'node_modules/lmdb': {version: '3.5.6'},
        'node_modules/@lmdb/lmdb-linux-x64': {version: '3.5.6', optional: true},
        'node_modules/@lmdb/lmdb-darwin-arm64': {version: '3.5.6', optional: true},
        'node_modules/typescript': {version: '5.9.3', dev: true},
        'node_modules/dockerode/node_modules/tar-fs': {version: '2.1.4'},
      },
    }),
    'node_modules/lmdb/package.json': '{}',
    'node_modules/@lmdb/lmdb-linux-x64/package.json': '{}',
    'node_modules/typescript/package.json': '{}',
    'node_modules/dockerode/node_modules/tar-fs/package.json': '{}',
  })
  t.after(() => rmSync(root, {recursive: true, force: true}))
  assert.deepEqual(productionPackages(root), ['node_modules/@lmdb/lmdb-linux-x64', 'node_modules/dockerode/node_modules/tar-fs', 'node_modules/lmdb'])
})

test("productionPackages: this checkout's lock gives the runtime's dependencies and its platform binaries, and no dev tool", () => {
  const packages = productionPackages(repoRoot)
  for (const name of ['dockerode', 'undici', 'zod', '@oclif/core', 'lmdb', '@lmdb/lmdb-linux-x64']) assert.ok(packages.includes(`node_modules/${name}`), name)
  for (const name of ['typescript', 'tsx', 'esbuild', '@types/dockerode']) assert.ok(!packages.includes(`node_modules/${name}`), name)
})

test('contextParts: the Node binary first, then node_modules, then mlserve\'s own files with the harness where dist resolves it', () => {
  const names = contextParts(repoRoot).map((part) => part.name)
  assert.equal(names[0], 'node/node')
  const lastModule = names.findLastIndex((name) => name.startsWith('modules/'))
  const firstApp = names.findIndex((name) => name.startsWith('app/'))
  assert.ok(lastModule > 0 && firstApp > lastModule)
  for (const name of ['app/package.json', 'app/bin', 'app/dist', 'app/src/runtime/harness/mlserve_harness/__main__.py']) assert.ok(names.includes(name), name)
})

test('gatewayDockerfile: layers from least to most often changed, Node checked in the build, a non-root user and the CLI as entrypoint', () => {
  const lines = gatewayDockerfile('debian:bookworm-slim').split('\n')
  assert.equal(lines[0], 'FROM debian:bookworm-slim')
  const at = (prefix: string) => lines.findIndex((line) => line.startsWith(prefix))
  assert.ok(at('COPY node/node') < at('RUN ["/usr/local/bin/node", "--version"]'))
  assert.ok(at('RUN') < at('COPY modules/node_modules'))
  assert.ok(at('COPY modules/node_modules') < at('COPY app/'))
  assert.equal(lines[at('USER')], 'USER 65534:65534')
  assert.equal(lines[at('ENTRYPOINT')], 'ENTRYPOINT ["/usr/local/bin/node","/opt/mlserve/bin/run.js"]')
})

test('contextHash: changes with a file\'s content and with the base image, not with a file\'s time', async (t) => {
  const root = tree({'a/x.txt': 'one'})
  t.after(() => rmSync(root, {recursive: true, force: true}))
  const parts = [{name: 'app/a', abs: join(root, 'a'), skipNestedModules: false}]
  const first = await contextHash(parts, 'FROM base', 'sha256:1')
  assert.match(first, /^[0-9a-f]{12}$/)
  utimesSync(join(root, 'a', 'x.txt'), new Date(0), new Date(0))
  assert.equal(await contextHash(parts, 'FROM base', 'sha256:1'), first)
  assert.notEqual(await contextHash(parts, 'FROM base', 'sha256:2'), first)
  writeFileSync(join(root, 'a', 'x.txt'), 'two')
  assert.notEqual(await contextHash(parts, 'FROM base', 'sha256:1'), first)
})
