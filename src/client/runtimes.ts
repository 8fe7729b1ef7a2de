// Finds a running runtime: an explicit --url, or the newest one announced on this machine.
import {mlserveError} from '../errors.js'
import {exchange} from './http.js'
import {listRuntimeRecords} from '../runtime/state.js'
import type {RuntimeStatus} from '../runtime/index.js'

export async function fetchStatus(url: string): Promise<RuntimeStatus> {
  try {
    const response = await exchange(`${url.replace(/\/$/, '')}/status`, {timeoutMs: 5_000})
    if (response.status !== 200) throw new Error(`GET /status answered ${response.status}`)
    return JSON.parse(response.body.toString('utf8')) as RuntimeStatus
  } catch (error) {
    const reason = (error as Error).message
    throw mlserveError('MLS_RUNTIME_NOT_FOUND', {detail: `${url} did not answer /status (${reason}).`})
  }
}

/** Gateway URLs to look at: the one given, or every announced runtime. */
export function runtimeUrls(explicit: string | undefined): string[] {
  if (explicit) return [explicit]
  const urls = listRuntimeRecords().map((record) => record.url)
  if (urls.length === 0) throw mlserveError('MLS_RUNTIME_NOT_FOUND', {detail: 'no `mlserve run` is running on this machine.'})
  return urls
}
