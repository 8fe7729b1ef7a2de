// Semantic checks that need more than one field or more than one API, run on
// the validated configs (defaults applied). They report through the same sink
// as schema errors, so every message is located in the file.
import {getAt, isPlainObject, type IssueSink, type Path} from './issues.js'
import type {NormalizedApi} from './normalize.js'
import type {z} from 'zod'
import {
  AutoscalingSchema,
  CORTEX_ONLY_PREDICTOR_TYPES,
  PredictorSchema,
  type ApiConfig,
  type PredictorConfig,
  type TrafficSplitterConfig,
} from './schema.js'
import type {RunnableFields} from './runnable.js'
import {plural} from '../plural.js'
import {suggest} from './suggest.js'
import {isDns1123Label, toDns1123Label} from './units.js'

export interface CheckedApi {
  normalized: NormalizedApi
  config: ApiConfig
}

/** Checks each API, then the file as a whole (unique names and endpoints, splitter references). */
/** `names`: the string names of every API entry, including those that failed schema validation. */
export function checkProject(apis: CheckedApi[], names: Array<{index: number; name: string}>, sink: IssueSink): void {
  for (const {index, name} of names) checkName(index, name, sink)
  for (const api of apis) {
    if (api.config.kind !== 'TrafficSplitter') checkRealtime(api.config, api.normalized, sink)
  }
  checkUniqueNames(names, sink)
  checkUniqueEndpoints(apis, sink)
  checkBatchEndpoints(apis, sink)
  const realtime = new Set(apis.filter((a) => a.config.kind === 'RealtimeAPI').map((a) => a.config.name))
  const splitters = new Set(apis.filter((a) => a.config.kind === 'TrafficSplitter').map((a) => a.config.name))
  const asyncs = new Set(apis.filter((a) => a.config.kind === 'AsyncAPI').map((a) => a.config.name))
  for (const api of apis) {
    if (api.config.kind === 'TrafficSplitter') checkSplitter(api.config, api.normalized.index, realtime, splitters, sink, asyncs)
  }
}

function checkName(index: number, name: string, sink: IssueSink): void {
  if (isDns1123Label(name)) return
  sink.fieldError(
    [index, 'name'],
    `${JSON.stringify(name)} is not a valid API name: names are DNS-1123 labels (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters); use "${toDns1123Label(name)}"`,
  )
}

/** The fields of a RealtimeAPI that validated: all of them, or those that did when others have errors. */
export interface RealtimeParts {
  predictor?: Partial<PredictorConfig>
  autoscaling?: Partial<z.output<typeof AutoscalingSchema>>
}

/**
 * Checks a RealtimeAPI whose schema validation failed, on the fields that did
 * validate, so one run reports a cross-field error (min_replicas > max_replicas)
 * together with a field error elsewhere (window: 10 parsecs). Returns the
 * predictor fields that validated, for the run checks.
 */
export function checkRealtimeSections(normalized: NormalizedApi, sink: IssueSink): RunnableFields {
  const predictor = isPlainObject(normalized.data.predictor) ? validFields(PredictorSchema, normalized.data.predictor) : undefined
  const autoscaling = validFields(AutoscalingSchema, normalized.data.autoscaling)
  checkRealtime({predictor, autoscaling}, normalized, sink)
  // What the run checks can still look at (runnable.ts).
  return {name: String(normalized.data.name), predictor: {type: predictor?.type, path: predictor?.path}}
}

/** Each field of an object schema parsed on its own; the ones that fail are left out (their errors are already reported). */
function validFields<S extends z.ZodObject>(schema: S, data: unknown): Partial<z.output<S>> {
  const source = isPlainObject(data) ? data : {}
  const valid: Record<string, unknown> = {}
  for (const [key, field] of Object.entries(schema.shape) as Array<[string, z.ZodType]>) {
    const result = field.safeParse(Object.hasOwn(source, key) ? source[key] : undefined)
    if (result.success) valid[key] = result.data
  }
  return valid as Partial<z.output<S>>
}

function checkRealtime(parts: RealtimeParts, normalized: NormalizedApi, sink: IssueSink): void {
  const i = normalized.index
  const given = (...path: string[]): boolean => getAt(normalized.data, path) !== undefined
  const {predictor, autoscaling} = parts

  // predictor: which fields each type needs or ignores
  if (predictor?.type === 'command') {
    if (!given('predictor', 'command')) {
      sink.fieldError([i, 'predictor', 'command'], 'required for type command; expected the command that starts your HTTP server (a string or a list of strings); it must listen on $PORT')
    }
  } else if (predictor?.type !== undefined) {
    if (!given('predictor', 'path')) {
      const what = predictor.type === 'python' ? 'the file that defines your PythonPredictor class' : 'the predictor file'
      sink.fieldError([i, 'predictor', 'path'], `required for type ${predictor.type}; expected ${what}, relative to this file (e.g. predictor.py)`)
    }
    for (const field of ['command', 'readiness_path', 'predict_path']) {
      if (given('predictor', field)) {
        sink.fieldWarning([i, 'predictor', field], `is only used with type command; it is ignored for type ${predictor.type}`, 'key')
      }
    }
  }
  if (predictor?.type !== undefined && (CORTEX_ONLY_PREDICTOR_TYPES as readonly string[]).includes(predictor.type)) {
    sink.fieldWarning(
      [i, 'predictor', 'type'],
      `${predictor.type} is a Cortex predictor type mlserve does not serve; the file loads, but validate and run refuse this API (use type python or command)`,
    )
  }
  const batching = predictor?.server_side_batching
  const threads = predictor?.threads_per_process
  if (batching && threads !== undefined && predictor?.type === 'python' && threads < batching.max_batch_size) {
    sink.fieldWarning(
      [i, 'predictor', 'server_side_batching', 'max_batch_size'],
      `${batching.max_batch_size} is greater than threads_per_process (${threads}); each thread holds one request of a batch, so a batch cannot fill and waits out batch_interval (Cortex required threads_per_process = max_batch_size for python predictors)`,
    )
  }

  // An AsyncAPI's POST answers a job id, so there is no prediction for the gateway to cache.
  if (predictor?.cache && normalized.data.kind === 'AsyncAPI') {
    sink.fieldWarning([i, 'predictor', 'cache'], 'is ignored for an AsyncAPI: its POST answers a job id, not a prediction (serve the model as a RealtimeAPI to cache its answers)', 'key')
  }

  // autoscaling
  if (!autoscaling) return
  const a = autoscaling
  const {min_replicas: min, max_replicas: max} = a
  const init = a.init_replicas ?? min
  if (min !== undefined && max !== undefined && min > max) {
    const path: Path = given('autoscaling', 'min_replicas') ? [i, 'autoscaling', 'min_replicas'] : [i, 'autoscaling', 'max_replicas']
    sink.fieldError(path, `min_replicas (${min}) is greater than max_replicas (${max}); min_replicas must be ≤ max_replicas`)
  } else if (init !== undefined && min !== undefined && max !== undefined && (init < min || init > max)) {
    const path: Path = given('autoscaling', 'init_replicas') ? [i, 'autoscaling', 'init_replicas'] : [i, 'autoscaling']
    sink.fieldError(path, `init_replicas (${init}) must be between min_replicas (${min}) and max_replicas (${max})`)
  }
  const explicit = given('autoscaling', 'target_replica_concurrency')
  const processes = predictor?.processes_per_replica
  const derived = processes !== undefined && threads !== undefined ? processes * threads : undefined
  const target = explicit ? a.target_replica_concurrency : derived
  const cap = a.max_replica_concurrency
  /** Where a target problem is reported: the target when the file sets it, else the field its default comes from. */
  const targetPath = (): Path =>
    explicit
      ? [i, 'autoscaling', 'target_replica_concurrency']
      : given('autoscaling', 'max_replica_concurrency')
        ? [i, 'autoscaling', 'max_replica_concurrency']
        : [i, 'predictor', given('predictor', 'threads_per_process') ? 'threads_per_process' : 'processes_per_replica']
  if (target === undefined || cap === undefined) return
  // An AsyncAPI scales on its job backlog, which no cap bounds: cortex#933 does not apply to it.
  if (normalized.data.kind === 'AsyncAPI') {
    if (target > cap) sink.fieldError(targetPath(), `target_replica_concurrency (${target}) is greater than max_replica_concurrency (${cap}); raise autoscaling.max_replica_concurrency or lower the target`)
    return
  }
  // cortex#933: a replica sheds past max_replica_concurrency, so its in-flight count never exceeds the
  // cap; with the target at or above it, in-flight / target never asks for more replicas.
  if (target >= cap) {
    const path = targetPath()
    const what = explicit
      ? `target_replica_concurrency (${target})`
      : `target_replica_concurrency (${target}, its default: processes_per_replica × threads_per_process = ${processes} × ${threads})`
    // The effective max_replicas: written or its default (100), `mlserve run` autoscales whenever it is above min_replicas.
    const scales = min !== undefined && max !== undefined && max > min
    const range = scales ? `; it autoscales from min_replicas (${min}) to max_replicas (${max}${given('autoscaling', 'max_replicas') ? '' : ', its default'})` : ''
    const message =
      `${what} ${target > cap ? 'is greater than' : 'equals'} max_replica_concurrency (${cap}), so the autoscaler can never scale this API up ` +
      `(a replica answers 503 past ${plural(cap, 'request')} in flight, so their average never exceeds the target; cortex#933)${range}. ` +
      `Lower autoscaling.target_replica_concurrency below ${cap} (e.g. ${formatNumber(cap / 2)}), raise autoscaling.max_replica_concurrency above ${formatNumber(target)}, ` +
      `or set autoscaling.max_replicas to min_replicas${min === undefined ? '' : ` (${min})`} to turn autoscaling off`
    // Above the cap is always wrong; at the cap it matters only where the API autoscales (max_replicas above min_replicas).
    if (target > cap || scales) sink.fieldError(path, message)
    else sink.fieldWarning(path, `${message} (a warning: max_replicas equals min_replicas, so this API does not autoscale)`)
  }
}

function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Math.round(n * 100) / 100)
}

function checkSplitter(api: TrafficSplitterConfig, i: number, realtime: Set<string>, splitters: Set<string>, sink: IssueSink, asyncs = new Set<string>()): void {
  const sum = api.apis.filter((e) => !e.shadow).reduce((total, e) => total + e.weight, 0)
  if (sum !== 100) {
    sink.fieldError([i, 'apis'], `the weights of the non-shadow APIs add up to ${sum}; they must add up to 100`, 'key')
  }
  let shadows = 0
  const seen = new Set<string>()
  api.apis.forEach((entry, j) => {
    if (entry.shadow && ++shadows > 1) {
      sink.fieldError([i, 'apis', j, 'shadow'], 'a TrafficSplitter can have at most one shadow API')
    }
    if (entry.shadow_percent !== undefined && !entry.shadow) {
      sink.fieldError([i, 'apis', j, 'shadow_percent'], 'shadow_percent applies only to the shadow API; add shadow: true to this entry, or remove shadow_percent')
    }
    if (seen.has(entry.name)) {
      sink.fieldError([i, 'apis', j, 'name'], `${JSON.stringify(entry.name)} is listed more than once`)
      return
    }
    seen.add(entry.name)
    if (realtime.has(entry.name)) return
    if (splitters.has(entry.name) || asyncs.has(entry.name)) {
      const kind = asyncs.has(entry.name) ? 'an AsyncAPI' : 'a TrafficSplitter'
      sink.fieldError([i, 'apis', j, 'name'], `${JSON.stringify(entry.name)} is ${kind}; a TrafficSplitter routes to RealtimeAPIs only`)
    } else if (realtime.size === 0) {
      // Cortex let a splitter be deployed apart from its APIs; mlserve can only route to APIs in this file.
      sink.fieldWarning(
        [i, 'apis', j, 'name'],
        `${JSON.stringify(entry.name)} is not defined in this file; mlserve routes only to RealtimeAPIs defined in the same file`,
      )
    } else {
      const guess = suggest(entry.name, [...realtime])
      sink.fieldError(
        [i, 'apis', j, 'name'],
        `no RealtimeAPI named ${JSON.stringify(entry.name)} in this file; ${guess ? `did you mean '${guess}'?` : `expected one of: ${[...realtime].join(', ')}`}`,
      )
    }
  })
}

function checkUniqueNames(names: Array<{index: number; name: string}>, sink: IssueSink): void {
  const first = new Map<string, number>()
  for (const {index, name} of names) {
    const earlier = first.get(name)
    if (earlier === undefined) first.set(name, index)
    else sink.error([index, 'name'], 'value', (show) => `${show([index, 'name'])}: ${JSON.stringify(name)} is already the name of ${show([earlier])}; API names must be unique`)
  }
}

/**
 * The gateway serves each RealtimeAPI's and TrafficSplitter's batch endpoint
 * at <endpoint>/batch (the endpoint / has /batch; docs/batch.md), so no other
 * API may take that path.
 */
function checkBatchEndpoints(apis: CheckedApi[], sink: IssueSink): void {
  const batchPaths = new Map<string, CheckedApi>()
  for (const api of apis) {
    if (api.config.kind === 'AsyncAPI') continue
    const endpoint = api.config.networking.endpoint
    batchPaths.set(endpoint === '/' ? '/batch' : `${endpoint}/batch`, api)
  }
  for (const api of apis) {
    const owner = batchPaths.get(api.config.networking.endpoint)
    if (!owner || owner === api) continue
    const i = api.normalized.index
    const explicit = isPlainObject(api.normalized.data.networking) && api.normalized.data.networking.endpoint !== undefined
    const path: Path = explicit ? [i, 'networking', 'endpoint'] : [i, 'name']
    sink.error(
      path,
      'value',
      (show) => `${show(path)}: endpoint ${api.config.networking.endpoint} is the batch endpoint of ${show([owner.normalized.index])}; choose another endpoint (or name) for this API`,
    )
  }
}

function checkUniqueEndpoints(apis: CheckedApi[], sink: IssueSink): void {
  const first = new Map<string, CheckedApi>()
  for (const api of apis) {
    const endpoint = api.config.networking.endpoint
    const earlier = first.get(endpoint)
    if (!earlier) {
      first.set(endpoint, api)
      continue
    }
    if (earlier.config.name === api.config.name) continue // reported as a duplicate name
    const i = api.normalized.index
    const explicit = isPlainObject(api.normalized.data.networking) && api.normalized.data.networking.endpoint !== undefined
    const path: Path = explicit ? [i, 'networking', 'endpoint'] : [i, 'name']
    sink.error(path, 'value', (show) => `${show(path)}: endpoint ${endpoint} is already used by ${show([earlier.normalized.index])}; endpoints must be unique`)
  }
}
