// Runs a Runtime (gateway + replicas) on a worker thread of its own, so that
// a load generator on the main thread measures the replica, not a gateway
// fighting it for one event loop. Load tests and tuning use it.
import {Worker} from 'node:worker_threads'
import {MlserveError, type ErrorCode} from '../errors.js'
import {reaperSlotsForThread, releaseThreadSlots} from './reaper.js'
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
  status(): Promise<RuntimeStatus>
  /** Drains (unless drain is false) and stops every replica, then ends the thread. A call with drain false stops at once, even during a drain. */
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
  worker.once('exit', () => releaseThreadSlots(reaperSlots))
  let nextId = 0
  const pendingStatus = new Map<number, (status: RuntimeStatus) => void>()
  let stopped: Promise<void> | null = null
  let halted = false
  let sentStop = false
  let onStopped: (() => void) | null = null

  const ready = new Promise<Extract<ThreadMessage, {type: 'ready'}>>((resolve, reject) => {
    worker.on('message', (message: ThreadMessage) => {
      switch (message.type) {
        case 'ready':
          resolve(message)
          break
        case 'log':
          log(message.line)
          break
        case 'status':
          pendingStatus.get(message.id)?.(message.status)
          pendingStatus.delete(message.id)
          break
        case 'stopped':
          onStopped?.()
          break
        case 'error':
          reject(toError(message.error))
          break
      }
    })
    worker.once('error', reject)
    worker.once('exit', (code) => {
      reject(new Error(`the runtime thread exited (code ${code}) before it was ready`))
      onStopped?.()
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
      new Promise((resolve) => {
        const id = nextId++
        pendingStatus.set(id, resolve)
        worker.postMessage({type: 'status', id} satisfies HostMessage)
      }),
    stop: (stopOptions = {}) => {
      const drain = stopOptions.drain !== false
      stopped ??= new Promise<void>((resolve) => {
        onStopped = resolve
      }).then(() => worker.terminate().then(() => undefined))
      // The first call starts the stop; a later one without draining cuts a drain short.
      if (!halted && (!drain || !sentStop)) {
        sentStop = true
        halted = !drain
        worker.postMessage({type: 'stop', drain} satisfies HostMessage)
      }
      return stopped
    },
  }
}
