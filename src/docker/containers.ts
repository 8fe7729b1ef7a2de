// mlserve's containers: the labels that make one ours, the sweep that removes
// those an mlserve left behind when it was killed, removal, a short-lived
// container run to completion (the image check), and the engine's log format.
import {readFileSync} from 'node:fs'
import {hostname} from 'node:os'
import type Docker from 'dockerode'
import {engineMessage} from './engine.js'
import {LABELS} from './labels.js'

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
    [LABELS.ownerPid]: String(pid),
    [LABELS.ownerHost]: hostname(),
  }
  const started = processStartTicks(pid)
  if (started !== null) labels[LABELS.ownerStarted] = started
  return labels
}

/** Whether the mlserve process that labelled a container is still running. */
export function ownerAlive(labels: Record<string, string>): boolean {
  const pid = Number(labels[LABELS.ownerPid])
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  // The pid is alive, but it may have been reused by another process since.
  const recorded = labels[LABELS.ownerStarted]
  const started = recorded === undefined ? null : processStartTicks(pid)
  return recorded === undefined || started === null || started === recorded
}

/** mlserve's containers, running or not; only those of `ownerPid` when given. */
export async function listManagedContainers(docker: Docker, options: {ownerPid?: number} = {}): Promise<Docker.ContainerInfo[]> {
  // Only containers mlserve started carry an owner: a label baked into an image never makes a hand-run container ours.
  const label = [`${LABELS.managed}=true`, options.ownerPid === undefined ? LABELS.ownerPid : `${LABELS.ownerPid}=${options.ownerPid}`]
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
    const host = labels[LABELS.ownerHost]
    if (host !== undefined && host !== mine) return false
    return !ownerAlive(labels)
  })
  if (stale.length === 0) return []
  const names = stale.map((container) => (container.Names?.[0] ?? container.Id.slice(0, 12)).replace(/^\//, ''))
  await Promise.all(stale.map((container) => removeContainer(docker.getContainer(container.Id))))
  const owners = [...new Set(stale.map((container) => container.Labels?.[LABELS.ownerPid] ?? '?'))]
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

export interface RunOnceOptions {
  image: string
  /** The program and its arguments; it replaces the image's entrypoint and command. */
  command: readonly string[]
  /** Killed after this long; the result then says timedOut. */
  timeoutMs: number
}

export interface RunOnceResult {
  /** The exit code, or null when the container did not start or was killed at the timeout. */
  exitCode: number | null
  /** Standard output and error, in order. */
  output: string
  /** Why the engine could not start it (the program is not in the image…). */
  startError?: string
  timedOut?: boolean
}

/**
 * Runs a command in a fresh container of `image`, without network, and
 * removes the container afterwards. It carries this process's owner labels,
 * so a sweep removes it should mlserve be killed meanwhile.
 */
export async function runOnce(docker: Docker, options: RunOnceOptions): Promise<RunOnceResult> {
  const [program, ...args] = options.command
  const container = await docker.createContainer({
    Image: options.image,
    Entrypoint: [program],
    Cmd: args,
    Labels: ownerLabels(),
    NetworkDisabled: true,
    Tty: false,
    AttachStdout: false,
    AttachStderr: false,
    HostConfig: {RestartPolicy: {Name: 'no'}},
  })
  try {
    try {
      await container.start()
    } catch (error) {
      return {exitCode: null, output: '', startError: engineMessage(error)}
    }
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), options.timeoutMs)
    })
    const outcome = await Promise.race([container.wait() as Promise<{StatusCode?: number}>, timeout]).finally(() => clearTimeout(timer))
    if (outcome === 'timeout') await container.kill().catch(() => undefined)
    const logs = await container.logs({stdout: true, stderr: true, follow: false})
    const output = demuxLogs(Buffer.isBuffer(logs) ? logs : Buffer.from(String(logs)))
    if (outcome === 'timeout') return {exitCode: null, output, timedOut: true}
    return {exitCode: outcome.StatusCode ?? null, output}
  } finally {
    await removeContainer(container)
  }
}

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
