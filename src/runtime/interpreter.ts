// Which Python runs a predictor: the one precedence rule, used by the runtime
// (which runs the first candidate) and by `mlserve init` (which probes them in
// the same order for one that imports a template's packages). Debian's
// packages belong to /usr/bin/python3, while pyenv's or a virtualenv's python3
// may come first on PATH: so the choice is configurable, per API, with an
// environment override. docs/config.md states the rule.
import {execa} from 'execa'
import {mlserveError} from '../errors.js'

/** `python3` on PATH: the last word of the rule. */
export const DEFAULT_INTERPRETER = 'python3'
/** Debian's interpreter, which its python3-* packages install for: init's fallback, which it then pins. */
export const SYSTEM_INTERPRETER = '/usr/bin/python3'

export type InterpreterSource = 'MLSERVE_PYTHON' | 'config' | 'PATH' | 'system'

/**
 * The candidates in order of precedence: MLSERVE_PYTHON when set, then
 * predictor.interpreter when set, then python3 on PATH; with `fallback`,
 * /usr/bin/python3 last (init probes it, the runtime never guesses). No
 * interpreter appears twice.
 */
export function interpreterCandidates(
  configured: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  options: {fallback?: boolean} = {},
): Array<{interpreter: string; source: InterpreterSource}> {
  const list: Array<{interpreter: string; source: InterpreterSource}> = []
  const override = env.MLSERVE_PYTHON?.trim()
  if (override) list.push({interpreter: override, source: 'MLSERVE_PYTHON'})
  if (configured?.trim()) list.push({interpreter: configured.trim(), source: 'config'})
  list.push({interpreter: DEFAULT_INTERPRETER, source: 'PATH'})
  if (options.fallback) list.push({interpreter: SYSTEM_INTERPRETER, source: 'system'})
  return list.filter((c, i) => list.findIndex((o) => o.interpreter === c.interpreter) === i)
}

/** The interpreter that runs a predictor: the first candidate. */
export function chooseInterpreter(configured: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return interpreterCandidates(configured, env)[0].interpreter
}

const checked = new Map<string, Promise<boolean>>()

/** Fails with MLS_INTERPRETER_NOT_FOUND unless the interpreter runs (checked once per path). */
export async function ensureInterpreter(interpreter: string, api: string): Promise<void> {
  let ok = checked.get(interpreter)
  if (!ok) {
    ok = execa(interpreter, ['-c', 'import sys; sys.exit(0 if sys.version_info >= (3, 8) else 1)'], {reject: false, timeout: 20_000}).then(
      (result) => result.exitCode === 0,
    )
    checked.set(interpreter, ok)
  }
  if (!(await ok)) throw mlserveError('MLS_INTERPRETER_NOT_FOUND', {interpreter, api})
}
