// From a project, an environment and image references to the Kubernetes
// objects that serve it, built with kubernetes-models (so each can validate
// itself against the OpenAPI schemas, validate.ts). Pure apart from reading
// the project's predictor files for the plan's code version: nothing is
// written, no cluster is asked.
//
// Per RealtimeAPI: a ConfigMap with the gateway's plan, a Deployment (the
// model container + the mlserve gateway as a sidecar in front of it, as
// Knative's queue-proxy is), a Service on the sidecar's port, a
// PodDisruptionBudget and an autoscaler (KEDA ScaledObject or HPA). Per
// TrafficSplitter: a Gateway API HTTPRoute.
import {createHash} from 'node:crypto'
import {join, relative} from 'node:path'
import {ConfigMap, Service, type IContainer, type IPodSpec, type IToleration} from 'kubernetes-models/v1'
import {Deployment} from 'kubernetes-models/apps/v1'
import {PodDisruptionBudget} from 'kubernetes-models/policy/v1'
import {HTTPRoute} from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1'
import {parseCpuMillicores, parseMemoryBytes, servedApis, trafficSplitters, type Project, type RealtimeApiConfig, type TrafficSplitterConfig} from '../config/index.js'
import type {Environment} from '../environments/index.js'
import {planRemoteGateway, type RuntimePlan} from '../runtime/index.js'
import {APP_DIR_IN_IMAGE, CONTAINER_PORT, containerEnv} from '../runtime/harness/index.js'
import {horizontalPodAutoscaler, scaledObject, type Autoscaler} from './autoscaling.js'
import {
  dnsLabel,
  GATEWAY_CONTAINER,
  GATEWAY_PORT,
  GATEWAY_PORT_NAME,
  MODEL_CONTAINER,
  objectLabels,
  PLAN_DIR,
  PLAN_FILE,
  planConfigMapName,
  projectName,
  selectorLabels,
  SERVICE_PORT,
  tokenSecretName,
} from './names.js'

/** What every object here is: a kubernetes-models instance (it validates itself and serializes to the API's JSON). */
export interface KubernetesManifest {
  apiVersion: string
  kind: string
  metadata?: {name?: string; namespace?: string; labels?: Record<string, string>}
  toJSON(): Record<string, unknown>
  validate(): void
}

export interface ManifestImages {
  /** The image of each API: REGISTRY/API:VERSION. */
  apis: Record<string, string>
  /** The gateway image (the sidecar). */
  gateway: string
}

export interface ManifestOptions {
  /** KEDA ScaledObject (default) or an HPA v2 on the Pods metric. */
  autoscaler?: Autoscaler
  /** The Prometheus the KEDA trigger queries. */
  prometheusUrl?: string
  /** The Gateway (Gateway API) a TrafficSplitter's HTTPRoute attaches to. */
  gatewayRef?: {name: string; namespace?: string}
  /** Notes: what the output leaves out or approximates. */
  log?: (line: string) => void
}

export const MANIFEST_DEFAULTS = {
  autoscaler: 'keda' as Autoscaler,
  // kube-prometheus-stack's Prometheus in the namespace "monitoring".
  prometheusUrl: 'http://prometheus-operated.monitoring.svc:9090',
  gatewayRef: {name: 'mlserve'} as {name: string; namespace?: string},
}

/** Seconds between a pod's removal from endpoints being sent and its containers' SIGTERM: what kube-proxies and gateways need to stop sending it requests. */
export const ENDPOINT_DRAIN_S = 5
/** The sidecar's own resources: a small proxy, without a CPU limit (throttling it adds latency to every request). */
const GATEWAY_RESOURCES = {requests: {cpu: '250m', memory: '128Mi'}, limits: {memory: '256Mi'}}

/**
 * The model container's preStop: wait out the endpoint update, then wait until
 * the gateway sidecar has drained and closed its port (it holds queued
 * requests that still need the model), at most the gateway's timeout. The
 * image has python3 (the harness needs it); Knative's user container waits
 * on queue-proxy's drain the same way.
 */
function waitForGatewayScript(timeoutS: number): string {
  return [
    'import socket, time',
    `time.sleep(${ENDPOINT_DRAIN_S})`,
    `end = time.time() + ${timeoutS}`,
    'while time.time() < end:',
    '    try:',
    `        socket.create_connection(("127.0.0.1", ${GATEWAY_PORT}), 1).close()`,
    '    except OSError:',
    '        break',
    '    time.sleep(1)',
  ].join('\n')
}

/** Every object for the project in the environment, in apply order: per API (ConfigMap, Deployment, Service, PDB, autoscaler), then the HTTPRoutes. */
export async function kubernetesManifests(
  project: Project,
  environment: Environment,
  images: ManifestImages,
  options: ManifestOptions = {},
): Promise<KubernetesManifest[]> {
  const log = options.log ?? (() => undefined)
  const project_ = projectName(project)
  const namespace = environment.namespace
  const splitters = trafficSplitters(project)
  const objects: KubernetesManifest[] = []
  for (const api of servedApis(project)) {
    if (api.kind !== 'RealtimeAPI') {
      // Its job queue lives in one gateway (LMDB on the pod's disk, or Redis); pods come and go, so it is not carried.
      log(`${api.name}: an AsyncAPI is not part of the Kubernetes output (see docs/deploy.md, "What Kubernetes output does not support"); left out`)
      continue
    }
    const image = images.apis[api.name]
    if (!image) throw new Error(`kubernetesManifests: no image for API ${api.name}`)
    const plan = await sidecarPlan(project, api, splitters)
    objects.push(...apiObjects({project: project_, namespace, environment, api, plan, image, gatewayImage: images.gateway, options}))
  }
  for (const splitter of splitters) objects.push(httpRoute({project: project_, namespace, splitter, options, log}))
  return objects
}

/**
 * The sidecar's gateway plan: planRemoteGateway for this one API with the
 * remote driver, its replica the model container beside it
 * (http://127.0.0.1:8080). Each TrafficSplitter that routes to the API is
 * served by the sidecar too, as a splitter of this API alone at the
 * splitter's endpoint: the HTTPRoute splits and mirrors across the APIs'
 * Services by weight, and whichever pod a request lands on answers the
 * splitter's path with its own model.
 */
export async function sidecarPlan(project: Project, api: RealtimeApiConfig, splitters: TrafficSplitterConfig[]): Promise<RuntimePlan> {
  const plan = await planRemoteGateway(project, {discovery: {kind: 'static', origins: {[api.name]: [`http://127.0.0.1:${CONTAINER_PORT}`]}}, port: GATEWAY_PORT, apis: [api.name]})
  // The plan's paths as the image has them (the project's code is at /app there), not this machine's: the pod's
  // plan does not depend on where the project was checked out, and names no directory of the deploying user.
  const here = project.dir
  const inImage = (path: string): string => (path === here || path.startsWith(`${here}/`) ? join(APP_DIR_IN_IMAGE, relative(here, path)) : path)
  plan.project = {file: inImage(project.file), dir: APP_DIR_IN_IMAGE}
  for (const replica of plan.apis[0].replicas) {
    replica.projectDir = APP_DIR_IN_IMAGE
    if (replica.predictorPath) replica.predictorPath = inImage(replica.predictorPath)
  }
  plan.splitters = splitters
    .filter((splitter) => splitter.apis.some((entry) => entry.name === api.name))
    .map((splitter) => ({name: splitter.name, endpoint: splitter.networking.endpoint, apis: [{name: api.name, weight: 100}], shadow: null}))
  return plan
}

interface ApiInput {
  project: string
  namespace: string
  environment: Environment
  api: RealtimeApiConfig
  plan: RuntimePlan
  image: string
  gatewayImage: string
  options: ManifestOptions
}

function apiObjects(input: ApiInput): KubernetesManifest[] {
  const {project, namespace, api, plan} = input
  const apiPlan = plan.apis[0]
  const name = dnsLabel(api.name)
  const labels = objectLabels(project, api.name, 'api', imageVersion(input.image))
  const selector = selectorLabels(project, api.name)
  const planJson = `${JSON.stringify(plan, null, 2)}\n`

  const configMap = new ConfigMap({
    metadata: {name: planConfigMapName(api.name), namespace, labels},
    data: {[PLAN_FILE]: planJson},
  })

  const autoscaling = apiPlan.autoscaling
  const fixed = autoscaling.minReplicas === autoscaling.maxReplicas
  const deployment = new Deployment({
    metadata: {name, namespace, labels},
    spec: {
      // Under an autoscaler the count is its to set: an apply that set it too would undo each of its steps.
      ...(fixed ? {replicas: autoscaling.minReplicas} : {}),
      selector: {matchLabels: selector},
      strategy: {type: 'RollingUpdate', rollingUpdate: {maxSurge: intOrPercent(api.update_strategy.max_surge), maxUnavailable: intOrPercent(api.update_strategy.max_unavailable)}},
      template: {
        metadata: {
          labels: {...labels},
          annotations: {
            // A changed plan changes the pod template, so the pods roll and read it (a mounted ConfigMap is not re-read by the gateway).
            'mlserve.dev/plan-sha256': createHash('sha256').update(planJson).digest('hex'),
            // For a Prometheus that discovers pods by these annotations (the KEDA trigger's query reads what it scrapes).
            'prometheus.io/scrape': 'true',
            'prometheus.io/port': String(GATEWAY_PORT),
            'prometheus.io/path': '/metrics',
          },
        },
        spec: podSpec(input, apiPlan.replicas[0]),
      },
    },
  })

  const service = new Service({
    metadata: {name, namespace, labels},
    spec: {
      selector,
      // The sidecar's port, never the model's: every request passes the gateway's admission.
      ports: [{name: 'http', port: SERVICE_PORT, targetPort: GATEWAY_PORT_NAME, protocol: 'TCP'}],
    },
  })

  // maxUnavailable 1, not minAvailable min_replicas: at min_replicas (1 by default) minAvailable would forbid every
  // voluntary eviction, and a node drain would hang; one pod at a time keeps N−1 serving. AlwaysAllow lets a pod that
  // is not ready (crash-looping) be evicted, so a broken version never blocks node maintenance.
  const pdb = new PodDisruptionBudget({
    metadata: {name, namespace, labels},
    spec: {maxUnavailable: 1, selector: {matchLabels: selector}, unhealthyPodEvictionPolicy: 'AlwaysAllow'},
  })

  const objects: KubernetesManifest[] = [configMap, deployment, service, pdb]
  if (!fixed) {
    const scaler = {
      name,
      namespace,
      labels,
      deployment: name,
      api: api.name,
      plan: autoscaling,
      prometheusUrl: input.options.prometheusUrl ?? MANIFEST_DEFAULTS.prometheusUrl,
    }
    objects.push((input.options.autoscaler ?? MANIFEST_DEFAULTS.autoscaler) === 'hpa' ? horizontalPodAutoscaler(scaler) : scaledObject(scaler))
  }
  return objects
}

function podSpec(input: ApiInput, spec: RuntimePlan['apis'][number]['replicas'][number]): IPodSpec {
  const {api, plan, environment} = input
  const timeoutS = Math.ceil(plan.gateway.timeoutMs / 1000)
  const readinessPath = spec.readinessPath
  const env = containerEnv(spec)
  const shm = api.compute.shm
  const model: IContainer = {
    name: MODEL_CONTAINER,
    image: input.image,
    ports: [{name: 'replica', containerPort: CONTAINER_PORT, protocol: 'TCP'}],
    env: Object.entries(env).map(([key, value]) => ({name: key, value})),
    resources: modelResources(api),
    // Up to the runtime's readiness timeout for the model to load, before liveness counts.
    startupProbe: {httpGet: {path: readinessPath, port: CONTAINER_PORT}, periodSeconds: 2, timeoutSeconds: 2, failureThreshold: Math.ceil(spec.readinessTimeoutMs / 2000)},
    readinessProbe: {httpGet: {path: readinessPath, port: CONTAINER_PORT}, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2},
    // Gentler than readiness: a replica whose threads are all busy may answer /healthz late; only a minute of silence restarts it.
    livenessProbe: {httpGet: {path: readinessPath, port: CONTAINER_PORT}, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 6},
    lifecycle: {preStop: {exec: {command: ['python3', '-c', waitForGatewayScript(timeoutS)]}}},
    securityContext: {allowPrivilegeEscalation: false},
    ...(shm ? {volumeMounts: [{name: 'dshm', mountPath: '/dev/shm'}]} : {}),
  }
  const gateway: IContainer = {
    name: GATEWAY_CONTAINER,
    image: input.gatewayImage,
    args: ['gateway', '--plan', `${PLAN_DIR}/${PLAN_FILE}`],
    ports: [{name: GATEWAY_PORT_NAME, containerPort: GATEWAY_PORT, protocol: 'TCP'}],
    env: [
      // The token for the control routes (/traffic, /apply, /status details) from off the pod; a Secret the user makes, optional.
      {name: 'MLSERVE_GATEWAY_TOKEN', valueFrom: {secretKeyRef: {name: tokenSecretName(input.project), key: 'token', optional: true}}},
    ],
    resources: GATEWAY_RESOURCES,
    readinessProbe: {httpGet: {path: '/readyz', port: GATEWAY_PORT}, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2},
    livenessProbe: {httpGet: {path: '/healthz', port: GATEWAY_PORT}, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 6},
    // The endpoint update first; then SIGTERM, and the gateway drains (finishes what it holds, takes nothing new).
    lifecycle: {preStop: {sleep: {seconds: ENDPOINT_DRAIN_S}}},
    volumeMounts: [{name: 'plan', mountPath: PLAN_DIR, readOnly: true}],
    securityContext: {runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, allowPrivilegeEscalation: false, capabilities: {drop: ['ALL']}},
  }
  return {
    containers: [model, gateway],
    volumes: [
      {name: 'plan', configMap: {name: planConfigMapName(api.name)}},
      ...(shm ? [{name: 'dshm', emptyDir: {medium: 'Memory', sizeLimit: memoryQuantity(shm)}}] : []),
    ],
    // The drain (endpoint update + the gateway's longest request) and a margin, before SIGKILL.
    terminationGracePeriodSeconds: ENDPOINT_DRAIN_S + timeoutS + 10,
    // Nothing in the pod talks to the API server, and service links would add variables to the model's environment.
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    ...spotPlacement(environment),
  }
}

/**
 * compute as resources: cpu and memory as requests and equal limits (what
 * `mlserve tune` measured is a replica with that much CPU; equal limits give
 * the container the Guaranteed class's treatment, and whole CPUs exclusive
 * cores under the static CPU manager), GPUs as nvidia.com/gpu.
 */
export function modelResources(api: Pick<RealtimeApiConfig, 'compute'>): {requests?: Record<string, string>; limits?: Record<string, string>} {
  const quantities: Record<string, string> = {}
  if (api.compute.cpu !== null) quantities.cpu = `${parseCpuMillicores(api.compute.cpu)}m`
  if (api.compute.mem !== null) quantities.memory = memoryQuantity(api.compute.mem)
  if (api.compute.gpu > 0) quantities['nvidia.com/gpu'] = String(api.compute.gpu)
  if (Object.keys(quantities).length === 0) return {}
  return {requests: {...quantities}, limits: {...quantities}}
}

/** A memory size as a Kubernetes quantity: as written when Kubernetes reads it the same way (512Mi, 2G), else in bytes. */
export function memoryQuantity(value: string | number): string {
  const text = String(value)
  return /^[0-9]+(?:\.[0-9]+)?(?:Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/.test(text) ? text : String(parseMemoryBytes(value))
}

/** Cortex's update_strategy values: a bare number is a count (an int), a percentage stays a string. */
function intOrPercent(value: string): number | string {
  return /^[0-9]+$/.test(value) ? Number(value) : value
}

/**
 * Spot placement: a preference (not a requirement) for nodes with the label,
 * and a toleration of the taint spot nodes usually carry under the same key
 * and value, so pods go to spot nodes when there are some and to on-demand
 * nodes (without the label) otherwise.
 */
export function spotPlacement(environment: Pick<Environment, 'spotLabel'>): Pick<IPodSpec, 'affinity' | 'tolerations'> {
  const label = environment.spotLabel
  if (!label) return {}
  const toleration: IToleration = {key: label.key, operator: 'Equal', value: label.value}
  return {
    affinity: {
      nodeAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [{weight: 100, preference: {matchExpressions: [{key: label.key, operator: 'In', values: [label.value]}]}}],
      },
    },
    tolerations: [toleration],
  }
}

interface RouteInput {
  project: string
  namespace: string
  splitter: TrafficSplitterConfig
  options: ManifestOptions
  log: (line: string) => void
}

/**
 * A TrafficSplitter as an HTTPRoute: its endpoint (a path prefix) to each
 * API's Service with the API's weight, and a RequestMirror filter to the
 * shadow API's Service. Gateway API v1.0 mirrors every request; a
 * shadow_percent below 100 cannot be carried, and is said so.
 */
function httpRoute(input: RouteInput): HTTPRoute {
  const {splitter, namespace} = input
  const parent = input.options.gatewayRef ?? MANIFEST_DEFAULTS.gatewayRef
  const primaries = splitter.apis.filter((entry) => !entry.shadow)
  const shadow = splitter.apis.find((entry) => entry.shadow)
  if (shadow) {
    const percent = shadow.shadow_percent ?? (shadow.weight > 0 ? shadow.weight : 100)
    if (percent < 100) input.log(`${splitter.name}: the HTTPRoute mirrors every request to ${shadow.name} (Gateway API v1.0 has no mirror percentage; ${percent}% asked)`)
  }
  return new HTTPRoute({
    metadata: {name: dnsLabel(splitter.name), namespace, labels: objectLabels(input.project, splitter.name, 'traffic-splitter')},
    spec: {
      parentRefs: [{name: parent.name, ...(parent.namespace ? {namespace: parent.namespace} : {})}],
      rules: [
        {
          matches: [{path: {type: 'PathPrefix', value: splitter.networking.endpoint}}],
          backendRefs: primaries.map((entry) => ({name: dnsLabel(entry.name), port: SERVICE_PORT, weight: entry.weight})),
          ...(shadow ? {filters: [{type: 'RequestMirror' as const, requestMirror: {backendRef: {name: dnsLabel(shadow.name), port: SERVICE_PORT}}}]} : {}),
        },
      ],
    },
  })
}

/** The version part of an image reference (REPO:VERSION), for the version label. */
function imageVersion(image: string): string | undefined {
  const at = image.indexOf('@')
  if (at >= 0) return undefined
  const slash = image.lastIndexOf('/')
  const colon = image.lastIndexOf(':')
  return colon > slash ? image.slice(colon + 1) : undefined
}
