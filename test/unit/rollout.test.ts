// The rollout's logic against a fake gateway and a fake clock: steps advance,
// a breach puts the starting weights back at once, too few ready replicas
// wait and then stop without changing the weights, the rest is split in
// proportion, and steps with too little traffic warn or fail.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import * as hdr from 'hdr-histogram-js'
import {neededReplicas, replicaBasis, rollout, splitWeights, stepFigures, windowP99Ms, type RolloutControl, type RolloutEvent, type RolloutOptions} from '../../src/client/rollout.js'
import type {ApiFigures, TrafficStatus} from '../../src/runtime/gateway/traffic-types.js'
import type {TuneRecord} from '../../src/tune/record.js'

interface FakeApi {
  replicas: number
  ready: number
  /** Share of its answers that are 500s. */
  errorShare: number
  /** Latency of each answer, µs. */
  latencyUs: number
  requests: number
  errors: number
  codes: Record<string, number>
  histogram: hdr.Histogram
}

/** A gateway whose splitter `iris` sends `rps` requests a second by its weights, and a clock that moves only when slept. */
class FakeGateway implements RolloutControl {
  t = 0
  weights: Record<string, number>
  readonly puts: Array<{at: number; weights: Record<string, number>}> = []
  readonly apis = new Map<string, FakeApi>()
  /** Called at each sleep, after the clock moved: lets a test change the world as time passes. */
  onTick: (gateway: FakeGateway) => void = () => {}

  constructor(
    weights: Record<string, number>,
    readonly rps = 100,
    readonly shadow: string | null = null,
  ) {
    this.weights = {...weights}
    for (const name of [...Object.keys(weights), ...(shadow ? [shadow] : [])]) {
      this.apis.set(name, {replicas: 4, ready: 4, errorShare: 0, latencyUs: 10_000, requests: 0, errors: 0, codes: {}, histogram: hdr.build({bitBucketSize: 32, useWebAssembly: false})})
    }
  }

  api(name: string): FakeApi {
    return this.apis.get(name)!
  }

  async status(): Promise<TrafficStatus> {
    const apis: Record<string, ApiFigures> = {}
    for (const [name, a] of this.apis) {
      apis[name] = {
        endpoint: `/${name}`,
        replicas: a.replicas,
        readyReplicas: a.ready,
        codes: {...a.codes},
        requests: a.requests,
        shed: 0,
        errors: a.errors,
        latencyHistogram: hdr.encodeIntoCompressedBase64(a.histogram),
        shadow: {sent: 0, completed: 0, shed: 0, failed: 0},
      }
    }
    return {
      splitters: [{name: 'iris', endpoint: '/iris', weights: {...this.weights}, shadow: this.shadow ? {api: this.shadow, percent: 10} : null, previous: null, changedAt: new Date(0).toISOString(), routed: {}}],
      apis,
    }
  }

  async setWeights(weights: Record<string, number>): Promise<void> {
    this.puts.push({at: this.t, weights: {...weights}})
    this.weights = {...weights}
  }

  async sleep(ms: number): Promise<void> {
    this.t += ms
    for (const [name, weight] of Object.entries(this.weights)) {
      const a = this.api(name)
      const n = Math.round((this.rps * ms * weight) / 100 / 1000)
      const failed = Math.round(n * a.errorShare)
      a.requests += n
      a.errors += failed
      if (n - failed > 0) a.codes['200'] = (a.codes['200'] ?? 0) + n - failed
      if (failed > 0) a.codes['500'] = (a.codes['500'] ?? 0) + failed
      for (let i = 0; i < n; i++) a.histogram.recordValue(a.latencyUs)
    }
    this.onTick(this)
  }

  now(): number {
    return this.t
  }
}

const base = (over: Partial<RolloutOptions> = {}): RolloutOptions => ({
  splitter: 'iris',
  api: 'iris-b',
  steps: [1, 10, 50, 100],
  intervalMs: 10_000,
  maxErrorRate: 0.01,
  minRequests: 20,
  requireTraffic: false,
  readyTimeoutMs: 5_000,
  tuneRecord: null,
  configMinReplicas: {'iris-a': 4, 'iris-b': 1},
  ...over,
})

describe('splitWeights', () => {
  test('gives the API its share and splits the rest in proportion to the starting weights', () => {
    assert.deepEqual(splitWeights({a: 100, b: 0}, 'b', 10), {a: 90, b: 10})
    assert.deepEqual(splitWeights({a: 60, b: 0, c: 40}, 'b', 50), {a: 30, b: 50, c: 20})
    assert.deepEqual(splitWeights({a: 60, b: 0, c: 40}, 'b', 100), {a: 0, b: 100, c: 0})
  })

  test('rounds by largest remainder, so the weights add up to 100', () => {
    // 99 × 1/3 each = 33, 33, 33.
    assert.deepEqual(splitWeights({a: 1, b: 1, c: 1, x: 0}, 'x', 1), {a: 33, b: 33, c: 33, x: 1})
    // 90 × (50, 30, 20)/100 = 45, 27, 18; 93 × … = 46.5, 27.9, 18.6 → 46, 28, 19 (the largest remainders get the two left).
    assert.deepEqual(splitWeights({a: 50, b: 30, c: 20, x: 0}, 'x', 7), {a: 46, b: 28, c: 19, x: 7})
    for (const share of [1, 3, 7, 10, 33, 50, 67, 99]) {
      const w = splitWeights({a: 47, b: 31, c: 13, x: 9}, 'x', share)
      assert.equal(Object.values(w).reduce((s, n) => s + n, 0), 100, `share ${share}`)
      assert.equal(w.x, share)
    }
  })

  test('keeps the API that already had weight in the proportion', () => {
    // x starts at 20; the others share what is left by their own weights (60:20).
    assert.deepEqual(splitWeights({a: 60, b: 20, x: 20}, 'x', 60), {a: 30, b: 10, x: 60})
  })

  test('splits evenly when the others had no weight', () => {
    assert.deepEqual(splitWeights({a: 0, b: 0, x: 100}, 'x', 50), {a: 25, b: 25, x: 50})
  })
})

describe('replicas a share needs', () => {
  test('ceil(R × share / 100)', () => {
    assert.equal(neededReplicas(4, 1), 1)
    assert.equal(neededReplicas(4, 50), 2)
    assert.equal(neededReplicas(3, 10), 1)
    assert.equal(neededReplicas(3, 34), 2)
    assert.equal(neededReplicas(7, 100), 7)
  })

  test('R is tune\'s min_replicas for the API when it was tuned, else the heaviest API\'s min_replicas', () => {
    const record: TuneRecord = {api: 'b', at: '', peakRps: 500, sloP99Ms: 100, perReplicaRate: 70, minReplicas: 8, processes: 2, threads: 1, maxReplicaConcurrency: 4}
    assert.equal(replicaBasis({weights: {a: 90, b: 10}}, {}, 'b', record, {a: 3, b: 1}).replicas, 8)
    const fromConfig = replicaBasis({weights: {a: 90, b: 10}}, {}, 'b', null, {a: 3, b: 1})
    assert.equal(fromConfig.replicas, 3)
    assert.match(fromConfig.source, /min_replicas of a/)
    // No config: the heaviest API's replicas in the runtime.
    const apis = {a: {replicas: 5} as ApiFigures}
    assert.equal(replicaBasis({weights: {a: 90, b: 10}}, apis, 'b', null, null).replicas, 5)
  })
})

describe('step figures', () => {
  test('subtract the reading at the step\'s start, histogram included', () => {
    const h = hdr.build({bitBucketSize: 32, useWebAssembly: false})
    for (let i = 0; i < 100; i++) h.recordValue(1_000_000) // 1 s, before the step
    const start = hdr.encodeIntoCompressedBase64(h)
    for (let i = 0; i < 100; i++) h.recordValue(5_000) // 5 ms, during it
    const end = hdr.encodeIntoCompressedBase64(h)
    const p99 = windowP99Ms(start, end)!
    assert.ok(Math.abs(p99 - 5) < 0.01, `p99 ${p99}`)
    const figure = (requests: number, errors: number, latencyHistogram: string): ApiFigures =>
      ({endpoint: '/b', replicas: 1, readyReplicas: 1, codes: {'200': requests - errors, '500': errors}, requests, shed: 0, errors, latencyHistogram, shadow: {sent: 0, completed: 0, shed: 0, failed: 0}}) as ApiFigures
    const f = stepFigures(figure(100, 10, start), figure(200, 15, end))
    assert.equal(f.requests, 100)
    assert.equal(f.errors, 5)
    assert.equal(f.errorRate, 0.05)
    assert.deepEqual(f.codes, {'200': 95, '500': 5})
    assert.equal(windowP99Ms(end, end), null)
  })
})

describe('rollout', () => {
  test('advances through every step, each held for the interval, and completes', async () => {
    const gateway = new FakeGateway({'iris-a': 100, 'iris-b': 0})
    const events: RolloutEvent[] = []
    const result = await rollout(gateway, base({onEvent: (e) => events.push(e)}))
    assert.equal(result.outcome, 'completed')
    assert.equal(result.error, null)
    assert.deepEqual(
      gateway.puts.map((p) => p.weights),
      [
        {'iris-a': 99, 'iris-b': 1},
        {'iris-a': 90, 'iris-b': 10},
        {'iris-a': 50, 'iris-b': 50},
        {'iris-a': 0, 'iris-b': 100},
      ],
    )
    assert.deepEqual(gateway.puts.map((p) => p.at), [0, 10_000, 20_000, 30_000])
    assert.deepEqual(result.finalWeights, {'iris-a': 0, 'iris-b': 100})
    assert.deepEqual(result.startWeights, {'iris-a': 100, 'iris-b': 0})
    assert.equal(result.steps.length, 4)
    // 100 req/s for 10 s: 1% of it is 10 answers (< 20, not judged), then 100, 500, 1000.
    assert.deepEqual(result.steps.map((s) => s.requests), [10, 100, 500, 1000])
    assert.deepEqual(result.steps.map((s) => s.verdict), ['low-traffic', 'passed', 'passed', 'passed'])
    assert.equal(result.steps[1].errorRate, 0)
    assert.ok(Math.abs(result.steps[1].p99Ms! - 10) < 0.05)
    assert.equal(result.warnings.length, 1)
    assert.match(result.warnings[0], /At 1%: the step saw 10 answers from iris-b, fewer than --min-requests 20/)
    assert.deepEqual(events.filter((e) => e.kind === 'step-finished').length, 4)
  })

  test('a breach rolls back at once to the starting weights, without waiting for the interval', async () => {
    const gateway = new FakeGateway({'iris-a': 70, 'iris-b': 0, 'iris-c': 30})
    gateway.api('iris-b').errorShare = 1
    const result = await rollout(gateway, base({steps: [10, 50, 100], intervalMs: 60_000}))
    assert.equal(result.outcome, 'rolled-back')
    assert.equal(result.error?.code, 'MLS_ROLLOUT_ROLLED_BACK')
    assert.match(result.error!.message, /failed at 10%: 20 of 20 answers failed \(100\.00%\)/)
    assert.match(result.error!.message, /rolled back to iris-a=70 iris-b=0 iris-c=30/)
    assert.deepEqual(
      gateway.puts.map((p) => p.weights),
      [
        {'iris-a': 63, 'iris-b': 10, 'iris-c': 27},
        {'iris-a': 70, 'iris-b': 0, 'iris-c': 30},
      ],
    )
    // 10 req/s reach 20 answers after 2 s of the 60 s interval: it rolled back then.
    assert.equal(gateway.puts[1].at, 2_000)
    assert.deepEqual(result.finalWeights, {'iris-a': 70, 'iris-b': 0, 'iris-c': 30})
    assert.equal(result.steps.length, 1)
    assert.equal(result.steps[0].verdict, 'breached')
    assert.equal(result.steps[0].errorRate, 1)
  })

  test('a p99 above --max-p99 rolls back too', async () => {
    const gateway = new FakeGateway({'iris-a': 100, 'iris-b': 0})
    gateway.api('iris-b').latencyUs = 250_000
    const result = await rollout(gateway, base({steps: [50, 100], maxP99Ms: 200}))
    assert.equal(result.outcome, 'rolled-back')
    assert.match(result.error!.message, /p99 was 250\.\d ms over 50 answers, above --max-p99 200 ms/)
    assert.deepEqual(gateway.puts.at(-1)!.weights, {'iris-a': 100, 'iris-b': 0})
    assert.equal(gateway.puts.at(-1)!.at, 1_000)
  })

  test('errors before --min-requests answers do not judge the step', async () => {
    const gateway = new FakeGateway({'iris-a': 100, 'iris-b': 0})
    gateway.api('iris-b').errorShare = 1
    // 1% of 100 req/s over 10 s is 10 answers, all failed, but fewer than 20: not judged.
    const result = await rollout(gateway, base({steps: [1]}))
    assert.equal(result.outcome, 'completed')
    assert.equal(result.steps[0].verdict, 'low-traffic')
    assert.equal(result.steps[0].errors, 10)
    assert.deepEqual(gateway.puts.map((p) => p.weights), [{'iris-a': 99, 'iris-b': 1}])
  })

  test('--require-traffic fails a step with too few answers and rolls back', async () => {
    const gateway = new FakeGateway({'iris-a': 100, 'iris-b': 0})
    const result = await rollout(gateway, base({requireTraffic: true}))
    assert.equal(result.outcome, 'rolled-back')
    assert.equal(result.steps[0].verdict, 'no-traffic')
    assert.match(result.error!.message, /failed at 1%: the step saw 10 answers .*--require-traffic/)
    assert.deepEqual(gateway.puts.map((p) => p.weights), [{'iris-a': 99, 'iris-b': 1}, {'iris-a': 100, 'iris-b': 0}])
    assert.equal(gateway.puts[1].at, 10_000)
  })

  test('too few ready replicas: waits up to --ready-timeout, then stops without changing the weights', async () => {
    const gateway = new FakeGateway({'iris-a': 100, 'iris-b': 0})
    gateway.api('iris-b').ready = 1
    // R = 4 (min_replicas of iris-a): 1% and 10% need 1 replica, 50% needs 2.
    const result = await rollout(gateway, base({readyTimeoutMs: 5_000}))
    assert.equal(result.outcome, 'not-enough-replicas')
    assert.equal(result.error?.code, 'MLS_ROLLOUT_NOT_ENOUGH_REPLICAS')
    assert.match(result.error!.message, /has 1 ready replica, but 50% of the traffic needs 2 \(from autoscaling\.min_replicas of iris-a, which carries 100% now\)/)
    // The two steps that had their replicas, and nothing after: the weights stay at 10%.
    assert.deepEqual(gateway.puts.map((p) => p.weights), [{'iris-a': 99, 'iris-b': 1}, {'iris-a': 90, 'iris-b': 10}])
    assert.deepEqual(result.finalWeights, {'iris-a': 90, 'iris-b': 10})
    assert.equal(gateway.t, 20_000 + 5_000)
    assert.equal(result.steps.at(-1)!.verdict, 'not-enough-replicas')
  })

  test('too few ready replicas before the first step: no weight changes at all', async () => {
    const gateway = new FakeGateway({'iris-a': 100, 'iris-b': 0})
    gateway.api('iris-b').ready = 0
    const result = await rollout(gateway, base({readyTimeoutMs: 3_000}))
    assert.equal(result.outcome, 'not-enough-replicas')
    assert.deepEqual(gateway.puts, [])
    assert.deepEqual(result.finalWeights, {'iris-a': 100, 'iris-b': 0})
  })

  test('replicas that become ready while it waits let the step go on', async () => {
    const gateway = new FakeGateway({'iris-a': 100, 'iris-b': 0})
    gateway.api('iris-b').ready = 0
    gateway.onTick = (g) => {
      if (g.t >= 2_000) g.api('iris-b').ready = 4
    }
    const result = await rollout(gateway, base({steps: [100]}))
    assert.equal(result.outcome, 'completed')
    assert.equal(gateway.puts[0].at, 2_000)
  })

  test('a tune record sets R: the min_replicas tune recommended for the API', async () => {
    const gateway = new FakeGateway({'iris-a': 100, 'iris-b': 0})
    gateway.api('iris-b').ready = 3
    const tuneRecord: TuneRecord = {api: 'iris-b', at: '', peakRps: 100, sloP99Ms: 100, perReplicaRate: 20, minReplicas: 6, processes: 1, threads: 1, maxReplicaConcurrency: 2}
    // 6 × 50% = 3 ready: enough; 100% needs 6.
    const result = await rollout(gateway, base({steps: [50, 100], tuneRecord, readyTimeoutMs: 1_000}))
    assert.equal(result.outcome, 'not-enough-replicas')
    assert.equal(result.replicaBasis.replicas, 6)
    assert.match(result.error!.message, /100% of the traffic needs 6 \(from mlserve tune's min_replicas for iris-b/)
  })

  test('steps at or below the share the API has already are skipped', async () => {
    const gateway = new FakeGateway({'iris-a': 90, 'iris-b': 10})
    const result = await rollout(gateway, base())
    assert.deepEqual(result.skippedSteps, [1, 10])
    assert.deepEqual(result.steps.map((s) => s.share), [50, 100])
  })

  test('the shadow API, or one the splitter lacks, fails before anything changes', async () => {
    const gateway = new FakeGateway({'iris-a': 100, 'iris-b': 0}, 100, 'iris-shadow')
    await assert.rejects(rollout(gateway, base({api: 'iris-shadow'})), {code: 'MLS_GATEWAY_BAD_WEIGHTS'})
    await assert.rejects(rollout(gateway, base({api: 'nope'})), {code: 'MLS_GATEWAY_BAD_WEIGHTS'})
    await assert.rejects(rollout(gateway, base({splitter: 'other'})), {code: 'MLS_GATEWAY_SPLITTER_NOT_FOUND'})
    assert.deepEqual(gateway.puts, [])
  })

  test('the shadow API keeps out of the split', async () => {
    const gateway = new FakeGateway({'iris-a': 100, 'iris-b': 0}, 100, 'iris-shadow')
    const result = await rollout(gateway, base({steps: [50]}))
    assert.deepEqual(result.finalWeights, {'iris-a': 50, 'iris-b': 50})
  })

  test('stopping (Ctrl-C) puts the starting weights back and says it was interrupted', async () => {
    const gateway = new FakeGateway({'iris-a': 100, 'iris-b': 0})
    const controller = new AbortController()
    gateway.onTick = (g) => {
      if (g.t === 15_000) controller.abort()
    }
    const result = await rollout(gateway, base({signal: controller.signal}))
    assert.equal(result.outcome, 'interrupted')
    assert.equal(result.error, null)
    assert.deepEqual(gateway.puts.map((p) => p.weights), [{'iris-a': 99, 'iris-b': 1}, {'iris-a': 90, 'iris-b': 10}, {'iris-a': 100, 'iris-b': 0}])
    assert.equal(gateway.puts.at(-1)!.at, 15_000)
    assert.deepEqual(result.steps.map((s) => s.verdict), ['low-traffic', 'interrupted'])
  })

  test('a figure that cannot be read mid-step puts the starting weights back and fails', async () => {
    const gateway = new FakeGateway({'iris-a': 100, 'iris-b': 0})
    const status = gateway.status.bind(gateway)
    gateway.status = async () => {
      if (gateway.t >= 3_000) throw new Error('gateway gone')
      return status()
    }
    await assert.rejects(rollout(gateway, base()), /gateway gone/)
    assert.deepEqual(gateway.puts.at(-1)!.weights, {'iris-a': 100, 'iris-b': 0})
  })
})
