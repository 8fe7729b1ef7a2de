// Swarm's tasks as people read them, and the label filters that select one
// deploy's objects: shared by deploy (its wait and its errors), status and
// delete.
import {DEPLOY_LABELS} from './spec.js'

export interface SwarmTask {
  ID: string
  Slot?: number
  NodeID?: string
  CreatedAt?: string
  UpdatedAt?: string
  DesiredState?: string
  Status?: {State?: string; Err?: string; Message?: string; Timestamp?: string}
}

/** The label filters (the engine's `label=K=V` form) of one project's objects in one environment. */
export function labelFilters(project: string, env: string): string[] {
  return [`${DEPLOY_LABELS.project}=${project}`, `${DEPLOY_LABELS.env}=${env}`]
}

/** `task 1 (3f2a9c1b0d4e): running, desired running` with Swarm's error when it has one. */
export function describeTask(task: SwarmTask): string {
  const slot = task.Slot === undefined ? '' : ` ${task.Slot}`
  const state = task.Status?.State ?? 'unknown'
  const why = task.Status?.Err || (state !== 'running' ? task.Status?.Message : '') || ''
  return `task${slot} (${task.ID.slice(0, 12)}): ${state}, desired ${task.DesiredState ?? 'unknown'}${why ? `: ${why}` : ''}`
}
