// What `mlserve tune` recommended for an API, kept in the project as
// .mlserve/tune/<api>.json so that later commands (a traffic rollout sizing
// the replicas a share of the traffic needs) use the measured figures
// instead of guessing. Light: node:fs only, so a client command may read it
// without loading the tuner.
import {mkdir, readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {writeFileAtomic} from '../config/index.js'
import type {TuneResult} from './types.js'

export interface TuneRecord {
  api: string
  /** ISO time the record was written. */
  at: string
  /** The peak load the recommendation serves, req/s. */
  peakRps: number
  sloP99Ms: number
  /** The rate each replica takes at peak, req/s. */
  perReplicaRate: number
  /** Replicas that serve the peak: the recommended min_replicas. */
  minReplicas: number
  processes: number
  threads: number
  maxReplicaConcurrency: number
}

/** Where the record of `api` lives in the project directory `projectDir`. */
export function tuneRecordPath(projectDir: string, api: string): string {
  return join(projectDir, '.mlserve', 'tune', `${encodeURIComponent(api)}.json`)
}

/** The record of a tune run, or null when it has no recommendation to keep (none, or stopped early). */
export function tuneRecordOf(result: TuneResult, at = new Date()): TuneRecord | null {
  const r = result.recommendation
  if (!r || result.aborted) return null
  return {
    api: result.api,
    at: at.toISOString(),
    peakRps: result.constraints.peakRps,
    sloP99Ms: result.constraints.sloP99Ms,
    perReplicaRate: r.perReplicaRate,
    minReplicas: r.min_replicas,
    processes: r.processes_per_replica,
    threads: r.threads_per_process,
    maxReplicaConcurrency: r.max_replica_concurrency,
  }
}

/**
 * Writes the record of `result` (temp file, then rename, so a reader never
 * sees half of one); resolves with the file, or null when there was nothing
 * to record.
 */
export async function writeTuneRecord(projectDir: string, result: TuneResult, at = new Date()): Promise<string | null> {
  const record = tuneRecordOf(result, at)
  if (!record) return null
  const file = tuneRecordPath(projectDir, record.api)
  await mkdir(join(projectDir, '.mlserve', 'tune'), {recursive: true})
  await writeFileAtomic(file, `${JSON.stringify(record, null, 2)}\n`)
  return file
}

/** The record tune kept for `api`, or null when there is none or it cannot be read as one. */
export async function readTuneRecord(projectDir: string, api: string): Promise<TuneRecord | null> {
  let text: string
  try {
    text = await readFile(tuneRecordPath(projectDir, api), 'utf8')
  } catch {
    return null
  }
  try {
    const record = JSON.parse(text) as Partial<TuneRecord>
    // A record edited by hand or from another API is not one to size replicas from.
    if (record.api !== api || !Number.isInteger(record.minReplicas) || (record.minReplicas as number) < 1) return null
    return record as TuneRecord
  } catch {
    return null
  }
}
