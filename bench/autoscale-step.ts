// The autoscaler under a load step, as a user sees it: `mlserve run` on the
// sleep fixture (test/fixtures/autoscale: 1 process × 2 threads of a 50 ms
// predictor, so a replica's capacity is set by its threads, not the CPU;
// min_replicas 1, max_replicas 3, target 2, window 10 s, up at once, down
// after 20 s of agreement). First one replica's capacity is measured (closed
// loop, one connection per slot), then mlserve's own open loop sends 3× that
// for --load-s seconds, then nothing, until the API is back at 1 replica.
// Prints a timeline (second, replicas ready/all, desired, sent rate, 200, 503,
// other) and the totals: where the 503s fell (before 3 replicas were ready,
// the step's edge, or after) and whether any other answer came.
//
//   node --import tsx bench/autoscale-step.ts [--load-s 45] [--factor 3] [--json FILE]
//
// mlserve runs from the sources (bin/dev.js, no build), pinned to CPU 0 with
// its replicas; this process (the load generator) is pinned to CPU 1.
import {cpSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parseArgs} from 'node:util'
import {execa} from 'execa'
import {loadRequestSource, runClosedLoop, runOpenLoop, type SecondStats} from '../src/loadtest/index.js'
import {machine, pinToCore, untilReady} from './lib.js'
import {repoRoot} from '../test/helpers/cli.js'

const {values} = parseArgs({options: {'load-s': {type: 'string', default: '45'}, factor: {type: 'string', default: '3'}, json: {type: 'string'}}})
const loadS = Number(values['load-s'])
const factor = Number(values.factor)
const MAX_WAIT_DOWN_S = 120

interface Status {
  apis: Array<{replicas: Array<{ready: boolean}>; autoscaler: {current: number; desired: number; reason: string} | null}>
}

interface Row {
  second: number
  ready: number
  replicas: number
  desired: number
  sent: number
  ok: number
  shed: number
  other: number
  reason: string
}

async function main(): Promise<void> {
  await pinToCore(process.pid, 1).catch(() => undefined)
  const dir = mkdtempSync(join(tmpdir(), 'mlserve-autoscale-step-'))
  cpSync(join(repoRoot, 'test', 'fixtures', 'autoscale'), dir, {recursive: true})
  const child = execa('taskset', ['-c', '0', process.execPath, '--import', 'tsx', join(repoRoot, 'bin', 'dev.js'), 'run', dir, '--port', '0'], {
    reject: false,
    env: {NO_COLOR: '1', MLSERVE_STATE_DIR: dir},
    cwd: repoRoot,
  })
  try {
    const {url} = await untilReady(child)
    const endpoint = `${url}/step`
    const status = async (): Promise<Status['apis'][number]> => ((await (await fetch(`${url}/status`)).json()) as Status).apis[0]
    const request = await loadRequestSource({data: '{}'})

    // One replica's capacity: one connection per slot (2), no queue.
    const capacity = await runClosedLoop({url: endpoint, connections: 2, durationMs: 5_000, warmupMs: 1_000, request})
    const perReplica = capacity.throughput
    const rate = Math.round(perReplica * factor)
    console.error(`one replica: ${perReplica.toFixed(1)} requests/s (closed loop, 2 connections, 5 s); the step: ${rate} requests/s for ${loadS} s`)

    const rows: Row[] = []
    const seconds = new Map<number, SecondStats>()
    const started = Date.now()
    let polling = true
    const poll = (async () => {
      for (let second = 0; polling; second++) {
        const wake = started + (second + 1) * 1000
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, wake - Date.now())))
        const api = await status()
        const s = seconds.get(second)
        rows.push({
          second,
          ready: api.replicas.filter((replica) => replica.ready).length,
          replicas: api.replicas.length,
          desired: api.autoscaler?.desired ?? api.replicas.length,
          sent: s?.sent ?? 0,
          ok: s?.ok ?? 0,
          shed: s?.shed ?? 0,
          other: s ? s.failed - s.shed : 0,
          reason: api.autoscaler?.reason ?? '',
        })
        if (second >= loadS && api.replicas.length === 1) polling = false
        if (second >= loadS + MAX_WAIT_DOWN_S) polling = false
      }
    })()
    const step = await runOpenLoop({url: endpoint, rate, durationMs: loadS * 1000, request, timeoutMs: 10_000, onSecond: (s) => seconds.set(s.second, s)})
    // The open loop's last seconds are reported once it ends: fill them in.
    for (const row of rows) {
      const s = seconds.get(row.second)
      if (s) Object.assign(row, {sent: s.sent ?? 0, ok: s.ok, shed: s.shed, other: s.failed - s.shed})
    }
    await poll

    const reachedMax = rows.find((row) => row.ready === 3)?.second ?? null
    const backToOne = rows.find((row) => row.second >= loadS && row.replicas === 1)?.second ?? null
    const shedBefore = rows.filter((row) => reachedMax === null || row.second <= reachedMax).reduce((sum, row) => sum + row.shed, 0)
    const shedAfter = step.requests.shed - shedBefore
    const other = step.requests.failed - step.requests.shed

    console.log(`# autoscale step: ${machine()}; 1×2 threads × 50 ms, min 1, max 3, target 2, window 10 s, upscale 0 s, downscale 20 s`)
    console.log(`one replica's capacity ${perReplica.toFixed(1)}/s; step ${rate}/s (${factor}×) for ${loadS} s, then 0`)
    console.log('')
    console.log('  s  ready/all  desired  sent/s    200   503  other  reason')
    let lastReason = ''
    for (const row of rows) {
      const reason = row.reason !== lastReason ? row.reason : ''
      lastReason = row.reason
      console.log(
        `${String(row.second).padStart(3)}  ${`${row.ready}/${row.replicas}`.padStart(9)}  ${String(row.desired).padStart(7)}  ${String(row.sent).padStart(6)}  ${String(row.ok).padStart(5)}  ${String(row.shed).padStart(4)}  ${String(row.other).padStart(5)}  ${reason}`,
      )
    }
    console.log('')
    console.log(`totals: ${step.requests.total} requests: ${step.requests.ok} × 200, ${step.requests.shed} × 503, ${other} other (timeouts ${step.requests.timeouts}, connection errors ${step.requests.connectionErrors})`)
    console.log(`3 replicas ready at second ${reachedMax ?? 'never'}; 503s up to then (the step's edge) ${shedBefore}, after ${shedAfter}`)
    console.log(`load ended at second ${loadS}; back to 1 replica at second ${backToOne ?? `not within ${MAX_WAIT_DOWN_S} s`}${backToOne !== null ? ` (${backToOne - loadS} s after)` : ''}`)
    console.log(`p50 ${step.latencyMs.p50.toFixed(1)} ms, p99 ${step.latencyMs.p99.toFixed(1)} ms of the 200s`)
    if (values.json) writeFileSync(values.json, JSON.stringify({perReplica, rate, loadS, rows, requests: step.requests, reachedMax, backToOne, shedBefore, shedAfter}, null, 2))
  } finally {
    child.kill('SIGINT')
    await child
    rmSync(dir, {recursive: true, force: true})
  }
}

await main()
