// Talking to a running runtime's traffic control routes (/traffic, /apply; see
// docs/traffic.md): which runtime serves a splitter, its token, and every
// answer turned into an mlserve error a user can act on.
import {errorRegistry, MlserveError, mlserveError, type ErrorCode} from '../errors.js'
import {exchange} from './http.js'
import {listRuntimeRecords, type RuntimeRecord} from '../runtime/state.js'
import {deployRecordsDir, listDeployRecords, type DeployRecord} from '../swarm/record.js'
import type {DiffReport, SplitterStatus, TrafficStatus} from '../runtime/gateway/traffic-types.js'

/** A runtime to talk to: its gateway, the token that lets us change it (from its record), and the record when there is one. */
export interface TrafficTarget {
  url: string
  token: string | null
  record: RuntimeRecord | null
  /** The config file a deployed gateway was deployed from (`--env`), where it has no runtime record. */
  project?: string
}

/** The fields the traffic work added to the runtime record; a runtime started by an older mlserve lacks them. */
type TrafficRecord = RuntimeRecord & {token?: string; splitters?: Array<{name: string; endpoint: string}>; driver?: 'process' | 'docker'}

const trim = (url: string): string => url.replace(/\/+$/, '')

function sameGateway(a: string, b: string): boolean {
  try {
    const x = new URL(a)
    const y = new URL(b)
    const host = (h: string) => (h === 'localhost' || h === '[::1]' ? '127.0.0.1' : h)
    return x.protocol === y.protocol && host(x.hostname) === host(y.hostname) && x.port === y.port
  } catch {
    return trim(a) === trim(b)
  }
}

function targetOf(record: TrafficRecord): TrafficTarget {
  return {url: trim(record.url), token: record.token ?? null, record}
}

export function splittersOf(record: RuntimeRecord): string[] {
  return ((record as TrafficRecord).splitters ?? []).map((s) => s.name)
}

/** The driver a runtime's replicas run under (process for a record that does not say). */
export function driverOf(record: RuntimeRecord | null): 'process' | 'docker' {
  return (record as TrafficRecord | null)?.driver ?? 'process'
}

/** The gateway at `url`, with the token of the runtime announced there, if one is. */
export function targetAt(url: string, records: RuntimeRecord[] = listRuntimeRecords()): TrafficTarget {
  const record = records.find((r) => sameGateway(r.url, url))
  return record ? {...targetOf(record), url: trim(url)} : {url: trim(url), token: null, record: null}
}

/**
 * The runtime serving `splitter`: `--url` when given, else the newest runtime
 * on this machine whose record lists the splitter.
 */
export function findSplitterTarget(splitter: string, url?: string, records: RuntimeRecord[] = listRuntimeRecords()): TrafficTarget {
  if (url) return targetAt(url, records)
  if (records.length === 0) throw mlserveError('MLS_RUNTIME_NOT_FOUND', {detail: 'no `mlserve run` is running on this machine.'})
  const record = records.find((r) => splittersOf(r).includes(splitter))
  if (record) return targetOf(record)
  const served = records.map((r) => `${r.url} serves ${splittersOf(r).join(', ') || 'no TrafficSplitter'}`)
  throw mlserveError('MLS_RUNTIME_NOT_FOUND', {detail: `no \`mlserve run\` on this machine serves a TrafficSplitter named "${splitter}" (${served.join('; ')}).`})
}

/**
 * The gateway `mlserve deploy` put in environment `env` (from its deploy
 * record on this machine, with the token): the one serving `splitter` when
 * one is named, else the newest.
 */
export function findDeployedTarget(env: string, splitter?: string, records: DeployRecord[] = listDeployRecords(env)): TrafficTarget {
  if (records.length === 0) throw mlserveError('MLS_DEPLOY_NOT_FOUND', {env, project: null, dir: deployRecordsDir()})
  const record = splitter === undefined ? records[0] : records.find((r) => r.splitters.some((s) => s.name === splitter))
  if (!record) {
    const served = records.map((r) => `${r.project} at ${r.url} serves ${r.splitters.map((s) => s.name).join(', ') || 'no TrafficSplitter'}`)
    throw mlserveError('MLS_RUNTIME_NOT_FOUND', {detail: `no deploy in environment "${env}" serves a TrafficSplitter named "${splitter}" (${served.join('; ')}).`})
  }
  return {url: trim(record.url), token: record.token, record: null, project: record.projectFile}
}

/** Every runtime to show: the one at `url`, or each announced on this machine. */
export function allTargets(url?: string, records: RuntimeRecord[] = listRuntimeRecords()): TrafficTarget[] {
  if (url) return [targetAt(url, records)]
  if (records.length === 0) throw mlserveError('MLS_RUNTIME_NOT_FOUND', {detail: 'no `mlserve run` is running on this machine.'})
  return records.map(targetOf)
}

/** The runtime serving the config file `file`: `--url` when given, else the newest runtime started from that file. */
export function findProjectTarget(file: string, url?: string, records: RuntimeRecord[] = listRuntimeRecords()): TrafficTarget {
  if (url) return targetAt(url, records)
  const record = records.find((r) => r.project === file)
  if (record) return targetOf(record)
  const detail =
    records.length === 0
      ? 'no `mlserve run` is running on this machine.'
      : `no \`mlserve run\` on this machine serves ${file} (running: ${records.map((r) => `${r.url} serves ${r.project}`).join('; ')}); pass --url to apply it to one of them.`
  throw mlserveError('MLS_RUNTIME_NOT_FOUND', {detail})
}

/** A gateway's error body: `{error, code, suggestion}` (src/runtime/gateway/answers.ts). */
interface ErrorBody {
  error?: unknown
  code?: unknown
  suggestion?: unknown
}

/**
 * The mlserve error for a gateway's error answer: the gateway's own code,
 * message and suggestion when the code is in the registry (so the CLI exits
 * as that error would), else MLS_RUNTIME_NOT_FOUND saying what answered.
 */
export function gatewayAnswerError(target: TrafficTarget, method: string, path: string, status: number, body: Buffer): MlserveError {
  let parsed: ErrorBody = {}
  try {
    parsed = JSON.parse(body.toString('utf8')) as ErrorBody
  } catch {
    // not JSON: said below
  }
  const code = typeof parsed.code === 'string' ? parsed.code : undefined
  const message = typeof parsed.error === 'string' ? parsed.error : undefined
  // A gateway without the control routes answers them as any unknown path.
  if (code === 'MLS_GATEWAY_NOT_FOUND' || (status === 404 && code === undefined)) {
    return mlserveError('MLS_RUNTIME_NOT_FOUND', {
      detail: `${target.url} has no ${method} ${path} route: it is not an mlserve runtime, or one started by an mlserve without traffic control (restart it with this mlserve).`,
    })
  }
  if (code !== undefined && message !== undefined && Object.hasOwn(errorRegistry, code)) {
    const spec = errorRegistry[code as ErrorCode]
    return new MlserveError(code as ErrorCode, message, typeof parsed.suggestion === 'string' ? parsed.suggestion : '', spec.exitCode, [])
  }
  const said = message ?? body.toString('utf8').slice(0, 200).trim()
  return mlserveError('MLS_RUNTIME_NOT_FOUND', {detail: `${target.url} answered ${method} ${path} with HTTP ${status}${said ? `: ${said}` : ''}.`})
}

interface CallOptions {
  method?: string
  body?: unknown
  timeoutMs?: number
}

/** One control request; the answer's JSON on 200, else the gateway's error as an mlserve error. */
async function call<T>(target: TrafficTarget, path: string, options: CallOptions = {}): Promise<T> {
  const method = options.method ?? 'GET'
  const headers: Record<string, string> = {accept: 'application/json'}
  if (target.token) headers.authorization = `Bearer ${target.token}`
  let body: Buffer | undefined
  if (options.body !== undefined) {
    body = Buffer.from(JSON.stringify(options.body))
    headers['content-type'] = 'application/json'
  }
  let answer
  try {
    answer = await exchange(`${target.url}${path}`, {method, headers, body, timeoutMs: options.timeoutMs ?? 10_000})
  } catch (error) {
    const err = error as NodeJS.ErrnoException
    const reason = err.name === 'TimeoutError' ? err.message : `${err.code ?? err.name}: ${err.message}`
    throw mlserveError('MLS_RUNTIME_NOT_FOUND', {detail: `${target.url} did not answer ${method} ${path} (${reason}).`}, {cause: error})
  }
  if (answer.status !== 200) throw gatewayAnswerError(target, method, path, answer.status, answer.body)
  try {
    return JSON.parse(answer.body.toString('utf8')) as T
  } catch (error) {
    throw mlserveError('MLS_RUNTIME_NOT_FOUND', {detail: `${target.url} answered ${method} ${path} with a body that is not JSON.`}, {cause: error})
  }
}

const splitterPath = (splitter: string): string => `/traffic/${encodeURIComponent(splitter)}`

export function trafficStatus(target: TrafficTarget): Promise<TrafficStatus> {
  return call<TrafficStatus>(target, '/traffic')
}

export function splitterStatus(target: TrafficTarget, splitter: string): Promise<SplitterStatus> {
  return call<SplitterStatus>(target, splitterPath(splitter))
}

/** Puts new weights in force (every non-shadow API of the splitter, adding up to 100). */
export function setWeights(target: TrafficTarget, splitter: string, weights: Record<string, number>): Promise<SplitterStatus> {
  return call<SplitterStatus>(target, splitterPath(splitter), {method: 'PUT', body: {weights}})
}

/** Restores the weights before the last change; the ones replaced become `previous`. */
export function rollback(target: TrafficTarget, splitter: string): Promise<SplitterStatus> {
  return call<SplitterStatus>(target, `${splitterPath(splitter)}/rollback`, {method: 'POST'})
}

export function diff(target: TrafficTarget, splitter: string, options: {tolerance: number; examples: number}): Promise<DiffReport> {
  const query = new URLSearchParams({tolerance: String(options.tolerance), examples: String(options.examples)})
  return call<DiffReport>(target, `${splitterPath(splitter)}/diff?${query}`, {timeoutMs: 30_000})
}

/** Hands the runtime a new plan; resolves with the changes it made, one sentence each. */
export async function applyPlan(target: TrafficTarget, plan: unknown, options: {timeoutMs: number}): Promise<{changes: string[]}> {
  return call<{changes: string[]}>(target, '/apply', {method: 'POST', body: {plan}, timeoutMs: options.timeoutMs})
}

/**
 * The full weights to send from those given on the command line: every
 * non-shadow API of the splitter must be given, except that one left out gets
 * what the others leave of 100. Throws MLS_GATEWAY_BAD_WEIGHTS, as the gateway
 * would, before anything is sent.
 */
export function completeWeights(splitter: Pick<SplitterStatus, 'name' | 'weights' | 'shadow'>, given: Record<string, number>): Record<string, number> {
  const bad = (reason: string): MlserveError => mlserveError('MLS_GATEWAY_BAD_WEIGHTS', {splitter: splitter.name, reason})
  const apis = Object.keys(splitter.weights)
  const shadow = splitter.shadow?.api
  for (const api of Object.keys(given)) {
    if (api === shadow) throw bad(`${api} is the splitter's shadow API; its percentage is set in mlserve.yaml (then \`mlserve apply\`), not with \`traffic set\``)
    if (!apis.includes(api)) throw bad(`${api} is not an API of the splitter (its APIs are ${apis.join(', ')})`)
  }
  const missing = apis.filter((api) => !(api in given))
  const sum = Object.values(given).reduce((total, w) => total + w, 0)
  if (missing.length > 1) {
    throw bad(`${missing.join(', ')} ${missing.length === 2 ? 'are both' : 'are all'} left out; give a weight for every API of the splitter but at most one, which gets what the others leave of 100`)
  }
  if (missing.length === 1) {
    if (sum > 100) throw bad(`the weights given add up to ${sum}, which leaves nothing for ${missing[0]}`)
    return Object.fromEntries(apis.map((api) => [api, api in given ? given[api] : 100 - sum]))
  }
  if (sum !== 100) throw bad(`they add up to ${sum}; they must add up to 100`)
  return Object.fromEntries(apis.map((api) => [api, given[api]]))
}

/**
 * `API=WEIGHT` words from the command line, as weights; a word that is not one
 * fails with MLS_USAGE naming it.
 */
export function parseWeightArgs(words: string[], command = 'traffic set'): Record<string, number> {
  const usage = (detail: string): MlserveError => mlserveError('MLS_USAGE', {command, detail})
  if (words.length === 0) throw usage('no API=WEIGHT was given (such as iris-a=90).')
  const weights: Record<string, number> = {}
  for (const word of words) {
    // Without strict parsing, a mistyped flag arrives here as a word.
    if (word.startsWith('-')) throw usage(`${JSON.stringify(word)} is neither API=WEIGHT nor a flag of the command.`)
    const m = /^([^=\s]+)=(.*)$/.exec(word)
    if (!m) throw usage(`${JSON.stringify(word)} is not API=WEIGHT (such as iris-a=90).`)
    const [, api, text] = m
    if (!/^\d+$/.test(text.trim()) || Number(text) > 100) throw usage(`the weight in ${JSON.stringify(word)} is not a whole number from 0 to 100.`)
    if (api in weights) throw usage(`${api} is given twice (${JSON.stringify(word)}).`)
    weights[api] = Number(text)
  }
  return weights
}
