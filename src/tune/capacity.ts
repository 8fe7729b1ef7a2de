// Finding one replica's capacity at the SLO (the knee), as
// docs/tuning-and-loadtest method describes:
// 1. measure at concurrency = processes × threads, for the service time;
// 2. sweep concurrency in powers of two from 2 × processes × threads, until
//    throughput stops paying (less than 5% gained over the last `patience`
//    steps) or p99 passes the SLO;
// 3. binary-search between the last passing and the first failing step;
// 4. capacity = the highest throughput that held p99 ≤ SLO with errors < 0.1%;
// 5. confirm it with an open-loop run at that rate, lowering it while it fails
//    (to what the failing run sustained, or 10% less; up to 6 tries), then
//    trying once halfway back up to the lowest rate that failed.
import type {StableMeasure} from './stability.js'
import type {Candidate, CapacityResult, Confirmation, SweepPoint} from './types.js'

export const MAX_ERROR_RATE = 0.001
const MIN_GAIN = 0.05
const MAX_BISECT_STEPS = 5
const CONFIRM_TRIES = 6
const CONFIRM_STEP = 0.9
/** Below this gap between a passing and a failing rate, the confirmation stops refining. */
const REFINE_MIN_GAP = 0.03

export interface CapacityProbe {
  /** Closed loop at this concurrency, measured until stable. */
  closedLoop(concurrency: number): Promise<StableMeasure>
  /** Open loop at this rate (req/s). */
  openLoop(rate: number): Promise<{throughput: number; p99Ms: number; errorRate: number}>
  /** Called after each point, for progress. */
  onPoint?(point: SweepPoint, phase: 'service' | 'sweep' | 'bisect' | 'confirm'): void
  aborted?(): boolean
}

export interface CapacityOptions {
  sloP99Ms: number
  /** Steps of < 5% gain before the sweep stops: 4 as the method says; the quick search uses 2. */
  patience: number
  /** Never sweep past this concurrency. */
  maxConcurrency: number
  /** Skip the open-loop confirmation (tests of the search logic). */
  confirm?: boolean
}

export async function findCapacity(candidate: Candidate, probe: CapacityProbe, options: CapacityOptions): Promise<CapacityResult> {
  const slots = candidate.processes * candidate.threads
  const sweep: SweepPoint[] = []
  const measure = async (concurrency: number, phase: 'service' | 'sweep' | 'bisect'): Promise<SweepPoint> => {
    const m = await probe.closedLoop(concurrency)
    const point: SweepPoint = {
      concurrency,
      throughput: m.throughput,
      p50Ms: m.p50Ms,
      p99Ms: m.p99Ms,
      errorRate: m.errorRate,
      windows: m.windows,
      stable: m.stable,
      passes: m.p99Ms <= options.sloP99Ms && m.errorRate < MAX_ERROR_RATE,
    }
    sweep.push(point)
    probe.onPoint?.(point, phase)
    return point
  }

  const service = await measure(Math.min(slots, options.maxConcurrency), 'service')
  const serviceTimeMs = service.p50Ms
  let lastPass: SweepPoint | null = service.passes ? service : null
  let firstFail: SweepPoint | null = service.passes ? null : service

  if (service.passes) {
    const steps: SweepPoint[] = [service]
    for (let c = Math.max(2 * slots, slots + 1); c <= options.maxConcurrency && !probe.aborted?.(); c *= 2) {
      const point = await measure(c, 'sweep')
      steps.push(point)
      if (!point.passes) {
        firstFail = point
        break
      }
      lastPass = point
      const back = steps[Math.max(0, steps.length - 1 - options.patience)]
      if (steps.length > options.patience && point.throughput < back.throughput * (1 + MIN_GAIN)) break
    }
  }

  // Between the last passing and the first failing concurrency lies the knee.
  if (lastPass && firstFail && firstFail.concurrency - lastPass.concurrency > 1) {
    let low = lastPass.concurrency
    let high = firstFail.concurrency
    for (let i = 0; i < MAX_BISECT_STEPS && high - low > 1 && !probe.aborted?.(); i++) {
      const mid = Math.floor((low + high) / 2)
      const point = await measure(mid, 'bisect')
      if (point.passes) low = mid
      else high = mid
    }
  }

  const passing = sweep.filter((p) => p.passes)
  if (passing.length === 0) {
    return {capacity: 0, meetsSlo: false, concurrency: service.concurrency, p50Ms: service.p50Ms, p99Ms: service.p99Ms, serviceTimeMs, sweep, confirmation: null}
  }
  const best = passing.reduce((a, b) => (b.throughput > a.throughput ? b : a))
  let capacity = best.throughput
  let confirmation: Confirmation | null = null
  if (options.confirm !== false && !probe.aborted?.()) {
    // The closed loop hides stalls; an open loop at the same rate shows them.
    let rate = capacity
    let failedRate: number | null = null
    let held: Confirmation | null = null
    let refined = false
    for (let attempt = 0; attempt < CONFIRM_TRIES && !probe.aborted?.(); attempt++) {
      const open = await probe.openLoop(rate)
      confirmation = {rate, throughput: open.throughput, p99Ms: open.p99Ms, errorRate: open.errorRate, passed: open.p99Ms <= options.sloP99Ms && open.errorRate < MAX_ERROR_RATE}
      probe.onPoint?.({concurrency: 0, throughput: open.throughput, p50Ms: 0, p99Ms: open.p99Ms, errorRate: open.errorRate, windows: 1, stable: true, passes: confirmation.passed}, 'confirm')
      if (confirmation.passed) {
        held = confirmation
        // Passed after a failure: one try halfway back up. A 10% step alone would
        // leave each candidate up to 10% under its limit, by luck of where the
        // steps fall, which is more than the differences between candidates.
        if (failedRate === null || refined || failedRate < rate * (1 + REFINE_MIN_GAP)) break
        refined = true
        rate = (rate + failedRate) / 2
        continue
      }
      failedRate = rate
      if (held) break
      // An open loop that fails shows what the replica really sustained: try
      // that, or 10% less, whichever is lower.
      rate = Math.min(rate * CONFIRM_STEP, open.throughput > 0 ? open.throughput : rate)
    }
    if (held) confirmation = held
    if (confirmation) capacity = confirmation.passed ? Math.min(capacity, confirmation.rate) : 0
  }
  return {
    capacity,
    meetsSlo: capacity > 0,
    concurrency: best.concurrency,
    p50Ms: best.p50Ms,
    p99Ms: best.p99Ms,
    serviceTimeMs,
    sweep,
    confirmation,
  }
}
