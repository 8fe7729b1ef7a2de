// The closed-loop generator, on autocannon: N connections, each sending its
// next request as soon as the last is answered. It measures capacity, and by
// construction hides stalls (while the target pauses, nothing is sent).
//
// Only autocannon's connections and HTTP client are used. Its latency
// histogram starts at 1 ms, so each answer's time is taken from its 'response'
// event instead (autocannon times each request with process.hrtime, from when
// it is written to when its answer is parsed) and recorded in microseconds
// here. Its rate limiting and coordinated-omission correction are not used.
//
// The API that answered (X-Mlserve-Api) comes from each client's 'headers'
// event (its parser's raw header list, already built), which fires before the
// same answer's 'response': the per-request onResponse hook would build a
// header object for every answer instead.
import autocannon from 'autocannon'
import {apiOfRawHeaders} from './by-api.js'
import {nowNs} from './clock.js'
import {checkLength, checkUrl, DEFAULT_DURATION_MS, DEFAULT_TIMEOUT_MS, startCpuMeter, startSecondTicks} from './common.js'
import {Recorder} from './recorder.js'
import type {ClosedLoopOptions, LoadResult, RequestSource, RunSettings} from './types.js'

/** autocannon checks its stop flag on this interval (ms); short, so a run ends promptly. */
const SAMPLE_INTERVAL_MS = 50

/**
 * Runs a closed-loop load test: `connections` connections for `durationMs`
 * (or until `amount` answers), after `warmupMs` of unmeasured load on the same
 * number of connections. Timeouts under 1 s are raised to 1 s (autocannon's
 * smallest).
 */
export async function runClosedLoop(options: ClosedLoopOptions): Promise<LoadResult> {
  checkUrl(options.url)
  checkLength(options)
  if (!(Number.isInteger(options.connections) && options.connections >= 1)) {
    throw new RangeError(`connections must be a whole number of 1 or more, got ${options.connections}`)
  }
  const timeoutMs = Math.max(1000, options.timeoutMs ?? DEFAULT_TIMEOUT_MS)
  const warmupMs = options.warmupMs ?? 0
  const amount = options.amount
  const durationMs = amount === undefined ? (options.durationMs ?? DEFAULT_DURATION_MS) : undefined
  const connections = amount === undefined ? options.connections : Math.min(options.connections, amount)
  const settings: RunSettings = {
    connections,
    rate: null,
    arrival: null,
    maxConnections: null,
    durationMs: durationMs ?? null,
    amount: amount ?? null,
    warmupMs,
    timeoutMs,
  }
  const base: autocannon.Options = {
    url: options.url,
    connections,
    timeout: timeoutMs / 1000,
    sampleInt: SAMPLE_INTERVAL_MS,
    requests: requestsOf(options.request),
  }

  if (warmupMs > 0 && !options.signal?.aborted) {
    await runInstance({...base, duration: warmupMs / 1000 + 1}, warmupMs, options.signal, () => undefined)
  }

  const startedAt = new Date()
  const startNs = nowNs()
  const recorder = new Recorder({model: 'closed', startNs, onSecond: options.onSecond})
  const cpu = startCpuMeter()
  const stopTicks = startSecondTicks(recorder)
  // The window ends on time: answers after its planned end are ignored, however
  // late the stop timer fires.
  const windowEndNs = durationMs === undefined ? Infinity : startNs + durationMs * 1e6
  let stoppedAt: number | null = null
  const onStop = (): void => {
    stoppedAt ??= Math.min(nowNs(), windowEndNs)
  }
  let aborted = Boolean(options.signal?.aborted)
  if (!aborted) {
    const abortListener = (): void => {
      aborted = true
    }
    options.signal?.addEventListener('abort', abortListener, {once: true})
    try {
      // Each connection's latest answer's API: one connection has one request in flight, so its 'headers' and 'response' pair up.
      const answeredBy = new WeakMap<object, string | undefined>()
      const setupClient = (client: autocannon.Client): void => {
        // The typings say 'headers' passes a header object; autocannon 8 passes its parser's info, whose `headers` is the raw list.
        ;(client as NodeJS.EventEmitter).on('headers', (info: {headers?: string[]}) => {
          answeredBy.set(client, info.headers ? apiOfRawHeaders(info.headers) : undefined)
        })
      }
      const measured: autocannon.Options = {...base, setupClient}
      // autocannon stops by itself after `duration` only at its next sample tick;
      // the window is ended here, on time, and anything after it is ignored.
      const runOptions: autocannon.Options = amount === undefined ? {...measured, duration: durationMs! / 1000 + 1} : {...measured, amount}
      await runInstance(runOptions, durationMs, options.signal, (instance) => {
        instance.on('response', (client, statusCode, _bytes, responseTimeMs) => {
          const at = nowNs()
          if (stoppedAt !== null || at > windowEndNs) return
          recorder.recordAnswer(statusCode, responseTimeMs * 1e6, at, answeredBy.get(client))
        })
        instance.on('reqError', (error: Error) => {
          const at = nowNs()
          if (stoppedAt !== null || at > windowEndNs) return
          if (/timed out/.test(String(error?.message))) recorder.recordTimeout(timeoutMs * 1e6, at)
          else recorder.recordConnectionError(at)
        })
      }, onStop)
    } finally {
      options.signal?.removeEventListener('abort', abortListener)
      stopTicks()
    }
  }
  stopTicks()
  onStop()
  const endNs = aborted || amount === undefined ? stoppedAt! : Math.max(startNs, recorder.lastAnswerNs ?? stoppedAt!)
  return recorder.finish({
    endNs,
    cpuPercent: cpu(),
    aborted,
    url: options.url,
    api: options.api,
    request: options.request,
    settings,
    startedAt,
  })
}

/** Runs one autocannon instance until `stopAfterMs` (if given), the signal, or its own end. */
function runInstance(
  opts: autocannon.Options,
  stopAfterMs: number | undefined,
  signal: AbortSignal | undefined,
  attach: (instance: autocannon.Instance) => void,
  onStop: () => void = () => undefined,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | null = null
    const cleanup = (): void => {
      if (timer) clearTimeout(timer)
      signal?.removeEventListener('abort', stop)
    }
    const instance = autocannon(opts, (error) => {
      cleanup()
      onStop()
      if (error) reject(error instanceof Error ? error : new Error(String(error)))
      else resolve()
    })
    function stop(): void {
      onStop()
      instance.stop()
    }
    attach(instance)
    if (stopAfterMs !== undefined) timer = setTimeout(stop, stopAfterMs)
    if (signal?.aborted) stop()
    else signal?.addEventListener('abort', stop, {once: true})
  })
}

/** autocannon's request list: one entry per body, used round robin by each connection. */
function requestsOf(source: RequestSource): autocannon.Request[] {
  const method = source.method as autocannon.Request['method']
  const headers = {...source.headers}
  if (source.bodies.length === 0) return [{method, headers}]
  return source.bodies.map((body) => ({method, headers, body}))
}
