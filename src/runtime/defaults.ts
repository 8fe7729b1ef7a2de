// The runtime's defaults, in a module of their own with no imports, so a
// command can show them as flag defaults without loading the runtime.
export const runtimeDefaults = {
  host: '127.0.0.1',
  port: 8888,
  timeoutMs: 60_000,
  maxBodyBytes: 10 * 1024 * 1024,
  readinessTimeoutMs: 120_000,
  retryAfterSeconds: 1,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  accessLog: false,
} as const
