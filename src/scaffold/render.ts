// Turns a template folder into a project's files: which files a template
// holds, where each lands (dotfile names), placeholder substitution, the
// conflict check that runs before anything is written, and the write itself.
//
// Dotfiles: a template stores `.dockerignore` as `dot-dockerignore` and
// `.github/` as `dot-github/`. npm renames or drops some dotfiles when it packs
// a package (`.gitignore` above all), so the package never ships a literal
// dotfile in templates/; every path segment that starts with `dot-` is renamed
// to start with `.` when it is written.
//
// Placeholders: `{{identifier}}` in a text file. A placeholder alone on its
// line (after indentation) is a block: each line of its value is indented like
// the placeholder, and an empty value removes the line. `${{ ... }}` (GitHub
// Actions expressions) is never touched. An unknown placeholder is an error,
// so a typo in a template cannot ship.
import {chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, type Stats} from 'node:fs'
import {dirname, join, relative, sep} from 'node:path'

export const DOT_PREFIX = 'dot-'
/** Never copied from a template folder: caches left by running a template in place. */
const SKIPPED = new Set(['__pycache__', '.DS_Store', '.pytest_cache'])

export type Vars = Readonly<Record<string, string>>

export interface TemplateFile {
  /** Absolute path in the template folder. */
  source: string
  /** Path in the project, relative and with `/` separators, dotfile names restored. */
  target: string
  mode: number
}

export interface RenderedFile {
  target: string
  content: Buffer
  mode: number
}

/** `dot-github/workflows/x.yml` → `.github/workflows/x.yml`. */
export function targetPath(relativeSource: string): string {
  return relativeSource
    .split(/[\\/]/)
    .map((segment) => (segment.startsWith(DOT_PREFIX) ? '.' + segment.slice(DOT_PREFIX.length) : segment))
    .join('/')
}

/** Every file of a template, sorted by target path. */
export function listTemplateFiles(dir: string): TemplateFile[] {
  const files: TemplateFile[] = []
  const walk = (current: string): void => {
    for (const entry of readdirSync(current, {withFileTypes: true})) {
      if (SKIPPED.has(entry.name) || entry.name.endsWith('.pyc')) continue
      const full = join(current, entry.name)
      if (entry.isDirectory()) walk(full)
      else if (entry.isFile()) {
        const rel = relative(dir, full).split(sep).join('/')
        files.push({source: full, target: targetPath(rel), mode: statSync(full).mode & 0o777})
      }
    }
  }
  walk(dir)
  return files.sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0))
}

const INLINE = /(?<!\$)\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}/g
const WHOLE_LINE = /^([ \t]*)(?<!\$)\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}[ \t]*$/

export class UnknownPlaceholderError extends Error {
  constructor(readonly placeholder: string, readonly file: string) {
    super(`template file ${file} uses an unknown placeholder {{${placeholder}}}`)
    this.name = 'UnknownPlaceholderError'
  }
}

/** Substitutes placeholders in one text. `file` only names the file in errors. */
export function renderText(text: string, vars: Vars, file = '<text>'): string {
  const lookup = (key: string): string => {
    if (!Object.hasOwn(vars, key)) throw new UnknownPlaceholderError(key, file)
    return vars[key]
  }
  const eol = text.includes('\r\n') ? '\r\n' : '\n'
  const out: string[] = []
  for (const line of text.split(eol)) {
    const block = WHOLE_LINE.exec(line)
    if (block) {
      const [, indent, key] = block
      const value = lookup(key)
      if (value === '') continue
      for (const valueLine of value.replace(/\n$/, '').split('\n')) out.push(valueLine === '' ? '' : indent + valueLine)
      continue
    }
    out.push(line.replace(INLINE, (_match, key: string) => lookup(key)))
  }
  return out.join(eol)
}

/** The placeholders a text uses (for checks). */
export function placeholdersIn(text: string): string[] {
  return [...new Set([...text.matchAll(INLINE)].map((m) => m[1]))].sort()
}

/** True when a file is UTF-8 text (substituted); false for binary files (copied as they are). */
export function isText(content: Buffer): boolean {
  if (content.includes(0)) return false
  try {
    new TextDecoder('utf-8', {fatal: true}).decode(content)
    return true
  } catch {
    return false
  }
}

/** Renders every file in memory; nothing is written. Throws UnknownPlaceholderError. */
export function renderFiles(files: readonly TemplateFile[], vars: Vars): RenderedFile[] {
  return files.map((file) => {
    const raw = readFileSync(file.source)
    const content = isText(raw) ? Buffer.from(renderText(raw.toString('utf8'), vars, file.target), 'utf8') : raw
    return {target: file.target, content, mode: file.mode}
  })
}

export interface Conflicts {
  /** Files init would overwrite: --force overwrites them. */
  existing: string[]
  /** Paths in the way that --force does not remove (a directory where a file goes, a file where a directory goes). */
  blocked: {path: string; reason: string}[]
}

/** Checks every target against what is already in `dir`; touches nothing. */
export function findConflicts(dir: string, targets: readonly string[]): Conflicts {
  const existing = new Set<string>()
  const blocked = new Map<string, string>()
  for (const target of targets) {
    const parts = target.split('/')
    // Each parent directory must be a directory or absent.
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/')
      const stat = statOrNull(join(dir, parent))
      if (stat && !stat.isDirectory()) blocked.set(parent, `a file where init needs the directory ${parent}/`)
    }
    const stat = statOrNull(join(dir, target))
    if (stat?.isDirectory()) blocked.set(target, `a directory where init writes the file ${target}`)
    else if (stat) existing.add(target)
  }
  return {
    existing: [...existing].sort(),
    blocked: [...blocked].sort(([a], [b]) => (a < b ? -1 : 1)).map(([path, reason]) => ({path, reason})),
  }
}

/** Writes rendered files under `dir` (created as needed) and returns their targets. */
export function writeFiles(dir: string, files: readonly RenderedFile[]): string[] {
  mkdirSync(dir, {recursive: true})
  for (const file of files) {
    const path = join(dir, ...file.target.split('/'))
    mkdirSync(dirname(path), {recursive: true})
    writeFileSync(path, file.content)
    chmodSync(path, file.mode | 0o600)
  }
  return files.map((f) => f.target)
}

/** What is at `path` (following a symlink; a dangling one counts as a file), or null. */
function statOrNull(path: string): Stats | null {
  let link: Stats
  try {
    link = lstatSync(path)
  } catch {
    return null
  }
  if (!link.isSymbolicLink()) return link
  try {
    return statSync(path)
  } catch {
    return link
  }
}
