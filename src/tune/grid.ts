// The default candidates, from Cortex's guidance: 1–3 processes per CPU, and
// threads at 1, 2, 4, 8 and more (CPU-bound predictors want 1 thread; I/O-,
// GPU- or network-bound ones want many).
import type {Candidate} from './types.js'

export const DEFAULT_THREADS = [1, 2, 4, 8, 16, 32]

export function defaultProcesses(cpuMillicores: number | null): number[] {
  const cpus = Math.max(1, Math.round((cpuMillicores ?? 1000) / 1000))
  return [...new Set([cpus, 2 * cpus, 3 * cpus])].sort((a, b) => a - b)
}

export function gridCandidates(processes: number[], threads: number[]): Candidate[] {
  return processes.flatMap((p) => threads.map((t) => ({processes: p, threads: t, blasThreads: null})))
}
