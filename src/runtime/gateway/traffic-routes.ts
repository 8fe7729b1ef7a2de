// The gateway's traffic routes: read the splitters and each API's figures,
// change weights live, roll them back, read a shadow's diff, and apply a new
// plan. They answer loopback peers, and whatever changes state needs the
// runtime's token (kept in its state file, readable by its owner alone). A
// gateway with control 'token' (one in a container, whose host's requests
// arrive from the bridge) also answers peers elsewhere, for any method, when
// they carry the token.
import {timingSafeEqual} from 'node:crypto'
import type {IncomingMessage, ServerResponse} from 'node:http'
import {errorRegistry, isMlserveError} from '../../errors.js'
import {sendError, sendJson} from './answers.js'
import type {SplitRouter} from './split.js'
import type {Weights} from './weights.js'
import type {TrafficStatus} from './traffic-types.js'

export const TRAFFIC_PATH = '/traffic'
export const APPLY_PATH = '/apply'
/** The live state's route (control.ts answers it): off loopback, it is a control route like these. */
export const STATUS_PATH = '/status'
/** A plan is small; anything larger is not one. */
const MAX_CONTROL_BODY = 8 * 1024 * 1024

export interface TrafficState {
  token: string | null
  /** 'loopback': this machine's peers only; 'token': peers elsewhere too, carrying the token. */
  control: 'loopback' | 'token'
  status(): TrafficStatus
  splitter(name: string): SplitRouter | undefined
  splitterNames(): string[]
  /** Null when done, else why the weights were refused. */
  setWeights(splitter: SplitRouter, weights: Weights): string | null
  rollback(splitter: SplitRouter): boolean
  /** Applies a new plan (mlserve apply); absent when the runtime cannot. */
  apply?(plan: unknown): Promise<{changes: string[]}>
}

export function isTrafficPath(path: string): boolean {
  return path === APPLY_PATH || path === TRAFFIC_PATH || path.startsWith(`${TRAFFIC_PATH}/`)
}

/** Answers a request to /traffic… or /apply; returns the status it answered with (asynchronously for those with a body). */
export async function answerTraffic(req: IncomingMessage, res: ServerResponse, path: string, query: string, state: TrafficState): Promise<number> {
  const refused = refuseControlPeer(req, res, path, state)
  if (refused !== null) return refused
  const method = req.method ?? 'GET'
  const reading = method === 'GET' || method === 'HEAD'
  if (!reading && !authorized(req, state.token)) {
    req.resume()
    return sendError(res, 'MLS_GATEWAY_CONTROL_UNAUTHORIZED', {path})
  }
  if (path === APPLY_PATH) {
    if (method !== 'POST') return notAllowed(req, res, path, 'POST')
    const body = await readJson(req, res, path)
    if (body === undefined) return res.statusCode
    const plan = (body as {plan?: unknown} | null)?.plan
    if (plan === undefined || plan === null || typeof plan !== 'object') return sendError(res, 'MLS_GATEWAY_CONTROL_BAD_REQUEST', {path, reason: 'the body has no "plan" object'})
    if (!state.apply) return sendError(res, 'MLS_GATEWAY_APPLY_FAILED', {reason: 'this runtime cannot apply a new plan'})
    try {
      const result = await state.apply(plan)
      sendJson(res, 200, result)
      return 200
    } catch (error) {
      if (isMlserveError(error) && error.code !== 'MLS_GATEWAY_APPLY_FAILED') {
        // A refusal with a code of its own (MLS_ASYNC_APPLY_UNSUPPORTED) crosses whole, so `mlserve apply` shows and exits with it.
        const status = errorRegistry[error.code].httpStatus ?? 409
        sendJson(res, status, {error: error.message, code: error.code, suggestion: error.suggestion})
        return status
      }
      const reason = isMlserveError(error) ? `${error.message} ${error.suggestion}` : (error as Error).message
      return sendError(res, 'MLS_GATEWAY_APPLY_FAILED', {reason})
    }
  }

  const parts = path.slice(TRAFFIC_PATH.length + 1).split('/').filter(Boolean).map(decodeURIComponent)
  if (parts.length === 0) {
    req.resume()
    if (!reading) return notAllowed(req, res, path, 'GET')
    sendJson(res, 200, state.status())
    return 200
  }
  const [name, action] = parts
  const splitter = state.splitter(name)
  if (!splitter) {
    req.resume()
    return sendError(res, 'MLS_GATEWAY_SPLITTER_NOT_FOUND', {splitter: name, available: state.splitterNames()})
  }
  if (parts.length === 1) {
    if (reading) {
      req.resume()
      sendJson(res, 200, splitter.status())
      return 200
    }
    if (method !== 'PUT') return notAllowed(req, res, path, 'GET, PUT')
    const body = await readJson(req, res, path)
    if (body === undefined) return res.statusCode
    const weights = (body as {weights?: unknown} | null)?.weights
    if (!isWeights(weights)) return sendError(res, 'MLS_GATEWAY_CONTROL_BAD_REQUEST', {path, reason: 'the body must be {"weights": {"API": WEIGHT, ...}} with numbers for weights'})
    const problem = state.setWeights(splitter, weights)
    if (problem) return sendError(res, 'MLS_GATEWAY_BAD_WEIGHTS', {splitter: name, reason: problem})
    sendJson(res, 200, splitter.status())
    return 200
  }
  if (parts.length === 2 && action === 'rollback') {
    req.resume()
    if (method !== 'POST') return notAllowed(req, res, path, 'POST')
    if (!state.rollback(splitter)) return sendError(res, 'MLS_GATEWAY_NOTHING_TO_ROLL_BACK', {splitter: name})
    sendJson(res, 200, splitter.status())
    return 200
  }
  if (parts.length === 2 && action === 'diff') {
    req.resume()
    if (!reading) return notAllowed(req, res, path, 'GET')
    if (!splitter.shadow) return sendError(res, 'MLS_GATEWAY_CONTROL_BAD_REQUEST', {path, reason: `TrafficSplitter "${name}" has no shadow API, so there is nothing to compare`})
    const params = new URLSearchParams(query.startsWith('?') ? query.slice(1) : query)
    const tolerance = params.has('tolerance') ? Number(params.get('tolerance')) : undefined
    const examples = params.has('examples') ? Number(params.get('examples')) : undefined
    if ((tolerance !== undefined && !(tolerance >= 0)) || (examples !== undefined && !(Number.isInteger(examples) && examples >= 0))) {
      return sendError(res, 'MLS_GATEWAY_CONTROL_BAD_REQUEST', {path, reason: 'tolerance must be a number ≥ 0 and examples a whole number ≥ 0'})
    }
    sendJson(res, 200, splitter.shadow.ledger.report({tolerance, examples}))
    return 200
  }
  req.resume()
  return sendError(res, 'MLS_GATEWAY_NOT_FOUND', {path, endpoints: [`${TRAFFIC_PATH}/${name}`, `${TRAFFIC_PATH}/${name}/rollback`, `${TRAFFIC_PATH}/${name}/diff`]})
}

function notAllowed(req: IncomingMessage, res: ServerResponse, path: string, allowed: string): number {
  req.resume()
  return sendError(res, 'MLS_GATEWAY_METHOD_NOT_ALLOWED', {method: req.method ?? '?', path, allowed}, {headers: {Allow: allowed}})
}

/**
 * Answers a peer the control routes refuse and returns the status sent, or
 * null for one they serve: a loopback peer, or (control 'token') a peer
 * elsewhere that carries the token, whatever it asks.
 */
export function refuseControlPeer(req: IncomingMessage, res: ServerResponse, path: string, state: Pick<TrafficState, 'token' | 'control'>): number | null {
  const address = req.socket.remoteAddress ?? '?'
  if (isLoopback(address)) return null
  if (state.control !== 'token') {
    req.resume()
    return sendError(res, 'MLS_GATEWAY_CONTROL_FORBIDDEN', {path, address})
  }
  if (authorized(req, state.token)) return null
  req.resume()
  return sendError(res, 'MLS_GATEWAY_CONTROL_UNAUTHORIZED', {path})
}

export function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.')
}

function authorized(req: IncomingMessage, token: string | null): boolean {
  if (token === null) return false
  const header = req.headers.authorization ?? ''
  const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7).trim() : '')
  const expected = Buffer.from(token)
  return given.length === expected.length && timingSafeEqual(given, expected)
}

function isWeights(value: unknown): value is Weights {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((w) => typeof w === 'number')
}

/** The body as JSON, or undefined once an error answer was sent. */
async function readJson(req: IncomingMessage, res: ServerResponse, path: string): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of req) {
      size += (chunk as Buffer).length
      if (size > MAX_CONTROL_BODY) {
        sendError(res, 'MLS_GATEWAY_BODY_TOO_LARGE', {limit: MAX_CONTROL_BODY}, {headers: {Connection: 'close'}})
        return undefined
      }
      chunks.push(chunk as Buffer)
    }
  } catch {
    return undefined
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    sendError(res, 'MLS_GATEWAY_CONTROL_BAD_REQUEST', {path, reason: 'the body is not JSON'})
    return undefined
  }
}
