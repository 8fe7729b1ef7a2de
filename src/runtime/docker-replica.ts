// The docker driver: a replica is a container from the image `mlserve build`
// made, published on a loopback port the engine picks. It behaves like the
// process driver: ready once GET /healthz answers 200, fails fast (with the
// container's logs) when the container exits before that, is taken out of
// routing, removed and replaced with backoff when it dies later, and is
// stopped with SIGTERM (the harness drains), then removed.
//
// No container outlives mlserve for long: each holds its standard input open
// to our attach connection, so when mlserve dies the harness sees end of file
// and stops; what is left is swept by the next `mlserve run --driver docker`
// (see sweepStaleContainers).
import {dirname} from 'node:path'
import {PassThrough} from 'node:stream'
import {createInterface} from 'node:readline'
import {randomBytes} from 'node:crypto'
import type Docker from 'dockerode'
import {servedApis, type Project} from '../config/index.js'
import {mlserveError, type MlserveError} from '../errors.js'
import {
  checkGpuSupport,
  containerLimits,
  demuxLogs,
  dockerClient,
  engineMessage,
  gpuDeviceRequests,
  LABELS,
  lookupImage,
  newestImageOf,
  ownerLabels,
  pingDocker,
  removeContainer,
  sweepStaleContainers,
  type ContainerLimits,
} from '../docker/index.js'
import {formatCpuList} from './cpus.js'
import {CONTAINER_PORT, HARNESS_IN_IMAGE, containerEnv, eventOfLine} from './harness/index.js'
import {checkReadiness} from './readiness-check.js'
import {replicaId, type Replica, type ReplicaSpec, type ReplicaStatus} from './replica.js'
import {ReplicaBase} from './replica-base.js'

/** Seconds between SIGTERM (the harness drains) and SIGKILL on stop. */
const STOP_GRACE_S = 15
const LOG_TAIL_LINES = 60
const DETAIL_LINES = 30
const PORT_KEY = `${CONTAINER_PORT}/tcp`

export interface DockerReplicaOptions {
  docker: Docker
  image: string
  /** compute.cpu / compute.mem / compute.shm of the replica's API, as engine limits. */
  limits: ContainerLimits
  /** Receives each line the container prints, already prefixed with the replica id, and lifecycle lines. */
  log: (line: string) => void
}

/** A name no other container has: mlserve-API-INDEX-PID-RANDOM. */
export function containerName(spec: Pick<ReplicaSpec, 'api' | 'index'>, pid = process.pid): string {
  return `mlserve-${spec.api}-${spec.index}-${pid}-${randomBytes(3).toString('hex')}`
}

/** What the engine is asked to create for one replica (a pure function, so tests can check its shape). */
export function containerCreateOptions(
  spec: ReplicaSpec,
  options: {image: string; name: string; limits: ContainerLimits; labels?: Record<string, string>},
): Docker.ContainerCreateOptions {
  const env = {
    ...containerEnv(spec),
    // The harness stops when its standard input (our attach connection) closes: mlserve's lifeline.
    MLSERVE_WATCH_STDIN: '1',
    // Its events (a worker down, back, restarted) come on standard error, marked; there is no fd 3.
    MLSERVE_EVENTS_FD: '2',
  }
  const deviceRequests = gpuDeviceRequests(spec.gpus)
  return {
    name: options.name,
    Image: options.image,
    Env: Object.entries(env).map(([key, value]) => `${key}=${value}`),
    Labels: {
      ...(options.labels ?? ownerLabels()),
      [LABELS.api]: spec.api,
      [LABELS.replica]: String(spec.index),
    },
    ExposedPorts: {[PORT_KEY]: {}},
    Tty: false,
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: {
      // Loopback only, on a port the engine picks; the gateway is the one public door.
      PortBindings: {[PORT_KEY]: [{HostIp: '127.0.0.1', HostPort: ''}]},
      RestartPolicy: {Name: 'no'},
      ...options.limits,
      // The replica's own CPUs, as the process driver pins them; NanoCpus (compute.cpu) still caps its share.
      ...(spec.cpus && spec.cpus.length > 0 ? {CpusetCpus: formatCpuList(spec.cpus)} : {}),
      ...(deviceRequests ? {DeviceRequests: deviceRequests} : {}),
    },
  }
}

interface ExitInfo {
  code: number | null
  error?: Error
}

export class DockerReplica extends ReplicaBase implements Replica {
  private container: Docker.Container | null = null
  /** The container that is (or was last) ready and serving; its exit is a crash. */
  private serving: Docker.Container | null = null
  private lifeline: NodeJS.ReadWriteStream | null = null
  private hostPid: number | null = null
  private stopped: Promise<void> | null = null
  private launching: Promise<void> | null = null
  private readonly tail: string[] = []

  constructor(
    spec: ReplicaSpec,
    private readonly options: DockerReplicaOptions,
  ) {
    super(spec, options.log)
  }

  /** The current container's id, or null between containers. */
  get containerId(): string | null {
    return this.container?.id ?? null
  }

  async start(): Promise<void> {
    this.stopping = false
    this.stopped = null
    await this.launch()
  }

  stop(options: {force?: boolean} = {}): Promise<void> {
    if (options.force && this.container) {
      // Cuts a graceful stop short: the engine's SIGKILL ends the container's wait for its grace period.
      void this.container.kill().catch(() => undefined)
    }
    this.stopped ??= this.shutdown(options.force === true)
    return this.stopped
  }

  status(): ReplicaStatus {
    return {...this.baseStatus(this.hostPid), container: this.container?.id.slice(0, 12) ?? null}
  }

  private async shutdown(force: boolean): Promise<void> {
    this.beginStop()
    this.serving = null
    const container = this.container
    if (container) await this.terminate(container, force ? 0 : STOP_GRACE_S)
    // A launch in progress sees `stopping` and removes what it created.
    await this.launching?.catch(() => undefined)
    if (this.container) await this.discard(this.container)
  }

  private markServing(container: Docker.Container): void {
    this.serving = container
    this.markReady()
  }

  protected async launch(): Promise<void> {
    const attempt = this.launchOnce()
    this.launching = attempt
    try {
      await attempt
    } finally {
      if (this.launching === attempt) this.launching = null
    }
  }

  private async launchOnce(): Promise<void> {
    const {spec, options} = this
    this.tail.length = 0
    this.resetWorkers()
    let container: Docker.Container
    try {
      container = await options.docker.createContainer(
        containerCreateOptions(spec, {image: options.image, name: containerName(spec), limits: options.limits}),
      )
    } catch (error) {
      throw this.startFailed(`the engine refused to create the container: ${engineMessage(error)}`)
    }
    this.container = container
    try {
      if (this.stopping) throw this.startFailed('mlserve stopped before the replica was ready')
      const stream = await container.attach({stream: true, stdin: true, stdout: true, stderr: true, hijack: true})
      this.lifeline = stream
      this.forwardLogs(stream)
      try {
        await container.start()
      } catch (error) {
        throw this.startFailed(`the engine could not start the container: ${engineMessage(error)}`)
      }
      const exited: Promise<ExitInfo> = container.wait().then(
        (result: {StatusCode?: number}) => ({code: result.StatusCode ?? null}),
        (error: Error) => ({code: null, error}),
      )
      const seen: {exit: ExitInfo | null} = {exit: null}
      void exited.then((exit) => {
        seen.exit = exit
        this.onExit(container, exit)
      })
      const info = await container.inspect()
      const hostPort = Number(info.NetworkSettings.Ports?.[PORT_KEY]?.[0]?.HostPort)
      this.hostPid = info.State.Pid || null
      if (!Number.isInteger(hostPort) || hostPort <= 0) {
        const exit = await Promise.race([exited, new Promise<null>((resolve) => setTimeout(() => resolve(null), 2_000))])
        if (exit) throw await this.exitedBeforeReady(container, exit)
        throw this.startFailed(`the engine published no port for ${PORT_KEY}`)
      }
      this.port = hostPort
      await this.awaitReady(container, exited)
      // It may have exited just after answering; then it never counts as ready.
      if (seen.exit) throw await this.exitedBeforeReady(container, seen.exit)
      this.markServing(container)
    } catch (error) {
      this.port = null
      this.hostPid = null
      await this.discard(container).catch((removal: Error) =>
        this.log(`[${this.id}] could not remove container ${container.id.slice(0, 12)}: ${removal.message}`),
      )
      throw error
    }
  }

  /** Polls the readiness route on the published port until 2xx, the container exits, the deadline, or a stop. */
  private async awaitReady(container: Docker.Container, exited: Promise<ExitInfo>): Promise<void> {
    const {spec} = this
    const state: {exit: ExitInfo | null} = {exit: null}
    const abort = new AbortController()
    void exited.then((exit) => {
      state.exit = exit
      abort.abort()
    })
    const deadline = Date.now() + spec.readinessTimeoutMs
    const url = `${this.origin}${spec.readinessPath}`
    for (;;) {
      if (state.exit) throw await this.exitedBeforeReady(container, state.exit)
      if (this.stopping) throw this.startFailed('mlserve stopped before the replica was ready')
      if (Date.now() >= deadline) {
        this.log(`[${this.id}] not ready within ${Math.round(spec.readinessTimeoutMs / 1000)}s; removing the container`)
        throw mlserveError(
          'MLS_READINESS_TIMEOUT',
          {api: spec.api, seconds: Math.round(spec.readinessTimeoutMs / 1000)},
          {details: this.tail.slice(-DETAIL_LINES)},
        )
      }
      // Not listening yet reads as unreachable (the engine's proxy resets connections until the harness listens).
      const answer = await checkReadiness(url, Math.max(250, Math.min(2_000, deadline - Date.now())), abort.signal)
      if (typeof answer === 'number' && answer >= 200 && answer < 300) return
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }

  /** MLS_REPLICA_START_FAILED with the container's last log lines (the Python traceback) as details. */
  private async exitedBeforeReady(container: Docker.Container, exit: ExitInfo): Promise<MlserveError> {
    let lines = [...this.tail]
    try {
      const buffer = await container.logs({stdout: true, stderr: true, follow: false, tail: LOG_TAIL_LINES})
      const fromEngine = demuxLogs(Buffer.isBuffer(buffer) ? buffer : Buffer.from(String(buffer))).split('\n').filter((line) => line.length > 0)
      if (fromEngine.length > 0) lines = fromEngine
    } catch {
      // the log we streamed will do
    }
    const how = exit.error ? `the engine lost track of it: ${exit.error.message}` : describeExit(exit.code)
    const reason = exceptionLine(lines) ?? `the container exited (${how}) before it was ready`
    const stdlib = missingStandardModule(lines)
    if (stdlib !== null) {
      // Not the interpreter's fault, nor the predictor's: the image's Python is partial (python3-minimal).
      return mlserveError('MLS_IMAGE_PYTHON_INCOMPLETE', {image: this.options.image, base: null, modules: [stdlib], error: reason}, {details: lines.slice(-DETAIL_LINES)})
    }
    return mlserveError('MLS_REPLICA_START_FAILED', {api: this.spec.api, replica: this.spec.index, reason}, {details: lines.slice(-DETAIL_LINES)})
  }

  private startFailed(reason: string): MlserveError {
    return mlserveError('MLS_REPLICA_START_FAILED', {api: this.spec.api, replica: this.spec.index, reason}, {details: this.tail.slice(-DETAIL_LINES)})
  }

  /** A ready container exited (killed, crashed, OOM): out of routing, removed, and replaced after a backoff. */
  private onExit(container: Docker.Container, exit: ExitInfo): void {
    if (this.serving !== container || this.stopping) return
    this.serving = null
    this.port = null
    this.hostPid = null
    this.setUnready('exited')
    void (async () => {
      let how = exit.error ? `the engine lost track of it: ${exit.error.message}` : describeExit(exit.code)
      try {
        if ((await container.inspect()).State.OOMKilled) how += ', out of memory (compute.mem)'
      } catch {
        // already gone
      }
      await this.discard(container).catch((error: Error) => this.log(`[${this.id}] could not remove container ${container.id.slice(0, 12)}: ${error.message}`))
      if (!this.stopping) this.scheduleRestart(`container ${container.id.slice(0, 12)} exited (${how}) and was removed; a new container follows`)
    })()
  }

  /** SIGTERM through the engine (the harness drains), SIGKILL after the grace period (seconds; 0 kills at once), then removal. */
  private async terminate(container: Docker.Container, graceS = STOP_GRACE_S): Promise<void> {
    try {
      await container.stop({t: graceS})
    } catch (error) {
      const status = (error as {statusCode?: number}).statusCode
      if (status !== 304 && status !== 404) this.log(`[${this.id}] stopping container ${container.id.slice(0, 12)} failed: ${engineMessage(error)}`)
    }
    await this.discard(container)
  }

  /** Closes our attach connection and force-removes the container. */
  private async discard(container: Docker.Container): Promise<void> {
    if (this.container === container) {
      this.container = null
      const lifeline = this.lifeline
      this.lifeline = null
      ;(lifeline as unknown as {destroy?: () => void} | null)?.destroy?.()
    }
    await removeContainer(container)
  }

  private forwardLogs(stream: NodeJS.ReadWriteStream): void {
    const out = new PassThrough()
    const err = new PassThrough()
    this.options.docker.modem.demuxStream(stream, out, err)
    const finish = (): void => {
      out.end()
      err.end()
    }
    stream.on('end', finish)
    stream.on('close', finish)
    stream.on('error', finish)
    for (const part of [out, err]) {
      createInterface({input: part}).on('line', (line) => {
        const event = eventOfLine(line)
        if (event !== null) {
          this.onWorkerEvent(event)
          return
        }
        this.tail.push(line)
        if (this.tail.length > LOG_TAIL_LINES) this.tail.shift()
        this.log(`[${this.id}] ${line}`)
      })
    }
  }
}

// ---------------------------------------------------------------------------
// The driver: checks that run before anything starts, and the replica factory

/** What the plan records for the docker driver: decided before anything starts, plain data. */
export interface DockerPlan {
  /** The image each API runs, by API name. */
  images: Record<string, string>
  /** compute.cpu / compute.mem / compute.shm of each API, as engine limits. */
  limits: Record<string, ContainerLimits>
  /** How the engine passes GPUs, when an API asks for them. */
  gpuSupport: string | null
}

export interface DockerPlanOptions {
  /** One image for every API; without it, each API runs the newest image tagged NAME:*. */
  image?: string
  /** The APIs that will run. */
  apis: string[]
  log: (line: string) => void
  docker?: Docker
}

/**
 * The docker driver's part of planning, everything that can fail before a
 * container starts: the engine answers, each API's image exists, and the
 * engine can pass GPUs when an API asks for them.
 */
export async function planDocker(project: Project, options: DockerPlanOptions): Promise<DockerPlan> {
  const docker = options.docker ?? dockerClient()
  await pingDocker(docker)
  const wanted = new Set(options.apis)
  const apis = servedApis(project).filter((api) => wanted.has(api.name))
  const images: Record<string, string> = {}
  for (const api of apis) {
    // Like Cortex, which deploys the image it just built: `mlserve build` tags NAME:VERSION, so the newest NAME:* is the API's current build.
    const image = options.image || (await newestImageOf(docker, api.name))
    if (image === null) throw mlserveError('MLS_DOCKER_NO_BUILT_IMAGE', {api: api.name})
    if (!options.image) options.log(`API ${api.name} runs image ${image}, its newest build (--image picks another).`)
    images[api.name] = image
  }
  for (const image of new Set(Object.values(images))) await lookupImage(docker, image)
  const gpuApis = apis.filter((api) => (api.compute.gpu ?? 0) > 0).map((api) => api.name)
  const gpuSupport = gpuApis.length > 0 ? await checkGpuSupport(docker, gpuApis) : null
  const limits = Object.fromEntries(apis.map((api) => [api.name, containerLimits(api.compute)]))
  return {images, limits, gpuSupport}
}

/**
 * Starts the docker driver for a plan: sweeps the containers of dead mlserve
 * processes first, then returns the factory the runtime makes replicas with.
 */
export async function startDockerDriver(plan: DockerPlan, log: (line: string) => void, docker: Docker = dockerClient()): Promise<(spec: ReplicaSpec) => DockerReplica> {
  await pingDocker(docker)
  await sweepStaleContainers(docker, {log})
  return (spec) => {
    const image = plan.images[spec.api]
    if (image === undefined) throw new Error(`no image was planned for API ${spec.api}`)
    return new DockerReplica(spec, {docker, image, limits: plan.limits[spec.api] ?? {}, log})
  }
}

// ---------------------------------------------------------------------------

function describeExit(code: number | null): string {
  if (code === null) return 'unknown exit status'
  if (code === 137) return 'exit code 137: killed'
  if (code === 143) return 'exit code 143: terminated'
  if (code === 3) return 'exit code 3: the predictor failed to load'
  return `exit code ${code}`
}

/**
 * The module named by a ModuleNotFoundError that the harness or the standard
 * library itself raised (the traceback's last frame is in the harness or in
 * Python's own lib directory), not the predictor: the image's Python is
 * missing part of its standard library. Null otherwise.
 */
export function missingStandardModule(lines: string[]): string | null {
  const exception = exceptionLine(lines)
  const missing = exception === null ? null : /^ModuleNotFoundError: No module named '([^']+)'/.exec(exception)
  if (missing === null) return null
  const frame = lines.map((line) => /^\s*File "([^"]+)", line \d+/.exec(line)?.[1]).filter((file) => file !== undefined).at(-1)
  if (frame === undefined) return null
  return frame.startsWith(dirname(HARNESS_IN_IMAGE) + '/') || /^\/usr\/(local\/)?lib\/python3(\.\d+)?\//.test(frame) ? missing[1] : null
}

/** The last line that names a Python exception (`ModuleNotFoundError: No module named 'x'`), if any. */
export function exceptionLine(lines: string[]): string | null {
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i].trim()
    if (/^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)(:|$)/.test(line)) return line
  }
  return null
}
