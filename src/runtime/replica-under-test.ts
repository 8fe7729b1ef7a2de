// The one replica that `loadtest --api` and `tune` measure: a single replica of
// one API behind a gateway on a free loopback port, on a worker thread of its
// own (so a load generator on the main thread measures the replica, not a
// gateway fighting it for one event loop), with the replica's memory and CPU
// figures for either driver.
import type {Project} from '../config/index.js'
import {replicaCpuSeconds} from './cpu.js'
import {replicaMemory, type ReplicaMemory} from './memory.js'
import {planRuntime, runtimeDefaults, type ConcurrencyOverrides} from './plan.js'
import type {RuntimeStatus} from './runtime.js'
import {startRuntimeThread} from './thread-host.js'

export interface ReplicaUnderTestOptions {
  api: string
  /** Processes, threads or max_replica_concurrency other than the config's (tuning's candidates). */
  overrides?: ConcurrencyOverrides
  /** The gateway's limit per request (default the runtime's, 60 s). */
  timeoutMs?: number
  readinessTimeoutMs?: number
  driver?: 'process' | 'docker'
  /** The image (docker driver); default the API's newest build. */
  image?: string
  /** CPUs the replica runs on, of its own (affinity; a container's cpuset); default unpinned. See splitCpus. */
  cpus?: number[]
  /** Replica output and lifecycle lines. */
  log: (line: string) => void
}

export interface ReplicaUnderTest {
  api: string
  /** The API's endpoint on the gateway. */
  url: string
  status(): Promise<RuntimeStatus>
  /** Memory of the replica's processes now (PSS); null where /proc can't tell. */
  memory(): Promise<ReplicaMemory | null>
  /** CPU seconds the replica's live processes have used so far; null where /proc can't tell. */
  cpuSeconds(): Promise<number | null>
  /** Stops the replica and the gateway, leaving nothing running; drain false stops at once. */
  stop(options?: {drain?: boolean}): Promise<void>
}

export async function startReplicaUnderTest(project: Project, options: ReplicaUnderTestOptions): Promise<ReplicaUnderTest> {
  const plan = await planRuntime(project, {
    ...runtimeDefaults,
    port: 0,
    replicas: 1,
    apis: [options.api],
    announce: false,
    accessLog: false,
    timeoutMs: options.timeoutMs ?? runtimeDefaults.timeoutMs,
    readinessTimeoutMs: options.readinessTimeoutMs ?? runtimeDefaults.readinessTimeoutMs,
    overrides: options.overrides,
    driver: options.driver,
    image: options.image,
    replicaCpus: options.cpus,
    log: options.log,
  })
  const runtime = await startRuntimeThread(plan, options.log)
  const pid = async (): Promise<number | null> => (await runtime.status()).apis[0].replicas[0].pid
  return {
    api: options.api,
    url: runtime.endpoints[options.api],
    status: () => runtime.status(),
    memory: async () => {
      const leader = await pid()
      return leader ? replicaMemory(leader) : null
    },
    cpuSeconds: async () => {
      const leader = await pid()
      return leader ? replicaCpuSeconds(leader) : null
    },
    stop: (stopOptions) => runtime.stop(stopOptions),
  }
}
