// The autoscaler on Swarm: Cortex's control loop, as `mlserve run` runs it
// (the same samples, window and recommend() through ScalingWindow), with the
// signal and the action outside the process. Every second it finds the
// gateway's tasks (tasks.<gateway service>), reads each one's /metrics and
// sums the gauge mlserve_api_in_flight{api} across them; a gateway that does
// not answer is logged and left out of that sample, and a second in which no
// gateway answered records nothing (no data is not zero load). Every tick
// (10 s) it decides per API and, when the count changes, sets the Swarm
// service's replicas with an update at the version it read, read again and
// retried once when the service changed in between (a redeploy, say). Each
// decision that changes something, and each error, is one JSON line.
import {promises as dns} from 'node:dns'
import {SAMPLE_MS, ScalingWindow, TICK_MS} from '../runtime/autoscale/index.js'
import type {SwarmAutoscalerConfig} from './autoscaler-config.js'

/** The gauge the gateways serve: an API's requests in that gateway now, running and queued. */
export const IN_FLIGHT_METRIC = 'mlserve_api_in_flight'

/** Finds the addresses of a name (the gateway's tasks). */
export type ResolveAddresses = (hostname: string) => Promise<string[]>
/** GETs a URL's body as text; rejects on a failure or a status other than 200. */
export type FetchText = (url: string, timeoutMs: number) => Promise<string>

/** What the loop needs of a Swarm service (dockerode's Service): its spec and version, and an update. */
export interface SwarmServiceHandle {
  inspect(): Promise<SwarmServiceInfo>
  update(options: Record<string, unknown>): Promise<unknown>
}
export interface SwarmServiceInfo {
  Version?: {Index?: number}
  Spec?: {Mode?: {Replicated?: {Replicas?: number}; Global?: object}} & Record<string, unknown>
}
/** What the loop needs of the engine (dockerode's Docker). */
export interface SwarmEngine {
  getService(name: string): SwarmServiceHandle
}

export interface SwarmAutoscalerOptions {
  docker: SwarmEngine
  /** Receives each JSON line (the command writes them to stdout). */
  log: (line: string) => void
  /** Default: dns.promises.lookup(name, {all: true}). */
  resolve?: ResolveAddresses
  /** Default: fetch with a timeout. */
  fetchText?: FetchText
  now?: () => number
  sampleMs?: number
  tickMs?: number
  /** How long a gateway has to answer /metrics; default 800 ms, within the sampling second. */
  scrapeTimeoutMs?: number
}

/** What the loop knows of one API, as of its last tick. */
export interface SwarmApiStatus {
  api: string
  service: string
  /** The service's replicas as last read (null before the first tick or when it could not be read). */
  current: number | null
  desired: number | null
  /** The in-flight sum averaged over the window, as of the last decision. */
  inFlight: number
  reason: string
  decidedAt: string | null
  events: {up: number; down: number}
}

interface ApiState {
  window: ScalingWindow
  status: SwarmApiStatus
}

/**
 * The gauge's value per API in a Prometheus text exposition: the series of
 * one API (whatever its other labels) summed; comments, other metrics and
 * values that are not finite numbers are left out.
 */
export function parseInFlight(text: string): Map<string, number> {
  const values = new Map<string, number>()
  for (const line of text.split('\n')) {
    const match = /^mlserve_api_in_flight\{(.*)\}\s+(\S+)/.exec(line.trim())
    if (!match) continue
    const api = labelValue(match[1], 'api')
    const value = Number(match[2])
    if (api === null || !Number.isFinite(value)) continue
    values.set(api, (values.get(api) ?? 0) + value)
  }
  return values
}

/** A label's value from a series' label set (`a="x",b="y\"z"`), with the text format's escapes undone. */
function labelValue(labels: string, name: string): string | null {
  for (const match of labels.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"/g)) {
    if (match[1] === name) return match[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
  }
  return null
}

export const resolveAll: ResolveAddresses = async (hostname) => (await dns.lookup(hostname, {all: true})).map((entry) => entry.address)

export const fetchText: FetchText = async (url, timeoutMs) => {
  const response = await fetch(url, {signal: AbortSignal.timeout(timeoutMs)})
  const body = await response.text()
  if (response.status !== 200) throw new Error(`answered ${response.status}`)
  return body
}

/** The service's replica count in its spec; null for a service that is not replicated (global mode). */
export function specReplicas(info: SwarmServiceInfo): number | null {
  const replicas = info.Spec?.Mode?.Replicated?.Replicas
  return typeof replicas === 'number' ? replicas : null
}

/**
 * Sets a replicated service's replicas, at the version `info` was read at.
 * When the service changed in between (Swarm answers "update out of
 * sequence"), it is read again and the update tried once more. Resolves with
 * the number of tries.
 */
export async function updateReplicas(service: SwarmServiceHandle, info: SwarmServiceInfo, replicas: number): Promise<number> {
  const put = (current: SwarmServiceInfo) =>
    service.update({...current.Spec, version: current.Version?.Index, Mode: {Replicated: {Replicas: replicas}}})
  try {
    await put(info)
    return 1
  } catch (error) {
    if (!/out of sequence/i.test(errorText(error))) throw error
    await put(await service.inspect())
    return 2
  }
}

/** dockerode puts the engine's message in json.message; the error's own message is generic. */
function errorText(error: unknown): string {
  const json = (error as {json?: {message?: string}}).json
  return json?.message ?? (error as Error).message ?? String(error)
}

export class SwarmAutoscaler {
  private readonly states = new Map<string, ApiState>()
  private readonly timers: NodeJS.Timeout[] = []
  private readonly now: () => number
  private readonly resolve: ResolveAddresses
  private readonly fetchText: FetchText
  /** Addresses that did not answer their last scrape, and whether the name itself failed: logged once per change, not every second. */
  private readonly unanswered = new Set<string>()
  private resolveFailed = false
  private readonly unreported = new Set<string>()
  private sampling: Promise<void> | null = null
  private ticking: Promise<void> | null = null
  private stopped = false

  constructor(
    readonly config: SwarmAutoscalerConfig,
    private readonly options: SwarmAutoscalerOptions,
  ) {
    this.now = options.now ?? Date.now
    this.resolve = options.resolve ?? resolveAll
    this.fetchText = options.fetchText ?? fetchText
    const startedAt = this.now()
    for (const {api, service, autoscaling} of config.apis) {
      const reason = autoscaling.fixed ?? 'no decision yet (the first comes within a tick)'
      this.states.set(api, {window: new ScalingWindow(startedAt), status: {api, service, current: null, desired: null, inFlight: 0, reason, decidedAt: null, events: {up: 0, down: 0}}})
    }
  }

  private get sampleMs(): number {
    return this.options.sampleMs ?? SAMPLE_MS
  }

  start(): void {
    this.emit('started', {
      gateway: `tasks.${this.config.gateway.service}:${this.config.gateway.port}`,
      apis: this.config.apis.map(({api, service, autoscaling: a}) => ({api, service, min: a.minReplicas, max: a.maxReplicas, target: a.targetReplicaConcurrency, windowMs: a.windowMs})),
      sampleMs: this.sampleMs,
      tickMs: this.options.tickMs ?? TICK_MS,
    })
    const sample = setInterval(() => void this.sample(), this.sampleMs)
    const tick = setInterval(() => void this.tick(), this.options.tickMs ?? TICK_MS)
    this.timers.push(sample, tick)
    void this.sample()
  }

  /** Stops sampling and deciding; resolves once a scrape or an update under way has finished. */
  async stop(): Promise<void> {
    this.stopped = true
    for (const timer of this.timers.splice(0)) clearInterval(timer)
    await Promise.allSettled([this.sampling, this.ticking])
    this.emit('stopped', {})
  }

  /** One sample: the in-flight sum per API across the gateways that answered. A scrape still under way makes this one a no-op. */
  sample(): Promise<void> {
    if (this.stopped || this.sampling) return this.sampling ?? Promise.resolve()
    this.sampling = this.scrape().finally(() => {
      this.sampling = null
    })
    return this.sampling
  }

  private async scrape(): Promise<void> {
    const at = this.now()
    const host = `tasks.${this.config.gateway.service}`
    let addresses: string[]
    try {
      addresses = await this.resolve(host)
      if (this.resolveFailed) this.emit('gateway_found', {host, addresses})
      this.resolveFailed = false
    } catch (error) {
      if (!this.resolveFailed) this.emit('gateway_not_found', {host, error: errorText(error)}, 'error')
      this.resolveFailed = true
      this.expireAll(at)
      return
    }
    const port = this.config.gateway.port
    const scraped = await Promise.all(
      addresses.map(async (address) => {
        const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}/metrics`
        try {
          const values = parseInFlight(await this.fetchText(url, this.options.scrapeTimeoutMs ?? 800))
          if (this.unanswered.delete(address)) this.emit('gateway_answers', {address})
          return values
        } catch (error) {
          if (!this.unanswered.has(address)) this.emit('gateway_unanswered', {address, url, error: errorText(error)}, 'error')
          this.unanswered.add(address)
          return null
        }
      }),
    )
    // An address no longer listed is forgotten, so it is logged again if it comes back and fails.
    for (const address of this.unanswered) if (!addresses.includes(address)) this.unanswered.delete(address)
    const answered = scraped.filter((values): values is Map<string, number> => values !== null)
    if (answered.length === 0) {
      this.expireAll(at)
      return
    }
    for (const {api, autoscaling} of this.config.apis) {
      if (autoscaling.fixed !== null) continue
      const reports = answered.filter((values) => values.has(api))
      // Gateways that answer but do not serve the API (yet) give no sample for it.
      if (reports.length === 0) {
        if (!this.unreported.has(api)) this.emit('api_not_reported', {api, metric: IN_FLIGHT_METRIC, gateways: answered.length}, 'error')
        this.unreported.add(api)
        this.states.get(api)!.window.expire(at, autoscaling.windowMs)
        continue
      }
      this.unreported.delete(api)
      const sum = reports.reduce((total, values) => total + (values.get(api) ?? 0), 0)
      this.states.get(api)!.window.record(at, sum, autoscaling.windowMs)
    }
  }

  /** No data for a second: the samples that left the window go, so that a tick never decides on a stale signal. */
  private expireAll(at: number): void {
    for (const {api, autoscaling} of this.config.apis) this.states.get(api)!.window.expire(at, autoscaling.windowMs)
  }

  /** One decision per API, and the updates it calls for. A tick still under way makes this one a no-op. */
  tick(): Promise<void> {
    if (this.stopped || this.ticking) return this.ticking ?? Promise.resolve()
    this.ticking = this.decideAll().finally(() => {
      this.ticking = null
    })
    return this.ticking
  }

  private async decideAll(): Promise<void> {
    for (const {api, service, autoscaling: settings} of this.config.apis) {
      if (settings.fixed !== null) continue
      const state = this.states.get(api)!
      if (state.window.empty) continue
      const handle = this.options.docker.getService(service)
      let info: SwarmServiceInfo
      try {
        info = await handle.inspect()
      } catch (error) {
        state.status.current = null
        this.emit('service_unreadable', {api, service, error: errorText(error)}, 'error')
        continue
      }
      const current = specReplicas(info)
      if (current === null) {
        this.emit('service_not_replicated', {api, service}, 'error')
        continue
      }
      const now = this.now()
      const decided = state.window.decide(settings, current, now, this.sampleMs)
      if (!decided) continue
      const {decision, inFlight} = decided
      Object.assign(state.status, {current, desired: decision.desired, inFlight, reason: decision.reason, decidedAt: new Date(now).toISOString()})
      if (decision.desired === current) continue
      const fields = {api, service, from: current, to: decision.desired, inFlight: Math.round(inFlight * 100) / 100, reason: decision.reason}
      try {
        const tries = await updateReplicas(handle, info, decision.desired)
        state.status.current = decision.desired
        state.status.events[decision.desired > current ? 'up' : 'down']++
        this.emit('scaled', {...fields, tries})
      } catch (error) {
        this.emit('scale_failed', {...fields, error: errorText(error)}, 'error')
      }
    }
  }

  /** Each API as of its last tick. */
  status(): SwarmApiStatus[] {
    return [...this.states.values()].map((state) => ({...state.status, events: {...state.status.events}}))
  }

  private emit(event: string, fields: Record<string, unknown>, level: 'info' | 'error' = 'info'): void {
    this.options.log(JSON.stringify({time: new Date(this.now()).toISOString(), level, event, ...fields}))
  }
}
