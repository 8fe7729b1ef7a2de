// The gateway's own answers: every error body comes from the error registry
// (code, message, suggestion), so clients see one vocabulary and never a
// library's internals. Also the lingering close that lets a client read an
// answer sent before its body was read.
import type {ServerResponse} from 'node:http'
import type {Socket} from 'node:net'
import {errorRegistry, type ErrorCode, type ErrorSpec} from '../../errors.js'

/** The registry's entries for the gateway's answers (its own and the batch endpoint's), each with an HTTP status. */
export type GatewayCode = Extract<ErrorCode, `MLS_GATEWAY_${string}` | `MLS_BATCH_${string}`>
export type GatewayParams<C extends ErrorCode> = Parameters<(typeof errorRegistry)[C]['message']>[0]

/** How long a closing connection keeps reading (and discarding) what the client still sends. */
const LINGER_MS = 2_000

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return
  const text = JSON.stringify(body)
  res.writeHead(status, {'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers})
  res.end(text)
}

/** The JSON body of one of the gateway's error answers, with extra fields a client may act on. */
export function errorBody<C extends GatewayCode>(code: C, params: GatewayParams<C>, extra: Record<string, unknown> = {}): {status: number; body: Record<string, unknown>} {
  const spec = errorRegistry[code] as ErrorSpec<GatewayParams<C>>
  return {status: spec.httpStatus!, body: {error: spec.message(params), code, suggestion: spec.suggestion(params), ...extra}}
}

/** Sends an error answer; returns its status for the caller to count. */
export function sendError<C extends GatewayCode>(
  res: ServerResponse,
  code: C,
  params: GatewayParams<C>,
  options: {extra?: Record<string, unknown>; headers?: Record<string, string>} = {},
): number {
  const {status, body} = errorBody(code, params, options.extra)
  sendJson(res, status, body, options.headers)
  return status
}

/** A raw HTTP/1.1 error answer, for a socket whose request never reached a handler (parser errors, timeouts). */
export function rawError<C extends GatewayCode>(code: C, params: GatewayParams<C>): string {
  const {status, body} = errorBody(code, params)
  const text = JSON.stringify(body)
  const reason = status === 408 ? 'Request Timeout' : status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`
}

/**
 * Answers before the request body was read, then closes without a reset.
 * Node destroys a `Connection: close` socket as soon as the answer is written;
 * with request bytes still unread the kernel then sends RST, and the client
 * may lose the answer (curl saw a reset in 7 of 13 tries under load). So the
 * socket half-closes instead, keeps reading and discarding for LINGER_MS, and
 * closes when the client does: nginx's lingering close.
 */
export function lingerAfter(res: ServerResponse, socket: Socket): void {
  socket.destroySoon = function lingeringClose(this: Socket): void {
    this.end()
    this.resume()
    const timer = setTimeout(() => this.destroy(), LINGER_MS)
    timer.unref()
    this.once('close', () => clearTimeout(timer))
    this.once('end', () => this.destroy())
  }
  res.req.resume()
}
