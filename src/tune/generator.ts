// Whether the load generator, not the replica, limited a measurement.
import type {LoadResult} from '../loadtest/index.js'
import type {GeneratorHealth} from './types.js'

/** Above this share of their CPUs, the generator and the gateway set the pace, not the replica. */
export const HOST_CPU_LIMIT = 0.9

/**
 * The generator fails a window when its sends went out late by more than 5%
 * of the SLO at p99 (a generator that falls behind falls further behind), or
 * it ran out of CPU, or the generator and the gateway together kept the CPUs
 * they were given over 90% busy (a fast predictor on a small machine: the
 * window measured them, not the replica). The achieved send rate is not compared with the planned
 * one: a Poisson schedule's count over a window varies by ±1/√n on its own. Latency is
 * counted from the planned send time, so a send a millisecond late (a gateway
 * sharing the generator's CPU) only makes the window stricter; that alone
 * does not make it the generator's figure.
 */
export function generatorHealth(run: LoadResult, sloP99Ms: number, hostCpuUtilization: number | null = null): GeneratorHealth {
  const g = run.generator
  const late = (g.lateness?.p99 ?? 0) > sloP99Ms * 0.05
  const host = hostCpuUtilization !== null && hostCpuUtilization > HOST_CPU_LIMIT
  return {saturated: late || host || g.cpuPercent > 90, latePercent: g.latePercent, waitedForConnection: g.waitedForConnection, hostCpuUtilization}
}

