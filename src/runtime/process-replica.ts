// The process driver: a replica is a local process group. For `python`
// predictors that is mlserve's worker harness (a master forking
// processes_per_replica workers of threads_per_process threads); for `command`
// predictors it is the user's HTTP server, given $PORT.
import {existsSync} from 'node:fs'
import {createInterface} from 'node:readline'
import type {Readable, Writable} from 'node:stream'
import {execa} from 'execa'
import {checkReadiness} from './readiness-check.js'
import {mlserveError, type MlserveError} from '../errors.js'
import {formatCpuList, pinnedArgv} from './cpus.js'
import {launchArgs, serveArgs, type HarnessEvent} from './harness/index.js'
import {ensureInterpreter} from './interpreter.js'
import {freePort} from './ports.js'
import {signalGroup, trackProcessGroup, untrackProcessGroup} from './reaper.js'
import type {Replica, ReplicaSpec, ReplicaStatus} from './replica.js'
import {ReplicaBase} from './replica-base.js'

const STOP_GRACE_MS = 15_000
const STDERR_TAIL_LINES = 60
/** util-linux's setpriv arms the parent-death signal for a command server; MLSERVE_SETPRIV moves it (tests hide it). */
const setprivPath = (): string => process.env.MLSERVE_SETPRIV || '/usr/bin/setpriv'

export interface ProcessReplicaOptions {
  /** Receives each line the replica prints, already prefixed with the replica id. */
  log: (line: string) => void
}

export class ProcessReplica extends ReplicaBase implements Replica {
  private stdin: Writable | null = null
  private running = false
  private pgid: number | null = null
  private readonly stderrTail: string[] = []
  private exited: Promise<void> = Promise.resolve()

  constructor(spec: ReplicaSpec, options: ProcessReplicaOptions) {
    super(spec, options.log)
  }

  async start(): Promise<void> {
    this.stopping = false
    await this.launch()
  }

  async stop(options: {force?: boolean} = {}): Promise<void> {
    this.beginStop()
    const pgid = this.pgid
    if (!this.running || pgid === null) return
    this.stdin?.end()
    signalGroup(pgid, options.force ? 'SIGKILL' : 'SIGTERM')
    const killer = setTimeout(() => signalGroup(pgid, 'SIGKILL'), STOP_GRACE_MS)
    await this.exited
    clearTimeout(killer)
    // A command server may leave helpers behind in its group; nothing outlives the replica.
    signalGroup(pgid, 'SIGKILL')
    untrackProcessGroup(pgid)
  }

  status(): ReplicaStatus {
    return this.baseStatus(this.pgid)
  }

  protected async launch(): Promise<void> {
    const {spec} = this
    const {file, args, env, port} = await this.command()
    this.port = port
    this.resetWorkers()
    this.stderrTail.length = 0

    const child = execa(file, args, {
      cwd: spec.projectDir,
      env,
      extendEnv: true,
      stdio: ['pipe', 'pipe', 'pipe', spec.kind === 'python' ? 'pipe' : 'ignore'],
      detached: true,
      buffer: false,
      reject: false,
      cleanup: false,
    })
    this.stdin = child.stdin
    this.running = true
    this.pgid = child.pid ?? null
    if (this.pgid !== null) trackProcessGroup(this.pgid)
    this.forwardLines(child.stdout, false)
    this.forwardLines(child.stderr, true)

    let loadFailure: string | null = null
    let settle: ((error?: MlserveError) => void) | null = null
    const started = new Promise<void>((resolve, reject) => {
      settle = (error) => {
        settle = null
        if (error) reject(error)
        else resolve()
      }
    })

    const onEvent = (event: HarnessEvent): void => {
      switch (event.event) {
        case 'listening':
          this.port = event.port ?? null
          break
        case 'ready':
          this.markReady()
          settle?.()
          break
        case 'load_failed':
          loadFailure = event.traceback ?? 'the predictor failed to load'
          break
        default:
          this.onWorkerEvent(event)
          break
      }
    }
    const events = child.stdio[3] as Readable | null | undefined
    if (events) {
      createInterface({input: events}).on('line', (line) => {
        try {
          onEvent(JSON.parse(line) as HarnessEvent)
        } catch {
          // not an event line; ignore
        }
      })
    }

    this.exited = child.then((result) => {
      const wasReady = this.isReady
      if (this.pgid !== null && !this.stopping) {
        signalGroup(this.pgid, 'SIGKILL')
        untrackProcessGroup(this.pgid)
      }
      this.running = false
      this.stdin = null
      this.setUnready('exited')
      const how = result.signal ? `signal ${result.signal}` : `exit code ${result.exitCode}`
      if (settle) {
        const reason = loadFailure ? lastLine(loadFailure) : `the process ended (${how}) before it was ready`
        settle(
          mlserveError(
            'MLS_REPLICA_START_FAILED',
            {api: spec.api, replica: spec.index, reason},
            {details: this.stderrTail.slice(-20)},
          ),
        )
        return
      }
      if (!this.stopping && wasReady) {
        this.scheduleRestart(`replica exited (${how})`)
      }
    })

    const timer = setTimeout(() => {
      if (!settle) return
      settle(mlserveError('MLS_READINESS_TIMEOUT', {api: spec.api, seconds: Math.round(spec.readinessTimeoutMs / 1000)}))
      if (this.pgid !== null) signalGroup(this.pgid, 'SIGKILL')
    }, spec.readinessTimeoutMs)

    if (spec.kind === 'command') void this.pollReadiness(() => settle !== null, () => {
      this.markReady()
      settle?.()
    })

    try {
      await started
    } catch (error) {
      // Never leave a half-started replica behind.
      if (this.pgid !== null) signalGroup(this.pgid, 'SIGKILL')
      await this.exited
      throw error
    } finally {
      clearTimeout(timer)
    }
  }

  private async pollReadiness(pending: () => boolean, onReady: () => void): Promise<void> {
    const url = `${this.origin}${this.spec.readinessPath}`
    while (pending() && this.running) {
      // Not listening yet reads as unreachable.
      const answer = await checkReadiness(url, 2_000)
      if (typeof answer === 'number' && answer >= 200 && answer < 300) {
        onReady()
        return
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }

  private forwardLines(stream: Readable | null | undefined, isStderr: boolean): void {
    if (!stream) return
    createInterface({input: stream}).on('line', (line) => {
      if (isStderr) {
        this.stderrTail.push(line)
        if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.shift()
      }
      this.log(`[${this.id}] ${line}`)
    })
  }

  private async command(): Promise<{file: string; args: string[]; env: Record<string, string>; port: number | null}> {
    const {spec} = this
    const env: Record<string, string> = {
      ...spec.env,
      PYTHONUNBUFFERED: '1',
      MLSERVE_API: spec.api,
      // Where a command server binds: loopback here; a container binds 0.0.0.0.
      MLSERVE_HOST: '127.0.0.1',
      MLSERVE_REPLICA: String(spec.index),
      MLSERVE_PYTHON: spec.interpreter,
      MLSERVE_PROCESSES: String(spec.processes),
      MLSERVE_THREADS: String(spec.threads),
    }
    if (spec.gpus.length > 0) env.CUDA_VISIBLE_DEVICES = spec.gpus.join(',')

    if (spec.kind === 'python') {
      const argv = this.pinned([spec.interpreter, ...serveArgs(spec)])
      return {file: argv[0], args: argv.slice(1), env, port: null}
    }

    const port = await freePort()
    env.PORT = String(port)
    env.WEB_CONCURRENCY = String(spec.processes)
    const command = spec.command ?? ''
    let argv: string[]
    if (Array.isArray(command)) {
      argv = command.map((part) => part.replaceAll('${PORT}', String(port)).replaceAll('$PORT', String(port)))
    } else {
      // `exec` lets the server replace the shell, so signals and the parent-death
      // signal reach it directly; compound commands keep their shell.
      argv = ['/bin/sh', '-c', /[;&|\n]/.test(command) ? command : `exec ${command}`]
    }
    argv = this.pinned(await this.withLifeline(argv))
    return {file: argv[0], args: argv.slice(1), env, port}
  }

  /** The replica's command under its CPU affinity (spec.cpus), which every worker it forks inherits. */
  private pinned(argv: string[]): string[] {
    const {cpus} = this.spec
    if (!cpus || cpus.length === 0) return argv
    const pinned = pinnedArgv(argv, cpus)
    if (pinned) return pinned
    this.log(`[${this.id}] taskset (util-linux) is not installed: the replica runs on every CPU, not CPUs ${formatCpuList(cpus)}`)
    return argv
  }

  /**
   * The command, wrapped so that the server stops even if mlserve is SIGKILLed:
   * setpriv's parent-death signal, or where there is no setpriv, the harness's
   * `launch` (prctl then exec, or a watchdog on mlserve's stdin pipe).
   */
  private async withLifeline(argv: string[]): Promise<string[]> {
    const setpriv = setprivPath()
    if (existsSync(setpriv)) return [setpriv, '--pdeathsig', 'TERM', '--', ...argv]
    try {
      await ensureInterpreter(this.spec.interpreter, this.spec.api)
    } catch {
      this.log(`[${this.id}] neither ${setpriv} nor ${this.spec.interpreter} is here: if mlserve is killed (SIGKILL), this server keeps running`)
      return argv
    }
    return [this.spec.interpreter, ...launchArgs(argv)]
  }
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n')
  return lines[lines.length - 1] ?? text
}
