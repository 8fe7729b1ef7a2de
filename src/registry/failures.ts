// What a registry failure means, read from the engine's message (the engine
// talks to the registry; mlserve sees only its words): refused credentials,
// a registry that cannot be reached, or a transient failure worth another
// attempt. Distribution 2.8 and dockerd 20.10 word them as matched here.

export type FailureKind = 'auth' | 'unreachable' | 'transient' | 'other'

const AUTH = /unauthorized|authentication required|no basic auth credentials|401 Unauthorized|incorrect username or password|denied: requested access/i
const UNREACHABLE = /connection refused|no such host|network is unreachable|no route to host|server gave HTTP response to HTTPS client|i\/o timeout|TLS handshake timeout|ECONNREFUSED|EHOSTUNREACH|ENOTFOUND/i
// Failures in the middle of a push: a connection cut, or the registry answering 5xx.
const TRANSIENT = /connection reset|broken pipe|unexpected EOF|\bEOF\b|use of closed network connection|ECONNRESET|EPIPE|socket hang up|\b5\d\d\b (?:Internal Server Error|Bad Gateway|Service Unavailable|Gateway Timeout)|status:? 5\d\d|HTTP status: 5\d\d/i

export function classifyFailure(message: string): FailureKind {
  if (AUTH.test(message)) return 'auth'
  if (UNREACHABLE.test(message)) return 'unreachable'
  if (TRANSIENT.test(message)) return 'transient'
  return 'other'
}

/** Whether another attempt may succeed: a registry that was down may be back, a cut connection may hold. */
export function isRetryable(kind: FailureKind): boolean {
  return kind === 'unreachable' || kind === 'transient'
}
