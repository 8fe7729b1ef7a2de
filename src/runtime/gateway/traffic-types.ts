// What the gateway's traffic routes answer (GET /traffic and friends). Types
// only, so the client side (mlserve traffic, apply, status) imports no
// gateway code.
export type {DiffExample, DiffReport} from './shadow-diff.js'

export interface TrafficStatus {
  splitters: SplitterStatus[]
  /** Every API the runtime serves, by name. */
  apis: Record<string, ApiFigures>
}

export interface SplitterStatus {
  name: string
  endpoint: string
  /** Non-shadow APIs and their weights (0–100, sum 100). */
  weights: Record<string, number>
  shadow: {api: string; percent: number} | null
  /** The weights `rollback` would restore, or null. */
  previous: Record<string, number> | null
  /** ISO time of the last change (the start time when none). */
  changedAt: string
  /** Requests this splitter placed on each API since the start (the API's own figures also count its other endpoints). */
  routed: Record<string, number>
}

export interface ApiFigures {
  endpoint: string
  replicas: number
  readyReplicas: number
  /** Answers the gateway sent for this API, by status code (requests through a splitter count under the API that answered). */
  codes: Record<string, number>
  requests: number
  /** 503s from admission (max_replica_concurrency) or no ready replica. */
  shed: number
  /** Answers >= 500 other than 503. */
  errors: number
  /** Latency of answers other than shed ones, in microseconds: an HdrHistogram, hdr-histogram-js encodeIntoCompressedBase64, cumulative since start. */
  latencyHistogram: string
  /** Copies this API received as a shadow. */
  shadow: {sent: number; completed: number; shed: number; failed: number}
}
