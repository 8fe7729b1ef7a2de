// The prediction cache on the sklearn template: a hit against a miss, side by
// side in one run of one `mlserve run`, and the hit ratio of a load with a
// known share of repeated bodies.
//
// The project is the sklearn template as `mlserve init` writes it (iris,
// LogisticRegression, trained at init), with three changes: predictor.cache
// on (max_entries 200000, max_bytes 64Mi, ttl 1h), processes_per_replica 1
// (the replica gets one core) and max_replica_concurrency 64 (so the closed
// loop's connections queue rather than being shed).
//
// Paths, driven by wrk (one thread, one Lua state building every request):
//   hit:  the same body every time ({"instances": [[5.1, 3.5, 1.4, 0.2]], "id": 0},
//         answered once by the replica before the round), so every answer
//         comes from the cache;
//   miss: a body never seen before on every request (the id counts up), so
//         every answer comes from the replica, and is stored.
// Each is run at 1 connection (latency: p50 and p99 of one request at a time)
// and at --connections (throughput), in interleaved rounds (hit, miss, miss,
// hit, …), and each figure is the median of the rounds.
//
// Then the mixed load: every 4th request a new body, the others one of 75
// hot bodies (n % 100 for the n not divisible by 4), at --connections for
// --duration. Expected hit ratio over the T requests answered: 1 − (⌊T/4⌋ +
// 75) / T (each hot body misses once); seen: mlserve_cache_hits_total and
// mlserve_cache_misses_total from /metrics.
//
// Last, in process (after the runtime stopped): what a lookup costs the
// gateway per request, parseCanonical of the iris body and a get (a hit, and
// a miss), timed over 200,000 calls.
//
// Cores (the machine has 2, shared with other work): wrk and this process on
// core 0; `mlserve run` (the gateway) and the replica's processes on core 1.
//
// Run: node --import tsx bench/cache.ts [--duration 4] [--rounds 3] [--connections 16] [--cli PATH]
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa} from 'execa'
import {request} from 'undici'
import {initProject} from '../src/scaffold/index.js'
import {PredictionCache} from '../src/runtime/gateway/cache.js'
import {parseCanonical} from '../src/runtime/gateway/canonical-json.js'
import {cliPath} from '../test/helpers/cli.js'
import {flag, machine, parseWrk, pinGroupToCore, pinToCore, ratio, serveProject, type WrkResult} from './lib.js'

const durationS = Number(flag('--duration')) || 4
const rounds = Number(flag('--rounds')) || 3
const connections = Number(flag('--connections')) || 16
const cli = flag('--cli') ?? cliPath
const GENERATOR_CORE = 0
const SERVING_CORE = 1
const HOT_BODIES = 75

const REQUEST_LUA = `local mode = "hit"
local offset = 0
local n = 0
function init(args)
  mode = args[1]
  offset = tonumber(args[2]) or 0
end
function request()
  n = n + 1
  local id = 0
  if mode == "miss" then
    id = offset + n
  elseif mode == "mixed" then
    if n % 4 == 0 then id = offset + n else id = -(offset + n % 100) end
  end
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, '{"instances": [[5.1, 3.5, 1.4, 0.2]], "id": ' .. id .. '}')
end
`

interface Run extends WrkResult {
  requests: number
}

let luaFile: string | null = null
async function drive(url: string, mode: 'hit' | 'miss' | 'mixed', offset: number, conns: number, seconds: number): Promise<Run> {
  if (!luaFile) {
    const dir = mkdtempSync(join(tmpdir(), 'mlserve-bench-cache-'))
    luaFile = join(dir, 'request.lua')
    writeFileSync(luaFile, REQUEST_LUA)
    process.on('exit', () => rmSync(dir, {recursive: true, force: true}))
  }
  const {stdout} = await execa('taskset', ['-c', String(GENERATOR_CORE), 'wrk', '-t1', `-c${conns}`, `-d${seconds}s`, '--latency', '-s', luaFile, url, '--', mode, String(offset)])
  const total = /(\d+) requests in/.exec(stdout)
  return {...parseWrk(stdout), requests: total ? Number(total[1]) : 0}
}

async function cacheCounts(url: string): Promise<{hits: number; misses: number; entries: number; bytes: number}> {
  const text = await (await request(`${url}/metrics`)).body.text()
  const read = (name: string): number => Number(new RegExp(`^${name}\\{api="iris"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN)
  return {hits: read('mlserve_cache_hits_total'), misses: read('mlserve_cache_misses_total'), entries: read('mlserve_cache_entries'), bytes: read('mlserve_cache_bytes')}
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((x, y) => x - y)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

async function project(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'mlserve-bench-cache-iris-'))
  const init = await initProject({dir, template: 'sklearn', name: 'iris'})
  if (!init.trained) throw new Error(`the sklearn template did not train (${init.warnings.join('; ')}); this benchmark needs a python3 with scikit-learn`)
  const file = join(dir, 'mlserve.yaml')
  const yaml = readFileSync(file, 'utf8')
  const edited = yaml
    .replace(/^ {2}processes_per_replica: \d+$/m, '  processes_per_replica: 1')
    .replace(/^ {2}threads_per_process: 1$/m, '  threads_per_process: 1\n  cache:\n    max_entries: 200000\n    max_bytes: 64Mi\n    ttl: 1h')
    .replace(/^ {2}max_replica_concurrency: \d+$/m, '  max_replica_concurrency: 64')
  if (!edited.includes('  cache:\n') || !edited.includes('max_replica_concurrency: 64') || !edited.includes('processes_per_replica: 1')) throw new Error('the template mlserve.yaml changed shape; update bench/cache.ts')
  writeFileSync(file, edited)
  return dir
}

async function main(): Promise<void> {
  const dir = await project()
  const served = await serveProject<{apis: Array<{name: string; replicas: Array<{pid: number}>}>}>(cli, dir)
  const url = `${served.url}/iris`
  try {
    await pinToCore(served.pid, SERVING_CORE)
    for (const replica of served.status.apis[0].replicas) await pinGroupToCore(replica.pid, SERVING_CORE)
    // The hit path's body, answered once by the replica; then a short warm-up of both paths (JIT, pools).
    const first = await request(url, {method: 'POST', body: '{"instances": [[5.1, 3.5, 1.4, 0.2]], "id": 0}', headers: {'content-type': 'application/json'}})
    console.error(`first answer: ${first.statusCode} ${first.headers['x-mlserve-cache']} ${await first.body.text()}`)
    let offset = 1_000_000
    const nextOffset = (): number => (offset += 10_000_000)
    await drive(url, 'hit', 0, connections, 1)
    await drive(url, 'miss', nextOffset(), connections, 1)

    const results: Record<string, Run[]> = {}
    const paths = [
      {name: 'hit, 1 connection', mode: 'hit' as const, conns: 1},
      {name: 'miss, 1 connection', mode: 'miss' as const, conns: 1},
      {name: `hit, ${connections} connections`, mode: 'hit' as const, conns: connections},
      {name: `miss, ${connections} connections`, mode: 'miss' as const, conns: connections},
    ]
    for (let round = 0; round < rounds; round++) {
      // Each round reverses the order of the pair, so neither always runs first.
      for (const pair of [[paths[0], paths[1]], [paths[2], paths[3]]]) {
        for (const path of round % 2 === 0 ? pair : [...pair].reverse()) {
          const before = await cacheCounts(served.url)
          const run = await drive(url, path.mode, nextOffset(), path.conns, durationS)
          const after = await cacheCounts(served.url)
          const hits = after.hits - before.hits
          const misses = after.misses - before.misses
          if (run.non2xx + run.errors > 0) console.error(`${path.name}: ${run.non2xx} non-2xx, ${run.errors} socket errors`)
          console.error(`round ${round + 1} ${path.name}: ${Math.round(run.requestsPerSec)} req/s, p50 ${run.p50Ms.toFixed(3)} ms, p99 ${run.p99Ms.toFixed(3)} ms; cache hits ${hits}, misses ${misses}`)
          ;(results[path.name] ??= []).push(run)
        }
      }
    }

    const before = await cacheCounts(served.url)
    const mixed = await drive(url, 'mixed', nextOffset(), connections, durationS)
    const after = await cacheCounts(served.url)
    const hits = after.hits - before.hits
    const misses = after.misses - before.misses
    const total = hits + misses
    const expected = 1 - (Math.floor(total / 4) + HOT_BODIES) / total

    const row = (name: string): string => {
      const runs = results[name]
      return `| ${name} | ${Math.round(median(runs.map((r) => r.requestsPerSec))).toLocaleString('en-US')} | ${median(runs.map((r) => r.p50Ms)).toFixed(3)} | ${median(runs.map((r) => r.p99Ms)).toFixed(3)} |`
    }
    const m = (name: string, pick: (r: Run) => number): number => median(results[name].map(pick))
    console.log(`\n## Prediction cache: hit against miss (sklearn template, ${machine()})\n`)
    console.log(`wrk -t1, ${durationS} s per run, median of ${rounds} rounds; wrk on core ${GENERATOR_CORE}, gateway and replica (1 process) on core ${SERVING_CORE}.\n`)
    console.log('| path | req/s | p50 ms | p99 ms |')
    console.log('| --- | ---: | ---: | ---: |')
    for (const path of paths) console.log(row(path.name))
    console.log('')
    console.log(`- 1 connection: a hit's p50 is ${ratio(m(paths[1].name, (r) => r.p50Ms), m(paths[0].name, (r) => r.p50Ms))} lower than a miss's; throughput ${ratio(m(paths[0].name, (r) => r.requestsPerSec), m(paths[1].name, (r) => r.requestsPerSec))}.`)
    console.log(`- ${connections} connections: hit throughput ${ratio(m(paths[2].name, (r) => r.requestsPerSec), m(paths[3].name, (r) => r.requestsPerSec))} a miss's; p50 ${ratio(m(paths[3].name, (r) => r.p50Ms), m(paths[2].name, (r) => r.p50Ms))} lower.`)
    console.log(`\n## Mixed load: 1 in 4 bodies new, the others one of ${HOT_BODIES} hot bodies (${connections} connections, ${durationS} s)\n`)
    console.log(`- answered: ${total} (wrk: ${mixed.requests}, ${Math.round(mixed.requestsPerSec)} req/s, p50 ${mixed.p50Ms.toFixed(3)} ms, p99 ${mixed.p99Ms.toFixed(3)} ms, ${mixed.non2xx} non-2xx)`)
    console.log(`- hit ratio seen in /metrics: ${(hits / total).toFixed(4)} (${hits} hits, ${misses} misses); expected 1 − (⌊T/4⌋ + ${HOT_BODIES})/T = ${expected.toFixed(4)}`)
    console.log(`- cache after the run: ${after.entries} entries, ${after.bytes} bytes (max_bytes 64Mi = ${64 * 2 ** 20})`)
  } finally {
    await served.stop()
  }
  lookupCost()
}

/** Nanoseconds per parse + lookup of the iris body, hit and miss, in this process. */
function lookupCost(): void {
  const body = Buffer.from('{"instances": [[5.1, 3.5, 1.4, 0.2]], "id": 0}')
  const cache = new PredictionCache({maxEntries: 1000, maxBytes: 1 << 20, ttlMs: 3_600_000})
  const answer = {body: Buffer.from('{"predictions":["setosa"],"probabilities":[0.981]}'), contentType: 'application/json'}
  cache.set(parseCanonical(body)!.canonical, answer)
  const other = Buffer.from('{"instances": [[5.1, 3.5, 1.4, 0.3]], "id": 0}')
  const time = (what: Buffer): number => {
    const n = 200_000
    let found = 0
    for (let i = 0; i < 20_000; i++) if (cache.get(parseCanonical(what)!.canonical)) found++
    const start = process.hrtime.bigint()
    for (let i = 0; i < n; i++) if (cache.get(parseCanonical(what)!.canonical)) found++
    const ns = Number(process.hrtime.bigint() - start) / n
    if (found < 0) console.error(found)
    return ns
  }
  console.log(`\n## A lookup's cost on the gateway (in process, ${body.length}-byte body)\n`)
  console.log(`- parseCanonical + get, a hit: ${Math.round(time(body))} ns; a miss: ${Math.round(time(other))} ns`)
}

await main()
