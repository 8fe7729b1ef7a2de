// Runs a Runtime (gateway + replicas) on a worker thread of its own, so that
// a load generator on the main thread measures the replica, not a gateway
// fighting it for one event loop. Load tests and tuning use it.
import {Worker} from 'node:worker_threads'
import {MlserveError, type ErrorCode} from '../errors.js'
import {reaperSlotsForThread, reapThreadSlots} from './reaper.js'
import type {RuntimePlan, RuntimeStatus} from './runtime.js'

export type HostMessage = {type: 'stop'; drain: boolean} | {type: 'status'; id: number}

export type ThreadMessage =
  | {type: 'ready'; url: string; endpoints: Record<string, string>; status: RuntimeStatus}
  | {type: 'log'; line: string}
  | {type: 'status'; id: number; status: RuntimeStatus}
  | {type: 'stopped'}
  | {type: 'error'; error: {code: string | null; message: string; suggestion: string; details: string[]; exitCode: number; stack?: string}}

export interface ThreadRuntime {
  url: string
  endpoints: Record<string, string>
  /** Status as of start. */
  initialStatus: RuntimeStatus
  /**
   * Status now. Rejects once the thread has failed or ended (crashed, exited,
   * or stopped), with an error that says which, its exit code or its error.
   */
  status(): Promise<RuntimeStatus>
  /**
   * Drains (unless drain is false) and stops every replica, then ends the
   * thread. A call with drain false stops at once, even during a drain.
   * Resolves once the thread has ended, also when it failed or had ended
   * already: the process groups it still held are killed as it ends.
   */
  stop(options?: {drain?: boolean}): Promise<void>
}

function toError(error: Extract<ThreadMessage, {type: 'error'}>['error']): Error {
  if (error.code) {
    const err = new MlserveError(error.code as ErrorCode, error.message, error.suggestion, error.exitCode, error.details)
    if (error.stack) err.stack = error.stack
    return err
  }
  const err = new Error(error.message)
  if (error.stack) err.stack = error.stack
  return err
}

// Built, the entry is a .js file. Under tsx (tests, bin/dev.js) it is .ts, and
// Node 20 does not carry tsx's loader into worker threads, so a small
// bootstrap registers it there first.
const fromSources = import.meta.url.endsWith('.ts')
const entry = new URL(`./runtime-thread${fromSources ? '.ts' : '.js'}`, import.meta.url)

function spawnThread(workerData: unknown): Worker {
  if (!fromSources) return new Worker(entry, {workerData})
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}) })`
  return new Worker(bootstrap, {eval: true, workerData})
}

/** Runs a plan on a worker thread of its own; resolves once every replica is ready. */
export async function startRuntimeThread(plan: RuntimePlan, log: (line: string) => void): Promise<ThreadRuntime> {
  // The main thread reaps the thread's process groups should it exit first.
  const reaperSlots = reaperSlotsForThread()
  return hostRuntimeThread(spawnThread({plan, reaperSlots}), reaperSlots, log)
}

/**
 * The main thread's side of a runtime thread already spawned with these
 * reaper slots: startRuntimeThread's, and tests' with a stand-in entry that
 * speaks the same messages.
 */
export async function hostRuntimeThread(worker: Worker, reaperSlots: Int32Array, log: (line: string) => void): Promise<ThreadRuntime> {
  // Resolves with the exit code once the thread has ended and the process
  // groups it still held are killed: a thread that stopped its replicas holds
  // none, one that crashed holds live replicas that nobody else would stop.
  const ended = new Promise<number>((resolve) => {
    worker.once('exit', (code) => {
      reapThreadSlots(reaperSlots)
      resolve(code)
    })
  })
  let isReady = false
  let stopAnswered = false
  let halted = false
  let sentStop = false
  let nextId = 0
  const pendingStatus = new Map<number, {resolve: (status: RuntimeStatus) => void; reject: (error: Error) => void}>()
  /** Why the thread answers no more; set once, when it fails or ends after ready. */
  let gone: Error | null = null

  const end = (why: Error, unexpected: boolean): void => {
    if (gone) return
    gone = why
    if (unexpected) log(why.message)
    for (const pending of pendingStatus.values()) pending.reject(why)
    pendingStatus.clear()
  }

  const ready = new Promise<Extract<ThreadMessage, {type: 'ready'}>>((resolve, reject) => {
    worker.on('message', (message: ThreadMessage) => {
      switch (message.type) {
        case 'ready':
          isReady = true
          resolve(message)
          break
        case 'log':
          log(message.line)
          break
        case 'status':
          pendingStatus.get(message.id)?.resolve(message.status)
          pendingStatus.delete(message.id)
          break
        case 'stopped':
          stopAnswered = true
          void worker.terminate()
          break
        case 'error':
          if (!isReady) {
            reject(toError(message.error))
            break
          }
          // After ready, a stop that failed: the runtime is in no state to
          // answer, so the thread ends, and its exit reaps what it held.
          end(new Error(`the runtime thread failed: ${message.error.message}`, {cause: toError(message.error)}), true)
          void worker.terminate()
          break
      }
    })
    worker.on('error', (error) => {
      if (isReady) end(new Error(`the runtime thread crashed: ${error.message}`, {cause: error}), true)
      else reject(error)
    })
    void ended.then((code) => {
      if (!isReady) reject(new Error(`the runtime thread exited (code ${code}) before it was ready`))
      else if (stopAnswered) end(new Error('the runtime thread has stopped'), false)
      else end(new Error(`the runtime thread exited (code ${code})`), true)
    })
  })
  let started: Extract<ThreadMessage, {type: 'ready'}>
  try {
    started = await ready
  } catch (error) {
    await worker.terminate()
    throw error
  }
  return {
    url: started.url,
    endpoints: started.endpoints,
    initialStatus: started.status,
    status: () =>
      new Promise((resolve, reject) => {
        if (gone) {
          reject(gone)
          return
        }
        const id = nextId++
        pendingStatus.set(id, {resolve, reject})
        worker.postMessage({type: 'status', id} satisfies HostMessage)
      }),
    stop: (stopOptions = {}) => {
      const drain = stopOptions.drain !== false
      // The first call starts the stop; a later one without draining cuts a
      // drain short. A thread that failed is ending already.
      if (!gone && !halted && (!drain || !sentStop)) {
        sentStop = true
        halted = !drain
        worker.postMessage({type: 'stop', drain} satisfies HostMessage)
      }
      return ended.then(() => undefined)
    },
  }
}
