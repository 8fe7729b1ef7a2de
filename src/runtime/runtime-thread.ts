// The entry of a worker thread that hosts a Runtime (see thread-host.ts).
import {parentPort, workerData} from 'node:worker_threads'
import {loadProject} from '../config/index.js'
import {isMlserveError} from '../errors.js'
import {Runtime, type RuntimeOptions} from './runtime.js'
import type {HostMessage, ThreadMessage} from './thread-host.js'

const {projectPath, options} = workerData as {projectPath: string; options: Omit<RuntimeOptions, 'log'>}
const port = parentPort!
const send = (message: ThreadMessage): void => port.postMessage(message)

function serializeError(error: unknown): ThreadMessage & {type: 'error'} {
  if (isMlserveError(error)) return {type: 'error', error: {...error.toJSON(), exitCode: error.exitCode, stack: error.stack}}
  const err = error as Error
  return {type: 'error', error: {code: null, message: err?.message ?? String(error), suggestion: '', details: [], exitCode: 1, stack: err?.stack}}
}

let runtime: Runtime | null = null
try {
  const project = await loadProject(projectPath)
  runtime = await Runtime.start(project, {...options, log: (line) => send({type: 'log', line})})
  const endpoints = Object.fromEntries(runtime.plan.apis.map((api) => [api.name, runtime!.endpointUrl(api.name)]))
  send({type: 'ready', url: runtime.url, endpoints, status: runtime.status()})
} catch (error) {
  send(serializeError(error))
}

port.on('message', (message: HostMessage) => {
  if (message.type === 'status' && runtime) {
    send({type: 'status', id: message.id, status: runtime.status()})
  } else if (message.type === 'stop') {
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
