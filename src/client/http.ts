// One HTTP exchange on Node's own http module, for the CLI's short-lived
// commands (`status`, `predict`). Not fetch or the undici package: a command
// sends one or two requests, and loading either costs more start-up time than
// the requests themselves (fetch ~0.1 s, undici ~0.5 s on a busy 2-core machine).
import type {IncomingHttpHeaders} from 'node:http'

export interface HttpAnswer {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
}

/**
 * Sends one request and reads the whole answer. Rejects on a connection error,
 * or with a TimeoutError when the answer has not fully arrived within `timeoutMs`.
 */
export async function exchange(url: string, options: {method?: string; headers?: Record<string, string>; body?: Buffer; timeoutMs: number}): Promise<HttpAnswer> {
  const {request} = url.startsWith('https:') ? await import('node:https') : await import('node:http')
  return new Promise((resolve, reject) => {
    const req = request(url, {method: options.method ?? 'GET', headers: options.headers}, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => {
        clearTimeout(timer)
        resolve({status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks)})
      })
      res.on('error', fail)
    })
    const timer = setTimeout(() => {
      const error = new Error(`no answer within ${options.timeoutMs} ms`)
      error.name = 'TimeoutError'
      req.destroy(error)
    }, options.timeoutMs)
    function fail(error: Error): void {
      clearTimeout(timer)
      reject(error)
    }
    req.on('error', fail)
    req.end(options.body)
  })
}

/** The first value of a header, or null. */
export function headerOf(headers: IncomingHttpHeaders, name: string): string | null {
  const value = headers[name]
  return Array.isArray(value) ? value[0] ?? null : value ?? null
}
