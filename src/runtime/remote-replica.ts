// One replica that runs elsewhere (a Swarm task, a pod's model container),
// known by its address alone. Whoever runs it (Swarm, Kubernetes) starts,
// restarts and stops it; the gateway only asks whether it serves: start()
// polls its readiness route until it answers 200, and a slower check keeps
// going for as long as the replica is routed, so a task that turns unhealthy
// leaves routing and comes back once it answers again.
import {EventEmitter} from 'node:events'
import {mlserveError} from '../errors.js'
import {checkReadiness} from './readiness-check.js'
import {replicaId, type Replica, type ReplicaSpec, type ReplicaStatus} from './replica.js'

export interface RemoteReplicaOptions {
  /** Where it serves: http://10.0.1.7:8080. */
  origin: string
  log: (line: string) => void
  /** Pause between readiness polls while it starts (default 250 ms). */
  startIntervalMs?: number
  /** Pause between checks once started, ready or not (default 2 s). */
  checkIntervalMs?: number
  /** Failed checks in a row that take a ready replica out of routing (default 2). */
  failuresToUnready?: number
  /** How long one check may take (default 2 s); a slower answer counts as busy, not as a failure. */
  probeTimeoutMs?: number
}

/** What one readiness check found: 200 (serving), anything else or no connection (failing), or no answer in time (busy: its threads are all taken). */
type Check = 'serving' | 'failing' | 'busy'

export class RemoteReplica extends EventEmitter implements Replica {
  readonly id: string
  readonly origin: string
  private isReady = false
  private stopped = false
  private timer: NodeJS.Timeout | null = null
  /** A start() still waiting for readiness: stop() settles it, since no poll follows. */
  private abandonStart: (() => void) | null = null
  private failures = 0
  /** Times it left routing after failed checks: what a local replica's restarts say. */
  private lapses = 0
  private readonly startIntervalMs: number
  private readonly checkIntervalMs: number
  private readonly failuresToUnready: number
  private readonly probeTimeoutMs: number
  private readonly log: (line: string) => void

  constructor(
    readonly spec: ReplicaSpec,
    options: RemoteReplicaOptions,
  ) {
    super()
    this.id = replicaId(spec.api, spec.index)
    this.origin = options.origin.replace(/\/+$/, '')
    this.log = options.log
    this.startIntervalMs = options.startIntervalMs ?? 250
    this.checkIntervalMs = options.checkIntervalMs ?? 2_000
    this.failuresToUnready = options.failuresToUnready ?? 2
    this.probeTimeoutMs = options.probeTimeoutMs ?? 2_000
  }

  get ready(): boolean {
    return this.isReady
  }

  /**
   * Resolves once the readiness route answers 200, or rejects with
   * MLS_READINESS_TIMEOUT after spec.readinessTimeoutMs; either way the slow
   * checks go on until stop(), so a late replica still joins routing.
   */
  start(): Promise<void> {
    const until = Date.now() + this.spec.readinessTimeoutMs
    return new Promise<void>((resolve, reject) => {
      let settled = false
      const settle = (error: Error | null): void => {
        if (settled) return
        settled = true
        this.abandonStart = null
        if (error) reject(error)
        else resolve()
      }
      this.abandonStart = () => settle(mlserveError('MLS_REPLICA_START_FAILED', {api: this.spec.api, replica: this.spec.index, reason: `it was stopped before ${this.origin} answered ready`}))
      const poll = async (): Promise<void> => {
        this.timer = null
        const check = await this.check()
        // stop() came meanwhile: it settled the start, and no poll follows.
        if (this.stopped) return
        this.follow(check)
        if (this.isReady) settle(null)
        else if (Date.now() >= until) settle(mlserveError('MLS_READINESS_TIMEOUT', {api: this.spec.api, seconds: Math.round(this.spec.readinessTimeoutMs / 1000)}))
        this.timer = setTimeout(() => void poll(), settled ? this.checkIntervalMs : this.startIntervalMs)
      }
      if (this.stopped) this.abandonStart()
      else void poll()
    })
  }

  /** Stops checking; the replica itself is its engine's to stop. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    this.abandonStart?.()
    this.setUnready('stopping')
  }

  status(): ReplicaStatus {
    return {
      id: this.id,
      api: this.spec.api,
      index: this.spec.index,
      ready: this.isReady,
      origin: this.origin,
      pid: null,
      restarts: this.lapses,
      workerRestarts: 0,
      processes: this.spec.processes,
      threads: this.spec.threads,
      gpus: this.spec.gpus,
    }
  }

  /** Moves readiness by one check: one 200 makes it ready; `failuresToUnready` failures in a row take it out. */
  private follow(check: Check): void {
    if (check === 'serving') {
      this.failures = 0
      if (!this.isReady) {
        this.isReady = true
        if (this.lapses > 0) this.log(`[${this.id}] ${this.origin} answers ready again; back in routing`)
        this.emit('ready', this.origin)
        this.emit('slots', this.spec.processes * this.spec.threads)
      }
      return
    }
    if (check === 'busy') return
    this.failures++
    if (this.isReady && this.failures >= this.failuresToUnready) {
      this.lapses++
      this.log(`[${this.id}] ${this.origin} failed ${this.failures} readiness checks in a row; out of routing until it answers again`)
      this.setUnready('readiness checks failed')
    }
  }

  private setUnready(reason: string): void {
    if (!this.isReady) return
    this.isReady = false
    this.emit('unready', reason)
  }

  private async check(): Promise<Check> {
    const answer = await checkReadiness(this.origin + this.spec.readinessPath, this.probeTimeoutMs)
    return answer === 'busy' ? 'busy' : answer === 200 ? 'serving' : 'failing'
  }
}
