// `mlserve delete --env NAME` on Swarm: every service, config, secret and
// network that carries the project's and the environment's deploy labels,
// and nothing else; it waits until their containers are gone (a network
// cannot be removed while a task is still attached), then removes the deploy
// record.
import type Docker from 'dockerode'
import {engineMessage} from '../docker/index.js'
import {mlserveError} from '../errors.js'
import {requireManager, swarmEngine} from './engine.js'
import {removeDeployRecord} from './record.js'
import {labelFilters} from './tasks.js'

export interface SwarmDeleteResult {
  engine: 'swarm'
  env: string
  project: string
  removed: {services: string[]; configs: string[]; secrets: string[]; networks: string[]}
  /** Whether a deploy record was there to remove. */
  record: boolean
  durationMs: number
}

export async function deleteSwarm(environment: {name: string; dockerHost: string | null}, project: string, options: {log: (line: string) => void; timeoutMs: number}): Promise<SwarmDeleteResult> {
  const started = Date.now()
  const engine = swarmEngine(environment.dockerHost)
  await requireManager(engine)
  const {docker} = engine
  const filters = {label: labelFilters(project, environment.name)}
  const removed: SwarmDeleteResult['removed'] = {services: [], configs: [], secrets: [], networks: []}

  for (const service of (await docker.listServices({filters})) as Array<{ID: string; Spec?: {Name?: string}}>) {
    await ignoreGone(docker.getService(service.ID).remove())
    removed.services.push(service.Spec?.Name ?? service.ID)
  }
  if (removed.services.length > 0) options.log(`Removed the services ${removed.services.join(', ')}; waiting for their containers to stop (they drain first).`)
  await waitForContainers(docker, filters, started + options.timeoutMs, options.timeoutMs)

  for (const config of (await docker.listConfigs({filters})) as Array<{ID: string; Spec?: {Name?: string}}>) {
    await ignoreGone(docker.getConfig(config.ID).remove())
    removed.configs.push(config.Spec?.Name ?? config.ID)
  }
  for (const secret of (await docker.listSecrets({filters})) as Array<{ID: string; Spec?: {Name?: string}}>) {
    await ignoreGone(docker.getSecret(secret.ID).remove())
    removed.secrets.push(secret.Spec?.Name ?? secret.ID)
  }
  for (const network of (await docker.listNetworks({filters})) as Array<{Id: string; Name: string}>) {
    await removeNetwork(docker, network, started + options.timeoutMs)
    removed.networks.push(network.Name)
  }
  const record = removeDeployRecord(environment.name, project)
  return {engine: 'swarm', env: environment.name, project, removed, record, durationMs: Date.now() - started}
}

/** Until no container (running or not) carries the deploy's labels: Swarm stops and removes a removed service's tasks in the background. */
async function waitForContainers(docker: Docker, filters: {label: string[]}, deadline: number, timeoutMs: number): Promise<void> {
  for (;;) {
    const left = (await docker.listContainers({all: true, filters})) as Array<{Id: string; Names?: string[]; State?: string}>
    if (left.length === 0) return
    if (Date.now() >= deadline) {
      throw mlserveError(
        'MLS_DEPLOY_TIMEOUT',
        {seconds: Math.round(timeoutMs / 1000), waiting: [`${left.length} container${left.length === 1 ? '' : 's'} of the deploy to be removed`]},
        {details: left.map((c) => `${(c.Names?.[0] ?? c.Id).replace(/^\//, '')}: ${c.State ?? 'unknown'}`)},
      )
    }
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
}

/** A network whose last endpoints are still being detached refuses removal for a moment: retried until the deadline. */
async function removeNetwork(docker: Docker, network: {Id: string; Name: string}, deadline: number): Promise<void> {
  for (;;) {
    try {
      await ignoreGone(docker.getNetwork(network.Id).remove())
      return
    } catch (error) {
      if (Date.now() >= deadline) throw mlserveError('MLS_DEPLOY_ENGINE_REFUSED', {action: 'remove the network', name: network.Name, detail: engineMessage(error)}, {cause: error})
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
  }
}

async function ignoreGone(promise: Promise<unknown>): Promise<void> {
  try {
    await promise
  } catch (error) {
    if ((error as {statusCode?: number}).statusCode !== 404) throw error
  }
}
