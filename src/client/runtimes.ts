// Finds a running runtime: an explicit --url, or the newest one announced on this machine.
import {request} from 'undici'
import {mlserveError} from '../errors.js'
import {listRuntimeRecords} from '../runtime/state.js'
import type {RuntimeStatus} from '../runtime/runtime.js'

export async function fetchStatus(url: string): Promise<RuntimeStatus> {
  try {
    const response = await request(`${url.replace(/\/$/, '')}/status`, {headersTimeout: 5_000, bodyTimeout: 5_000})
    if (response.statusCode !== 200) {
      await response.body.dump()
      throw new Error(`GET /status answered ${response.statusCode}`)
    }
    return (await response.body.json()) as RuntimeStatus
  } catch (error) {
    throw mlserveError('MLS_RUNTIME_NOT_FOUND', {detail: `${url} did not answer /status (${(error as Error).message}).`})
  }
}

/** Gateway URLs to look at: the one given, or every announced runtime. */
export function runtimeUrls(explicit: string | undefined): string[] {
  if (explicit) return [explicit]
  const urls = listRuntimeRecords().map((record) => record.url)
  if (urls.length === 0) throw mlserveError('MLS_RUNTIME_NOT_FOUND', {detail: 'no `mlserve run` is running on this machine.'})
  return urls
}
