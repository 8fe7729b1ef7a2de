// What every driver's replica shares: readiness as the gateway sees it
// ('ready' / 'unready' / 'slots' events), the loopback origin it serves on,
// restarts with backoff after a crash, and the harness's worker events
// (a worker process down, back, restarted). A driver supplies `launch()`.
import {EventEmitter} from 'node:events'
import type {HarnessEvent} from './harness/index.js'
import {replicaId, type ReplicaSpec, type ReplicaStatus} from './replica.js'

const RESTART_BACKOFF_MS = [1_000, 2_000, 4_000, 8_000, 16_000, 30_000]

export abstract class ReplicaBase extends EventEmitter {
  readonly id: string
  /** The loopback port the replica serves on, once known. */
  protected port: number | null = null
  protected isReady = false
  protected stopping = false
  /** Restarts of the whole replica (a new process group or container); they set the backoff. */
  protected restarts = 0
  /** Worker processes the harness restarted inside the replica. */
  protected workerRestarts = 0
  /** The harness's workers whose predictor is built (python kind). */
  private readyWorkers = new Set<number>()
  private restartTimer: NodeJS.Timeout | null = null

  constructor(
    readonly spec: ReplicaSpec,
    protected readonly log: (line: string) => void,
  ) {
    super()
    this.id = replicaId(spec.api, spec.index)
  }

  get ready(): boolean {
    return this.isReady
  }

  get origin(): string | null {
    return this.port === null ? null : `http://127.0.0.1:${this.port}`
  }

  /** The status every driver reports; `pid` is the driver's own handle (process group, container's host pid). */
  protected baseStatus(pid: number | null): ReplicaStatus {
    return {
      id: this.id,
      api: this.spec.api,
      index: this.spec.index,
      ready: this.isReady,
      origin: this.origin,
      pid,
      restarts: this.restarts + this.workerRestarts,
      workerRestarts: this.workerRestarts,
      processes: this.spec.processes,
      threads: this.spec.threads,
      gpus: this.spec.gpus,
    }
  }

  /** Starts one instance of the replica and resolves once it is ready (rejects with an MlserveError). */
  protected abstract launch(): Promise<void>

  /** A new instance starts: none of its workers is ready yet. */
  protected resetWorkers(): void {
    this.readyWorkers = new Set()
  }

  /**
   * The harness's worker events: the replica's slots follow its live workers,
   * and a worker restart counts in status().restarts.
   */
  protected onWorkerEvent(event: HarnessEvent): void {
    switch (event.event) {
      case 'worker_ready':
        if (typeof event.worker === 'number') this.readyWorkers.add(event.worker)
        if (this.isReady) this.emit('slots', this.readyWorkers.size * this.spec.threads)
        break
      case 'worker_exit':
        if (typeof event.worker === 'number') this.readyWorkers.delete(event.worker)
        if (this.isReady) this.emit('slots', this.readyWorkers.size * this.spec.threads)
        break
      case 'worker_restart':
        this.workerRestarts++
        break
      default:
        break
    }
  }

  protected markReady(): void {
    if (this.isReady) return
    this.isReady = true
    this.emit('ready', this.origin)
    this.emit('slots', this.spec.processes * this.spec.threads)
  }

  protected setUnready(reason: string): void {
    if (this.isReady) {
      this.isReady = false
      this.emit('unready', reason)
    }
  }

  /** Marks the replica as stopping: no restart is scheduled from now on, and a pending one is cancelled. */
  protected beginStop(): void {
    this.stopping = true
    if (this.restartTimer) clearTimeout(this.restartTimer)
    this.restartTimer = null
    this.setUnready('stopping')
  }

  /** After a crash: a new instance after 1 s, doubling to 30 s while restarts keep failing. */
  protected scheduleRestart(what: string): void {
    const delay = RESTART_BACKOFF_MS[Math.min(this.restarts, RESTART_BACKOFF_MS.length - 1)]
    this.restarts++
    this.log(`[${this.id}] ${what}; restarting in ${delay / 1000}s (restart ${this.restarts})`)
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null
      if (this.stopping) return
      this.launch().then(
        () => this.log(`[${this.id}] replica restarted and ready at ${this.origin}`),
        (error: Error) => {
          this.log(`[${this.id}] restart failed: ${error.message}`)
          if (!this.stopping) this.scheduleRestart('the new instance did not become ready')
        },
      )
    }, delay)
  }
}
