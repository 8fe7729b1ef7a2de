// Durations, Kubernetes quantities and DNS-1123 labels: the value forms that
// Cortex config files use, parsed exactly (decimal arithmetic on BigInt, so
// '0.2' CPU is 200 millicores, not 200.00000000000003).

// ---------------------------------------------------------------------------
// Durations (Go's time.ParseDuration forms, which Cortex used)

/** Human description of the accepted duration forms, used in error messages. */
export const DURATION_FORMS = 'a duration like 100ms, 2s, 1.5s, 1m30s, 5m or 1h (units: ns, us, ms, s, m, h)'

/**
 * What a duration that is almost right lacks, said as a whole sentence rather
 * than "expected <forms>": a bare number (YAML's `ttl: 0`) has no unit, and a
 * negative one cannot be.
 */
export function durationHint(input: unknown): string | undefined {
  if (typeof input === 'number') return input < 0 ? 'a duration must not be negative, and needs a unit, e.g. 0s or 5m' : 'a duration needs a unit, e.g. 0s or 5m'
  if (typeof input === 'string' && /^\s*-/.test(input)) return 'a duration must not be negative, e.g. 0s or 5m'
  return undefined
}

/** Whether a schema message is one of durationHint's, shown whole. */
export const isDurationHint = (message: string): boolean => /^a duration (needs|must not)/.test(message)

/** The same forms as a regular expression (also emitted as the JSON Schema pattern). */
export const DURATION_PATTERN = '^(?:0|(?:(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+)$'

const DURATION_RE = new RegExp(DURATION_PATTERN)
const DURATION_PART_RE = /([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)/g
const UNIT_MS: Record<string, number> = {ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000}

/**
 * Parses a duration such as '100ms', '2s', '1.5s', '1m30s', '5m', '1h' or
 * '250us' into milliseconds (fractional for sub-millisecond values). '0' alone
 * is accepted. Throws an Error that lists the accepted forms.
 */
export function parseDurationMs(text: string): number {
  if (typeof text !== 'string' || !DURATION_RE.test(text)) {
    throw new Error(`expected ${DURATION_FORMS}; found ${describeForError(text)}`)
  }
  if (text === '0') return 0
  let total = 0
  for (const match of text.matchAll(DURATION_PART_RE)) {
    total += Number(match[1]) * UNIT_MS[match[2]]
  }
  // Round away float noise (1.1s → 1100, not 1100.0000000000002) but keep sub-ms precision.
  return Math.round(total * 1e6) / 1e6
}

// ---------------------------------------------------------------------------
// Kubernetes quantities

/** Human description of the accepted quantity forms, used in error messages. */
export const CPU_FORMS = "a CPU quantity like 200m, 0.5, 1 or 2 (cores; 'm' means thousandths of a core)"
export const MEMORY_FORMS = 'a memory quantity like 512Mi, 2Gi, 100M or 1G (bytes; Ki/Mi/Gi are powers of 1024, k/M/G powers of 1000)'

/** A Kubernetes quantity (decimal number with an optional SI, binary or exponent suffix). */
export const QUANTITY_PATTERN = '^(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(?:Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$'

const QUANTITY_RE = /^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$/

const DECIMAL_EXP: Record<string, number> = {n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18}
const BINARY_POW: Record<string, number> = {Ki: 1, Mi: 2, Gi: 3, Ti: 4, Pi: 5, Ei: 6}

/** An exact quantity: digits × 10^exp10 × 1024^pow1024. */
interface ExactQuantity {
  digits: bigint
  exp10: number
  pow1024: number
}

function parseExact(q: string | number, forms: string): ExactQuantity {
  // Numbers print as quantity forms ('0.2', '1', '1e-7'); negative ones and NaN fail the pattern.
  const text = typeof q === 'number' ? String(q) : q
  const match = typeof text === 'string' ? QUANTITY_RE.exec(text) : null
  if (!match) throw new Error(`expected ${forms}; found ${describeForError(q)}`)
  const [intPart, fracPart = ''] = match[1].split('.')
  const suffix = match[2] ?? ''
  let exp10 = -fracPart.length
  let pow1024 = 0
  if (suffix in BINARY_POW) pow1024 = BINARY_POW[suffix]
  else if (suffix in DECIMAL_EXP) exp10 += DECIMAL_EXP[suffix]
  else exp10 += Number(suffix.slice(1))
  return {digits: BigInt((intPart || '0') + fracPart), exp10, pow1024}
}

/** The quantity in units of 10^unitExp10, rounded up to a whole number (as Kubernetes does). */
function toUnits(q: ExactQuantity, unitExp10: number): number {
  let value = q.digits * 1024n ** BigInt(q.pow1024)
  const shift = q.exp10 - unitExp10
  // value < 10^magnitude: decide far-out exponents (1e999999999) without building the power.
  const magnitude = value.toString().length + shift
  if (value === 0n) return 0
  if (magnitude > 330) return Infinity
  if (magnitude < 0) return 1 // between 0 and 1 unit: rounds up to one
  if (shift >= 0) return Number(value * 10n ** BigInt(shift))
  const divisor = 10n ** BigInt(-shift)
  const whole = value / divisor
  value = value % divisor === 0n ? whole : whole + 1n
  return Number(value)
}

/** Parses a quantity ('200m', '1.5', '2Gi', 1) into its value in base units (not rounded). */
export function parseQuantity(q: string | number): number {
  const exact = parseExact(q, 'a quantity like 200m, 1.5, 512Mi or 2G')
  return Number(exact.digits) * 10 ** exact.exp10 * 1024 ** exact.pow1024
}

/** '200m' → 200, 1 → 1000, '1.5' → 1500, 0.2 → 200. Rounds up to a whole millicore. */
export function parseCpuMillicores(q: string | number): number {
  return toUnits(parseExact(q, CPU_FORMS), -3)
}

/** '2Gi' → 2147483648, '512Mi', '1G' → 1e9, '100M' → 1e8, '1024' → 1024. Rounds up to a whole byte. */
export function parseMemoryBytes(q: string | number): number {
  return toUnits(parseExact(q, MEMORY_FORMS), 0)
}

// ---------------------------------------------------------------------------
// DNS-1123 labels (API names)

const DNS1123_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/

/** Lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters. */
export function isDns1123Label(name: string): boolean {
  return typeof name === 'string' && name.length <= 63 && DNS1123_RE.test(name)
}

/** Proposes a valid label for a name: 'Iris_Classifier v2' → 'iris-classifier-v2'. */
export function toDns1123Label(name: string): string {
  const label = String(name)
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '')
  return label === '' ? 'api' : label
}

// ---------------------------------------------------------------------------

function describeForError(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`
  if (value === null) return 'null'
  if (value === undefined) return 'nothing'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'a mapping'
  return String(value)
}
