// The figures both tune renderers show for each candidate, computed once here
// so that the terminal table, the HTML table and the chart cannot disagree.
import {candidateKey, candidateLabel, type Candidate, type CandidateResult, type RateWindow, type Recommendation, type TuneResult, type Verification} from '../tune/types.js'

export const STATUS_WORDS: Record<CandidateResult['status'], string> = {
  ok: 'meets SLO',
  'fails-slo': 'fails SLO',
  'infeasible-memory': 'over compute.mem',
  'generator-saturated': 'generator saturated: not recommended as measured',
  failed: 'failed',
  aborted: 'stopped',
}

export interface CandidateFigures {
  key: string
  label: string
  chosen: boolean
  /** Confirmed capacity, req/s; null when the candidate was never measured. */
  capacity: number | null
  /** Mean over the windows run at the capacity. */
  p99AtCapacityMs: number | null
  meanAtCapacityMs: number | null
  /** Fraction of the replica's CPUs busy at capacity. */
  utilization: number | null
  /** The noise band, as a fraction of the capacity. */
  band: number | null
  replicas: number | null
  replicaMiB: number | null
  perHour: number | null
  status: string
  durationS: number
}

const mean = (values: number[]): number | null => (values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length)

/** The pick whose --verify runs the reports show: the recommendation, or one that failed every run. */
export const verifiedPick = (result: TuneResult): Recommendation | null => result.recommendation ?? result.failedVerification ?? null

/** "No recommendation: 2 × 1 failed verification every time …", when that is why there is none. */
export function failedVerificationText(result: TuneResult): string | null {
  const failed = result.recommendation === null ? result.failedVerification : null
  if (!failed) return null
  const runs = failed.verifications.length
  const how = runs === 1 ? 'when it was run' : `all ${runs} times it was run, stepping down after each failure,`
  return `No recommendation: the pick, ${candidateLabel(failed)}, failed verification ${how} as \`mlserve run\` would, so it is not recommended.`
}

export const isChosen = (result: TuneResult, c: Candidate): boolean =>
  result.recommendation !== null && candidateKey(result.recommendation) === candidateKey(c)

/** Candidates in grid order: processes, then threads, then BLAS threads (the library default first). */
export function sortedCandidates(result: TuneResult): CandidateResult[] {
  const blas = (c: Candidate): number => c.blasThreads ?? -1
  return [...result.candidates].sort((a, b) => a.processes - b.processes || a.threads - b.threads || blas(a) - blas(b))
}

export function figuresOf(result: TuneResult, c: CandidateResult): CandidateFigures {
  const cap = c.capacity
  const atCapacity = cap?.atCapacity ?? []
  return {
    key: candidateKey(c),
    label: candidateLabel(c),
    chosen: isChosen(result, c),
    capacity: cap ? cap.capacity : null,
    p99AtCapacityMs: mean(atCapacity.map((w) => w.p99Ms)),
    meanAtCapacityMs: mean(atCapacity.map((w) => w.meanMs)),
    utilization: cap?.utilizationAtCapacity ?? null,
    band: cap ? cap.noise.band : null,
    replicas: c.cost?.replicas ?? null,
    replicaMiB: c.memory?.replicaMiB ?? null,
    perHour: c.cost?.perHour ?? null,
    status: STATUS_WORDS[c.status] + (c.error ? `: ${c.error.split('\n')[0].slice(0, 80)}` : ''),
    durationS: c.durationS,
  }
}

/** The cost column's unit: dollars only when the user gave prices. */
export const costUnit = (result: TuneResult): string => (result.prices.source === 'flags' ? '$/h' : 'weight/h')

/** The window at a candidate's lightest offered load: where a failing candidate came closest. */
export function lightestWindow(c: CandidateResult): RateWindow | null {
  const windows = c.capacity?.windows ?? []
  return windows.length === 0 ? null : windows.reduce((a, b) => (b.rate < a.rate ? b : a))
}

/** One --verify run in words: "PASS at 345 req/s for 60 s: p99 …". */
export function verificationLine(v: Verification, fmt: {num: (n: number, d?: number) => string; ms: (n: number) => string; pct: (n: number) => string}): string {
  const head = `${v.passed ? 'PASS' : 'FAIL'} at ${fmt.num(v.rate, 1)} req/s for ${fmt.num(v.durationS, 0)} s: p99 ${fmt.ms(v.p99Ms)} ms, mean ${fmt.ms(v.meanMs)} ms, shed ${fmt.pct(v.shedShare)}, errors ${fmt.pct(v.errorShare)}, ${fmt.num(v.requests, 0)} requests`
  const why = [...v.failures, ...(v.generatorSaturated && !v.failures.some((f) => /generator/i.test(f)) ? ['the load generator saturated'] : [])]
  return why.length > 0 ? `${head} (${why.join('; ')})` : head
}

/** A rate in req/s as every tune renderer prints it, so table and chart show the same figure. */
export function rateText(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-'
  return value.toLocaleString('en-US', {maximumFractionDigits: Math.abs(value) >= 100 ? 0 : 1, minimumFractionDigits: 0})
}

/** The noise band as "±2.4%". */
export const bandText = (band: number | null): string => (band === null || !Number.isFinite(band) ? '-' : `±${(band * 100).toFixed(1)}%`)

/** A cost per hour, 4 decimals. */
export const costText = (perHour: number | null): string => (perHour === null || !Number.isFinite(perHour) ? '-' : perHour.toFixed(4))

/** Dollars with cents and thousands separators. */
export const money = (value: number): string => value.toLocaleString('en-US', {minimumFractionDigits: 2, maximumFractionDigits: 2})

/**
 * HTML-escapes text for element content and double-quoted attributes (the
 * only kind these pages write). Apostrophes stay as they are, so a sentence
 * such as "the replica's rate" reads the same in the page's source as in the terminal.
 */
export const escapeText = (text: string): string => text.replace(/[&<>"]/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'})[c]!)
