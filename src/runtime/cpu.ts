// CPU time of a replica's processes, read from /proc: user plus system time of
// every process in the replica's process group (its supervisor and workers).
// Processes that exited are not counted, which is why callers sample before
// and after a measurement rather than once at the end.
import {readdirSync, readFileSync} from 'node:fs'

const TICKS_PER_SECOND = 100 // USER_HZ on Linux, on every architecture Node supports

/** CPU seconds used so far by the live processes of the group led by `pgid`; null where /proc is unavailable. */
export function replicaCpuSeconds(pgid: number): number | null {
  let pids: string[]
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name))
  } catch {
    return null
  }
  let ticks = 0
  let found = false
  for (const pid of pids) {
    let stat: string
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    } catch {
      continue
    }
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    if (Number(fields[2]) !== pgid) continue
    found = true
    ticks += Number(fields[11]) + Number(fields[12])
  }
  return found ? ticks / TICKS_PER_SECOND : null
}
