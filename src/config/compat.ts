// Cortex compatibility: the Cortex (v0.20–v0.35) fields and kinds that mlserve
// accepts but does not implement. Each one present in a file gets one warning
// that names it and says where it is; none of them is an error, so every
// Cortex file of that era loads unchanged.

export interface UnimplementedField {
  /** Extra advice appended to the warning, e.g. what to use instead. */
  hint?: string
  /**
   * true: the field stays in the typed config (it is validated, has a default
   * and is ignored); false: it is dropped before validation.
   */
  keep?: boolean
  /** Warn only when this holds for the value (e.g. compute.inf only when non-zero). */
  when?: (value: unknown) => boolean
}

const MODEL_HINT = "load the model in your predictor's __init__, and copy model files into the image with build.model_dir"

/**
 * Keyed by section: 'RealtimeAPI' is the top level of a RealtimeAPI,
 * 'RealtimeAPI.predictor' its predictor (or handler) section, and so on.
 */
export const CORTEX_UNIMPLEMENTED: Readonly<Record<string, Readonly<Record<string, UnimplementedField>>>> = {
  RealtimeAPI: {
    monitoring: {hint: 'mlserve loadtest and mlserve status report latency and throughput instead'},
    update_strategy: {keep: true, hint: 'mlserve does not do rolling updates'},
  },
  'RealtimeAPI.predictor': {
    models: {hint: MODEL_HINT},
    model_path: {hint: MODEL_HINT},
    signature_key: {},
    multi_model_reloading: {hint: MODEL_HINT},
    dynamic_model_loading: {hint: MODEL_HINT},
    tensorflow_serving_image: {},
    dependencies: {hint: 'use build.python_requirements and build.system_packages'},
    protobuf_path: {hint: 'mlserve serves HTTP, not gRPC'},
    image: {hint: 'use build.base_image or build.dockerfile'},
    log_level: {},
    shm_size: {hint: 'use compute.shm'},
  },
  'RealtimeAPI.compute': {
    inf: {keep: true, when: (value) => value !== 0 && value !== undefined && value !== null},
  },
  'RealtimeAPI.networking': {
    api_gateway: {keep: true},
    local_port: {hint: 'pass --port to mlserve run'},
  },
  'TrafficSplitter.networking': {
    api_gateway: {keep: true},
    local_port: {hint: 'pass --port to mlserve run'},
  },
}

/** A field mlserve validates and keeps in the typed config but does not act on yet. */
export interface NotActedOnField {
  /** What mlserve does instead, so the user knows what the file means today. */
  instead: string
}

/**
 * Fields that are parsed, validated and defaulted (so a file written for the
 * features to come is checked today) but that nothing acts on yet. Each one a
 * file gives gets a warning, on validate and on run, until it is served; remove
 * an entry when the feature lands. Keyed by section as CORTEX_UNIMPLEMENTED is.
 * Empty now: the autoscaler acts on every autoscaling field.
 */
export const NOT_YET_ACTED_ON: Readonly<Record<string, Readonly<Record<string, NotActedOnField>>>> = {}

export function notActedOnMessage(field: string, entry: NotActedOnField): string {
  return `${field} is parsed but not yet acted on: ${entry.instead}`
}

/** Cortex API kinds that mlserve skips with a warning. */
export const CORTEX_UNIMPLEMENTED_KINDS: readonly string[] = ['BatchAPI', 'TaskAPI']

export function unimplementedMessage(field: string, entry: UnimplementedField): string {
  return `${field} is a Cortex field mlserve does not implement; it is ignored${entry.hint ? ` (${entry.hint})` : ''}`
}

/** Every Cortex field mlserve accepts but ignores, as 'section.key' (for docs and the JSON Schema). */
export function unimplementedFieldList(): Array<{section: string; key: string; entry: UnimplementedField}> {
  return Object.entries(CORTEX_UNIMPLEMENTED).flatMap(([section, fields]) =>
    Object.entries(fields).map(([key, entry]) => ({section, key, entry})),
  )
}
