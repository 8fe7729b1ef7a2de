// Reads mlserve.yaml (or a Cortex cortex.yaml), validates it and returns the
// APIs with every default applied. All errors of a file are collected, each
// located at file:line:column, and thrown together as MLS_CONFIG_INVALID.
import {readFile, stat} from 'node:fs/promises'
import {dirname, join, resolve} from 'node:path'
import {LineCounter, parseDocument, type Document} from 'yaml'
import type {z} from 'zod'
import {mlserveError, type MlserveError} from '../errors.js'
import {checkProject, checkRealtimeSections, type CheckedApi} from './checks.js'
import {describeValue, getAt, IssueSink, isPlainObject, type Path, type RawIssue} from './issues.js'
import {Locator} from './locate.js'
import {normalizeApi, type NormalizedApi} from './normalize.js'
import {displayPath, type ConfigWarning, type Project} from './project.js'
import {runProblems, type RunnableFields} from './runnable.js'
import {AsyncApiSchema, RealtimeApiSchema, TrafficSplitterSchema, type ApiConfig} from './schema.js'
import {suggest} from './suggest.js'
import {isDurationHint} from './units.js'

/** The names looked for, in order, when loadProject is given a directory. */
export const CONFIG_FILE_NAMES = ['mlserve.yaml', 'mlserve.yml', 'cortex.yaml', 'cortex.yml'] as const

/**
 * The config file for a path: the file itself, or in a directory mlserve.yaml,
 * then cortex.yaml (and their .yml spellings). Throws MLS_CONFIG_NOT_FOUND.
 */
export async function findConfigFile(pathOrDir: string): Promise<string> {
  const abs = resolve(pathOrDir)
  const info = await stat(abs).catch(() => undefined)
  if (!info) throw mlserveError('MLS_CONFIG_NOT_FOUND', {path: displayPath(abs)})
  if (!info.isDirectory()) return abs
  for (const name of CONFIG_FILE_NAMES) {
    const candidate = join(abs, name)
    const found = await stat(candidate).catch(() => undefined)
    if (found?.isFile()) return candidate
  }
  throw mlserveError('MLS_CONFIG_NOT_FOUND', {path: displayPath(abs)})
}

export interface LoadOptions {
  /**
   * Also check what a run needs (runnable.ts): a served predictor type and an
   * existing predictor file for every RealtimeAPI, reported as located errors
   * with the others. validate asks for this; commands that run one API check
   * it per API through the runtime plan instead.
   */
  runnable?: boolean
}

/** Finds, reads and validates the config file for a directory or file path. Throws MlserveError. */
export async function loadProject(pathOrDir: string, options: LoadOptions = {}): Promise<Project> {
  const file = await findConfigFile(pathOrDir)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'EISDIR' ? 'it is a directory' : (error as Error).message
    throw mlserveError('MLS_CONFIG_UNREADABLE', {file: displayPath(file), reason}, {cause: error})
  }
  return parseProject(text, file, options)
}

/** Validates config text as if it were read from `file` (which need not exist). Throws MLS_CONFIG_INVALID. */
export function parseProject(text: string, file: string, options: LoadOptions = {}): Project {
  const abs = resolve(file)
  const shown = displayPath(abs)
  const lineCounter = new LineCounter()
  // resolveKnownTags: false keeps YAML 1.1's !!binary, !!set, !!timestamp, !!omap
  // and !!pairs out: a config value is a string, number, boolean, list or mapping,
  // and any other tag is reported below as an error at its place.
  let doc: Document.Parsed
  try {
    doc = parseDocument(text, {lineCounter, keepSourceTokens: true, merge: true, prettyErrors: false, resolveKnownTags: false})
  } catch (error) {
    throw tooDeep(shown, error)
  }

  const yamlIssues = [...doc.errors, ...doc.warnings.filter((warning) => warning.code === 'TAG_RESOLVE_FAILED')]
  if (yamlIssues.length > 0) {
    const lines = yamlIssues.map((issue) => {
      const pos = issue.linePos?.[0] ?? lineCounter.linePos(issue.pos[0])
      const text =
        issue.code === 'TAG_RESOLVE_FAILED'
          ? `YAML tag not supported: ${yamlMessage(issue.message).replace(/^Unresolved tag: /, '').replace('tag:yaml.org,2002:', '!!')}; a config value is a string, number, boolean, list or mapping, so write it without the tag`
          : /Maximum call stack size exceeded/.test(issue.message)
            ? TOO_DEEP
            : `YAML syntax error: ${yamlMessage(issue.message)}`
      return {line: pos.line, column: pos.col, text}
    })
    throw invalid(shown, lines)
  }

  let root: unknown
  try {
    root = doc.toJS({maxAliasCount: 1000})
  } catch (error) {
    if (error instanceof RangeError) throw tooDeep(shown, error)
    throw invalid(shown, [{line: 1, column: 1, text: `YAML error: ${yamlMessage((error as Error).message)}`}])
  }

  const listForm = Array.isArray(root)
  if (root === null || root === undefined || (!listForm && !isPlainObject(root))) {
    const found = root === null || root === undefined ? 'an empty file' : describeValue(root)
    const pos = doc.contents?.range ? lineCounter.linePos(doc.contents.range[0]) : {line: 1, col: 1}
    throw invalid(shown, [{line: pos.line, column: pos.col, text: `expected one API (a mapping with name and predictor) or a list of APIs, found ${found}`}])
  }
  const items: unknown[] = listForm ? (root as unknown[]) : [root]
  if (items.length === 0) {
    throw invalid(shown, [{line: 1, column: 1, text: 'the list of APIs is empty; expected at least one API'}])
  }

  const sink = new IssueSink()
  const normalized: NormalizedApi[] = []
  items.forEach((item, index) => {
    const api = normalizeApi(item, index, sink)
    if (api) normalized.push(api)
  })

  const checked: CheckedApi[] = []
  const runnable: Array<{index: number; fields: RunnableFields}> = []
  for (const api of normalized) {
    const schema = api.kind === 'RealtimeAPI' ? RealtimeApiSchema : api.kind === 'AsyncAPI' ? AsyncApiSchema : TrafficSplitterSchema
    const result = schema.safeParse(api.data)
    if (result.success) {
      const config = result.data as ApiConfig
      checked.push({normalized: api, config})
      if (config.kind !== 'TrafficSplitter') runnable.push({index: api.index, fields: config})
    } else {
      for (const issue of result.error.issues) reportZodIssue(issue, api, sink)
      // Still check the sections that are valid, so one run reports as much as it can.
      if (api.kind !== 'TrafficSplitter') runnable.push({index: api.index, fields: checkRealtimeSections(api, sink)})
    }
  }
  const names = normalized.flatMap((api) => (typeof api.data.name === 'string' ? [{index: api.index, name: api.data.name}] : []))
  checkProject(checked, names, sink)
  if (options.runnable) {
    for (const {index, fields} of runnable) {
      for (const problem of runProblems(fields, dirname(abs))) sink.fieldError([index, 'predictor', problem.field], problem.text)
    }
  }

  const locator = new Locator(doc, lineCounter, {
    listForm,
    names: items.map((item) => (isPlainObject(item) && typeof item.name === 'string' ? item.name : undefined)),
    handlerAlias: new Set(normalized.filter((api) => api.handlerAlias).map((api) => api.index)),
  })
  const locate = (issue: RawIssue) => {
    const {line, column} = locator.position(issue.path, issue.at)
    return {line, column, path: locator.show(issue.path), text: issue.text(locator.show)}
  }

  if (sink.errors.length > 0) throw invalid(shown, sink.errors.map(locate))

  const warnings: ConfigWarning[] = sink.warnings
    .map(locate)
    .sort(byPosition)
    .map((w) => ({file: shown, line: w.line, column: w.column, path: w.path, message: w.text}))
  return {file: abs, dir: dirname(abs), apis: checked.map((api) => api.config), warnings}
}

// ---------------------------------------------------------------------------

type ZodIssue = z.core.$ZodIssue

function reportZodIssue(issue: ZodIssue, api: NormalizedApi, sink: IssueSink): void {
  const relPath = issue.path.filter((s): s is string | number => typeof s !== 'symbol')
  const path: Path = [api.index, ...relPath]
  const value = getAt(api.data, relPath)
  if (issue.code === 'unrecognized_keys') {
    // normalize.ts removes unknown keys first; kept as a safety net.
    for (const key of issue.keys) sink.error([...path, key], 'key', (show) => `unknown key '${key}' at ${show(path)}`)
    return
  }
  if (issue.code === 'invalid_key') {
    sink.fieldError(path, `invalid key: expected ${issue.issues[0]?.message ?? issue.message}`, 'key')
    return
  }
  if (issue.code === 'custom' && (issue.params as {full?: boolean} | undefined)?.full) {
    sink.fieldError(path, issue.message)
    return
  }
  if (isDurationHint(issue.message)) {
    sink.fieldError(path, `${issue.message}; found ${describeValue(value)}`)
    return
  }
  const expected = issue.message.startsWith('Invalid') ? issue.message : `expected ${issue.message}`
  if (value === undefined && (issue.code === 'invalid_type' || issue.code === 'invalid_value')) {
    sink.fieldError(path, `required field is missing; ${expected}`)
    return
  }
  let message = `${expected}, found ${describeValue(value)}`
  if (issue.code === 'invalid_value' && typeof value === 'string') {
    const guess = suggest(value, issue.values.map(String))
    if (guess !== undefined) message += `; did you mean '${guess}'?`
  }
  sink.fieldError(path, message)
}

interface LocatedLine {
  line: number
  column: number
  text: string
}

const byPosition = (a: {line: number; column: number}, b: {line: number; column: number}) => a.line - b.line || a.column - b.column

function invalid(file: string, lines: LocatedLine[]): MlserveError {
  const details = [...lines].sort(byPosition).map((l) => `${file}:${l.line}:${l.column}  ${l.text}`)
  return mlserveError('MLS_CONFIG_INVALID', {file, count: details.length}, {details})
}

const TOO_DEEP = 'nested too deeply to read; a config file is a few levels of mappings and lists'

/** A stack overflow while reading the file: only a file nested thousands of levels deep gets there. */
function tooDeep(file: string, error: unknown): MlserveError {
  if (!(error instanceof RangeError)) throw error
  return invalid(file, [{line: 1, column: 1, text: TOO_DEEP}])
}

/** yaml's message without its trailing " at line X, column Y" (the location is printed in front). */
function yamlMessage(message: string): string {
  return message.replace(/ at line \d+, column \d+:?[\s\S]*$/, '').trim()
}
