// AsyncAPI: the embedded LMDB store against Redis, side by side in one run of
// one `mlserve run` that serves the same predictor as two AsyncAPIs, `emb`
// (async.store: embedded) and `red` (async.store: redis).
//
// 1. Submit rate: a closed loop of C concurrent POSTs (undici pool) sends N
//    jobs to one API, then to the other, for R interleaved rounds; each POST
//    is answered once its job is durable (LMDB committed and flushed; Redis
//    with appendfsync always). Reported per round: submits/s and the POST's p50/p99.
// 2. Submit to completion under load: an open loop at a fixed rate (below the
//    replica's capacity) submits for D seconds to one API, then the other, R
//    rounds; afterwards every job is read back and its own timestamps give
//    the time from submit to start (queue wait) and to completion, p50/p99.
//    Between rounds the bench waits until the queue is empty.
//
// The predictor sleeps 2 ms (1 process × 8 threads). Cores (the machine has
// 2): `mlserve run` (gateway, workers, the LMDB store) and redis-server share
// core 1, the queue side; the replica and this process (the load) run on
// core 0. Redis runs with appendonly yes, appendfsync always, so both stores
// acknowledge a job only once it is on disk.
//
// Run: node --import tsx bench/async.ts [--jobs 2000] [--concurrency 32] [--rate 200] [--duration 8] [--rounds 2] [--cli PATH]
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa} from 'execa'
import {Pool} from 'undici'
import {startRedis} from '../test/helpers/redis.js'
import {machine, pinGroupToCore, pinToCore, serveProject} from './lib.js'

const args = process.argv.slice(2)
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`)
  return i === -1 ? fallback : Number(args[i + 1])
}
const cliFlag = args.indexOf('--cli')
const CLI = cliFlag === -1 ? join(import.meta.dirname, '..', 'bin', 'run.js') : args[cliFlag + 1]
const JOBS = flag('jobs', 2000)
const CONCURRENCY = flag('concurrency', 32)
const RATE = flag('rate', 200)
const DURATION_S = flag('duration', 8)
const ROUNDS = flag('rounds', 2)

const PREDICTOR = `
import time
class PythonPredictor:
    def __init__(self, config):
        pass
    def predict(self, payload):
        time.sleep(0.002)
        return {"n": payload.get("n")}
`

interface Status {
  apis: Array<{name: string; replicas: Array<{pid: number}>}>
}

/** The p-th percentile (nearest rank) of the values. */
const percentile = (values: number[], p: number): number => {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

async function post(pool: Pool, path: string, n: number): Promise<string> {
  const answer = await pool.request({method: 'POST', path, body: JSON.stringify({n}), headers: {'content-type': 'application/json'}})
  const text = await answer.body.text()
  if (answer.statusCode !== 200) throw new Error(`POST ${path} answered ${answer.statusCode}: ${text}`)
  return (JSON.parse(text) as {id: string}).id
}

async function submitRound(pool: Pool, path: string): Promise<{rate: number; p50: number; p99: number}> {
  const latencies: number[] = []
  let next = 0
  const started = performance.now()
  await Promise.all(
    Array.from({length: CONCURRENCY}, async () => {
      while (next < JOBS) {
        const n = next++
        const t = performance.now()
        await post(pool, path, n)
        latencies.push(performance.now() - t)
      }
    }),
  )
  const seconds = (performance.now() - started) / 1000
  return {rate: JOBS / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99)}
}

async function openLoopRound(pool: Pool, path: string): Promise<{ids: string[]; errors: number}> {
  const ids: string[] = []
  let errors = 0
  const total = RATE * DURATION_S
  const start = performance.now()
  const pending: Promise<void>[] = []
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / RATE
    const wait = due - performance.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    pending.push(post(pool, path, i).then((id) => void ids.push(id), () => void errors++))
  }
  await Promise.all(pending)
  return {ids, errors}
}

async function timings(pool: Pool, path: string, ids: string[]): Promise<{wait: number[]; total: number[]; failed: number}> {
  const wait: number[] = []
  const total: number[] = []
  let failed = 0
  for (const id of ids) {
    const answer = await pool.request({method: 'GET', path: `${path}/${id}`})
    const job = (await answer.body.json()) as {status: string; created: string; started?: string; finished?: string}
    if (job.status !== 'completed') {
      failed++
      continue
    }
    const created = Date.parse(job.created)
    if (job.started) wait.push(Date.parse(job.started) - created)
    total.push(Date.parse(job.finished!) - created)
  }
  return {wait, total, failed}
}

async function drained(url: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const text = await (await fetch(`${url}/metrics`)).text()
    const busy = text
      .split('\n')
      .filter((line) => /^mlserve_async_(queue_length|in_progress)\{/.test(line))
      .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0)
    if (busy === 0) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error('the queues did not drain')
}

const redis = await startRedis()
const dir = mkdtempSync(join(tmpdir(), 'mlserve-bench-async-'))
writeFileSync(join(dir, 'predictor.py'), PREDICTOR)
const api = (name: string, store: string) => `- name: ${name}
  kind: AsyncAPI
  predictor: {type: python, path: predictor.py, processes_per_replica: 1, threads_per_process: 8}
  async: {store: ${store}, redis_url: "${redis.url}"}
`
writeFileSync(join(dir, 'mlserve.yaml'), api('emb', 'embedded') + api('red', 'redis'))
const served = await serveProject<Status>(CLI, dir)
await pinToCore(served.pid, 1)
const {stdout: redisPid} = await execa('pgrep', ['-f', `redis-server 127.0.0.1:${redis.port}`], {reject: false})
for (const pid of redisPid.split(/\s+/).filter(Boolean)) await pinToCore(Number(pid), 1)
for (const entry of served.status.apis) for (const replica of entry.replicas) await pinGroupToCore(replica.pid, 0)
await pinToCore(process.pid, 0)

const pool = new Pool(served.url, {connections: CONCURRENCY, pipelining: 1})
const stores = [
  {name: 'embedded (LMDB)', path: '/emb'},
  {name: 'redis', path: '/red'},
]
const submits = new Map<string, Array<{rate: number; p50: number; p99: number}>>()
const loads = new Map<string, {wait: number[]; total: number[]; failed: number; errors: number}>()
try {
  // Warm-up: a few jobs each, so connections, the replica and the stores are up.
  for (const store of stores) for (let n = 0; n < 50; n++) await post(pool, store.path, n)
  await drained(served.url)
  for (let round = 0; round < ROUNDS; round++) {
    for (const store of round % 2 === 0 ? stores : [...stores].reverse()) {
      const result = await submitRound(pool, store.path)
      submits.set(store.name, [...(submits.get(store.name) ?? []), result])
      await drained(served.url)
    }
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const store of round % 2 === 0 ? stores : [...stores].reverse()) {
      const {ids, errors} = await openLoopRound(pool, store.path)
      await drained(served.url)
      const t = await timings(pool, store.path, ids)
      const sofar = loads.get(store.name) ?? {wait: [], total: [], failed: 0, errors: 0}
      loads.set(store.name, {wait: [...sofar.wait, ...t.wait], total: [...sofar.total, ...t.total], failed: sofar.failed + t.failed, errors: sofar.errors + errors})
    }
  }
} finally {
  await pool.close()
  await served.stop()
  await redis.stop()
}

console.log(`# bench/async.ts — ${machine()}; ${JOBS} jobs × ${ROUNDS} rounds at concurrency ${CONCURRENCY}; open loop ${RATE}/s × ${DURATION_S} s × ${ROUNDS} rounds`)
console.log('')
console.log('| store | submits/s, each round | POST p50, each round | POST p99, each round | open loop: jobs | queue wait p50 | submit→completed p50 | p99 | failed |')
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |')
for (const store of stores) {
  const s = submits.get(store.name)!
  const l = loads.get(store.name)!
  console.log(
    `| ${store.name} | ${s.map((r) => r.rate.toFixed(0)).join(' / ')} | ${s.map((r) => r.p50.toFixed(1)).join(' / ')} ms | ${s.map((r) => r.p99.toFixed(1)).join(' / ')} ms | ${l.total.length} | ${percentile(l.wait, 50).toFixed(0)} ms | ${percentile(l.total, 50).toFixed(0)} ms | ${percentile(l.total, 99).toFixed(0)} ms | ${l.failed + l.errors} |`,
  )
}
