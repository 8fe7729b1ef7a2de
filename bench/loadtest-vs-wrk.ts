// The load generator against wrk, on the same fast target in the same run.
//
// Target: a no-op Node HTTP server in its own process (bench/noop-backend.mjs).
// wrk -t1 -c32 -d<duration>s --latency, and mlserve's closed loop (autocannon,
// with per-request µs timing) at 32 connections for as long, both sending the
// same small JSON POST. Printed: each one's req/s and p50, and the ratios:
// the generator's ceiling as a fraction of wrk's, and its p50 against wrk's.
// A single Node process is often slower than either generator, so the same
// comparison runs against a faster target too: HAProxy answering 200 itself
// (`http-request return`), where the generator is what limits req/s.
// Then, for context, the open loop at a fixed rate: how many sends went out
// late, and the generator's CPU.
//
// Run: node --import tsx bench/loadtest-vs-wrk.ts [--duration 10] [--rounds 1]
import {cpus, loadavg} from 'node:os'
import {loadRequestSource, runClosedLoop, runOpenLoop, type LoadResult} from '../src/loadtest/index.js'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa} from 'execa'
import {freeLoopbackPort, machine, noopBackend, ratio, waitForPort, wrk, type WrkResult} from './lib.js'

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) || fallback : fallback
}
const durationS = arg('--duration', 10)
const rounds = arg('--rounds', 1)
const CONNECTIONS = 32
const OPEN_RATE = 2000

/** HAProxy answering every request with 200 and a small JSON body itself: a target faster than one Node process. */
async function staticHaproxy(): Promise<{url: string; stop: () => Promise<void>}> {
  const dir = mkdtempSync(join(tmpdir(), 'mlserve-bench-static-'))
  const port = await freeLoopbackPort()
  const file = join(dir, 'haproxy.cfg')
  writeFileSync(
    file,
    `global
  maxconn 4096
  nbthread 1
defaults
  mode http
  timeout client 60s
  option http-keep-alive
frontend static
  bind 127.0.0.1:${port}
  http-request return status 200 content-type application/json string '{"ok":true}'
`,
  )
  const child = execa('haproxy', ['-f', file, '-db'], {reject: false, stdio: 'ignore'})
  await waitForPort(port)
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      child.kill('SIGTERM')
      await child
      rmSync(dir, {recursive: true, force: true})
    },
  }
}

const request = await loadRequestSource({data: '{"x": 1}'})
type Round = {wrk: WrkResult; ours: LoadResult}

async function compare(url: string): Promise<Round[]> {
  // Warm both paths (JIT, connections) before measuring.
  await wrk(url, {connections: CONNECTIONS, durationS: 2})
  await runClosedLoop({url, connections: CONNECTIONS, durationMs: 2000, request})
  const results: Round[] = []
  for (let round = 0; round < rounds; round++) {
    // Alternate the order so neither always runs on a warmer machine.
    if (round % 2 === 0) {
      const w = await wrk(url, {connections: CONNECTIONS, durationS})
      const o = await runClosedLoop({url, connections: CONNECTIONS, durationMs: durationS * 1000, request})
      results.push({wrk: w, ours: o})
    } else {
      const o = await runClosedLoop({url, connections: CONNECTIONS, durationMs: durationS * 1000, request})
      const w = await wrk(url, {connections: CONNECTIONS, durationS})
      results.push({wrk: w, ours: o})
    }
  }
  return results
}

function print(title: string, results: Round[]): void {
  console.log(`## ${title}`)
  console.log('| round | wrk req/s | mlserve req/s | ceiling ratio | wrk p50 ms | mlserve p50 ms | p50 ratio | mlserve p99 ms | generator CPU |')
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |')
  results.forEach(({wrk: w, ours: o}, i) => {
    console.log(
      `| ${i + 1} | ${Math.round(w.requestsPerSec)} | ${Math.round(o.throughput)} | ${ratio(o.throughput, w.requestsPerSec)} | ${w.p50Ms.toFixed(3)} | ${o.latencyMs.p50.toFixed(3)} | ${ratio(o.latencyMs.p50, w.p50Ms)} | ${o.latencyMs.p99.toFixed(3)} | ${o.generator.cpuPercent}% |`,
    )
  })
  const mean = (f: (r: Round) => number): number => results.reduce((sum, r) => sum + f(r), 0) / results.length
  console.log('')
  console.log(`ceiling, mlserve / wrk: ${ratio(mean((r) => r.ours.throughput), mean((r) => r.wrk.requestsPerSec))}`)
  console.log(`p50, mlserve / wrk: ${ratio(mean((r) => r.ours.latencyMs.p50), mean((r) => r.wrk.p50Ms))}`)
  console.log('')
}

console.log(`# mlserve loadtest vs wrk (${machine()}, ${cpus().length} cores, load average ${loadavg()[0].toFixed(2)}; ${CONNECTIONS} connections, ${durationS} s per run, ${rounds} round(s))`)
console.log('')
const backend = await noopBackend()
try {
  const url = `${backend.url}/predict`
  print('no-op Node server (bench/noop-backend.mjs)', await compare(url))
  const open = await runOpenLoop({url, rate: OPEN_RATE, durationMs: Math.min(durationS, 5) * 1000, warmupMs: 1000, request})
  console.log(
    `open loop at ${OPEN_RATE} req/s on the no-op Node server: achieved ${open.sendRate} req/s, ${open.generator.latePercent}% of sends over ${open.generator.lateThresholdMs} ms late (lateness p50 ${open.generator.lateness?.p50} ms, p99 ${open.generator.lateness?.p99} ms), p50 ${open.latencyMs.p50} ms, p99 ${open.latencyMs.p99} ms, generator CPU ${open.generator.cpuPercent}%`,
  )
  console.log('')
} finally {
  await backend.stop()
}
const haproxy = await staticHaproxy()
try {
  print('HAProxy answering by itself (a faster target)', await compare(`${haproxy.url}/predict`))
} finally {
  await haproxy.stop()
}
