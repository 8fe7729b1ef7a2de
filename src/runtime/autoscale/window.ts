// One API's scaling signal over its window, and the recommendations of its
// earlier ticks: what a tick decides from, as Cortex does it. The samples
// (one a second) are averaged over the window; each tick's recommendation is
// kept as long as the longer stabilization period needs it. The local loop
// (autoscaler.ts) and the Swarm loop (src/swarm/autoscaler.ts) keep one per
// API and differ only in where the signal comes from and how they scale.
import {recommend, type Decision, type Recommendation} from './recommend.js'
import type {AutoscalingPlan} from './settings.js'

export interface WindowDecision {
  decision: Decision
  /** The signal averaged over the window (or less, just after the start). */
  inFlight: number
}

export class ScalingWindow {
  private readonly samples: Array<{at: number; value: number}> = []
  private readonly history: Recommendation[] = []

  /** `startedAt`: when deciding began; no scaling before a stabilization period has passed since. */
  constructor(readonly startedAt: number) {}

  /** True before the first sample (or once every sample has left the window). */
  get empty(): boolean {
    return this.samples.length === 0
  }

  /** Adds a sample taken at `at`, and drops those that have left the window. */
  record(at: number, value: number, windowMs: number): void {
    this.samples.push({at, value})
    this.expire(at, windowMs)
  }

  /** Drops the samples that have left the window by `now`: for a loop whose source may give no sample (the Swarm autoscaler when no gateway answers). */
  expire(now: number, windowMs: number): void {
    const oldest = now - windowMs
    while (this.samples.length > 0 && this.samples[0].at <= oldest) this.samples.shift()
  }

  /** This tick's decision from the averaged samples, its recommendation kept for the stabilization periods; null with no sample yet. */
  decide(settings: AutoscalingPlan, current: number, now: number, sampleMs: number): WindowDecision | null {
    if (this.samples.length === 0) return null
    const inFlight = this.samples.reduce((sum, s) => sum + s.value, 0) / this.samples.length
    // A sample stands for the sampling period that follows it.
    const averagedOverMs = Math.min(settings.windowMs, Math.max(now - this.samples[0].at + sampleMs, 0))
    const decision = recommend({settings, current, inFlight, averagedOverMs, now, startedAt: this.startedAt, history: this.history})
    this.history.push({at: now, replicas: decision.recommendation})
    const keep = Math.max(settings.upscaleStabilizationMs, settings.downscaleStabilizationMs)
    while (this.history.length > 0 && this.history[0].at <= now - keep) this.history.shift()
    return {decision, inFlight}
  }
}
