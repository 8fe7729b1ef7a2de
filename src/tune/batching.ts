// Server-side batching, swept where the config turns it on or under --batch.
// Cortex's rule of thumb is the starting point: a batch fills in its interval
// when max_batch_size ≈ throughput × batch_interval. With the config's own
// pair (which every candidate already runs with), the throughput it implies
// (size / interval) is kept and the interval halved and doubled; under --batch alone, the throughput is the best
// unbatched capacity measured, at intervals of 10, 20 and 40 ms. A request
// holds a thread while its batch fills, so threads_per_process is raised to
// max_batch_size.
import {parseDurationMs, type ServerSideBatchingConfig} from '../config/index.js'
import type {Batching, Candidate} from './types.js'

const INTERVALS_MS = [10, 20, 40]

/** The batching pairs to try, or [] when batching is not swept. */
export function batchValues(configured: ServerSideBatchingConfig | undefined, sweep: boolean, throughput: number): Batching[] {
  if (configured) {
    const size = configured.max_batch_size
    const interval = parseDurationMs(configured.batch_interval)
    // The config's own pair is what every other candidate already runs with.
    const pairs = [0.5, 2].map((f) => ({maxBatchSize: Math.max(2, Math.round(size * f)), intervalMs: Math.max(1, Math.round(interval * f))}))
    return unique(pairs)
  }
  if (!sweep || !(throughput > 0)) return []
  return unique(INTERVALS_MS.map((intervalMs) => ({maxBatchSize: Math.max(2, Math.ceil((throughput * intervalMs) / 1000)), intervalMs})))
}

/** The candidate with this batching: threads raised to hold a full batch. */
export function withBatching(base: Candidate, batch: Batching): Candidate {
  return {...base, threads: Math.max(base.threads, batch.maxBatchSize), batch}
}

function unique(pairs: Batching[]): Batching[] {
  const seen = new Set<string>()
  return pairs.filter((p) => {
    const key = `${p.maxBatchSize}@${p.intervalMs}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}
