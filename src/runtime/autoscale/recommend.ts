// Cortex's autoscaling algorithm, one decision at a time, as a pure function:
// from the averaged in-flight count, the current replica count and the
// recommendations of earlier ticks to the desired count, with the reason in
// words (what `mlserve status` shows). The control loop (autoscaler.ts) keeps
// the history and acts on the result.
import type {AutoscalingPlan} from './settings.js'

/** One tick's recommendation (after the tolerance, factor and min/max clamps), kept for the stabilization periods. */
export interface Recommendation {
  at: number
  replicas: number
}

export interface RecommendInput {
  settings: AutoscalingPlan
  /** Replicas the API has now (starting ones included). */
  current: number
  /** In-flight requests (running + queued, or an AsyncAPI's backlog) averaged over the window. */
  inFlight: number
  /** Milliseconds over which `inFlight` was averaged (the window, or less just after start). */
  averagedOverMs: number
  now: number
  /** When the autoscaler started deciding for this API: no scaling before a stabilization period has passed since. */
  startedAt: number
  /** Earlier ticks' recommendations (oldest first); this tick's is added by the caller. */
  history: readonly Recommendation[]
}

export interface Decision {
  /** The count to scale to. */
  desired: number
  /** This tick's recommendation before stabilization: what the caller records in the history. */
  recommendation: number
  /** averaged in-flight / target. */
  raw: number
  reason: string
}

export function recommend(input: RecommendInput): Decision {
  const {settings: s, current, inFlight, now} = input
  const raw = inFlight / s.targetReplicaConcurrency
  let rec = Math.ceil(raw)
  const notes: string[] = []
  const base = `in-flight ${formatCount(inFlight)} over ${formatSeconds(input.averagedOverMs)} / target ${formatCount(s.targetReplicaConcurrency)} → ${rec}`

  // 1. Within the tolerance band around the current count, nothing changes (no flapping on noise).
  if (raw < current && raw > current * (1 - s.downscaleTolerance)) {
    rec = current
    notes.push(`within the downscale tolerance (${formatPercent(s.downscaleTolerance)}) of ${current}`)
  } else if (raw > current && raw < current * (1 + s.upscaleTolerance)) {
    rec = current
    notes.push(`within the upscale tolerance (${formatPercent(s.upscaleTolerance)}) of ${current}`)
  }

  // 2. One step may move at most by the factors, but always by one.
  const floor = Math.min(current - 1, Math.ceil(current * s.maxDownscaleFactor))
  const ceiling = Math.max(current + 1, Math.ceil(current * s.maxUpscaleFactor))
  if (rec < floor) {
    rec = floor
    notes.push(`limited to ${rec} by max_downscale_factor ${s.maxDownscaleFactor}`)
  } else if (rec > ceiling) {
    rec = ceiling
    notes.push(`limited to ${rec} by max_upscale_factor ${s.maxUpscaleFactor}`)
  }

  // 3. The API's bounds, and at least one replica.
  const min = Math.max(1, s.minReplicas)
  if (rec < min) {
    rec = min
    notes.push(`raised to min_replicas ${min}`)
  } else if (rec > s.maxReplicas) {
    rec = s.maxReplicas
    notes.push(`capped at max_replicas ${s.maxReplicas}`)
  }

  // 4. Stabilization: up takes the smallest recommendation over its period, down the largest over its.
  const recommendation = rec
  let desired = rec
  const history = [...input.history, {at: now, replicas: rec}]
  if (desired > current) {
    const held = stabilize('up', s.upscaleStabilizationMs, desired, current, input.startedAt, now, history)
    if (held) {
      desired = held.replicas
      notes.push(`held${desired !== current ? ` at ${desired}` : ''} by the upscale stabilization until ${formatClock(held.until)}`)
    }
  } else if (desired < current) {
    const held = stabilize('down', s.downscaleStabilizationMs, desired, current, input.startedAt, now, history)
    if (held) {
      desired = held.replicas
      notes.push(`held${desired !== current ? ` at ${desired}` : ''} by the downscale stabilization until ${formatClock(held.until)}`)
    }
  }

  const outcome = desired === current ? `: stays at ${current}` : `: ${current} → ${desired}`
  return {desired, recommendation, raw, reason: [base, ...notes].join(', ') + outcome}
}

/**
 * What the stabilization period allows, or null when it allows `wanted`.
 * Before a whole period has passed since the start, the count stays, as the
 * history cannot yet say the load has lasted that long.
 */
function stabilize(
  direction: 'up' | 'down',
  periodMs: number,
  wanted: number,
  current: number,
  startedAt: number,
  now: number,
  history: readonly Recommendation[],
): {replicas: number; until: number} | null {
  if (periodMs <= 0) return null
  if (now - startedAt < periodMs) return {replicas: current, until: startedAt + periodMs}
  const recent = history.filter((rec) => rec.at > now - periodMs || rec.at === now)
  const blocking = recent.filter((rec) => (direction === 'up' ? rec.replicas < wanted : rec.replicas > wanted))
  if (blocking.length === 0) return null
  const bound = direction === 'up' ? Math.min(...recent.map((rec) => rec.replicas)) : Math.max(...recent.map((rec) => rec.replicas))
  // Never past the current count the other way: a held scale-up does not scale down.
  const replicas = direction === 'up' ? Math.max(current, bound) : Math.min(current, bound)
  return {replicas, until: Math.max(...blocking.map((rec) => rec.at)) + periodMs}
}

function formatCount(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1)
}

function formatSeconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`
}

function formatPercent(fraction: number): string {
  return `${Math.round(fraction * 1000) / 10}%`
}

/** HH:MM:SS in the runtime's local time, as a log line shows it. */
export function formatClock(ms: number): string {
  const d = new Date(ms)
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':')
}
