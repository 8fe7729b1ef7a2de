// A small Dockerfile parser: enough of the reference syntax for linting and
// for the secrets guard. It handles the `# escape=` parser directive, line
// continuations (with comment lines inside them dropped, as Docker does),
// comments, instruction flags (`--chown=…`), JSON (exec) versus shell form,
// and the ENV, ARG and LABEL forms (`K=V K2="v 2"`, and the legacy `ENV K V`).
// Heredocs (BuildKit's `RUN <<EOF`) are not parsed.

export interface Flag {
  name: string
  value: string
}

export interface KeyValue {
  key: string
  /** null for `ARG NAME` without a default. */
  value: string | null
}

export interface Instruction {
  /** Upper-case keyword: FROM, RUN, COPY, … */
  keyword: string
  /** 1-based line where the instruction starts. */
  line: number
  /** 1-based line where it ends (after continuations). */
  endLine: number
  /** Everything after the keyword, continuations joined, as Docker sees it. */
  raw: string
  /** Leading `--name=value` flags. */
  flags: Flag[]
  /** The arguments after the flags (shell form: one string; exec form: the JSON array). */
  args: string
  /** The JSON array when the instruction is in exec (JSON) form. */
  json: string[] | null
  /** ENV, ARG and LABEL: the pairs. */
  pairs: KeyValue[]
}

export interface Comment {
  line: number
  text: string
}

export interface ParsedDockerfile {
  instructions: Instruction[]
  comments: Comment[]
  escape: string
}

export class DockerfileSyntaxError extends Error {
  constructor(
    readonly line: number,
    readonly detail: string,
  ) {
    super(`line ${line}: ${detail}`)
  }
}

const FLAG_KEYWORDS = new Set(['FROM', 'RUN', 'COPY', 'ADD', 'HEALTHCHECK'])
const JSON_KEYWORDS = new Set(['RUN', 'CMD', 'ENTRYPOINT', 'SHELL', 'COPY', 'ADD', 'VOLUME'])

export function parseDockerfile(text: string): ParsedDockerfile {
  const lines = text.replace(/\r\n?/g, '\n').split('\n')
  let escape = '\\'
  const comments: Comment[] = []
  const instructions: Instruction[] = []

  // Parser directives: `# key=value` lines at the very top, before anything else.
  let i = 0
  for (; i < lines.length; i++) {
    const m = /^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$/.exec(lines[i])
    if (!m) break
    if (m[1].toLowerCase() === 'escape') {
      if (m[2] !== '\\' && m[2] !== '`') throw new DockerfileSyntaxError(i + 1, `invalid escape directive ${JSON.stringify(m[2])} (use \\ or \`)`)
      escape = m[2]
    }
    comments.push({line: i + 1, text: lines[i]})
  }

  for (; i < lines.length; i++) {
    const first = lines[i]
    const trimmed = first.trim()
    if (trimmed === '') continue
    if (trimmed.startsWith('#')) {
      comments.push({line: i + 1, text: trimmed})
      continue
    }
    const start = i
    let joined = ''
    let current = first.replace(/^\s+/, '')
    for (;;) {
      const stripped = current.replace(/\s+$/, '')
      if (stripped.endsWith(escape)) {
        joined += stripped.slice(0, -1)
        // Continuation: skip comment lines and empty lines that follow.
        i++
        while (i < lines.length && (/^\s*#/.test(lines[i]) || lines[i].trim() === '')) {
          if (/^\s*#/.test(lines[i])) comments.push({line: i + 1, text: lines[i].trim()})
          i++
        }
        if (i >= lines.length) break
        current = lines[i]
        continue
      }
      joined += current
      break
    }
    instructions.push(parseInstruction(joined, start + 1, Math.min(i, lines.length - 1) + 1))
  }
  return {instructions, comments, escape}
}

function parseInstruction(text: string, line: number, endLine: number): Instruction {
  const m = /^(\S+)(?:\s+([\s\S]*))?$/.exec(text.trim())
  if (!m) throw new DockerfileSyntaxError(line, 'empty instruction')
  const keyword = m[1].toUpperCase()
  if (!/^[A-Z]+$/.test(keyword)) throw new DockerfileSyntaxError(line, `unknown instruction ${JSON.stringify(m[1])}`)
  const raw = (m[2] ?? '').trim()
  let rest = raw
  const flags: Flag[] = []
  if (FLAG_KEYWORDS.has(keyword)) {
    for (;;) {
      const f = /^--([A-Za-z][A-Za-z0-9-]*)(?:=("(?:[^"\\]|\\.)*"|\S*))?(?:\s+|$)/.exec(rest)
      if (!f) break
      flags.push({name: f[1].toLowerCase(), value: unquote(f[2] ?? '')})
      rest = rest.slice(f[0].length)
    }
  }
  let json: string[] | null = null
  if (JSON_KEYWORDS.has(keyword) && rest.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(rest)
      if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) json = parsed as string[]
    } catch {
      // Not valid JSON: Docker treats it as shell form.
    }
  }
  let pairs: KeyValue[] = []
  if (keyword === 'ENV' || keyword === 'LABEL') pairs = parsePairs(rest, line, keyword === 'ENV')
  else if (keyword === 'ARG') pairs = parseArgs(rest, line)
  return {keyword, line, endLine, raw, flags, args: rest, json, pairs}
}

/** Splits into words, honouring single and double quotes and backslash escapes; quotes are removed. */
function splitWords(text: string): string[] {
  const words: string[] = []
  let word = ''
  let inWord = false
  let quote: '"' | "'" | null = null
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quote) {
      if (c === quote) quote = null
      else if (c === '\\' && quote === '"' && i + 1 < text.length) word += text[++i]
      else word += c
      continue
    }
    if (c === '"' || c === "'") {
      quote = c
      inWord = true
    } else if (c === '\\' && i + 1 < text.length) {
      word += text[++i]
      inWord = true
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word)
      word = ''
      inWord = false
    } else {
      word += c
      inWord = true
    }
  }
  if (inWord) words.push(word)
  return words
}

function unquote(value: string): string {
  return splitWords(value).join(' ')
}

function parsePairs(text: string, line: number, legacyAllowed: boolean): KeyValue[] {
  const words = splitWordsKeepingEquals(text)
  if (words.length === 0) throw new DockerfileSyntaxError(line, 'expected at least one KEY=VALUE')
  if (!words[0].includes('=')) {
    if (!legacyAllowed) throw new DockerfileSyntaxError(line, `expected KEY=VALUE, found ${JSON.stringify(words[0])}`)
    // Legacy form: ENV KEY the rest of the line is the value.
    const key = text.trim().split(/\s+/, 1)[0]
    const value = text.trim().slice(key.length).trim()
    return [{key, value: unquote(value)}]
  }
  return words.map((word) => {
    const eq = word.indexOf('=')
    if (eq <= 0) throw new DockerfileSyntaxError(line, `expected KEY=VALUE, found ${JSON.stringify(word)}`)
    return {key: word.slice(0, eq), value: unquote(word.slice(eq + 1))}
  })
}

function parseArgs(text: string, line: number): KeyValue[] {
  const words = splitWordsKeepingEquals(text)
  if (words.length === 0) throw new DockerfileSyntaxError(line, 'ARG needs a name')
  return words.map((word) => {
    const eq = word.indexOf('=')
    return eq < 0 ? {key: word, value: null} : {key: word.slice(0, eq), value: unquote(word.slice(eq + 1))}
  })
}

/** Words separated by unquoted whitespace, with their quotes kept (for KEY="a b"). */
function splitWordsKeepingEquals(text: string): string[] {
  const words: string[] = []
  let word = ''
  let quote: string | null = null
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quote) {
      word += c
      if (c === '\\' && quote === '"' && i + 1 < text.length) word += text[++i]
      else if (c === quote) quote = null
      continue
    }
    if (c === '"' || c === "'") {
      quote = c
      word += c
    } else if (c === '\\' && i + 1 < text.length) {
      word += c + text[++i]
    } else if (/\s/.test(c)) {
      if (word !== '') words.push(word)
      word = ''
    } else word += c
  }
  if (word !== '') words.push(word)
  return words
}

// ---------------------------------------------------------------------------
// Shell commands inside RUN (shell form), for the lint rules.

export interface ShellCommand {
  /** The words after leading VAR=value assignments, quotes removed. */
  words: string[]
  /** VAR=value assignments before the command. */
  assignments: Record<string, string>
}

export interface ShellScript {
  commands: ShellCommand[]
  /** Whether a `|` pipe (not `||`) joins two commands. */
  hasPipe: boolean
}

const SHELL_KEYWORDS = new Set(['if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'while', 'until', 'for', 'case', 'esac', '{', '}', '!'])

/** Splits a shell script on `&&`, `||`, `;`, `|`, `&` and newlines outside quotes; good enough for lint rules. */
export function parseShell(script: string): ShellScript {
  const pieces: string[] = []
  let piece = ''
  let quote: string | null = null
  let hasPipe = false
  let depth = 0
  for (let i = 0; i < script.length; i++) {
    const c = script[i]
    if (quote) {
      piece += c
      if (c === '\\' && quote === '"' && i + 1 < script.length) piece += script[++i]
      else if (c === quote) quote = null
      continue
    }
    if (c === '"' || c === "'") {
      quote = c
      piece += c
      continue
    }
    if (c === '\\' && i + 1 < script.length) {
      piece += c + script[++i]
      continue
    }
    if (c === '$' && script[i + 1] === '(') {
      depth++
      piece += '$('
      i++
      continue
    }
    if (c === ')' && depth > 0) {
      depth--
      piece += c
      continue
    }
    if (depth === 0 && (c === ';' || c === '\n' || c === '&' || c === '|')) {
      if (c === '|' && script[i + 1] !== '|' && script[i - 1] !== '|') hasPipe = true
      if ((c === '&' || c === '|') && script[i + 1] === c) i++
      pieces.push(piece)
      piece = ''
      continue
    }
    piece += c
  }
  pieces.push(piece)
  const commands: ShellCommand[] = []
  for (const p of pieces) {
    let words = splitWords(p.replace(/[()]/g, ' '))
    while (words.length > 0 && SHELL_KEYWORDS.has(words[0])) words = words.slice(1)
    const assignments: Record<string, string> = {}
    while (words.length > 0 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[0])) {
      const eq = words[0].indexOf('=')
      assignments[words[0].slice(0, eq)] = words[0].slice(eq + 1)
      words = words.slice(1)
    }
    if (words[0] === 'sudo' || words[0] === 'env') words = words.slice(1)
    if (words.length > 0 || Object.keys(assignments).length > 0) commands.push({words, assignments})
  }
  return {commands, hasPipe}
}

/** The shell text of a RUN: the shell form as is, or an exec form's `sh -c` script / joined words. */
export function runScript(instr: Instruction): string {
  if (instr.json) {
    const j = instr.json
    const c = j.indexOf('-c')
    if (c >= 0 && c + 1 < j.length && /(^|\/)(ba|da|z|k)?sh$/.test(j[0])) return j[c + 1]
    return j.map((w) => (/[\s"'$]/.test(w) ? JSON.stringify(w) : w)).join(' ')
  }
  return instr.args
}
