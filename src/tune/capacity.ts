// One replica's capacity at steady state: the highest open-loop (Poisson)
// rate at which, over a window long enough for the queue to settle, p99 ≤ SLO
// and shed + errors < 0.1%.
//
// 1. A closed-loop sweep from concurrency = processes × threads, doubling
//    while throughput still grows, finds the plateau. It bounds the search
//    from above and is not an answer: a closed loop only sends when an answer
//    comes back, so it never builds the queue that an open loop (real users)
//    does, and at the plateau the replica runs at utilization 1, where a queue
//    has no steady state.
// 2. Open-loop windows bisect the rate between one that passes and one that
//    fails, until the gap is under `resolution`. The plateau counts as failing
//    without a window: at utilization 1 the queue never settles.
// 3. The passing rate is run again (`repeats` windows in all). A repeat that
//    fails makes that rate a failing one, and the bisection goes on between it
//    and the highest rate below that held every window. The spread
//    of the repeats, and the gap to the lowest failing rate, are the
//    candidate's measured noise: the band within which candidates tie.
import type {CapacityResult, GeneratorHealth, PlateauPoint, RateWindow, ServiceTime} from './types.js'

export const MAX_FAILED_SHARE = 0.001
/** A doubling of concurrency that gains less than this has reached the plateau. */
const PLATEAU_GAIN = 0.05
const MAX_BISECT_STEPS = 7
const MAX_STEP_DOWNS = 2
/** Extra windows at a rate whose generator fell behind, before the candidate is marked. */
const MAX_GENERATOR_RETRIES = 2
/** The lowest fraction of the plateau tried before a candidate is said to fail even unloaded. */
const LOWEST_SHARE = 1 / 64

export interface ClosedLoopMeasure {
  throughput: number
  meanMs: number
  p50Ms: number
  p99Ms: number
  generator: GeneratorHealth
}

export type OpenWindow = Omit<RateWindow, 'passes' | 'phase'>

export interface CapacityProbe {
  /** One closed-loop window at this concurrency. */
  closedLoop(concurrency: number): Promise<ClosedLoopMeasure>
  /** One open-loop window at this offered rate, after its settling period. */
  openLoop(rate: number, phase: RateWindow['phase']): Promise<OpenWindow>
  onPlateau?(point: PlateauPoint): void
  onWindow?(window: RateWindow): void
  aborted?(): boolean
}

export interface CapacityOptions {
  sloP99Ms: number
  /** processes × threads. */
  slots: number
  /** Never sweep past this concurrency. */
  maxConcurrency: number
  /** Bisection stops when (failing − passing) / passing is under this. */
  resolution: number
  /** Windows run at the capacity in all (the bisection's included). */
  repeats: number
  /** Doublings without gain before the plateau sweep stops. */
  patience: number
}

export const passes = (w: Pick<RateWindow, 'p99Ms' | 'failedShare' | 'throughput'>, sloP99Ms: number): boolean =>
  w.throughput > 0 && w.p99Ms <= sloP99Ms && w.failedShare < MAX_FAILED_SHARE

function unmet(serviceTime: ServiceTime, plateau: PlateauPoint[]): CapacityResult {
  const upperBound = Math.max(...plateau.map((p) => p.throughput))
  return {capacity: 0, meetsSlo: false, upperBound, plateau, serviceTime, windows: [], atCapacity: [], lowestFailingRate: null, noise: {throughputSpread: 0, p99Spread: 0, band: 0}, utilizationAtCapacity: null, generatorSaturated: false}
}

const spread = (values: number[]): number => {
  if (values.length < 2) return 0
  const mean = values.reduce((a, b) => a + b, 0) / values.length
  return mean === 0 ? 0 : (Math.max(...values) - Math.min(...values)) / mean
}

export async function findCapacity(probe: CapacityProbe, options: CapacityOptions): Promise<CapacityResult> {
  const aborted = (): boolean => probe.aborted?.() ?? false
  const first = Math.min(options.slots, options.maxConcurrency)
  const service = await probe.closedLoop(first)
  const serviceTime: ServiceTime = {concurrency: first, meanMs: service.meanMs, p50Ms: service.p50Ms, p99Ms: service.p99Ms}
  const plateau: PlateauPoint[] = []
  const addPlateau = (concurrency: number, m: ClosedLoopMeasure): void => {
    const point = {concurrency, throughput: m.throughput, p99Ms: m.p99Ms, generator: m.generator}
    plateau.push(point)
    probe.onPlateau?.(point)
  }
  addPlateau(first, service)
  // One request at a time already misses the SLO: no rate can meet it.
  if (service.p99Ms > options.sloP99Ms && !aborted()) {
    const alone = first === 1 ? service : await probe.closedLoop(1)
    if (first !== 1) addPlateau(1, alone)
    if (alone.p99Ms > options.sloP99Ms) return unmet(serviceTime, plateau)
  }
  let best = service.throughput
  let flat = 0
  for (let c = first * 2; c <= options.maxConcurrency && !aborted(); c *= 2) {
    const m = await probe.closedLoop(c)
    addPlateau(c, m)
    if (m.throughput > best * (1 + PLATEAU_GAIN)) {
      best = m.throughput
      flat = 0
    } else {
      best = Math.max(best, m.throughput)
      if (++flat >= options.patience) break
    }
  }
  const upperBound = best

  const windows: RateWindow[] = []
  const measure = async (rate: number, phase: RateWindow['phase']): Promise<RateWindow> => {
    const open = await probe.openLoop(rate, phase)
    const window: RateWindow = {...open, phase, passes: passes(open, options.sloP99Ms)}
    windows.push(window)
    probe.onWindow?.(window)
    return window
  }
  const result = (capacity: number, atCapacity: RateWindow[], lowestFailingRate: number | null): CapacityResult => {
    const band = Math.max(
      spread(atCapacity.map((w) => w.throughput)),
      capacity > 0 && lowestFailingRate !== null ? (lowestFailingRate - capacity) / capacity : options.resolution,
    )
    const utilizations = atCapacity.map((w) => w.cpuUtilization).filter((u): u is number => u !== null)
    return {
      capacity,
      meetsSlo: capacity > 0,
      upperBound,
      plateau,
      serviceTime,
      windows,
      atCapacity,
      lowestFailingRate,
      noise: {throughputSpread: spread(atCapacity.map((w) => w.throughput)), p99Spread: spread(atCapacity.map((w) => w.p99Ms)), band},
      utilizationAtCapacity: utilizations.length > 0 ? utilizations.reduce((a, b) => a + b, 0) / utilizations.length : null,
      generatorSaturated: atCapacity.filter((w) => !w.generator.saturated).length < Math.min(options.repeats, atCapacity.length),
    }
  }
  if (upperBound <= 0 || aborted()) return result(0, [], null)

  // The plateau fails by definition: there the replica runs at utilization 1,
  // where a queue has no steady state, and a short window passes by luck.
  let high: number = upperBound
  let low: number | null = null
  // A rate that passes: half the plateau, halving while it fails.
  for (let rate = upperBound / 2; rate >= upperBound * LOWEST_SHARE && !aborted(); rate /= 2) {
    const w = await measure(rate, 'bisect')
    if (w.passes) {
      low = rate
      break
    }
    high = rate
  }
  if (low === null) return result(0, [], high)
  let lo: number = low

  const held = (rate: number): boolean => windows.filter((w) => w.rate === rate).every((w) => w.passes)
  // Each round lowers `high` to a rate that failed a repeat, so it ends: at a rate
  // that holds every window, or with none left above the lowest share.
  for (let round = 0; !aborted(); round++) {
    // Bisect in the first rounds; after that a noisy knee is not narrowed again,
    // and the search walks down through rates that held.
    for (let step = 0; round <= MAX_STEP_DOWNS && (high - lo) / lo > options.resolution && step < MAX_BISECT_STEPS && !aborted(); step++) {
      const mid: number = (lo + high) / 2
      const w = await measure(mid, 'bisect')
      if (w.passes) lo = mid
      else high = mid
    }
    // Run the passing rate again; a repeat that fails makes it a failing rate, and the search goes on below it.
    const rate: number = lo
    const at = (): RateWindow[] => windows.filter((w) => w.rate === rate)
    // A window whose generator fell behind measured the generator too: it is run again, up to twice per rate.
    const clean = (): number => at().filter((w) => !w.generator.saturated).length
    while (clean() < options.repeats && at().length < options.repeats + MAX_GENERATOR_RETRIES && held(rate) && !aborted()) await measure(rate, 'repeat')
    if (held(rate)) return result(rate, at(), high)
    high = rate
    const below = windows.filter((w) => w.rate < rate && held(w.rate))
    if (below.length > 0) {
      lo = Math.max(...below.map((w) => w.rate))
      continue
    }
    let next: number | null = null
    for (let r = rate / 2; r >= upperBound * LOWEST_SHARE && !aborted(); r /= 2) {
      if ((await measure(r, 'bisect')).passes) {
        next = r
        break
      }
      high = r
    }
    if (next === null) break
    lo = next
  }
  // Never settled on a rate that held: report the last one tried as failing.
  return result(0, [], high)
}
