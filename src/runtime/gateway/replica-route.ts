// The gateway's side of one replica: its admission controller, its keep-alive
// pool (one connection per slot) and its metrics. It follows the replica's
// lifecycle events; a replica with no slots (not ready, or every worker down)
// is not routable, and the requests waiting on it are evicted at once so the
// exchange can place them on another replica. Between a failed connection and
// its driver noticing anything, a health probe decides (see suspect()).
import {Pool} from 'undici'
import {AdmissionController} from '../admission.js'
import type {ReplicaGaugeSource, RequestObserver, RuntimeMetrics} from '../metrics.js'
import type {Replica} from '../replica.js'
import {checkReadiness} from '../readiness-check.js'
import type {ApiFigureRecorder} from './figures.js'

/** How long a health probe of a suspect replica may take, and the pause between probes of a down one. */
const PROBE_TIMEOUT_MS = 500
const PROBE_INTERVAL_MS = 250

/** What a health probe found: serving, refusing or resetting connections (dead), or too busy to answer in time. */
type Health = 'alive' | 'dead' | 'busy'

export class ReplicaRoute {
  pool: Pool | null = null
  /**
   * - ok: slots as the driver reports them;
   * - probing: a connection failed; no slot is granted until one probe decides, but the replica stays routable (requests queue);
   * - down: the probe found nothing serving; not routable, its queue moved, probed again until it serves or its driver reports.
   */
  private health: 'ok' | 'probing' | 'down' = 'ok'
  readonly admission: AdmissionController
  readonly observer: RequestObserver
  /** Its API's figures, counted on the request path without a lookup. */
  figures: ApiFigureRecorder | null = null
  private readonly gauges: ReplicaGaugeSource

  constructor(
    readonly replica: Replica,
    maxConcurrency: number,
    private readonly metrics: RuntimeMetrics,
    readonly api: string,
  ) {
    const slots = replica.spec.processes * replica.spec.threads
    this.admission = new AdmissionController(slots, maxConcurrency)
    this.observer = metrics.observer(api, replica.id)
    this.gauges = {
      api,
      replica: replica.id,
      running: () => this.admission.runningCount,
      queued: () => this.admission.queuedCount,
      shed: () => this.admission.shedTotal,
      ready: () => this.isRoutable,
    }
    metrics.addReplica(this.gauges)
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

  /** Takes traffic: connected, with at least one live worker slot (or being probed, when requests wait for the verdict). */
  get isRoutable(): boolean {
    if (this.pool === null || this.health === 'down') return false
    return this.health === 'probing' || this.admission.capacity > 0
  }

  /**
   * A connection to the replica failed before any answer (refused, reset):
   * its process may have died while its driver has not said so yet, or a
   * request crossed the harness's close of an idle connection. Before the
   * freed slot goes to the next request, one health probe decides: alive or
   * merely busy, and slots resume; dead, and the queue moves to other replicas
   * at once while probes go on. The driver's own 'unready'/'ready' events end
   * the probing either way. The caller suspects before it releases its slot.
   */
  suspect(): void {
    if (this.health !== 'ok' || this.pool === null) return
    this.health = 'probing'
    this.admission.setSlots(0)
    void this.probe(this.pool)
  }

  private async probe(pool: Pool): Promise<void> {
    const origin = this.replica.origin
    while (this.health !== 'ok' && this.pool === pool && origin !== null) {
      const health = await probeHealth(origin + this.replica.spec.readinessPath)
      if (this.pool !== pool) return
      if (health !== 'dead') {
        this.health = 'ok'
        this.admission.setSlots(this.replica.spec.processes * this.replica.spec.threads)
        return
      }
      this.health = 'down'
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
    if (this.health !== 'ok') return
    this.admission.setSlots(slots)
    if (slots === 0) this.admission.evictWaiting()
  }

  private disconnect(): void {
    const pool = this.pool
    this.pool = null
    this.health = 'ok'
    this.admission.setSlots(0)
    this.admission.evictWaiting()
    if (pool) void pool.destroy().catch(() => undefined)
  }

  async close(): Promise<void> {
    this.metrics.removeReplica(this.gauges)
    const pool = this.pool
    this.pool = null
    if (pool) await pool.close().catch(() => undefined)
  }
}

async function probeHealth(url: string): Promise<Health> {
  const answer = await checkReadiness(url, PROBE_TIMEOUT_MS)
  return answer === 'busy' ? 'busy' : answer === 200 ? 'alive' : 'dead'
}
