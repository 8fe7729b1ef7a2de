// A command line oclif cannot read, as one of mlserve's errors. oclif's own
// parse errors carry its whole parser state (printed under --json, that is
// thousands of lines) and say "See more help with --help"; mlserve's say what
// is wrong and how to fix it, with a code, under --json as anywhere else.
import {mlserveError, type MlserveError} from '../errors.js'
import {suggest} from '../config/suggest.js'
import {FlagValueError} from './flags.js'

/** What the error needs to know about the command that failed to parse. */
export interface CommandShape {
  /** Its id, such as "tune". */
  id: string
  /** Its flag names, without dashes. */
  flags: string[]
  /** Its arguments, in order, as named in the usage (DIR, IMAGE…); optional ones in brackets. */
  usage: string
}

const strip = (text: string): string => text.replace(/\u001b\[[0-9;]*m/g, '')

/** The reasons a FailedFlagValidationError lists, one per line, without oclif's heading and footer. */
function reasons(message: string): string[] {
  return strip(message)
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !/^The following errors? occurred:$/.test(line) && line !== 'See more help with --help')
}

/**
 * The mlserve error for a parse failure of `command`, or undefined when `error`
 * is not one (a failure of the command itself, handled elsewhere).
 */
export function usageError(error: unknown, command: CommandShape): MlserveError | undefined {
  if (error instanceof FlagValueError) {
    return mlserveError('MLS_INVALID_FLAG', {flag: error.flag, value: error.value, expected: error.expected})
  }
  const err = error as Error & {args?: Array<{name?: string; required?: boolean}> | string[]; flags?: string[]; parse?: unknown}
  if (!(err instanceof Error)) return undefined
  const kind = err.constructor?.name
  const message = strip(err.message)

  switch (kind) {
    case 'RequiredArgsError': {
      const names = (err.args as Array<{name?: string}> | undefined)?.map((a) => (a.name ?? 'ARG').toUpperCase()) ?? ['an argument']
      return mlserveError('MLS_ARG_MISSING', {command: command.id, args: names})
    }
    case 'UnexpectedArgsError':
      return mlserveError('MLS_UNEXPECTED_ARG', {command: command.id, args: (err.args as string[] | undefined) ?? [], usage: command.usage || 'no arguments'})
    case 'NonExistentFlagsError': {
      const given = err.flags ?? []
      const closest = given
        .map((flag) => suggest(flag.replace(/^-+/, '').replace(/=.*$/, ''), command.flags))
        .filter((name): name is string => name !== undefined)
        .map((name) => `--${name}`)
      return mlserveError('MLS_UNKNOWN_FLAG', {command: command.id, flags: given.map((f) => f.replace(/=.*$/, '')), closest: [...new Set(closest)]})
    }
    case 'FailedFlagValidationError':
    case 'ViolatedFlagConstraintError': {
      const all = reasons(message)
      const missing = all.map((r) => /^Missing required flag (\S+)$/.exec(r)?.[1]).filter((f): f is string => f !== undefined)
      if (missing.length === all.length && missing.length > 0) {
        return mlserveError('MLS_FLAG_MISSING', {command: command.id, flags: missing.map((f) => `--${f.replace(/^-+/, '')}`).sort()})
      }
      return mlserveError('MLS_FLAG_CONFLICT', {command: command.id, reasons: all})
    }
    case 'FlagInvalidOptionError': {
      const m = /^Expected --([^=\s]+)=(.*) to be one of: (.*)$/m.exec(message)
      if (m) return mlserveError('MLS_INVALID_FLAG', {flag: `--${m[1]}`, value: m[2], expected: `one of: ${m[3]}`})
      break
    }
  }
  // Errors the parser raises as plain CLIErrors.
  let m = /^Flag --(\S+) expects a value/.exec(message)
  if (m) return mlserveError('MLS_INVALID_FLAG', {flag: `--${m[1]}`, value: '', expected: 'a value after the flag'})
  m = /^Flag --(\S+) expects one of these values: (.*)$/m.exec(message)
  if (m) return mlserveError('MLS_INVALID_FLAG', {flag: `--${m[1]}`, value: '', expected: `one of: ${m[2]}`})
  // A flag's own parser failed (oclif prefixes its message with "Parsing --flag").
  m = /^Parsing --(\S+)\s*\n\t([^\n]*)/.exec(message)
  if (m) return mlserveError('MLS_INVALID_FLAG', {flag: `--${m[1]}`, value: /received:? "?([^"\n]*)"?/.exec(m[2])?.[1] ?? '', expected: m[2]})
  if (kind === 'CLIParseError' || err.parse !== undefined || /^Flag --/.test(message)) {
    return mlserveError('MLS_USAGE', {command: command.id, detail: message.replace(/\nSee more help with --help$/, '')})
  }
  return undefined
}

/** MLS_UNKNOWN_COMMAND for a first word that names no command, given the commands there are. */
export function unknownCommand(word: string, available: string[]): MlserveError {
  const sorted = [...available].sort()
  return mlserveError('MLS_UNKNOWN_COMMAND', {command: word, closest: suggest(word, sorted), available: sorted})
}
