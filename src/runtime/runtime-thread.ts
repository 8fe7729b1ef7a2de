// The entry of a worker thread that hosts a Runtime (see thread-host.ts). It
// receives the plan, already made on the main thread, and runs it.
import {parentPort, workerData} from 'node:worker_threads'
import {isMlserveError} from '../errors.js'
import {adoptReaperSlots} from './reaper.js'
import {Runtime, type RuntimePlan} from './runtime.js'
import type {HostMessage, ThreadMessage} from './thread-host.js'

const {plan, reaperSlots} = workerData as {plan: RuntimePlan; reaperSlots: Int32Array}
const port = parentPort!
const send = (message: ThreadMessage): void => port.postMessage(message)
adoptReaperSlots(reaperSlots)

function serializeError(error: unknown): ThreadMessage & {type: 'error'} {
  if (isMlserveError(error)) return {type: 'error', error: {...error.toJSON(), exitCode: error.exitCode, stack: error.stack}}
  const err = error as Error
  return {type: 'error', error: {code: null, message: err?.message ?? String(error), suggestion: '', details: [], exitCode: 1, stack: err?.stack}}
}

let runtime: Runtime | null = null
try {
  runtime = await Runtime.start(plan, {log: (line) => send({type: 'log', line})})
  const endpoints = Object.fromEntries(runtime.plan.apis.map((api) => [api.name, runtime!.endpointUrl(api.name)]))
  send({type: 'ready', url: runtime.url, endpoints, status: runtime.status()})
} catch (error) {
  send(serializeError(error))
}

port.on('message', (message: HostMessage) => {
  if (message.type === 'status' && runtime) {
    send({type: 'status', id: message.id, status: runtime.status()})
  } else if (message.type === 'stop') {
    // A second stop with drain: false goes through even while a draining stop runs.
    const stopping = runtime ? runtime.stop({drain: message.drain}) : Promise.resolve()
    stopping.then(
      () => {
        send({type: 'stopped'})
        port.close()
      },
      (error: unknown) => send(serializeError(error)),
    )
  }
})
