// The Docker engine's client: at $DOCKER_HOST, or the local socket, checked
// with a ping before anything is sent.
import Docker from 'dockerode'
import {mlserveError} from '../errors.js'

/** A client for the engine at $DOCKER_HOST, or the local socket (/var/run/docker.sock). */
export function dockerClient(): Docker {
  return new Docker()
}

/** A client that answers, or MLS_DOCKER_UNAVAILABLE. */
export async function connectDocker(): Promise<Docker> {
  const docker = dockerClient()
  await pingDocker(docker)
  return docker
}

/** Where the client connects, for messages. */
export function engineAddress(): string {
  // An empty DOCKER_HOST means the default socket, to dockerode too.
  return process.env.DOCKER_HOST || 'unix:///var/run/docker.sock'
}

/** Whether the engine is this machine's (a Unix socket), so that its files and pids are ours to look at. */
export function engineIsLocal(): boolean {
  const host = process.env.DOCKER_HOST
  return host === undefined || host === '' || host.startsWith('unix://')
}

/** Resolves when the engine answers; MLS_DOCKER_UNAVAILABLE otherwise. */
export async function pingDocker(docker: Docker): Promise<void> {
  try {
    await withTimeout(docker.ping(), 10_000, 'the engine did not answer within 10s')
  } catch (error) {
    const err = error as NodeJS.ErrnoException & {statusCode?: number}
    let detail: string
    if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') detail = `nothing is listening there (${err.code})`
    else if (err.code === 'EACCES') detail = 'permission denied on the socket (EACCES): this user may not use the Docker engine'
    else detail = err.message
    throw mlserveError('MLS_DOCKER_UNAVAILABLE', {address: engineAddress(), detail}, {cause: error})
  }
}

/** The engine's own message for a failed call, without dockerode's wrapping. */
export function engineMessage(error: unknown): string {
  const err = error as {json?: {message?: string}; message?: string}
  return (err.json?.message ?? err.message ?? String(error)).trim()
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
