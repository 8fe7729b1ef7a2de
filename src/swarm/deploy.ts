// `mlserve deploy` to Docker Swarm: the images (pushed and pinned by digest
// when the environment has a registry), the gateway image, then the objects of
// spec.ts created or updated in order (network, secret and configs, the API
// services, the gateway, the autoscaler), a wait until every service runs its
// new spec and the gateway answers /readyz through its published port, the
// removal of what the previous deploy made and this one no longer uses, and
// the deploy record.
//
// An update is Swarm's rolling update (start-first, one task at a time, rolled
// back on a failed or unhealthy task): deploy waits for it and reports a
// rollback as MLS_DEPLOY_ROLLED_BACK with the failing tasks' errors.
import {randomBytes} from 'node:crypto'
import type Docker from 'dockerode'
import {servedApis, trafficSplitters, type Project} from '../config/index.js'
import {engineMessage, newestImageOf, lookupImage} from '../docker/index.js'
import type {Environment} from '../environments/index.js'
import {mlserveError} from '../errors.js'
import {planRemoteGateway, type RuntimePlan} from '../runtime/index.js'
import {exchange} from '../client/http.js'
import {requireManager, swarmEngine, type SwarmEngine} from './engine.js'
import {DEFAULT_GATEWAY_BASE_IMAGE, ensureGatewayImage, GATEWAY_IMAGE_REPO} from './gateway-image.js'
import {readDeployRecord, writeDeployRecord, type DeployRecord} from './record.js'
import {
  defaultTiming,
  DEPLOY_LABELS,
  projectName,
  remoteDiscovery,
  swarmObjects,
  withReferenceIds,
  type Placement,
  type SwarmNamedObject,
  type SwarmObjects,
  type SwarmServiceObject,
  type SwarmServiceSpec,
  type SwarmTiming,
} from './spec.js'
import {describeTask, labelFilters} from './tasks.js'

export interface SwarmDeployOptions {
  log: (line: string) => void
  /** How long to wait for every service to run its new spec and the gateway to be ready. */
  timeoutMs: number
  /** How long a replica may load before failing health checks count. */
  healthStartPeriodMs?: number
  /** The base of the gateway image (default debian:bookworm-slim). */
  gatewayBaseImage?: string
  /** An existing gateway image to run instead of building one (mlserve's own, such as a tag an earlier deploy built). */
  gatewayImage?: string
  /** How long spot tasks may stay unschedulable before the API is placed on on-demand nodes. */
  spotWaitMs?: number
  /** How long a task may wait for CPU or memory no node has free (default 20 s). */
  capacityWaitMs?: number
}

export interface DeployedService {
  name: string
  role: SwarmServiceObject['role']
  api: string | null
  image: string
  replicas: number
  action: 'created' | 'updated' | 'unchanged'
  placement: Placement | null
}

export interface SwarmDeployResult {
  engine: 'swarm'
  env: string
  project: string
  url: string
  services: DeployedService[]
  /** Services, configs and secrets of earlier deploys that this one no longer uses, removed. */
  removed: string[]
  /** Each image pushed to the environment's registry (api null: the gateway image). */
  pushed: Array<{api: string | null; reference: string; pinned: string; bytesSent: number; bytesPresent: number}>
  record: string
  durationMs: number
}

/** The gateway's plan: the remote driver, dns discovery of each API's tasks, listening on every address at the environment's port. */
export function gatewayPlanFor(project: Project, environment: Pick<Environment, 'gatewayPort'>): Promise<RuntimePlan> {
  return planRemoteGateway(project, {discovery: remoteDiscovery(project), port: environment.gatewayPort})
}

export async function deploySwarm(project: Project, environment: Environment, options: SwarmDeployOptions): Promise<SwarmDeployResult> {
  const started = Date.now()
  const {log} = options
  const engine = swarmEngine(environment.dockerHost)
  await requireManager(engine)
  const {docker} = engine
  const name = projectName(project)
  const timing: SwarmTiming = {...defaultTiming, ...(options.healthStartPeriodMs === undefined ? {} : {healthStartPeriodMs: options.healthStartPeriodMs})}

  // The plan first: a config the gateway cannot serve fails before any image moves.
  const plan = await gatewayPlanFor(project, environment)
  const images: Record<string, string> = {}
  const pushed: SwarmDeployResult['pushed'] = []
  for (const api of servedApis(project).filter((a) => plan.apis.some((p) => p.name === a.name))) {
    const tag = await newestImageOf(docker, api.name)
    if (tag === null) throw mlserveError('MLS_DEPLOY_NO_IMAGE', {api: api.name})
    const info = await lookupImage(docker, tag)
    if (environment.registry) {
      const result = await pushTo(docker, environment.registry, tag, api.name, log)
      pushed.push({api: api.name, reference: result.reference, pinned: result.pinned, bytesSent: result.bytesSent, bytesPresent: result.bytesPresent})
      images[api.name] = result.pinned
    } else {
      // One engine, no registry: the image id, which names this exact build (a tag can be moved).
      images[api.name] = info.Id
      log(`API ${api.name} runs ${tag} (${info.Id.slice(7, 19)}), the engine's local image: no registry in environment ${environment.name}.`)
    }
  }
  const gatewayImage = options.gatewayImage
    ? {tag: options.gatewayImage, id: (await lookupImage(docker, options.gatewayImage)).Id}
    : await ensureGatewayImage(docker, {baseImage: options.gatewayBaseImage ?? DEFAULT_GATEWAY_BASE_IMAGE, log})
  let gateway = gatewayImage.id
  if (environment.registry) {
    const [repo, tag] = gatewayImage.tag.includes(':') ? gatewayImage.tag.split(':') : [GATEWAY_IMAGE_REPO, 'latest']
    const result = await pushTo(docker, environment.registry, gatewayImage.tag, repo.split('/').pop() ?? GATEWAY_IMAGE_REPO, log, tag)
    pushed.push({api: null, reference: result.reference, pinned: result.pinned, bytesSent: result.bytesSent, bytesPresent: result.bytesPresent})
    gateway = result.pinned
  }

  const placement = await choosePlacement(docker, environment, log)
  const existing = await existingServices(docker, name)
  const previous = readDeployRecord(environment.name, name)
  const token = previous?.token ?? randomBytes(24).toString('base64url')
  const currentReplicas: Record<string, number> = {}
  for (const service of existing.values()) {
    const api = service.Spec?.Labels?.[DEPLOY_LABELS.api]
    const replicas = service.Spec?.Mode?.Replicated?.Replicas
    if (api && replicas !== undefined) currentReplicas[api] = replicas
  }
  const objects = swarmObjects({project, environment, plan, images: {apis: images, gateway}, token, placement, currentReplicas, timing})
  assertOwned(existing, objects, environment.name)

  await ensureNetwork(docker, objects)
  const ids: Record<string, string> = {}
  ids[objects.secret.Name] = await ensureNamed(docker, 'secret', objects.secret)
  ids[objects.configs.plan.Name] = await ensureNamed(docker, 'config', objects.configs.plan)
  if (objects.configs.autoscaler) ids[objects.configs.autoscaler.Name] = await ensureNamed(docker, 'config', objects.configs.autoscaler)

  const auth = environment.registry ? await registryAuthOf(environment.registry) : undefined
  const deployed: DeployedService[] = []
  const changed: Array<{object: SwarmServiceObject; since: number}> = []
  for (const object of objects.services) {
    const spec = withReferenceIds(object.spec, ids)
    const current = existing.get(object.name)
    const since = Date.now()
    const action = await createOrUpdate(docker, spec, current, auth)
    if (action !== 'unchanged') changed.push({object, since})
    log(`${object.name}: ${action}${action === 'unchanged' ? ' (same spec)' : ''}.`)
    deployed.push({
      name: object.name,
      role: object.role,
      api: object.api,
      image: spec.TaskTemplate.ContainerSpec?.Image ?? '',
      replicas: spec.Mode?.Replicated?.Replicas ?? 1,
      action,
      placement: object.role === 'api' ? ((spec.Labels?.[DEPLOY_LABELS.placement] as Placement | undefined) ?? null) : null,
    })
  }

  const deadline = started + options.timeoutMs
  await waitForServices(docker, objects, deployed, {deadline, timeoutMs: options.timeoutMs, spotWaitMs: options.spotWaitMs ?? 30_000, capacityWaitMs: options.capacityWaitMs ?? 20_000, log, auth, ids})
  const url = `http://${engine.host}:${environment.gatewayPort}`
  await waitForGateway(url, {deadline, timeoutMs: options.timeoutMs})

  const removed = await removeLeftovers(docker, objects, log)
  const record: DeployRecord = {
    engine: 'swarm',
    env: environment.name,
    project: name,
    projectFile: project.file,
    url,
    token,
    deployedAt: new Date().toISOString(),
    apis: plan.apis.map((api) => ({name: api.name, endpoint: api.endpoint, service: objects.services.find((s) => s.api === api.name)?.name ?? ''})),
    splitters: trafficSplitters(project)
      .filter((s) => plan.splitters.some((p) => p.name === s.name))
      .map((s) => ({name: s.name, endpoint: s.networking.endpoint})),
    services: objects.services.map((s) => s.name),
  }
  const file = writeDeployRecord(record)
  return {engine: 'swarm', env: environment.name, project: name, url, services: deployed, removed, pushed, record: file, durationMs: Date.now() - started}
}

async function pushTo(docker: Docker, registry: string, image: string, repo: string, log: (line: string) => void, tag?: string) {
  const {pushImage, registryAuth} = await import('../registry/index.js')
  const version = tag ?? image.split(':').slice(1).join(':')
  log(`Pushing ${image} to ${registry}/${repo}:${version}…`)
  const result = await pushImage({docker, image, registry, repo, tag: version || 'latest', auth: registryAuth(registry)})
  log(`Pushed ${result.pinned} (${result.bytesSent} bytes sent, ${result.bytesPresent} already there).`)
  return result
}

/** The credentials the nodes pull with (the docker CLI's --with-registry-auth), or undefined for an anonymous registry. */
async function registryAuthOf(registry: string): Promise<Docker.AuthConfig | undefined> {
  const {registryAuth} = await import('../registry/index.js')
  const auth = registryAuth(registry)
  return auth ? {username: auth.username, password: auth.password, serveraddress: auth.serveraddress} : undefined
}

/**
 * Spot when some ready node carries the environment's spot label; else
 * on-demand (every node without it), said in the log. No label: any node.
 */
export async function choosePlacement(docker: Docker, environment: Pick<Environment, 'spotLabel' | 'name'>, log: (line: string) => void): Promise<Placement> {
  const label = environment.spotLabel
  if (label === null) return 'any'
  const nodes = (await docker.listNodes()) as Array<{Spec?: {Labels?: Record<string, string>; Availability?: string}; Status?: {State?: string}}>
  const spot = nodes.filter((node) => node.Spec?.Labels?.[label.key] === label.value && node.Status?.State === 'ready' && node.Spec?.Availability === 'active')
  if (spot.length > 0) {
    log(`Spot placement: ${spot.length} node${spot.length === 1 ? '' : 's'} carr${spot.length === 1 ? 'ies' : 'y'} ${label.key}=${label.value}; the API services are constrained to them.`)
    return 'spot'
  }
  log(`Spot placement: no ready node carries ${label.key}=${label.value}, so the API services go on on-demand nodes (those without the label).`)
  return 'on-demand'
}

type ServiceInfo = {ID: string; Version?: {Index?: number}; Spec?: SwarmServiceSpec; UpdateStatus?: {State?: string; StartedAt?: string; Message?: string}}

/** The project's services on the Swarm by name, whoever made them (so a name taken by another environment is caught). */
async function existingServices(docker: Docker, project: string): Promise<Map<string, ServiceInfo>> {
  const services = (await docker.listServices({filters: {label: [`${DEPLOY_LABELS.project}=${project}`]}})) as ServiceInfo[]
  return new Map(services.map((s) => [s.Spec?.Name ?? s.ID, s]))
}

function assertOwned(existing: Map<string, ServiceInfo>, objects: SwarmObjects, env: string): void {
  for (const object of objects.services) {
    const other = existing.get(object.name)?.Spec?.Labels?.[DEPLOY_LABELS.env]
    if (other !== undefined && other !== env) {
      throw mlserveError('MLS_DEPLOY_NAME_TAKEN', {kind: 'service', name: object.name, owner: `environment "${other}" deployed from a project of the same name`})
    }
  }
}

async function ensureNetwork(docker: Docker, objects: SwarmObjects): Promise<void> {
  const networks = (await docker.listNetworks({filters: {name: [objects.network.Name]}})) as Array<{Name: string; Labels?: Record<string, string>}>
  const found = networks.find((n) => n.Name === objects.network.Name)
  if (found) {
    if (found.Labels?.[DEPLOY_LABELS.project] !== objects.project || found.Labels?.[DEPLOY_LABELS.env] !== objects.env) {
      const owner = found.Labels?.[DEPLOY_LABELS.env] ? `belongs to environment "${found.Labels[DEPLOY_LABELS.env]}"` : 'mlserve did not make'
      throw mlserveError('MLS_DEPLOY_NAME_TAKEN', {kind: 'network', name: objects.network.Name, owner})
    }
    return
  }
  try {
    await docker.createNetwork({...objects.network, CheckDuplicate: true})
  } catch (error) {
    throw mlserveError('MLS_DEPLOY_ENGINE_REFUSED', {action: 'create the network', name: objects.network.Name, detail: engineMessage(error)}, {cause: error})
  }
}

/** The id of the config or secret of this name, created when absent (its name holds a hash of its content, so one found is the same). */
async function ensureNamed(docker: Docker, kind: 'config' | 'secret', object: SwarmNamedObject): Promise<string> {
  const list = kind === 'config' ? await docker.listConfigs({filters: {name: [object.Name]}}) : await docker.listSecrets({filters: {name: [object.Name]}})
  const found = (list as Array<{ID: string; Spec?: {Name?: string}}>).find((o) => o.Spec?.Name === object.Name)
  if (found) return found.ID
  try {
    const created = kind === 'config' ? await docker.createConfig(object) : await docker.createSecret(object)
    return (created as {id: string}).id
  } catch (error) {
    throw mlserveError('MLS_DEPLOY_ENGINE_REFUSED', {action: `create the ${kind}`, name: object.Name, detail: engineMessage(error)}, {cause: error})
  }
}

async function createOrUpdate(docker: Docker, spec: SwarmServiceSpec, current: ServiceInfo | undefined, auth: Docker.AuthConfig | undefined): Promise<DeployedService['action']> {
  try {
    if (!current) {
      await docker.createService({...spec, ...(auth ? {authconfig: auth} : {})})
      return 'created'
    }
    if (current.Spec?.Labels?.[DEPLOY_LABELS.spec] === spec.Labels?.[DEPLOY_LABELS.spec]) return 'unchanged'
    // The version in the query, the spec in the body (dockerode would put both in each otherwise).
    await docker.getService(current.ID).update({...(auth ? {authconfig: auth} : {}), _query: {version: current.Version?.Index}, _body: spec} as never)
    return 'updated'
  } catch (error) {
    throw mlserveError('MLS_DEPLOY_ENGINE_REFUSED', {action: current ? 'update the service' : 'create the service', name: spec.Name ?? '', detail: engineMessage(error)}, {cause: error})
  }
}

type TaskInfo = {
  ID: string
  Slot?: number
  CreatedAt?: string
  UpdatedAt?: string
  DesiredState?: string
  Spec?: unknown
  Status?: {State?: string; Err?: string; Message?: string; Timestamp?: string}
}

interface WaitOptions {
  deadline: number
  timeoutMs: number
  spotWaitMs: number
  /** How long a task may wait for CPU or memory no node has free before the deploy gives up on it (and rolls an update back). */
  capacityWaitMs: number
  log: (line: string) => void
  auth: Docker.AuthConfig | undefined
  ids: Record<string, string>
}

/**
 * Until every service runs its spec: each task Swarm wants running runs
 * (healthy: a task with a health check counts as running only once healthy),
 * with the service's current task template, as many as its replicas. A
 * rollback of an update this deploy started ends the wait with
 * MLS_DEPLOY_ROLLED_BACK; spot tasks no node can take past spotWaitMs move
 * the API onto on-demand nodes.
 */
async function waitForServices(docker: Docker, objects: SwarmObjects, deployed: DeployedService[], options: WaitOptions): Promise<void> {
  const started = Date.now()
  const pendingSince = new Map<string, number>()
  const rollbackReasons = new Map<string, string>()
  const waiting = new Set(deployed.map((d) => d.name))
  let lastProblems: string[] = []
  while (waiting.size > 0) {
    lastProblems = []
    for (const name of [...waiting]) {
      const service = (await docker.getService(name).inspect()) as ServiceInfo
      const update = service.UpdateStatus
      const fresh = update?.StartedAt !== undefined && Date.parse(update.StartedAt) >= started - 5_000
      const tasks = (await docker.listTasks({filters: {service: [name]}})) as TaskInfo[]
      // Swarm says why it rolls back while it does (rollback_started); once completed, only that it did.
      if (fresh && update?.State === 'rollback_started' && update.Message) rollbackReasons.set(name, update.Message)
      if (fresh && update?.State === 'rollback_completed') {
        const reason = rollbackReasons.get(name) ?? update.Message ?? 'a new task failed'
        throw mlserveError('MLS_DEPLOY_ROLLED_BACK', {service: name, reason}, {details: await newTaskFailures(docker, tasks, started)})
      }
      if (fresh && (update?.State === 'paused' || update?.State === 'rollback_paused')) {
        throw mlserveError('MLS_DEPLOY_UPDATE_PAUSED', {service: name, state: update.State, reason: update.Message ?? ''}, {details: failedTasks(tasks)})
      }
      const template = canonical(service.Spec?.TaskTemplate)
      const wanted = service.Spec?.Mode?.Replicated?.Replicas ?? 1
      const live = tasks.filter((t) => t.DesiredState === 'running')
      const done =
        !(fresh && (update?.State === 'updating' || update?.State === 'rollback_started')) &&
        live.length === wanted &&
        live.every((t) => t.Status?.State === 'running' && canonical(t.Spec) === template)
      if (done) {
        waiting.delete(name)
        options.log(`${name}: ${wanted} task${wanted === 1 ? '' : 's'} running.`)
        continue
      }
      lastProblems.push(`${name} (${live.filter((t) => t.Status?.State === 'running').length}/${wanted} running${update?.State && fresh ? `, update ${update.State}` : ''})`)
      const unplaceable = live.some((t) => t.Status?.State === 'pending' && /no suitable node/i.test(t.Status?.Err ?? ''))
      const entry = deployed.find((d) => d.name === name)
      if (unplaceable && entry?.placement === 'spot') {
        const since = pendingSince.get(name) ?? Date.now()
        pendingSince.set(name, since)
        if (Date.now() - since >= options.spotWaitMs) {
          await placeOnDemand(docker, objects, name, service, options)
          entry.placement = 'on-demand'
          pendingSince.delete(name)
        }
      } else if (unplaceable && /insufficient resources/i.test(live.map((t) => t.Status?.Err ?? '').join(' '))) {
        // Swarm waits forever for room that will not come: a start-first update needs one more task's reservation beside the running ones.
        const since = pendingSince.get(name) ?? Date.now()
        pendingSince.set(name, since)
        if (Date.now() - since >= options.capacityWaitMs) await noCapacity(docker, name, service, fresh && update?.State === 'updating', tasks, options)
      } else {
        pendingSince.delete(name)
      }
    }
    if (waiting.size === 0) break
    if (Date.now() >= options.deadline) {
      const details: string[] = []
      for (const name of waiting) details.push(...failedTasks((await docker.listTasks({filters: {service: [name]}})) as TaskInfo[], name))
      throw mlserveError('MLS_DEPLOY_TIMEOUT', {seconds: Math.round(options.timeoutMs / 1000), waiting: lastProblems}, {details})
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000))
  }
}

/**
 * A task template as JSON, for telling a task of the service's current
 * template from an older one: without the fields the engine fills in on the
 * service's copy only (Runtime, empty objects such as DNSConfig).
 */
export function canonical(template: unknown): string {
  return JSON.stringify(template, (key, value: unknown) => {
    if (key === 'Runtime') return undefined
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0) return undefined
    return value
  })
}

/**
 * A task no node has the reservation for: an update goes back to the previous
 * spec (whose tasks still run and serve), and the deploy ends saying what the
 * task needs, instead of waiting out --timeout while Swarm waits forever.
 */
async function noCapacity(docker: Docker, name: string, service: ServiceInfo, updating: boolean, tasks: TaskInfo[], options: WaitOptions): Promise<never> {
  const reserved = service.Spec?.TaskTemplate.Resources?.Reservations
  const needs = [reserved?.NanoCPUs ? `${reserved.NanoCPUs / 1e9} CPU` : null, reserved?.MemoryBytes ? `${Math.round(reserved.MemoryBytes / 2 ** 20)} MiB` : null].filter((x) => x !== null).join(' and ') || 'its resources'
  if (updating) {
    options.log(`${name}: no node has room for a new task (${needs}) beside the running ones; rolling the update back.`)
    await docker.getService(service.ID).update({...(options.auth ? {authconfig: options.auth} : {}), _query: {version: service.Version?.Index, rollback: 'previous'}, _body: service.Spec} as never)
  }
  throw mlserveError('MLS_DEPLOY_NO_CAPACITY', {service: name, needs, seconds: Math.round(options.capacityWaitMs / 1000), rolledBack: updating}, {details: failedTasks(tasks, name)})
}

/** Spot tasks no node could take: the API's service moves to on-demand nodes (the fallback), said in the log. */
async function placeOnDemand(docker: Docker, objects: SwarmObjects, name: string, service: ServiceInfo, options: WaitOptions): Promise<void> {
  const object = objects.services.find((s) => s.name === name)
  if (!object || !service.Spec) return
  const {taskPlacement} = await import('./spec.js')
  const label = service.Spec.TaskTemplate.Placement?.Constraints?.[0]?.match(/^node\.labels\.([^=!]+)==(.*)$/)
  if (!label) return
  const spec: SwarmServiceSpec = {
    ...service.Spec,
    Labels: {...service.Spec.Labels, [DEPLOY_LABELS.placement]: 'on-demand'},
    TaskTemplate: {...service.Spec.TaskTemplate, Placement: taskPlacement('on-demand', {key: label[1], value: label[2]})},
  }
  options.log(`${name}: no spot node could take its tasks within ${Math.round(options.spotWaitMs / 1000)}s ("no suitable node"); placing it on on-demand nodes.`)
  await docker.getService(service.ID).update({...(options.auth ? {authconfig: options.auth} : {}), _query: {version: service.Version?.Index}, _body: spec} as never)
}

/**
 * The tasks this deploy started that ended, each with how (Swarm's state and
 * error) and, where its container is on this engine, its last health check's
 * output: why an update was rolled back.
 */
async function newTaskFailures(docker: Docker, tasks: TaskInfo[], since: number): Promise<string[]> {
  const ended = tasks
    .filter((t) => Date.parse(t.CreatedAt ?? '') >= since - 5_000 && t.Status?.State !== 'running' && t.DesiredState === 'shutdown')
    .sort((a, b) => (a.CreatedAt ?? '').localeCompare(b.CreatedAt ?? ''))
  const lines: string[] = []
  for (const task of ended) {
    let line = describeTask(task)
    const container = (task.Status as {ContainerStatus?: {ContainerID?: string}} | undefined)?.ContainerStatus?.ContainerID
    if (container) {
      try {
        const info = (await docker.getContainer(container).inspect()) as {State?: {Health?: {Status?: string; Log?: Array<{ExitCode?: number; Output?: string}>}}}
        const health = info.State?.Health
        const last = health?.Log?.at(-1)
        if (health?.Status) line += `; health ${health.Status}${last?.Output ? ` (last check: ${last.Output.trim().split('\n').at(-1)})` : ''}`
      } catch {
        // on another node, or already removed: Swarm's state is all there is
      }
    }
    lines.push(line)
  }
  return lines.length > 0 ? lines : failedTasks(tasks)
}

/** The tasks that failed, or wait, with Swarm's reason, newest first. */
function failedTasks(tasks: TaskInfo[], service?: string): string[] {
  return tasks
    .filter((t) => (t.Status?.Err ?? '') !== '' || ['failed', 'rejected', 'pending', 'starting', 'shutdown'].includes(t.Status?.State ?? '') && t.DesiredState !== 'shutdown')
    .sort((a, b) => (b.UpdatedAt ?? '').localeCompare(a.UpdatedAt ?? ''))
    .slice(0, 6)
    .map((t) => `${service ? `${service} ` : ''}${describeTask(t)}`)
}

async function waitForGateway(url: string, options: {deadline: number; timeoutMs: number}): Promise<void> {
  let last = ''
  for (;;) {
    try {
      const answer = await exchange(`${url}/readyz`, {timeoutMs: 2_000})
      if (answer.status === 200) return
      last = `GET ${url}/readyz answered ${answer.status}: ${answer.body.toString('utf8').slice(0, 200)}`
    } catch (error) {
      last = `GET ${url}/readyz: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`
    }
    if (Date.now() >= options.deadline) {
      throw mlserveError('MLS_DEPLOY_TIMEOUT', {seconds: Math.round(options.timeoutMs / 1000), waiting: [`the gateway at ${url} to be ready`]}, {details: [last]})
    }
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
}

/** What earlier deploys of this project and environment made that this one no longer uses: services of APIs gone, old configs and secrets. */
async function removeLeftovers(docker: Docker, objects: SwarmObjects, log: (line: string) => void): Promise<string[]> {
  const filters = {label: labelFilters(objects.project, objects.env)}
  const removed: string[] = []
  const keepServices = new Set(objects.services.map((s) => s.name))
  for (const service of (await docker.listServices({filters})) as ServiceInfo[]) {
    const name = service.Spec?.Name ?? service.ID
    if (keepServices.has(name)) continue
    await docker.getService(service.ID).remove()
    removed.push(name)
  }
  const keep = new Set([objects.secret.Name, objects.configs.plan.Name, objects.configs.autoscaler?.Name].filter((n): n is string => Boolean(n)))
  const named = [
    ...((await docker.listConfigs({filters})) as Array<{ID: string; Spec?: {Name?: string}}>).map((c) => ({...c, kind: 'config' as const})),
    ...((await docker.listSecrets({filters})) as Array<{ID: string; Spec?: {Name?: string}}>).map((s) => ({...s, kind: 'secret' as const})),
  ]
  for (const object of named) {
    const name = object.Spec?.Name ?? object.ID
    if (keep.has(name)) continue
    try {
      await (object.kind === 'config' ? docker.getConfig(object.ID).remove() : docker.getSecret(object.ID).remove())
      removed.push(name)
    } catch (error) {
      // Still used by a task being replaced: the next deploy or delete removes it.
      log(`Kept ${object.kind} ${name} for now: ${engineMessage(error)}`)
    }
  }
  if (removed.length > 0) log(`Removed what this deploy no longer uses: ${removed.join(', ')}.`)
  return removed
}
