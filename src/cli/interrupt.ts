// The two-stage Ctrl-C that run, loadtest --api and tune share. The first
// SIGINT or SIGTERM asks for a graceful stop (drain the requests in flight,
// report what was measured); the second asks to stop at once, without
// draining. Both stages are the command's to carry out; this module only
// counts the signals, says on stderr what each one does, and removes its
// handlers when the command is done.

export interface InterruptStages {
  /** Said on the first signal, such as "Stopping after the current measurement; Ctrl-C again to quit at once." */
  gracefulNote?: (signal: NodeJS.Signals) => string
  /** The first signal: stop gracefully. */
  graceful: (signal: NodeJS.Signals) => void
  /** Said on the second signal. */
  immediateNote?: string
  /** The second signal: stop at once. */
  immediate: (signal: NodeJS.Signals) => void
  /** Where the notes go (stderr by default). */
  say?: (line: string) => void
}

export interface Interrupts {
  /** Resolves with the first signal. */
  readonly first: Promise<NodeJS.Signals>
  /** Resolves with the second signal. */
  readonly second: Promise<NodeJS.Signals>
  /** How many stop signals have come. */
  readonly count: number
  /** Removes the handlers: later signals get Node's default (exit). */
  dispose(): void
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM']

/** Listens for SIGINT and SIGTERM until disposed; the first runs `graceful`, the second `immediate`, later ones nothing. */
export function onInterrupt(stages: InterruptStages): Interrupts {
  const say = stages.say ?? ((line: string) => process.stderr.write(`${line}\n`))
  let count = 0
  let resolveFirst!: (signal: NodeJS.Signals) => void
  let resolveSecond!: (signal: NodeJS.Signals) => void
  const first = new Promise<NodeJS.Signals>((resolve) => (resolveFirst = resolve))
  const second = new Promise<NodeJS.Signals>((resolve) => (resolveSecond = resolve))
  const handler = (signal: NodeJS.Signals): void => {
    count++
    if (count === 1) {
      if (stages.gracefulNote) say(stages.gracefulNote(signal))
      resolveFirst(signal)
      stages.graceful(signal)
    } else if (count === 2) {
      say(stages.immediateNote ?? 'Stopping now, without draining.')
      resolveSecond(signal)
      stages.immediate(signal)
    }
  }
  for (const signal of SIGNALS) process.on(signal, handler)
  return {
    first,
    second,
    get count() {
      return count
    },
    dispose() {
      for (const signal of SIGNALS) process.off(signal, handler)
    },
  }
}
