// How a failed command shows its error: under --json, one line on stdout,
// {"error": {code, message, suggestion, details}}, and nothing else there;
// otherwise a short paragraph on stderr (code and message, the details, then
// the fix after →), with the stack only when asked for.
import type {MlserveError} from '../errors.js'
import {color, say} from './ui.js'

export function reportError(error: MlserveError, options: {json: boolean; verbose: boolean}): void {
  if (options.json) {
    process.stdout.write(`${JSON.stringify({error: error.toJSON()})}\n`)
  } else {
    say(`${color.red('Error')} [${error.code}] ${error.message}`)
    for (const line of error.details) say(`  ${line}`)
    say(`${color.cyan('→')} ${error.suggestion}`)
  }
  if (options.verbose && error.stack) say(color.dim(error.stack))
}

/** Whether the command line asks for --json (before any `--`, as oclif reads it). */
export function wantsJson(argv: string[]): boolean {
  const end = argv.indexOf('--')
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json')
}

/** Whether --verbose or DEBUG asks for stack traces. */
export function wantsVerbose(argv: string[]): boolean {
  return argv.includes('--verbose') || Boolean(process.env.DEBUG)
}
