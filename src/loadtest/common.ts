// Small pieces both runners share: option checks, the CPU meter, second ticks.
import {readFileSync} from 'node:fs'
import {nowNs} from './clock.js'
import type {Recorder} from './recorder.js'

export const DEFAULT_DURATION_MS = 10_000
export const DEFAULT_TIMEOUT_MS = 10_000
export const DEFAULT_MAX_CONNECTIONS = 512

export function checkUrl(url: string): URL {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new RangeError(`not a URL: ${url}`)
  }
  if (parsed.protocol !== 'http:') throw new RangeError(`only http: URLs can be load-tested, got ${url}`)
  return parsed
}

export function checkLength(options: {durationMs?: number; amount?: number; warmupMs?: number; timeoutMs?: number}): void {
  if (options.amount !== undefined && !(Number.isInteger(options.amount) && options.amount >= 1)) {
    throw new RangeError(`amount must be a whole number of 1 or more, got ${options.amount}`)
  }
  if (options.durationMs !== undefined && !(options.durationMs > 0)) throw new RangeError(`durationMs must be positive, got ${options.durationMs}`)
  if (options.warmupMs !== undefined && !(options.warmupMs >= 0)) throw new RangeError(`warmupMs must be 0 or more, got ${options.warmupMs}`)
  if (options.timeoutMs !== undefined && !(options.timeoutMs > 0)) throw new RangeError(`timeoutMs must be positive, got ${options.timeoutMs}`)
}

// Linux counts CPU time per thread in clock ticks (USER_HZ, 100 on every
// mainstream kernel): 10 ms resolution, plenty over windows of a second.
const TICK_US = 10_000

/** CPU time of the main thread alone, in µs (Linux), or null elsewhere. */
function mainThreadCpuUs(): number | null {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * TICK_US
  } catch {
    return null
  }
}

/**
 * Starts measuring the generator's CPU time; the function returns it as a
 * percentage of one core over the wall time since. It is the main thread's
 * time where Linux tells it apart, so a gateway started with `--api` (on a
 * thread of its own) does not count; elsewhere, the whole process's.
 */
export function startCpuMeter(): () => number {
  const thread = mainThreadCpuUs()
  const cpu = process.cpuUsage()
  const start = nowNs()
  return () => {
    const wallUs = (nowNs() - start) / 1000
    if (wallUs <= 0) return 0
    const threadNow = thread === null ? null : mainThreadCpuUs()
    if (thread !== null && threadNow !== null) return ((threadNow - thread) / wallUs) * 100
    const used = process.cpuUsage(cpu)
    return ((used.user + used.system) / wallUs) * 100
  }
}

/**
 * Closes each second of the window just after it ends (so live progress keeps
 * coming even while the target answers nothing). The timer also keeps the
 * event loop alive while a run waits on its helper thread.
 */
export function startSecondTicks(recorder: Recorder): () => void {
  let timer: NodeJS.Timeout | null = null
  let k = 1
  const schedule = (): void => {
    const due = recorder.startNs + k * 1e9 + 2e6
    timer = setTimeout(() => {
      recorder.tick(nowNs())
      k = Math.max(k + 1, Math.floor((nowNs() - recorder.startNs) / 1e9) + 1)
      schedule()
    }, Math.max(0, (due - nowNs()) / 1e6))
  }
  schedule()
  return () => {
    if (timer) clearTimeout(timer)
    timer = null
  }
}
