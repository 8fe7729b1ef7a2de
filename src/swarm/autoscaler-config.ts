// What the Swarm autoscaler service reads (`mlserve autoscaler --config FILE`):
// the gateway service whose tasks it scrapes, and per API the Swarm service it
// scales with that API's autoscaling settings (the plan's, in milliseconds,
// mlserve.yaml's defaults applied). mlserve deploy writes it as JSON into a
// Swarm config; the autoscaler may run an image of another mlserve version,
// so the shape is checked, every problem at once, each with its field.
import {readFileSync} from 'node:fs'
import {z} from 'zod'
import {mlserveError} from '../errors.js'
import type {AutoscalingPlan} from '../runtime/autoscale/index.js'

export interface SwarmAutoscalerConfig {
  /** The gateway service: its tasks are found at tasks.<service>, each serving /metrics on `port` inside the network. */
  gateway: {service: string; port: number}
  apis: Array<{api: string; service: string; autoscaling: AutoscalingPlan}>
}

// The bounds of mlserve.yaml's autoscaling fields (src/config/schema.ts), in the plan's units.
const replicas = z.number().int().positive()
const milliseconds = z.number().nonnegative()
const belowOne = z.number().min(0).lt(1)

const autoscalingSchema = z
  .object({
    minReplicas: replicas,
    maxReplicas: replicas,
    initReplicas: replicas,
    targetReplicaConcurrency: z.number().positive(),
    windowMs: z.number().positive(),
    upscaleStabilizationMs: milliseconds,
    downscaleStabilizationMs: milliseconds,
    maxUpscaleFactor: z.number().gt(1),
    maxDownscaleFactor: belowOne,
    upscaleTolerance: z.number().nonnegative(),
    downscaleTolerance: belowOne,
    fixed: z.string().nullable(),
  })
  .refine((a) => a.minReplicas <= a.maxReplicas, {message: 'minReplicas must not be above maxReplicas', path: ['minReplicas']})

const serviceName = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'a Swarm service name')

export const swarmAutoscalerConfigSchema = z
  .object({
    gateway: z.object({service: serviceName, port: z.number().int().min(1).max(65535)}),
    apis: z.array(z.object({api: z.string().min(1), service: serviceName, autoscaling: autoscalingSchema})),
  })
  .refine((c) => new Set(c.apis.map((a) => a.api)).size === c.apis.length, {message: 'each API must be listed once', path: ['apis']})

/** Checks a parsed config; every problem is a detail line `field: problem`. */
export function parseSwarmAutoscalerConfig(value: unknown, file: string): SwarmAutoscalerConfig {
  const result = swarmAutoscalerConfigSchema.safeParse(value)
  if (result.success) return result.data
  const details = result.error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.map(String).join('.') : '(the file)'}: ${issue.message}`)
  throw mlserveError('MLS_SWARM_AUTOSCALER_CONFIG_INVALID', {file}, {details})
}

/** Reads and checks the config file (MLS_SWARM_AUTOSCALER_CONFIG_UNREADABLE, MLS_SWARM_AUTOSCALER_CONFIG_INVALID). */
export function readSwarmAutoscalerConfig(file: string): SwarmAutoscalerConfig {
  let value: unknown
  try {
    value = JSON.parse(readFileSync(file, 'utf8'))
  } catch (error) {
    throw mlserveError('MLS_SWARM_AUTOSCALER_CONFIG_UNREADABLE', {file, reason: (error as Error).message})
  }
  return parseSwarmAutoscalerConfig(value, file)
}
