// A remote plan as a deployment hands it to its gateway: JSON in a file (a
// Swarm config, a ConfigMap), read back by `mlserve gateway --plan`. The
// plan is made by planRuntime on the deploying machine and may meet a gateway
// image of another mlserve version, so its shape is checked before anything
// serves it: the top-level fields, the driver and discovery, and what the
// gateway reads of each API and replica template. Fields it does not know
// pass through, as they are.
import {readFileSync} from 'node:fs'
import {z} from 'zod'
import {mlserveError} from '../errors.js'
import type {RuntimePlan} from './plan.js'

const count = z.number().int().positive()
const milliseconds = z.number().nonnegative()

const discovery = z.discriminatedUnion('kind', [
  z.object({kind: z.literal('dns'), services: z.record(z.string(), z.string().min(1)), port: z.number().int().min(1).max(65535), intervalMs: z.number().positive()}),
  z.object({kind: z.literal('static'), origins: z.record(z.string(), z.array(z.string().regex(/^https?:\/\/\S+$/, 'an http:// origin')))}),
])

const replicaTemplate = z.looseObject({
  api: z.string(),
  index: z.number().int().nonnegative(),
  processes: count,
  threads: count,
  readinessPath: z.string().startsWith('/'),
  predictPath: z.string().startsWith('/'),
  readinessTimeoutMs: milliseconds,
  gpus: z.array(z.string()),
})

const api = z.looseObject({
  name: z.string().min(1),
  endpoint: z.string().startsWith('/'),
  maxReplicaConcurrency: count,
  replicas: z.array(replicaTemplate).min(1, 'at least one replica template'),
  cache: z.looseObject({}).nullable(),
  version: z.string(),
  autoscaling: z.looseObject({minReplicas: z.number().int().nonnegative(), maxReplicas: count}),
})

export const remotePlanSchema = z.looseObject({
  project: z.object({file: z.string(), dir: z.string()}),
  gateway: z.object({
    host: z.string().min(1),
    port: z.number().int().min(0).max(65535),
    timeoutMs: milliseconds,
    maxBodyBytes: count,
    retryAfterSeconds: z.number().nonnegative(),
    headersTimeoutMs: milliseconds,
    requestTimeoutMs: milliseconds,
    accessLog: z.boolean(),
  }),
  driver: z.literal('remote', {error: "the driver must be 'remote' (a gateway serves replicas its engine runs)"}),
  docker: z.null(),
  remote: z.object({discovery, control: z.literal('token')}),
  apis: z.array(api).min(1, 'at least one API'),
  splitters: z.array(z.looseObject({name: z.string(), endpoint: z.string(), apis: z.array(z.object({name: z.string(), weight: z.number()})), shadow: z.object({api: z.string(), percent: z.number()}).nullable()})),
  reservedPaths: z.array(z.string()),
  announce: z.boolean(),
})

/** Checks a parsed plan's shape; `source` names where it came from in the error. */
export function checkRemotePlan(value: unknown, source: string): RuntimePlan {
  // The driver first: a plan for another driver is the wrong plan altogether, whatever else it lacks.
  const driver = (value as {driver?: unknown} | null)?.driver
  if (typeof value === 'object' && value !== null && driver !== 'remote') {
    throw mlserveError('MLS_GATEWAY_PLAN_INVALID', {source, reason: `driver: ${JSON.stringify(driver ?? null)} where 'remote' belongs (a gateway serves replicas its engine runs)`})
  }
  const result = remotePlanSchema.safeParse(value)
  if (!result.success) {
    const [issue] = result.error.issues
    const at = issue.path.length > 0 ? issue.path.map(String).join('.') : 'the plan'
    throw mlserveError('MLS_GATEWAY_PLAN_INVALID', {source, reason: `${at}: ${issue.message}`})
  }
  const plan = result.data as unknown as RuntimePlan
  const discovered = plan.remote!.discovery
  const named = discovered.kind === 'dns' ? discovered.services : discovered.origins
  const missing = plan.apis.filter((entry) => !Object.hasOwn(named, entry.name)).map((entry) => entry.name)
  if (missing.length > 0) throw mlserveError('MLS_GATEWAY_PLAN_INVALID', {source, reason: `remote.discovery names nothing for ${missing.map((name) => `"${name}"`).join(', ')}`})
  const served = new Set(plan.apis.map((entry) => entry.name))
  for (const splitter of plan.splitters) {
    const unknown = [...splitter.apis.map((arm) => arm.name), ...(splitter.shadow ? [splitter.shadow.api] : [])].find((name) => !served.has(name))
    if (unknown !== undefined) throw mlserveError('MLS_GATEWAY_PLAN_INVALID', {source, reason: `splitter "${splitter.name}" routes to "${unknown}", which the plan does not serve`})
  }
  return plan
}

/** Reads and checks a plan file (MLS_GATEWAY_PLAN_NOT_FOUND, MLS_GATEWAY_PLAN_NOT_JSON, MLS_GATEWAY_PLAN_INVALID). */
export function readRemotePlan(file: string): RuntimePlan {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    throw mlserveError('MLS_GATEWAY_PLAN_NOT_FOUND', {file})
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw mlserveError('MLS_GATEWAY_PLAN_NOT_JSON', {file, reason: (error as Error).message})
  }
  return checkRemotePlan(value, file)
}
