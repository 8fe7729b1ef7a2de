// Whether the load generator, not the replica, limited a measurement.
import type {LoadResult} from '../loadtest/index.js'
import type {GeneratorHealth} from './types.js'

/**
 * The generator fails a window when its sends went out late by more than 5%
 * of the SLO at p99 (a generator that falls behind falls further behind), or
 * it ran out of CPU. The achieved send rate is not compared with the planned
 * one: a Poisson schedule's count over a window varies by ±1/√n on its own. Latency is
 * counted from the planned send time, so a send a millisecond late (a gateway
 * sharing the generator's CPU) only makes the window stricter; that alone
 * does not make it the generator's figure.
 */
export function generatorHealth(run: LoadResult, sloP99Ms: number): GeneratorHealth {
  const g = run.generator
  const late = (g.lateness?.p99 ?? 0) > sloP99Ms * 0.05
  return {saturated: late || g.cpuPercent > 90, latePercent: g.latePercent, waitedForConnection: g.waitedForConnection}
}

