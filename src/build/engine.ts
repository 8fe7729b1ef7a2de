// The Docker engine as build sees it: a dockerode client at $DOCKER_HOST (or
// /var/run/docker.sock), checked with a ping before anything is sent.
import Docker from 'dockerode'
import {mlserveError} from '../errors.js'

export function engineAddress(): string {
  return process.env.DOCKER_HOST || 'unix:///var/run/docker.sock'
}

/** A client that answers, or MLS_DOCKER_UNAVAILABLE. */
export async function connectDocker(): Promise<Docker> {
  const docker = new Docker()
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      docker.ping(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('the engine did not answer within 10s')), 10_000)
      }),
    ])
  } catch (error) {
    const err = error as NodeJS.ErrnoException
    let detail: string
    if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') detail = `nothing is listening there (${err.code})`
    else if (err.code === 'EACCES') detail = 'permission denied on the socket (EACCES): this user may not use the Docker engine'
    else detail = err.message
    throw mlserveError('MLS_DOCKER_UNAVAILABLE', {address: engineAddress(), detail}, {cause: error})
  } finally {
    clearTimeout(timer)
  }
  return docker
}
