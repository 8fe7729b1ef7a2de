// Which candidates to measure. Exhaustive measures every (processes, threads)
// pair. Quick climbs like Model Analyzer: from one process and one thread it
// raises threads while they pay (gain over 5%), then processes at the best
// thread count, then tries the neighbours of the best; a direction that stops
// paying is pruned.
import {candidateKey, type Candidate, type CandidateResult} from './types.js'

/**
 * Measurement noise: the same candidate measured twice differs by up to about
 * 10% with wrk on a quiet 2-core machine, and by up to about 15% when the
 * generator and the gateway share those cores with the replica, as they do
 * here. Gains within it don't count as paying, and capacities within it tie.
 */
export const NOISE = 0.15

/**
 * The quick search keeps climbing while a step gains more than this. It is
 * smaller than the noise on purpose: a climb that goes one step too far costs
 * a measurement, one that stops too early costs capacity.
 */
export const PAYS = 0.05

export type Measure = (candidate: Candidate) => Promise<CandidateResult>

export interface SearchOptions {
  processes: number[]
  threads: number[]
  aborted?: () => boolean
}

/** Capacity that counts for comparing candidates: only feasible ones that meet the SLO. */
export function score(result: CandidateResult | undefined): number {
  if (!result || result.status !== 'ok' || !result.capacity) return 0
  return result.capacity.capacity
}

export async function exhaustiveSearch(measure: Measure, options: SearchOptions): Promise<CandidateResult[]> {
  const results: CandidateResult[] = []
  for (const processes of options.processes) {
    for (const threads of options.threads) {
      if (options.aborted?.()) return results
      results.push(await measure({processes, threads}))
    }
  }
  return results
}

export async function quickSearch(measure: Measure, options: SearchOptions): Promise<CandidateResult[]> {
  const processes = [...options.processes].sort((a, b) => a - b)
  const threads = [...options.threads].sort((a, b) => a - b)
  const seen = new Map<string, CandidateResult>()
  const results: CandidateResult[] = []
  const get = async (c: Candidate): Promise<CandidateResult | undefined> => {
    const key = candidateKey(c)
    const known = seen.get(key)
    if (known) return known
    if (options.aborted?.()) return undefined
    const result = await measure(c)
    seen.set(key, result)
    results.push(result)
    return result
  }
  const pays = (next: CandidateResult | undefined, current: CandidateResult | undefined): boolean =>
    score(next) > score(current) * (1 + PAYS)

  let best = await get({processes: processes[0], threads: threads[0]})
  if (!best) return results

  // Raise threads in the smallest process count while they pay.
  for (const t of threads.slice(1)) {
    const next = await get({processes: processes[0], threads: t})
    if (!pays(next, best)) break
    best = next
  }
  // Raise processes at that thread count while they pay.
  for (const p of processes.slice(1)) {
    const next = await get({processes: p, threads: best!.threads})
    if (!pays(next, best)) break
    best = next
  }
  // Neighbours of the best, one step along each axis, until none pays.
  for (let moved = true; moved && !options.aborted?.(); ) {
    moved = false
    const pi = processes.indexOf(best!.processes)
    const ti = threads.indexOf(best!.threads)
    const neighbours: Candidate[] = [
      {processes: best!.processes, threads: threads[ti + 1]},
      {processes: best!.processes, threads: threads[ti - 1]},
      {processes: processes[pi + 1], threads: best!.threads},
      {processes: processes[pi - 1], threads: best!.threads},
    ].filter((c) => c.processes !== undefined && c.threads !== undefined)
    for (const neighbour of neighbours) {
      const next = await get(neighbour)
      if (pays(next, best)) {
        best = next
        moved = true
        break
      }
    }
  }
  return results
}

/**
 * The candidate to recommend: the most capacity under the SLO. Candidates
 * within the noise band of the best are ties, and a tie goes to fewer
 * processes (each holds a copy of the model), then fewer threads.
 */
export function pickBest(results: CandidateResult[]): CandidateResult | null {
  const ok = results.filter((r) => score(r) > 0)
  if (ok.length === 0) return null
  const top = Math.max(...ok.map(score))
  const ties = ok.filter((r) => score(r) >= top * (1 - NOISE))
  ties.sort((a, b) => a.processes - b.processes || a.threads - b.threads || score(b) - score(a))
  return ties[0]
}
