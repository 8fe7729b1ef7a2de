// "Did you mean …?" for misspelt keys and values.

/** Optimal-string-alignment distance (Levenshtein plus adjacent transpositions). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1
  const cols = b.length + 1
  const d: number[][] = Array.from({length: rows}, (_, i) => Array.from({length: cols}, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1)
      }
    }
  }
  return d[rows - 1][cols - 1]
}

const normalize = (s: string): string => s.toLowerCase().replace(/[-_\s]/g, '')

/**
 * The candidate closest to `input`, or undefined when none is close enough to
 * be a likely typo. Case, '-' and '_' differences ('processesPerReplica',
 * 'processes-per-replica') always match.
 */
export function suggest(input: string, candidates: readonly string[]): string | undefined {
  const norm = normalize(input)
  const exactish = candidates.find((c) => normalize(c) === norm)
  if (exactish !== undefined) return exactish
  const limit = norm.length <= 3 ? 1 : norm.length <= 8 ? 2 : 3
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of candidates) {
    const distance = editDistance(norm, normalize(candidate))
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return bestDistance <= limit ? best : undefined
}
