// The Docker engine as build sees it: the runtime's client at $DOCKER_HOST (or
// /var/run/docker.sock), checked with a ping before anything is sent.
import type Docker from 'dockerode'
import {dockerClient, pingDocker} from '../runtime/docker-engine.js'

export {engineAddress} from '../runtime/docker-engine.js'

/** A client that answers, or MLS_DOCKER_UNAVAILABLE. */
export async function connectDocker(): Promise<Docker> {
  const docker = dockerClient()
  await pingDocker(docker)
  return docker
}
