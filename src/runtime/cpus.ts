// CPU sets: which CPUs this process may run on, the list notation Linux uses
// for them (0-2,5), and how a measurement splits them: a replica on CPUs of its
// own, the gateway and the load generator on the rest. A replica measured on
// cores it shares with its own load generator is not the replica that will be
// deployed, so tune and `mlserve run --replica-cpus` pin it.
import {existsSync, readFileSync} from 'node:fs'
import {availableParallelism} from 'node:os'
import {delimiter, join} from 'node:path'

/** The CPUs this process may run on (its affinity), ascending. */
export function availableCpus(): number[] {
  const cpus = processCpus('self')
  if (cpus && cpus.length > 0) return cpus
  // no /proc (not Linux): every CPU Node counts
  return Array.from({length: availableParallelism()}, (_, i) => i)
}

/** A CPU list as Linux writes it (0-2,5), ascending and without repeats; undefined when it does not parse. */
export function parseCpuList(text: string): number[] | undefined {
  const cpus = new Set<number>()
  for (const part of text.trim().split(',')) {
    const range = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part)
    if (!range) return undefined
    const first = Number(range[1])
    const last = range[2] === undefined ? first : Number(range[2])
    if (!Number.isSafeInteger(last) || last < first) return undefined
    for (let cpu = first; cpu <= last; cpu++) cpus.add(cpu)
  }
  return [...cpus].sort((a, b) => a - b)
}

/** CPUs in Linux's list notation, runs folded into ranges: [0,1,2,5] → '0-2,5'. */
export function formatCpuList(cpus: readonly number[]): string {
  const sorted = [...new Set(cpus)].sort((a, b) => a - b)
  const parts: string[] = []
  for (let i = 0; i < sorted.length; ) {
    let j = i
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++
    parts.push(j === i ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`)
    i = j + 1
  }
  return parts.join(',')
}

export interface CpuSplit {
  /** The replica's CPUs: the highest-numbered ones. */
  replica: number[]
  /** What is left for the gateway and the load generator; empty when the machine is too small. */
  rest: number[]
  /** False when fewer than replicaCpuCount + 1 CPUs exist: the replica then has every CPU, shared. */
  fits: boolean
}

/**
 * The replica takes the highest-numbered `replicaCpuCount` CPUs (CPU 0 takes
 * most interrupts), and at least one is left for the gateway and the
 * generator. Where that does not fit, the replica gets every CPU and the
 * caller says plainly that it was measured on shared cores.
 */
export function splitCpus(available: readonly number[], replicaCpuCount: number): CpuSplit {
  const sorted = [...new Set(available)].sort((a, b) => a - b)
  const wanted = Math.max(1, Math.ceil(replicaCpuCount))
  if (sorted.length < wanted + 1) return {replica: sorted, rest: [], fits: false}
  return {replica: sorted.slice(sorted.length - wanted), rest: sorted.slice(0, sorted.length - wanted), fits: true}
}

/** util-linux's taskset on PATH, or null where it is not installed. */
export function tasksetPath(): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && existsSync(join(dir, 'taskset'))) return join(dir, 'taskset')
  }
  return null
}

/**
 * The argv that starts `argv` with its affinity set to `cpus` (taskset execs
 * it, so the pid stays the command's, and every process it forks inherits the
 * affinity); null where taskset is not installed.
 */
export function pinnedArgv(argv: readonly string[], cpus: readonly number[]): string[] | null {
  const taskset = tasksetPath()
  return taskset ? [taskset, '-c', formatCpuList(cpus), ...argv] : null
}

/**
 * Pins every thread of a live process to `cpus` (taskset -a -cp). Returns
 * whether it did; says why not in a log line (no taskset here, or a CPU the
 * process may not use).
 */
export async function pinProcess(pid: number, cpus: readonly number[], log: (line: string) => void = () => undefined): Promise<boolean> {
  const list = formatCpuList(cpus)
  // execa loads only when a process is pinned: flags parse CPU lists through this module.
  const {execa} = await import('execa')
  const result = await execa('taskset', ['-a', '-cp', list, String(pid)], {reject: false})
  if ((result as {code?: string}).code === 'ENOENT') {
    log(`taskset (util-linux) is not installed: process ${pid} was not pinned to CPUs ${list}`)
    return false
  }
  // taskset -a succeeds on a pid that has no tasks, so the affinity is read back.
  const now = processCpus(pid)
  if (result.exitCode === 0 && now !== undefined && formatCpuList(now) === list) return true
  const why = result.exitCode !== 0 ? String(result.stderr || result.message).trim() : now === undefined ? 'no such process' : `its CPUs are ${formatCpuList(now)}`
  log(`could not pin process ${pid} to CPUs ${list}: ${why}`)
  return false
}

/** A live process's affinity (its main thread's), or undefined where /proc has no such process. */
function processCpus(pid: number | 'self'): number[] | undefined {
  try {
    const line = /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return line ? parseCpuList(line[1]) : undefined
  } catch {
    return undefined
  }
}
