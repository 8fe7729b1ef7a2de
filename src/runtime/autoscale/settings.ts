// An API's autoscaling settings as the plan carries them: plain data (it is
// structured-cloned to a runtime thread and sent by `mlserve apply`), in
// milliseconds, with the defaults of mlserve.yaml already applied.
import {parseDurationMs, type AutoscalingConfig} from '../../config/index.js'

export interface AutoscalingPlan {
  minReplicas: number
  maxReplicas: number
  initReplicas: number
  targetReplicaConcurrency: number
  windowMs: number
  upscaleStabilizationMs: number
  downscaleStabilizationMs: number
  maxUpscaleFactor: number
  maxDownscaleFactor: number
  upscaleTolerance: number
  downscaleTolerance: number
  /** Why the count is fixed and the autoscaler leaves it alone (`mlserve run --replicas N`, the replica under test); null when it scales. */
  fixed: string | null
}

export function autoscalingPlan(config: AutoscalingConfig, fixedReplicas?: number): AutoscalingPlan {
  return {
    minReplicas: config.min_replicas,
    maxReplicas: config.max_replicas,
    initReplicas: config.init_replicas,
    targetReplicaConcurrency: config.target_replica_concurrency,
    windowMs: parseDurationMs(config.window),
    upscaleStabilizationMs: parseDurationMs(config.upscale_stabilization_period),
    downscaleStabilizationMs: parseDurationMs(config.downscale_stabilization_period),
    maxUpscaleFactor: config.max_upscale_factor,
    maxDownscaleFactor: config.max_downscale_factor,
    upscaleTolerance: config.upscale_tolerance,
    downscaleTolerance: config.downscale_tolerance,
    fixed: fixedReplicas === undefined ? null : `a fixed count of ${fixedReplicas} (--replicas ${fixedReplicas}): autoscaling is off`,
  }
}

/** The count an API keeps when `mlserve apply` brings new settings: the current one, within the new bounds (as `cortex deploy` does). */
export function keptCount(current: number, settings: AutoscalingPlan): number {
  return Math.min(settings.maxReplicas, Math.max(settings.minReplicas, current))
}
