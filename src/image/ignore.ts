// .dockerignore matching, with Docker's own semantics (moby/patternmatcher):
// - patterns are relative to the context root (a leading `/` is dropped) and
//   are cleaned (`./a/../b` is `b`); unlike .gitignore, `*.pyc` matches only at
//   the root, and `**/*.pyc` everywhere;
// - `*` matches within one path segment, `?` one character, `[a-z]` a class,
//   `**` any number of segments (zero included), `\` escapes;
// - a pattern that matches a directory excludes everything below it;
// - `!pattern` re-includes; the last pattern that matches a path decides.
import {posix} from 'node:path'

interface Pattern {
  text: string
  negated: boolean
  regex: RegExp
}

/**
 * Always left out of a build context, before the project's .dockerignore (which
 * may re-include any of them with `!`): version control, mlserve's own state,
 * caches, editor folders, tests and sample payloads. Virtualenvs are found by
 * their pyvenv.cfg wherever they are (see context.ts), and by name here.
 */
export const DEFAULT_IGNORES: readonly string[] = [
  '.git',
  '.hg',
  '.svn',
  '.mlserve',
  '.dockerignore',
  '.gitignore',
  '.github',
  '.gitlab-ci.yml',
  '.venv',
  'venv',
  '.tox',
  '.nox',
  '**/__pycache__',
  '**/*.pyc',
  '**/*.pyo',
  '**/.pytest_cache',
  '**/.mypy_cache',
  '**/.ruff_cache',
  '**/.ipynb_checkpoints',
  '**/.DS_Store',
  'node_modules',
  '.idea',
  '.vscode',
  'tests',
  'test',
  'payloads',
]

/** The patterns of a .dockerignore file: comments and blank lines dropped, whitespace trimmed. */
export function parseIgnoreFile(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
}

export class IgnoreMatcher {
  private readonly patterns: Pattern[]

  constructor(patterns: readonly string[]) {
    this.patterns = patterns.flatMap((p) => {
      const compiled = compile(p)
      return compiled ? [compiled] : []
    })
  }

  /** Whether any pattern is a `!` re-inclusion (then excluded directories must still be walked). */
  get hasNegations(): boolean {
    return this.patterns.some((p) => p.negated)
  }

  /** Whether a path (POSIX, relative to the context root) is excluded. */
  ignores(path: string): boolean {
    const clean = cleanPath(path)
    const parents = parentPaths(clean)
    let matched = false
    for (const pattern of this.patterns) {
      let hit = pattern.regex.test(clean)
      if (!hit) hit = parents.some((parent) => pattern.regex.test(parent))
      if (hit) matched = !pattern.negated
    }
    return matched
  }

  /** Whether a path matches any pattern (for include lists: the path or one of its parents). */
  matchesAny(path: string): boolean {
    const clean = cleanPath(path)
    const parents = parentPaths(clean)
    return this.patterns.some((p) => !p.negated && (p.regex.test(clean) || parents.some((parent) => p.regex.test(parent))))
  }
}

function cleanPath(path: string): string {
  let p = posix.normalize(path)
  while (p.startsWith('/')) p = p.slice(1)
  if (p.startsWith('./')) p = p.slice(2)
  if (p.endsWith('/') && p.length > 1) p = p.slice(0, -1)
  return p
}

/** `a/b/c` → [`a`, `a/b`]. */
function parentPaths(path: string): string[] {
  const parts = path.split('/')
  const out: string[] = []
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join('/'))
  return out
}

function compile(raw: string): Pattern | null {
  let text = raw.trim()
  let negated = false
  if (text.startsWith('!')) {
    negated = true
    text = text.slice(1).trim()
  }
  if (text === '') return null
  text = cleanPath(text)
  if (text === '.' || text === '') text = '**'
  return {text: raw, negated, regex: toRegex(text)}
}

/** Docker's pattern → regex translation (patternmatcher's compile). */
function toRegex(pattern: string): RegExp {
  let out = '^'
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        i++
        if (pattern[i + 1] === '/') i++
        out += i + 1 === pattern.length ? '.*' : '(?:.*/)?'
      } else out += '[^/]*'
    } else if (c === '?') out += '[^/]'
    else if (c === '\\') {
      i++
      if (i < pattern.length) out += escapeRegex(pattern[i])
    } else if (c === '[') {
      const end = pattern.indexOf(']', i + 2)
      if (end < 0) out += '\\['
      else {
        let cls = pattern.slice(i + 1, end)
        if (cls.startsWith('!')) cls = '^' + cls.slice(1)
        out += '[' + cls.replace(/\\/g, '\\\\') + ']'
        i = end
      }
    } else out += escapeRegex(c)
  }
  return new RegExp(out + '$')
}

function escapeRegex(c: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(c) ? '\\' + c : c
}
