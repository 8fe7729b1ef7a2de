// Comment-, order- and formatting-keeping edits of a config file (for
// `mlserve tune --write`): new values for existing scalars are written into
// the source in place (yaml's CST), other edits go through yaml's Document API
// (doc.setIn); the result is validated, and the file is replaced atomically
// (temp file in the same directory, fsync, rename), so a crash leaves either
// the old or the new file.
import {randomBytes} from 'node:crypto'
import {chmod, open, readFile, rename, stat, unlink} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'
import {Composer, CST, isMap, isScalar, isSeq, Parser, parseDocument, type Document, type Scalar, type ToStringOptions} from 'yaml'
import {isMlserveError, mlserveError} from '../errors.js'
import {parseProject} from './load.js'
import {displayPath} from './project.js'

export interface ConfigEdit {
  /** The name of the API to edit. */
  api: string
  /** Path inside the API, e.g. ['predictor', 'processes_per_replica'] (numbers index lists); 'predictor' also finds a `handler` section. */
  path: Array<string | number>
  /** The new value; undefined removes the field. */
  value: unknown
}

/**
 * Applies `edits` to the config file, keeping comments, key order and
 * formatting, and writes it atomically. Works on a single API mapping and on
 * a list of APIs. Throws MLS_API_NOT_FOUND for an unknown API, and
 * MLS_CONFIG_INVALID (writing nothing) when the result would not validate.
 */
export async function updateConfigFile(file: string, edits: ConfigEdit[]): Promise<void> {
  const text = await readFile(file, 'utf8')
  const updated = applyConfigEdits(text, file, edits)
  if (updated !== text) await writeFileAtomic(file, updated)
}

/**
 * The edited text, validated (exported for tests and dry runs). A new value
 * for an existing scalar is written into the source in place (yaml's CST), so
 * everything else stays byte for byte; adding, removing or replacing a
 * collection goes through the Document API (doc.setIn), which keeps comments
 * and order but may normalize spacing, e.g. before trailing comments.
 */
export function applyConfigEdits(text: string, file: string, edits: ConfigEdit[]): string {
  const tokens = [...new Parser().parse(text)]
  const docs = [...new Composer({keepSourceTokens: true}).compose(tokens)]
  const doc = docs[0]
  if (!doc || docs.length !== 1 || doc.errors.length > 0) parseProject(text, file) // throws the located errors
  const structural: Array<{path: Array<string | number>; value: unknown}> = []
  for (const edit of edits) {
    const base = apiPath(doc, edit.api, file)
    const path = [...base, ...resolveAlias(doc, base, edit.path)]
    if (!setScalarInPlace(doc, path, edit.value)) structural.push({path, value: edit.value})
  }
  let out = tokens.map((token) => CST.stringify(token)).join('')
  if (structural.length > 0) {
    const edited = parseDocument(out, {keepSourceTokens: true})
    for (const {path, value} of structural) {
      if (value === undefined) edited.deleteIn(path)
      else edited.setIn(path, value)
    }
    out = restoreOriginalLines(out, edited.toString(formatOptions(out)))
  }
  try {
    parseProject(out, file) // refuse to write a file that no longer validates
  } catch (error) {
    if (!isMlserveError(error) || error.code !== 'MLS_CONFIG_INVALID') throw error
    throw mlserveError(
      'MLS_CONFIG_INVALID',
      {file: displayPath(file), count: error.details.length},
      {details: ['the edit would leave these errors, so nothing was written (lines as in the edited file):', ...error.details]},
    )
  }
  return out
}

const PLAIN_NON_STRING = /^(?:~|null|Null|NULL|true|True|TRUE|false|False|FALSE|[-+]?(?:[0-9][0-9_]*)?\.?[0-9]+(?:[eE][-+]?[0-9]+)?|0x[0-9a-fA-F]+|0o[0-7]+|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/

/** Rewrites an existing scalar's source token; false when the edit needs the Document API. */
function setScalarInPlace(doc: Document, path: Array<string | number>, value: unknown): boolean {
  if (value !== null && !['string', 'number', 'boolean'].includes(typeof value)) return false
  if (typeof value === 'number' && !Number.isFinite(value)) return false
  const node = doc.getIn(path, true)
  if (!isScalar(node) || !node.srcToken || !CST.isScalar(node.srcToken)) return false
  const token = node.srcToken
  let type: Scalar.Type | undefined
  let source: string
  if (typeof value === 'string') {
    if (value.includes('\n')) return false
    source = value
    const quoted = token.type === 'single-quoted-scalar' || token.type === 'double-quoted-scalar'
    // A string that would read back as a number, boolean or null must be quoted.
    if (!quoted && (PLAIN_NON_STRING.test(value) || value === '' || value.trim() !== value)) type = 'QUOTE_DOUBLE'
    if (token.type === 'block-scalar') type = 'QUOTE_DOUBLE'
  } else {
    source = value === null ? 'null' : String(value)
    type = 'PLAIN'
  }
  const parents = path.slice(0, -1)
  const inFlow = parents.some((_, i) => {
    const collection = doc.getIn(parents.slice(0, i + 1), true)
    return (isMap(collection) || isSeq(collection)) && Boolean(collection.flow)
  }) || ((isMap(doc.contents) || isSeq(doc.contents)) && Boolean(doc.contents.flow))
  CST.setScalarValue(token, source, {type, inFlow})
  return true
}

function apiPath(doc: Document, api: string, file: string): Array<string | number> {
  const root = doc.contents
  const nameOf = (node: unknown): unknown => (isMap(node) ? node.get('name') : undefined)
  if (isSeq(root)) {
    const index = root.items.findIndex((item) => nameOf(item) === api)
    if (index >= 0) return [index]
    const available = root.items.map(nameOf).filter((n): n is string => typeof n === 'string')
    throw mlserveError('MLS_API_NOT_FOUND', {name: api, file: displayPath(file), available})
  }
  const name = nameOf(root)
  if (name === api) return []
  throw mlserveError('MLS_API_NOT_FOUND', {name: api, file: displayPath(file), available: typeof name === 'string' ? [name] : []})
}

/** Cortex v0.34+ files spell the predictor section `handler`; edit it there. */
function resolveAlias(doc: Document, base: Array<string | number>, path: Array<string | number>): Array<string | number> {
  if (path[0] !== 'predictor') return path
  if (doc.hasIn([...base, 'handler']) && !doc.hasIn([...base, 'predictor'])) return ['handler', ...path.slice(1)]
  return path
}

/**
 * yaml's Document output normalizes some spacing (e.g. `value   # comment`
 * becomes `value # comment`). Lines that differ from an original line only in
 * such spacing are put back as they were; the result is kept only when it
 * still means the same as yaml's output.
 */
function restoreOriginalLines(original: string, output: string): string {
  const squash = (line: string) => line.replace(/\s+/g, ' ').trim()
  const a = original.split('\n')
  const b = output.split('\n')
  const na = a.map(squash)
  const nb = b.map(squash)
  // Longest common subsequence of the squashed lines.
  const lcs: number[][] = Array.from({length: a.length + 1}, () => new Array<number>(b.length + 1).fill(0))
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i][j] = na[i] === nb[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1])
    }
  }
  const restored = [...b]
  for (let i = 0, j = 0; i < a.length && j < b.length; ) {
    if (na[i] === nb[j]) {
      restored[j] = a[i]
      i++
      j++
    } else if (lcs[i + 1][j] >= lcs[i][j + 1]) i++
    else j++
  }
  const candidate = restored.join('\n')
  const same = (x: string, y: string) => JSON.stringify(parseDocument(x).toJS()) === JSON.stringify(parseDocument(y).toJS())
  return same(candidate, output) ? candidate : output
}

/** Output options that reproduce the file's own style (indent width, indented sequences, flow padding). */
export function formatOptions(text: string): ToStringOptions {
  const lines = text.split(/\r?\n/)
  const indentOf = (line: string) => line.length - line.trimStart().length
  const meaningful = (line: string | undefined) => line !== undefined && line.trim() !== '' && !line.trimStart().startsWith('#')
  const widths = new Map<number, number>()
  let indentSeq: boolean | undefined
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    if (!meaningful(line) || !/:\s*(#.*)?$/.test(line)) continue
    let j = i + 1
    while (j < lines.length && !meaningful(lines[j])) j++
    const next = lines[j]
    if (next === undefined) continue
    // The key's own column: after a leading "- " the mapping starts two columns in.
    const keyColumn = indentOf(line) + (/^\s*- /.test(line) ? 2 : 0)
    const nextIsSeq = /^\s*- /.test(next)
    const delta = indentOf(next) - keyColumn
    if (nextIsSeq) indentSeq ??= delta > 0
    if (delta > 0) widths.set(delta, (widths.get(delta) ?? 0) + 1)
  }
  const indent = [...widths.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 2
  return {
    indent,
    indentSeq: indentSeq ?? true,
    lineWidth: 0,
    minContentWidth: 0,
    flowCollectionPadding: /[[{] [^\s\]}]/.test(text.replace(/#.*$/gm, '')),
  }
}

/** Writes `content` to `file` through a temp file in the same directory, fsync and rename. */
export async function writeFileAtomic(file: string, content: string): Promise<void> {
  const dir = dirname(file)
  const temp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  const mode = await stat(file).then((s) => s.mode & 0o777, () => undefined)
  const handle = await open(temp, 'wx', mode ?? 0o644)
  try {
    await handle.writeFile(content, 'utf8')
    await handle.sync()
  } catch (error) {
    await handle.close().catch(() => {})
    await unlink(temp).catch(() => {})
    throw error
  }
  await handle.close()
  try {
    if (mode !== undefined) await chmod(temp, mode)
    await rename(temp, file)
  } catch (error) {
    await unlink(temp).catch(() => {})
    throw error
  }
  // Persist the rename itself (best effort: not every platform can fsync a directory).
  const dirHandle = await open(dir, 'r').catch(() => undefined)
  await dirHandle?.sync().catch(() => {})
  await dirHandle?.close()
}
