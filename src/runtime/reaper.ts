// Last line of defence against orphans: process groups of replicas still alive
// when mlserve exits (an uncaught error, process.exit in a hurry) are killed.
// Normal shutdown stops replicas gracefully long before this runs; a SIGKILLed
// mlserve is covered by the children's parent-death signal instead.
const groups = new Set<number>()
let installed = false

function killAll(): void {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  groups.clear()
}

export function trackProcessGroup(pgid: number): void {
  if (!installed) {
    process.on('exit', killAll)
    installed = true
  }
  groups.add(pgid)
}

export function untrackProcessGroup(pgid: number): void {
  groups.delete(pgid)
}

/** Sends a signal to a whole process group; false when the group is gone. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal)
    return true
  } catch {
    return false
  }
}
