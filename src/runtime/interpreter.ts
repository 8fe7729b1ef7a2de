// Which Python runs a predictor. Debian's packages belong to /usr/bin/python3,
// pyenv's or a virtualenv's python3 may come first on PATH: so the choice is
// configurable, per API, with an environment override.
import {execa} from 'execa'
import {mlserveError} from '../errors.js'

/** MLSERVE_PYTHON overrides everything; then predictor.interpreter; then python3 on PATH. */
export function chooseInterpreter(configured: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const override = env.MLSERVE_PYTHON?.trim()
  if (override) return override
  if (configured && configured.trim()) return configured.trim()
  return 'python3'
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
