// The autoscaler end to end on the process driver: real Python replicas of a
// sleeping predictor (capacity set by its 2 threads, not by the CPU), real
// HTTP on loopback. Under load the API scales up to max_replicas, a new
// replica takes traffic only once ready, and after the load it scales back to
// min_replicas, draining, with no request failing. No timed assertions: each
// wait is for a state, with a generous deadline.
import {describe, test, after} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {request} from 'undici'
import {loadProject} from '../../src/config/index.js'
import type {AutoscalerStatus} from '../../src/runtime/autoscale/index.js'
import {planRuntime, type PlanOptions} from '../../src/runtime/plan.js'
import {Runtime, runtimeDefaults} from '../../src/runtime/runtime.js'
import {repoRoot, runCli} from '../helpers/cli.js'
import {makeProject, type TestProject} from '../helpers/projects.js'
import {post, waitFor} from '../helpers/http.js'

const predictor = readFileSync(join(repoRoot, 'test', 'fixtures', 'autoscale', 'predictor.py'), 'utf8')

/** 1 process × 2 threads of a 50 ms predictor; 2 in flight per replica wanted; window 10 s; up at once, down after 10 s of agreement. */
const yaml = (maxReplicas = 3): string => `- name: step
  kind: RealtimeAPI
  predictor:
    type: python
    path: predictor.py
    config: {seconds: 0.05, init_seconds: 1.5}
    processes_per_replica: 1
    threads_per_process: 2
  autoscaling:
    min_replicas: 1
    max_replicas: ${maxReplicas}
    max_replica_concurrency: 8
    target_replica_concurrency: 2
    window: 10s
    upscale_stabilization_period: 0s
    downscale_stabilization_period: 10s
`

const projects: TestProject[] = []
const runtimes: Runtime[] = []
after(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.stop({drain: false})))
  projects.forEach((p) => p.cleanup())
})

const logs: string[] = []
async function start(options: Partial<PlanOptions> = {}): Promise<Runtime> {
  const project = makeProject({'mlserve.yaml': yaml(), 'predictor.py': predictor})
  projects.push(project)
  const runtime = await Runtime.start(await planRuntime(await loadProject(project.dir), {...runtimeDefaults, port: 0, accessLog: false, announce: false, ...options}), {
    log: (line) => logs.push(line),
  })
  runtimes.push(runtime)
  return runtime
}

/** `loops` clients posting back to back until stopped; after a 503 a client waits 25 ms, as a polite client would. */
function load(url: string, loops: number): {stop: () => Promise<Map<number, number>>} {
  let running = true
  const codes = new Map<number, number>()
  const loop = async (): Promise<void> => {
    while (running) {
      let status: number
      try {
        status = (await post(url, {})).status
      } catch {
        status = 0 // no answer at all
      }
      codes.set(status, (codes.get(status) ?? 0) + 1)
      if (status === 503) await new Promise((resolve) => setTimeout(resolve, 25))
    }
  }
  const all = Promise.all(Array.from({length: loops}, loop))
  return {
    stop: async () => {
      running = false
      await all
      return codes
    },
  }
}

const scaling = (runtime: Runtime): AutoscalerStatus => runtime.status().apis[0].autoscaler!

async function metricsOf(runtime: Runtime): Promise<string> {
  const response = await request(`${runtime.url}/metrics`)
  return response.body.text()
}

describe('autoscaling on the process driver', () => {
  test('a load step scales 1 → 3 (new replicas routed only once ready), then back to 1 after the load, draining without a failed request', async (t) => {
    const runtime = await start()
    const url = runtime.endpointUrl('step')
    assert.equal(runtime.status().apis[0].replicas.length, 1, 'init_replicas defaults to min_replicas')
    assert.equal(scaling(runtime).enabled, true)

    // Watch every replica as the gateway sees it: one not ready must hold no request.
    const seenUnready = new Set<string>()
    const violations: string[] = []
    let watching = true
    const watch = (async () => {
      while (watching) {
        for (const replica of runtime.status().apis[0].replicas) {
          if (replica.ready) continue
          seenUnready.add(replica.id)
          if (replica.running + replica.queued > 0) violations.push(`${replica.id}: ${replica.running} running, ${replica.queued} queued while not ready`)
        }
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    })()

    // 12 clients hold about 8 requests in flight on one replica (the rest shed): 8 / 2 asks for 4, a step may add one or half.
    const heavy = load(url, 12)
    await waitFor(() => runtime.status().apis[0].replicas.filter((replica) => replica.ready).length === 3, '3 ready replicas', 120_000)
    const up = scaling(runtime)
    t.diagnostic(`at 3: ${up.reason}`)
    assert.equal(up.current, 3)
    assert.equal(up.desired, 3)
    assert.match(up.reason, /^in-flight \d+(\.\d)? over \d+ s \/ target 2 → \d+/)
    // mlserve status shows it, in words and in --json.
    const shown = await runCli(['status', '--url', runtime.url], {env: {NO_COLOR: '1'}})
    assert.equal(shown.exitCode, 0, shown.stderr)
    const asJson = await runCli(['status', '--url', runtime.url, '--json'], {env: {NO_COLOR: '1'}})
    const {decidedAt} = (JSON.parse(asJson.stdout) as {runtimes: Array<{apis: Array<{autoscaler: AutoscalerStatus}>}>}).runtimes[0].apis[0].autoscaler
    assert.ok(decidedAt !== null && Math.abs(Date.now() - Date.parse(decidedAt)) < 60_000, `decidedAt ${decidedAt} is the last tick's time`)
    assert.match(shown.stderr, /step autoscaling: current 3, desired 3 \(min 1, max 3\), as of \d\d:\d\d:\d\d: in-flight \d+(\.\d)? over \d+ s \/ target 2 → \d+/)
    const metrics = await metricsOf(runtime)
    assert.match(metrics, /mlserve_autoscaler_current_replicas\{api="step"\} 3/)
    assert.match(metrics, /mlserve_autoscaler_desired_replicas\{api="step"\} 3/)
    assert.match(metrics, /mlserve_autoscaler_in_flight\{api="step"\} \d/)
    const ups = Number(/mlserve_autoscaler_events_total\{api="step",direction="up"\} (\d+)/.exec(metrics)?.[1])
    assert.ok(ups >= 2, `at least two scale-ups (1 → 2 → 3), got ${ups}`)
    assert.ok(logs.some((line) => /^autoscale: api step: 1 → 2 replicas \(in-flight /.test(line)), logs.join('\n'))

    // The step's edge: from here a light load (about 2 in flight) must see no failure while replicas drain away.
    const heavyCodes = await heavy.stop()
    t.diagnostic(`heavy phase: ${JSON.stringify(Object.fromEntries(heavyCodes))}`)
    assert.deepEqual([...heavyCodes.keys()].filter((code) => code !== 200 && code !== 503), [], 'only 200 and 503 during the step')
    const light = load(url, 2)
    await waitFor(() => runtime.status().apis[0].replicas.length === 1, 'back to 1 replica', 180_000)
    const lightCodes = await light.stop()
    watching = false
    await watch
    t.diagnostic(`light phase (scale-down): ${JSON.stringify(Object.fromEntries(lightCodes))}`)
    assert.deepEqual([...lightCodes.keys()], [200], 'every request during the scale-down answered 200')
    assert.ok((lightCodes.get(200) ?? 0) > 0)

    assert.deepEqual(violations, [], 'no request reached a replica before it was ready')
    assert.ok(seenUnready.size >= 1, 'a new replica was seen starting (in routing, not ready)')
    const down = scaling(runtime)
    t.diagnostic(`at 1: ${down.reason}`)
    assert.equal(down.current, 1)
    assert.ok(logs.some((line) => /^autoscale: api step: 2 → 1 replicas \(/.test(line)), logs.join('\n'))
    assert.match(await metricsOf(runtime), /mlserve_autoscaler_events_total\{api="step",direction="down"\} [1-9]/)
    // Out of routing first, stopped after its drain: the runtime forgets a replica once it stopped.
    await waitFor(() => runtime.replicas.length === 1, 'the retired replicas stopped and forgotten', 60_000)
  })

  test('--replicas N is a fixed count: autoscaling is off and status says so', async () => {
    const runtime = await start({replicas: 2})
    const status = scaling(runtime)
    assert.deepEqual(
      {current: status.current, desired: status.desired, enabled: status.enabled, reason: status.reason},
      {current: 2, desired: 2, enabled: false, reason: 'a fixed count of 2 (--replicas 2): autoscaling is off'},
    )
    assert.equal((await post(runtime.endpointUrl('step'), {})).status, 200)
    const shown = await runCli(['status', '--url', runtime.url, '--json'], {env: {NO_COLOR: '1'}})
    assert.equal(shown.exitCode, 0, shown.stderr)
    const [listed] = (JSON.parse(shown.stdout) as {runtimes: Array<{apis: Array<{autoscaler: AutoscalerStatus}>}>}).runtimes
    const {inFlight, ...fixed} = listed.apis[0].autoscaler
    assert.equal(typeof inFlight, 'number')
    assert.deepEqual(fixed, {current: 2, desired: 2, reason: 'a fixed count of 2 (--replicas 2): autoscaling is off', min: 1, max: 3, enabled: false, decidedAt: null})
    assert.match((await runCli(['status', '--url', runtime.url])).stderr, /step autoscaling: 2 replicas: a fixed count of 2 \(--replicas 2\): autoscaling is off/)
    assert.match(await metricsOf(runtime), /mlserve_autoscaler_desired_replicas\{api="step"\} 2/)
  })

  test('mlserve apply keeps the current count within the new min..max, and the new bounds hold', async () => {
    const runtime = await start()
    const project = projects.at(-1)!
    // min 2: the count rises to it; max 1 with min 1: it falls to it.
    const plan = async (text: string) => {
      const {writeFileSync} = await import('node:fs')
      writeFileSync(project.file, text)
      return planRuntime(await loadProject(project.dir), {...runtimeDefaults, port: runtime.gateway.port, accessLog: false, announce: false})
    }
    const raised = await runtime.apply(await plan(yaml().replace('min_replicas: 1', 'min_replicas: 2')))
    assert.deepEqual(raised.changes, ['api step: replicas 1 → 2'])
    assert.equal(scaling(runtime).min, 2)
    // Lowering min_replicas alone keeps the count (the autoscaler brings it down later).
    const lowered = await runtime.apply(await plan(yaml()))
    assert.deepEqual(lowered.changes, [])
    assert.equal(runtime.status().apis[0].replicas.length, 2)
    const capped = await runtime.apply(await plan(yaml(1)))
    assert.deepEqual(capped.changes.map((change) => change.replace(/; drained \d+ requests?/, '')), ['api step: replicas 2 → 1'])
    assert.equal(scaling(runtime).max, 1)
  })
})
