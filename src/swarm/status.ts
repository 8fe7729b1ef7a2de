// `mlserve deploy --status` on Swarm: each service of the project's deploy in
// the environment, its tasks (desired and current state, Swarm's error), its
// update's state, the gateway's URL from the deploy record, and the
// autoscaler's last decisions from its log.
import type Docker from 'dockerode'
import {demuxLogs} from '../docker/index.js'
import {requireManager, swarmEngine} from './engine.js'
import {readDeployRecord} from './record.js'
import {DEPLOY_LABELS} from './spec.js'
import {describeTask, labelFilters, type SwarmTask} from './tasks.js'

export interface SwarmServiceStatus {
  name: string
  role: string
  api: string | null
  image: string
  replicas: {wanted: number; running: number}
  /** Swarm's update state (updating, completed, rollback_completed…) and its message, or null before any update. */
  update: {state: string; message: string | null} | null
  placement: string | null
  tasks: Array<{id: string; slot: number | null; node: string | null; desired: string; state: string; error: string | null; since: string | null; text: string}>
}

export interface SwarmStatus {
  engine: 'swarm'
  env: string
  project: string
  url: string | null
  deployedAt: string | null
  services: SwarmServiceStatus[]
  /** The autoscaler's last log lines (its decisions, JSON), newest last; empty without an autoscaler. */
  autoscaler: string[]
}

type ServiceInfo = {ID: string; Spec?: {Name?: string; Labels?: Record<string, string>; Mode?: {Replicated?: {Replicas?: number}}; TaskTemplate?: {ContainerSpec?: {Image?: string}}}; UpdateStatus?: {State?: string; Message?: string}}

export async function swarmStatus(environment: {name: string; dockerHost: string | null}, project: string): Promise<SwarmStatus> {
  const engine = swarmEngine(environment.dockerHost)
  await requireManager(engine)
  const {docker} = engine
  const record = readDeployRecord(environment.name, project)
  const services = (await docker.listServices({filters: {label: labelFilters(project, environment.name)}})) as ServiceInfo[]
  const order = {api: 0, gateway: 1, autoscaler: 2} as Record<string, number>
  const result: SwarmServiceStatus[] = []
  let autoscaler: string[] = []
  for (const service of services) {
    const labels = service.Spec?.Labels ?? {}
    const role = labels[DEPLOY_LABELS.role] ?? 'unknown'
    const tasks = ((await docker.listTasks({filters: {service: [service.ID]}})) as SwarmTask[])
      // The tasks that run or should, then the latest few that ended (their errors say why an update failed).
      .sort((a, b) => (b.UpdatedAt ?? '').localeCompare(a.UpdatedAt ?? ''))
    const live = tasks.filter((t) => t.DesiredState === 'running')
    const ended = tasks.filter((t) => t.DesiredState !== 'running').slice(0, 3)
    result.push({
      name: service.Spec?.Name ?? service.ID,
      role,
      api: labels[DEPLOY_LABELS.api] ?? null,
      image: service.Spec?.TaskTemplate?.ContainerSpec?.Image ?? '',
      replicas: {wanted: service.Spec?.Mode?.Replicated?.Replicas ?? 1, running: live.filter((t) => t.Status?.State === 'running').length},
      update: service.UpdateStatus?.State ? {state: service.UpdateStatus.State, message: service.UpdateStatus.Message ?? null} : null,
      placement: labels[DEPLOY_LABELS.placement] ?? null,
      tasks: [...live, ...ended].map((t) => ({
        id: t.ID,
        slot: t.Slot ?? null,
        node: t.NodeID ?? null,
        desired: t.DesiredState ?? 'unknown',
        state: t.Status?.State ?? 'unknown',
        error: t.Status?.Err || null,
        since: t.Status?.Timestamp ?? null,
        text: describeTask(t),
      })),
    })
    if (role === 'autoscaler') autoscaler = await lastLogLines(docker, service.ID, 8)
  }
  result.sort((a, b) => (order[a.role] ?? 3) - (order[b.role] ?? 3) || a.name.localeCompare(b.name))
  return {engine: 'swarm', env: environment.name, project, url: record?.url ?? null, deployedAt: record?.deployedAt ?? null, services: result, autoscaler}
}

/** The service's last log lines, through the manager (any node's tasks); empty when the engine cannot say. */
async function lastLogLines(docker: Docker, id: string, count: number): Promise<string[]> {
  try {
    const raw = (await docker.getService(id).logs({stdout: true, stderr: true, tail: count * 4, follow: false} as never)) as unknown
    const buffer = Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw))
    return demuxLogs(buffer)
      .split('\n')
      .filter((line) => line.trim().length > 0)
      .slice(-count)
  } catch {
    return []
  }
}
