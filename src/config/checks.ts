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
    if (api.config.kind === 'RealtimeAPI') checkRealtime(api.config, api.normalized, sink)
  }
  checkUniqueNames(names, sink)
  checkUniqueEndpoints(apis, sink)
  const realtime = new Set(apis.filter((a) => a.config.kind === 'RealtimeAPI').map((a) => a.config.name))
  const splitters = new Set(apis.filter((a) => a.config.kind === 'TrafficSplitter').map((a) => a.config.name))
  for (const api of apis) {
    if (api.config.kind === 'TrafficSplitter') checkSplitter(api.config, api.normalized.index, realtime, splitters, sink)
  }
}

function checkName(index: number, name: string, sink: IssueSink): void {
  if (isDns1123Label(name)) return
  sink.fieldError(
    [index, 'name'],
    `${JSON.stringify(name)} is not a valid API name: names are DNS-1123 labels (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters); use "${toDns1123Label(name)}"`,
  )
}

/** The sections of a RealtimeAPI that validated (all of them, or some when others have errors). */
export interface RealtimeParts {
  predictor?: PredictorConfig
  autoscaling?: z.output<typeof AutoscalingSchema>
}

/** Checks a RealtimeAPI whose schema validation failed, on the sections that did validate. */
export function checkRealtimeSections(normalized: NormalizedApi, sink: IssueSink): void {
  const predictor = PredictorSchema.safeParse(normalized.data.predictor)
  const autoscaling = AutoscalingSchema.safeParse(normalized.data.autoscaling ?? {})
  checkRealtime({predictor: predictor.data, autoscaling: autoscaling.data}, normalized, sink)
}

function checkRealtime(parts: RealtimeParts, normalized: NormalizedApi, sink: IssueSink): void {
  const i = normalized.index
  const given = (...path: string[]): boolean => getAt(normalized.data, path) !== undefined
  const {predictor, autoscaling} = parts

  // predictor: which fields each type needs or ignores
  if (predictor?.type === 'command') {
    if (predictor.command === undefined) {
      sink.fieldError([i, 'predictor', 'command'], 'required for type command; expected the command that starts your HTTP server (a string or a list of strings); it must listen on $PORT')
    }
  } else if (predictor) {
    if (predictor.path === undefined) {
      const what = predictor.type === 'python' ? 'the file that defines your PythonPredictor class' : 'the predictor file'
      sink.fieldError([i, 'predictor', 'path'], `required for type ${predictor.type}; expected ${what}, relative to this file (e.g. predictor.py)`)
    }
    for (const field of ['command', 'readiness_path', 'predict_path']) {
      if (given('predictor', field)) {
        sink.fieldWarning([i, 'predictor', field], `is only used with type command; it is ignored for type ${predictor.type}`, 'key')
      }
    }
  }
  if (predictor && (CORTEX_ONLY_PREDICTOR_TYPES as readonly string[]).includes(predictor.type)) {
    sink.fieldWarning(
      [i, 'predictor', 'type'],
      `${predictor.type} is a Cortex predictor type mlserve does not serve; the file loads, but running this API fails (use type python or command)`,
    )
  }
  const batching = predictor?.server_side_batching
  if (predictor && batching && predictor.type === 'python' && predictor.threads_per_process < batching.max_batch_size) {
    sink.fieldWarning(
      [i, 'predictor', 'server_side_batching', 'max_batch_size'],
      `${batching.max_batch_size} is greater than threads_per_process (${predictor.threads_per_process}); each thread holds one request of a batch, so a batch cannot fill and waits out batch_interval (Cortex required threads_per_process = max_batch_size for python predictors)`,
    )
  }

  // autoscaling
  if (!autoscaling) return
  const a = autoscaling
  const init = a.init_replicas ?? a.min_replicas
  if (a.min_replicas > a.max_replicas) {
    const path: Path = given('autoscaling', 'min_replicas') ? [i, 'autoscaling', 'min_replicas'] : [i, 'autoscaling', 'max_replicas']
    sink.fieldError(path, `min_replicas (${a.min_replicas}) is greater than max_replicas (${a.max_replicas}); min_replicas must be ≤ max_replicas`)
  } else if (init < a.min_replicas || init > a.max_replicas) {
    const path: Path = given('autoscaling', 'init_replicas') ? [i, 'autoscaling', 'init_replicas'] : [i, 'autoscaling']
    sink.fieldError(path, `init_replicas (${init}) must be between min_replicas (${a.min_replicas}) and max_replicas (${a.max_replicas})`)
  }
  const explicit = given('autoscaling', 'target_replica_concurrency')
  const target = a.target_replica_concurrency ?? (predictor ? predictor.processes_per_replica * predictor.threads_per_process : undefined)
  if (target === undefined) return
  if (target > a.max_replica_concurrency) {
    const path: Path = explicit
      ? [i, 'autoscaling', 'target_replica_concurrency']
      : given('autoscaling', 'max_replica_concurrency')
        ? [i, 'autoscaling', 'max_replica_concurrency']
        : [i, 'predictor', given('predictor', 'threads_per_process') ? 'threads_per_process' : 'processes_per_replica']
    const what = explicit
      ? `target_replica_concurrency (${target})`
      : `target_replica_concurrency (${target}, its default: processes_per_replica × threads_per_process = ${predictor!.processes_per_replica} × ${predictor!.threads_per_process})`
    sink.fieldError(path, `${what} is greater than max_replica_concurrency (${a.max_replica_concurrency}); raise autoscaling.max_replica_concurrency or lower the target`)
  }
}

function checkSplitter(api: TrafficSplitterConfig, i: number, realtime: Set<string>, splitters: Set<string>, sink: IssueSink): void {
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
    if (seen.has(entry.name)) {
      sink.fieldError([i, 'apis', j, 'name'], `${JSON.stringify(entry.name)} is listed more than once`)
      return
    }
    seen.add(entry.name)
    if (realtime.has(entry.name)) return
    if (splitters.has(entry.name)) {
      sink.fieldError([i, 'apis', j, 'name'], `${JSON.stringify(entry.name)} is a TrafficSplitter; a TrafficSplitter routes to RealtimeAPIs only`)
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
