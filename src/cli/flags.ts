// The flag types mlserve's commands share: each flag is parsed and checked where
// it is declared, so a command's run() gets typed values (milliseconds, bytes,
// rates, fractions, lists), and a bad value fails before anything starts with
// MLS_INVALID_FLAG, naming the flag, the value received and the accepted form.
//
// A parser throws FlagValueError; oclif rewrites the message of whatever a
// parser throws, so the command's error handler reads the fields instead
// (src/cli/usage-errors.ts turns it into MLS_INVALID_FLAG).
import {Flags, type Interfaces} from '@oclif/core'
// The units module alone, not the config door: the door loads the schema (zod), which a flag parser does not need.
import {parseDurationMs, parseMemoryBytes} from '../config/units.js'
// CPU lists alone (node:fs and node:os), not the runtime door.
import {availableCpus, formatCpuList, parseCpuList} from '../runtime/cpus.js'
// The environments' field shapes alone (pure functions), not the environments door.
import {isEnvironmentName, isNamespace, parseDockerHost, parseNodeLabel, parseRegistry} from '../environments/fields.js'

/** A flag value that does not parse: the flag (as --name), the value received, and what would be accepted. */
export class FlagValueError extends Error {
  constructor(
    readonly flag: string,
    readonly value: string,
    readonly expected: string,
  ) {
    super(`Invalid value for ${flag}: received ${JSON.stringify(value)}; expected ${expected}.`)
    this.name = 'FlagValueError'
  }
}

/** What every typed flag takes: oclif's option-flag settings, with the default written as a user would type it. */
interface TypedOptions {
  /** A full sentence. */
  description: string
  char?: Interfaces.OptionFlag<string>['char']
  required?: boolean
  exclusive?: string[]
  dependsOn?: string[]
  helpGroup?: string
  /** The default, in the flag's own notation (such as '60s'): parsed once here, and shown as written in --help. */
  default?: string
  multiple?: boolean
}

/** A typed flag's declaration: a value when required or defaulted, a list when repeatable, else possibly undefined. */
interface TypedFlag<T> {
  (options: TypedOptions & {multiple: true}): Interfaces.OptionFlag<T[]>
  (options: TypedOptions & ({default: string} | {required: true})): Interfaces.OptionFlag<T>
  (options: TypedOptions): Interfaces.OptionFlag<T | undefined>
}

/**
 * A flag whose text `convert` turns into a T, or rejects (undefined);
 * `expected` says the accepted form in the error ("a positive duration such as 30s").
 */
function typed<T>(expected: string | (() => string), convert: (text: string) => T | undefined): TypedFlag<T> {
  const parse = (text: string, flag: string): T => {
    const value = convert(text.trim())
    if (value === undefined) throw new FlagValueError(flag, text, typeof expected === 'function' ? expected() : expected)
    return value
  }
  return ((options: TypedOptions) => {
    const {default: written, ...rest} = options
    return Flags.custom<T>({
      ...rest,
      parse: async (input: string, _context: unknown, flag: {name: string}) => parse(input, `--${flag.name}`),
      ...(written === undefined ? {} : {default: parse(written, 'the default'), defaultHelp: async () => written}),
    } as never)()
  }) as TypedFlag<T>
}

const number = (text: string): number | undefined => {
  if (text === '') return undefined
  const n = Number(text)
  return Number.isFinite(n) ? n : undefined
}

/** A duration in milliseconds: 500ms, 30s, 2m, 1m30s; a bare number means seconds. Positive. */
export const duration = typed<number>('a positive duration such as 500ms, 30s or 2m (a bare number means seconds)', (text) => {
  const ms = durationMs(text)
  return ms !== undefined && ms > 0 ? ms : undefined
})

/** As `duration`, but 0 (off) is allowed too. */
export const durationOrZero = typed<number>('a duration such as 0, 500ms, 5s or 1m (a bare number means seconds)', (text) => {
  const ms = durationMs(text)
  return ms !== undefined && ms >= 0 ? ms : undefined
})

function durationMs(text: string): number | undefined {
  const n = number(text)
  try {
    return n !== undefined ? n * 1000 : parseDurationMs(text)
  } catch {
    return undefined
  }
}

/** A size in bytes, in Kubernetes quantities: 10Mi, 512Ki, 1G or a bare number of bytes. Positive. */
export const size = typed<number>('a positive size such as 10Mi, 512Ki or 1048576 (bytes)', (text) => {
  try {
    const bytes = parseMemoryBytes(text)
    return bytes > 0 ? Math.floor(bytes) : undefined
  } catch {
    return undefined
  }
})

const DIVE_SIZE_UNITS: Record<string, number> = {'': 1, b: 1, k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, ki: 1024, kib: 1024, mi: 1024 ** 2, mib: 1024 ** 2, gi: 1024 ** 3, gib: 1024 ** 3}

/** A byte count as dive writes it: 500kB, 10MB, 5Mi or a bare number of bytes; 0 allowed. */
export const byteCount = typed<number>('a number of bytes, or a size such as 500kB, 10MB or 5Mi', (text) => {
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(text)
  const unit = m ? DIVE_SIZE_UNITS[m[2].toLowerCase()] : undefined
  return m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : undefined
})

/** Requests per second, a positive number such as 200 or 0.5. */
export const rate = typed<number>('a positive rate in requests per second, such as 200', (text) => {
  const n = number(text)
  return n !== undefined && n > 0 ? n : undefined
})

/** A price in any currency unit, a positive number such as 0.0416; a leading $ is allowed. */
export const price = typed<number>('a positive price such as 0.0416 (a leading $ is allowed)', (text) => {
  const n = number(text.replace(/^\$/, ''))
  return n !== undefined && n > 0 ? n : undefined
})

/** Milliseconds of latency, a positive number such as 200 or 12.5. */
export const milliseconds = typed<number>('a positive latency in milliseconds, such as 200', (text) => {
  const n = number(text)
  return n !== undefined && n > 0 ? n : undefined
})

/** A fraction from 0 to 1 (0.01), or a percentage (1%). */
export const fraction = typed<number>('a fraction from 0 to 1 such as 0.01, or a percentage such as 1%', (text) => {
  const percent = text.endsWith('%')
  const n = number(percent ? text.slice(0, -1).trim() : text)
  if (n === undefined) return undefined
  const value = percent ? n / 100 : n
  return value >= 0 && value <= 1 ? value : undefined
})

/** A share above 0 and at most 1 (0.7), or a percentage (70%): a utilization. */
export const share = typed<number>('a fraction above 0 and at most 1 such as 0.7, or a percentage such as 70%', (text) => {
  const percent = text.endsWith('%')
  const n = number(percent ? text.slice(0, -1).trim() : text)
  if (n === undefined) return undefined
  const value = percent ? n / 100 : n
  return value > 0 && value <= 1 ? value : undefined
})

/** A whole number of 1 or more. */
export const positiveInt = typed<number>('a whole number of 1 or more', (text) => {
  const n = /^\d+$/.test(text) ? Number(text) : NaN
  return Number.isSafeInteger(n) && n >= 1 ? n : undefined
})

/** A whole number of 0 or more. */
export const count = typed<number>('a whole number of 0 or more', (text) => {
  const n = /^\d+$/.test(text) ? Number(text) : NaN
  return Number.isSafeInteger(n) ? n : undefined
})

/** Any whole number, such as a seed. */
export const integer = typed<number>('a whole number, such as 42', (text) => {
  const n = /^-?\d+$/.test(text) ? Number(text) : NaN
  return Number.isSafeInteger(n) ? n : undefined
})

/** A TCP port, 0 to 65535 (0 picks a free one). */
export const port = typed<number>('a port number from 0 to 65535 (0 picks a free one)', (text) => {
  const n = /^\d+$/.test(text) ? Number(text) : NaN
  return n >= 0 && n <= 65535 ? n : undefined
})

/** Comma-separated whole numbers of 1 or more, deduplicated and sorted: 1,2,4. */
export const intList = typed<number[]>('comma-separated whole numbers of 1 or more, such as 1,2,4', (text) => {
  const items = text.split(',').map((s) => s.trim())
  if (items.length === 0 || items.some((s) => !/^\d+$/.test(s) || Number(s) < 1 || !Number.isSafeInteger(Number(s)))) return undefined
  return [...new Set(items.map(Number))].sort((a, b) => a - b)
})

/** CPUs in Linux's list notation (1, 2-3, 0-2,5), each one this process may run on; ascending. */
export const cpuList = typed<number[]>(
  () => {
    const cpus = availableCpus()
    return `a list of the CPUs this process may use (${formatCpuList(cpus)}), such as ${cpus.at(-1)} or ${formatCpuList(cpus.slice(-2))}`
  },
  (text) => {
    const cpus = parseCpuList(text)
    const allowed = new Set(availableCpus())
    return cpus && cpus.length > 0 && cpus.every((cpu) => allowed.has(cpu)) ? cpus : undefined
  },
)

/** An HTTP header as "Name: value". */
export const header = typed<[string, string]>('"Name: value", such as "Authorization: Bearer TOKEN"', (text) => {
  const colon = text.indexOf(':')
  const name = text.slice(0, colon).trim()
  return colon > 0 && /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) ? [name, text.slice(colon + 1).trim()] : undefined
})

/** A file path whose extension is one of `extensions` (lowercase, with the dot). */
export function file(extensions: string[]) {
  const list = extensions.length === 1 ? extensions[0] : `${extensions.slice(0, -1).join(', ')} or ${extensions.at(-1)}`
  return typed<string>(`a file ending in ${list}`, (text) => {
    const dot = text.lastIndexOf('.')
    return text !== '' && dot >= 0 && extensions.includes(text.slice(dot).toLowerCase()) ? text : undefined
  })
}

// Environments and registries (mlserve env, login, push, deploy): the shapes
// come from src/environments/fields.ts (pure functions), which the
// environments file's reader checks too.

/** An environment's name: lowercase letters, digits, - . _. */
export const environmentName = typed<string>('an environment name of lowercase letters, digits and - . _, such as prod or staging-eu', (text) =>
  isEnvironmentName(text) ? text : undefined,
)

/** `--env NAME` for the commands that act on an environment (push, deploy, delete, traffic); unset, $MLSERVE_ENV then `mlserve env use` decide. */
export const envFlag = environmentName({
  description: 'The environment to act on, as `mlserve env add` named it; by default $MLSERVE_ENV, else the one `mlserve env use` chose.',
})

/** A registry: HOST[:PORT][/NAMESPACE], no scheme. */
export const registry = typed<string>('a registry as HOST[:PORT][/NAMESPACE] without a scheme, such as 127.0.0.1:5000 or registry.example.com/team', parseRegistry)

/** A Docker endpoint as DOCKER_HOST takes one. */
export const dockerHost = typed<string>('a Docker endpoint such as unix:///var/run/docker.sock, tcp://10.0.0.5:2376 or ssh://user@host', parseDockerHost)

/** A node label KEY=VALUE. */
export const nodeLabel = typed<{key: string; value: string}>('a node label as KEY=VALUE, such as node.kind=spot', parseNodeLabel)

/** A Kubernetes namespace name. */
export const namespace = typed<string>('a Kubernetes namespace name (lowercase letters, digits and -), such as default or ml-prod', (text) => (isNamespace(text) ? text : undefined))

/** A TCP port a service publishes, 1 to 65535. */
export const publishedPort = typed<number>('a port number from 1 to 65535', (text) => {
  const n = /^\d+$/.test(text) ? Number(text) : NaN
  return n >= 1 && n <= 65535 ? n : undefined
})
