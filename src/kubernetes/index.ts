// Kubernetes output for `mlserve deploy` to an environment of engine
// kubernetes: the objects (manifests.ts), validated offline against their
// schemas (validate.ts), then written as YAML (--dry-run) or applied with the
// official client after a server-side dry run (apply.ts). No Docker and no
// cluster is needed for a dry run.
import {readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import type {Project} from '../config/index.js'
import type {Environment} from '../environments/index.js'
import {mlserveError} from '../errors.js'
import {gitVersion} from '../image/index.js'
import {servedApis} from '../config/index.js'
import {applyManifests} from './apply.js'
import type {Autoscaler} from './autoscaling.js'
import {kubernetesManifests, MANIFEST_DEFAULTS, type KubernetesManifest, type ManifestImages, type ManifestOptions} from './manifests.js'
import {manifestsYaml, writeManifestFiles} from './output.js'
import {objectName, validateManifests} from './validate.js'

export {applyManifests, kubeconfigPath, loadKubeConfig, type AppliedObject, type ApplyStatus} from './apply.js'
export {horizontalPodAutoscaler, inFlightQuery, scaledObject, scalingBehavior, type Autoscaler} from './autoscaling.js'
export {kubernetesManifests, MANIFEST_DEFAULTS, sidecarPlan, spotPlacement, type KubernetesManifest, type ManifestImages, type ManifestOptions} from './manifests.js'
export {manifestFileName, manifestsYaml, writeManifestFiles} from './output.js'
export {pathOf, validateManifest, validateManifests} from './validate.js'

export interface KubernetesDeployOptions {
  /** Write (or return) the YAML instead of applying it. */
  dryRun: boolean
  /** A directory for one YAML file per object; without it a dry run returns the multi-document YAML. */
  out?: string
  /** The gateway sidecar's image (default $MLSERVE_K8S_GATEWAY_IMAGE, else gatewayImageDefault, see below). */
  gatewayImage?: string
  /** KEDA ScaledObject or HPA v2 (default $MLSERVE_K8S_AUTOSCALER, else keda). */
  autoscaler?: Autoscaler
  /** Where KEDA's trigger queries Prometheus (default $MLSERVE_K8S_PROMETHEUS_URL, else MANIFEST_DEFAULTS.prometheusUrl). */
  prometheusUrl?: string
  /** The Gateway a TrafficSplitter's HTTPRoute attaches to (default $MLSERVE_K8S_GATEWAY as [NAMESPACE/]NAME, else "mlserve" in the namespace). */
  gatewayRef?: {name: string; namespace?: string}
  log: (line: string) => void
}

export interface KubernetesDeployResult {
  objects: Array<{kind: string; name: string; file?: string; status?: string}>
  /** The multi-document YAML, for a dry run without --out. */
  yaml?: string
  applied: boolean
}

/** The objects for the project in the environment: made, validated, then written, returned or applied. */
export async function deployKubernetes(project: Project, environment: Environment, options: KubernetesDeployOptions): Promise<KubernetesDeployResult> {
  const images = await deployImages(project, environment, options.gatewayImage)
  const manifestOptions = resolveManifestOptions(options)
  const objects = await kubernetesManifests(project, environment, images, manifestOptions)
  validateManifests(objects)
  options.log(`${objects.length} Kubernetes objects for namespace ${environment.namespace}, each valid against its schema`)
  const rows = objects.map((object) => ({kind: object.kind, name: object.metadata?.name ?? ''}))

  let files: string[] | undefined
  if (options.out) {
    files = writeManifestFiles(options.out, objects)
    options.log(`wrote ${files.length} files to ${options.out}`)
  }
  if (options.dryRun) {
    return {
      objects: rows.map((row, index) => (files ? {...row, file: files[index]} : row)),
      ...(files ? {} : {yaml: manifestsYaml(objects)}),
      applied: false,
    }
  }
  const applied = await applyManifests(objects, environment, {log: options.log})
  return {
    objects: rows.map((row, index) => ({...row, ...(files ? {file: files[index]} : {}), status: applied[index].status})),
    applied: true,
  }
}

/**
 * The images the pods run: each API's REGISTRY/API:VERSION as `mlserve push`
 * tags it (the version from git, as `mlserve build` tags it), and the
 * gateway's. A dry run needs neither Docker nor the registry.
 */
export async function deployImages(project: Project, environment: Pick<Environment, 'registry'>, gatewayImage?: string): Promise<ManifestImages> {
  const git = await gitVersion(project.dir)
  if (!git) throw mlserveError('MLS_K8S_NO_IMAGE_VERSION', {dir: project.dir})
  const prefix = environment.registry ? `${environment.registry}/` : ''
  const apis: Record<string, string> = {}
  for (const api of servedApis(project)) apis[api.name] = `${prefix}${api.name}:${git.version}`
  return {apis, gateway: gatewayImage ?? (process.env.MLSERVE_K8S_GATEWAY_IMAGE || gatewayImageDefault(environment))}
}

/**
 * The gateway image when neither the option nor $MLSERVE_K8S_GATEWAY_IMAGE
 * names one: REGISTRY/mlserve-gateway:MLSERVE_VERSION.
 * The Swarm deploy's tag (mlserve-gateway:VERSION-HASH) hashes the base
 * image's id, which needs Docker; a dry run does not ask it, so tag and push
 * the gateway image under this name, or pass the exact one.
 */
export function gatewayImageDefault(environment: Pick<Environment, 'registry'>): string {
  const manifest = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as {version: string}
  return `${environment.registry ? `${environment.registry}/` : ''}mlserve-gateway:${manifest.version}`
}

/** The manifest options: the call's, else the MLSERVE_K8S_* variables, else the defaults. */
export function resolveManifestOptions(
  options: Pick<KubernetesDeployOptions, 'autoscaler' | 'prometheusUrl' | 'gatewayRef' | 'log'>,
  env: NodeJS.ProcessEnv = process.env,
): ManifestOptions {
  const autoscalerText = env.MLSERVE_K8S_AUTOSCALER
  if (autoscalerText !== undefined && autoscalerText !== 'keda' && autoscalerText !== 'hpa') {
    throw mlserveError('MLS_K8S_SETTING_INVALID', {name: 'MLSERVE_K8S_AUTOSCALER', value: autoscalerText, expected: 'keda or hpa'})
  }
  const gatewayText = env.MLSERVE_K8S_GATEWAY
  let gatewayRef = options.gatewayRef
  if (!gatewayRef && gatewayText) {
    const parts = gatewayText.split('/')
    const label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
    if (parts.length > 2 || !parts.every((part) => label.test(part))) {
      throw mlserveError('MLS_K8S_SETTING_INVALID', {name: 'MLSERVE_K8S_GATEWAY', value: gatewayText, expected: 'NAME or NAMESPACE/NAME (DNS labels)'})
    }
    gatewayRef = parts.length === 2 ? {namespace: parts[0], name: parts[1]} : {name: parts[0]}
  }
  return {
    autoscaler: options.autoscaler ?? (autoscalerText as Autoscaler | undefined) ?? MANIFEST_DEFAULTS.autoscaler,
    prometheusUrl: options.prometheusUrl ?? env.MLSERVE_K8S_PROMETHEUS_URL ?? MANIFEST_DEFAULTS.prometheusUrl,
    gatewayRef: gatewayRef ?? MANIFEST_DEFAULTS.gatewayRef,
    log: options.log,
  }
}

/** "Deployment iris" for each object: what a report lists. */
export function describeObjects(objects: KubernetesManifest[]): string[] {
  return objects.map(objectName)
}
