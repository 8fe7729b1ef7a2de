// A tune result as terminal text: a table of every candidate, then the
// recommendation, its reasoning and the warnings.
import Table from 'cli-table3'
import type {CandidateResult, TuneResult} from '../tune/types.js'

const STATUS_WORDS: Record<CandidateResult['status'], string> = {
  ok: 'meets SLO',
  'fails-slo': 'fails SLO',
  'infeasible-memory': 'over compute.mem',
  failed: 'failed',
  aborted: 'stopped',
}

const num = (n: number | undefined | null, digits = 1): string => (n === undefined || n === null || !Number.isFinite(n) ? '-' : n.toFixed(digits))

/** Why a candidate whose closed-loop sweep passed still fails: the open loop missed the SLO. */
function unconfirmed(c: CandidateResult): string {
  const conf = c.capacity?.confirmation
  if (c.status !== 'fails-slo' || !conf || conf.passed) return ''
  return ` (open loop: p99 ${conf.p99Ms.toFixed(0)} ms at ${conf.rate.toFixed(0)} req/s)`
}

function candidateRow(c: CandidateResult, chosen: boolean): string[] {
  const cap = c.capacity
  return [
    `${chosen ? '→ ' : ''}${c.processes} × ${c.threads}`,
    cap ? num(cap.capacity, 0) : '-',
    cap ? num(cap.p50Ms) : '-',
    cap ? num(cap.p99Ms) : '-',
    cap ? num(cap.serviceTimeMs) : '-',
    c.memory ? num(c.memory.perProcessMiB, 0) : '-',
    c.memory ? num(c.memory.replicaMiB, 0) : '-',
    STATUS_WORDS[c.status] + (c.error ? `: ${c.error.split('\n')[0].slice(0, 60)}` : '') + unconfirmed(c),
    num(c.durationS, 0),
  ]
}

export function renderTuneText(result: TuneResult): string {
  const rec = result.recommendation
  const table = new Table({
    head: ['processes × threads', 'capacity req/s', 'p50 ms', 'p99 ms', 'service ms', 'MiB/process', 'MiB/replica', 'status', 'time s'],
    style: {head: [], border: []},
  })
  const sorted = [...result.candidates].sort((a, b) => a.processes - b.processes || a.threads - b.threads)
  for (const c of sorted) {
    const chosen = rec !== null && c.processes === rec.processes_per_replica && c.threads === rec.threads_per_process
    table.push(candidateRow(c, chosen))
  }
  const lines: string[] = []
  lines.push(
    `Tuned API "${result.api}" (${result.search} search, ${result.candidates.length} candidate(s), ${Math.round(result.durationS)} s) for p99 ≤ ${result.constraints.sloP99Ms} ms at a peak of ${result.constraints.peakRps} req/s, ${Math.round(result.constraints.utilization * 100)}% utilization.`,
  )
  lines.push('Capacity: the highest throughput one replica sustains with p99 ≤ SLO and under 0.1% errors, confirmed by an open-loop run.')
  lines.push(table.toString())
  if (rec) {
    lines.push('')
    lines.push(rec.sentence)
    lines.push('')
    lines.push('  autoscaling and predictor settings:')
    lines.push(`    processes_per_replica: ${rec.processes_per_replica}`)
    lines.push(`    threads_per_process: ${rec.threads_per_process}`)
    lines.push(`    max_replica_concurrency: ${rec.max_replica_concurrency}`)
    lines.push(`    target_replica_concurrency: ${rec.target_replica_concurrency}`)
    lines.push(`    min_replicas: ${rec.min_replicas}`)
    lines.push('')
    lines.push(rec.reasoning)
  } else if (result.bestFailing.length > 0) {
    lines.push('')
    lines.push('No recommendation: no candidate meets the SLO. Closest:')
    for (const c of result.bestFailing) {
      lines.push(`  ${c.processes} × ${c.threads}: p99 ${num(c.capacity?.p99Ms)} ms at ${num(c.capacity?.sweep[0]?.throughput, 0)} req/s (concurrency ${c.capacity?.sweep[0]?.concurrency ?? '-'})`)
    }
  }
  for (const warning of result.warnings) lines.push(`warning: ${warning}`)
  return lines.join('\n')
}
