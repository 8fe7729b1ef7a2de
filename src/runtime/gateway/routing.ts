// Routing: which replica takes a request. Every policy implements `Router`:
// one API's replicas (api-route.ts: least loaded, or by shard key), a weighted
// split over APIs (split.ts) with its shadow (shadow.ts). The gateway asks only
// this interface, so a policy is a module of its own rather than an `if` on
// the request path.
import type {IncomingHttpHeaders} from 'node:http'
import type {ApiRoute} from './api-route.js'
import type {ReplicaRoute} from './replica-route.js'
import {hashKey, shardKeyOf} from './shard-key.js'

/** What a router may look at: enough for a split by weight, a shard key or a session header. */
export interface RouteRequest {
  headers: IncomingHttpHeaders
  query: string
  /** The shard key's hash, once read: undefined until then, null when the request has none. */
  shard?: number | null
  /** The API a splitter chose for it, once chosen (pick places it there). */
  chosen?: ApiRoute | null
}

/** A copy of a request sent to a shadow API, told how the primary answered so the two can be compared. */
export interface ShadowCopy {
  primaryAnswered(api: string, status: number, body: Buffer | null): void
}

export interface Router {
  /** The API (or splitter) name, for errors and metrics before an API is chosen. */
  readonly name: string
  /** The API that answers before a replica is chosen (an API's own endpoint), or null (a splitter, which has not chosen yet). */
  readonly answersAs: string | null
  /** The replica to admit the request on, or null when none is routable. */
  pick(request: RouteRequest): ReplicaRoute | null
  /** The API that answers the request, chosen before a replica is (its prediction cache is looked up first); pick() then places it on that API. */
  choose?(request: RouteRequest): ApiRoute | null
  /** The chosen API answered from its cache: no replica was picked, but the request counts as placed on it. */
  answeredFromCache?(api: ApiRoute): void
  /** Sends a copy of the request to a shadow API, when the router has one and picks this request. */
  copy?(request: RouteRequest, body: Buffer, requestId: string): ShadowCopy | undefined
}

/** The request's shard key (X-Shard-Key, or Ray's X-SERVE-SHARD-KEY) as a 32-bit hash, read once per request. */
export function shardOf(request: RouteRequest): number | null {
  if (request.shard !== undefined) return request.shard
  const key = shardKeyOf(request.headers)
  const shard = key === undefined ? null : hashKey(key)
  request.shard = shard
  return shard
}
