// The JSON Schema (draft 2020-12) of mlserve.yaml, for editor support through
// the `# yaml-language-server: $schema=…` header that every generated file
// starts with. Generated from the zod schema, then adjusted for what zod cannot
// express: `handler` as an alias of `predictor`, and the Cortex fields that are
// accepted but ignored (marked deprecated so editors show them struck through).
import {z} from 'zod'
import {unimplementedFieldList} from './compat.js'
import {AsyncApiInputSchema, RealtimeApiInputSchema, TrafficSplitterInputSchema} from './schema.js'

/**
 * Where the published schema lives. Users can also run
 * `mlserve schema > mlserve.schema.json` and point the header at that file.
 */
export const SCHEMA_URL = 'https://mlserve.dev/schema/mlserve.schema.json'

/** The first line of every config file mlserve generates. */
export const SCHEMA_HEADER = `# yaml-language-server: $schema=${SCHEMA_URL}`

type JsonObject = Record<string, unknown>

const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value)

export function configJsonSchema(): object {
  const realtime = toJson(RealtimeApiInputSchema)
  const splitter = toJson(TrafficSplitterInputSchema)
  addHandlerAlias(realtime)
  addIgnoredCortexFields(realtime, 'RealtimeAPI')
  addIgnoredCortexFields(splitter, 'TrafficSplitter')
  const asyncApi = toJson(AsyncApiInputSchema)
  addHandlerAlias(asyncApi)
  addIgnoredCortexFields(asyncApi, 'RealtimeAPI')
  const api = {anyOf: [{$ref: '#/$defs/RealtimeAPI'}, {$ref: '#/$defs/TrafficSplitter'}, {$ref: '#/$defs/AsyncAPI'}]}
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: SCHEMA_URL,
    title: 'mlserve.yaml',
    description:
      'mlserve API configuration: one API (a mapping) or a list of APIs, in the Cortex RealtimeAPI / TrafficSplitter / AsyncAPI format (v0.20–v0.35) plus a `build` section. See docs/config.md.',
    anyOf: [api, {type: 'array', minItems: 1, items: api}],
    $defs: {RealtimeAPI: realtime, TrafficSplitter: splitter, AsyncAPI: asyncApi},
  }
}

function toJson(schema: z.ZodType): JsonObject {
  const json = z.toJSONSchema(schema, {io: 'input', unrepresentable: 'any', target: 'draft-2020-12'}) as JsonObject
  delete json.$schema
  return tidy(json) as JsonObject
}

/** Drops zod's ±MAX_SAFE_INTEGER bounds on integers, which only add noise. */
function tidy(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(tidy)
  if (!isObject(node)) return node
  const out: JsonObject = {}
  for (const [key, value] of Object.entries(node)) {
    if ((key === 'maximum' && value === Number.MAX_SAFE_INTEGER) || (key === 'minimum' && value === Number.MIN_SAFE_INTEGER)) continue
    out[key] = tidy(value)
  }
  return out
}

function addHandlerAlias(realtime: JsonObject): void {
  const properties = realtime.properties as JsonObject
  const predictor = properties.predictor as JsonObject
  properties.handler = {...structuredClone(predictor), description: 'Cortex v0.34+ name for `predictor`; give one or the other.'}
  realtime.required = (realtime.required as string[]).filter((key) => key !== 'predictor')
  realtime.oneOf = [{required: ['predictor']}, {required: ['handler']}]
}

function addIgnoredCortexFields(schema: JsonObject, kind: string): void {
  for (const {section, key, entry} of unimplementedFieldList()) {
    if (entry.keep) continue // typed in the zod schema already
    const [sectionKind, ...rest] = section.split('.')
    if (sectionKind !== kind) continue
    const targets = rest.length === 0 ? [schema] : sectionSchemas(schema, rest[0])
    for (const target of targets) {
      const properties = (target.properties ??= {}) as JsonObject
      properties[key] = {
        deprecated: true,
        description: `Cortex field; accepted and ignored by mlserve${entry.hint ? ` (${entry.hint})` : ''}.`,
      }
    }
  }
}

function sectionSchemas(schema: JsonObject, key: string): JsonObject[] {
  const properties = schema.properties as JsonObject
  const keys = key === 'predictor' ? ['predictor', 'handler'] : [key]
  return keys.map((k) => properties[k]).filter(isObject).map((section) => (isObject(section.properties) ? section : ((section.anyOf as JsonObject[] | undefined)?.find((s) => isObject(s.properties)) ?? section)))
}
