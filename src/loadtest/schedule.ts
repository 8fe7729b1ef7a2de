// Open-loop arrival schedules: the planned send time of every request, fixed
// in advance and independent of how the target answers. Times are offsets in
// nanoseconds from the start of the run.
import type {Arrival} from './types.js'

export interface Schedule {
  /** The planned offset (ns) of the next request; offsets never decrease. */
  next(): number
}

/**
 * `constant`: request i at i / rate. `poisson`: exponential gaps with mean
 * 1 / rate, drawn from a seeded generator so a run can be repeated exactly.
 * The first request goes at offset 0 in both.
 */
export function createSchedule(rate: number, arrival: Arrival, seed = randomSeed()): Schedule {
  if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError(`rate must be a positive number, got ${rate}`)
  const gapNs = 1e9 / rate
  if (arrival === 'constant') {
    let i = 0
    // i × gap rather than a running sum: no drift however long the run.
    return {next: () => i++ * gapNs}
  }
  const random = mulberry32(seed)
  let offset = 0
  let first = true
  return {
    next: () => {
      if (first) {
        first = false
        return 0
      }
      // 1 - u is in (0, 1], so the log is finite.
      offset += -Math.log(1 - random()) * gapNs
      return offset
    },
  }
}

/** A small, fast, seedable PRNG (mulberry32): uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 32)
}
