// The zod schema of one API in mlserve.yaml (Cortex's RealtimeAPI and
// TrafficSplitter formats plus mlserve's own `build` section).
//
// Conventions:
// - Every leaf carries an "expected" phrase as its zod error ('an integer ≥ 1');
//   load.ts renders it as "expected an integer ≥ 1, found "two" (a string)".
// - Objects are strict. Unknown keys never reach zod: normalize.ts removes them
//   first (reporting "did you mean") together with the Cortex fields mlserve
//   ignores (compat.ts), using the key lists derived here from the shapes.
// - Defaults that depend on other fields (init_replicas, target_replica_concurrency,
//   networking.endpoint) are filled by derivedDefaults, in the transforms at the end
//   of RealtimeApiSchema and AsyncApiSchema.
import {z} from 'zod'
import {
  CPU_FORMS,
  DURATION_FORMS,
  DURATION_PATTERN,
  durationHint,
  MEMORY_FORMS,
  QUANTITY_PATTERN,
  parseCpuMillicores,
  parseDurationMs,
  parseMemoryBytes,
} from './units.js'
import {LIMITS, showBytes, showDuration} from './limits.js'

// ---------------------------------------------------------------------------
// Leaf builders

function int(min: number, max?: number) {
  const phrase = max === undefined ? `an integer ≥ ${min}` : `an integer from ${min} to ${max}`
  const base = z.int({error: phrase}).min(min, {error: phrase})
  return max === undefined ? base : base.max(max, {error: phrase})
}

/** An integer ≥ min with a sanity cap (limits.ts): "an integer ≥ 1" unless the value is past the cap. */
function capped(min: number, max: number) {
  const phrase = `an integer ≥ ${min}`
  return z.int({error: phrase}).min(min, {error: phrase}).max(max, {error: `an integer ≤ ${max}`})
}

function num(bounds: {gt?: number; gte?: number; lt?: number; lte?: number}) {
  const parts: string[] = []
  if (bounds.gt !== undefined) parts.push(`> ${bounds.gt}`)
  if (bounds.gte !== undefined) parts.push(`≥ ${bounds.gte}`)
  if (bounds.lt !== undefined) parts.push(`< ${bounds.lt}`)
  const phrase = `a number ${parts.join(' and ')}`
  let schema = z.number({error: phrase})
  if (bounds.gt !== undefined) schema = schema.gt(bounds.gt, {error: phrase})
  if (bounds.gte !== undefined) schema = schema.gte(bounds.gte, {error: phrase})
  if (bounds.lt !== undefined) schema = schema.lt(bounds.lt, {error: phrase})
  if (bounds.lte !== undefined) schema = schema.lte(bounds.lte, {error: `a number ≤ ${bounds.lte}`})
  return schema
}

const text = (phrase = 'a non-empty string') => z.string({error: phrase}).min(1, {error: phrase})

const stringList = () => z.array(text(), {error: 'a list of strings'})

const urlPath = () =>
  z
    .string({error: "a URL path starting with '/'"})
    .regex(/^\/[^\s?#]*$/, {error: "a URL path starting with '/' (no spaces, '?' or '#')"})

function duration(opts: {positive?: boolean; tickMs?: number; maxMs?: number} = {}) {
  const maxMs = opts.maxMs ?? LIMITS.durationMs
  return z
    .string({error: (issue) => durationHint(issue.input) ?? DURATION_FORMS})
    .regex(new RegExp(DURATION_PATTERN), {error: (issue) => durationHint(issue.input) ?? DURATION_FORMS, abort: true})
    .superRefine((value, ctx) => {
      let ms: number
      try {
        ms = parseDurationMs(value)
      } catch {
        return // the pattern above has reported the malformed value
      }
      if (opts.positive && ms <= 0) {
        ctx.addIssue({code: 'custom', message: 'a duration greater than 0'})
      }
      if (ms > maxMs) {
        ctx.addIssue({code: 'custom', message: `a duration of at most ${showDuration(maxMs)}`})
        return
      }
      if (opts.tickMs !== undefined && (ms < opts.tickMs || ms % opts.tickMs !== 0)) {
        const tick = `${opts.tickMs / 1000}s`
        ctx.addIssue({code: 'custom', message: `a multiple of ${tick} (Cortex autoscales every ${tick}), such as 30s, 60s or 2m`})
      }
    })
}

type QuantityKind = 'cpu' | 'memory'

function quantity(kind: QuantityKind, maxBytes: number = LIMITS.memoryBytes) {
  const forms = kind === 'cpu' ? CPU_FORMS : MEMORY_FORMS
  return z
    .union([z.string().regex(new RegExp(QUANTITY_PATTERN), {error: forms}), z.number({error: forms}).nonnegative({error: forms})], {error: forms})
    .superRefine((value, ctx) => {
      if (kind === 'memory' && typeof value === 'string' && value.endsWith('m')) {
        const n = value.slice(0, -1)
        ctx.addIssue({
          code: 'custom',
          message: `${JSON.stringify(value)} means ${n} thousandths of a byte ('m' is milli); write ${n}M for megabytes or ${n}Mi for mebibytes`,
          params: {full: true},
        })
        return
      }
      let amount: number
      try {
        amount = kind === 'cpu' ? parseCpuMillicores(value) : parseMemoryBytes(value)
      } catch {
        return // the union above has reported the malformed value
      }
      if (amount <= 0) ctx.addIssue({code: 'custom', message: `${forms}, greater than 0`})
      const max = kind === 'cpu' ? LIMITS.cpuMillicores : maxBytes
      if (amount > max) {
        const most = kind === 'cpu' ? `${max / 1000} (cores)` : showBytes(max)
        ctx.addIssue({code: 'custom', message: `${kind === 'cpu' ? 'a CPU' : 'a memory'} quantity of at most ${most}`})
      }
    })
    .transform((value) => String(value))
}

const stringMap = () =>
  z
    .record(
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, {error: 'an environment variable name (letters, digits and _, not starting with a digit)'}),
      z.union([z.string(), z.number(), z.boolean()], {error: 'a string (numbers and booleans are turned into strings)'}).transform(String),
      {error: 'a mapping of names to string values'},
    )
    .nullish()
    .transform((value): Record<string, string> => value ?? {})

// ---------------------------------------------------------------------------
// Sections

/** Predictor types mlserve serves. */
export const SERVED_PREDICTOR_TYPES = ['python', 'command'] as const
/** Cortex predictor types that load (so Cortex files validate) but are refused when run. */
export const CORTEX_ONLY_PREDICTOR_TYPES = ['tensorflow', 'onnx'] as const
export const PREDICTOR_TYPES = [...SERVED_PREDICTOR_TYPES, ...CORTEX_ONLY_PREDICTOR_TYPES] as const

export const ServerSideBatchingSchema = z
  .strictObject(
    {
      max_batch_size: capped(1, LIMITS.maxBatchSize).meta({description: 'The maximum number of requests to aggregate before running inference.'}),
      batch_interval: duration({positive: true, maxMs: LIMITS.batchIntervalMs}).meta({
        description: 'The maximum time to wait for more requests before running inference on the batch received so far (e.g. 100ms).',
      }),
    },
    {error: 'a mapping with max_batch_size and batch_interval'},
  )
  .meta({description: 'Server-side batching: a batch runs when max_batch_size requests have arrived or batch_interval has passed since the first one. Both fields are required.'})

export const PredictorCacheSchema = z
  .strictObject(
    {
      max_entries: capped(1, LIMITS.cacheEntries).default(10_000).meta({description: 'The most answers kept; past it the least recently used leaves first.'}),
      max_bytes: quantity('memory', LIMITS.cacheBytes).default('64Mi').meta({
        description: 'The most bytes of request keys and answer bodies kept, e.g. 64Mi or 1Gi; past it the least recently used leave first.',
      }),
      ttl: duration({positive: true, maxMs: LIMITS.cacheTtlMs}).default('5m').meta({description: 'How long an answer may be served from the cache after it was stored, e.g. 30s, 5m or 1h.'}),
    },
    {error: 'a mapping with max_entries, max_bytes and ttl (each optional)'},
  )
  .meta({
    description:
      "mlserve: the gateway's prediction cache for this API. 200 answers to JSON bodies are kept by the body's canonical JSON; `Cache-Control: no-cache` skips the lookup. Absent: no cache.",
  })

/** predictor.batch_endpoint.max_items when not given (the section absent included). */
export const BATCH_MAX_ITEMS_DEFAULT = 1000

export const BatchEndpointSchema = z
  .strictObject(
    {
      max_items: capped(1, LIMITS.batchItems).default(BATCH_MAX_ITEMS_DEFAULT).meta({description: 'The most items one batch may hold; past it the batch is answered 413.'}),
    },
    {error: 'a mapping with max_items'},
  )
  .meta({
    description:
      "mlserve: the API's batch endpoint, POST <endpoint>/batch with a JSON list: duplicates are predicted once, the cache is consulted per item, the unique misses go to one replica in one call (docs/batch.md). Absent: served with max_items 1000.",
  })

export const PredictorSchema = z
  .strictObject(
    {
      type: z.enum(PREDICTOR_TYPES, {error: `one of ${PREDICTOR_TYPES.join(', ')}`}).meta({
        description: 'python: a PythonPredictor class in `path`; command: your own HTTP server started by `command`. tensorflow and onnx (Cortex) load but are not served.',
      }),
      path: text().optional().meta({description: 'Path to the file that defines PythonPredictor, relative to the directory of this file (required for type python).'}),
      command: z
        .union([text(), z.array(text()).min(1)], {error: 'a command string or a non-empty list of strings'})
        .optional()
        .meta({description: 'For type command: the server to start; it must listen on $PORT. A string runs through the shell, a list runs as is.'}),
      interpreter: text().optional().meta({
        description: 'The Python executable for this API (a command predictor gets it as $MLSERVE_PYTHON). MLSERVE_PYTHON overrides it; the default is python3.',
      }),
      readiness_path: urlPath().default('/healthz').meta({description: 'For type command: the path that answers 200 once the server is ready.'}),
      predict_path: urlPath().default('/predict').meta({description: 'For type command: the path that predictions are sent to.'}),
      config: z
        .record(z.string(), z.unknown(), {error: 'a mapping'})
        .nullish()
        .transform((value): Record<string, unknown> => value ?? {})
        .meta({description: 'Passed as `config` to your predictor’s __init__.'}),
      env: stringMap().meta({description: 'Environment variables for the predictor processes.'}),
      processes_per_replica: capped(1, LIMITS.processesPerReplica).default(1).meta({description: 'The number of processes each replica runs (Cortex: 1–3 per CPU give the best throughput).'}),
      threads_per_process: capped(1, LIMITS.threadsPerProcess).default(1).meta({
        description: 'The size of each process’s thread pool; processes_per_replica × threads_per_process requests run at once in a replica.',
      }),
      server_side_batching: ServerSideBatchingSchema.optional(),
      cache: PredictorCacheSchema.optional(),
      batch_endpoint: BatchEndpointSchema.optional(),
      python_path: text().optional().meta({description: 'A directory, relative to this file, added to PYTHONPATH.'}),
    },
    {error: 'a mapping (the predictor section)'},
  )
  .meta({description: 'How each replica serves predictions (Cortex v0.34+ calls this section `handler`; both names are accepted).'})

export const ComputeSchema = z
  .strictObject(
    {
      cpu: quantity('cpu').nullable().default('200m').meta({description: "CPU reserved per replica, e.g. 200m, 1, 1.5 (null: no reservation). Default 200m."}),
      gpu: capped(0, LIMITS.devices).default(0).meta({description: 'Whole GPUs per replica.'}),
      mem: quantity('memory').nullable().default(null).meta({description: 'Memory reserved per replica, e.g. 512Mi, 2G (null: no reservation).'}),
      inf: capped(0, LIMITS.devices).default(0).meta({description: 'Cortex: AWS Inferentia chips. Accepted; mlserve does not implement it.'}),
      shm: quantity('memory').nullable().default(null).meta({description: 'Size of /dev/shm for a replica container, e.g. 1Gi (null: the container default).'}),
    },
    {error: 'a mapping (the compute section)'},
  )
  .meta({description: 'Resources each replica needs.'})

export const AutoscalingSchema = z
  .strictObject(
    {
      min_replicas: capped(1, LIMITS.replicas).default(1).meta({description: 'The minimum number of replicas.'}),
      max_replicas: capped(1, LIMITS.replicas).default(100).meta({description: 'The maximum number of replicas.'}),
      init_replicas: capped(1, LIMITS.replicas).optional().meta({description: 'The number of replicas to start with (default: min_replicas).'}),
      max_replica_concurrency: capped(1, LIMITS.replicaConcurrency).default(1024).meta({
        description: 'The maximum number of in-flight requests per replica (running plus queued); past it a replica answers 503.',
      }),
      target_replica_concurrency: num({gt: 0, lte: LIMITS.replicaConcurrency}).optional().meta({
        description: 'The desired number of in-flight requests per replica, which the autoscaler tries to keep (default: processes_per_replica × threads_per_process).',
      }),
      window: duration({tickMs: 10_000}).default('60s').meta({description: 'The time over which to average the in-flight request count; a multiple of 10s.'}),
      downscale_stabilization_period: duration().default('5m').meta({description: 'Scaling down takes the largest recommendation over this period.'}),
      upscale_stabilization_period: duration().default('1m').meta({description: 'Scaling up takes the smallest recommendation over this period.'}),
      max_downscale_factor: num({gte: 0, lt: 1}).default(0.75).meta({description: 'The most a single scale-down may shrink the replica count, as a factor.'}),
      max_upscale_factor: num({gt: 1}).default(1.5).meta({description: 'The most a single scale-up may grow the replica count, as a factor.'}),
      downscale_tolerance: num({gte: 0, lt: 1}).default(0.05).meta({description: 'Scale down only when the recommendation is below current × (1 − this).'}),
      upscale_tolerance: num({gte: 0}).default(0.05).meta({description: 'Scale up only when the recommendation is above current × (1 + this).'}),
    },
    {error: 'a mapping (the autoscaling section)'},
  )
  .meta({description: 'Cortex autoscaling settings.'})

export const NetworkingSchema = z
  .strictObject(
    {
      endpoint: urlPath().optional().meta({description: 'The URL path of the API (default: /<name>).'}),
      api_gateway: z.enum(['public', 'none'], {error: 'one of public, none'}).optional().meta({
        description: 'Cortex: whether to expose the API through AWS API Gateway. Accepted; mlserve does not implement it.',
      }),
    },
    {error: 'a mapping (the networking section)'},
  )
  .meta({description: 'How the API is reached.'})

const surge = (what = 'a whole number of replicas or a percentage from 0% to 100%') =>
  z
    .union([z.string().regex(/^(?:[0-9]+|(?:100|[0-9]{1,2})%)$/, {error: `${what}`}), z.int({error: what}).nonnegative({error: what})], {error: what})
    .transform((value) => String(value))

export const UpdateStrategySchema = z
  .strictObject(
    {
      max_surge: surge().default('25%').meta({description: 'Cortex: extra replicas allowed during a rolling update.'}),
      max_unavailable: surge().default('25%').meta({description: 'Cortex: replicas that may be unavailable during a rolling update.'}),
    },
    {error: 'a mapping (the update_strategy section)'},
  )
  .meta({description: 'Cortex rolling-update settings. Accepted and validated; mlserve does not implement rolling updates.'})

export const BuildSchema = z
  .strictObject(
    {
      base_image: text().default('python:3.11-slim').meta({description: 'The image the API’s image is built FROM.'}),
      system_packages: stringList().default([]).meta({description: 'apt packages to install in the image.'}),
      python_requirements: text().default('requirements.txt').meta({description: 'The pip requirements file, relative to this file.'}),
      model_dir: text().optional().meta({description: 'A directory holding model files, relative to this file, copied into the image.'}),
      include: stringList().optional().meta({description: 'Globs of the files to put in the build context (default: everything not excluded).'}),
      exclude: stringList().default([]).meta({description: 'Globs of files to leave out of the build context.'}),
      dockerfile: text().optional().meta({description: 'Your own Dockerfile, relative to this file, used instead of the generated one.'}),
      allow_secrets: stringList()
        .default([])
        .meta({description: 'Files (paths relative to this file) or ENV/ARG names the secrets guard should let into the image, because they are not secrets.'}),
    },
    {error: 'a mapping (the build section)'},
  )
  .meta({description: 'mlserve: how the API’s container image is built.'})

const apiName = () => text('an API name (a DNS-1123 label such as iris-classifier)').meta({description: 'The API name: lowercase letters, digits and -, at most 63 characters.'})

const RealtimeApiShape = {
  name: apiName(),
  kind: z.literal('RealtimeAPI', {error: 'RealtimeAPI'}).default('RealtimeAPI'),
  predictor: PredictorSchema,
  compute: ComputeSchema.prefault({}),
  autoscaling: AutoscalingSchema.prefault({}),
  networking: NetworkingSchema.prefault({}),
  update_strategy: UpdateStrategySchema.prefault({}),
  build: BuildSchema.prefault({}),
}

/** A RealtimeAPI as written (before derived defaults). */
export const RealtimeApiInputSchema = z
  .strictObject(RealtimeApiShape, {error: 'a mapping (an API)'})
  .meta({title: 'RealtimeAPI', description: 'An API that serves predictions over HTTP.'})

/** The sections whose defaults depend on other fields, filled; RealtimeAPI and AsyncAPI share them. */
function derivedDefaults(api: Pick<z.output<typeof RealtimeApiInputSchema>, 'name' | 'predictor' | 'autoscaling' | 'networking'>) {
  const {predictor, autoscaling, networking} = api
  return {
    autoscaling: {
      ...autoscaling,
      init_replicas: autoscaling.init_replicas ?? autoscaling.min_replicas,
      target_replica_concurrency: autoscaling.target_replica_concurrency ?? predictor.processes_per_replica * predictor.threads_per_process,
    },
    networking: {...networking, endpoint: networking.endpoint ?? `/${api.name}`},
  }
}

export const RealtimeApiSchema = RealtimeApiInputSchema.transform((api) => ({...api, ...derivedDefaults(api)}))

// AsyncAPI (Cortex's kind): a RealtimeAPI's sections plus the job queue's.

export const ASYNC_STORES = ['embedded', 'redis'] as const

/** Seven days, Cortex's retention of async results. */
const WEEK = '168h'
const YEAR_MS = 365 * 24 * 3_600_000

export const WebhookSchema = z
  .strictObject(
    {
      url: z.url({protocol: /^https?$/, error: 'an http:// or https:// URL'}).meta({description: 'Called with POST {id, status, result} (or error) when a job completes or fails.'}),
      max_retries: capped(0, 100).default(5).meta({description: 'Further tries after a failed call (no answer, or an answer other than 2xx); 0 calls once.'}),
      backoff: duration({positive: true}).default('1s').meta({description: 'The wait before the first retry; each further wait doubles.'}),
      timeout: duration({positive: true}).default('10s').meta({description: 'How long one call may take.'}),
    },
    {error: 'a mapping with url (and optionally max_retries, backoff, timeout)'},
  )
  .meta({description: "mlserve: a URL notified of each job's outcome (the seed's job_completion_notifier)."})

export const AsyncSchema = z
  .strictObject(
    {
      store: z.enum(ASYNC_STORES, {error: `one of ${ASYNC_STORES.join(', ')}`}).default('embedded').meta({
        description: "Where jobs are kept: embedded (an LMDB database in the project's .mlserve/async/<api>/, no server) or redis (a queue several runtimes share).",
      }),
      redis_url: z
        .string({error: 'a redis:// or rediss:// URL'})
        .regex(/^rediss?:\/\/\S*$/, {error: 'a redis:// or rediss:// URL'})
        .default('redis://127.0.0.1:6379')
        .meta({description: 'For store redis: the server, e.g. redis://127.0.0.1:6379/0. MLSERVE_REDIS_URL overrides it.'}),
      result_ttl: duration({positive: true, maxMs: YEAR_MS}).default(WEEK).meta({description: "How long a finished job's result is kept (Cortex: 7 days, 168h)."}),
      lease: duration({positive: true, maxMs: LIMITS.durationMs}).default('30s').meta({
        description: 'How long a job stays claimed without a heartbeat from its runtime; past it the job goes back to the queue (a runtime that died).',
      }),
      max_retries: capped(0, 100).default(3).meta({description: 'How many times a job whose runtime or replica died is queued again before it fails.'}),
      webhook: WebhookSchema.optional(),
    },
    {error: 'a mapping (the async section)'},
  )
  .meta({description: 'mlserve: the job queue of an AsyncAPI.'})

const AsyncApiShape = {
  ...RealtimeApiShape,
  kind: z.literal('AsyncAPI', {error: 'AsyncAPI'}),
  async: AsyncSchema.prefault({}),
}

/** An AsyncAPI as written (before derived defaults). */
export const AsyncApiInputSchema = z
  .strictObject(AsyncApiShape, {error: 'a mapping (an API)'})
  .meta({title: 'AsyncAPI', description: 'An API that takes jobs: a POST returns a job id at once, GET <endpoint>/<id> returns its status and result.'})

export const AsyncApiSchema = AsyncApiInputSchema.transform((api) => ({...api, ...derivedDefaults(api)}))

export const TrafficSplitEntrySchema = z.strictObject(
  {
    name: text('the name of a RealtimeAPI').meta({description: 'A RealtimeAPI that receives a share of the traffic.'}),
    weight: int(0, 100).meta({description: 'The percentage of requests it receives (non-shadow weights add up to 100).'}),
    shadow: z.boolean({error: 'true or false'}).default(false).meta({
      description:
        "A shadow API receives fire-and-forget copies of the splitter's requests; its answers are thrown away. Its weight, when above 0, is the percentage of requests copied (as in Cortex); shadow_percent overrides it. At most one.",
    }),
    shadow_percent: int(1, 100).optional().meta({
      description: 'For the shadow API only: the percentage of requests copied to it (Ray Serve\'s shadow fraction). Default: the entry\'s weight when above 0, else 100.',
    }),
  },
  {error: 'a mapping with name and weight'},
)

export const TrafficSplitterInputSchema = z
  .strictObject(
    {
      name: apiName(),
      kind: z.literal('TrafficSplitter', {error: 'TrafficSplitter'}),
      apis: z.array(TrafficSplitEntrySchema, {error: 'a list of {name, weight} entries'}).min(1, {error: 'a non-empty list of {name, weight} entries'}),
      networking: NetworkingSchema.prefault({}),
    },
    {error: 'a mapping (an API)'},
  )
  .meta({title: 'TrafficSplitter', description: 'Splits traffic between RealtimeAPIs by weight.'})

export const TrafficSplitterSchema = TrafficSplitterInputSchema.transform((api) => ({
  ...api,
  networking: {...api.networking, endpoint: api.networking.endpoint ?? `/${api.name}`},
}))

// ---------------------------------------------------------------------------
// Types (all defaults applied)

export type RealtimeApiConfig = z.output<typeof RealtimeApiSchema>
export type TrafficSplitterConfig = z.output<typeof TrafficSplitterSchema>
export type AsyncApiConfig = z.output<typeof AsyncApiSchema>
/** An API that runs replicas: a RealtimeAPI or an AsyncAPI. */
export type ServedApiConfig = RealtimeApiConfig | AsyncApiConfig
export type AsyncConfig = AsyncApiConfig['async']
export type WebhookConfig = NonNullable<AsyncConfig['webhook']>
export type ApiConfig = RealtimeApiConfig | TrafficSplitterConfig | AsyncApiConfig
export type PredictorConfig = RealtimeApiConfig['predictor']
export type ServerSideBatchingConfig = NonNullable<PredictorConfig['server_side_batching']>
export type PredictorCacheConfig = NonNullable<PredictorConfig['cache']>
export type ComputeConfig = RealtimeApiConfig['compute']
export type AutoscalingConfig = RealtimeApiConfig['autoscaling']
export type NetworkingConfig = RealtimeApiConfig['networking']
export type UpdateStrategyConfig = RealtimeApiConfig['update_strategy']
export type BuildConfig = RealtimeApiConfig['build']
export type TrafficSplitEntry = TrafficSplitterConfig['apis'][number]
export type PredictorType = PredictorConfig['type']

export const API_KINDS = ['RealtimeAPI', 'TrafficSplitter', 'AsyncAPI'] as const
export type ApiKind = (typeof API_KINDS)[number]

// ---------------------------------------------------------------------------
// Key lists for the unknown-key pass (normalize.ts)

export interface KeySpec {
  /** Keys the section accepts (implemented fields). */
  keys: readonly string[]
  /** Sub-sections that are mappings. */
  maps: Record<string, KeySpec>
  /** Sub-sections that are lists of mappings. */
  lists: Record<string, KeySpec>
}

const keysOf = (schema: {shape: Record<string, unknown>}): string[] => Object.keys(schema.shape)

const spec = (keys: string[], maps: Record<string, KeySpec> = {}, lists: Record<string, KeySpec> = {}): KeySpec => ({keys, maps, lists})

const networkingSpec = spec(keysOf(NetworkingSchema))

/** The sections of an API that runs replicas: a RealtimeAPI's, which an AsyncAPI has too. */
const servedApiSections: Record<string, KeySpec> = {
  predictor: spec(keysOf(PredictorSchema), {server_side_batching: spec(keysOf(ServerSideBatchingSchema)), cache: spec(keysOf(PredictorCacheSchema)), batch_endpoint: spec(keysOf(BatchEndpointSchema))}),
  compute: spec(keysOf(ComputeSchema)),
  autoscaling: spec(keysOf(AutoscalingSchema)),
  networking: networkingSpec,
  update_strategy: spec(keysOf(UpdateStrategySchema)),
  build: spec(keysOf(BuildSchema)),
}

export const KEY_SPECS: Record<ApiKind, KeySpec> = {
  RealtimeAPI: spec(keysOf(RealtimeApiInputSchema), servedApiSections),
  TrafficSplitter: spec(keysOf(TrafficSplitterInputSchema), {networking: networkingSpec}, {apis: spec(keysOf(TrafficSplitEntrySchema))}),
  AsyncAPI: spec(keysOf(AsyncApiInputSchema), {...servedApiSections, async: spec(keysOf(AsyncSchema), {webhook: spec(keysOf(WebhookSchema))})}),
}
