// The processes a test's project runs, found through /proc.
import {readdirSync, readFileSync, readlinkSync} from 'node:fs'

/** Processes (live, not zombies) whose working directory is dir: a replica's harness master and workers. */
export function processesIn(dir: string): number[] {
  const found: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readlinkSync(`/proc/${entry}/cwd`) !== dir) continue
      const state = readFileSync(`/proc/${entry}/stat`, 'utf8').replace(/^.*\) /, '')[0]
      if (state !== 'Z') found.push(Number(entry))
    } catch {
      // gone while we looked, or not ours to read
    }
  }
  return found
}

/** Waits until dir runs no process; SIGKILL is immediate, but the kernel may take a moment to take the processes away. */
export async function processesLeftIn(dir: string): Promise<number[]> {
  for (let i = 0; i < 100 && processesIn(dir).length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 50))
  return processesIn(dir)
}
