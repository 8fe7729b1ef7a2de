// `mlserve traffic rollout`: raises one API's share of a TrafficSplitter step
// by step, judging each step on the gateway's own figures for that API (its
// answers, errors and latency histogram over the step), and puts the weights
// in force before the rollout back at once when a step breaches a limit or
// the user stops it. It talks to the runtime only through RolloutControl, so
// the unit tests drive it with a fake clock and a fake gateway.
import * as hdr from 'hdr-histogram-js'
import {mlserveError, type MlserveError} from '../errors.js'
import type {ApiFigures, SplitterStatus, TrafficStatus} from '../runtime/gateway/traffic-types.js'
import type {TuneRecord} from '../tune/record.js'
import {formatWeights} from '../runtime/gateway/weights.js'

/** What a rollout needs of a runtime (the real one in src/commands/traffic/rollout.ts). */
export interface RolloutControl {
  status(): Promise<TrafficStatus>
  /** Puts weights in force on the splitter being rolled out. */
  setWeights(weights: Record<string, number>): Promise<void>
  sleep(ms: number): Promise<void>
  now(): number
}

export interface RolloutOptions {
  splitter: string
  /** The API whose share rises. */
  api: string
  /** Its shares, in percent, in the order they are reached. */
  steps: number[]
  /** How long each step is held and judged. */
  intervalMs: number
  /** Errors ÷ requests of a step above this rolls back. */
  maxErrorRate?: number
  /** A step's p99 above this (ms) rolls back. */
  maxP99Ms?: number
  /** A step is judged only once it holds this many answers. */
  minRequests: number
  /** A step that ends with fewer than minRequests answers fails (and rolls back) instead of warning. */
  requireTraffic: boolean
  /** How long to wait for the ready replicas a step needs. */
  readyTimeoutMs: number
  /** What tune recorded for the API, when it was tuned: its min_replicas serve the full load. */
  tuneRecord: TuneRecord | null
  /** autoscaling.min_replicas of each API in the project's config, when the config is known. */
  configMinReplicas: Record<string, number> | null
  /** Stops the rollout: the starting weights are put back, and the result says it was interrupted. */
  signal?: AbortSignal
  /** How often the gateway's figures are read during a step (1 s by default). */
  pollMs?: number
  onEvent?: (event: RolloutEvent) => void
}

/** How many replicas serve the full load, and where that figure came from (in words). */
export interface ReplicaBasis {
  replicas: number
  source: string
}

export type StepVerdict = 'passed' | 'low-traffic' | 'breached' | 'no-traffic' | 'not-enough-replicas' | 'interrupted'

/** One step, with the gateway's figures for the API over it. */
export interface RolloutStep extends StepFigures {
  /** The API's share, percent. */
  share: number
  weights: Record<string, number>
  neededReplicas: number
  /** Ready replicas of the API when the step began (or when waiting for them gave up). */
  readyReplicas: number
  /** How long the step was held. */
  durationMs: number
  verdict: StepVerdict
  /** Why a step did not pass, or the warning of one with too little traffic. */
  reason: string | null
}

export type RolloutOutcome = 'completed' | 'rolled-back' | 'not-enough-replicas' | 'interrupted'

export interface RolloutResult {
  splitter: string
  api: string
  outcome: RolloutOutcome
  /** The weights in force when the rollout began: what a rollback restores. */
  startWeights: Record<string, number>
  /** The weights in force when it ended. */
  finalWeights: Record<string, number>
  replicaBasis: ReplicaBasis
  /** Steps at or below the API's share when the rollout began: there was nothing to raise. */
  skippedSteps: number[]
  steps: RolloutStep[]
  warnings: string[]
  /** Why it did not complete; null when it did or was interrupted. */
  error: MlserveError | null
}

export type RolloutEvent =
  | {kind: 'started'; weights: Record<string, number>; basis: ReplicaBasis}
  | {kind: 'skipped'; steps: number[]; share: number}
  | {kind: 'waiting-for-replicas'; share: number; ready: number; needed: number}
  | {kind: 'step-started'; index: number; count: number; share: number; weights: Record<string, number>}
  | {kind: 'step-finished'; index: number; count: number; step: RolloutStep}
  | {kind: 'rolled-back'; weights: Record<string, number>}

/**
 * The weights with `api` at `share` and the other APIs sharing the rest in
 * proportion to `start`, rounded by largest remainder so they add up to 100.
 * Ties in the remainder go to the API with more weight, then to the one
 * listed first. With no weight among the others, the rest is split evenly.
 */
export function splitWeights(start: Record<string, number>, api: string, share: number): Record<string, number> {
  const others = Object.keys(start).filter((name) => name !== api)
  const rest = 100 - share
  const total = others.reduce((sum, name) => sum + start[name], 0)
  const quota = (name: string): number => (total > 0 ? (rest * start[name]) / total : rest / others.length)
  const floors = new Map(others.map((name) => [name, Math.floor(quota(name))]))
  let left = rest - [...floors.values()].reduce((sum, n) => sum + n, 0)
  const order = others
    .map((name, index) => ({name, index, fraction: quota(name) - Math.floor(quota(name))}))
    .sort((a, b) => b.fraction - a.fraction || start[b.name] - start[a.name] || a.index - b.index)
  for (const {name} of order) {
    if (left <= 0) break
    floors.set(name, floors.get(name)! + 1)
    left--
  }
  // Keep the splitter's own order of APIs.
  return Object.fromEntries(Object.keys(start).map((name) => [name, name === api ? share : floors.get(name)!]))
}

/**
 * How many replicas serve the full load: tune's recommended min_replicas for
 * the API when it was tuned; else autoscaling.min_replicas of the API that
 * carries the most traffic now (what serves the full load today), from the
 * config, or its replicas in the runtime when the config is not known.
 */
export function replicaBasis(
  splitter: Pick<SplitterStatus, 'weights'>,
  apis: TrafficStatus['apis'],
  api: string,
  tuneRecord: TuneRecord | null,
  configMinReplicas: Record<string, number> | null,
): ReplicaBasis {
  if (tuneRecord) {
    return {replicas: tuneRecord.minReplicas, source: `mlserve tune's min_replicas for ${api} at ${tuneRecord.peakRps} req/s, recorded in .mlserve/tune/${api}.json`}
  }
  // The first of the heaviest, in the splitter's order.
  const heaviest = Object.entries(splitter.weights).reduce((best, entry) => (entry[1] > best[1] ? entry : best))[0]
  const configured = configMinReplicas?.[heaviest]
  if (configured !== undefined) {
    return {replicas: configured, source: `autoscaling.min_replicas of ${heaviest}, which carries ${splitter.weights[heaviest]}% now`}
  }
  const running = Math.max(1, apis[heaviest]?.replicas ?? 1)
  return {replicas: running, source: `the replicas of ${heaviest} in the runtime, which carries ${splitter.weights[heaviest]}% now; no config file was read`}
}

/** Ready replicas `share`% of the traffic needs. */
export function neededReplicas(basis: number, share: number): number {
  // basis × share is a whole number, so the quotient is exact where it is whole: no float noise under the ceiling.
  return Math.ceil((basis * share) / 100)
}

/** The API's figures over a step: the reading at its end less the one at its start. */
export interface StepFigures {
  /** Answers of the API over the step, shed ones included. */
  requests: number
  /** Answers >= 500 other than 503. */
  errors: number
  /** 503s from admission or no ready replica. */
  shed: number
  codes: Record<string, number>
  /** errors ÷ requests; null without requests. */
  errorRate: number | null
  /** Of the answers that were not shed; null without any. */
  p99Ms: number | null
}

export function stepFigures(start: ApiFigures | undefined, end: ApiFigures | undefined): StepFigures {
  const count = (key: 'requests' | 'errors' | 'shed'): number => Math.max(0, (end?.[key] ?? 0) - (start?.[key] ?? 0))
  const requests = count('requests')
  const errors = count('errors')
  const codes: Record<string, number> = {}
  for (const [code, n] of Object.entries(end?.codes ?? {})) {
    const d = n - (start?.codes[code] ?? 0)
    if (d > 0) codes[code] = d
  }
  return {requests, errors, shed: count('shed'), codes, errorRate: requests > 0 ? errors / requests : null, p99Ms: windowP99Ms(start?.latencyHistogram, end?.latencyHistogram)}
}

/** The p99 (ms) of the answers recorded between two readings of a cumulative histogram of microseconds; null when none. */
export function windowP99Ms(start: string | undefined, end: string | undefined): number | null {
  if (!end) return null
  const histogram = hdr.decodeFromCompressedBase64(end, 32, false)
  if (start) histogram.subtract(hdr.decodeFromCompressedBase64(start, 32, false))
  if (histogram.totalCount <= 0) return null
  // HdrHistogram answers with the top of a value's bucket; never more than the largest value seen.
  return Math.min(histogram.getValueAtPercentile(99), histogram.maxValue) / 1000
}

/** The limit a step's figures breach, in words, or null. */
function breach(figures: StepFigures, options: RolloutOptions): string | null {
  if (options.maxErrorRate !== undefined && figures.errorRate !== null && figures.errorRate > options.maxErrorRate) {
    return `${figures.errors} of ${figures.requests} answers failed (${(figures.errorRate * 100).toFixed(2)}%), above --max-error-rate ${(options.maxErrorRate * 100).toFixed(2)}%`
  }
  if (options.maxP99Ms !== undefined && figures.p99Ms !== null && figures.p99Ms > options.maxP99Ms) {
    return `p99 was ${figures.p99Ms.toFixed(1)} ms over ${figures.requests} answers, above --max-p99 ${options.maxP99Ms} ms`
  }
  return null
}

class Interrupted extends Error {}

export async function rollout(control: RolloutControl, options: RolloutOptions): Promise<RolloutResult> {
  const pollMs = options.pollMs ?? 1000
  const emit = (event: RolloutEvent): void => options.onEvent?.(event)
  const aborted = (): boolean => options.signal?.aborted ?? false
  // The injected sleep, cut short by the signal.
  const pause = async (ms: number): Promise<void> => {
    if (aborted()) throw new Interrupted()
    const signal = options.signal
    if (!signal) return control.sleep(ms)
    let onAbort!: () => void
    const stopped = new Promise<void>((resolve) => signal.addEventListener('abort', (onAbort = () => resolve()), {once: true}))
    try {
      await Promise.race([control.sleep(ms), stopped])
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
    if (aborted()) throw new Interrupted()
  }

  const first = await control.status()
  const splitter = first.splitters.find((s) => s.name === options.splitter)
  if (!splitter) throw mlserveError('MLS_GATEWAY_SPLITTER_NOT_FOUND', {splitter: options.splitter, available: first.splitters.map((s) => s.name)})
  const badWeights = (reason: string): MlserveError => mlserveError('MLS_GATEWAY_BAD_WEIGHTS', {splitter: splitter.name, reason})
  if (splitter.shadow?.api === options.api) throw badWeights(`${options.api} is the splitter's shadow API, which receives copies, not a share; roll out one of ${Object.keys(splitter.weights).join(', ')}`)
  if (!(options.api in splitter.weights)) throw badWeights(`${options.api} is not an API of the splitter (its APIs are ${Object.keys(splitter.weights).join(', ')})`)

  const startWeights = {...splitter.weights}
  const startShare = startWeights[options.api]
  const basis = replicaBasis(splitter, first.apis, options.api, options.tuneRecord, options.configMinReplicas)
  const skippedSteps = options.steps.filter((share) => share <= startShare)
  const shares = options.steps.filter((share) => share > startShare)
  const result: RolloutResult = {
    splitter: splitter.name,
    api: options.api,
    outcome: 'completed',
    startWeights,
    finalWeights: startWeights,
    replicaBasis: basis,
    skippedSteps,
    steps: [],
    warnings: [],
    error: null,
  }
  emit({kind: 'started', weights: startWeights, basis})
  if (skippedSteps.length > 0) emit({kind: 'skipped', steps: skippedSteps, share: startShare})

  let current = startWeights
  const put = async (weights: Record<string, number>): Promise<void> => {
    await control.setWeights(weights)
    current = weights
    result.finalWeights = weights
  }
  const restore = async (): Promise<void> => {
    await put(startWeights)
    emit({kind: 'rolled-back', weights: startWeights})
  }
  const changed = (): boolean => formatWeights(current) !== formatWeights(startWeights)

  let step: RolloutStep | null = null
  try {
    for (const [index, share] of shares.entries()) {
      const weights = splitWeights(startWeights, options.api, share)
      const needed = neededReplicas(basis.replicas, share)
      step = {share, weights, neededReplicas: needed, readyReplicas: 0, requests: 0, errors: 0, shed: 0, codes: {}, errorRate: null, p99Ms: null, durationMs: 0, verdict: 'interrupted', reason: null}

      // Enough ready replicas before the share moves; else stop where we are.
      const waitStart = control.now()
      let reading = index === 0 ? first : await control.status()
      step.readyReplicas = reading.apis[options.api]?.readyReplicas ?? 0
      if (step.readyReplicas < needed) emit({kind: 'waiting-for-replicas', share, ready: step.readyReplicas, needed})
      while (step.readyReplicas < needed) {
        const waited = control.now() - waitStart
        if (waited >= options.readyTimeoutMs) {
          step.verdict = 'not-enough-replicas'
          step.reason = `${step.readyReplicas} ready replica${step.readyReplicas === 1 ? '' : 's'} of the ${needed} needed after ${Math.round(waited / 1000)} s`
          result.steps.push(step)
          emit({kind: 'step-finished', index, count: shares.length, step})
          step = null
          result.outcome = 'not-enough-replicas'
          result.error = mlserveError('MLS_ROLLOUT_NOT_ENOUGH_REPLICAS', {api: options.api, share, ready: result.steps.at(-1)!.readyReplicas, needed, source: basis.source}, {
            details: [`The weights in force are ${formatWeights(current)}.`],
          })
          return result
        }
        await pause(Math.min(pollMs, options.readyTimeoutMs - waited))
        reading = await control.status()
        step.readyReplicas = reading.apis[options.api]?.readyReplicas ?? 0
      }

      emit({kind: 'step-started', index, count: shares.length, share, weights})
      await put(weights)
      const started = control.now()
      const base = (await control.status()).apis[options.api]
      let figures = stepFigures(base, base)
      let failure: string | null = null
      // Read every poll until the interval ends; a breach once the step holds enough answers ends it at once.
      for (;;) {
        const elapsed = control.now() - started
        if (elapsed >= options.intervalMs) break
        await pause(Math.min(pollMs, options.intervalMs - elapsed))
        figures = stepFigures(base, (await control.status()).apis[options.api])
        Object.assign(step, figures, {durationMs: Math.round(control.now() - started)})
        if (figures.requests >= options.minRequests) failure = breach(figures, options)
        if (failure) break
      }
      Object.assign(step, figures, {durationMs: Math.round(control.now() - started)})

      if (!failure && figures.requests < options.minRequests) {
        const few = `the step saw ${figures.requests} answer${figures.requests === 1 ? '' : 's'} from ${options.api}, fewer than --min-requests ${options.minRequests}, so it was not judged`
        if (options.requireTraffic) failure = `${few} (--require-traffic)`
        else {
          step.verdict = 'low-traffic'
          step.reason = few
          result.warnings.push(`At ${share}%: ${few}.`)
        }
      }
      if (failure) {
        step.verdict = options.requireTraffic && figures.requests < options.minRequests ? 'no-traffic' : 'breached'
        step.reason = failure
        result.steps.push(step)
        emit({kind: 'step-finished', index, count: shares.length, step})
        step = null
        await restore()
        result.outcome = 'rolled-back'
        result.error = mlserveError('MLS_ROLLOUT_ROLLED_BACK', {splitter: splitter.name, api: options.api, step: share, reason: failure, restored: formatWeights(startWeights)})
        return result
      }
      if (step.verdict !== 'low-traffic') step.verdict = 'passed'
      result.steps.push(step)
      emit({kind: 'step-finished', index, count: shares.length, step})
      step = null
    }
    return result
  } catch (error) {
    if (error instanceof Interrupted) {
      if (step) {
        step.verdict = 'interrupted'
        step.reason = 'stopped by the user'
        result.steps.push(step)
      }
      if (changed()) await restore()
      result.outcome = 'interrupted'
      return result
    }
    // The figures could not be read (or a weight change failed): a rollout that cannot judge does not leave traffic moved.
    if (changed()) await restore().catch(() => {})
    throw error
  }
}
