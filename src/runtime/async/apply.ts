// What `mlserve apply` may change about AsyncAPIs in a running runtime (a
// light module: the runtime checks a plan with it before loading the store
// libraries). Predictor and replica changes apply live, as for a RealtimeAPI:
// the workers use whatever replicas the API has. Adding or removing an
// AsyncAPI, or changing its queue, would need the store opened or closed
// under live traffic, so it is refused with the way to do it instead.
import type {AsyncPlan} from './types.js'

interface PlannedApi {
  name: string
  endpoint: string
  async?: AsyncPlan
}

/** Why `next` cannot be applied to a runtime serving `current`, or null when it can. */
export function asyncApplyProblem(current: {apis: PlannedApi[]}, next: {apis: PlannedApi[]}): {api: string; change: string} | null {
  for (const api of next.apis) {
    const now = current.apis.find((candidate) => candidate.name === api.name)
    if (!now) {
      if (api.async) return {api: api.name, change: 'add'}
      continue
    }
    if (Boolean(now.async) !== Boolean(api.async)) return {api: api.name, change: 'change the kind (RealtimeAPI ↔ AsyncAPI) of'}
    if (now.async && api.async && (JSON.stringify(now.async) !== JSON.stringify(api.async) || now.endpoint !== api.endpoint)) return {api: api.name, change: 'change the async section or endpoint of'}
  }
  for (const api of current.apis) {
    if (api.async && !next.apis.some((candidate) => candidate.name === api.name)) return {api: api.name, change: 'remove'}
  }
  return null
}
