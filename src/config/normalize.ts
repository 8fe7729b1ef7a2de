// Prepares one API entry for schema validation: decides its kind, turns the
// `handler` alias into `predictor`, drops empty sections, and walks every key:
// implemented keys stay, Cortex fields mlserve ignores get a warning (compat.ts),
// fields it parses but does not act on yet get a warning too, and anything else
// is an "unknown key … did you mean …" error.
import {CORTEX_UNIMPLEMENTED, CORTEX_UNIMPLEMENTED_KINDS, NOT_YET_ACTED_ON, notActedOnMessage, unimplementedMessage} from './compat.js'
import {describeValue, isPlainObject, type IssueSink, type Path} from './issues.js'
import {API_KINDS, KEY_SPECS, type ApiKind, type KeySpec} from './schema.js'
import {suggest} from './suggest.js'

export interface NormalizedApi {
  index: number
  kind: ApiKind
  /** A deep copy of the entry with unknown and ignored keys removed and `handler` renamed. */
  data: Record<string, unknown>
  /** The entry spelt its predictor section `handler` (Cortex v0.34+). */
  handlerAlias: boolean
}

export function normalizeApi(item: unknown, index: number, sink: IssueSink): NormalizedApi | undefined {
  const root: Path = [index]
  if (!isPlainObject(item)) {
    sink.error(root, 'value', (show) => `${show(root)}: expected a mapping (an API with name, kind, predictor, …), found ${describeValue(item)}`)
    return undefined
  }
  const kind = resolveKind(item.kind, index, sink)
  if (kind === undefined) return undefined

  const data = structuredClone(item)
  let handlerAlias = false
  const served = kind === 'RealtimeAPI' || kind === 'AsyncAPI'
  if (served && Object.hasOwn(data, 'handler')) {
    if (Object.hasOwn(data, 'predictor')) {
      sink.fieldError([index, 'handler'], "both predictor and handler are given; keep one (handler is Cortex v0.34's name for predictor)", 'key')
    } else {
      data.predictor = data.handler
      handlerAlias = true
    }
    delete data.handler
  }
  // An AsyncAPI has a RealtimeAPI's sections, so it shares its Cortex compatibility tables.
  walk(data, KEY_SPECS[kind], kind === 'AsyncAPI' ? 'RealtimeAPI' : kind, root, sink, served ? ['handler'] : [])
  // After walk, which reports __proto__ in a known section as an unknown key: what is left is in config or env.
  dropProtoKeys(data, root, sink)
  return {index, kind, data, handlerAlias}
}

function resolveKind(kind: unknown, index: number, sink: IssueSink): ApiKind | undefined {
  const path: Path = [index, 'kind']
  if (kind === undefined || kind === null) return 'RealtimeAPI'
  if (typeof kind === 'string' && (API_KINDS as readonly string[]).includes(kind)) return kind as ApiKind
  if (typeof kind === 'string' && CORTEX_UNIMPLEMENTED_KINDS.includes(kind)) {
    sink.warn(path, 'value', (show) => `${show([index])}: kind ${kind} is a Cortex kind mlserve does not implement; this API is ignored`)
    return undefined
  }
  const guess = typeof kind === 'string' ? suggest(kind, API_KINDS) : undefined
  sink.fieldError(path, `expected one of ${API_KINDS.join(', ')}, found ${describeValue(kind)}${guess ? `; did you mean '${guess}'?` : ''}`)
  return undefined
}

function walk(obj: Record<string, unknown>, spec: KeySpec, section: string, path: Path, sink: IssueSink, extraCandidates: string[] = []): void {
  // Every lookup below is by own property: a key named toString, constructor or
  // __proto__ is a key like any other, never something inherited from Object.
  const unimplemented = ownEntry(CORTEX_UNIMPLEMENTED, section) ?? {}
  const notActedOn = ownEntry(NOT_YET_ACTED_ON, section) ?? {}
  for (const key of Object.keys(obj)) {
    const value = obj[key]
    const keyPath: Path = [...path, key]
    const ignored = ownEntry(unimplemented, key)
    if (ignored) {
      if (!ignored.when || ignored.when(value)) {
        sink.warn(keyPath, 'key', (show) => unimplementedMessage(show(keyPath), ignored))
      }
      if (!ignored.keep) {
        delete obj[key]
        continue
      }
    } else if (!spec.keys.includes(key)) {
      const candidates = [...spec.keys, ...Object.keys(unimplemented), ...extraCandidates]
      const guess = suggest(key, candidates)
      sink.error(keyPath, 'key', (show) => {
        const where = show(path)
        const hint = guess ? `did you mean '${guess}'?` : `expected one of: ${spec.keys.join(', ')}`
        return `unknown key '${key}' at ${where}; ${hint}`
      })
      delete obj[key]
      continue
    }
    const pending = ownEntry(notActedOn, key)
    if (pending && value !== null && value !== undefined) {
      sink.warn(keyPath, 'key', (show) => notActedOnMessage(show(keyPath), pending))
    }
    // An empty section (`compute:` with nothing under it) means "all defaults".
    const sub = ownEntry(spec.maps, key)
    if (value === null && sub) {
      delete obj[key]
      continue
    }
    if (sub && isPlainObject(value)) walk(value, sub, `${section}.${key}`, keyPath, sink)
    const listSpec = ownEntry(spec.lists, key)
    if (listSpec && Array.isArray(value)) {
      value.forEach((entry, i) => {
        if (isPlainObject(entry)) walk(entry, listSpec, `${section}.${key}[]`, [...keyPath, i], sink)
      })
    }
  }
}

/**
 * Reports and removes every key named __proto__, free-form sections (config,
 * env) included: zod and JSON handling would drop it or, worse, make it the
 * object's prototype, so the predictor would silently miss it.
 */
function dropProtoKeys(value: unknown, path: Path, sink: IssueSink): void {
  if (Array.isArray(value)) {
    value.forEach((entry, i) => dropProtoKeys(entry, [...path, i], sink))
    return
  }
  if (!isPlainObject(value)) return
  for (const key of Object.keys(value)) {
    const keyPath: Path = [...path, key]
    if (key === '__proto__') {
      sink.error(keyPath, 'key', (show) => `${show(keyPath)}: a key named __proto__ is not accepted, even in free-form sections (JavaScript would drop it before your predictor sees it); rename it`)
      delete value[key]
      continue
    }
    dropProtoKeys(value[key], keyPath, sink)
  }
}

function ownEntry<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined
}
