// Maps a path into the normalized API list back to a line and column of the
// YAML source, and renders paths the way the user wrote them (a single API
// mapping has no list index; a `handler:` section is shown as handler).
import {isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node} from 'yaml'
import type {Path, PathSegment, Show} from './issues.js'

export interface Position {
  line: number
  column: number
}

export interface LocatorOptions {
  /** The file is a list of APIs (Cortex style) rather than one API mapping. */
  listForm: boolean
  /** API names by index, where they are strings (for `api "iris" › …`). */
  names: ReadonlyArray<string | undefined>
  /** Indexes of the APIs whose predictor section is spelt `handler`. */
  handlerAlias: ReadonlySet<number>
}

export class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lineCounter: LineCounter,
    private readonly options: LocatorOptions,
  ) {}

  /** The path with `predictor` spelt as the file spells it. */
  private asWritten(path: Path): PathSegment[] {
    const [index, ...rest] = path
    if (typeof index === 'number' && this.options.handlerAlias.has(index) && rest[0] === 'predictor') rest[0] = 'handler'
    return [index, ...rest]
  }

  /** The path as it appears in the document (no list index for a single-API file). */
  docPath(path: Path): PathSegment[] {
    const written = this.asWritten(path)
    return this.options.listForm ? written : written.slice(1)
  }

  readonly show: Show = (path) => {
    const [index, ...rest] = this.asWritten(path)
    const field = rest.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('')
    if (!this.options.listForm) return field === '' ? 'the top level' : field
    const name = typeof index === 'number' ? this.options.names[index] : undefined
    const api = name !== undefined ? `api "${name}"` : `[${String(index)}]`
    return field === '' ? api : `${api} › ${field}`
  }

  /** Line and column of the node at `path`; a missing node falls back to its nearest existing parent. */
  position(path: Path, at: 'key' | 'value'): Position {
    const target = this.docPath(path)
    let node: unknown = this.doc.contents
    let keyNode: Node | undefined
    let found = 0
    for (const segment of target) {
      if (isAlias(node)) node = node.resolve(this.doc)
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment))
        if (!pair) break
        keyNode = pair.key as Node
        node = pair.value
      } else if (isSeq(node) && typeof segment === 'number' && segment < node.items.length) {
        keyNode = undefined
        node = node.items[segment]
      } else break
      found++
    }
    const complete = found === target.length
    const valueNode = node as Node | null | undefined
    const emptyValue = !valueNode?.range || (isScalar(valueNode) && valueNode.value === null && valueNode.range[0] === valueNode.range[1])
    let offset: number | undefined
    if (complete && at === 'value' && !emptyValue) offset = valueNode!.range![0]
    else if (keyNode?.range) offset = keyNode.range[0]
    else if (!emptyValue) offset = valueNode!.range![0]
    if (offset === undefined) return {line: 1, column: 1}
    const {line, col} = this.lineCounter.linePos(offset)
    return {line, column: col}
  }
}
