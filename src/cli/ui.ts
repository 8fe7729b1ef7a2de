// Human output: it goes to stderr (stdout is kept for --json and for artifacts
// such as `mlserve schema`), honours NO_COLOR and stays plain without a TTY.
import {Chalk, type ChalkInstance} from 'chalk'

function colorLevel(): 0 | 1 | 2 | 3 {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return 0
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return 1
  if (!process.stderr.isTTY || process.env.TERM === 'dumb') return 0
  return 1
}

export const color: ChalkInstance = new Chalk({level: colorLevel()})

export function say(line = ''): void {
  process.stderr.write(line + '\n')
}

export function warn(line: string): void {
  say(`${color.yellow('warning')} ${line}`)
}

export const isInteractive = (): boolean => Boolean(process.stderr.isTTY) && !process.env.CI

/** A word as a POSIX shell reads it back: bare when that is safe, else in single quotes (for command lines to paste). */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`
}
