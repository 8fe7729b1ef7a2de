// Applying the objects to a cluster with the official client
// (@kubernetes/client-node): every object is first sent as a server-side
// dry run (server-side apply, dryRun=All), so the API server's admission and
// schemas judge the whole set before any of it changes; only then is each
// applied for real, in order. Status per object: created (it was not there),
// configured (its resourceVersion moved), unchanged (it did not).
import {existsSync} from 'node:fs'
import {homedir} from 'node:os'
import {delimiter, join} from 'node:path'
import type {KubeConfig, KubernetesObject, KubernetesObjectApi} from '@kubernetes/client-node'
import {mlserveError} from '../errors.js'
import type {Environment} from '../environments/index.js'
import type {KubernetesManifest} from './manifests.js'
import {FIELD_MANAGER} from './names.js'
import {objectName} from './validate.js'

export type ApplyStatus = 'created' | 'configured' | 'unchanged'

export interface AppliedObject {
  kind: string
  name: string
  status: ApplyStatus
}

/** The kubeconfig an environment uses: its own, else the first of $KUBECONFIG, else ~/.kube/config. */
export function kubeconfigPath(environment: Pick<Environment, 'kubeconfig'>, env: NodeJS.ProcessEnv = process.env): string {
  if (environment.kubeconfig) return environment.kubeconfig
  const fromEnv = (env.KUBECONFIG ?? '').split(delimiter).find((entry) => entry !== '')
  return fromEnv ?? join(homedir(), '.kube', 'config')
}

/** The environment's kubeconfig, loaded, at its context. */
export async function loadKubeConfig(environment: Pick<Environment, 'kubeconfig' | 'context'>): Promise<KubeConfig> {
  const file = kubeconfigPath(environment)
  if (!existsSync(file)) throw mlserveError('MLS_K8S_NO_KUBECONFIG', {file, reason: 'the file does not exist'})
  const {KubeConfig} = await import('@kubernetes/client-node')
  const config = new KubeConfig()
  try {
    config.loadFromFile(file)
  } catch (error) {
    throw mlserveError('MLS_K8S_NO_KUBECONFIG', {file, reason: (error as Error).message}, {cause: error})
  }
  if (environment.context) {
    const names = config.getContexts().map((context) => context.name)
    if (!names.includes(environment.context)) throw mlserveError('MLS_K8S_CONTEXT_NOT_FOUND', {context: environment.context, file, available: names})
    config.setCurrentContext(environment.context)
  }
  if (!config.getCurrentCluster()) throw mlserveError('MLS_K8S_NO_KUBECONFIG', {file, reason: `its context "${config.getCurrentContext() || '(none)'}" names no cluster`})
  return config
}

export interface ApplyOptions {
  log: (line: string) => void
}

/**
 * Dry-runs every object on the server, then applies each. A rejection in the
 * dry run stops before anything is applied; one in the apply stops there
 * (the objects before it are applied) and says which.
 */
export async function applyManifests(objects: KubernetesManifest[], environment: Pick<Environment, 'kubeconfig' | 'context'>, options: ApplyOptions): Promise<AppliedObject[]> {
  const config = await loadKubeConfig(environment)
  const server = config.getCurrentCluster()?.server ?? '(unknown server)'
  const {KubernetesObjectApi} = await import('@kubernetes/client-node')
  const client = KubernetesObjectApi.makeApiClient(config)
  const bodies = objects.map((object) => object.toJSON() as KubernetesObject)

  options.log(`server-side dry run of ${bodies.length} objects on ${server}`)
  const before: Array<KubernetesObject | null> = []
  for (const body of bodies) {
    before.push(await current(client, body, server))
    await serverSideApply(client, body, {dryRun: true, server})
  }

  const applied: AppliedObject[] = []
  for (const [index, body] of bodies.entries()) {
    const result = await serverSideApply(client, body, {dryRun: false, server})
    const previous = before[index]
    const status: ApplyStatus = previous === null ? 'created' : previous.metadata?.resourceVersion === result.metadata?.resourceVersion ? 'unchanged' : 'configured'
    applied.push({kind: body.kind ?? '?', name: body.metadata?.name ?? '?', status})
    options.log(`${objectName(body)}: ${status}`)
  }
  return applied
}

/** The object as the cluster has it now, or null when it is not there. */
async function current(client: KubernetesObjectApi, body: KubernetesObject, server: string): Promise<KubernetesObject | null> {
  try {
    return await client.read({apiVersion: body.apiVersion!, kind: body.kind!, metadata: {name: body.metadata!.name!, namespace: body.metadata?.namespace}})
  } catch (error) {
    if (statusCode(error) === 404 && !isDiscoveryFailure(error)) return null
    throw classify(error, body, 'server-side dry run', server)
  }
}

async function serverSideApply(client: KubernetesObjectApi, body: KubernetesObject, options: {dryRun: boolean; server: string}): Promise<KubernetesObject> {
  const {PatchStrategy} = await import('@kubernetes/client-node')
  try {
    // force: mlserve owns these objects' fields; another manager's value (an earlier kubectl edit) is taken over, as `kubectl apply --server-side --force-conflicts` does.
    return await client.patch(body, undefined, options.dryRun ? 'All' : undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply)
  } catch (error) {
    throw classify(error, body, options.dryRun ? 'server-side dry run' : 'apply', options.server)
  }
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'])

function statusCode(error: unknown): number | undefined {
  const code = (error as {code?: unknown}).code
  return typeof code === 'number' ? code : undefined
}

/** A 404 on the API group's discovery (the kind's group is not served), not on the object itself. */
function isDiscoveryFailure(error: unknown): boolean {
  return (error as Error).message?.startsWith('Failed to fetch resource metadata') ?? false
}

/** An error from the client as mlserve's: the server unreachable, or the object rejected (with the server's own message). */
function classify(error: unknown, body: KubernetesObject, stage: string, server: string): Error {
  const object = objectName(body)
  const code = statusCode(error)
  if (code !== undefined) {
    const answer = (error as {body?: unknown}).body
    const parsed = typeof answer === 'string' ? safeJson(answer) : answer
    const serverMessage = (parsed as {message?: unknown} | null)?.message
    const reason = isDiscoveryFailure(error)
      ? `the cluster does not serve ${body.apiVersion} (HTTP ${code}); ${groupHint(body.apiVersion ?? '')}`
      : typeof serverMessage === 'string'
        ? `HTTP ${code}: ${serverMessage}`
        : `HTTP ${code}`
    return mlserveError('MLS_K8S_REJECTED', {object, stage, reason}, {cause: error})
  }
  const network = networkCode(error)
  if (network) return mlserveError('MLS_K8S_UNREACHABLE', {server, reason: `${network} (${(error as Error).message})`}, {cause: error})
  const message = (error as Error).message ?? String(error)
  if (message.startsWith('Unrecognized API version and kind')) {
    return mlserveError('MLS_K8S_REJECTED', {object, stage, reason: `the cluster has no kind ${body.kind} in ${body.apiVersion}; ${groupHint(body.apiVersion ?? '')}`}, {cause: error})
  }
  return mlserveError('MLS_K8S_UNREACHABLE', {server, reason: message}, {cause: error})
}

function networkCode(error: unknown): string | undefined {
  for (let current: unknown = error, depth = 0; current && depth < 4; current = (current as {cause?: unknown}).cause, depth++) {
    const code = (current as {code?: unknown}).code
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code
    const errno = (current as {errno?: unknown}).errno
    if (typeof errno === 'string' && NETWORK_CODES.has(errno)) return errno
  }
  return undefined
}

function groupHint(apiVersion: string): string {
  if (apiVersion.startsWith('keda.sh/')) return 'is KEDA installed?'
  if (apiVersion.startsWith('gateway.networking.k8s.io/')) return 'are the Gateway API CRDs installed?'
  return 'check the cluster version'
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return {message: text}
  }
}
