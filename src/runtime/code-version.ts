// A fingerprint of an API's code, so that `mlserve apply` replaces replicas
// whose predictor changed even when mlserve.yaml did not (Cortex hashes the
// project for the same reason). It covers the predictor file and the project's
// own modules it imports, followed transitively, so editing one API's
// predictor (or a helper only it imports) replaces that API alone, and adding
// an unrelated file replaces nothing.
import {createHash} from 'node:crypto'
import {existsSync, readFileSync, statSync} from 'node:fs'
import {dirname, join, relative} from 'node:path'

/** Bounds the walk on a project whose imports reach far. */
const MAX_FILES = 500
const MAX_BYTES = 16 * 1024 * 1024
// `import a.b, c as d` and `from .x import y` / `from a.b import c`, at a line's start (inside functions too).
const IMPORT = /^[ \t]*(?:from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+([\w., \t()*]+)|import[ \t]+([\w., \t]+))/gm

/** The project-local files a Python source imports: module.py or package/__init__.py, under `roots`. */
function localImports(source: string, file: string, roots: readonly string[]): string[] {
  const found: string[] = []
  const resolve = (base: string, dotted: string): void => {
    if (dotted === '') return
    const path = join(base, ...dotted.split('.'))
    for (const candidate of [`${path}.py`, join(path, '__init__.py')]) if (existsSync(candidate)) found.push(candidate)
  }
  for (const match of source.matchAll(IMPORT)) {
    const [, dots, from, names, plain] = match
    if (plain !== undefined) {
      for (const part of plain.split(',')) {
        const name = part.trim().split(/\s+/)[0]
        for (const root of roots) resolve(root, name)
      }
      continue
    }
    // `from . import x` and `from .pkg import x` are relative to the importing file; x may itself be a module.
    const bases = dots ? [[...Array(dots.length - 1)].reduce((dir: string) => dirname(dir), dirname(file))] : roots
    const imported = names.replace(/[()]/g, '').split(',').map((part) => part.trim().split(/\s+/)[0]).filter((name) => name && name !== '*')
    for (const base of bases) {
      resolve(base, from)
      for (const name of imported) resolve(base, from ? `${from}.${name}` : name)
    }
  }
  return found
}

/** The version of the code a replica runs: a short hash of `predictorPath` and the project files it imports. */
export function codeVersion(projectDir: string, predictorPath: string | undefined): string | undefined {
  if (!predictorPath) return undefined
  const roots = [...new Set([dirname(predictorPath), projectDir])]
  const seen = new Set<string>()
  const queue = [predictorPath]
  const hash = createHash('sha256')
  while (queue.length > 0 && seen.size < MAX_FILES) {
    const file = queue.shift()!
    if (seen.has(file)) continue
    seen.add(file)
    let source: Buffer
    try {
      if (statSync(file).size > MAX_BYTES) continue
      source = readFileSync(file)
    } catch {
      continue
    }
    hash.update(relative(projectDir, file)).update('\0').update(source).update('\0')
    for (const next of localImports(source.toString('utf8'), file, roots)) if (!seen.has(next)) queue.push(next)
  }
  return hash.digest('hex').slice(0, 16)
}
