// Pushes a local image to a registry through the engine (dockerode): tag it
// REGISTRY/REPO:TAG, push with the credentials, read the progress stream
// layer by layer, and retry transient failures (a registry that was down or
// cut the connection, a 5xx) with exponential backoff. Each attempt is a
// whole `docker push` again; the registry keeps what earlier attempts sent,
// so those layers come back "already exists" and are not sent twice. Then
// the pushed manifest is read from the registry for the layers' sizes.
import type Docker from 'dockerode'
import {engineMessage, lookupImage} from '../docker/index.js'
import {registryHost} from '../environments/index.js'
import {mlserveError} from '../errors.js'
import {accountBytes} from './accounting.js'
import {findRegistryAuth, SOURCE_NAMES, type RegistryAuth} from './credentials.js'
import {classifyFailure, isRetryable} from './failures.js'
import {fetchManifest} from './manifest.js'
import {PushTracker, type EngineEvent, type PushProgress} from './progress.js'

export interface PushResult {
  /** REGISTRY/REPO:TAG */
  reference: string
  /** sha256:… of the pushed manifest */
  digest: string
  /** REGISTRY/REPO@sha256:… */
  pinned: string
  /** Bytes of the layers this push sent (compressed, from the manifest; see `sizes`). */
  bytesSent: number
  /** Bytes of the layers the registry already had. */
  bytesPresent: number
  layers: Array<{id: string; status: 'pushed' | 'present'; bytes: number}>
  /** How many pushes it took (1 when nothing failed). */
  attempts: number
  /** Where layer sizes came from: the pushed manifest (compressed bytes), or the engine's progress (uncompressed, sent layers only) when the manifest could not be read. */
  sizes: 'manifest' | 'engine-progress'
  /** The local image that was pushed, as given. */
  image: string
}

export interface RetryPolicy {
  /** Pushes in all, the first included. */
  attempts: number
  /** The wait before the second attempt; doubled before each next one. */
  baseDelayMs: number
}

/** 4 attempts, 1 s, 2 s then 4 s apart. */
export const DEFAULT_RETRY: RetryPolicy = {attempts: 4, baseDelayMs: 1000}

export interface PushOptions {
  docker: Docker
  /** A local tag or id. */
  image: string
  /** HOST[:PORT][/NAMESPACE] */
  registry: string
  /** The repository under the registry, such as the API's name. */
  repo: string
  tag: string
  auth: RegistryAuth | null
  onProgress?: (event: PushProgress) => void
  retry?: RetryPolicy
}

/** Tags `image` (a local tag or id) as REGISTRY/REPO:TAG and pushes it through dockerode, with per-layer progress and retries of transient failures. */
export async function pushImage(options: PushOptions): Promise<PushResult> {
  const {docker, registry, repo, tag, auth} = options
  const retry = options.retry ?? DEFAULT_RETRY
  const target = `${registry}/${repo}`
  const reference = `${target}:${tag}`
  const info = await lookupImage(docker, options.image)
  // A tag this push made is taken off again when the push fails, so a failed push leaves the engine as it was.
  const tagExisted = await docker.getImage(reference).inspect().then(() => true, () => false)
  await docker.getImage(options.image).tag({repo: target, tag})
  try {
    return await pushTagged(options, info, retry)
  } catch (error) {
    if (!tagExisted) await docker.getImage(reference).remove({noprune: true}).catch(() => undefined)
    throw error
  }
}

async function pushTagged(options: PushOptions, info: Docker.ImageInspectInfo, retry: RetryPolicy): Promise<PushResult> {
  const {docker, registry, repo, tag, auth} = options
  const target = `${registry}/${repo}`
  const reference = `${target}:${tag}`

  const tracker = new PushTracker()
  let attempt = 0
  for (;;) {
    attempt++
    tracker.startAttempt()
    let failure: string | null
    try {
      const stream = await docker.getImage(target).push({tag, ...(auth ? {authconfig: auth} : {})})
      await new Promise<void>((resolve, reject) => {
        docker.modem.followProgress(
          stream,
          (error) => (error ? reject(error) : resolve()),
          (event: EngineEvent) => {
            const progress = tracker.apply(event)
            if (progress) options.onProgress?.(progress)
          },
        )
      })
      failure = tracker.error ?? (tracker.digest ? null : 'the engine ended the push without a digest')
    } catch (error) {
      failure = engineMessage(error)
    }
    if (failure === null) break
    const kind = classifyFailure(failure)
    if (kind === 'auth') {
      const found = auth ? findRegistryAuth(registry) : null
      const source = found && found.auth.username === auth?.username && found.auth.password === auth.password ? SOURCE_NAMES[found.source] : 'the credentials given'
      throw mlserveError('MLS_REGISTRY_AUTH_FAILED', {registry: registryHost(registry), username: auth?.username ?? null, source, detail: failure})
    }
    if (isRetryable(kind) && attempt < retry.attempts) {
      const delayMs = retry.baseDelayMs * 2 ** (attempt - 1)
      options.onProgress?.({type: 'retry', attempt, attempts: retry.attempts, delayMs, reason: failure})
      await new Promise((resolve) => setTimeout(resolve, delayMs))
      continue
    }
    if (kind === 'unreachable') throw mlserveError('MLS_REGISTRY_UNREACHABLE', {registry: registryHost(registry), detail: `${failure} (${attempt} attempt${attempt === 1 ? '' : 's'})`})
    throw mlserveError('MLS_PUSH_FAILED', {reference, attempts: attempt, detail: failure})
  }

  const digest = tracker.digest as string
  // The repository's path on the registry: the registry's namespace, if any, then the repo.
  const path = target.slice(registryHost(registry).length + 1)
  const manifest = await fetchManifest(registry, path, tag, auth).catch(() => null)
  const account = accountBytes(tracker.layers, info.RootFS?.Layers ?? [], manifest ? manifest.layers.map((l) => l.size) : null)
  return {
    reference,
    digest,
    pinned: `${target}@${digest}`,
    bytesSent: account.bytesSent,
    bytesPresent: account.bytesPresent,
    layers: account.layers,
    attempts: attempt,
    sizes: account.sizes,
    image: options.image,
  }
}
