// Finding the replicas of a gateway whose replicas run elsewhere (the remote
// driver). Swarm answers `tasks.<service>` with one address per running task;
// every intervalMs the names are resolved again and routing follows: a new
// address becomes a replica (routed at once, taking traffic once its readiness
// route answers), an address no longer listed is retired through its API's
// drain (no new request reaches it, those it holds finish). Static discovery
// (a pod's own model container) routes fixed origins, found once. Each round of
// changes runs in the runtime's one chain of changes, as scaling does.
import {lookup} from 'node:dns/promises'
import type {ApiRoute, ReplicaRoute} from './gateway/index.js'
import type {Discovery} from './plan.js'
import {RemoteReplica, type RemoteReplicaOptions} from './remote-replica.js'
import type {Runtime} from './runtime.js'
import {plural} from '../plural.js'

/** Resolves a name to its addresses; an unknown name (NXDOMAIN) rejects with code ENOTFOUND or ENODATA. */
export type Resolve = (name: string) => Promise<string[]>

/** The system resolver (Docker's embedded DNS inside a Swarm network), every address of the name. */
export const systemResolve: Resolve = async (name) => (await lookup(name, {all: true})).map((entry) => entry.address)

/** DNS answers meaning "no such name": a Swarm service with no running task has no `tasks.` record. */
const NO_SUCH_NAME = new Set(['ENOTFOUND', 'ENODATA'])

export interface TaskDiscoveryOptions {
  /** The resolver (default systemResolve); tests pass their own. */
  resolve?: Resolve
  log: (line: string) => void
  /** How each discovered replica is checked (intervals, thresholds); the origin is discovery's. */
  replica?: Omit<RemoteReplicaOptions, 'origin' | 'log'>
}

/** An address as an origin: IPv6 in brackets. */
export const originOf = (address: string, port: number): string => `http://${address.includes(':') ? `[${address}]` : address}:${port}`

export class TaskDiscovery {
  /** Each API's replicas by origin: what the last round routed. */
  private readonly known = new Map<string, Map<string, RemoteReplica>>()
  /** Retired replicas still finishing what they hold. */
  private readonly retiring = new Set<Promise<void>>()
  private timer: NodeJS.Timeout | null = null
  private stopped = false
  private readonly resolve: Resolve
  /** The last resolver failure per API, so a lasting one is logged once. */
  private readonly failing = new Map<string, string>()

  constructor(
    private readonly runtime: Runtime,
    readonly discovery: Discovery,
    private readonly options: TaskDiscoveryOptions,
  ) {
    this.resolve = options.resolve ?? systemResolve
  }

  /** Runs the first round (every origin found is routed; none is waited for), then, for dns, a round every intervalMs. */
  async start(): Promise<void> {
    await this.refresh()
    this.schedule()
  }

  /** One round: find each API's origins and make routing follow them. Runs in the runtime's chain of changes. */
  refresh(): Promise<void> {
    return this.runtime.serialize(async () => {
      const apis = this.runtime.plan.apis.map((api) => api.name)
      const found = await Promise.all(apis.map((api) => this.originsOf(api)))
      if (this.stopped) return
      apis.forEach((api, i) => {
        const origins = found[i]
        if (origins !== null) this.follow(api, origins)
      })
    })
  }

  /** Stops the rounds and waits for retired replicas to finish what they hold (their routes drain up to the request timeout). */
  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    await Promise.allSettled([...this.retiring])
  }

  /** The origins an API's replicas serve at now, or null when the resolver could not say (routing stays as it is). */
  private async originsOf(api: string): Promise<string[] | null> {
    const discovery = this.discovery
    if (discovery.kind === 'static') return discovery.origins[api] ?? []
    const service = discovery.services[api]
    if (service === undefined) return []
    const name = `tasks.${service}`
    try {
      const addresses = await this.resolve(name)
      if (this.failing.delete(api)) this.options.log(`discovery: ${name} resolves again`)
      return [...new Set(addresses)].sort().map((address) => originOf(address, discovery.port))
    } catch (error) {
      const {code, message} = error as {code?: string; message?: string}
      const gone = code !== undefined && NO_SUCH_NAME.has(code)
      const why = gone ? `${name} has no tasks (${code})` : `${name} could not be resolved (${code ?? message}); routing stays as it is`
      if (this.failing.get(api) !== why) this.options.log(`discovery: ${why}`)
      this.failing.set(api, why)
      // No such name: the service has no running task, so no replica. Any other failure (a DNS timeout) says nothing about the tasks.
      return gone ? [] : null
    }
  }

  /** Routes origins new to the API, retires those no longer found. */
  private follow(name: string, origins: string[]): void {
    const api = this.runtime.gateway.api(name)
    const template = this.runtime.plan.apis.find((plan) => plan.name === name)?.replicas[0]
    if (!api || !template) return
    let known = this.known.get(name)
    if (!known) this.known.set(name, (known = new Map()))
    const wanted = new Set(origins)
    const added: string[] = []
    const removed: string[] = []
    for (const origin of origins) {
      if (known.has(origin)) continue
      const replica = new RemoteReplica({...template, index: this.runtime.freshIndex(name), gpus: []}, {...this.options.replica, origin, log: this.options.log})
      known.set(origin, replica)
      this.runtime.replicas.push(replica)
      // Routed at once, routable once ready (the route follows the replica's 'ready' event).
      api.add(replica)
      replica.start().then(
        () => this.options.log(`[${replica.id}] ${origin} is ready`),
        (error: Error) => this.options.log(`[${replica.id}] ${origin}: ${error.message} Still checking it.`),
      )
      added.push(`${replica.id} ${origin}`)
    }
    for (const [origin, replica] of known) {
      if (wanted.has(origin)) continue
      known.delete(origin)
      const route = api.replicas.find((candidate) => candidate.replica === replica)
      removed.push(`${replica.id} ${origin}`)
      this.retire(api, route, replica)
    }
    if (added.length > 0 || removed.length > 0) {
      const change = [added.length > 0 ? `added ${added.join(', ')}` : '', removed.length > 0 ? `retired ${removed.join(', ')}` : ''].filter(Boolean).join('; ')
      this.options.log(`discovery: ${name}: ${change} (${plural(known.size, 'replica')} now)`)
    }
  }

  /**
   * Takes a replica out of routing at once, then lets what it holds finish
   * (up to the request timeout) outside the chain of changes, so the next
   * round (a rolling update's new task) is not held up by a drain.
   */
  private retire(api: ApiRoute, route: ReplicaRoute | undefined, replica: RemoteReplica): void {
    const drained = route ? api.retire(route, this.runtime.plan.gateway.timeoutMs) : Promise.resolve()
    const done = drained
      .then(() => replica.stop())
      .finally(() => {
        const at = this.runtime.replicas.indexOf(replica)
        if (at !== -1) this.runtime.replicas.splice(at, 1)
        this.retiring.delete(done)
      })
    this.retiring.add(done)
  }

  private schedule(): void {
    const discovery = this.discovery
    if (discovery.kind !== 'dns' || this.stopped) return
    this.timer = setTimeout(() => {
      this.timer = null
      this.refresh().then(
        () => this.schedule(),
        (error: Error) => {
          this.options.log(`discovery: a round failed: ${error.message}`)
          this.schedule()
        },
      )
    }, discovery.intervalMs)
  }
}
