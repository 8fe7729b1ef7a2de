// Done means for AsyncAPIs: 1,000 jobs with a runtime killed in the middle.
// For each store (embedded LMDB, then Redis): `mlserve run` through the CLI,
// 1,000 jobs submitted, SIGKILL once about half have completed, `mlserve run`
// started again on the same project, and every job read back. The predictor
// appends each payload's n to a file as it runs, so the figures show how many
// jobs ran more than once (at least once, not exactly once).
//
// Run: node --import tsx bench/async-kill.ts [--jobs 1000] [--store embedded|redis|both]
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Pool} from 'undici'
import {startRedis} from '../test/helpers/redis.js'
import {machine, startRun} from './lib.js'

const args = process.argv.slice(2)
const arg = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`)
  return i === -1 ? fallback : args[i + 1]
}
const JOBS = Number(arg('jobs', '1000'))
const STORES = arg('store', 'both') === 'both' ? ['embedded', 'redis'] : [arg('store', 'both')]
const CLI = join(import.meta.dirname, '..', 'bin', 'run.js')

const PREDICTOR = `
import os, time, fcntl

class PythonPredictor:
    def __init__(self, config):
        self.log = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runs.log")

    def predict(self, payload):
        time.sleep(0.02)
        with open(self.log, "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            f.write("%d\\n" % payload["n"])
        return {"n": payload["n"]}
`

async function metrics(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const figures: Record<string, number> = {}
  for (const line of text.split('\n')) {
    const match = /^(mlserve_async_\w+)\{api="jobs"(?:,\w+="(\w+)")?\} (\S+)$/.exec(line)
    if (match) figures[match[2] ? `${match[1]}:${match[2]}` : match[1]] = Number(match[3])
  }
  return figures
}

async function once(store: string, redisUrl: string): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), `mlserve-kill-${store}-`))
  writeFileSync(join(dir, 'predictor.py'), PREDICTOR)
  writeFileSync(
    join(dir, 'mlserve.yaml'),
    `- name: jobs
  kind: AsyncAPI
  predictor: {type: python, path: predictor.py, processes_per_replica: 1, threads_per_process: 4}
  async: {store: ${store}, redis_url: "${redisUrl}", lease: 2s}
`,
  )
  const lines: string[] = []
  try {
    const first = await startRun(CLI, dir)
    const pool = new Pool(first.url, {connections: 16})
    const ids: string[] = []
    const started = performance.now()
    let next = 0
    await Promise.all(
      Array.from({length: 16}, async () => {
        while (next < JOBS) {
          const n = next++
          const answer = await pool.request({method: 'POST', path: '/jobs', body: JSON.stringify({n}), headers: {'content-type': 'application/json'}})
          ids[n] = ((await answer.body.json()) as {id: string}).id
        }
      }),
    )
    const submitS = (performance.now() - started) / 1000
    await pool.close()
    let before = await metrics(first.url)
    while ((before['mlserve_async_jobs_total:completed'] ?? 0) < JOBS / 2) {
      await new Promise((resolve) => setTimeout(resolve, 20))
      before = await metrics(first.url)
    }
    first.child.kill('SIGKILL')
    await first.child
    const runsBefore = readFileSync(join(dir, 'runs.log'), 'utf8').split('\n').filter(Boolean).length

    const restartedAt = performance.now()
    const second = await startRun(CLI, dir)
    let after = await metrics(second.url)
    while ((after.mlserve_async_queue_length ?? 1) + (after.mlserve_async_in_progress ?? 1) > 0) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      after = await metrics(second.url)
    }
    const drainS = (performance.now() - restartedAt) / 1000
    const reader = new Pool(second.url, {connections: 8})
    const statuses: Record<string, number> = {}
    let retried = 0
    for (const id of ids) {
      const answer = await reader.request({method: 'GET', path: `/jobs/${id}`})
      const job = (await answer.body.json()) as {status: string; retries: number}
      statuses[job.status] = (statuses[job.status] ?? 0) + 1
      if (job.retries > 0) retried++
    }
    await reader.close()
    const runs = readFileSync(join(dir, 'runs.log'), 'utf8').split('\n').filter(Boolean).map(Number)
    const distinct = new Set(runs).size
    second.child.kill('SIGINT')
    await second.child
    const requeuedLine = second.log().split('\n').filter((line) => /went back to the queue/.test(line))
    lines.push(
      `| ${store} | ${JOBS} | ${submitS.toFixed(2)} s | ${before['mlserve_async_jobs_total:completed']} | ${before.mlserve_async_in_progress} | ${runsBefore} | ${Object.entries(statuses).map(([s, n]) => `${s} ${n}`).join(', ')} | ${retried} | ${after.mlserve_async_retries_total} | ${runs.length} runs, ${distinct} distinct n, ${runs.length - distinct} repeated | ${drainS.toFixed(1)} s |`,
    )
    for (const line of requeuedLine) lines.push(`  log (${store}): ${line.replace(/\x1b\[[0-9;]*m/g, '').trim()}`)
    return lines
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

const redis = STORES.includes('redis') ? await startRedis() : null
const out: string[] = []
try {
  for (const store of STORES) out.push(...(await once(store, redis?.url ?? 'redis://127.0.0.1:6379')))
} finally {
  await redis?.stop()
}
console.log(`# bench/async-kill.ts — ${machine()}; ${JOBS} jobs, SIGKILL of mlserve run once half completed, then mlserve run again; lease 2s; predictor 20 ms, 1 process × 4 threads`)
console.log('')
console.log('| store | jobs | submitted in | completed at the kill (metric) | in progress at the kill (metric) | predictor runs before the kill | after restart: statuses | jobs with retries > 0 | mlserve_async_retries_total (2nd runtime) | predictor runs in all | restart → queue empty |')
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
for (const line of out.filter((l) => l.startsWith('|'))) console.log(line)
for (const line of out.filter((l) => !l.startsWith('|'))) console.log(line)
