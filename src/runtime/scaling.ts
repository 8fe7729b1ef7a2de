// Changing an API's replica count on a running runtime, for the autoscaler:
// scaling up starts replicas from the API's spec, which take traffic only once
// ready; scaling down takes the least busy replicas out of routing, drains
// them (no request dropped), then stops them. The runtime runs each step in
// its one chain of changes, so scaling and `mlserve apply` never interleave.
// Both drivers: the runtime's replica factory is the process or docker one.
import {assignGpus, listGpus} from './gpu.js'
import type {Replica, ReplicaSpec} from './replica.js'
import type {Runtime} from './runtime.js'
import type {ApiRoute, ReplicaRoute} from './gateway/index.js'
import {plural} from '../plural.js'

/** Scales `api` to `desired` replicas. Resolves with why it could not (scaling held), or null once done. */
export async function scaleApi(runtime: Runtime, name: string, desired: number): Promise<string | null> {
  const api = runtime.gateway.api(name)
  if (!api || api.replicas.length === 0) return `API ${name} is not served`
  const current = api.replicas.length
  if (desired > current) return scaleUp(runtime, name, desired - current)
  if (desired < current) await scaleDown(runtime, name, current - desired)
  return null
}

async function scaleUp(runtime: Runtime, name: string, count: number): Promise<string | null> {
  const api = runtime.gateway.api(name)!
  const model = api.replicas[0].replica.spec
  const specs: ReplicaSpec[] = Array.from({length: count}, () => ({...model, index: runtime.freshIndex(name), gpus: []}))
  if (model.gpus.length > 0) {
    const held = await freeGpus(runtime, specs, model.gpus.length)
    if (held !== null) return held
  }
  const replicas = specs.map((spec) => runtime.makeReplica(spec))
  runtime.replicas.push(...replicas)
  // Routed at once but not routable: a route takes traffic only after its replica's 'ready'.
  const routes = replicas.map((replica) => api.add(replica))
  const results = await Promise.allSettled(replicas.map((replica) => replica.start()))
  const failed = results.flatMap((result, i) => (result.status === 'rejected' ? [{route: routes[i], error: result.reason as Error}] : []))
  if (failed.length === 0) return null
  await remove(runtime, api, failed.map(({route}) => route), 0)
  const why = failed[0].error.message.trim().split('\n')[0]
  return `replica ${failed[0].route.id} did not start (${why})`
}

/** Gives each new spec GPUs no running replica holds; a reason when there are not enough. */
async function freeGpus(runtime: Runtime, specs: ReplicaSpec[], perReplica: number): Promise<string | null> {
  const used = new Set(runtime.replicas.flatMap((replica) => replica.spec.gpus))
  let gpus
  try {
    gpus = (await listGpus(perReplica * specs.length)).filter((gpu) => !used.has(gpu.index))
  } catch (error) {
    return (error as Error).message
  }
  const wanted = specs.map(() => perReplica)
  if (gpus.length < perReplica * specs.length) {
    return `no free GPU: ${plural(specs.length, 'more replica', 'more replicas')} ${specs.length === 1 ? 'needs' : 'need'} ${plural(perReplica * specs.length, 'GPU')} and ${gpus.length} ${gpus.length === 1 ? 'is' : 'are'} free`
  }
  assignGpus(gpus, wanted).forEach((devices, i) => {
    specs[i].gpus = devices
  })
  return null
}

async function scaleDown(runtime: Runtime, name: string, count: number): Promise<void> {
  const api = runtime.gateway.api(name)!
  // The replicas holding the fewest requests go (a starting or restarting one holds none), so the drain is short.
  const chosen = [...api.replicas].sort((a, b) => a.admission.inFlight - b.admission.inFlight).slice(0, count)
  await remove(runtime, api, chosen, runtime.plan.gateway.timeoutMs)
}

/** Takes routes out of routing, waits for what they hold (up to `deadlineMs`), stops their replicas and forgets them. */
async function remove(runtime: Runtime, api: ApiRoute, routes: ReplicaRoute[], deadlineMs: number): Promise<void> {
  await Promise.all(routes.map((route) => api.retire(route, deadlineMs)))
  const replicas: Replica[] = routes.map((route) => route.replica)
  await Promise.allSettled(replicas.map((replica) => replica.stop()))
  for (const replica of replicas) {
    const at = runtime.replicas.indexOf(replica)
    if (at !== -1) runtime.replicas.splice(at, 1)
  }
}
