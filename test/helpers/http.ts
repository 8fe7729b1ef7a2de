// Small HTTP and polling helpers shared by the runtime tests.
import assert from 'node:assert/strict'
import {request} from 'undici'

export interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: any
  /** performance.now() when the answer was complete, to order answers in time. */
  at: number
}

/** POSTs a JSON payload; the body comes back parsed when it is JSON. */
export async function post(url: string, payload: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await request(url, {method: 'POST', body: JSON.stringify(payload), headers: {'content-type': 'application/json', ...headers}})
  const text = await response.body.text()
  let body: unknown = text
  try {
    body = JSON.parse(text)
  } catch {
    // not JSON
  }
  return {status: response.statusCode, headers: response.headers, body, at: performance.now()}
}

/** Polls until `check` holds; fails the test with `what` after the timeout. */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 25))
  }
  assert.fail(`timed out waiting for ${what}`)
}
