// How long each open-loop window runs, in requests and seconds.
// - At least `minRequests`: a p99 over n requests rests on the n/100 slowest,
//   so 1,000 requests put 10 above it, enough that one stall does not decide.
// - At least `minSeconds`: a slow predictor's window still spans many service
//   times, and a fast one's spans more than a scheduler or GC hiccup.
// - At most `maxSeconds`: a very slow candidate gets fewer requests, and the
//   window says how many it held.
// - Before it, `settleSeconds` of the same load, not counted: an open loop
//   starts with an empty queue, and a queue whose p99 stays under the SLO turns
//   over within a few SLOs, so 4 × SLO (1 s at least, and no longer than the
//   window) lets it reach its steady state. Near the plateau a queue relaxes
//   far more slowly, in about 1 / (X × (1 − √ρ)²) (X the plateau, ρ the
//   offered share of it), so windows there settle that long, up to 3 × the
//   shortest window.
import type {WindowPlan} from './types.js'

export const DEFAULT_WINDOW_REQUESTS = 1000
export const MAX_WINDOW_SECONDS = 60

export function planWindow(options: {minSeconds: number; minRequests: number; sloP99Ms: number}): WindowPlan {
  const settleSeconds = Math.min(Math.max(1, (4 * options.sloP99Ms) / 1000), Math.max(1, options.minSeconds))
  return {
    minSeconds: options.minSeconds,
    minRequests: options.minRequests,
    maxSeconds: MAX_WINDOW_SECONDS,
    settleSeconds,
    reason:
      `Each window counts at least ${options.minRequests} requests (p99 then rests on the ${Math.max(1, Math.floor(options.minRequests / 100))} slowest) and at least ${options.minSeconds} s, ` +
      `at most ${MAX_WINDOW_SECONDS} s, after at least ${settleSeconds} s of the same load not counted (4 × the SLO, at least 1 s; near the plateau the queue's relaxation time, up to ${3 * options.minSeconds} s) so that the queue reaches its steady state.`,
  }
}

/** The uncounted settling time before a window at `rate`, on a replica whose closed-loop plateau is `plateau`. */
export function settleSeconds(plan: WindowPlan, rate: number, plateau: number): number {
  const rho = Math.min(0.999, rate / Math.max(plateau, 1e-9))
  const relaxation = 1 / (Math.max(plateau, 1e-9) * (1 - Math.sqrt(rho)) ** 2)
  return Math.max(plan.settleSeconds, Math.min(relaxation, 3 * plan.minSeconds))
}

/** The counted length of a window at `rate` req/s, in seconds. */
export function windowSeconds(plan: WindowPlan, rate: number): number {
  return Math.min(plan.maxSeconds, Math.max(plan.minSeconds, plan.minRequests / Math.max(rate, 1e-9)))
}
