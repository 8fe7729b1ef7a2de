// Cortex's autoscaling algorithm, step by step (recommend.ts), and the control
// loop's bookkeeping (autoscaler.ts) on a fake clock and a fake runtime.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {Autoscaler, formatClock, keptCount, recommend, type AutoscalingPlan, type RecommendInput} from '../../src/runtime/autoscale/index.js'

const settings = (over: Partial<AutoscalingPlan> = {}): AutoscalingPlan => ({
  minReplicas: 1,
  maxReplicas: 100,
  initReplicas: 1,
  targetReplicaConcurrency: 2,
  windowMs: 60_000,
  upscaleStabilizationMs: 0,
  downscaleStabilizationMs: 0,
  maxUpscaleFactor: 1.5,
  maxDownscaleFactor: 0.75,
  upscaleTolerance: 0.05,
  downscaleTolerance: 0.05,
  fixed: null,
  ...over,
})

const T0 = Date.UTC(2026, 11, 4, 12, 0, 0)

function decide(over: Partial<RecommendInput> & {s?: Partial<AutoscalingPlan>}): ReturnType<typeof recommend> {
  return recommend({
    settings: settings(over.s),
    current: 1,
    inFlight: 0,
    averagedOverMs: 60_000,
    now: T0 + 3_600_000,
    startedAt: T0,
    history: [],
    ...over,
  })
}

describe('recommend: Cortex autoscaling, one tick', () => {
  test('raw = in-flight / target, rounded up; the reason says so', () => {
    const d = decide({current: 4, inFlight: 7.4, s: {targetReplicaConcurrency: 2}})
    assert.equal(d.raw, 3.7)
    assert.equal(d.recommendation, 4)
    assert.equal(d.desired, 4)
    assert.match(d.reason, /^in-flight 7\.4 over 60 s \/ target 2 → 4/)
    assert.match(d.reason, /: stays at 4$/)
  })

  test("Cortex's overprovisioning example: 8 in flight, target 2 gives 4 replicas, target 1.6 gives 5", () => {
    assert.equal(decide({current: 4, inFlight: 8, s: {targetReplicaConcurrency: 2}}).desired, 4)
    assert.equal(decide({current: 4, inFlight: 8, s: {targetReplicaConcurrency: 1.6}}).desired, 5)
  })

  test('the tolerance band keeps the current count, both ways', () => {
    // 4.1 / 1 is within 5% above 4: stays.
    const up = decide({current: 4, inFlight: 4.1, s: {targetReplicaConcurrency: 1}})
    assert.equal(up.desired, 4)
    assert.match(up.reason, /within the upscale tolerance \(5%\) of 4/)
    // 3.9 is within 5% below 4: stays (ceil would also give 4, so use a wider band to see it act).
    const down = decide({current: 10, inFlight: 9.1, s: {targetReplicaConcurrency: 1, downscaleTolerance: 0.1}})
    assert.equal(down.desired, 10)
    assert.match(down.reason, /within the downscale tolerance \(10%\) of 10/)
    // Outside the band it moves.
    assert.equal(decide({current: 10, inFlight: 8.9, s: {targetReplicaConcurrency: 1, downscaleTolerance: 0.1}}).desired, 9)
    assert.equal(decide({current: 4, inFlight: 4.3, s: {targetReplicaConcurrency: 1}}).desired, 5)
  })

  test('one step moves at most by the factors, and always by one', () => {
    const up = decide({current: 2, inFlight: 40, s: {targetReplicaConcurrency: 1}})
    assert.equal(up.desired, 3) // max(2 + 1, ceil(2 × 1.5))
    assert.match(up.reason, /limited to 3 by max_upscale_factor 1\.5/)
    assert.equal(decide({current: 10, inFlight: 100, s: {targetReplicaConcurrency: 1}}).desired, 15)
    const down = decide({current: 10, inFlight: 0})
    assert.equal(down.desired, 8) // min(10 − 1, ceil(10 × 0.75))
    assert.match(down.reason, /limited to 8 by max_downscale_factor 0\.75/)
    // ceil(2 × 0.75) = 2 would never shrink: one replica may always go.
    assert.equal(decide({current: 2, inFlight: 0, s: {minReplicas: 1}}).desired, 1)
  })

  test('clamped to min_replicas..max_replicas, and at least 1', () => {
    const low = decide({current: 3, inFlight: 0, s: {minReplicas: 3}})
    assert.equal(low.desired, 3)
    assert.match(low.reason, /raised to min_replicas 3/)
    const high = decide({current: 3, inFlight: 100, s: {maxReplicas: 4, targetReplicaConcurrency: 1}})
    assert.equal(high.desired, 4)
    assert.match(high.reason, /capped at max_replicas 4/)
    assert.equal(decide({current: 1, inFlight: 0, s: {minReplicas: 0}}).desired, 1)
  })

  test('upscale stabilization: the smallest recommendation over the period, and the time the hold ends', () => {
    const now = T0 + 3_600_000
    const history = [
      {at: now - 50_000, replicas: 1},
      {at: now - 20_000, replicas: 2},
    ]
    const held = decide({now, current: 1, inFlight: 8, history, s: {upscaleStabilizationMs: 60_000}})
    assert.equal(held.recommendation, 2)
    assert.equal(held.desired, 1)
    assert.match(held.reason, new RegExp(`held by the upscale stabilization until ${formatClock(now - 50_000 + 60_000)}: stays at 1$`))
    // A partial step: the smallest over the period is above the current count.
    const partial = decide({now, current: 2, inFlight: 100, history: [{at: now - 30_000, replicas: 3}], s: {upscaleStabilizationMs: 60_000, targetReplicaConcurrency: 1}})
    assert.equal(partial.recommendation, 3)
    assert.equal(partial.desired, 3)
    const partial2 = decide({now, current: 4, inFlight: 100, history: [{at: now - 30_000, replicas: 5}], s: {upscaleStabilizationMs: 60_000, targetReplicaConcurrency: 1}})
    assert.equal(partial2.recommendation, 6)
    assert.equal(partial2.desired, 5)
    assert.match(partial2.reason, /held at 5 by the upscale stabilization/)
    // Once the lower recommendations are older than the period, it scales.
    assert.equal(decide({now, current: 1, inFlight: 8, history: [{at: now - 61_000, replicas: 1}], s: {upscaleStabilizationMs: 60_000}}).desired, 2)
  })

  test('downscale stabilization: the largest recommendation over the period', () => {
    const now = T0 + 3_600_000
    const held = decide({now, current: 3, inFlight: 0, history: [{at: now - 100_000, replicas: 3}], s: {downscaleStabilizationMs: 300_000}})
    assert.equal(held.recommendation, 2)
    assert.equal(held.desired, 3)
    assert.match(held.reason, new RegExp(`held by the downscale stabilization until ${formatClock(now + 200_000)}`))
    assert.equal(decide({now, current: 3, inFlight: 0, history: [{at: now - 300_000, replicas: 3}], s: {downscaleStabilizationMs: 300_000}}).desired, 2)
  })

  test('no scaling before a whole stabilization period has passed since the start', () => {
    const now = T0 + 10_000
    const d = decide({now, startedAt: T0, current: 1, inFlight: 8, s: {upscaleStabilizationMs: 60_000}})
    assert.equal(d.desired, 1)
    assert.match(d.reason, new RegExp(`until ${formatClock(T0 + 60_000)}`))
  })

  test('an apply keeps the current count within the new bounds', () => {
    assert.equal(keptCount(3, settings({minReplicas: 1, maxReplicas: 2})), 2)
    assert.equal(keptCount(1, settings({minReplicas: 2, maxReplicas: 5})), 2)
    assert.equal(keptCount(3, settings({minReplicas: 1, maxReplicas: 5})), 3)
  })
})

describe('Autoscaler: samples every second, decides every tick, one step at a time', () => {
  function fake(s: AutoscalingPlan): {scaler: Autoscaler; clock: {now: number}; world: {replicas: number; signal: number; scaled: number[]; logs: string[]; release: (() => void) | null}} {
    const clock = {now: T0}
    const world = {replicas: 1, signal: 0, scaled: [] as number[], logs: [] as string[], release: null as (() => void) | null}
    const scaler = new Autoscaler(
      {
        apis: () => [{name: 'a', autoscaling: s}],
        replicas: () => world.replicas,
        signal: () => world.signal,
        scale: (_api, desired) => {
          world.scaled.push(desired)
          return new Promise((resolve) => {
            world.release = () => {
              world.replicas = desired
              resolve(null)
            }
          })
        },
        log: (line) => world.logs.push(line),
      },
      {now: () => clock.now},
    )
    return {scaler, clock, world}
  }

  test('averages the samples of the window, scales once while a step is under way, and reports status and figures', async () => {
    const s = settings({windowMs: 10_000, maxReplicas: 3})
    const {scaler, clock, world} = fake(s)
    assert.equal(scaler.status('a')!.reason, 'no decision yet (the first comes within 10 s)')
    assert.equal(scaler.status('a')!.decidedAt, null)
    for (let i = 0; i < 10; i++) {
      world.signal = i < 5 ? 0 : 8 // average 4 over the window
      scaler.sample()
      clock.now += 1_000
    }
    scaler.tick()
    assert.deepEqual(world.scaled, [2]) // 4 / 2 → 2
    assert.match(world.logs[0], /^autoscale: api a: 1 → 2 replicas \(in-flight 4 over 10 s \/ target 2 → 2: 1 → 2\)$/)
    // The step is still under way: the next tick decides but does not scale again.
    for (let i = 0; i < 10; i++) {
      world.signal = 8
      scaler.sample()
      clock.now += 1_000
    }
    scaler.tick()
    assert.deepEqual(world.scaled, [2])
    assert.match(scaler.status('a')!.reason, /after the scaling step under way/)
    world.release!()
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(scaler.status('a')!.current, 2)
    assert.ok(world.logs.includes('autoscale: api a: 2 replicas'), world.logs.join('\n'))
    clock.now += 1_000
    scaler.tick()
    assert.deepEqual(world.scaled, [2, 3])
    const status = scaler.status('a')!
    // The reason is the last tick's: status says when that was.
    assert.equal(status.decidedAt, new Date(clock.now).toISOString())
    assert.deepEqual({current: status.current, desired: status.desired, min: status.min, max: status.max, inFlight: status.inFlight, enabled: status.enabled}, {current: 2, desired: 3, min: 1, max: 3, inFlight: 8, enabled: true})
    assert.deepEqual(scaler.figures(), [{api: 'a', desired: 3, current: 2, inFlight: 8, events: {up: 2, down: 0}}])
  })

  test('a fixed count is left alone, and status says why', () => {
    const {scaler, clock, world} = fake(settings({fixed: 'a fixed count of 2 (--replicas 2): autoscaling is off'}))
    world.replicas = 2
    world.signal = 100
    for (let i = 0; i < 10; i++) {
      scaler.sample()
      clock.now += 1_000
    }
    scaler.tick()
    assert.deepEqual(world.scaled, [])
    const status = scaler.status('a')!
    assert.equal(status.enabled, false)
    assert.equal(status.desired, 2)
    assert.equal(status.reason, 'a fixed count of 2 (--replicas 2): autoscaling is off')
  })
})

describe('the reasons docs/autoscaling.md shows are what recommend() writes', () => {
  const docs = {minReplicas: 1, maxReplicas: 3, targetReplicaConcurrency: 2, windowMs: 10_000, upscaleStabilizationMs: 0, downscaleStabilizationMs: 300_000}
  const now = T0 + 3_600_000

  test('a step up limited by max_upscale_factor', () => {
    const d = decide({current: 2, inFlight: 9.9, averagedOverMs: 10_000, now, s: docs})
    assert.equal(d.desired, 3)
    assert.equal(d.reason, 'in-flight 9.9 over 10 s / target 2 → 5, limited to 3 by max_upscale_factor 1.5: 2 → 3')
  })

  test('a step down held by the downscale stabilization: "held by … until HH:MM:SS: stays at N", no "at N" when the count stays', () => {
    const d = decide({current: 3, inFlight: 0.4, averagedOverMs: 10_000, now, history: [{at: now - 60_000, replicas: 3}], s: docs})
    assert.equal(d.desired, 3)
    assert.equal(d.reason, `in-flight 0.4 over 10 s / target 2 → 1, limited to 2 by max_downscale_factor 0.75, held by the downscale stabilization until ${formatClock(now + 240_000)}: stays at 3`)
  })
})
