// The internal shape of config errors and warnings before they are located in
// the file: a path into the normalized API list ([apiIndex, 'predictor', …]),
// whether it points at a key or a value, and a text renderer that is given
// `show` to print paths the way the user wrote them.

export type PathSegment = string | number
export type Path = readonly PathSegment[]

/** Renders a path for humans: `predictor.threads_per_process`, or `api "iris" › predictor…` in list files. */
export type Show = (path: Path) => string

export interface RawIssue {
  path: Path
  /** 'key' points at the key of the last segment (unknown keys); 'value' at its value. */
  at: 'key' | 'value'
  /** The message after the location. */
  text: (show: Show) => string
}

export class IssueSink {
  readonly errors: RawIssue[] = []
  readonly warnings: RawIssue[] = []

  error(path: Path, at: RawIssue['at'], text: RawIssue['text']): void {
    this.errors.push({path, at, text})
  }

  warn(path: Path, at: RawIssue['at'], text: RawIssue['text']): void {
    this.warnings.push({path, at, text})
  }

  /** An error whose message is `<path>: <message>`. */
  fieldError(path: Path, message: string, at: RawIssue['at'] = 'value'): void {
    this.error(path, at, (show) => `${show(path)}: ${message}`)
  }

  fieldWarning(path: Path, message: string, at: RawIssue['at'] = 'value'): void {
    this.warn(path, at, (show) => `${show(path)}: ${message}`)
  }
}

/**
 * A mapping as YAML gives it: an object whose prototype is Object's (or none).
 * Binary data, sets, dates and maps are objects too, but not mappings.
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value) as unknown
  return proto === Object.prototype || proto === null
}

/** The value at `path` inside `root`, or undefined. */
export function getAt(root: unknown, path: Path): unknown {
  let node: unknown = root
  for (const segment of path) {
    if (Array.isArray(node) && typeof segment === 'number') node = node[segment]
    else if (isPlainObject(node) && Object.hasOwn(node, segment)) node = node[String(segment)]
    else return undefined
  }
  return node
}

/** `"two" (a string)`, `5 (a number)`, `a list`, `a mapping`, `null`. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing'
  if (value === null) return 'null (an empty value)'
  if (typeof value === 'string') {
    const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value
    return `${JSON.stringify(shown)} (a string)`
  }
  if (typeof value === 'number') return `${value} (a number)`
  if (typeof value === 'boolean') return `${value} (a boolean)`
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list'
  if (isPlainObject(value)) return 'a mapping'
  if (value instanceof Uint8Array) return 'binary data'
  if (value instanceof Date) return 'a timestamp'
  if (value instanceof Set) return 'a set'
  if (value instanceof Map) return 'an ordered mapping'
  return `a value of type ${typeof value}`
}
