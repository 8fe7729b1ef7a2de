// Finds a running runtime: an explicit --url, or the newest one announced on this machine.
import {mlserveError} from '../errors.js'
import {listRuntimeRecords} from '../runtime/state.js'
import type {RuntimeStatus} from '../runtime/index.js'

export async function fetchStatus(url: string): Promise<RuntimeStatus> {
  try {
    // Node's built-in fetch: loading the undici package would cost the CLI more start-up time than this request.
    const response = await fetch(`${url.replace(/\/$/, '')}/status`, {signal: AbortSignal.timeout(5_000)})
    if (response.status !== 200) {
      await response.body?.cancel()
      throw new Error(`GET /status answered ${response.status}`)
    }
    return (await response.json()) as RuntimeStatus
  } catch (error) {
    // fetch says only "fetch failed"; its cause says why (ECONNREFUSED …).
    const reason = (error as Error & {cause?: Error}).cause?.message ?? (error as Error).message
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
