// One monotonic clock for the whole generator, in nanoseconds as a plain
// number (relative to module load, so a double keeps sub-microsecond
// precision for months). The ticker thread reads the same clock through BASE.
export const CLOCK_BASE: bigint = process.hrtime.bigint()

export function nowNs(): number {
  return Number(process.hrtime.bigint() - CLOCK_BASE)
}
