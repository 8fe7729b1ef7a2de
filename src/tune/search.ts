// Which candidates to measure. Exhaustive measures every (processes, threads)
// pair. Quick climbs like Model Analyzer: from one process and one thread it
// raises threads while they pay (gain over 5%), then processes at the best
// thread count, then tries the neighbours of the best; a direction that stops
// paying is pruned.
import {candidateKey, type Candidate, type CandidateCost, type CandidateResult} from './types.js'

/**
 * The quick search keeps climbing while a step gains more than this, or more
 * than the two candidates' measured noise band, whichever is larger: a climb
 * that goes one step too far costs a measurement, one that stops early costs
 * capacity.
 */
export const PAYS = 0.05

export type Measure = (candidate: Candidate) => Promise<CandidateResult>

export interface SearchOptions {
  processes: number[]
  threads: number[]
  /** BLAS/OpenMP threads per process; [null] when not swept. */
  blasThreads: Array<number | null>
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
      for (const blasThreads of options.blasThreads) {
        if (options.aborted?.()) return results
        results.push(await measure({processes, threads, blasThreads}))
      }
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
  const band = (r: CandidateResult | undefined): number => r?.capacity?.noise.band ?? 0
  const pays = (next: CandidateResult | undefined, current: CandidateResult | undefined): boolean =>
    score(next) > score(current) * (1 + Math.max(PAYS, band(next), band(current)))
  // BLAS threads: the climb starts at one per process (no oversubscription) and tries the others as neighbours.
  const blas = [...options.blasThreads].sort((a, b) => (a ?? Infinity) - (b ?? Infinity))

  let best = await get({processes: processes[0], threads: threads[0], blasThreads: blas[0]})
  if (!best) return results

  // Raise threads in the smallest process count while they pay.
  for (const t of threads.slice(1)) {
    const next = await get({processes: processes[0], threads: t, blasThreads: best!.blasThreads})
    if (!pays(next, best)) break
    best = next
  }
  // Raise processes at that thread count while they pay.
  for (const p of processes.slice(1)) {
    const next = await get({processes: p, threads: best!.threads, blasThreads: best!.blasThreads})
    if (!pays(next, best)) break
    best = next
  }
  // Neighbours of the best, one step along each axis, until none pays.
  for (let moved = true; moved && !options.aborted?.(); ) {
    moved = false
    const pi = processes.indexOf(best!.processes)
    const ti = threads.indexOf(best!.threads)
    const bi = blas.indexOf(best!.blasThreads)
    const {blasThreads} = best!
    const neighbours: Candidate[] = [
      {processes: best!.processes, threads: threads[ti + 1], blasThreads},
      {processes: best!.processes, threads: threads[ti - 1], blasThreads},
      {processes: processes[pi + 1], threads: best!.threads, blasThreads},
      {processes: processes[pi - 1], threads: best!.threads, blasThreads},
      ...blas.filter((_, i) => i !== bi).map((b) => ({processes: best!.processes, threads: best!.threads, blasThreads: b})),
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

export type CostAt = (result: CandidateResult, factor: number) => CandidateCost | null

/**
 * The candidate to recommend: the one that serves the peak at the least cost,
 * each sized from its confirmed capacity. A candidate whose cost is within the
 * cheapest one's measured noise (what the cheapest would cost with its
 * capacity lowered by its band) ties with it, and a tie goes to fewer
 * processes (each holds a copy of the model), then fewer threads, then fewer
 * BLAS threads. A noisy candidate gains nothing from its own noise: it is
 * sized from what held. The alternative is the candidate with the most
 * capacity per replica, when it is not the pick.
 */
export function pickCheapest(results: CandidateResult[], costAt: CostAt): {pick: CandidateResult | null; alternative: CandidateResult | null} {
  const ok = results.filter((r) => score(r) > 0 && r.cost !== null)
  if (ok.length === 0) return {pick: null, alternative: null}
  const cheapest = ok.reduce((a, b) => (b.cost!.perHour < a.cost!.perHour ? b : a))
  const band = cheapest.capacity?.noise.band ?? 0
  const ceiling = Math.max(cheapest.cost!.perHour, costAt(cheapest, Math.max(0.01, 1 - band))?.perHour ?? 0) * (1 + 1e-9)
  const ties = ok.filter((r) => r.cost!.perHour <= ceiling)
  ties.sort((a, b) => a.processes - b.processes || a.threads - b.threads || (a.blasThreads ?? Infinity) - (b.blasThreads ?? Infinity) || a.cost!.perHour - b.cost!.perHour)
  const pick = ties[0]
  const most = ok.reduce((a, b) => (score(b) > score(a) ? b : a))
  return {pick, alternative: most === pick || score(most) <= score(pick) * (1 + (pick.capacity?.noise.band ?? 0)) ? null : most}
}
