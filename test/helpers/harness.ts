// Starts the real Python harness (the package src/runtime/harness/mlserve_harness/) on
// port 0, reads its events from fd 3, and talks HTTP to it on 127.0.0.1.
// Every process started here is remembered, so that killAllHarnesses() in an
// after/afterEach hook can SIGKILL the master and every worker it reported.
import {spawn, type ChildProcess} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {request as httpRequest, type Agent} from 'node:http'
import {connect, type Socket} from 'node:net'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {harnessPath} from '../../src/runtime/harness/index.js'

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export {harnessPath}
export const fixturesDir = join(repoRoot, 'test', 'fixtures', 'predictors')
/** The interpreter under test: pyenv's python3 (standard library only) unless overridden. */
export const python = process.env.MLSERVE_TEST_PYTHON || 'python3'

export interface HarnessEvent {
  event: string
  [key: string]: unknown
}

export interface StartOptions {
  predictor: string
  processes?: number
  threads?: number
  config?: unknown
  batchMaxSize?: number
  batchIntervalMs?: number
  keepaliveS?: number
  maxBodyBytes?: number
  statusFile?: string
  extraArgs?: string[]
  env?: NodeJS.ProcessEnv
  /** Pass no serve flags at all (configuration through env). */
  noFlags?: boolean
  /** Resolve once `ready` arrives (default), or right after spawn. */
  waitReady?: boolean
  readyTimeoutMs?: number
}

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}

const live = new Set<Harness>()

export class Harness {
  readonly child: ChildProcess
  readonly events: HarnessEvent[] = []
  stderr = ''
  stdout = ''
  exited: Exit | null = null
  readonly exit: Promise<Exit>
  private waiters: Array<() => void> = []

  constructor(args: string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(python, [harnessPath, ...args], {
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
      env: {...process.env, ...env},
    })
    live.add(this)
    this.child.stdout!.on('data', (d: Buffer) => {
      this.stdout += d.toString()
    })
    this.child.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString()
      this.notify()
    })
    let pending = ''
    const events = this.child.stdio[3] as NodeJS.ReadableStream
    events.on('data', (d: Buffer) => {
      pending += d.toString()
      let nl: number
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl)
        pending = pending.slice(nl + 1)
        if (line.trim()) this.events.push(JSON.parse(line) as HarnessEvent)
      }
      this.notify()
    })
    events.on('error', () => {})
    this.child.stdin!.on('error', () => {})
    this.exit = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exited = {code, signal}
        resolve(this.exited)
        this.notify()
      })
    })
  }

  private notify(): void {
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
  }

  /** Resolves with the first event (from the start) that matches; rejects on timeout or exit. */
  async waitFor(match: string | ((e: HarnessEvent) => boolean), timeoutMs = 15_000): Promise<HarnessEvent> {
    const pred = typeof match === 'string' ? (e: HarnessEvent) => e.event === match : match
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = this.events.find(pred)
      if (found) return found
      if (this.exited) {
        throw new Error(`harness exited (${JSON.stringify(this.exited)}) before the event; stderr:\n${this.stderr}`)
      }
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out waiting for an event; events: ${JSON.stringify(this.events)}; stderr:\n${this.stderr}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 250))
        this.waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  get port(): number {
    const listening = this.events.find((e) => e.event === 'listening')
    if (!listening) throw new Error('no listening event yet')
    return listening.port as number
  }

  get masterPid(): number {
    return this.child.pid!
  }

  /** Every worker pid the harness reported (ready, restarted, failed). */
  get workerPids(): number[] {
    const pids = new Set<number>()
    for (const e of this.events) {
      if (typeof e.pid === 'number' && e.event !== 'listening' && e.event !== 'ready') pids.add(e.pid)
      if (Array.isArray(e.pids)) for (const p of e.pids) pids.add(p as number)
    }
    return [...pids]
  }

  async waitExit(timeoutMs = 15_000): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`harness did not exit within ${timeoutMs} ms; stderr:\n${this.stderr}`)), timeoutMs)
    })
    try {
      return await Promise.race([this.exit, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  kill(): void {
    for (const pid of [this.masterPid, ...this.workerPids]) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  }
}

export function buildArgs(opts: StartOptions): string[] {
  if (opts.noFlags) return ['serve', ...(opts.extraArgs ?? [])]
  const args = [
    'serve',
    '--host', '127.0.0.1',
    '--port', '0',
    '--processes', String(opts.processes ?? 1),
    '--threads', String(opts.threads ?? 1),
    '--project-dir', join(fixturesDir, opts.predictor),
    '--predictor', 'predictor.py',
    '--events-fd', '3',
    '--name', opts.predictor.replace(/_/g, '-'),
  ]
  if (opts.config !== undefined) args.push('--config-json', JSON.stringify(opts.config))
  if (opts.batchMaxSize !== undefined) args.push('--batch-max-size', String(opts.batchMaxSize))
  if (opts.batchIntervalMs !== undefined) args.push('--batch-interval-ms', String(opts.batchIntervalMs))
  if (opts.keepaliveS !== undefined) args.push('--keepalive-s', String(opts.keepaliveS))
  if (opts.maxBodyBytes !== undefined) args.push('--max-body-bytes', String(opts.maxBodyBytes))
  if (opts.statusFile !== undefined) args.push('--status-file', opts.statusFile)
  return [...args, ...(opts.extraArgs ?? [])]
}

export async function startHarness(opts: StartOptions): Promise<Harness> {
  const harness = new Harness(buildArgs(opts), opts.env ?? {})
  if (opts.waitReady !== false) await harness.waitFor('ready', opts.readyTimeoutMs ?? 20_000)
  return harness
}

/** SIGKILLs every harness started so far (masters and reported workers). */
export async function killAllHarnesses(): Promise<void> {
  const all = [...live]
  live.clear()
  for (const h of all) h.kill()
  await Promise.all(all.map((h) => Promise.race([h.exit, new Promise((r) => setTimeout(r, 2000))])))
}

/** True while the process runs; a zombie (dead, not yet reaped by whoever adopted it) counts as gone. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return process.platform !== 'linux'
  }
}

export async function waitUntil(check: () => boolean, timeoutMs: number, stepMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (check()) return true
    await new Promise((r) => setTimeout(r, stepMs))
  }
  return check()
}

export interface HttpResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
  text: string
  json: () => any
}

/** One request on a fresh connection (agent: false, so `Connection: close`). */
export function httpCall(
  port: number,
  opts: {method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer; timeoutMs?: number; agent?: Agent} = {},
): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: opts.method ?? 'POST',
        path: opts.path ?? '/predict',
        headers: opts.headers ?? {},
        agent: opts.agent ?? false,
        timeout: opts.timeoutMs ?? 30_000,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const body = Buffer.concat(chunks)
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            text: body.toString(),
            json: () => JSON.parse(body.toString()),
          })
        })
        res.on('error', reject)
      },
    )
    req.on('timeout', () => req.destroy(new Error('request timed out')))
    req.on('error', reject)
    if (opts.body !== undefined) req.end(opts.body)
    else req.end()
  })
}

export function postJson(port: number, payload: unknown, extra: {path?: string; headers?: Record<string, string>; agent?: Agent} = {}): Promise<HttpResponse> {
  return httpCall(port, {
    agent: extra.agent,
    path: extra.path ?? '/predict',
    headers: {'content-type': 'application/json', ...(extra.headers ?? {})},
    body: JSON.stringify(payload),
  })
}

export interface RawResponse {
  status: number
  headers: Record<string, string>
  body: Buffer
}

/** A raw TCP connection that reads HTTP/1.1 responses one at a time (keep-alive, pipelining). */
export class RawConnection {
  private buf = Buffer.alloc(0)
  private wake: (() => void) | null = null
  closed = false

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d])
      this.wake?.()
    })
    const onClose = () => {
      this.closed = true
      this.wake?.()
    }
    socket.on('close', onClose)
    socket.on('error', onClose)
  }

  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({host: '127.0.0.1', port}, () => resolve(new RawConnection(socket)))
      socket.once('error', reject)
    })
  }

  write(data: string | Buffer): void {
    this.socket.write(data)
  }

  private async waitData(deadline: number): Promise<void> {
    const left = deadline - Date.now()
    if (left <= 0) throw new Error(`timed out; have ${JSON.stringify(this.buf.toString())}`)
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, left)
      this.wake = () => {
        clearTimeout(timer)
        this.wake = null
        resolve()
      }
    })
  }

  /** Reads the next complete response (Content-Length framed). */
  async readResponse(timeoutMs = 10_000): Promise<RawResponse> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n')
      if (end >= 0) {
        const head = this.buf.subarray(0, end).toString('latin1').split('\r\n')
        const status = Number(head[0]!.split(' ')[1])
        const headers: Record<string, string> = {}
        for (const line of head.slice(1)) {
          const i = line.indexOf(':')
          headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim()
        }
        const length = Number(headers['content-length'] ?? 0)
        if (status === 100) {
          this.buf = this.buf.subarray(end + 4)
          return {status, headers, body: Buffer.alloc(0)}
        }
        if (this.buf.length >= end + 4 + length) {
          const body = this.buf.subarray(end + 4, end + 4 + length)
          this.buf = this.buf.subarray(end + 4 + length)
          return {status, headers, body}
        }
      }
      if (this.closed) throw new Error(`connection closed; have ${JSON.stringify(this.buf.toString())}`)
      await this.waitData(deadline)
    }
  }

  /** Resolves true when the server closes the connection within the time. */
  async waitClosed(timeoutMs = 5_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    while (!this.closed && Date.now() < deadline) {
      try {
        await this.waitData(deadline)
      } catch {
        break
      }
    }
    return this.closed
  }

  close(): void {
    this.socket.destroy()
  }
}

export function rawPost(path: string, body: string, headers: Record<string, string> = {}): string {
  const lines = [`POST ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`]
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`)
  return lines.join('\r\n') + '\r\n\r\n' + body
}
