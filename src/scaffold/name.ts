// The API name a new project gets: --name, or the directory's basename. It
// must be a DNS-1123 label; otherwise init stops and proposes a fixed one.
import {basename, resolve} from 'node:path'
import {isDns1123Label, toDns1123Label} from '../config/index.js'
import {mlserveError} from '../errors.js'

export function resolveApiName(dir: string, name?: string): string {
  const candidate = name ?? basename(resolve(dir))
  if (isDns1123Label(candidate)) return candidate
  throw mlserveError('MLS_INVALID_API_NAME', {name: candidate, proposal: toDns1123Label(candidate)})
}
