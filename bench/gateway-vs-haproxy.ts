// Gateway against HAProxy, both in front of the same no-op replica.
//
// `mlserve run` serves a replica with 32 slots and max_replica_concurrency 64.
// HAProxy gets the equivalent admission control: `maxconn 32` per server and a
// 503 once the backend queue holds 32. wrk -c32 drives each path closed-loop;
// then an open loop at a fixed 1,000 req/s measures the p99 each proxy adds over
// a direct call. Two reference proxies bound what a Node gateway can reach
// (bench/ceiling-proxies.mjs): node:http + undici with none of the gateway's
// logic, and a TCP pipe with no HTTP at all. For each proxy, the CPU it used per
// request in the closed loop. Two replicas, in turn:
// - `node`: a no-op Node server as a `command` replica, so the proxy is the bottleneck;
// - `python`: mlserve's harness with a no-op predictor (1 process × 32 threads),
//   the replica users actually run.
//
// With --baseline DIR, the gateway of another mlserve checkout (built, with
// its own replica) runs beside this one in the same run: "gateway (before)".
//
// Cores: the bench process, its wrk and the replica run on core 0; each proxy
// under test is pinned to core 1 (taskset), so the proxy measured has a core
// of its own and every proxy gets the same arrangement.
//
// Run: node --import tsx bench/gateway-vs-haproxy.ts [--duration 10] [--rounds 3] [--replica node|python] [--baseline DIR]
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {request} from 'undici'
import {cliPath} from '../test/helpers/cli.js'
import {runOpenLoop, type LoadResult} from '../src/loadtest/index.js'
import {cpuSeconds, machine, pinToCore, pinGroupToCore, ratio, serveProject, startHaproxy, startScript, wrk, type WrkResult} from './lib.js'

const durationS = Number(process.argv[process.argv.indexOf('--duration') + 1]) || 10
const rounds = process.argv.includes('--rounds') ? Number(process.argv[process.argv.indexOf('--rounds') + 1]) : 1
const SLOTS = 32
const MAX_CONCURRENCY = 64
const FIXED_RATE = 1000

type ReplicaKind = 'node' | 'python'

const baseline = process.argv.includes('--baseline') ? process.argv[process.argv.indexOf('--baseline') + 1] : null
const GENERATOR_CORE = 0
const PROXY_CORE = 1

async function startGateway(kind: ReplicaKind, cli = cliPath): Promise<{url: string; pid: number; replicaOrigin: string; replicaPid: number; stop: () => Promise<void>}> {
  const dir = mkdtempSync(join(tmpdir(), 'mlserve-bench-gw-'))
  const backend = new URL('./noop-backend.mjs', import.meta.url).pathname
  const predictor =
    kind === 'node'
      ? `  type: command\n  command: ["${process.execPath}", "${backend}"]`
      : '  type: python\n  path: predictor.py'
  writeFileSync(join(dir, 'predictor.py'), 'class PythonPredictor:\n    def __init__(self, config):\n        pass\n\n    def predict(self, payload):\n        return {"ok": True}\n')
  writeFileSync(
    join(dir, 'mlserve.yaml'),
    `name: noop
predictor:
${predictor}
  processes_per_replica: 1
  threads_per_process: ${SLOTS}
autoscaling:
  max_replica_concurrency: ${MAX_CONCURRENCY}
`,
  )
  const served = await serveProject<{apis: Array<{replicas: Array<{origin: string; pid: number}>}>}>(cli, dir)
  const [replica] = served.status.apis[0].replicas
  return {url: served.url, pid: served.pid, replicaOrigin: replica.origin, replicaPid: replica.pid, stop: served.stop}
}

/**
 * Waits until every proxy's idle connections to the replica have closed (the
 * gateway's and undici's pools after 4 s, HAProxy's after 1 s): the harness
 * serves a connection per thread, so one path's idle connections would hold
 * threads the next path needs.
 */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5_000))

async function openLoopP99(url: string, maxConnections: number): Promise<LoadResult> {
  return runOpenLoop({
    url,
    rate: FIXED_RATE,
    arrival: 'constant',
    durationMs: durationS * 1000,
    warmupMs: 1000,
    request: {method: 'POST', headers: {'content-type': 'application/json'}, bodies: [Buffer.from('{"x": 1}')]},
    timeoutMs: 10_000,
    maxConnections,
  })
}

async function scenario(kind: ReplicaKind): Promise<void> {
  const gateway = await startGateway(kind)
  const before = baseline ? await startGateway(kind, join(baseline, 'bin', 'run.js')) : null
  const replicaPort = new URL(gateway.replicaOrigin).port
  const haproxy = await startHaproxy(Number(replicaPort), {slots: SLOTS, queueLimit: MAX_CONCURRENCY - SLOTS})
  const httpUndici = await startScript('./ceiling-proxies.mjs', ['http-undici', replicaPort, '/predict'])
  const tcpPipe = await startScript('./ceiling-proxies.mjs', ['tcp-pipe', replicaPort])
  const paths: Record<string, {url: string; pid?: number; ceiling?: boolean}> = {
    direct: {url: `${gateway.replicaOrigin}/predict`},
    haproxy: {url: `${haproxy.url}/predict`, pid: haproxy.pid},
    gateway: {url: `${gateway.url}/noop`, pid: gateway.pid},
    ...(before ? {'gateway (before)': {url: `${before.url}/noop`, pid: before.pid}} : {}),
    'ceiling: node:http + undici, no logic': {url: `${httpUndici.url}/predict`, pid: httpUndici.pid, ceiling: true},
    'ceiling: TCP pipe, no HTTP': {url: `${tcpPipe.url}/predict`, pid: tcpPipe.pid, ceiling: true},
  }
  for (const path of Object.values(paths)) if (path.pid) await pinToCore(path.pid, PROXY_CORE)
  for (const g of before ? [gateway, before] : [gateway]) await pinGroupToCore(g.replicaPid, GENERATOR_CORE)
  try {
    // Each path is measured `rounds` times, the paths taking turns, and the
    // round with the median throughput is reported: one run on a shared 2-core
    // machine swings by tens of percent.
    const runs: Record<string, Array<WrkResult & {cpuUsPerRequest: number | null}>> = {}
    for (let round = 0; round < rounds; round++) {
      for (const [name, path] of Object.entries(paths)) {
        if (round === 0) await wrk(path.url, {connections: SLOTS, durationS: 2}) // warm up (JIT, connection pools)
        const cpuBefore = path.pid ? cpuSeconds(path.pid) : 0
        const result = await wrk(path.url, {connections: SLOTS, durationS})
        const cpu = path.pid ? cpuSeconds(path.pid) - cpuBefore : null
        ;(runs[name] ??= []).push({...result, cpuUsPerRequest: cpu === null ? null : (cpu * 1e6) / (result.requestsPerSec * durationS)})
        await settle()
      }
    }
    const closed = Object.fromEntries(
      Object.entries(runs).map(([name, list]) => [name, [...list].sort((a, b) => a.requestsPerSec - b.requestsPerSec)[Math.floor(list.length / 2)]]),
    )
    const open: Record<string, LoadResult> = {}
    // Direct calls get at most one connection per slot: the harness serves a connection per thread, so more would wait in its backlog, uncounted by any admission.
    for (const [name, path] of Object.entries(paths)) {
      if (path.ceiling) continue
      open[name] = await openLoopP99(path.url, name === 'direct' ? SLOTS : MAX_CONCURRENCY)
      await settle()
    }

    const added = (name: string, pick: (r: LoadResult) => number): number => pick(open[name]) - pick(open.direct)
    const p99 = (r: LoadResult): number => r.latencyMs.p99
    const p50 = (r: LoadResult): number => r.latencyMs.p50
    const fixed = (n: number | undefined, digits: number): string => (n === undefined ? '-' : n.toFixed(digits))
    console.log(`## ${kind === 'node' ? 'no-op Node replica (the proxy is the bottleneck)' : "mlserve's Python harness, no-op predictor, 1 process × 32 threads"}`)
    console.log(`(${machine()}, wrk -t1 -c${SLOTS} -d${durationS}s, median of ${rounds} round(s) taken in turns; open loop ${FIXED_RATE} req/s for ${durationS}s; generator and replica on core ${GENERATOR_CORE}, the proxy under test on core ${PROXY_CORE})`)
    console.log('| path | req/s (closed loop) | proxy CPU µs per request | p50 ms | p99 ms | non-2xx | p50 at 1,000 req/s (ms) | p99 at 1,000 req/s (ms) | p50 / p99 added over direct (ms) |')
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |')
    for (const name of Object.keys(paths)) {
      const c = closed[name]
      const o = open[name]
      const addedText = name === 'direct' || !o ? '-' : `${added(name, p50).toFixed(3)} / ${added(name, p99).toFixed(3)}`
      const cpu = c.cpuUsPerRequest === null ? '-' : c.cpuUsPerRequest.toFixed(0)
      console.log(`| ${name} | ${Math.round(c.requestsPerSec)} | ${cpu} | ${c.p50Ms.toFixed(2)} | ${c.p99Ms.toFixed(2)} | ${c.non2xx + c.errors} | ${fixed(o?.latencyMs.p50, 3)} | ${fixed(o?.latencyMs.p99, 3)} | ${addedText} |`)
    }
    console.log('')
    for (const g of before ? [['gateway', gateway], ['gateway (before)', before]] as const : [['gateway', gateway]] as const) {
      const metrics = await (await request(`${g[1].url}/metrics`)).body.text()
      const codes = [...metrics.matchAll(/^mlserve_requests_total\{[^}]*code="(\d+)"\} (\d+)/gm)].map((m) => `${m[1]}: ${m[2]}`)
      console.log(`${g[0]} answers by status: ${codes.join(', ')}`)
    }
    console.log(`throughput, gateway / HAProxy: ${ratio(closed.gateway.requestsPerSec, closed.haproxy.requestsPerSec)} (goal ≥ 0.8×)`)
    console.log(`throughput, gateway / direct: ${ratio(closed.gateway.requestsPerSec, closed.direct.requestsPerSec)}; HAProxy / direct: ${ratio(closed.haproxy.requestsPerSec, closed.direct.requestsPerSec)}`)
    for (const name of Object.keys(paths).filter((n) => paths[n].ceiling)) {
      console.log(`throughput, ${name} / HAProxy: ${ratio(closed[name].requestsPerSec, closed.haproxy.requestsPerSec)}; gateway / it: ${ratio(closed.gateway.requestsPerSec, closed[name].requestsPerSec)}`)
    }
    console.log(`p99 added at ${FIXED_RATE} req/s: gateway ${added('gateway', p99).toFixed(3)} ms (goal ≤ 1 ms), HAProxy ${added('haproxy', p99).toFixed(3)} ms`)
    if (before) {
      console.log(`gateway after / before: throughput ${ratio(closed.gateway.requestsPerSec, closed['gateway (before)'].requestsPerSec)}, CPU per request ${ratio(closed.gateway.cpuUsPerRequest ?? 0, closed['gateway (before)'].cpuUsPerRequest ?? 0)}, p99 added at ${FIXED_RATE} req/s ${added('gateway', p99).toFixed(3)} against ${added('gateway (before)', p99).toFixed(3)} ms`)
    }
    console.log('')
  } finally {
    await Promise.all([tcpPipe.stop(), httpUndici.stop(), haproxy.stop()])
    await gateway.stop()
    await before?.stop()
  }
}

await pinToCore(process.pid, GENERATOR_CORE)
const only = process.argv.includes('--replica') ? (process.argv[process.argv.indexOf('--replica') + 1] as ReplicaKind) : null
for (const kind of ['node', 'python'] as const) {
  if (only === null || only === kind) await scenario(kind)
}
