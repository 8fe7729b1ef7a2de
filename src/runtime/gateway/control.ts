// The gateway's own routes: liveness, readiness, live status and Prometheus
// metrics. Each answers GET and HEAD; any other method gets 405 with Allow.
import type {IncomingMessage, ServerResponse} from 'node:http'
import {sendError, sendJson} from './answers.js'

export const CONTROL_PATHS = ['/metrics', '/healthz', '/readyz', '/status'] as const
const controlPaths = new Set<string>(CONTROL_PATHS)

export interface ControlState {
  ready(): boolean
  status(): unknown
  metrics(): Promise<{contentType: string; body: string}>
  endpoints(): string[]
}

/** Answers a request that named no API; returns the status it answered with. */
export function answerControl(req: IncomingMessage, res: ServerResponse, path: string, state: ControlState): number {
  req.resume()
  if (!controlPaths.has(path)) {
    return sendError(res, 'MLS_GATEWAY_NOT_FOUND', {path, endpoints: state.endpoints()}, {extra: {endpoints: state.endpoints()}})
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return sendError(res, 'MLS_GATEWAY_METHOD_NOT_ALLOWED', {method: req.method ?? '?', path, allowed: 'GET'}, {headers: {Allow: 'GET, HEAD'}})
  }
  switch (path) {
    case '/healthz':
      sendJson(res, 200, {status: 'ok'})
      return 200
    case '/readyz': {
      const ready = state.ready()
      sendJson(res, ready ? 200 : 503, {ready})
      return ready ? 200 : 503
    }
    case '/status':
      sendJson(res, 200, state.status())
      return 200
    default:
      state.metrics().then(
        ({contentType, body}) => {
          res.writeHead(200, {'content-type': contentType})
          res.end(body)
        },
        () => sendJson(res, 500, {error: 'The metrics could not be rendered.'}),
      )
      return 200
  }
}
