// The shadow ledger: the last N pairs (primary answer, shadow answer) a
// splitter's shadow produced, and the report `mlserve traffic diff` shows from
// them: does the new model answer as the old one does (byte for byte, within a
// numeric tolerance, or not), does it fail where the old one answers, and how
// its latency compares. Pure: no I/O, no clock, nothing heavier than Buffer,
// so the gateway can record on its hot path and the report can be unit-tested.

export interface ShadowAnswer {
  status: number
  /** Null when there was no answer (shed, connection failure); status is then 0 or 503. */
  body: Buffer | null
  ms: number
}

export interface ShadowPair {
  requestId: string
  /** Epoch milliseconds. */
  at: number
  request: Buffer
  primaryApi: string
  primary: ShadowAnswer
  shadowApi: string
  shadow: ShadowAnswer
}

export type AnswerVerdict = 'exact' | 'within-tolerance' | 'differ'

/** One side of an example, as the report shows it. */
export interface DiffExampleAnswer {
  status: number
  /** UTF-8, at most 300 characters ("…" ends a shortened one); empty when there was no answer. */
  body: string
}

export interface DiffExample {
  requestId: string
  /** ISO time the pair was recorded. */
  at: string
  /** UTF-8, at most 300 characters ("…" ends a shortened one). */
  request: string
  primary: DiffExampleAnswer
  shadow: DiffExampleAnswer
  /** 'differ': both answered 2xx with different content; 'status': one answered 2xx and the other did not. */
  verdict: 'differ' | 'status'
}

export interface LatencyPair {
  p50: number | null
  p99: number | null
}

/** What `GET /traffic/<splitter>/diff` answers. Every count is over the pairs still in the ring (the last `kept`). */
export interface DiffReport {
  /** Pairs recorded since the gateway started (the ring keeps the last `kept` of them). */
  pairs: number
  /** Pairs still in the ring: the ones every other figure is over. */
  kept: number
  /** ISO time of the oldest kept pair, or null when none. */
  since: string | null
  /** The primary API of most kept pairs (a splitter may send to several), or null when none. */
  primaryApi: string | null
  shadowApi: string | null
  /** Pairs where both answered 2xx, so their bodies can be compared. */
  compared: number
  exact: number
  withinTolerance: number
  differ: number
  /** (exact + withinTolerance) / compared, or null when nothing was compared. */
  agreement: number | null
  tolerance: number
  /** Pairs where one answered 2xx and the other did not. */
  statusMismatch: number
  /** Pairs where the shadow gave no answer (status 0) or answered 5xx, whatever the primary did. */
  shadowFailed: number
  /** Milliseconds, over the compared pairs (both answered 2xx), so the two sides are measured on the same requests. */
  latency: {
    primary: LatencyPair
    shadow: LatencyPair
    /** Median of shadow.ms - primary.ms over the compared pairs. */
    medianDeltaMs: number | null
    /** p50 shadow / p50 primary. */
    ratioP50: number | null
  }
  /** Newest first: pairs that differ, or whose statuses do (one 2xx, the other not). */
  examples: DiffExample[]
}

export const DEFAULT_TOLERANCE = 1e-6
export const DEFAULT_EXAMPLES = 5
const DEFAULT_CAPACITY = 2000
const DEFAULT_MAX_BODY_BYTES = 16 * 1024
const EXAMPLE_CHARS = 300
// A UTF-8 character is at most 4 bytes: enough of the request to show 300 characters.
const REQUEST_BYTES = EXAMPLE_CHARS * 4

/** A body as kept: its prefix and its full length. */
interface KeptBody {
  bytes: Buffer
  length: number
}

interface KeptAnswer {
  status: number
  /** Null when there was no answer. */
  body: KeptBody | null
  ms: number
}

interface Entry {
  requestId: string
  at: number
  request: KeptBody
  primaryApi: string
  primary: KeptAnswer
  shadowApi: string
  shadow: KeptAnswer
  /** How far the two bodies are apart, worked out on the first report that needs it (it does not depend on the tolerance). */
  deviation?: Deviation
}

/**
 * How far two bodies are apart, independent of any tolerance: 'exact' (same
 * bytes, or the same JSON value), 'apart' (not comparable: not JSON, other
 * structure, other strings), or the largest relative deviation of any pair of
 * numbers, |a-b| / max(1, |a|, |b|), when that is all that differs.
 */
type Deviation = {kind: 'exact'} | {kind: 'apart'} | {kind: 'numbers'; max: number}

export class ShadowLedger {
  private readonly capacity: number
  private readonly maxBodyBytes: number
  private readonly ring: Array<Entry | undefined>
  /** Where the next pair goes. */
  private next = 0
  private kept = 0
  private recorded = 0

  constructor(options: {capacity?: number; maxBodyBytes?: number} = {}) {
    this.capacity = Math.max(1, Math.floor(options.capacity ?? DEFAULT_CAPACITY))
    this.maxBodyBytes = Math.max(0, Math.floor(options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES))
    this.ring = new Array<Entry | undefined>(this.capacity)
  }

  /** O(1) in the number of pairs; copies at most maxBodyBytes of each body, so the gateway's buffers can be freed. */
  record(pair: ShadowPair): void {
    this.ring[this.next] = {
      requestId: pair.requestId,
      at: pair.at,
      request: keep(pair.request, Math.min(REQUEST_BYTES, this.maxBodyBytes)),
      primaryApi: pair.primaryApi,
      primary: this.keepAnswer(pair.primary),
      shadowApi: pair.shadowApi,
      shadow: this.keepAnswer(pair.shadow),
    }
    this.next = (this.next + 1) % this.capacity
    if (this.kept < this.capacity) this.kept++
    this.recorded++
  }

  report(options: {tolerance?: number; examples?: number} = {}): DiffReport {
    const tolerance = options.tolerance !== undefined && options.tolerance >= 0 ? options.tolerance : DEFAULT_TOLERANCE
    const wanted = options.examples !== undefined && options.examples >= 0 ? Math.floor(options.examples) : DEFAULT_EXAMPLES
    const entries = this.entries()
    let exact = 0
    let withinTolerance = 0
    let differ = 0
    let statusMismatch = 0
    let shadowFailed = 0
    const primaryMs: number[] = []
    const shadowMs: number[] = []
    const deltaMs: number[] = []
    const primaryApis = new Map<string, number>()
    // Newest first, so the examples are the latest ones.
    const examples: DiffExample[] = []
    for (let i = entries.length - 1; i >= 0; i--) {
      const entry = entries[i]
      primaryApis.set(entry.primaryApi, (primaryApis.get(entry.primaryApi) ?? 0) + 1)
      const primaryOk = isOk(entry.primary)
      const shadowOk = isOk(entry.shadow)
      if (entry.shadow.status === 0 || entry.shadow.status >= 500) shadowFailed++
      let verdict: DiffExample['verdict'] | null = null
      if (primaryOk && shadowOk) {
        primaryMs.push(entry.primary.ms)
        shadowMs.push(entry.shadow.ms)
        deltaMs.push(entry.shadow.ms - entry.primary.ms)
        entry.deviation ??= deviationOfKept(entry.primary.body, entry.shadow.body)
        const v = verdictOf(entry.deviation, tolerance)
        if (v === 'exact') exact++
        else if (v === 'within-tolerance') withinTolerance++
        else {
          differ++
          verdict = 'differ'
        }
      } else if (primaryOk !== shadowOk) {
        statusMismatch++
        verdict = 'status'
      }
      if (verdict !== null && examples.length < wanted) examples.push(example(entry, verdict))
    }
    const compared = exact + withinTolerance + differ
    const primaryP50 = percentile(primaryMs, 50)
    const shadowP50 = percentile(shadowMs, 50)
    return {
      pairs: this.recorded,
      kept: entries.length,
      since: entries.length > 0 ? new Date(entries[0].at).toISOString() : null,
      primaryApi: mostFrequent(primaryApis),
      shadowApi: entries.length > 0 ? entries[entries.length - 1].shadowApi : null,
      compared,
      exact,
      withinTolerance,
      differ,
      agreement: compared > 0 ? (exact + withinTolerance) / compared : null,
      tolerance,
      statusMismatch,
      shadowFailed,
      latency: {
        primary: {p50: primaryP50, p99: percentile(primaryMs, 99)},
        shadow: {p50: shadowP50, p99: percentile(shadowMs, 99)},
        medianDeltaMs: percentile(deltaMs, 50),
        ratioP50: primaryP50 !== null && shadowP50 !== null && primaryP50 > 0 ? shadowP50 / primaryP50 : null,
      },
      examples,
    }
  }

  /** The kept pairs, oldest first. */
  private entries(): Entry[] {
    const start = (this.next - this.kept + this.capacity) % this.capacity
    const out: Entry[] = []
    for (let i = 0; i < this.kept; i++) out.push(this.ring[(start + i) % this.capacity]!)
    return out
  }

  private keepAnswer(answer: ShadowAnswer): KeptAnswer {
    return {status: answer.status, body: answer.body === null ? null : keep(answer.body, this.maxBodyBytes), ms: answer.ms}
  }
}

/**
 * Whether two answers say the same: the same bytes, or the same JSON value
 * (key order and whitespace aside) are 'exact'; the same JSON structure whose
 * numbers are each within `tolerance` (|a-b| <= tolerance * max(1, |a|, |b|))
 * is 'within-tolerance'; anything else, including a body that is not JSON, 'differ'.
 */
export function compareAnswers(a: Buffer, b: Buffer, tolerance: number): AnswerVerdict {
  return verdictOf(deviationOf(a, b), tolerance)
}

function verdictOf(deviation: Deviation, tolerance: number): AnswerVerdict {
  if (deviation.kind === 'exact') return 'exact'
  if (deviation.kind === 'apart') return 'differ'
  return deviation.max <= tolerance ? 'within-tolerance' : 'differ'
}

/** Bodies longer than the ledger keeps compare by their kept bytes and full length only: parsing a prefix would be meaningless. */
function deviationOfKept(a: KeptBody | null, b: KeptBody | null): Deviation {
  const left = a ?? {bytes: EMPTY, length: 0}
  const right = b ?? {bytes: EMPTY, length: 0}
  if (left.bytes.length < left.length || right.bytes.length < right.length) {
    return left.length === right.length && left.bytes.equals(right.bytes) ? {kind: 'exact'} : {kind: 'apart'}
  }
  return deviationOf(left.bytes, right.bytes)
}

function deviationOf(a: Buffer, b: Buffer): Deviation {
  if (a.equals(b)) return {kind: 'exact'}
  let left: unknown
  let right: unknown
  try {
    left = JSON.parse(a.toString('utf8'))
    right = JSON.parse(b.toString('utf8'))
  } catch {
    return {kind: 'apart'}
  }
  // An explicit stack rather than recursion: a deeply nested answer must not overflow the gateway's stack.
  let max = 0
  const stack: Array<[unknown, unknown]> = [[left, right]]
  while (stack.length > 0) {
    const [x, y] = stack.pop()!
    if (typeof x === 'number' && typeof y === 'number') {
      if (x !== y) max = Math.max(max, Math.abs(x - y) / Math.max(1, Math.abs(x), Math.abs(y)))
      continue
    }
    if (x === null || y === null || typeof x !== 'object' || typeof y !== 'object') {
      if (x !== y) return {kind: 'apart'}
      continue
    }
    if (Array.isArray(x) !== Array.isArray(y)) return {kind: 'apart'}
    if (Array.isArray(x)) {
      const ys = y as unknown[]
      if (x.length !== ys.length) return {kind: 'apart'}
      for (let i = 0; i < x.length; i++) stack.push([x[i], ys[i]])
      continue
    }
    const xo = x as Record<string, unknown>
    const yo = y as Record<string, unknown>
    const keys = Object.keys(xo)
    if (keys.length !== Object.keys(yo).length) return {kind: 'apart'}
    for (const key of keys) {
      if (!Object.hasOwn(yo, key)) return {kind: 'apart'}
      stack.push([xo[key], yo[key]])
    }
  }
  return max === 0 ? {kind: 'exact'} : {kind: 'numbers', max}
}

const EMPTY = Buffer.alloc(0)

/** The first `limit` bytes, copied (Buffer.from of a view), so a large buffer is not kept alive by a slice of it. */
function keep(body: Buffer, limit: number): KeptBody {
  return {bytes: Buffer.from(body.subarray(0, limit)), length: body.length}
}

function isOk(answer: KeptAnswer): boolean {
  return answer.status >= 200 && answer.status < 300
}

/** Nearest-rank percentile of unsorted values, or null when there are none. */
function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null
  const sorted = Float64Array.from(values).sort()
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

/** The name with the highest count; the first seen (the newest) on a tie. */
function mostFrequent(counts: Map<string, number>): string | null {
  let best: string | null = null
  let bestCount = 0
  for (const [name, count] of counts) {
    if (count > bestCount) {
      best = name
      bestCount = count
    }
  }
  return best
}

function example(entry: Entry, verdict: DiffExample['verdict']): DiffExample {
  return {
    requestId: entry.requestId,
    at: new Date(entry.at).toISOString(),
    request: excerpt(entry.request),
    primary: {status: entry.primary.status, body: excerpt(entry.primary.body)},
    shadow: {status: entry.shadow.status, body: excerpt(entry.shadow.body)},
    verdict,
  }
}

/** At most 300 characters (by code point) of a kept body; "…" ends it when anything was left out. */
function excerpt(body: KeptBody | null): string {
  if (body === null) return ''
  const chars = Array.from(body.bytes.toString('utf8'))
  const cut = chars.length > EXAMPLE_CHARS || body.bytes.length < body.length
  if (!cut) return chars.join('')
  // A prefix cut inside a character decodes to a replacement character at its end.
  if (body.bytes.length < body.length && chars[chars.length - 1] === '\uFFFD') chars.pop()
  return chars.slice(0, EXAMPLE_CHARS - 1).join('') + '…'
}
