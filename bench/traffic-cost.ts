// What the traffic policies of issue 11 cost on the gateway's request path,
// in one run of one `mlserve run`.
//
// Part 1, the gateway is the bottleneck: two APIs `a` and `b`, each one no-op
// Node replica (bench/noop-backend.mjs as a `command` predictor, 32 slots,
// max_replica_concurrency 64), and a TrafficSplitter `split` over them 50/50.
// wrk -c32 drives, closed-loop and in interleaved rounds (each starting one
// path further on), four paths:
//   1. /a, an API's own endpoint, no policy: the baseline;
//   2. /split without a shard key (smooth weighted round-robin);
//   3. /split with an X-Shard-Key (the slot table picks the API, rendezvous
//      hashing the replica), rotating over 10,000 keys;
//   4. /a with an X-Shard-Key (rendezvous within one API).
// Every path's request is built by the same wrk Lua script, once per request,
// so wrk does the same work for each; the no-key paths send no key header. The
// gateway's CPU time per request (from /proc) is the finest measure of what a
// policy adds; wrk's p50 has 10 µs steps. Then an open loop at a fixed rate
// (mlserve's generator, no coordinated omission) gives p50 and p99 of each
// path, with one fixed key (user-42) where a key is sent. Each path's figures
// are the median of the rounds; against the baseline, each round's difference
// is taken first (the machine's speed drifts over minutes, more than between
// paths measured seconds apart) and the median of those is reported.
//
// Part 2, a shadow 10× slower than the primary: Python predictors
// (test/fixtures/traffic/versioned.py), primary `p` sleeping 5 ms (1 process
// × 4 threads), shadow `s` sleeping 50 ms (1 × 2). Splitter `plain` = {p: 100}
// and `shadowed` = {p: 100, s: shadow}, in the same project, so one runtime
// serves both. An open loop at a fixed rate below p's capacity goes to each in
// turn (plain, shadowed, plain, shadowed, …): the primary's p50/p99 and errors
// on each, and the copies the shadow was sent or shed (GET /traffic).
//
// Part 3, the policies' own work, in process: the shard key's hash, the
// split's pick and rendezvous, timed per request, for what end-to-end runs on
// a noisy machine cannot resolve (this process moves to core 1 for it, once
// the runtimes have stopped).
//
// Cores (the machine has 2): this process, wrk, the open-loop generator and
// every replica run on core 0; `mlserve run` (the gateway: every thread of its
// process) is pinned to core 1, so the gateway measured has a core of its own.
//
// Run: node --import tsx bench/traffic-cost.ts [--duration 10] [--rounds 3]
//        [--rate 1000] [--shadow-rate 300] [--shadow-duration 20] [--shadow-rounds 2]
//        [--part split|shadow|pick|all] [--quiet-wait S] [--cli PATH (another build's bin/run.js)]
// --quiet-wait S: before each measurement, wait up to S s for the machine to be
// under 25% busy (a shared machine's other work would otherwise be measured).
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa} from 'execa'
import {request} from 'undici'
import {cliPath} from '../test/helpers/cli.js'
import {runOpenLoop, type LoadResult} from '../src/loadtest/index.js'
import type {ApiFigures, TrafficStatus} from '../src/runtime/gateway/traffic-types.js'
import {SplitRouter} from '../src/runtime/gateway/split.js'
import {shardOf, type RouteRequest} from '../src/runtime/gateway/routing.js'
import {rendezvousPick} from '../src/runtime/gateway/rendezvous.js'
import type {ApiRoute} from '../src/runtime/gateway/api-route.js'
import {cpuSeconds, flag, machine, parseWrk, pinGroupToCore, pinToCore, ratio, serveProject, type WrkResult} from './lib.js'

const durationS = Number(flag('--duration')) || 10
const rounds = Number(flag('--rounds')) || 3
const FIXED_RATE = Number(flag('--rate')) || 1000
const SHADOW_RATE = Number(flag('--shadow-rate')) || 300
const SHADOW_DURATION_S = Number(flag('--shadow-duration')) || 20
const SHADOW_ROUNDS = Number(flag('--shadow-rounds')) || 2
const part = flag('--part') ?? 'all'
const QUIET_WAIT_S = Number(flag('--quiet-wait') ?? 0)
const cli = flag('--cli') ?? cliPath
const CONNECTIONS = 32
const SLOTS = 32
const MAX_CONCURRENCY = 64
const KEYS = 10_000
const GENERATOR_CORE = 0
const GATEWAY_CORE = 1
/** The bar for a policy's overhead over an API's own endpoint. */
const BAR_THROUGHPUT_PERCENT = 5
const BAR_P50_MS = 0.05

interface Served {
  url: string
  pid: number
  /** Replica pids (each its process group's leader) by API. */
  replicaPids: Record<string, number>
  stop: () => Promise<void>
}

/** `mlserve run` on a project written from `files`, through the CLI as a user starts it. */
async function serve(files: Record<string, string>): Promise<Served> {
  const dir = mkdtempSync(join(tmpdir(), 'mlserve-bench-traffic-'))
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content)
  const served = await serveProject<{apis: Array<{name: string; replicas: Array<{pid: number}>}>}>(cli, dir)
  return {
    url: served.url,
    pid: served.pid,
    replicaPids: Object.fromEntries(served.status.apis.map((api) => [api.name, api.replicas[0].pid])),
    stop: served.stop,
  }
}

async function pin(served: Served): Promise<void> {
  await pinToCore(served.pid, GATEWAY_CORE)
  for (const pid of Object.values(served.replicaPids)) await pinGroupToCore(pid, GENERATOR_CORE)
}

async function traffic(url: string): Promise<TrafficStatus> {
  return (await (await request(`${url}/traffic`)).body.json()) as TrafficStatus
}

// wrk builds every request with this script (-t1, so one Lua state): with a
// key count, each request carries the next of that many keys in turn.
const REQUEST_LUA = `local keys = 0
local n = 0
local body = '{"x": 1}'
function init(args)
  keys = tonumber(args[1]) or 0
end
function request()
  local headers = {["Content-Type"] = "application/json"}
  if keys > 0 then
    n = n % keys + 1
    headers["X-Shard-Key"] = "user-" .. n
  end
  return wrk.format("POST", nil, headers, body)
end
`

let luaFile: string | null = null
function requestScript(): string {
  if (!luaFile) {
    const dir = mkdtempSync(join(tmpdir(), 'mlserve-bench-lua-'))
    luaFile = join(dir, 'request.lua')
    writeFileSync(luaFile, REQUEST_LUA)
    process.on('exit', () => rmSync(dir, {recursive: true, force: true}))
  }
  return luaFile
}

async function wrkKeyed(url: string, keys: number, seconds: number): Promise<WrkResult> {
  const {stdout} = await execa('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '-s', requestScript(), url, '--', String(keys)])
  return parseWrk(stdout)
}

async function openLoop(url: string, rate: number, seconds: number, headers: Record<string, string>, maxConnections: number): Promise<LoadResult> {
  return runOpenLoop({
    url,
    rate,
    arrival: 'constant',
    durationMs: seconds * 1000,
    warmupMs: 1000,
    request: {method: 'POST', headers: {'content-type': 'application/json', ...headers}, bodies: [Buffer.from('{"x": 1}')]},
    timeoutMs: 10_000,
    maxConnections,
  })
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Busy and total CPU ticks of the whole machine so far, from /proc/stat. */
function machineTicks(): {busy: number; total: number} {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  const total = fields.reduce((sum, n) => sum + n, 0)
  const idle = fields[3] + fields[4]
  return {busy: total - idle, total}
}

/**
 * The machine is shared: before a measurement, wait (up to `quietWaitS`) for a
 * 2 s window in which other work keeps the machine under 25% busy (ours is
 * idle between measurements). Returns the busy share of the last window.
 */
async function waitForQuiet(): Promise<number> {
  const until = Date.now() + QUIET_WAIT_S * 1000
  for (;;) {
    const a = machineTicks()
    await pause(2000)
    const b = machineTicks()
    const busy = (b.busy - a.busy) / Math.max(1, b.total - a.total)
    if (busy < 0.25 || Date.now() >= until) {
      if (busy >= 0.25) console.error(`machine still ${(busy * 100).toFixed(0)}% busy after waiting ${QUIET_WAIT_S} s; measuring anyway`)
      return busy
    }
  }
}
const median = (values: number[]): number => {
  const sorted = [...values].sort((x, y) => x - y)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
const sign = (n: number, digits: number): string => `${n >= 0 ? '+' : '−'}${Math.abs(n).toFixed(digits)}`
const thousands = (n: number): string => Math.round(n).toLocaleString('en-US')

// ---------------------------------------------------------------- part 1

interface PathSpec {
  name: string
  endpoint: string
  /** Keys wrk rotates over (0: no key header). */
  keys: number
}

const PATHS: PathSpec[] = [
  {name: '/a (own endpoint, no policy): baseline', endpoint: '/a', keys: 0},
  {name: '/split, no shard key', endpoint: '/split', keys: 0},
  {name: '/split, X-Shard-Key', endpoint: '/split', keys: KEYS},
  {name: '/a, X-Shard-Key', endpoint: '/a', keys: KEYS},
]

interface ClosedRound extends WrkResult {
  cpuUsPerRequest: number
  /** The gateway's CPU time over the run's wall time: near 1 when it had its core to itself. */
  coreShare: number
  /** Answers by API over the run, from the gateway's own figures. */
  byApi: Record<string, number>
}

function noopApi(name: string, backend: string): string {
  return `- name: ${name}
  kind: RealtimeAPI
  predictor:
    type: command
    command: ["${process.execPath}", "${backend}"]
    processes_per_replica: 1
    threads_per_process: ${SLOTS}
  autoscaling:
    min_replicas: 1
    max_replica_concurrency: ${MAX_CONCURRENCY}
`
}

const requestsByApi = (status: TrafficStatus): Record<string, number> => Object.fromEntries(Object.entries(status.apis).map(([name, figures]) => [name, figures.requests]))

async function splitPart(): Promise<void> {
  const backend = new URL('./noop-backend.mjs', import.meta.url).pathname
  const served = await serve({
    'mlserve.yaml': `${noopApi('a', backend)}${noopApi('b', backend)}- name: split
  kind: TrafficSplitter
  apis:
    - {name: a, weight: 50}
    - {name: b, weight: 50}
`,
  })
  await pin(served)
  try {
    const closed: Record<string, ClosedRound[]> = {}
    const open: Record<string, LoadResult[]> = {}
    for (const path of PATHS) await wrkKeyed(`${served.url}${path.endpoint}`, path.keys, 2) // warm up: JIT, pools
    for (let round = 0; round < rounds; round++) {
      // Each round starts one path further on, so no path always runs first (or last) after the others.
      const order = PATHS.map((_, i) => PATHS[(i + round) % PATHS.length])
      for (const path of order) {
        const url = `${served.url}${path.endpoint}`
        const busyBefore = await waitForQuiet()
        const before = requestsByApi(await traffic(served.url))
        const cpuBefore = cpuSeconds(served.pid)
        const result = await wrkKeyed(url, path.keys, durationS)
        const cpu = cpuSeconds(served.pid) - cpuBefore
        const after = requestsByApi(await traffic(served.url))
        const byApi = Object.fromEntries(Object.keys(after).map((api) => [api, after[api] - (before[api] ?? 0)]))
        const cpuUsPerRequest = (cpu * 1e6) / (result.requestsPerSec * durationS)
        ;(closed[path.name] ??= []).push({...result, cpuUsPerRequest, coreShare: cpu / durationS, byApi})
        console.error(
          `round ${round + 1} closed ${path.name}: ${Math.round(result.requestsPerSec)} req/s, p50 ${result.p50Ms.toFixed(3)} ms, ${cpuUsPerRequest.toFixed(1)} µs CPU/request, gateway ${((100 * cpu) / durationS).toFixed(0)}% of its core, machine ${(busyBefore * 100).toFixed(0)}% busy before, by API ${JSON.stringify(byApi)}`,
        )
        await pause(1000)
      }
      for (const path of order) {
        const headers: Record<string, string> = path.keys > 0 ? {'x-shard-key': 'user-42'} : {}
        await waitForQuiet()
        const result = await openLoop(`${served.url}${path.endpoint}`, FIXED_RATE, durationS, headers, MAX_CONCURRENCY)
        ;(open[path.name] ??= []).push(result)
        console.error(`round ${round + 1} open ${path.name}: p50 ${result.latencyMs.p50.toFixed(3)} ms, p99 ${result.latencyMs.p99.toFixed(3)} ms, failed ${result.requests.failed}${result.generator.saturated ? ' (generator saturated)' : ''}`)
        await pause(1000)
      }
    }

    const range = (values: number[], digits: number, format = (n: number): string => n.toFixed(digits)): string => `${format(Math.min(...values))} to ${format(Math.max(...values))}`
    const base = PATHS[0].name
    // Against the baseline, paired round by round: the machine's speed drifts over minutes (a whole round runs
    // fast or slow), far more than between paths measured a few seconds apart, so each round's difference is
    // taken first and the median of those is reported, with its range.
    const paired = (pick: (round: number) => number): number[] => Array.from({length: rounds}, (_, round) => pick(round))
    console.log(`## Part 1: the cost of a policy on the request path (no-op Node replicas, the gateway is the bottleneck)`)
    console.log(
      `(${machine()}; wrk -t1 -c${CONNECTIONS} -d${durationS}s, ${rounds} interleaved round(s), each starting one path further on; open loop ${FIXED_RATE} req/s for ${durationS} s per path and round; ` +
        `wrk, the open-loop generator and the replicas pinned to core ${GENERATOR_CORE}, mlserve run (the gateway) to core ${GATEWAY_CORE}; keyed paths: wrk rotates over ${thousands(KEYS)} keys, the open loop sends user-42)`,
    )
    console.log('')
    console.log('Each path on its own (median of the rounds, and the range over them):')
    console.log('')
    console.log('| path | req/s | req/s range | gateway CPU µs/request | range | gateway share of its core | p50 ms (wrk) | p99 ms (wrk) | open-loop p50 ms | range | open-loop p99 ms | non-2xx + errors |')
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    for (const path of PATHS) {
      const c = closed[path.name]
      const o = open[path.name]
      const cells = [
        path.name,
        thousands(median(c.map((r) => r.requestsPerSec))),
        range(c.map((r) => r.requestsPerSec), 0, thousands),
        median(c.map((r) => r.cpuUsPerRequest)).toFixed(1),
        range(c.map((r) => r.cpuUsPerRequest), 0),
        `${(median(c.map((r) => r.coreShare)) * 100).toFixed(0)}%`,
        median(c.map((r) => r.p50Ms)).toFixed(2),
        median(c.map((r) => r.p99Ms)).toFixed(2),
        median(o.map((r) => r.latencyMs.p50)).toFixed(3),
        range(o.map((r) => r.latencyMs.p50), 2),
        median(o.map((r) => r.latencyMs.p99)).toFixed(3),
        String(c.reduce((sum, r) => sum + r.non2xx + r.errors, 0) + o.reduce((sum, r) => sum + r.requests.failed, 0)),
      ]
      console.log(`| ${cells.join(' | ')} |`)
    }
    console.log('')
    console.log('Against the baseline, round by round (the median of the per-round differences, and their range):')
    console.log('')
    console.log('| path | throughput overhead | range | gateway CPU added (µs/request) | range | p50 added, wrk (ms) | p50 added, open loop (ms) | range | p99 added, open loop (ms) | bar (≤ 5%, ≤ 0.05 ms) |')
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |')
    const verdicts: string[] = []
    for (const path of PATHS.slice(1)) {
      const c = closed[path.name]
      const o = open[path.name]
      const cb = closed[base]
      const ob = open[base]
      const overhead = paired((i) => (1 - c[i].requestsPerSec / cb[i].requestsPerSec) * 100)
      const cpu = paired((i) => c[i].cpuUsPerRequest - cb[i].cpuUsPerRequest)
      const p50 = paired((i) => c[i].p50Ms - cb[i].p50Ms)
      const openP50 = paired((i) => o[i].latencyMs.p50 - ob[i].latencyMs.p50)
      const openP99 = paired((i) => o[i].latencyMs.p99 - ob[i].latencyMs.p99)
      const met = median(overhead) <= BAR_THROUGHPUT_PERCENT && median(p50) <= BAR_P50_MS && median(openP50) <= BAR_P50_MS
      const cells = [
        path.name,
        `${sign(median(overhead), 1)}%`,
        range(overhead, 1, (n) => `${sign(n, 1)}%`),
        sign(median(cpu), 1),
        range(cpu, 1, (n) => sign(n, 1)),
        sign(median(p50), 3),
        sign(median(openP50), 3),
        range(openP50, 3, (n) => sign(n, 3)),
        sign(median(openP99), 3),
        met ? 'met' : 'NOT met',
      ]
      console.log(`| ${cells.join(' | ')} |`)
      verdicts.push(
        `${path.name}: throughput ${sign(median(overhead), 1)}% (bar ≤ ${BAR_THROUGHPUT_PERCENT}%), p50 ${sign(median(p50), 3)} ms closed loop / ${sign(median(openP50), 3)} ms open loop (bar ≤ ${BAR_P50_MS} ms): ${met ? 'met' : 'NOT met'} on the medians`,
      )
    }
    console.log('')
    for (const verdict of verdicts) console.log(`- ${verdict}`)
    for (const path of PATHS.filter((p) => p.endpoint === '/split')) console.log(`- answers by API in the last closed-loop round of ${path.name}: ${JSON.stringify(closed[path.name][rounds - 1].byApi)}`)
    if (PATHS.some((p) => open[p.name].some((r) => r.generator.saturated))) console.log('- warning: the open-loop generator reported itself saturated in at least one run')
    console.log('')
  } finally {
    await served.stop()
  }
}

// ---------------------------------------------------------------- part 2

function pythonApi(name: string, sleep: number, processes: number, threads: number, maxConcurrency: number): string {
  return `- name: ${name}
  kind: RealtimeAPI
  predictor:
    type: python
    path: predictor.py
    config: {sleep: ${sleep}, bare: true, version: ${name}}
    processes_per_replica: ${processes}
    threads_per_process: ${threads}
  autoscaling:
    min_replicas: 1
    max_replica_concurrency: ${maxConcurrency}
`
}

const shadowCounts = (figures: ApiFigures): ApiFigures['shadow'] => ({...figures.shadow})

async function shadowPart(): Promise<void> {
  const served = await serve({
    'predictor.py': readFileSync(new URL('../test/fixtures/traffic/versioned.py', import.meta.url), 'utf8'),
    'mlserve.yaml': `${pythonApi('p', 0.005, 1, 4, MAX_CONCURRENCY)}${pythonApi('s', 0.05, 1, 2, 16)}- name: plain
  kind: TrafficSplitter
  apis:
    - {name: p, weight: 100}
- name: shadowed
  kind: TrafficSplitter
  apis:
    - {name: p, weight: 100}
    - {name: s, weight: 0, shadow: true}
`,
  })
  await pin(served)
  try {
    const runs: Array<{splitter: string; result: LoadResult; shadow: ApiFigures['shadow']; gatewayCpu: number}> = []
    // Warm-up: both paths, so the shadow's pool and the interpreters are up.
    for (const splitter of ['plain', 'shadowed']) await openLoop(`${served.url}/${splitter}`, SHADOW_RATE, 3, {}, MAX_CONCURRENCY)
    await pause(2000)
    for (let round = 0; round < SHADOW_ROUNDS; round++) {
      for (const splitter of ['plain', 'shadowed']) {
        await waitForQuiet()
        const before = shadowCounts((await traffic(served.url)).apis.s)
        const cpuBefore = cpuSeconds(served.pid)
        const result = await openLoop(`${served.url}/${splitter}`, SHADOW_RATE, SHADOW_DURATION_S, {}, MAX_CONCURRENCY)
        // The gateway's CPU over the run (warm-up second included), as a share of its core.
        const gatewayCpu = (cpuSeconds(served.pid) - cpuBefore) / (SHADOW_DURATION_S + 1)
        await pause(1000) // the last copies finish (50 ms each)
        const after = shadowCounts((await traffic(served.url)).apis.s)
        const shadow = {sent: after.sent - before.sent, completed: after.completed - before.completed, shed: after.shed - before.shed, failed: after.failed - before.failed}
        runs.push({splitter, result, shadow, gatewayCpu})
        console.error(`shadow part ${splitter}: p50 ${result.latencyMs.p50.toFixed(3)} ms, p99 ${result.latencyMs.p99.toFixed(3)} ms, failed ${result.requests.failed}, gateway ${(gatewayCpu * 100).toFixed(1)}% of its core, shadow ${JSON.stringify(shadow)}`)
        await pause(1000)
      }
    }
    console.log(`## Part 2: the primary's latency with a shadow 10× slower`)
    console.log(
      `(${machine()}; primary p: versioned.py sleeping 5 ms, 1 process × 4 threads; shadow s: 50 ms, 1 × 2; open loop ${SHADOW_RATE} req/s (constant arrivals) for ${SHADOW_DURATION_S} s per run, the splitters in turn; ` +
        `the generator and both replicas pinned to core ${GENERATOR_CORE}, mlserve run (the gateway) to core ${GATEWAY_CORE})`,
    )
    console.log('| run | splitter | requests | p50 ms | p99 ms | p99.9 ms | max ms | errors (non-2xx, timeouts) | gateway CPU (% of its core) | shadow copies sent | completed | shed | failed |')
    console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    runs.forEach(({splitter, result, shadow, gatewayCpu}, i) => {
      const l = result.latencyMs
      console.log(
        `| ${i + 1} | ${splitter === 'plain' ? '/plain {p: 100}' : '/shadowed {p: 100, s: shadow}'} | ${thousands(result.requests.total)} | ${l.p50.toFixed(3)} | ${l.p99.toFixed(3)} | ${l.p999.toFixed(3)} | ${l.max.toFixed(3)} | ${result.requests.failed} | ${(gatewayCpu * 100).toFixed(1)} | ${thousands(shadow.sent)} | ${thousands(shadow.completed)} | ${thousands(shadow.shed)} | ${shadow.failed} |`,
      )
    })
    const of = (splitter: string, pick: (r: LoadResult) => number): number => median(runs.filter((r) => r.splitter === splitter).map((r) => pick(r.result)))
    const p99Plain = of('plain', (r) => r.latencyMs.p99)
    const p99Shadowed = of('shadowed', (r) => r.latencyMs.p99)
    const p50Plain = of('plain', (r) => r.latencyMs.p50)
    const p50Shadowed = of('shadowed', (r) => r.latencyMs.p50)
    console.log('')
    console.log(`- primary with the shadow against without (median of the runs): p50 ${p50Shadowed.toFixed(3)} against ${p50Plain.toFixed(3)} ms (${sign(p50Shadowed - p50Plain, 3)} ms), p99 ${p99Shadowed.toFixed(3)} against ${p99Plain.toFixed(3)} ms (${sign(p99Shadowed - p99Plain, 3)} ms)`)
    const shadowed = runs.filter((r) => r.splitter === 'shadowed')
    const sent = shadowed.reduce((sum, r) => sum + r.shadow.sent, 0)
    const shed = shadowed.reduce((sum, r) => sum + r.shadow.shed, 0)
    console.log(`- shadow copies over the shadowed runs: ${thousands(sent)} sent, ${thousands(shed)} shed (${((100 * shed) / Math.max(1, sent + shed)).toFixed(1)}% of the copies planned; the shadow's 2 slots at 50 ms take at most 40 copies/s)`)
    const errors = runs.reduce((sum, r) => sum + r.result.requests.failed, 0)
    console.log(`- primary errors over all runs: ${errors}`)
    if (runs.some((r) => r.result.generator.saturated)) console.log('- warning: the open-loop generator reported itself saturated in at least one run')
    console.log('')
  } finally {
    await served.stop()
  }
}

// ---------------------------------------------------------------- part 3

/**
 * The policies' own work per request, in process and on the gateway's core:
 * reading the shard key and its hash, the split's pick (smooth WRR, or the
 * slot table), and rendezvous over an API's replicas. Stand-in APIs answer
 * the split's pick with a fixed replica, so only the policy is timed. Each
 * figure is the median of 7 timings of 1M picks; end to end, the run-to-run
 * noise of a shared 2-core VM is far larger than these.
 */
function pickPart(): void {
  const replica = {id: 'a-0', isRoutable: true, admission: {full: false}}
  const stand = (name: string): ApiRoute => ({name, pick: () => replica}) as unknown as ApiRoute
  const split = new SplitRouter('split', '/split', [{api: stand('a'), weight: 50}, {api: stand('b'), weight: 50}], null)
  const keys = Array.from({length: KEYS}, (_, i) => `user-${i + 1}`)
  const replicas = (n: number) => Array.from({length: n}, (_, i) => ({id: `a-${i}`, full: false}))
  const four = replicas(4)
  const one = replicas(1)
  const hasRoom = (r: {full: boolean}): boolean => !r.full
  const N = 1_000_000
  const time = (f: (i: number) => unknown): number => {
    let sink = 0
    for (let i = 0; i < N; i++) if (f(i) !== null) sink++ // warm up: JIT
    const timings: number[] = []
    for (let t = 0; t < 7; t++) {
      const start = process.hrtime.bigint()
      for (let i = 0; i < N; i++) if (f(i) !== null) sink++
      timings.push(Number(process.hrtime.bigint() - start) / N)
    }
    if (sink < 0) console.log(sink)
    return median(timings)
  }
  // A fresh request object each time, as the gateway makes one per request, with the key header or without.
  const plain = (): RouteRequest => ({headers: {'content-type': 'application/json'}, query: ''})
  const keyed = (i: number): RouteRequest => ({headers: {'content-type': 'application/json', 'x-shard-key': keys[i % KEYS]}, query: ''})
  const rows: Array<[string, number]> = [
    ['a request object, no key read (floor)', time(() => plain())],
    ['shardOf, no key header', time(() => shardOf(plain()))],
    [`shardOf, X-Shard-Key (murmur3 of one of ${thousands(KEYS)} keys)`, time((i) => shardOf(keyed(i)))],
    ['split pick, no key (smooth WRR over 2 APIs)', time(() => split.pick(plain()))],
    ['split pick, X-Shard-Key (hash + slot table)', time((i) => split.pick(keyed(i)))],
    ['rendezvous over 1 replica (hash given)', time((i) => rendezvousPick(Math.imul(i, 0x9e3779b1) >>> 0, one, hasRoom))],
    ['rendezvous over 4 replicas (hash given)', time((i) => rendezvousPick(Math.imul(i, 0x9e3779b1) >>> 0, four, hasRoom))],
  ]
  console.log(`## Part 3: the policies' own work per request, in process (${machine()}, on core ${GATEWAY_CORE}, median of 7 × 1M picks)`)
  console.log('| step | ns per request |')
  console.log('| --- | ---: |')
  for (const [name, ns] of rows) console.log(`| ${name} | ${ns.toFixed(0)} |`)
  console.log('')
}

await pinToCore(process.pid, GENERATOR_CORE)
console.log(`node --import tsx bench/traffic-cost.ts ${process.argv.slice(2).join(' ')}`.trim())
console.log('')
if (part === 'split' || part === 'all') await splitPart()
if (part === 'shadow' || part === 'all') await shadowPart()
if (part === 'pick' || part === 'all') {
  await pinToCore(process.pid, GATEWAY_CORE)
  pickPart()
}
