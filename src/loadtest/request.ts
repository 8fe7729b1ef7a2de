// What each load-test request carries: method, headers and bodies. --data may
// be inline JSON, @FILE (one body), @FILE.ndjson / .jsonl (one body per line),
// or a directory (@DIR or DIR: one body per file, in name order). Bodies are
// sent round robin.
import {readdir, readFile, stat} from 'node:fs/promises'
import {extname, join} from 'node:path'
import {mlserveError} from '../errors.js'
import type {RequestSource} from './types.js'

export interface RequestSourceInput {
  /** The --data value, if any. */
  data?: string
  /** Default: POST when there is data, else GET. */
  method?: string
  /** "Name: value" strings. */
  headers?: string[]
  /** Send this JSON body when no data is given (the `--api` target always takes a POST). */
  defaultBody?: string
}

const NDJSON = new Set(['.ndjson', '.jsonl'])

export async function loadRequestSource(input: RequestSourceInput): Promise<RequestSource> {
  const headers = parseHeaders(input.headers ?? [])
  let bodies: Buffer[] = []
  let description = 'none'
  let json = true
  if (input.data !== undefined) {
    ;({bodies, description, json} = await readData(input.data))
  } else if (input.defaultBody !== undefined) {
    bodies = [Buffer.from(input.defaultBody)]
    description = `default ${input.defaultBody}`
  }
  if (bodies.length > 0 && !hasHeader(headers, 'content-type')) {
    headers['content-type'] = json ? 'application/json' : 'application/octet-stream'
  }
  const method = (input.method ?? (bodies.length > 0 ? 'POST' : 'GET')).toUpperCase()
  if (!/^[A-Z]+$/.test(method)) throw mlserveError('MLS_INVALID_FLAG', {flag: '--method', value: method, expected: 'an HTTP method such as GET or POST'})
  return {method, headers, bodies, description}
}

/** The body of the i-th request (round robin), or undefined when there are none. */
export function bodyAt(source: RequestSource, i: number): Buffer | undefined {
  const n = source.bodies.length
  return n === 0 ? undefined : source.bodies[i % n]
}

export function parseHeaders(lines: string[]): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    const name = line.slice(0, colon).trim()
    if (colon <= 0 || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      throw mlserveError('MLS_INVALID_FLAG', {flag: '--header', value: line, expected: '"Name: value"'})
    }
    headers[name.toLowerCase()] = line.slice(colon + 1).trim()
  }
  return headers
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((key) => key.toLowerCase() === name)
}

async function readData(data: string): Promise<{bodies: Buffer[]; description: string; json: boolean}> {
  const path = data.startsWith('@') ? data.slice(1) : null
  if (path === null) {
    // Inline JSON, unless it names an existing directory.
    const asDir = await stat(data).then((s) => s.isDirectory(), () => false)
    if (asDir) return readDirectory(data)
    try {
      JSON.parse(data)
    } catch (error) {
      throw mlserveError('MLS_LOADTEST_DATA_INVALID', {detail: `not valid JSON (${(error as Error).message})`})
    }
    return {bodies: [Buffer.from(data)], description: 'inline JSON', json: true}
  }
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    throw mlserveError('MLS_LOADTEST_DATA_INVALID', {detail: `cannot read ${path}: ${error.code ?? error.message}`})
  })
  if (info.isDirectory()) return readDirectory(path)
  const content = await readFile(path)
  if (NDJSON.has(extname(path).toLowerCase())) {
    const lines = content.toString('utf8').split(/\r?\n/).filter((line) => line.trim() !== '')
    if (lines.length === 0) throw mlserveError('MLS_LOADTEST_DATA_INVALID', {detail: `${path} has no lines`})
    lines.forEach((line, i) => {
      try {
        JSON.parse(line)
      } catch (error) {
        throw mlserveError('MLS_LOADTEST_DATA_INVALID', {detail: `${path} line ${i + 1} is not valid JSON (${(error as Error).message})`})
      }
    })
    return {bodies: lines.map((line) => Buffer.from(line)), description: `${path} (${lines.length} lines)`, json: true}
  }
  return {bodies: [content], description: path, json: isJson(content)}
}

async function readDirectory(dir: string): Promise<{bodies: Buffer[]; description: string; json: boolean}> {
  const entries = (await readdir(dir, {withFileTypes: true})).filter((e) => e.isFile() && !e.name.startsWith('.')).map((e) => e.name).sort()
  if (entries.length === 0) throw mlserveError('MLS_LOADTEST_DATA_INVALID', {detail: `${dir} holds no files`})
  const bodies = await Promise.all(entries.map((name) => readFile(join(dir, name))))
  return {bodies, description: `${dir} (${bodies.length} files)`, json: bodies.every(isJson)}
}

function isJson(content: Buffer): boolean {
  try {
    JSON.parse(content.toString('utf8'))
    return true
  } catch {
    return false
  }
}
