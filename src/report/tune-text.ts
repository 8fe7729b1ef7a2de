// A tune result as terminal text: what was searched and how it was measured,
// a table of every candidate, then the recommendation with its settings, its
// verification, the alternative, the cost, the reasoning, what --write changed
// and the warnings.
import Table from 'cli-table3'
import {candidateLabel, type TuneResult} from '../tune/types.js'
import {ms, num, pct} from './format.js'
import {bandText, costText, costUnit, failedVerificationText, figuresOf, lightestWindow, money, rateText, sortedCandidates, verificationLine} from './tune-figures.js'

export function renderTuneText(result: TuneResult): string {
  const rec = result.recommendation
  const c = result.constraints
  const lines: string[] = []
  lines.push(
    `Tuned API "${result.api}" (${result.search} search, ${result.candidates.length} candidate(s), ${Math.round(result.durationS)} s) for p99 ≤ ${c.sloP99Ms} ms at a peak of ${num(c.peakRps)} req/s, ${Math.round(c.utilization * 100)}% utilization.`,
  )
  lines.push(`Placement: ${result.placement.note}`)
  lines.push(`Windows: ${result.window.reason}`)
  lines.push('Capacity: the highest open-loop rate one replica sustains with p99 ≤ SLO and under 0.1% shed or errors, over settled windows.')
  lines.push(candidateTable(result))

  if (rec) {
    lines.push('')
    lines.push(rec.sentence)
    if (rec.projected) {
      lines.push(`(projected: this capacity is projected to compute.cpu ${result.placement.cpu} from CPU seconds per request measured on fewer CPUs; see the placement note)`)
    }
    lines.push('')
    lines.push('  settings:')
    lines.push('    predictor:')
    lines.push(`      processes_per_replica: ${rec.processes_per_replica}`)
    lines.push(`      threads_per_process: ${rec.threads_per_process}`)
    const env = Object.entries(rec.env)
    if (env.length > 0) {
      lines.push('      env:')
      for (const [name, value] of env) lines.push(`        ${name}: "${value}"`)
    }
    lines.push('    autoscaling:')
    lines.push(`      max_replica_concurrency: ${rec.max_replica_concurrency}`)
    lines.push(`      target_replica_concurrency: ${rec.target_replica_concurrency}`)
    lines.push(`      min_replicas: ${rec.min_replicas}`)
    lines.push('    compute:')
    lines.push(`      cpu: ${rec.compute.cpu}`)
    lines.push(`      mem: ${rec.compute.mem}`)
    if (rec.verifications.length > 0) {
      lines.push('')
      lines.push('  verification (the pick run as `mlserve run` would, open loop at the per-replica rate):')
      rec.verifications.forEach((v, i) => lines.push(`    ${i + 1}. ${verificationLine(v, {num, ms, pct})}`))
    }
    if (rec.alternative) {
      const alt = rec.alternative
      lines.push('')
      lines.push(
        `  alternative (most capacity per replica): ${alt.label}, ${rateText(alt.capacity)} req/s per replica, ${alt.cost.replicas} replica(s) for the peak at ${costText(alt.cost.perHour)} ${costUnit(result)} (the pick: ${costText(rec.cost.perHour)} ${costUnit(result)})`,
      )
    }
    if (rec.dollars) {
      lines.push('')
      lines.push(`  cost: $${rec.dollars.per1000Requests.toFixed(4)} per 1,000 requests; $${money(rec.dollars.perMonthAtPeak)} per month at the peak`)
    }
    lines.push('')
    lines.push(rec.reasoning)
  } else if (result.failedVerification) {
    lines.push('')
    lines.push(failedVerificationText(result)!)
    result.failedVerification.verifications.forEach((v, i) => lines.push(`    ${i + 1}. ${verificationLine(v, {num, ms, pct})}`))
  }
  if (!rec && result.bestFailing.length > 0) {
    lines.push('')
    lines.push(`No recommendation: no candidate meets p99 ≤ ${c.sloP99Ms} ms. Closest, at their lightest load:`)
    for (const f of result.bestFailing) {
      const w = lightestWindow(f)
      lines.push(`  ${candidateLabel(f)}: ${w ? `p99 ${ms(w.p99Ms)} ms at ${rateText(w.rate)} req/s` : 'no open-loop window measured'}`)
    }
  }
  if (result.writes.length > 0) {
    lines.push('')
    lines.push(`Changes to ${result.wrote ?? result.file}:`)
    for (const w of result.writes) lines.push(`  wrote ${w.path} = ${w.value}: ${w.why}`)
  }
  for (const warning of result.warnings) lines.push(`warning: ${warning}`)
  return lines.join('\n')
}

function candidateTable(result: TuneResult): string {
  const figures = sortedCandidates(result).map((candidate) => figuresOf(result, candidate))
  // A long status (a saturated generator, a start-up error) wraps rather than widening the table past a terminal.
  const statusWidth = Math.min(30, Math.max('status'.length, ...figures.map((f) => f.status.length)) + 2)
  const table = new Table({
    head: ['candidate', 'capacity req/s', 'p99 ms', 'mean ms', 'CPU %', 'noise', 'replicas', 'MiB/replica', costUnit(result), 'status', 'time s'],
    colWidths: [null, null, null, null, null, null, null, null, null, statusWidth, null],
    wordWrap: true,
    style: {head: [], border: []},
  })
  for (const f of figures) {
    table.push([
      `${f.chosen ? '→ ' : ''}${f.label}`,
      rateText(f.capacity),
      ms(f.p99AtCapacityMs),
      ms(f.meanAtCapacityMs),
      f.utilization === null ? '-' : pct(f.utilization, 0),
      bandText(f.band),
      f.replicas === null ? '-' : String(f.replicas),
      num(f.replicaMiB, 0),
      costText(f.perHour),
      f.status,
      num(f.durationS, 0),
    ])
  }
  return table.toString()
}
