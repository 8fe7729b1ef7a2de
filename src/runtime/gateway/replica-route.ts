// The gateway's side of one replica: its admission controller, its keep-alive
// pool (one connection per slot) and its metrics. It follows the replica's
// lifecycle events; a replica with no slots (not ready, or every worker down)
// is not routable, and the requests waiting on it are evicted at once so the
// exchange can place them on another replica.
import {Pool, request} from 'undici'
import {AdmissionController} from '../admission.js'
import type {RequestObserver, RuntimeMetrics} from '../metrics.js'
import type {Replica} from '../replica.js'

/** How long a health probe of a suspect replica may take, and the pause between probes. */
const PROBE_TIMEOUT_MS = 500
const PROBE_INTERVAL_MS = 250

export class ReplicaRoute {
  pool: Pool | null = null
  /** A probe loop runs: a connection failed, and no slot is granted until the replica answers its health check. */
  private suspected = false
  readonly admission: AdmissionController
  readonly observer: RequestObserver

  constructor(
    readonly replica: Replica,
    maxConcurrency: number,
    metrics: RuntimeMetrics,
    readonly api: string,
  ) {
    const slots = replica.spec.processes * replica.spec.threads
    this.admission = new AdmissionController(slots, maxConcurrency)
    this.observer = metrics.observer(api, replica.id)
    metrics.addReplica({
      api,
      replica: replica.id,
      running: () => this.admission.runningCount,
      queued: () => this.admission.queuedCount,
      shed: () => this.admission.shedTotal,
      ready: () => this.isRoutable,
    })
    replica.on('ready', (origin: string) => this.connect(origin))
    replica.on('unready', () => this.disconnect())
    replica.on('slots', (n: number) => this.setSlots(n))
    if (replica.ready && replica.origin) this.connect(replica.origin)
  }

  get id(): string {
    return this.replica.id
  }

  get predictPath(): string {
    return this.replica.spec.predictPath
  }

  /** Takes traffic: connected, with at least one live worker slot. */
  get isRoutable(): boolean {
    return this.pool !== null && this.admission.capacity > 0
  }

  /**
   * A connection to the replica was refused: its process may be dead while
   * its driver has not said so yet. Grant no
   * slot until its health check answers; while it does not, its queue moves to
   * other replicas. The driver's own 'unready'/'ready' events end the probing.
   */
  suspect(): void {
    if (this.suspected || this.pool === null) return
    this.suspected = true
    this.admission.setSlots(0)
    void this.probe(this.pool)
  }

  private async probe(pool: Pool): Promise<void> {
    const origin = this.replica.origin
    while (this.suspected && this.pool === pool && origin !== null) {
      if (await answersHealthCheck(origin + this.replica.spec.readinessPath)) {
        this.suspected = false
        this.admission.setSlots(this.replica.spec.processes * this.replica.spec.threads)
        return
      }
      this.admission.evictWaiting()
      await new Promise((resolve) => setTimeout(resolve, PROBE_INTERVAL_MS))
    }
  }

  private connect(origin: string): void {
    this.disconnect()
    const slots = this.replica.spec.processes * this.replica.spec.threads
    // One connection per slot: the harness gives each connection its own thread,
    // so this many connections run exactly processes × threads requests at once.
    this.pool = new Pool(origin, {connections: slots, pipelining: 1, keepAliveTimeout: 4_000})
    this.admission.setSlots(slots)
  }

  private setSlots(slots: number): void {
    if (this.suspected) return
    this.admission.setSlots(slots)
    if (slots === 0) this.admission.evictWaiting()
  }

  private disconnect(): void {
    const pool = this.pool
    this.pool = null
    this.suspected = false
    this.admission.setSlots(0)
    this.admission.evictWaiting()
    if (pool) void pool.destroy().catch(() => undefined)
  }

  async close(): Promise<void> {
    const pool = this.pool
    this.pool = null
    if (pool) await pool.close().catch(() => undefined)
  }
}

async function answersHealthCheck(url: string): Promise<boolean> {
  try {
    const response = await request(url, {headersTimeout: PROBE_TIMEOUT_MS, bodyTimeout: PROBE_TIMEOUT_MS, signal: AbortSignal.timeout(PROBE_TIMEOUT_MS)})
    await response.body.dump()
    return response.statusCode === 200
  } catch {
    return false
  }
}
