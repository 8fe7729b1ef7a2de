import {Command, Flags, Errors} from '@oclif/core'
import {isMlserveError, type MlserveError} from '../errors.js'
import {color, say, warn} from './ui.js'

/**
 * Every mlserve command extends this. `run()` returns a typed result: under
 * --json it is printed to stdout and nothing else is; otherwise commands write
 * human output to stderr through `say`.
 */
export abstract class BaseCommand extends Command {
  static override enableJsonFlag = true

  static override baseFlags = {
    verbose: Flags.boolean({
      description: 'Show stack traces and debug detail when something fails (the DEBUG environment variable does the same).',
      default: false,
      helpGroup: 'GLOBAL',
    }),
  }

  protected say(line = ''): void {
    if (!this.jsonEnabled()) say(line)
  }

  protected note(line: string): void {
    if (!this.jsonEnabled()) warn(line)
  }

  private get verbose(): boolean {
    return this.argv.includes('--verbose') || Boolean(process.env.DEBUG)
  }

  protected override async catch(err: Error & {exitCode?: number}): Promise<unknown> {
    if (isMlserveError(err)) {
      process.exitCode = err.exitCode
      if (this.jsonEnabled()) this.logJson({error: err.toJSON()})
      else this.renderError(err)
      if (this.verbose && err.stack) say(color.dim(err.stack))
      return Errors.exit(err.exitCode)
    }
    // oclif's own errors (unknown flag, missing argument, exit) already read well.
    if (err instanceof Errors.CLIError || err instanceof Errors.ExitError || (err as {oclif?: unknown}).oclif) {
      return super.catch(err)
    }
    process.exitCode = 1
    if (this.jsonEnabled()) {
      this.logJson({error: {code: 'MLS_INTERNAL', message: err.message, suggestion: 'Run again with --verbose and report the stack trace.', details: []}})
    } else {
      say(`${color.red('Error')} [MLS_INTERNAL] ${err.message}`)
      say(this.verbose ? color.dim(err.stack ?? '') : color.dim('Run again with --verbose to see the stack trace, and report it.'))
    }
    return Errors.exit(1)
  }

  private renderError(err: MlserveError): void {
    say(`${color.red('Error')} [${err.code}] ${err.message}`)
    for (const line of err.details) say(`  ${line}`)
    say(`${color.cyan('→')} ${err.suggestion}`)
  }
}
