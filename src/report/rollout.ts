// A traffic rollout as text: one line per step (the API's share, the
// weights, its answers, error rate and p99 over the step, the verdict), and
// how it ended.
import type {RolloutResult, RolloutStep} from '../client/rollout.js'
import {ms, num, pct} from './format.js'

const VERDICTS: Record<RolloutStep['verdict'], string> = {
  passed: 'passed',
  'low-traffic': 'not judged (too few answers)',
  breached: 'BREACHED',
  'no-traffic': 'FAILED (too few answers)',
  'not-enough-replicas': 'not started (too few ready replicas)',
  interrupted: 'interrupted',
}

export const formatWeights = (weights: Record<string, number>): string =>
  Object.entries(weights)
    .map(([api, w]) => `${api} ${w}`)
    .join(' · ')

/** "[2/4] 10%  (iris-a 90 · iris-b 10)  312 answers, 0.00% errors, p99 12.3 ms: passed" */
export function renderRolloutStep(step: RolloutStep, index: number, count: number): string {
  const head = `[${index + 1}/${count}] ${String(step.share).padStart(3)}%  (${formatWeights(step.weights)})`
  if (step.verdict === 'not-enough-replicas') return `${head}  ${step.readyReplicas}/${step.neededReplicas} ready replicas: ${VERDICTS[step.verdict]}`
  const shed = step.shed > 0 ? `, ${num(step.shed, 0)} shed` : ''
  const figures = `${num(step.requests, 0)} answers in ${num(step.durationMs / 1000, 1)} s, ${step.errorRate === null ? '-' : pct(step.errorRate)} errors${shed}, p99 ${ms(step.p99Ms)} ms`
  // Why a step failed or was not judged is said once, by the error or the warning that follows.
  return `${head}  ${figures}: ${VERDICTS[step.verdict]}`
}

/** The closing lines: how the rollout ended and the weights in force. */
export function renderRolloutSummary(result: RolloutResult): string {
  const lines: string[] = []
  const weights = formatWeights(result.finalWeights)
  if (result.outcome === 'completed') lines.push(`Rollout of ${result.api} on ${result.splitter} completed: ${weights}.`)
  if (result.outcome === 'rolled-back') lines.push(`Rolled back ${result.splitter} to the weights before the rollout: ${weights}.`)
  if (result.outcome === 'interrupted') lines.push(`Stopped: ${result.splitter} is back at the weights before the rollout: ${weights}.`)
  if (result.outcome === 'not-enough-replicas') lines.push(`Stopped before ${result.steps.at(-1)?.share ?? '?'}%: the weights in force are ${weights}.`)
  return lines.join('\n')
}
