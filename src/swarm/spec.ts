// From a project, an environment and its images to the Docker Swarm objects a
// deploy creates: one overlay network, the gateway's token as a secret, the
// gateway's plan and the autoscaler's settings as configs, and the services
// (one per API, the gateway, the autoscaler). Pure: no engine is asked, so
// every field mapping is checked by unit tests (test/unit/swarm-spec.test.ts).
// deploy.ts creates what this describes.
import {createHash} from 'node:crypto'
import {basename} from 'node:path'
import type Docker from 'dockerode'
import {parseCpuMillicores, parseMemoryBytes, servedApis, type Project, type ServedApiConfig} from '../config/index.js'
import {containerEnv, HARNESS_IN_IMAGE, CONTAINER_PORT} from '../runtime/harness/index.js'
import type {ApiPlan, RuntimePlan} from '../runtime/index.js'
import type {AutoscalingPlan} from '../runtime/autoscale/settings.js'
import {GATEWAY_IMAGE_USER, NODE_IN_IMAGE} from './gateway-image.js'

/** The labels every object of a deploy carries: `mlserve delete` removes exactly what carries its project's and environment's. */
export const DEPLOY_LABELS = {
  project: 'io.mlserve.deploy.project',
  env: 'io.mlserve.deploy.env',
  api: 'io.mlserve.deploy.api',
  /** api, gateway or autoscaler (services); plan, autoscaler or token (configs and the secret). */
  role: 'io.mlserve.deploy.role',
  /** A hash of the service spec mlserve asked for, so that a redeploy with nothing changed leaves the service alone. */
  spec: 'io.mlserve.deploy.spec',
  /** Where the API's tasks were placed: spot, on-demand, or any (no spot label in the environment). */
  placement: 'io.mlserve.deploy.placement',
} as const

/** Where the gateway reads its plan, and where the autoscaler reads its settings, inside their containers. */
export const PLAN_IN_CONTAINER = '/etc/mlserve/plan.json'
export const AUTOSCALER_CONFIG_IN_CONTAINER = '/etc/mlserve/autoscaler.json'
/** The token's file under /run/secrets: a fixed name, so a new token changes the secret and not the command line. */
export const TOKEN_FILE_NAME = 'mlserve-gateway-token'
export const TOKEN_IN_CONTAINER = `/run/secrets/${TOKEN_FILE_NAME}`
export const DOCKER_SOCKET = '/var/run/docker.sock'

const SECOND_NS = 1_000_000_000
/** The gateway image's user (nobody), who must read the token file. */
const GATEWAY_UID = GATEWAY_IMAGE_USER.split(':')[0]

/** Health check and update timing; deploy's flags set the start period. */
export interface SwarmTiming {
  /** How long a new replica may take to load before failing health checks count (the health check's StartPeriod). */
  healthStartPeriodMs: number
  /** Between health checks; the first runs one interval after the start. */
  healthIntervalMs: number
  /** How long Swarm watches each updated task for a failure before it counts the update as done (UpdateConfig.Monitor). */
  monitorMs: number
  /** SIGTERM to SIGKILL: the harness and the gateway drain requests in flight meanwhile. */
  stopGracePeriodMs: number
}

export const defaultTiming: SwarmTiming = {
  healthStartPeriodMs: 120_000,
  healthIntervalMs: 3_000,
  monitorMs: 10_000,
  stopGracePeriodMs: 30_000,
}

/** spot: on nodes with the environment's spot label; on-demand: on nodes without it; any: the environment names no spot label. */
export type Placement = 'spot' | 'on-demand' | 'any'

export interface SwarmEnvironment {
  name: string
  gatewayPort: number
  spotLabel: {key: string; value: string} | null
}

export interface SwarmSpecInput {
  project: Project
  environment: SwarmEnvironment
  /** The gateway's plan: planRuntime with the remote driver and dns discovery (see gatewayPlanOptions). */
  plan: RuntimePlan
  /** The image each API runs (a pinned REGISTRY/REPO@sha256:… after a push, else the local image id), and the gateway's. */
  images: {apis: Record<string, string>; gateway: string}
  /** The token the gateway's control routes want (traffic set, rollback, apply). */
  token: string
  /** Where the API services' tasks go (deploy decides from the nodes' labels). */
  placement: Placement
  /** The replicas each API service runs now (the autoscaler set them): a redeploy keeps them, within min..max. */
  currentReplicas?: Record<string, number>
  timing?: SwarmTiming
}

export interface SwarmNamedObject {
  Name: string
  Labels: Record<string, string>
  /** base64, as the engine wants it. */
  Data: string
}

/** A service's spec: one that runs containers. */
export type SwarmServiceSpec = Docker.ServiceSpec & {TaskTemplate: Docker.ContainerTaskSpec}

export interface SwarmServiceObject {
  role: 'api' | 'gateway' | 'autoscaler'
  /** The API, for role api. */
  api: string | null
  name: string
  /** The spec, without the ids of the configs and the secret it references (deploy fills them: see withReferenceIds). */
  spec: SwarmServiceSpec
}

export interface SwarmObjects {
  project: string
  env: string
  labels: Record<string, string>
  network: {Name: string; Driver: 'overlay'; Attachable: true; Labels: Record<string, string>}
  secret: SwarmNamedObject
  configs: {plan: SwarmNamedObject; autoscaler: SwarmNamedObject | null}
  /** API services first, then the gateway, then the autoscaler (the order deploy creates them in). */
  services: SwarmServiceObject[]
}

/** The project's name on the cluster: its directory's name, as a DNS label (lower case, digits and dashes). */
export function projectName(project: Pick<Project, 'dir'>): string {
  const name = basename(project.dir)
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 24)
    .replace(/-+$/, '')
  return name || 'project'
}

/** A DNS-label-safe form of an API name (they are already; kept short so the service name stays within 63 characters). */
function dnsLabel(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').slice(0, 30)
}

export function apiServiceName(project: string, api: string): string {
  return `mlserve-${project}-${dnsLabel(api)}`
}

export function gatewayServiceName(project: string): string {
  return `mlserve-${project}-gateway`
}

export function autoscalerServiceName(project: string): string {
  return `mlserve-${project}-autoscaler`
}

export function networkName(project: string): string {
  return `mlserve-${project}`
}

/** A short content hash: configs and secrets cannot change, so a new content is a new name. */
export function contentHash(data: string | Buffer, length = 12): string {
  return createHash('sha256').update(data).digest('hex').slice(0, length)
}

/** The labels of every object of this deploy. */
export function deployLabels(project: string, env: string): Record<string, string> {
  return {[DEPLOY_LABELS.project]: project, [DEPLOY_LABELS.env]: env}
}

/**
 * The plan the gateway serves, as it goes in the config: without what changes
 * with every code edit and does not change what the gateway does (the replica
 * specs' code version; an API's answers version when it has no prediction
 * cache), so that a redeploy with new code keeps the gateway, and its host
 * port, serving while the API services roll. An API with a cache keeps its
 * answers version: new code then means a new gateway, so that no stale answer
 * is served.
 */
export function gatewayPlanDocument(plan: RuntimePlan): string {
  const stable = {
    ...plan,
    apis: plan.apis.map((api) => ({
      ...api,
      version: api.cache ? api.version : `swarm:${api.name}`,
      replicas: api.replicas.map(({codeVersion: _codeVersion, ...spec}) => spec),
    })),
  }
  return `${JSON.stringify(stable, null, 2)}\n`
}

/** What Swarm runs a task with: compute.cpu/mem as both limit and reservation, compute.gpu as a generic resource. */
export function taskResources(compute: Pick<ServedApiConfig['compute'], 'cpu' | 'mem' | 'gpu'>): Docker.ResourceRequirements {
  const limits: {NanoCPUs?: number; MemoryBytes?: number} = {}
  if (compute.cpu !== null && compute.cpu !== undefined) limits.NanoCPUs = parseCpuMillicores(compute.cpu) * 1_000_000
  if (compute.mem !== null && compute.mem !== undefined) limits.MemoryBytes = parseMemoryBytes(compute.mem)
  const gpus = compute.gpu ?? 0
  const reservations: Record<string, unknown> = {...limits}
  if (gpus > 0) reservations.GenericResources = [{DiscreteResourceSpec: {Kind: 'NVIDIA-GPU', Value: gpus}}]
  return {Limits: {...limits}, Reservations: reservations} as Docker.ResourceRequirements
}

/** The placement of an API's tasks: a constraint on the spot label (or its absence), and a spread over its values. */
export function taskPlacement(placement: Placement, spotLabel: SwarmEnvironment['spotLabel']): Docker.Placement {
  if (placement === 'any' || spotLabel === null) return {}
  const label = `node.labels.${spotLabel.key}`
  if (placement === 'spot') {
    return {Constraints: [`${label}==${spotLabel.value}`], Preferences: [{Spread: {SpreadDescriptor: label}}]}
  }
  // A node without the label counts as not equal, so on-demand is every node that is not marked spot.
  return {Constraints: [`${label}!=${spotLabel.value}`]}
}

/**
 * The API's health check: the image's own test (an mlserve image's
 * HEALTHCHECK: the harness's status file for a python predictor, GET on the
 * readiness path for a command), with timing of its own. Swarm counts a task
 * running only once it is healthy, so start-first waits for a loaded model.
 */
export function apiHealthCheck(api: ServedApiConfig, timing: SwarmTiming): Docker.HealthConfig {
  const check: Docker.HealthConfig = {
    Interval: timing.healthIntervalMs * 1_000_000,
    Timeout: 5 * SECOND_NS,
    Retries: 3,
    StartPeriod: timing.healthStartPeriodMs * 1_000_000,
  }
  // A Dockerfile of the user's own has a HEALTHCHECK of its own (or none); an empty Test inherits it.
  if (api.build?.dockerfile) return check
  if (api.predictor.type === 'python') return {Test: ['CMD', 'python3', HARNESS_IN_IMAGE, 'check'], ...check}
  const path = api.predictor.readiness_path ?? '/healthz'
  return {
    Test: ['CMD', 'python3', '-c', `import os, urllib.request; urllib.request.urlopen("http://127.0.0.1:%s${path}" % os.environ.get("PORT", "${CONTAINER_PORT}"), timeout=4)`],
    ...check,
  }
}

/** Rolling updates: one task at a time, the new one healthy before the old one stops, and a failure rolls back. */
export function updateConfig(timing: SwarmTiming, order: 'start-first' | 'stop-first'): Docker.UpdateConfig {
  return {Parallelism: 1, Delay: 0, FailureAction: 'rollback', Monitor: timing.monitorMs * 1_000_000, MaxFailureRatio: 0, Order: order}
}

export function rollbackConfig(timing: SwarmTiming, order: 'start-first' | 'stop-first'): Docker.UpdateConfig {
  return {Parallelism: 1, Delay: 0, FailureAction: 'pause', Monitor: timing.monitorMs * 1_000_000, MaxFailureRatio: 0, Order: order}
}

/** Restart a task that exits, whatever its code, after a pause; Swarm never gives up on a service. */
export const restartPolicy: Docker.TaskRestartPolicy = {Condition: 'any', Delay: 5 * SECOND_NS, MaxAttempts: 0}

/** The replicas an API service asks for: init_replicas on a first deploy, else what runs now, within min..max. */
export function serviceReplicas(autoscaling: AutoscalingPlan, current: number | undefined): number {
  if (current === undefined) return autoscaling.initReplicas
  return Math.min(autoscaling.maxReplicas, Math.max(autoscaling.minReplicas, current))
}

/** The node one-liner the gateway's HEALTHCHECK runs: alive (GET /healthz), not ready (which depends on the APIs' replicas). */
export function gatewayHealthCommand(port: number): string[] {
  const script = `require('http').get('http://127.0.0.1:${port}/healthz',(r)=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))`
  return ['CMD', NODE_IN_IMAGE, '-e', script]
}

/** Every Swarm object of one deploy. */
export function swarmObjects(input: SwarmSpecInput): SwarmObjects {
  const timing = input.timing ?? defaultTiming
  const project = projectName(input.project)
  const env = input.environment.name
  const labels = deployLabels(project, env)
  const network = networkName(project)
  const withRole = (role: string, extra: Record<string, string> = {}): Record<string, string> => ({...labels, [DEPLOY_LABELS.role]: role, ...extra})

  const planDoc = gatewayPlanDocument(input.plan)
  const planConfig: SwarmNamedObject = {
    Name: `mlserve-${project}-plan-${contentHash(planDoc)}`,
    Labels: withRole('plan'),
    Data: Buffer.from(planDoc).toString('base64'),
  }
  const secret: SwarmNamedObject = {
    Name: `mlserve-${project}-token-${contentHash(input.token)}`,
    Labels: withRole('token'),
    Data: Buffer.from(input.token).toString('base64'),
  }
  const settings = autoscalerSettings(input.plan, project, input.environment.gatewayPort)
  const autoscalerDoc = settings === null ? null : `${JSON.stringify(settings, null, 2)}\n`
  const autoscalerConfig: SwarmNamedObject | null =
    autoscalerDoc === null
      ? null
      : {Name: `mlserve-${project}-autoscaler-${contentHash(autoscalerDoc)}`, Labels: withRole('autoscaler'), Data: Buffer.from(autoscalerDoc).toString('base64')}

  const services: SwarmServiceObject[] = []
  const configs = new Map(servedApis(input.project).map((api) => [api.name, api]))
  for (const apiPlan of input.plan.apis) {
    const api = configs.get(apiPlan.name)
    if (!api) continue
    services.push(apiService({api, apiPlan, project, network, labels: withRole('api', {[DEPLOY_LABELS.api]: api.name}), input, timing}))
  }
  services.push(gatewayService({project, network, labels: withRole('gateway'), input, planConfig: planConfig.Name, secret: secret.Name, timing}))
  if (autoscalerConfig) services.push(autoscalerService({project, network, labels: withRole('autoscaler'), input, config: autoscalerConfig.Name, timing}))
  for (const service of services) service.spec.Labels = {...service.spec.Labels, [DEPLOY_LABELS.spec]: specHash(service.spec)}

  return {
    project,
    env,
    labels,
    network: {Name: network, Driver: 'overlay', Attachable: true, Labels: {...labels}},
    secret,
    configs: {plan: planConfig, autoscaler: autoscalerConfig},
    services,
  }
}

/** The hash that tells a changed spec from the same one: over everything but the replica count, which the autoscaler owns. */
export function specHash(spec: SwarmServiceSpec): string {
  const {Labels, Mode, ...rest} = spec
  const {[DEPLOY_LABELS.spec]: _old, ...labels} = Labels ?? {}
  const mode = Mode?.Replicated ? {Replicated: {}} : Mode
  return contentHash(JSON.stringify({...rest, Labels: labels, Mode: mode}))
}

interface ApiServiceInput {
  api: ServedApiConfig
  apiPlan: ApiPlan
  project: string
  network: string
  labels: Record<string, string>
  input: SwarmSpecInput
  timing: SwarmTiming
}

function apiService({api, apiPlan, project, network, labels, input, timing}: ApiServiceInput): SwarmServiceObject {
  const name = apiServiceName(project, api.name)
  const image = input.images.apis[api.name]
  if (!image) throw new Error(`no image for API ${api.name}`)
  const replica = apiPlan.replicas[0]
  if (!replica) throw new Error(`the plan has no replica spec for API ${api.name}`)
  // The old task serves on for a few discovery rounds after SIGTERM: the gateway has stopped sending to it before it closes connections.
  const env = {...containerEnv(replica), MLSERVE_STOP_DELAY_S: String(STOP_DELAY_MS / 1000)}
  const placement: Placement = input.environment.spotLabel === null ? 'any' : input.placement
  const serviceLabels = {...labels, [DEPLOY_LABELS.placement]: placement}
  return {
    role: 'api',
    api: api.name,
    name,
    spec: {
      Name: name,
      Labels: serviceLabels,
      TaskTemplate: {
        ContainerSpec: {
          Image: image,
          Env: Object.entries(env).map(([key, value]) => `${key}=${value}`),
          Labels: {...labels},
          HealthCheck: apiHealthCheck(api, timing),
          StopGracePeriod: (timing.stopGracePeriodMs + STOP_DELAY_MS) * 1_000_000,
        },
        Resources: taskResources(api.compute),
        RestartPolicy: restartPolicy,
        Placement: taskPlacement(placement, input.environment.spotLabel),
        Networks: [{Target: network}],
      },
      Mode: {Replicated: {Replicas: serviceReplicas(apiPlan.autoscaling, input.currentReplicas?.[api.name])}},
      UpdateConfig: updateConfig(timing, 'start-first'),
      RollbackConfig: rollbackConfig(timing, 'start-first'),
      EndpointSpec: {Mode: 'dnsrr'},
    },
  }
}

interface GatewayServiceInput {
  project: string
  network: string
  labels: Record<string, string>
  input: SwarmSpecInput
  planConfig: string
  secret: string
  timing: SwarmTiming
}

function gatewayService({project, network, labels, input, planConfig, secret, timing}: GatewayServiceInput): SwarmServiceObject {
  const name = gatewayServiceName(project)
  const port = input.environment.gatewayPort
  return {
    role: 'gateway',
    api: null,
    name,
    spec: {
      Name: name,
      Labels: {...labels},
      TaskTemplate: {
        ContainerSpec: {
          Image: input.images.gateway,
          Args: ['gateway', '--plan', PLAN_IN_CONTAINER, '--token-file', TOKEN_IN_CONTAINER],
          Labels: {...labels},
          // The ids are filled in by deploy once the config and the secret exist.
          Configs: [{ConfigName: planConfig, ConfigID: '', File: {Name: PLAN_IN_CONTAINER, UID: '0', GID: '0', Mode: 0o444}}],
          // Readable by the gateway's user only (the image runs as nobody, GATEWAY_USER).
          Secrets: [{SecretName: secret, SecretID: '', File: {Name: TOKEN_FILE_NAME, UID: GATEWAY_UID, GID: GATEWAY_UID, Mode: 0o400}}],
          HealthCheck: {Test: gatewayHealthCommand(port), Interval: 5 * SECOND_NS, Timeout: 3 * SECOND_NS, Retries: 3, StartPeriod: 30 * SECOND_NS},
          StopGracePeriod: timing.stopGracePeriodMs * 1_000_000,
        },
        RestartPolicy: restartPolicy,
        Networks: [{Target: network}],
      },
      Mode: {Replicated: {Replicas: 1}},
      // A port published in host mode is held by one task per node: the old task stops before the new one starts.
      UpdateConfig: updateConfig(timing, 'stop-first'),
      RollbackConfig: rollbackConfig(timing, 'stop-first'),
      EndpointSpec: {Mode: 'dnsrr', Ports: [{Protocol: 'tcp', TargetPort: port, PublishedPort: port, PublishMode: 'host'}]},
    },
  }
}

interface AutoscalerServiceInput {
  project: string
  network: string
  labels: Record<string, string>
  input: SwarmSpecInput
  config: string
  timing: SwarmTiming
}

function autoscalerService({project, network, labels, input, config, timing}: AutoscalerServiceInput): SwarmServiceObject {
  const name = autoscalerServiceName(project)
  return {
    role: 'autoscaler',
    api: null,
    name,
    spec: {
      Name: name,
      Labels: {...labels},
      TaskTemplate: {
        ContainerSpec: {
          Image: input.images.gateway,
          Args: ['autoscaler', '--config', AUTOSCALER_CONFIG_IN_CONTAINER],
          // The Docker socket is root's: the autoscaler runs as root, not as the image's nobody.
          User: '0:0',
          Labels: {...labels},
          Configs: [{ConfigName: config, ConfigID: '', File: {Name: AUTOSCALER_CONFIG_IN_CONTAINER, UID: '0', GID: '0', Mode: 0o444}}],
          // It sets the API services' replicas through the engine's API, which answers on managers only.
          Mounts: [{Type: 'bind', Source: DOCKER_SOCKET, Target: DOCKER_SOCKET}],
          StopGracePeriod: 10 * SECOND_NS,
        },
        RestartPolicy: restartPolicy,
        Placement: {Constraints: ['node.role==manager']},
        Networks: [{Target: network}],
      },
      Mode: {Replicated: {Replicas: 1}},
      UpdateConfig: updateConfig(timing, 'stop-first'),
      RollbackConfig: rollbackConfig(timing, 'stop-first'),
      EndpointSpec: {Mode: 'dnsrr'},
    },
  }
}

/** The spec with the ids of the configs and secrets it references, as the engine requires them. */
export function withReferenceIds(spec: SwarmServiceSpec, ids: Record<string, string>): SwarmServiceSpec {
  const container = spec.TaskTemplate?.ContainerSpec
  if (!container) return spec
  const idOf = (name: string): string => {
    const id = ids[name]
    if (!id) throw new Error(`no id for ${name}`)
    return id
  }
  return {
    ...spec,
    TaskTemplate: {
      ...spec.TaskTemplate,
      ContainerSpec: {
        ...container,
        ...(container.Configs ? {Configs: container.Configs.map((c) => ({...c, ConfigID: idOf(c.ConfigName!)}))} : {}),
        ...(container.Secrets ? {Secrets: container.Secrets.map((s) => ({...s, SecretID: idOf(s.SecretName!)}))} : {}),
      },
    },
  }
}

/** What the autoscaler service reads (H3a's SwarmAutoscalerConfig): the gateway to scrape, and each API that autoscales; null when none does. */
export function autoscalerSettings(
  plan: RuntimePlan,
  project: string,
  gatewayPort: number,
): {gateway: {service: string; port: number}; apis: Array<{api: string; service: string; autoscaling: AutoscalingPlan}>} | null {
  const apis = plan.apis
    .filter((api) => api.autoscaling.fixed === null && api.autoscaling.maxReplicas > api.autoscaling.minReplicas)
    .map((api) => ({api: api.name, service: apiServiceName(project, api.name), autoscaling: api.autoscaling}))
  if (apis.length === 0) return null
  return {gateway: {service: gatewayServiceName(project), port: gatewayPort}, apis}
}

/** The settings of the gateway's plan on Swarm: the remote driver, each API found at tasks.<its service> on the container port. */
/** How often the gateway looks up each API's tasks (tasks.<service>). */
export const DISCOVERY_INTERVAL_MS = 1_000
/** How long an API task serves on after SIGTERM before it drains: three discovery rounds. */
export const STOP_DELAY_MS = 3 * DISCOVERY_INTERVAL_MS

export function remoteDiscovery(project: Project): {kind: 'dns'; services: Record<string, string>; port: number; intervalMs: number} {
  const name = projectName(project)
  return {
    kind: 'dns',
    services: Object.fromEntries(servedApis(project).map((api) => [api.name, apiServiceName(name, api.name)])),
    port: CONTAINER_PORT,
    intervalMs: DISCOVERY_INTERVAL_MS,
  }
}
