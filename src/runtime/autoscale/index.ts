// The autoscaler's door: Cortex's algorithm (recommend.ts, pure), the control
// loop that samples, decides every 10 s and scales through the runtime
// (autoscaler.ts), the samples and recommendations a decision is made from
// (window.ts, which the Swarm autoscaler shares), and the settings a plan
// carries (settings.ts).
export {Autoscaler, SAMPLE_MS, TICK_MS, type AutoscalerHost, type AutoscalerOptions, type AutoscalerStatus} from './autoscaler.js'
export {formatClock, recommend, type Decision, type Recommendation, type RecommendInput} from './recommend.js'
export {autoscalingPlan, keptCount, type AutoscalingPlan} from './settings.js'
export {ScalingWindow, type WindowDecision} from './window.js'
