// Last line of defence against orphans: process groups of replicas still alive
// when mlserve exits (an uncaught error, process.exit in a hurry) are killed.
// Normal shutdown stops replicas gracefully long before this runs; a SIGKILLed
// mlserve is covered by the children's parent-death signal instead.
//
// The reaper lives on the main thread: when the main thread exits, a worker
// thread is torn down without running its exit handlers. A runtime on a worker
// thread therefore records its process groups in memory it shares with the
// main thread (slots of an Int32Array), which the main thread's exit handler
// reads synchronously.
const groups = new Set<number>()
/** Shared slot arrays of runtime threads (main thread), each slot 0 or a live process group. */
const threadSlots = new Set<Int32Array>()
/** This worker thread's slots, adopted from the main thread. */
let ownSlots: Int32Array | null = null
let installed = false

/** Slots for one runtime thread's process groups; 256 replicas per thread is far above any run. */
export const REAPER_SLOTS = 256

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL')
  } catch {
    // already gone
  }
}

function killSlots(slots: Int32Array): void {
  for (let i = 0; i < slots.length; i++) {
    const pgid = Atomics.exchange(slots, i, 0)
    if (pgid > 0) killGroup(pgid)
  }
}

function killAll(): void {
  for (const pgid of groups) killGroup(pgid)
  groups.clear()
  for (const slots of threadSlots) killSlots(slots)
}

function install(): void {
  if (installed) return
  process.on('exit', killAll)
  installed = true
}

/** Main thread: shared slots for a runtime thread about to start; the exit handler reaps what they hold. */
export function reaperSlotsForThread(): Int32Array {
  const slots = new Int32Array(new SharedArrayBuffer(REAPER_SLOTS * Int32Array.BYTES_PER_ELEMENT))
  threadSlots.add(slots)
  install()
  return slots
}

/**
 * Main thread: the runtime thread ended. Groups its slots still hold are
 * replicas that nobody is left to stop (a thread that stopped its replicas
 * holds none; one that crashed does): they are killed now, and the slots need
 * no more watching.
 */
export function reapThreadSlots(slots: Int32Array): void {
  threadSlots.delete(slots)
  killSlots(slots)
}

/** Worker thread: record process groups in the main thread's slots from now on. */
export function adoptReaperSlots(slots: Int32Array): void {
  ownSlots = slots
}

export function trackProcessGroup(pgid: number): void {
  if (ownSlots !== null) {
    for (let i = 0; i < ownSlots.length; i++) if (Atomics.compareExchange(ownSlots, i, 0, pgid) === 0) return
  }
  // On the main thread, or slots full, or a worker thread nobody gave slots to: this thread's own exit handler.
  groups.add(pgid)
  install()
}

export function untrackProcessGroup(pgid: number): void {
  groups.delete(pgid)
  if (ownSlots !== null) {
    for (let i = 0; i < ownSlots.length; i++) if (Atomics.compareExchange(ownSlots, i, pgid, 0) === pgid) return
  }
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
