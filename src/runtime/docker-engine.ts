// The Docker engine as the docker driver sees it: the client, the checks that
// run before any container starts (engine reachable, image present, GPU
// support), the labels that mark mlserve's containers as ours, and the sweep
// that removes containers left behind by an mlserve that was killed.
import {existsSync, readdirSync, readFileSync} from 'node:fs'
import {delimiter, join} from 'node:path'
import {hostname} from 'node:os'
import Docker from 'dockerode'
import {parseCpuMillicores, parseMemoryBytes, type ComputeConfig} from '../config/index.js'
import {mlserveError} from '../errors.js'
import {LABELS} from './container-contract.js'

/** Labels beyond the contract's: they tell a dead owner from a reused pid, and one machine's mlserve from another's on a shared engine. */
export const OWNER_LABELS = {
  host: 'dev.mlserve.owner-host',
  started: 'dev.mlserve.owner-started',
} as const

/** A client for the engine at $DOCKER_HOST, or the local socket (/var/run/docker.sock). */
export function dockerClient(): Docker {
  return new Docker()
}

/** Where the client connects, for messages. */
export function engineAddress(): string {
  // An empty DOCKER_HOST means the default socket, to dockerode too.
  return process.env.DOCKER_HOST || 'unix:///var/run/docker.sock'
}

/** Whether the engine is this machine's (a Unix socket), so that its files and pids are ours to look at. */
export function engineIsLocal(): boolean {
  const host = process.env.DOCKER_HOST
  return host === undefined || host === '' || host.startsWith('unix://')
}

/** Resolves when the engine answers; MLS_DOCKER_UNAVAILABLE otherwise. */
export async function pingDocker(docker: Docker): Promise<void> {
  try {
    await withTimeout(docker.ping(), 10_000, 'the engine did not answer within 10s')
  } catch (error) {
    const err = error as NodeJS.ErrnoException & {statusCode?: number}
    let detail: string
    if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') detail = `nothing is listening there (${err.code})`
    else if (err.code === 'EACCES') detail = 'permission denied on the socket (EACCES): this user may not use the Docker engine'
    else detail = err.message
    throw mlserveError('MLS_DOCKER_UNAVAILABLE', {address: engineAddress(), detail}, {cause: error})
  }
}

/** The image's inspect data; MLS_DOCKER_IMAGE_NOT_FOUND when the engine has no such image (mlserve never pulls). */
export async function inspectImage(docker: Docker, image: string): Promise<Docker.ImageInspectInfo> {
  try {
    return await docker.getImage(image).inspect()
  } catch (error) {
    if ((error as {statusCode?: number}).statusCode === 404) throw mlserveError('MLS_DOCKER_IMAGE_NOT_FOUND', {image})
    throw error
  }
}

/**
 * The newest local image tagged `repo:*`, as `repo:tag`: what \`mlserve build\`
 * made last for an API (it tags NAME:VERSION). Null when there is none.
 */
export async function newestImageOf(docker: Docker, repo: string): Promise<string | null> {
  const images = await docker.listImages({filters: JSON.stringify({reference: [repo]})})
  let newest: {tag: string; created: number} | null = null
  for (const image of images) {
    const tag = (image.RepoTags ?? []).find((t) => t.startsWith(`${repo}:`))
    if (tag && (newest === null || image.Created > newest.created)) newest = {tag, created: image.Created}
  }
  return newest?.tag ?? null
}

// ---------------------------------------------------------------------------
// GPUs

export interface DockerInfoGpu {
  Runtimes?: Record<string, unknown> | null
  CDISpecDirs?: string[] | null
}

export interface GpuProbes {
  /** nvidia-container-runtime-hook is on the engine's PATH: Docker's built-in `--gpus` support (DeviceRequests with Driver nvidia) uses it. */
  hook: boolean
  /** A CDI spec for nvidia.com/gpu exists in one of the engine's CDI spec directories. */
  cdi: boolean
}

/** How this engine passes NVIDIA GPUs to containers, or null when it cannot. */
export function gpuSupport(info: DockerInfoGpu, probes: GpuProbes): string | null {
  if (info.Runtimes && Object.hasOwn(info.Runtimes, 'nvidia')) return 'the nvidia runtime'
  if (probes.hook) return 'nvidia-container-runtime-hook (docker run --gpus)'
  if (probes.cdi && (info.CDISpecDirs?.length ?? 0) > 0) return 'CDI (nvidia.com/gpu)'
  return null
}

/** Looks on this machine for what a local engine needs for --gpus and CDI. */
export function probeGpuSupport(info: DockerInfoGpu): GpuProbes {
  if (!engineIsLocal()) return {hook: false, cdi: false}
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/bin', '/usr/local/bin', '/usr/sbin'])
  const hook = dirs.some((dir) => dir !== '' && existsSync(join(dir, 'nvidia-container-runtime-hook')))
  const cdi = (info.CDISpecDirs ?? []).some((dir) => {
    try {
      return readdirSync(dir).some((file) => /\.(ya?ml|json)$/.test(file) && readFileSync(join(dir, file), 'utf8').includes('nvidia.com/gpu'))
    } catch {
      return false
    }
  })
  return {hook, cdi}
}

/**
 * Fails with MLS_DOCKER_NO_GPU_RUNTIME when the engine cannot give containers
 * NVIDIA GPUs. MLSERVE_DOCKER_GPU_CHECK=0 skips the check, for engines set up
 * in a way it does not recognise.
 */
export async function checkGpuSupport(docker: Docker, apis: string[]): Promise<string> {
  if (process.env.MLSERVE_DOCKER_GPU_CHECK === '0') return 'not checked (MLSERVE_DOCKER_GPU_CHECK=0)'
  const info = (await docker.info()) as DockerInfoGpu
  const how = gpuSupport(info, probeGpuSupport(info))
  if (how !== null) return how
  const runtimes = Object.keys(info.Runtimes ?? {}).sort()
  throw mlserveError('MLS_DOCKER_NO_GPU_RUNTIME', {apis, address: engineAddress(), runtimes})
}

/** compute.gpu as the engine's DeviceRequests: exactly the replica's assigned GPUs, by index. */
export function gpuDeviceRequests(gpus: string[]): Docker.DeviceRequest[] | undefined {
  if (gpus.length === 0) return undefined
  return [{Driver: 'nvidia', DeviceIDs: [...gpus], Capabilities: [['gpu']]}]
}

// ---------------------------------------------------------------------------
// Resources

export interface ContainerLimits {
  /** compute.cpu, in billionths of a CPU. */
  NanoCpus?: number
  /** compute.mem, in bytes. */
  Memory?: number
  /** compute.shm: the size of /dev/shm, in bytes. */
  ShmSize?: number
}

/** compute.cpu and compute.mem as hard limits on the container (compute.shm sizes /dev/shm). */
export function containerLimits(compute: Pick<ComputeConfig, 'cpu' | 'mem'> & {shm?: ComputeConfig['shm']}): ContainerLimits {
  const limits: ContainerLimits = {}
  if (compute.cpu !== null && compute.cpu !== undefined) limits.NanoCpus = parseCpuMillicores(compute.cpu) * 1_000_000
  if (compute.mem !== null && compute.mem !== undefined) limits.Memory = parseMemoryBytes(compute.mem)
  if (compute.shm !== null && compute.shm !== undefined) limits.ShmSize = parseMemoryBytes(compute.shm)
  return limits
}

// ---------------------------------------------------------------------------
// Ownership and the sweep of stale containers

/** When a process started, in clock ticks since boot (/proc/PID/stat field 22); null where there is no /proc. */
export function processStartTicks(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may hold spaces and parentheses; the fields after its last ')' are plain.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return fields[19] ?? null
  } catch {
    return null
  }
}

/** The labels that make a container mlserve's, owned by this process. */
export function ownerLabels(pid = process.pid): Record<string, string> {
  const labels: Record<string, string> = {
    [LABELS.managed]: 'true',
    [LABELS.owner]: String(pid),
    [OWNER_LABELS.host]: hostname(),
  }
  const started = processStartTicks(pid)
  if (started !== null) labels[OWNER_LABELS.started] = started
  return labels
}

/** Whether the mlserve process that labelled a container is still running. */
export function ownerAlive(labels: Record<string, string>): boolean {
  const pid = Number(labels[LABELS.owner])
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  // The pid is alive, but it may have been reused by another process since.
  const recorded = labels[OWNER_LABELS.started]
  const started = recorded === undefined ? null : processStartTicks(pid)
  return recorded === undefined || started === null || started === recorded
}

/** mlserve's containers, running or not; only those of `ownerPid` when given. */
export async function listManagedContainers(docker: Docker, options: {ownerPid?: number} = {}): Promise<Docker.ContainerInfo[]> {
  // Only containers the driver started carry an owner: a label baked into an image never makes a hand-run container ours.
  const label = [`${LABELS.managed}=true`, options.ownerPid === undefined ? LABELS.owner : `${LABELS.owner}=${options.ownerPid}`]
  return docker.listContainers({all: true, filters: {label}})
}

/**
 * Removes the containers of mlserve processes that are no longer running
 * (killed before they could clean up), and logs what it removed. Containers
 * of a live mlserve, and those another machine's mlserve started on a shared
 * engine, are left alone. Returns the names removed.
 */
export async function sweepStaleContainers(docker: Docker, options: {log?: (line: string) => void} = {}): Promise<string[]> {
  const mine = hostname()
  const stale = (await listManagedContainers(docker)).filter((container) => {
    const labels = container.Labels ?? {}
    const host = labels[OWNER_LABELS.host]
    if (host !== undefined && host !== mine) return false
    return !ownerAlive(labels)
  })
  if (stale.length === 0) return []
  const names = stale.map((container) => (container.Names?.[0] ?? container.Id.slice(0, 12)).replace(/^\//, ''))
  await Promise.all(stale.map((container) => removeContainer(docker.getContainer(container.Id))))
  const owners = [...new Set(stale.map((container) => container.Labels?.[LABELS.owner] ?? '?'))]
  options.log?.(
    `Removed ${stale.length} stale container(s) left by mlserve process(es) no longer running (pid ${owners.join(', ')}): ${names.join(', ')}`,
  )
  return names
}

/** Removes a container, running or not; one already gone (or being removed) is fine. */
export async function removeContainer(container: Docker.Container): Promise<void> {
  try {
    await container.remove({force: true, v: true})
  } catch (error) {
    const status = (error as {statusCode?: number}).statusCode
    if (status !== 404 && status !== 409) throw error
  }
}

// ---------------------------------------------------------------------------
// Logs

/**
 * Splits the engine's multiplexed log format (8-byte frame headers: stream
 * type, 3 zero bytes, big-endian length) into text; a buffer without frame
 * headers (a TTY container) is returned as it is.
 */
export function demuxLogs(buffer: Buffer): string {
  const parts: Buffer[] = []
  let offset = 0
  while (offset + 8 <= buffer.length) {
    const type = buffer[offset]
    if (type > 2 || buffer[offset + 1] !== 0 || buffer[offset + 2] !== 0 || buffer[offset + 3] !== 0) {
      return buffer.toString('utf8')
    }
    const size = buffer.readUInt32BE(offset + 4)
    parts.push(buffer.subarray(offset + 8, offset + 8 + size))
    offset += 8 + size
  }
  if (offset < buffer.length && parts.length === 0) return buffer.toString('utf8')
  return Buffer.concat(parts).toString('utf8')
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
