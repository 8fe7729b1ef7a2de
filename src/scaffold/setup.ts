// Runs a template's setup steps (the sklearn template's train.py) in the new
// project with the chosen interpreter. A step that fails or runs past its
// timeout stops init with MLS_TEMPLATE_SETUP_FAILED and the step's output.
import {execa} from 'execa'
import {mlserveError} from '../errors.js'
import type {SetupStep} from './registry.js'

/** At most this many trailing lines of a failed step's output go into the error. */
const OUTPUT_LINES = 40

export interface SetupOutcome {
  script: string
  seconds: number
  /** The step's output (stdout and stderr interleaved), trimmed. */
  output: string
}

export async function runSetupStep(
  template: string,
  step: SetupStep,
  options: {dir: string; interpreter: string; env?: NodeJS.ProcessEnv},
): Promise<SetupOutcome> {
  const started = performance.now()
  const result = await execa(options.interpreter, [step.script], {
    cwd: options.dir,
    reject: false,
    all: true,
    stdin: 'ignore',
    timeout: step.timeoutMs,
    env: {...(options.env ?? process.env), PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1'},
    extendEnv: false,
  })
  const seconds = (performance.now() - started) / 1000
  const output = String(result.all ?? '').trim()
  if (result.exitCode === 0 && !result.timedOut) return {script: step.script, seconds, output}

  const lines = output.split('\n')
  const tail = lines.length > OUTPUT_LINES ? [`… (${lines.length - OUTPUT_LINES} earlier lines)`, ...lines.slice(-OUTPUT_LINES)] : lines
  const why = result.timedOut
    ? `it ran past its ${step.timeoutMs / 1000}s timeout and was stopped`
    : result.exitCode === undefined
      ? `it could not start: ${String(result.shortMessage ?? 'unknown error')}`
      : `it exited with code ${result.exitCode}`
  const body = [why + (output ? '; its output:' : ' with no output.'), ...(output ? tail.map((l) => `  ${l}`) : [])].join('\n')
  throw mlserveError('MLS_TEMPLATE_SETUP_FAILED', {
    template,
    step: `setup step \`${options.interpreter} ${step.script}\` (in ${options.dir})`,
    output: body,
  })
}
