// A real Redis for tests: Debian's redis-server on a free loopback port with
// a temporary directory, stopped and removed afterwards. Tests never skip
// when it is missing: they fail saying how to install it.
import {spawn, type ChildProcess} from 'node:child_process'
import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Redis} from 'ioredis'
import {freePort} from '../../src/runtime/ports.js'

export const REDIS_SERVER = process.env.MLSERVE_TEST_REDIS_SERVER ?? '/usr/bin/redis-server'

export interface TestRedis {
  url: string
  port: number
  /** A client for checks (closed by stop). */
  client: Redis
  stop: () => Promise<void>
}

/** Starts redis-server (append-only file, fsync always: nothing acknowledged is lost) and waits until it answers PING. */
export async function startRedis(): Promise<TestRedis> {
  if (!existsSync(REDIS_SERVER)) {
    throw new Error(`${REDIS_SERVER} is missing: the async tests run against a real Redis. Run scripts/setup.sh --with-redis (it installs Debian's redis-server), or set MLSERVE_TEST_REDIS_SERVER to a redis-server binary.`)
  }
  const dir = mkdtempSync(join(tmpdir(), 'mlserve-redis-'))
  const port = await freePort()
  const child: ChildProcess = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--protected-mode', 'yes'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const url = `redis://127.0.0.1:${port}`
  const client = new Redis(url, {lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 100})
  client.on('error', () => undefined)
  const until = Date.now() + 15_000
  for (;;) {
    try {
      if (client.status === 'wait') await client.connect()
      if ((await client.ping()) === 'PONG') break
    } catch {
      // not up yet
    }
    if (child.exitCode !== null || Date.now() > until) {
      child.kill('SIGKILL')
      client.disconnect()
      rmSync(dir, {recursive: true, force: true})
      throw new Error(`redis-server did not start on port ${port}: ${stderr || `exit code ${child.exitCode}`}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    url,
    port,
    client,
    stop: async () => {
      client.disconnect()
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve))
        child.kill('SIGTERM')
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))])
        if (child.exitCode === null) child.kill('SIGKILL')
      }
      rmSync(dir, {recursive: true, force: true})
    },
  }
}
