// The autoscaler's control loop, as Cortex runs it: every second it samples
// each API's in-flight count (running + queued requests, or the signal an API
// registered, such as an AsyncAPI's backlog), and every 10 s it averages the
// samples over the API's window, asks the recommender for a count and scales
// through its host (the runtime). Only one scaling step per API is under way at
// a time; ticks meanwhile still record their recommendation. The samples, the
// average and the recommendations kept for stabilization are window.ts's,
// which the Swarm autoscaler shares.
import {ScalingWindow} from './window.js'
import type {AutoscalingPlan} from './settings.js'
import {plural} from '../../plural.js'

/** Cortex decides every 10 s (and `window` is a multiple of it). */
export const TICK_MS = 10_000
export const SAMPLE_MS = 1_000

/** What the loop drives: the runtime implements it. */
export interface AutoscalerHost {
  /** The APIs served now, each with its settings (from the runtime's current plan). */
  apis(): Array<{name: string; autoscaling: AutoscalingPlan | null}>
  /** The API's replica count now, starting ones included. */
  replicas(api: string): number
  /** The API's scaling signal now. */
  signal(api: string): number
  /** Scales the API to `desired`; resolves with why it could not (held), or null once done. */
  scale(api: string, desired: number): Promise<string | null>
  log(line: string): void
}

/** What `mlserve status` and GET /status show of one API. */
export interface AutoscalerStatus {
  current: number
  desired: number
  reason: string
  min: number
  max: number
  /** The in-flight count averaged over the window, as of the last decision. */
  inFlight: number
  /** True while the autoscaler acts on this API (false for a fixed count). */
  enabled: boolean
  /** When the tick that gave `reason` ran (ISO 8601): the reason is up to a tick old. Null before the first decision and for a fixed count. */
  decidedAt: string | null
}

interface ApiState {
  window: ScalingWindow
  desired: number | null
  reason: string
  /** The tick time of the last decision (ms since the epoch). */
  decidedAt: number | null
  inFlight: number
  scaling: Promise<void> | null
  events: {up: number; down: number}
}

export interface AutoscalerOptions {
  tickMs?: number
  sampleMs?: number
  now?: () => number
}

export class Autoscaler {
  private readonly states = new Map<string, ApiState>()
  private readonly timers: NodeJS.Timeout[] = []
  private readonly now: () => number
  private stopped = false

  constructor(
    private readonly host: AutoscalerHost,
    private readonly options: AutoscalerOptions = {},
  ) {
    this.now = options.now ?? Date.now
  }

  start(): void {
    const sample = setInterval(() => this.sample(), this.options.sampleMs ?? SAMPLE_MS)
    const tick = setInterval(() => this.tick(), this.options.tickMs ?? TICK_MS)
    sample.unref()
    tick.unref()
    this.timers.push(sample, tick)
    this.sample()
  }

  /** Stops deciding; a scaling step under way finishes (the runtime's stop stops its replicas). */
  stop(): void {
    this.stopped = true
    for (const timer of this.timers.splice(0)) clearInterval(timer)
  }

  private state(api: string): ApiState {
    let state = this.states.get(api)
    if (!state) {
      state = {window: new ScalingWindow(this.now()), desired: null, reason: 'no decision yet (the first comes within 10 s)', decidedAt: null, inFlight: 0, scaling: null, events: {up: 0, down: 0}}
      this.states.set(api, state)
    }
    return state
  }

  sample(): void {
    const now = this.now()
    const served = this.host.apis()
    for (const {name, autoscaling} of served) {
      if (!autoscaling || autoscaling.fixed !== null) continue
      const state = this.state(name)
      state.window.record(now, this.host.signal(name), autoscaling.windowMs)
    }
    // An API removed by mlserve apply loses its state; one added again starts afresh.
    for (const name of this.states.keys()) if (!served.some((api) => api.name === name)) this.states.delete(name)
  }

  tick(): void {
    if (this.stopped) return
    const now = this.now()
    for (const {name, autoscaling: settings} of this.host.apis()) {
      if (!settings || settings.fixed !== null) continue
      const state = this.state(name)
      if (state.window.empty) continue
      const current = this.host.replicas(name)
      const decided = state.window.decide(settings, current, now, this.options.sampleMs ?? SAMPLE_MS)
      if (!decided) continue
      const {decision, inFlight} = decided
      state.inFlight = inFlight
      state.desired = decision.desired
      state.reason = decision.reason
      state.decidedAt = now
      if (decision.desired === current) continue
      if (state.scaling) {
        state.reason += ' (after the scaling step under way)'
        continue
      }
      const direction = decision.desired > current ? 'up' : 'down'
      state.events[direction]++
      this.host.log(`autoscale: api ${name}: ${current} → ${decision.desired} replicas (${decision.reason})`)
      state.scaling = this.host
        .scale(name, decision.desired)
        .then(
          (held) => {
            if (held !== null) {
              state.reason = `${decision.reason}, held: ${held}`
              this.host.log(`autoscale: api ${name}: scaling to ${decision.desired} held: ${held}`)
            } else {
              this.host.log(`autoscale: api ${name}: ${plural(this.host.replicas(name), 'replica')}`)
            }
          },
          (error: Error) => {
            state.reason = `${decision.reason}, failed: ${error.message}`
            this.host.log(`autoscale: api ${name}: scaling to ${decision.desired} failed: ${error.message}`)
          },
        )
        .finally(() => {
          state.scaling = null
        })
    }
  }

  /** The API's autoscaling figures; null for an API this runtime does not serve. */
  status(api: string): AutoscalerStatus | null {
    const settings = this.host.apis().find((candidate) => candidate.name === api)?.autoscaling
    if (!settings) return null
    const current = this.host.replicas(api)
    if (settings.fixed !== null) {
      return {current, desired: current, reason: settings.fixed, min: settings.minReplicas, max: settings.maxReplicas, inFlight: this.host.signal(api), enabled: false, decidedAt: null}
    }
    const state = this.state(api)
    return {current, desired: state.desired ?? current, reason: state.reason, min: settings.minReplicas, max: settings.maxReplicas, inFlight: state.inFlight, enabled: true, decidedAt: state.decidedAt === null ? null : new Date(state.decidedAt).toISOString()}
  }

  /** Per API: desired, current, averaged in-flight and the scaling events so far (for the metrics). */
  figures(): Array<{api: string; desired: number; current: number; inFlight: number; events: {up: number; down: number}}> {
    return this.host.apis().flatMap(({name}) => {
      const status = this.status(name)
      if (!status) return []
      const events = this.states.get(name)?.events ?? {up: 0, down: 0}
      return [{api: name, desired: status.desired, current: status.current, inFlight: status.inFlight, events}]
    })
  }
}
