// Writes a recommendation into the config file, in place: atomically, keeping
// comments, order and every other field (src/config's updateConfigFile).
import {selectApi, updateConfigFile, type ConfigEdit, type Project} from '../config/index.js'
import type {Recommendation} from './types.js'

/** Writes `rec` for `api` into the project's config file; `project` is the file as the command loaded it. */
export async function writeRecommendation(project: Project, api: string, rec: Recommendation): Promise<void> {
  const current = selectApi(project, api)
  const {file} = project
  const edits: ConfigEdit[] = [
    {api, path: ['predictor', 'processes_per_replica'], value: rec.processes_per_replica},
    {api, path: ['predictor', 'threads_per_process'], value: rec.threads_per_process},
    {api, path: ['autoscaling', 'min_replicas'], value: rec.min_replicas},
    {api, path: ['autoscaling', 'max_replica_concurrency'], value: rec.max_replica_concurrency},
    {api, path: ['autoscaling', 'target_replica_concurrency'], value: rec.target_replica_concurrency},
  ]
  // min_replicas may not pass max_replicas: raise the ceiling with the floor.
  if (current.autoscaling.max_replicas < rec.min_replicas) {
    edits.push({api, path: ['autoscaling', 'max_replicas'], value: rec.min_replicas})
  }
  // An init_replicas below the new floor would fail validation; it follows min_replicas.
  if (current.autoscaling.init_replicas !== undefined && current.autoscaling.init_replicas < rec.min_replicas) {
    edits.push({api, path: ['autoscaling', 'init_replicas'], value: rec.min_replicas})
  }
  await updateConfigFile(file, edits)
}
