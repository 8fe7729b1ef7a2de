// Dockerfile lint: a few hadolint rules, each under hadolint's ID and
// severity, on mlserve's generated Dockerfile and on users' own. A finding can
// be silenced as with hadolint: `# hadolint ignore=DL3008` on the line before
// the instruction, `# hadolint global ignore=DL3008` anywhere, or --ignore-rule.
import {parseDockerfile, parseShell, runScript, type Instruction, type ParsedDockerfile, type ShellCommand} from './dockerfile.js'
import {isSecretName} from './secrets.js'

export type Severity = 'error' | 'warning' | 'info'

export interface LintFinding {
  rule: string
  severity: Severity
  /** 1-based line of the instruction. */
  line: number
  message: string
}

export const LINT_RULES: Record<string, {severity: Severity; summary: string}> = {
  DL3002: {severity: 'warning', summary: 'The last USER should not be root.'},
  DL3006: {severity: 'warning', summary: 'Always tag the version of an image explicitly.'},
  DL3007: {severity: 'warning', summary: 'Using latest is prone to errors if the image will ever update; pin a version.'},
  DL3008: {severity: 'warning', summary: 'Pin versions in apt-get install (`apt-get install <package>=<version>`).'},
  DL3009: {severity: 'info', summary: 'Delete the apt-get lists after installing something (`rm -rf /var/lib/apt/lists/*` in the same RUN).'},
  DL3014: {severity: 'warning', summary: 'Use the -y switch to avoid manual input (`apt-get -y install <package>`).'},
  DL3015: {severity: 'info', summary: 'Avoid additional packages by specifying `--no-install-recommends`.'},
  DL3020: {severity: 'error', summary: 'Use COPY instead of ADD for files and folders.'},
  DL3025: {severity: 'warning', summary: 'Use arguments JSON notation for CMD and ENTRYPOINT arguments.'},
  DL3042: {severity: 'warning', summary: 'Avoid the pip cache in images: `pip install --no-cache-dir <package>`.'},
  DL3059: {severity: 'info', summary: 'Multiple consecutive RUN instructions; consider consolidation.'},
  DL3064: {severity: 'error', summary: 'Do not put secrets in ARG or ENV: the value is stored in the image (dockle CIS-DI-0010).'},
  DL4006: {severity: 'warning', summary: 'Set the SHELL option -o pipefail before RUN with a pipe in it.'},
}

export interface LintOptions {
  /** Rule IDs to skip. */
  ignore?: readonly string[]
}

export function lintDockerfile(text: string | ParsedDockerfile, options: LintOptions = {}): LintFinding[] {
  const parsed = typeof text === 'string' ? parseDockerfile(text) : text
  const ignored = new Set((options.ignore ?? []).map((r) => r.toUpperCase()))
  for (const c of parsed.comments) {
    const g = /^#\s*hadolint\s+global\s+ignore=([A-Z0-9, ]+)/i.exec(c.text)
    if (g) for (const id of g[1].split(',')) ignored.add(id.trim().toUpperCase())
  }
  const findings: LintFinding[] = []
  const add = (rule: string, instr: Instruction, detail?: string) => {
    const spec = LINT_RULES[rule]
    findings.push({rule, severity: spec.severity, line: instr.line, message: detail ? `${spec.summary} ${detail}` : spec.summary})
  }

  const instrs = parsed.instructions
  const stageAliases = new Set<string>()
  const lastFrom = instrs.map((i) => i.keyword).lastIndexOf('FROM')
  let pipefail = false
  let pipNoCache = false
  let prevRun: {flags: string; count: number} | null = null
  let lastUser: Instruction | null = null

  for (let idx = 0; idx < instrs.length; idx++) {
    const instr = instrs[idx]
    const finalStage = idx >= lastFrom
    switch (instr.keyword) {
      case 'FROM': {
        checkFrom(instr, stageAliases, add)
        pipefail = false
        pipNoCache = false
        lastUser = null
        break
      }
      case 'SHELL': {
        const sh = instr.json ?? []
        pipefail = sh.includes('pipefail') && sh.some((w, i) => w === '-o' && sh[i + 1] === 'pipefail')
        if (sh.length > 0 && !/(^|\/)(ba|z|k|da|a)?sh$/.test(sh[0])) pipefail = true // not a POSIX shell: the rule does not apply
        break
      }
      case 'ENV':
      case 'ARG': {
        for (const pair of instr.pairs) {
          if (pair.value !== null && pair.value !== '' && isSecretName(pair.key)) add('DL3064', instr, `${instr.keyword} ${pair.key} has a value.`)
          if (instr.keyword === 'ENV' && pair.key === 'PIP_NO_CACHE_DIR') pipNoCache = isTruthy(pair.value)
        }
        break
      }
      case 'USER':
        lastUser = instr
        break
      case 'ADD':
        checkAdd(instr, add)
        break
      case 'CMD':
      case 'ENTRYPOINT':
        if (instr.json === null) add('DL3025', instr)
        break
      case 'RUN':
        checkRun(instr, {pipefail, pipNoCache, finalStage}, add)
        break
    }

    // DL3059: consecutive RUNs (comments do not separate them) with the same flags, each of at most two commands.
    if (instr.keyword === 'RUN') {
      const flags = instr.flags.map((f) => `${f.name}=${f.value}`).join(' ')
      const count = instr.json ? 1 : parseShell(instr.args).commands.length
      if (prevRun !== null && prevRun.flags === flags && prevRun.count <= 2 && count <= 2) add('DL3059', instr)
      prevRun = {flags, count}
    } else prevRun = null
  }

  if (lastUser !== null && lastFrom >= 0) {
    const user = lastUser.args.trim().split(':')[0]
    if (user === 'root' || user === '0') add('DL3002', lastUser)
  }

  return findings
    .filter((f) => !ignored.has(f.rule) && !inlineIgnored(parsed, f))
    .sort((a, b) => a.line - b.line || a.rule.localeCompare(b.rule))
}

function inlineIgnored(parsed: ParsedDockerfile, finding: LintFinding): boolean {
  const idx = parsed.instructions.findIndex((i) => i.line === finding.line)
  const prevEnd = idx > 0 ? parsed.instructions[idx - 1].endLine : 0
  return parsed.comments.some((c) => {
    if (c.line <= prevEnd || c.line >= finding.line) return false
    const m = /^#\s*hadolint\s+ignore=([A-Z0-9, ]+)/i.exec(c.text)
    return m !== null && m[1].split(',').some((id) => id.trim().toUpperCase() === finding.rule)
  })
}

type Add = (rule: string, instr: Instruction, detail?: string) => void

function checkFrom(instr: Instruction, aliases: Set<string>, add: Add): void {
  const words = instr.args.trim().split(/\s+/)
  const image = words[0] ?? ''
  const asIndex = words.findIndex((w) => w.toUpperCase() === 'AS')
  const alias = asIndex >= 0 ? words[asIndex + 1] : undefined
  const known = aliases.has(image.toLowerCase())
  if (alias) aliases.add(alias.toLowerCase())
  if (image === '' || image === 'scratch' || image.includes('$') || known) return
  if (image.includes('@')) return // pinned by digest
  const last = image.slice(image.lastIndexOf('/') + 1)
  const colon = last.indexOf(':')
  if (colon < 0) {
    add('DL3006', instr, `FROM ${image} has no tag.`)
    return
  }
  if (last.slice(colon + 1) === 'latest') add('DL3007', instr, `FROM ${image}.`)
}

const ARCHIVE = /\.(tar|tar\.gz|tgz|tar\.bz2|tbz2?|tb2|tar\.xz|txz|tar\.zst|gz|bz2|xz|lz|lzma|tlz|z|tz)$/i

function checkAdd(instr: Instruction, add: Add): void {
  const words = instr.json ?? instr.args.trim().split(/\s+/)
  const sources = words.slice(0, -1)
  const local = sources.filter((s) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(s) && !s.startsWith('git@') && !ARCHIVE.test(s))
  if (local.length > 0) add('DL3020', instr, `Local source${local.length === 1 ? '' : 's'}: ${local.map((s) => JSON.stringify(s)).join(', ')}.`)
}

function isTruthy(value: string | null | undefined): boolean {
  return value !== null && value !== undefined && !['', '0', 'false', 'no', 'off'].includes(value.toLowerCase())
}

/** apt-get/apt install invocations in a script. */
function aptInstalls(commands: ShellCommand[]): ShellCommand[] {
  return commands.filter((c) => /^(apt-get|apt)$/.test(basename(c.words[0] ?? '')) && c.words.slice(1).includes('install'))
}

function basename(word: string): string {
  return word.slice(word.lastIndexOf('/') + 1)
}

/** The package arguments of an `apt-get … install …` command. */
function aptPackages(cmd: ShellCommand): string[] {
  const words = cmd.words.slice(1)
  const takesValue = new Set(['-o', '-t', '-c', '--option', '--target-release', '--config-file', '--default-release'])
  const out: string[] = []
  let seenInstall = false
  for (let i = 0; i < words.length; i++) {
    const w = words[i]
    if (takesValue.has(w)) {
      i++
      continue
    }
    if (w.startsWith('-')) continue
    if (!seenInstall) {
      if (w === 'install') seenInstall = true
      continue
    }
    out.push(w)
  }
  return out
}

function isPipInstall(cmd: ShellCommand): {args: string[]} | null {
  const w = cmd.words
  if (w.length === 0) return null
  const first = basename(w[0])
  let rest: string[] | null = null
  if (/^pip(\d+(\.\d+)?)?$/.test(first)) rest = w.slice(1)
  else if (/^python(\d+(\.\d+)?)?$/.test(first)) {
    const m = w.indexOf('-m')
    if (m >= 0 && w[m + 1] === 'pip') rest = w.slice(m + 2)
  }
  if (rest === null || !rest.includes('install')) return null
  return {args: rest}
}

function checkRun(instr: Instruction, state: {pipefail: boolean; pipNoCache: boolean; finalStage: boolean}, add: Add): void {
  const script = runScript(instr)
  const shell = parseShell(script)
  const commands = shell.commands
  const mounts = instr.flags.filter((f) => f.name === 'mount').map((f) => f.value)
  const cacheMount = (target: string) => mounts.some((m) => m.includes('type=cache') && m.includes(target))

  // DL4006
  if (instr.json === null && shell.hasPipe && !state.pipefail) {
    const setsPipefail = commands.some((c) => c.words[0] === 'set' && c.words.includes('pipefail'))
    if (!setsPipefail) add('DL4006', instr)
  }

  const installs = aptInstalls(commands)
  for (const cmd of installs) {
    const packages = aptPackages(cmd)
    const unpinned = packages.filter((p) => !p.includes('=') && !p.endsWith('.deb') && !p.startsWith('/') && !p.startsWith('./') && !p.includes('$'))
    if (unpinned.length > 0) add('DL3008', instr, `Unpinned: ${unpinned.join(', ')}.`)
    const args = cmd.words.slice(1)
    const yes = args.some((a) => a === '-y' || a === '--yes' || a === '--assume-yes' || a === '-qq' || a === '-q=2' || a === '--quiet=2' || /^-[a-z]*y[a-z]*$/.test(a))
    if (!yes) add('DL3014', instr)
    const noRecommends = args.includes('--no-install-recommends') || args.some((a, i) => a === '-o' && /^APT::Install-Recommends=(false|0)$/i.test(args[i + 1] ?? ''))
    if (!noRecommends) add('DL3015', instr)
  }

  // DL3009 (final stage only, as hadolint): apt-get update or install without removing the lists in the same RUN.
  const usesApt = commands.some((c) => /^(apt-get|apt)$/.test(basename(c.words[0] ?? '')) && c.words.slice(1).some((w) => w === 'update' || w === 'install'))
  if (state.finalStage && usesApt && !cacheMount('/var/lib/apt/lists')) {
    const removes = commands.some((c) => basename(c.words[0] ?? '') === 'rm' && c.words.some((w) => w.startsWith('/var/lib/apt/lists')))
    if (!removes) add('DL3009', instr)
  }

  // DL3042
  for (const cmd of commands) {
    const pip = isPipInstall(cmd)
    if (pip === null) continue
    const inline = isTruthy(cmd.assignments.PIP_NO_CACHE_DIR)
    if (!pip.args.includes('--no-cache-dir') && !state.pipNoCache && !inline && !cacheMount('/root/.cache')) add('DL3042', instr)
  }
}
