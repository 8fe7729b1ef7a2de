// The public API of src/config: the mlserve.yaml schema, its loader with
// located errors, Cortex compatibility, the JSON Schema and comment-keeping
// writes. This part imports nothing of ours except src/errors.ts.
export {loadProject, parseProject, findConfigFile, CONFIG_FILE_NAMES, type LoadOptions} from './load.js'
export {checkRunnable, runProblems, servedPredictorTypes} from './runnable.js'
export {realtimeApis, asyncApis, servedApis, trafficSplitters, selectApi, selectServedApi, formatWarning, displayPath, type Project, type ConfigWarning} from './project.js'
export {
  PREDICTOR_TYPES,
  SERVED_PREDICTOR_TYPES,
  CORTEX_ONLY_PREDICTOR_TYPES,
  API_KINDS,
  type ApiConfig,
  type ApiKind,
  type RealtimeApiConfig,
  type AsyncApiConfig,
  type AsyncConfig,
  type WebhookConfig,
  type ServedApiConfig,
  ASYNC_STORES,
  type TrafficSplitterConfig,
  type TrafficSplitEntry,
  type PredictorConfig,
  type PredictorType,
  type ServerSideBatchingConfig,
  BATCH_MAX_ITEMS_DEFAULT,
  type ComputeConfig,
  type AutoscalingConfig,
  type NetworkingConfig,
  type UpdateStrategyConfig,
  type BuildConfig,
} from './schema.js'
export {
  parseDurationMs,
  parseCpuMillicores,
  parseMemoryBytes,
  parseQuantity,
  isDns1123Label,
  toDns1123Label,
  DURATION_FORMS,
  CPU_FORMS,
  MEMORY_FORMS,
} from './units.js'
export {configJsonSchema, SCHEMA_URL, SCHEMA_HEADER} from './json-schema.js'
export {updateConfigFile, applyConfigEdits, writeFileAtomic, type ConfigEdit} from './write.js'
export {CORTEX_UNIMPLEMENTED, CORTEX_UNIMPLEMENTED_KINDS} from './compat.js'
export {suggest} from './suggest.js'
