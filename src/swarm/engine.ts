// The Swarm an environment names: a Docker client for its endpoint
// (env.dockerHost, else $DOCKER_HOST or the local socket), the check that the
// engine is a Swarm manager, and the host the gateway's published port is
// reached on from here.
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import Docker from 'dockerode'
import {pingDocker} from '../docker/index.js'
import {mlserveError} from '../errors.js'

export interface SwarmEngine {
  docker: Docker
  /** The endpoint, for messages. */
  address: string
  /** Where the gateway's host-mode port is reached from this machine. */
  host: string
}

/** A client for the endpoint (unix:///path, tcp://host:port, ssh://user@host), or the default engine for null. */
export function swarmEngine(dockerHost: string | null): SwarmEngine {
  const address = dockerHost ?? (process.env.DOCKER_HOST || 'unix:///var/run/docker.sock')
  if (address.startsWith('unix://')) return {docker: new Docker({socketPath: address.slice('unix://'.length)}), address, host: '127.0.0.1'}
  const url = new URL(address)
  if (url.protocol === 'ssh:') {
    return {docker: new Docker({protocol: 'ssh', host: url.hostname, port: url.port ? Number(url.port) : 22, username: url.username || undefined}), address, host: url.hostname}
  }
  // tcp://: TLS as the docker CLI does it, from DOCKER_CERT_PATH when DOCKER_TLS_VERIFY is set.
  const certs = process.env.DOCKER_TLS_VERIFY && process.env.DOCKER_CERT_PATH ? process.env.DOCKER_CERT_PATH : null
  const docker = new Docker({
    host: url.hostname,
    port: Number(url.port) || (certs ? 2376 : 2375),
    protocol: certs ? 'https' : 'http',
    ...(certs ? {ca: readFileSync(join(certs, 'ca.pem')), cert: readFileSync(join(certs, 'cert.pem')), key: readFileSync(join(certs, 'key.pem'))} : {}),
  })
  return {docker, address, host: url.hostname}
}

/** Resolves when the engine answers and manages a Swarm; MLS_DOCKER_UNAVAILABLE, MLS_SWARM_NOT_ACTIVE or MLS_SWARM_NOT_MANAGER otherwise. */
export async function requireManager(engine: SwarmEngine): Promise<void> {
  await pingDocker(engine.docker)
  const info = (await engine.docker.info()) as {Swarm?: {LocalNodeState?: string; ControlAvailable?: boolean}}
  const state = info.Swarm?.LocalNodeState ?? 'inactive'
  if (state !== 'active') throw mlserveError('MLS_SWARM_NOT_ACTIVE', {address: engine.address, state})
  if (!info.Swarm?.ControlAvailable) throw mlserveError('MLS_SWARM_NOT_MANAGER', {address: engine.address})
}
