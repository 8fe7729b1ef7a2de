// Shared pieces of the benchmarks: a no-op backend, wrk runs and their parsing,
// HAProxy with the same admission control as a replica, and process cleanup.
// Benchmarks send load only to 127.0.0.1, bounded in time.
import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {readFileSync, writeFileSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa, type ResultPromise} from 'execa'

export interface WrkResult {
  requestsPerSec: number
  p50Ms: number
  p99Ms: number
  non2xx: number
  errors: number
}

const POST_LUA = `wrk.method = "POST"
wrk.body = '{"x": 1}'
wrk.headers["Content-Type"] = "application/json"
`

let luaDir: string | null = null
function postScript(): string {
  if (!luaDir) {
    luaDir = mkdtempSync(join(tmpdir(), 'mlserve-bench-'))
    writeFileSync(join(luaDir, 'post.lua'), POST_LUA)
    process.on('exit', () => luaDir && rmSync(luaDir, {recursive: true, force: true}))
  }
  return join(luaDir, 'post.lua')
}

function toMs(value: string, unit: string): number {
  const n = Number(value)
  if (unit === 'us') return n / 1000
  if (unit === 's') return n * 1000
  if (unit === 'm') return n * 60_000
  return n
}

export function parseWrk(output: string): WrkResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(output)
  const p50 = /^\s+50%\s+([\d.]+)(us|ms|s|m)$/m.exec(output)
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s|m)$/m.exec(output)
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(output)
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output)
  if (!rps || !p50 || !p99) throw new Error(`cannot parse wrk output:\n${output}`)
  return {
    requestsPerSec: Number(rps[1]),
    p50Ms: toMs(p50[1], p50[2]),
    p99Ms: toMs(p99[1], p99[2]),
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    errors: socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
  }
}

/** Closed-loop wrk with a small JSON POST body, as a predict request. */
export async function wrk(url: string, options: {connections: number; durationS: number; threads?: number}): Promise<WrkResult> {
  const {stdout} = await execa('wrk', [
    `-t${options.threads ?? 1}`,
    `-c${options.connections}`,
    `-d${options.durationS}s`,
    '--latency',
    '-s',
    postScript(),
    url,
  ])
  return parseWrk(stdout)
}

export interface BenchServer {
  url: string
  port: number
  pid: number
  stop: () => Promise<void>
}

/** A Node script of bench/ in its own process, which prints the port it listens on. */
export async function startScript(script: string, args: string[] = []): Promise<BenchServer> {
  const child = execa(process.execPath, [new URL(script, import.meta.url).pathname, ...args], {reject: false})
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())))
    child.once('exit', () => reject(new Error(`${script} exited`)))
  })
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGTERM')
      await child
    },
  }
}

/** A no-op JSON backend in its own process: the fastest replica there can be, so a proxy in front is the bottleneck. */
export const noopBackend = (): Promise<BenchServer> => startScript('./noop-backend.mjs')

/** CPU time (user + system, all threads) a process has used so far, from /proc. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name, which may hold spaces, start after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticksPerSecond = 100
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond
}

/**
 * HAProxy with the same admission control as a replica: `maxconn` caps what
 * runs at once, and the backend queue is cut off at `queueLimit` with a 503.
 * Idle server connections are purged after 1 s: mlserve's harness gives each
 * connection a thread, so idle ones kept by one proxy would starve the next
 * path measured against the same replica.
 */
export async function startHaproxy(backendPort: number, options: {slots: number; queueLimit: number}): Promise<{url: string; pid: number; stop: () => Promise<void>}> {
  const dir = mkdtempSync(join(tmpdir(), 'mlserve-haproxy-'))
  const listen = await freeLoopbackPort()
  const config = `global
  maxconn 4096
  nbthread 1
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout queue 60s
  option http-keep-alive
  http-reuse always
frontend gw
  bind 127.0.0.1:${listen}
  default_backend replica
backend replica
  http-request return status 503 hdr Retry-After 1 if { queue(replica) ge ${options.queueLimit} }
  server s1 127.0.0.1:${backendPort} maxconn ${options.slots} pool-purge-delay 1s
`
  const file = join(dir, 'haproxy.cfg')
  writeFileSync(file, config)
  const child: ResultPromise = execa('haproxy', ['-f', file, '-db'], {reject: false, stdio: 'ignore'})
  await waitForPort(listen)
  return {
    url: `http://127.0.0.1:${listen}`,
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGTERM')
      await child
      rmSync(dir, {recursive: true, force: true})
    },
  }
}

export async function freeLoopbackPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const {connect} = await import('node:net')
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`port ${port} did not open`)
}

/** The value after `name` on the command line (`--rounds 3`), or undefined when it is not there. */
export function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name)
  return i === -1 ? undefined : process.argv[i + 1]
}

export const ratio = (a: number, b: number): string => (b === 0 ? 'n/a' : `${(a / b).toFixed(2)}×`)

export function machine(): string {
  return `${process.platform}/${process.arch}, node ${process.version}`
}

/** Pins every thread of a process to one core (taskset), so a measured party does not share it with the others. */
export async function pinToCore(pid: number, core: number): Promise<void> {
  await execa('taskset', ['-a', '-p', '-c', String(core), String(pid)], {stdout: 'ignore'})
}

/** Pins every process of a process group (a replica: its supervisor and workers) to one core. */
export async function pinGroupToCore(pgid: number, core: number): Promise<void> {
  const {stdout} = await execa('pgrep', ['-g', String(pgid)], {reject: false})
  for (const pid of stdout.split(/\s+/).filter(Boolean)) await pinToCore(Number(pid), core).catch(() => undefined)
}

/** A `mlserve run` the bench started through the CLI, with its status once ready. */
export interface ServedRun<S> {
  url: string
  pid: number
  status: S
  stop: () => Promise<void>
}

/**
 * Waits for a started `mlserve run` to print its URL (Ready: http://…); `log`
 * reads all it has written to stderr so far. Rejects, with that stderr, when it
 * exits first.
 */
export async function untilReady(child: ResultPromise): Promise<{url: string; log: () => string}> {
  let stderr = ''
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
      const match = /Ready: (http\S+)/m.exec(stderr)
      if (match) resolve(match[1])
    })
    void child.then(() => reject(new Error(`mlserve run exited:\n${stderr}`)))
  })
  return {url, log: () => stderr}
}

/** `mlserve run DIR --port 0` through the CLI at `cli`, as a user starts it, once ready (DIR is its state dir too). */
export async function startRun(cli: string, dir: string): Promise<{child: ResultPromise; url: string; log: () => string}> {
  const child = execa(process.execPath, [cli, 'run', dir, '--port', '0'], {reject: false, env: {NO_COLOR: '1', MLSERVE_STATE_DIR: dir}})
  return {child, ...(await untilReady(child))}
}

/**
 * `mlserve run DIR --port 0` through the CLI at `cli` (startRun), with GET
 * /status. `stop` sends Ctrl-C, waits for it to end, and removes DIR.
 */
export async function serveProject<S>(cli: string, dir: string): Promise<ServedRun<S>> {
  const {child, url} = await startRun(cli, dir)
  const response = await fetch(`${url}/status`)
  const status = (await response.json()) as S
  return {
    url,
    pid: child.pid!,
    status,
    stop: async () => {
      child.kill('SIGINT')
      await child
      rmSync(dir, {recursive: true, force: true})
    },
  }
}
