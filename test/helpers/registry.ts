// A real registry for tests: Debian's docker-registry (distribution 2.8) on a
// free loopback port, with htpasswd auth (bcrypt, from apache2-utils'
// htpasswd) and storage in a temporary directory, stopped and removed
// afterwards. The engine treats 127.0.0.0/8 as an insecure registry, so it
// pushes over plain HTTP. Tests never skip when it is missing: they fail
// saying how to install it.
import {spawn, type ChildProcess} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {existsSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa} from 'execa'
import {request} from 'undici'
import {freePort} from '../../src/runtime/ports.js'

export const REGISTRY_BINARY = process.env.MLSERVE_TEST_REGISTRY ?? '/usr/bin/docker-registry'
export const HTPASSWD_BINARY = process.env.MLSERVE_TEST_HTPASSWD ?? '/usr/bin/htpasswd'

export interface TestRegistry {
  /** HOST:PORT, as an environment's registry takes it: 127.0.0.1:PORT. */
  url: string
  port: number
  username: string
  password: string
  /** Where the registry stores blobs and manifests. */
  dataDir: string
  stop: () => Promise<void>
}

/** Starts docker-registry with htpasswd auth and waits until /v2/ answers 401 (auth required: it serves). */
export async function startRegistry(options: {username?: string; password?: string} = {}): Promise<TestRegistry> {
  for (const [binary, name] of [[REGISTRY_BINARY, 'docker-registry'], [HTPASSWD_BINARY, 'apache2-utils (htpasswd)']] as const) {
    if (!existsSync(binary)) {
      throw new Error(`${binary} is missing: the registry tests push to a real registry. Run scripts/setup.sh --with-registry (it installs Debian's docker-registry and apache2-utils), or set MLSERVE_TEST_REGISTRY / MLSERVE_TEST_HTPASSWD; ${name} is needed.`)
    }
  }
  const username = options.username ?? 'mlserve-test'
  const password = options.password ?? randomBytes(12).toString('hex')
  const dir = mkdtempSync(join(tmpdir(), 'mlserve-registry-'))
  const htpasswd = await execa(HTPASSWD_BINARY, ['-Bbn', username, password], {reject: false})
  if (htpasswd.exitCode !== 0) throw new Error(`htpasswd -Bbn failed: ${htpasswd.stderr}`)
  writeFileSync(join(dir, 'htpasswd'), `${htpasswd.stdout.trim()}\n`)
  const port = await freePort()
  const dataDir = join(dir, 'data')
  writeFileSync(
    join(dir, 'config.yml'),
    [
      'version: 0.1',
      'log: {level: warn}',
      `storage: {filesystem: {rootdirectory: ${dataDir}}, delete: {enabled: true}}`,
      `http: {addr: 127.0.0.1:${port}, secret: ${randomBytes(16).toString('hex')}}`,
      `auth: {htpasswd: {realm: mlserve-test, path: ${join(dir, 'htpasswd')}}}`,
      '',
    ].join('\n'),
  )
  const child: ChildProcess = spawn(REGISTRY_BINARY, ['serve', join(dir, 'config.yml')], {stdio: ['ignore', 'ignore', 'pipe']})
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)))
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))])
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
    rmSync(dir, {recursive: true, force: true})
  }
  const until = Date.now() + 15_000
  for (;;) {
    try {
      const response = await request(`http://127.0.0.1:${port}/v2/`, {headersTimeout: 1000})
      await response.body.dump()
      if (response.statusCode === 401) break
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || Date.now() > until) {
      await stop()
      throw new Error(`docker-registry did not start on 127.0.0.1:${port}:\n${stderr}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return {url: `127.0.0.1:${port}`, port, username, password, dataDir, stop}
}
