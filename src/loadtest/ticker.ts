// Wakes the open-loop scheduler at planned send times, precisely and without
// burning a core. setTimeout has 1 ms granularity and usually wakes up to
// 1 ms late; spinning on setImmediate is precise but keeps a whole core busy,
// and on a small machine that core is taken from the server under test. So a
// small helper thread sleeps in Atomics.wait (a futex with a sub-millisecond
// timeout) until the next planned time and then posts one message; the main
// thread sends every request that is due and publishes the next time.
//
// Protocol over a SharedArrayBuffer: i32[0] is a sequence number bumped on
// every publish, i32[1] is 1 to stop, f64[0] the next due time (ns on the
// nowNs() clock). After posting a wake-up the thread waits for the next
// publish, so at most one wake-up is ever in flight.
import {Worker} from 'node:worker_threads'
import {CLOCK_BASE, nowNs} from './clock.js'

// Plain CommonJS, evaluated in the worker: it runs the same from src (tsx) and dist.
const TICKER_SOURCE = `
const {parentPort, workerData} = require('node:worker_threads')
const i32 = new Int32Array(workerData.buffer, 0, 2)
const f64 = new Float64Array(workerData.buffer, 8, 1)
const base = workerData.base
const leadNs = workerData.leadNs
const now = () => Number(process.hrtime.bigint() - base)
for (;;) {
  const seq = Atomics.load(i32, 0)
  if (Atomics.load(i32, 1) === 1) break
  const remaining = f64[0] - now()
  if (remaining > leadNs) {
    Atomics.wait(i32, 0, seq, (remaining - leadNs) / 1e6)
    continue
  }
  parentPort.postMessage(0)
  Atomics.wait(i32, 0, seq)
}
`

/** How early the thread posts, to cover the message's trip to the main thread. */
const LEAD_NS = 30_000

export interface Ticker {
  /** Resolves once the ticker can wake on time (its thread is running); schedule the first send after it. */
  ready: Promise<void>
  /** Calls the wake-up function at (or just after) `dueNs` on the nowNs() clock. Replaces any earlier request. */
  wakeAt(dueNs: number): void
  stop(): void
}

export function createTicker(onWake: () => void): Ticker {
  try {
    return new ThreadTicker(onWake)
  } catch {
    return new TimerTicker(onWake)
  }
}

class ThreadTicker implements Ticker {
  private readonly i32: Int32Array
  private readonly f64: Float64Array
  private readonly worker: Worker
  private stopped = false
  readonly ready: Promise<void>

  constructor(onWake: () => void) {
    const buffer = new SharedArrayBuffer(16)
    this.i32 = new Int32Array(buffer, 0, 2)
    this.f64 = new Float64Array(buffer, 8, 1)
    this.f64[0] = Number.POSITIVE_INFINITY
    this.worker = new Worker(TICKER_SOURCE, {eval: true, execArgv: [], workerData: {buffer, base: CLOCK_BASE, leadNs: LEAD_NS}})
    this.worker.on('message', () => {
      if (!this.stopped) onWake()
    })
    this.worker.on('error', () => undefined)
    // A thread takes tens of ms to start; sends planned before then would go out late.
    // The thread keeps the process alive only until it is running: from then
    // on the run's own timers do, and a forgotten ticker cannot hang the process.
    this.ready = new Promise<void>((resolve) => {
      const done = (): void => {
        this.worker.unref()
        resolve()
      }
      this.worker.once('online', done)
      this.worker.once('exit', done)
    })
  }

  wakeAt(dueNs: number): void {
    this.f64[0] = dueNs
    Atomics.add(this.i32, 0, 1)
    Atomics.notify(this.i32, 0)
  }

  stop(): void {
    if (this.stopped) return
    this.stopped = true
    Atomics.store(this.i32, 1, 1)
    Atomics.add(this.i32, 0, 1)
    Atomics.notify(this.i32, 0)
    void this.worker.terminate().catch(() => undefined)
  }
}

/** Fallback without worker threads: sleep with setTimeout, then spin with setImmediate for the last 2 ms. */
class TimerTicker implements Ticker {
  readonly ready = Promise.resolve()
  private timer: NodeJS.Timeout | NodeJS.Immediate | null = null
  private stopped = false
  constructor(private readonly onWake: () => void) {}

  wakeAt(dueNs: number): void {
    this.clear()
    if (this.stopped) return
    const wait = (dueNs - nowNs()) / 1e6
    const fire = (): void => {
      this.timer = null
      if (this.stopped) return
      if (nowNs() + LEAD_NS >= dueNs) this.onWake()
      else this.wakeAt(dueNs)
    }
    this.timer = wait > 2 ? setTimeout(fire, Math.floor(wait) - 1) : setImmediate(fire)
  }

  private clear(): void {
    if (this.timer === null) return
    clearTimeout(this.timer as NodeJS.Timeout)
    clearImmediate(this.timer as NodeJS.Immediate)
    this.timer = null
  }

  stop(): void {
    this.stopped = true
    this.clear()
  }
}
