// The open-loop generator: requests go out at planned times (evenly spaced or
// Poisson) whatever the target does, so a target that stalls faces the full
// queue of requests that arrive meanwhile, and its latency, counted from each
// request's planned send time, shows it. This is what wrk2 and k6's
// constant-arrival-rate do; autocannon's rate limit is not (it sends each
// second's quota in a burst and corrects latency with a fixed 1 ms interval).
//
// Sending: a helper thread wakes the scheduler at each planned time (see
// ticker.ts); every request that is due goes out at once ("catch-up"), and
// lateness = actual − planned is recorded per send. At most maxConnections
// requests are in flight; past that, due requests wait in a FIFO for a free
// connection, and their latency still counts from the planned time.
import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {Client, Pool, type Dispatcher} from 'undici'
import {apiOfHeaders} from './by-api.js'
import {nowNs} from './clock.js'
import {checkLength, checkUrl, DEFAULT_DURATION_MS, DEFAULT_MAX_CONNECTIONS, DEFAULT_TIMEOUT_MS, startCpuMeter, startSecondTicks} from './common.js'
import {Recorder} from './recorder.js'
import {createSchedule} from './schedule.js'
import {createTicker} from './ticker.js'
import type {LoadResult, OpenLoopOptions, RunSettings} from './types.js'

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT'])
/** The most sends one wake-up makes before yielding to I/O (a generator far behind catches up in slices). */
const MAX_SENDS_PER_WAKE = 1000
/** The run starts this long after the call, so the first sends are on time. */
const START_DELAY_NS = 20e6

/** One request: its planned time, and the undici handler that records its outcome. */
class PlannedRequest implements Dispatcher.DispatchHandler {
  status = 0
  /** The API the answer named (X-Mlserve-Api), from the headers undici has already parsed. */
  api: string | undefined = undefined
  waited = false
  constructor(
    readonly plannedNs: number,
    readonly measured: boolean,
    readonly index: number,
    private readonly done: (planned: PlannedRequest, error: Error | null) => void,
  ) {}

  onRequestStart(): void {}
  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    this.status = statusCode
    this.api = apiOfHeaders(headers)
  }
  onResponseData(): void {}
  onResponseEnd(): void {
    this.done(this, null)
  }
  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.done(this, error)
  }
}

/**
 * Runs an open-loop load test: `rate` requests per second at planned times,
 * for `durationMs` (or until `amount` requests were measured) after `warmupMs`
 * of unmeasured load. Resolves once every measured request has an outcome (an
 * answer, or a timeout at most `timeoutMs` after it was sent).
 */
export async function runOpenLoop(options: OpenLoopOptions): Promise<LoadResult> {
  const url = checkUrl(options.url)
  checkLength(options)
  if (!(options.rate > 0) || !Number.isFinite(options.rate)) throw new RangeError(`rate must be a positive number, got ${options.rate}`)
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS
  if (!(Number.isInteger(maxConnections) && maxConnections >= 1)) throw new RangeError(`maxConnections must be a whole number of 1 or more, got ${maxConnections}`)

  const arrival = options.arrival ?? 'constant'
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const warmupMs = options.warmupMs ?? 0
  const amount = options.amount
  const durationMs = amount === undefined ? (options.durationMs ?? DEFAULT_DURATION_MS) : undefined
  const settings: RunSettings = {
    connections: null,
    rate: options.rate,
    arrival,
    maxConnections,
    durationMs: durationMs ?? null,
    amount: amount ?? null,
    warmupMs,
    timeoutMs,
  }
  const {request} = options
  const path = `${url.pathname}${url.search}`
  const warmupNs = warmupMs * 1e6
  const endOffsetNs = durationMs === undefined ? Infinity : warmupNs + durationMs * 1e6
  const timeoutNs = timeoutMs * 1e6

  const pool = new Pool(url.origin, {
    connections: maxConnections,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connect: {timeout: timeoutMs},
  })
  // One dispatch option object per payload, built once: nothing is allocated per send for them. Timeouts come from the pool.
  const method = request.method as Dispatcher.HttpMethod
  const requests: Dispatcher.DispatchOptions[] =
    request.bodies.length === 0 ? [{path, method, headers: request.headers}] : request.bodies.map((body) => ({path, method, headers: request.headers, body}))
  const schedule = createSchedule(options.rate, arrival, options.seed)
  await primeHttpClient()
  let onWake: () => void = () => undefined
  const ticker = createTicker(() => onWake())
  await ticker.ready
  const t0 = nowNs() + START_DELAY_NS
  const windowStart = t0 + warmupNs
  const startedAt = new Date(Date.now() + (START_DELAY_NS + warmupNs) / 1e6)
  const recorder = new Recorder({model: 'open', startNs: windowStart, lateThresholdMs: options.lateThresholdMs, onSecond: options.onSecond})
  // CPU is measured over the measured window, from its start (after the warm-up).
  let cpu = startCpuMeter()
  const cpuRestart = setTimeout(() => (cpu = startCpuMeter()), Math.max(0, (windowStart - nowNs()) / 1e6))

  let nextOffset = schedule.next()
  let index = 0
  let measuredPlanned = 0
  let sendingDone = false
  let plannedEndNs = windowStart
  const backlog: PlannedRequest[] = []
  let backlogHead = 0
  const flying = new Set<PlannedRequest>()
  let closed = false
  let aborted = false
  let forced = false
  let endNs = 0
  let deadline: NodeJS.Timeout | null = null

  return await new Promise<LoadResult>((resolve) => {
    onWake = () => pump()
    const stopTicks = startSecondTicks(recorder)

    const finish = (): void => {
      if (closed) return
      closed = true
      ticker.stop()
      stopTicks()
      if (deadline) clearTimeout(deadline)
      clearTimeout(cpuRestart)
      options.signal?.removeEventListener('abort', onAbort)
      if (!aborted) endNs = Math.max(plannedEndNs, recorder.lastAnswerNs ?? 0)
      const result = recorder.finish({
        endNs,
        cpuPercent: cpu(),
        aborted,
        url: options.url,
        api: options.api,
        request,
        settings,
        startedAt,
        plannedWindowS: (plannedEndNs - windowStart) / 1e9,
      })
      const closing = aborted || forced ? pool.destroy() : pool.close()
      void closing.catch(() => undefined).then(() => resolve(result))
    }

    const onAbort = (): void => {
      if (closed) return
      aborted = true
      endNs = Math.max(windowStart, nowNs())
      plannedEndNs = endNs
      finish()
    }

    const complete = (planned: PlannedRequest, error: Error | null): void => {
      if (closed || !flying.delete(planned)) return
      const at = nowNs()
      if (planned.measured) {
        if (error === null) recorder.recordAnswer(planned.status, at - planned.plannedNs, at, planned.api)
        else if (TIMEOUT_CODES.has((error as {code?: string}).code ?? '')) recorder.recordTimeout(at - planned.plannedNs, at)
        else recorder.recordConnectionError(at)
      }
      drainBacklog()
      maybeFinish()
    }

    const dispatch = (planned: PlannedRequest): void => {
      const sentNs = nowNs()
      if (planned.waited && sentNs - planned.plannedNs > timeoutNs) {
        // Waited for a connection longer than the timeout: it times out unsent.
        if (planned.measured) recorder.recordTimeout(sentNs - planned.plannedNs, sentNs)
        return
      }
      if (planned.measured) recorder.recordSend(planned.plannedNs, sentNs, planned.waited)
      flying.add(planned)
      try {
        pool.dispatch(requests[planned.index % requests.length], planned)
      } catch (error) {
        // undici refused the request outright (an invalid header, say): it failed without an answer.
        complete(planned, error as Error)
      }
    }

    const drainBacklog = (): void => {
      while (backlogHead < backlog.length && flying.size < maxConnections && !closed) {
        const next = backlog[backlogHead]
        backlog[backlogHead++] = undefined as unknown as PlannedRequest
        dispatch(next)
      }
      if (backlogHead > 1024 && backlogHead * 2 > backlog.length) {
        backlog.splice(0, backlogHead)
        backlogHead = 0
      }
    }

    const submit = (plannedNs: number, measured: boolean): void => {
      const planned = new PlannedRequest(plannedNs, measured, index++, complete)
      if (flying.size >= maxConnections || backlogHead < backlog.length) {
        planned.waited = true
        backlog.push(planned)
        return
      }
      dispatch(planned)
    }

    const maybeFinish = (): void => {
      if (sendingDone && flying.size === 0 && backlogHead >= backlog.length) finish()
    }

    const endSending = (): void => {
      sendingDone = true
      ticker.stop()
      maybeFinish()
      if (closed) return
      // Whatever is still unanswered a timeout (and a little) from now has timed out.
      deadline = setTimeout(() => {
        const at = nowNs()
        for (const planned of flying) if (planned.measured) recorder.recordTimeout(at - planned.plannedNs, at)
        for (let i = backlogHead; i < backlog.length; i++) {
          const planned = backlog[i]
          if (planned.measured) recorder.recordTimeout(at - planned.plannedNs, at)
        }
        flying.clear()
        backlogHead = backlog.length
        forced = true
        finish()
      }, timeoutMs + 1000)
    }

    function pump(): void {
      if (closed || sendingDone) return
      const now = nowNs()
      let sends = 0
      while (t0 + nextOffset <= now) {
        const offset = nextOffset
        const measured = offset >= warmupNs
        if (measured && (amount !== undefined ? measuredPlanned >= amount : offset >= endOffsetNs)) {
          plannedEndNs = amount !== undefined ? t0 + offset : t0 + endOffsetNs
          endSending()
          return
        }
        if (measured) measuredPlanned++
        submit(t0 + offset, measured)
        nextOffset = schedule.next()
        if (++sends >= MAX_SENDS_PER_WAKE) {
          setImmediate(pump)
          return
        }
      }
      ticker.wakeAt(t0 + nextOffset)
    }

    if (options.signal?.aborted) {
      onAbort()
      return
    }
    options.signal?.addEventListener('abort', onAbort, {once: true})
    ticker.wakeAt(t0 + nextOffset)
  })
}

let primed: Promise<void> | null = null

/**
 * undici compiles its HTTP parser (WebAssembly) when its first connection
 * opens, which blocks the thread for several ms: done inside a run, it makes
 * the first sends late and the first answers slow. One request to a throwaway
 * loopback server, once per process, does it beforehand, so the target sees
 * only the planned requests.
 */
function primeHttpClient(): Promise<void> {
  primed ??= (async () => {
    const server = createServer((req, res) => {
      req.resume()
      res.end()
    })
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(0, '127.0.0.1', () => resolve())
      })
      const client = new Client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
      try {
        const response = await client.request({path: '/', method: 'GET'})
        await response.body.dump()
      } finally {
        await client.close().catch(() => undefined)
      }
    } catch {
      // Priming is an optimisation; a run works without it.
    } finally {
      server.closeAllConnections()
      server.close()
    }
  })()
  return primed
}
