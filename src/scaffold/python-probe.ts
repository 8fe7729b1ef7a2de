// Finds a Python interpreter that can import what a template's predictor
// needs, trying the runtime's candidates in its order of precedence
// (src/runtime/interpreter.ts: $MLSERVE_PYTHON, then `python3` on PATH, as a
// new project has no predictor.interpreter yet), then /usr/bin/python3
// (Debian's python3-* packages install for that one only, while pyenv,
// virtualenvs and conda put another `python3` first on PATH). The first that
// imports every module wins, and init pins it as predictor.interpreter.
import {execa} from 'execa'
import {DEFAULT_INTERPRETER, interpreterCandidates} from '../runtime/interpreter.js'

const PROBE_TIMEOUT_MS = 30_000

export interface ProbeAttempt {
  interpreter: string
  /** Where the candidate came from. */
  source: 'MLSERVE_PYTHON' | 'PATH' | 'system'
  ok: boolean
  /** Why it failed: "not found", "timed out", or the last line Python printed ("No module named 'sklearn'"). */
  reason?: string
}

export interface ProbeResult {
  /** The first candidate that imports every module, or null when none does. */
  interpreter: string | null
  attempts: ProbeAttempt[]
}

/** The runtime's candidates for a project with no predictor.interpreter yet, then /usr/bin/python3. */
export function candidates(env: NodeJS.ProcessEnv): {interpreter: string; source: ProbeAttempt['source']}[] {
  return interpreterCandidates(undefined, env, {fallback: true}) as {interpreter: string; source: ProbeAttempt['source']}[]
}

/** Tries one interpreter: can it import every module? */
export async function canImport(interpreter: string, modules: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<{ok: boolean; reason?: string}> {
  const code = modules.length > 0 ? `import ${modules.join(', ')}` : 'pass'
  const result = await execa(interpreter, ['-c', code], {
    reject: false,
    timeout: PROBE_TIMEOUT_MS,
    stdin: 'ignore',
    env: {...env, PYTHONDONTWRITEBYTECODE: '1'},
    extendEnv: false,
  })
  if (result.exitCode === 0) return {ok: true}
  if (result.timedOut) return {ok: false, reason: `timed out after ${PROBE_TIMEOUT_MS / 1000}s`}
  if (result.exitCode === undefined) {
    const code = (result.cause as NodeJS.ErrnoException | undefined)?.code
    return {ok: false, reason: code === 'ENOENT' ? 'not found' : String(result.shortMessage ?? 'could not run')}
  }
  const lines = String(result.stderr ?? '').split('\n').map((l) => l.trim()).filter(Boolean)
  const last = lines.at(-1) ?? `exit code ${result.exitCode}`
  return {ok: false, reason: last.replace(/^ModuleNotFoundError: /, '').slice(0, 200)}
}

export async function probeInterpreter(modules: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<ProbeResult> {
  const attempts: ProbeAttempt[] = []
  for (const candidate of candidates(env)) {
    const {ok, reason} = await canImport(candidate.interpreter, modules, env)
    attempts.push({...candidate, ok, ...(reason === undefined ? {} : {reason})})
    if (ok) return {interpreter: candidate.interpreter, attempts}
  }
  return {interpreter: null, attempts}
}

/** "python3 (No module named 'sklearn'), /usr/bin/python3 (not found)" */
export function describeAttempts(attempts: readonly ProbeAttempt[]): string {
  return attempts
    .filter((a) => !a.ok)
    .map((a) => `${a.source === 'MLSERVE_PYTHON' ? `MLSERVE_PYTHON=${a.interpreter}` : a.interpreter} (${a.reason ?? 'failed'})`)
    .join(', ')
}

/** The interpreter as a YAML scalar: plain when safe, double-quoted otherwise. */
export function yamlScalar(value: string): string {
  return /^[A-Za-z0-9_./~+-]+$/.test(value) && !/^[-~]/.test(value) ? value : JSON.stringify(value)
}

/** Wraps words into comment lines of at most `width` characters ("# " included). */
export function commentLines(text: string, width = 80): string[] {
  const lines: string[] = []
  let line = '#'
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line.length + 1 + word.length > width && line !== '#') {
      lines.push(line)
      line = '#'
    }
    line += ' ' + word
  }
  if (line !== '#') lines.push(line)
  return lines
}

/**
 * The `predictor.interpreter` lines for mlserve.yaml (unindented), or '' when
 * the interpreter is plain `python3` (the runtime's default) or none was found.
 */
export function interpreterBlock(probe: ProbeResult, modules: readonly string[], predictorType: 'python' | 'command' = 'python'): string {
  const chosen = probe.attempts.find((a) => a.ok)
  if (!chosen || chosen.interpreter === DEFAULT_INTERPRETER) return ''
  const what = modules.join(', ')
  const failed = probe.attempts.filter((a) => !a.ok)
  const why =
    chosen.source === 'MLSERVE_PYTHON'
      ? `mlserve init found ${what} under MLSERVE_PYTHON (${chosen.interpreter}) and pinned it here, so the project runs without that variable.`
      : `mlserve init pinned this interpreter: ${failed.map((a) => `\`${a.interpreter}\` cannot import ${what} (${a.reason ?? 'failed'})`).join('; ')}, and ${chosen.interpreter} can.`
  const use = predictorType === 'command' ? ' mlserve passes it to the command as $MLSERVE_PYTHON.' : ''
  const text = `${why}${use} The MLSERVE_PYTHON environment variable, when set, overrides it.`
  return [...commentLines(text, 78), `interpreter: ${yamlScalar(chosen.interpreter)}`].join('\n')
}

/** What to tell the user after probing: nothing found (and how to install), or an MLSERVE_PYTHON that will override a working choice. */
export function interpreterWarnings(
  probe: ProbeResult,
  needs: {modules: readonly string[]; apt: readonly string[]; requirements: string},
  env: NodeJS.ProcessEnv,
): string[] {
  const modules = needs.modules.join(', ')
  if (probe.interpreter === null) {
    const apt = needs.apt.length > 0 ? `\`sudo apt-get install ${needs.apt.join(' ')}\` (Debian/Ubuntu, for /usr/bin/python3) or ` : ''
    return [
      `No Python here can import ${modules} (tried ${describeAttempts(probe.attempts)}). ` +
        'The project is written, but its predictor will not start until they are installed: ' +
        `${apt}\`python3 -m pip install -r ${needs.requirements}\`, or set MLSERVE_PYTHON to an interpreter that has them.`,
    ]
  }
  const fromEnv = probe.attempts.find((a) => a.source === 'MLSERVE_PYTHON')
  if (fromEnv && !fromEnv.ok && env.MLSERVE_PYTHON) {
    return [
      `MLSERVE_PYTHON=${fromEnv.interpreter} cannot import ${modules} (${fromEnv.reason ?? 'failed'}), and it overrides predictor.interpreter whenever mlserve runs. ` +
        `Unset it, or point it at ${probe.interpreter}.`,
    ]
  }
  return []
}
