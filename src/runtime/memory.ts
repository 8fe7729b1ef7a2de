// Memory of a replica's processes, read from /proc. PSS (proportional set
// size) splits pages shared after fork between the processes that share them,
// so the per-process figures add up to what the replica really uses; RSS is the
// fallback where smaps_rollup is missing.
import {readdirSync, readFileSync} from 'node:fs'

export interface ProcessMemory {
  pid: number
  bytes: number
}

export interface ReplicaMemory {
  /** Every process in the replica's process group (its supervisor included). */
  processes: ProcessMemory[]
  /** The largest process other than the group leader: a worker holding its copy of the model. */
  perProcessBytes: number
  totalBytes: number
}

function processGroupOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(fields[2])
  } catch {
    return null
  }
}

function memoryOf(pid: number): number | null {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')
    const pss = /^Pss:\s+(\d+) kB$/m.exec(rollup)
    if (pss) return Number(pss[1]) * 1024
  } catch {
    // fall back to RSS
  }
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const rss = /^VmRSS:\s+(\d+) kB$/m.exec(status)
    return rss ? Number(rss[1]) * 1024 : null
  } catch {
    return null
  }
}

/** Memory of every live process in the group led by `pgid`; null where /proc is unavailable. */
export function replicaMemory(pgid: number): ReplicaMemory | null {
  let pids: number[]
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number)
  } catch {
    return null
  }
  const processes: ProcessMemory[] = []
  for (const pid of pids) {
    if (processGroupOf(pid) !== pgid) continue
    const bytes = memoryOf(pid)
    if (bytes !== null && bytes > 0) processes.push({pid, bytes})
  }
  if (processes.length === 0) return null
  const workers = processes.filter((p) => p.pid !== pgid)
  const perProcessBytes = Math.max(...(workers.length > 0 ? workers : processes).map((p) => p.bytes))
  return {processes, perProcessBytes, totalBytes: processes.reduce((sum, p) => sum + p.bytes, 0)}
}
