// Names, labels and the fixed numbers of mlserve's Kubernetes objects: one
// place, so the manifests, the apply path and the tests agree on them.
import {basename} from 'node:path'
import type {Project} from '../config/index.js'

/** The port the gateway sidecar listens on in a pod (the Service targets it, never the model's). */
export const GATEWAY_PORT = 8888
/** The gateway sidecar's container port name; the Service's targetPort names it. */
export const GATEWAY_PORT_NAME = 'gateway'
/** The port the Service exposes inside the cluster. */
export const SERVICE_PORT = 80
/** Where the gateway's plan (a ConfigMap) is mounted in the sidecar. */
export const PLAN_DIR = '/etc/mlserve'
export const PLAN_FILE = 'plan.json'
/** The container names in every pod. */
export const MODEL_CONTAINER = 'api'
export const GATEWAY_CONTAINER = 'gateway'
/** The field manager of every server-side apply, so `kubectl` shows who owns each field. */
export const FIELD_MANAGER = 'mlserve'
/** The gateway's metric of requests in flight (running plus queued) per API, which autoscaling reads. */
export const IN_FLIGHT_METRIC = 'mlserve_api_in_flight'

/** A DNS-1123 label from a name (API names already are; this keeps an odd one valid). */
export function dnsLabel(name: string, max = 63): string {
  const label = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, max)
    .replace(/-+$/, '')
  return label || 'mlserve'
}

/** The project's name on the cluster: its directory's name as a DNS label (as the Swarm deploy names it). */
export function projectName(project: Pick<Project, 'dir'>): string {
  return dnsLabel(basename(project.dir), 24).replace(/^$/, 'project')
}

/** The ConfigMap holding an API's gateway plan. */
export function planConfigMapName(api: string): string {
  return `${dnsLabel(api, 55)}-gateway`
}

/** The Secret (made by the user, optional) whose `token` key the sidecars read for the control routes. */
export function tokenSecretName(project: string): string {
  return `${project}-gateway-token`
}

/** The selector of an API's pods: stable across deploys (a Deployment's selector cannot change). */
export function selectorLabels(project: string, api: string): Record<string, string> {
  return {'app.kubernetes.io/name': dnsLabel(api), 'app.kubernetes.io/part-of': project}
}

/** The recommended app.kubernetes.io labels of an object of this project. */
export function objectLabels(project: string, name: string, component: 'api' | 'traffic-splitter', version?: string): Record<string, string> {
  return {
    ...selectorLabels(project, name),
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/managed-by': 'mlserve',
    ...(version ? {'app.kubernetes.io/version': labelValue(version)} : {}),
  }
}

/** A label value: at most 63 characters of [A-Za-z0-9._-], starting and ending alphanumeric. */
function labelValue(text: string): string {
  return text
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '')
}
