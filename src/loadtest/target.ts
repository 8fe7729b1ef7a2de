// Targets: an API of a project started with exactly one replica behind the
// gateway (as Cortex advises for load tests: min = max = 1), and the
// reachability check made before any load is sent.
import {request as httpRequest} from 'undici'
import {selectApi, type ConfigWarning, type Project} from '../config/index.js'
import {mlserveError} from '../errors.js'
import {startReplicaUnderTest} from '../runtime/index.js'
import {bodyAt} from './request.js'
import type {RequestSource} from './types.js'

export interface ApiTarget {
  /** The API's endpoint on the gateway. */
  url: string
  api: string
  /** The config file the API came from. */
  file: string
  warnings: ConfigWarning[]
  /** The API's autoscaling.max_replica_concurrency: a closed loop with more connections is partly shed. */
  maxReplicaConcurrency: number
  /** Stops the replica and the gateway at once (or after draining, with drain true), leaving nothing running. */
  stop: (options?: {drain?: boolean}) => Promise<void>
}

export interface ApiTargetOptions {
  /** The project, as the command loaded it. */
  project: Project
  /** Optional when the project has one RealtimeAPI. */
  api?: string
  readinessTimeoutMs?: number
  /** The gateway's end-to-end limit per request (default the runtime's, 60 s). */
  timeoutMs?: number
  /** Replica output and lifecycle lines. */
  log: (line: string) => void
}

/**
 * Starts one replica of the API and a gateway on a free loopback port;
 * resolves once the replica is ready. The gateway runs on a thread of its own,
 * so the load generator on this thread measures the replica, not a gateway
 * competing with it for one event loop.
 */
export async function startApiTarget(options: ApiTargetOptions): Promise<ApiTarget> {
  const {project} = options
  const api = selectApi(project, options.api)
  const replica = await startReplicaUnderTest(project, {
    api: api.name,
    readinessTimeoutMs: options.readinessTimeoutMs,
    timeoutMs: options.timeoutMs,
    log: options.log,
  })
  return {
    url: replica.url,
    api: api.name,
    file: project.file,
    warnings: project.warnings,
    maxReplicaConcurrency: api.autoscaling.max_replica_concurrency,
    stop: (stopOptions) => replica.stop({drain: false, ...stopOptions}),
  }
}

/**
 * Sends one request as the load test will, and fails with
 * MLS_LOADTEST_UNREACHABLE when no HTTP answer comes back. Any status counts
 * as reachable: error statuses are for the load test to measure.
 */
export async function probeTarget(url: string, source: RequestSource, timeoutMs: number): Promise<{status: number}> {
  try {
    const response = await httpRequest(url, {
      method: source.method as 'GET',
      headers: source.headers,
      body: bodyAt(source, 0),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    })
    await response.body.dump()
    return {status: response.statusCode}
  } catch (error) {
    const e = error as NodeJS.ErrnoException
    throw mlserveError('MLS_LOADTEST_UNREACHABLE', {url, detail: e.code ? `${e.code} (${e.message})` : e.message}, {cause: error})
  }
}
