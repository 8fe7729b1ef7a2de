import {Command, Flags, Errors} from '@oclif/core'
import {isMlserveError} from '../errors.js'
import {reportError, wantsVerbose} from './report-error.js'
import {color, say, warn} from './ui.js'
import {usageError, type CommandShape} from './usage-errors.js'

/**
 * Every mlserve command extends this. `run()` returns a typed result: under
 * --json it is printed to stdout and nothing else is; otherwise commands write
 * human output to stderr through `say`. Every failure, a command line oclif
 * cannot read included, ends as one mlserve error (see report-error.ts) with
 * its exit code: 2 for bad input, 1 for a failure at run time.
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
    return wantsVerbose(this.argv)
  }

  /** The command as its parse errors describe it. */
  private shape(): CommandShape {
    const ctor = this.ctor
    const args = Object.entries(ctor.args ?? {}).map(([name, arg]) => (arg.required ? name.toUpperCase() : `[${name.toUpperCase()}]`))
    return {
      // A command in a topic (traffic:set) as a user types it (traffic set).
      id: (this.id ?? ctor.id ?? 'mlserve').replaceAll(':', ' '),
      flags: [...Object.keys(ctor.flags ?? {}), ...Object.keys(ctor.baseFlags ?? {}), 'json'],
      usage: args.join(' '),
    }
  }

  protected override async catch(err: Error & {exitCode?: number}): Promise<unknown> {
    // this.exit(code): already decided, nothing to show.
    if (err instanceof Errors.ExitError) throw err
    const error = isMlserveError(err) ? err : usageError(err, this.shape())
    if (error) {
      process.exitCode = error.exitCode
      reportError(error, {json: this.jsonEnabled(), verbose: this.verbose})
      return Errors.exit(error.exitCode)
    }
    process.exitCode = 1
    if (this.jsonEnabled()) {
      process.stdout.write(`${JSON.stringify({error: {code: 'MLS_INTERNAL', message: err.message, suggestion: 'Run again with --verbose and report the stack trace.', details: []}})}\n`)
    } else {
      say(`${color.red('Error')} [MLS_INTERNAL] ${err.message}`)
      say(this.verbose ? color.dim(err.stack ?? '') : color.dim('Run again with --verbose to see the stack trace, and report it.'))
    }
    return Errors.exit(1)
  }
}
