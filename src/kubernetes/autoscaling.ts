// Cortex's autoscaling settings (an ApiPlan's AutoscalingPlan) as Kubernetes
// autoscaling on requests in flight: a KEDA ScaledObject with a Prometheus
// trigger (the default), or an HPA v2 on a Pods metric. Both scale to
// ceil(sum of in-flight / target_replica_concurrency), Cortex's formula, and
// carry its stabilization windows and step factors as an HPA `behavior`.
// docs/deploy.md, "How the config maps onto Kubernetes", has the table.
import {HorizontalPodAutoscaler} from 'kubernetes-models/autoscaling/v2'
import {ScaledObject} from '@kubernetes-models/keda/keda.sh/v1alpha1'
import type {AutoscalingPlan} from '../runtime/autoscale/settings.js'
import {IN_FLIGHT_METRIC} from './names.js'

export type Autoscaler = 'keda' | 'hpa'

/**
 * The period of each step policy: mlserve's autoscaler (like Cortex's)
 * decides every 10 s and caps each decision by the factors, so the cap is
 * per 10 s here too.
 */
export const STEP_PERIOD_S = 10

/** The behavior fields both objects share (KEDA passes them to the HPA it makes). */
export interface ScalingBehavior {
  scaleUp: {stabilizationWindowSeconds: number; selectPolicy: 'Max'; policies: Array<{type: 'Percent'; value: number; periodSeconds: number}>}
  scaleDown: {stabilizationWindowSeconds: number; selectPolicy: 'Max'; policies: Array<{type: 'Percent'; value: number; periodSeconds: number}>}
}

/**
 * Cortex's windows and factors as an HPA behavior:
 * - upscale/downscale_stabilization_period → stabilizationWindowSeconds;
 * - max_upscale_factor f → at most +(f − 1)·100 % per 10 s (the HPA rounds
 *   the limit up, as Cortex's ceil does, so one replica can always become two);
 * - max_downscale_factor f → at most −(1 − f)·100 % per 10 s.
 * A policy's value must be at least 1 (%).
 */
export function scalingBehavior(plan: AutoscalingPlan): ScalingBehavior {
  const up = Math.max(1, Math.round((plan.maxUpscaleFactor - 1) * 100))
  const down = Math.min(100, Math.max(1, Math.round((1 - plan.maxDownscaleFactor) * 100)))
  return {
    scaleUp: {
      stabilizationWindowSeconds: Math.round(plan.upscaleStabilizationMs / 1000),
      selectPolicy: 'Max',
      policies: [{type: 'Percent', value: up, periodSeconds: STEP_PERIOD_S}],
    },
    scaleDown: {
      stabilizationWindowSeconds: Math.round(plan.downscaleStabilizationMs / 1000),
      selectPolicy: 'Max',
      policies: [{type: 'Percent', value: down, periodSeconds: STEP_PERIOD_S}],
    },
  }
}

/**
 * The PromQL KEDA asks: the API's in-flight requests summed over its pods'
 * gateways, each averaged over Cortex's `window` first (Cortex averages the
 * signal over the window before dividing by the target).
 */
export function inFlightQuery(namespace: string, api: string, plan: AutoscalingPlan): string {
  const window = `${Math.max(1, Math.round(plan.windowMs / 1000))}s`
  return `sum(avg_over_time(${IN_FLIGHT_METRIC}{namespace="${namespace}",api="${api}"}[${window}]))`
}

export interface ScalerInput {
  name: string
  namespace: string
  labels: Record<string, string>
  /** The Deployment it scales. */
  deployment: string
  api: string
  plan: AutoscalingPlan
  prometheusUrl: string
}

/** A KEDA ScaledObject: Prometheus trigger on the API's in-flight sum, AverageValue target_replica_concurrency, min/max, the behavior. */
export function scaledObject(input: ScalerInput): ScaledObject {
  const {plan} = input
  return new ScaledObject({
    metadata: {name: input.name, namespace: input.namespace, labels: input.labels},
    spec: {
      scaleTargetRef: {apiVersion: 'apps/v1', kind: 'Deployment', name: input.deployment},
      // KEDA's own polling of the trigger: the 10 s of Cortex's decisions.
      pollingInterval: STEP_PERIOD_S,
      minReplicaCount: plan.minReplicas,
      maxReplicaCount: plan.maxReplicas,
      advanced: {horizontalPodAutoscalerConfig: {behavior: scalingBehavior(plan)}},
      triggers: [
        {
          type: 'prometheus',
          // AverageValue: the HPA divides the query's total by the threshold, Cortex's in-flight / target.
          metricType: 'AverageValue',
          metadata: {
            serverAddress: input.prometheusUrl,
            query: inFlightQuery(input.namespace, input.api, plan),
            threshold: String(plan.targetReplicaConcurrency),
          },
        },
      ],
    },
  })
}

/**
 * An HPA v2 on the Pods metric mlserve_api_in_flight (served to the metrics
 * API by an adapter such as prometheus-adapter), target averageValue =
 * target_replica_concurrency. Cortex's tolerances go in the behavior's
 * `tolerance` (Kubernetes 1.33+, feature HPAConfigurableTolerance; a cluster
 * without it drops the field and uses its global 10 %).
 */
export function horizontalPodAutoscaler(input: ScalerInput): HorizontalPodAutoscaler {
  const {plan} = input
  const behavior = scalingBehavior(plan)
  return new HorizontalPodAutoscaler({
    metadata: {name: input.name, namespace: input.namespace, labels: input.labels},
    spec: {
      scaleTargetRef: {apiVersion: 'apps/v1', kind: 'Deployment', name: input.deployment},
      minReplicas: plan.minReplicas,
      maxReplicas: plan.maxReplicas,
      metrics: [
        {
          type: 'Pods',
          pods: {
            metric: {name: IN_FLIGHT_METRIC, selector: {matchLabels: {api: input.api}}},
            target: {type: 'AverageValue', averageValue: String(plan.targetReplicaConcurrency)},
          },
        },
      ],
      behavior: {
        scaleUp: {...behavior.scaleUp, tolerance: String(plan.upscaleTolerance)},
        scaleDown: {...behavior.scaleDown, tolerance: String(plan.downscaleTolerance)},
      },
    },
  })
}
