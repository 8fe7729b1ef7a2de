// Canonical JSON: one text for every body that means the same JSON value, so
// {"b":1,"a":2} and { "a": 2, "b": 1 } are one prediction-cache key (and one
// item to the batch endpoint). Object keys are sorted by UTF-16 code units
// (as RFC 8785), no whitespace is written, strings and numbers are written as
// JSON.stringify writes them (so 1.0 and 1 are the same number).
//
// JSON.parse on Node 20 cannot show a number's source text, so a number it may
// have changed (an integer past 2^53, which Python reads exactly; an overflow
// to Infinity; -0) would make two different bodies one key. A body holding one
// is keyed by its raw bytes instead: never a wrong answer, only fewer hits.
import {isUtf8} from 'node:buffer'

/** JSON with object keys sorted recursively and no whitespace. */
export function canonicalJson(value: unknown): string {
  return write(value, {lossy: false})
}

/**
 * The body's JSON value and canonical text, or null when the body is not
 * JSON (empty, not UTF-8, or not valid JSON). A body whose numbers JSON.parse
 * may have changed gets a canonical text of its raw bytes after a NUL (which
 * no canonical JSON text holds), so only the same bytes share its key.
 */
export function parseCanonical(body: Buffer): {value: unknown; canonical: string} | null {
  if (body.length === 0 || !isUtf8(body)) return null
  const text = body.toString('utf8')
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return null
  }
  const state = {lossy: false}
  const canonical = write(value, state)
  return {value, canonical: state.lossy ? `\u0000${text}` : canonical}
}

function write(value: unknown, state: {lossy: boolean}): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value)
    case 'number':
      if (!Number.isFinite(value) || Object.is(value, -0) || (Number.isInteger(value) && !Number.isSafeInteger(value))) state.lossy = true
      return JSON.stringify(value)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'object': {
      if (value === null) return 'null'
      if (Array.isArray(value)) {
        let out = '['
        for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + write(value[i], state)
        return out + ']'
      }
      const object = value as Record<string, unknown>
      const keys = Object.keys(object).sort()
      let out = '{'
      let first = true
      for (const key of keys) {
        const item = object[key]
        // As JSON.stringify: a property it would leave out is left out here too.
        if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue
        out += (first ? '' : ',') + JSON.stringify(key) + ':' + write(item, state)
        first = false
      }
      return out + '}'
    }
    default:
      // undefined, functions, symbols and bigints are not JSON values; JSON.stringify's answer (or null) keeps this total.
      return typeof value === 'bigint' ? value.toString() : 'null'
  }
}
