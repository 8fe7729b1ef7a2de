// Counts in user-facing text: "1 replica", "2 replicas", never "1 replicas" or "replica(s)".

/** The noun for a count: `word` for exactly 1, else `many` (by default `word` + "s"). */
export function noun(n: number, word: string, many = `${word}s`): string {
  return n === 1 ? word : many
}

/** A count with its noun: plural(1, 'replica') is "1 replica", plural(3, 'process', 'processes') is "3 processes". */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${noun(n, word, many)}`
}
