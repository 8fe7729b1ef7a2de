// The Swarm autoscaler's parts without Swarm: reading the gauge from /metrics
// text, the loop's samples and decisions on a fake clock with fake gateways
// and a fake service (the real loop against Swarm is
// test/integration/swarm-autoscaler.test.ts), the update that is retried once
// when the service changed, and the config's checks.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parseInFlight, specReplicas, SwarmAutoscaler, updateReplicas, type SwarmServiceHandle, type SwarmServiceInfo} from '../../src/swarm/autoscaler.js'
import {parseSwarmAutoscalerConfig, readSwarmAutoscalerConfig, type SwarmAutoscalerConfig} from '../../src/swarm/autoscaler-config.js'
import type {AutoscalingPlan} from '../../src/runtime/autoscale/index.js'
import {isMlserveError} from '../../src/errors.js'

// ---------------------------------------------------------------------------
// The gauge in the text format

test('parseInFlight: the gauge per API, series of one API summed, other metrics, comments and non-numbers left out', () => {
  const text = [
    '# HELP mlserve_api_in_flight An API\'s requests in this gateway now.',
    '# TYPE mlserve_api_in_flight gauge',
    'mlserve_api_in_flight{api="iris"} 3',
    'mlserve_api_in_flight{api="text-gen"} 0',
    'mlserve_api_in_flight{zone="a",api="iris"} 2',
    'mlserve_api_in_flight{api="odd \\"name\\" \\\\x"} 1.5',
    'mlserve_api_in_flight{api="nan"} NaN',
    'mlserve_api_in_flight_total{api="iris"} 99',
    'mlserve_requests_in_flight{api="iris",replica="r0"} 7',
    'mlserve_api_in_flight{replica="r0"} 4',
    '',
  ].join('\n')
  assert.deepEqual(
    [...parseInFlight(text)],
    [
      ['iris', 5],
      ['text-gen', 0],
      ['odd "name" \\x', 1.5],
    ],
  )
  assert.equal(parseInFlight('').size, 0)
})

// ---------------------------------------------------------------------------
// The update and its one retry

function fakeService(infos: SwarmServiceInfo[], failures: unknown[]): SwarmServiceHandle & {updates: Array<Record<string, unknown>>; inspections: number} {
  const service = {
    updates: [] as Array<Record<string, unknown>>,
    inspections: 0,
    async inspect() {
      return infos[Math.min(service.inspections++, infos.length - 1)]
    },
    async update(options: Record<string, unknown>) {
      service.updates.push(options)
      const failure = failures.shift()
      if (failure) throw failure
      return {}
    },
  }
  return service
}

const outOfSequence = Object.assign(new Error('(HTTP code 500) server error - rpc error: code = Unknown desc = update out of sequence'), {
  statusCode: 500,
  json: {message: 'rpc error: code = Unknown desc = update out of sequence'},
})
const info = (index: number, replicas: number): SwarmServiceInfo => ({Version: {Index: index}, Spec: {Name: 'svc', Labels: {a: 'b'}, TaskTemplate: {ContainerSpec: {Image: 'x'}}, Mode: {Replicated: {Replicas: replicas}}}})

test('updateReplicas: the spec as read, at its version, with the new count', async () => {
  const service = fakeService([], [])
  assert.equal(await updateReplicas(service, info(7, 1), 3), 1)
  assert.deepEqual(service.updates, [{Name: 'svc', Labels: {a: 'b'}, TaskTemplate: {ContainerSpec: {Image: 'x'}}, version: 7, Mode: {Replicated: {Replicas: 3}}}])
})

test('updateReplicas: "update out of sequence" reads the service again and tries once more, at the new version', async () => {
  const service = fakeService([info(9, 2)], [outOfSequence])
  assert.equal(await updateReplicas(service, info(7, 1), 3), 2)
  assert.deepEqual(
    service.updates.map((u) => [u.version, u.Mode]),
    [
      [7, {Replicated: {Replicas: 3}}],
      [9, {Replicated: {Replicas: 3}}],
    ],
  )
})

test('updateReplicas: a second conflict, or any other error, is the caller\'s', async () => {
  await assert.rejects(updateReplicas(fakeService([info(9, 2)], [outOfSequence, outOfSequence]), info(7, 1), 3), /out of sequence/)
  const gone = Object.assign(new Error('(HTTP code 404) no such service'), {statusCode: 404})
  const service = fakeService([], [gone])
  await assert.rejects(updateReplicas(service, info(7, 1), 3), /no such service/)
  assert.equal(service.updates.length, 1)
})

test('specReplicas: a replicated service\'s count; null for a global one', () => {
  assert.equal(specReplicas(info(1, 4)), 4)
  assert.equal(specReplicas({Spec: {Mode: {Global: {}}}}), null)
})

// ---------------------------------------------------------------------------
// The loop on a fake clock

function settings(overrides: Partial<AutoscalingPlan> = {}): AutoscalingPlan {
  return {
    minReplicas: 1,
    maxReplicas: 4,
    initReplicas: 1,
    targetReplicaConcurrency: 2,
    windowMs: 3_000,
    upscaleStabilizationMs: 0,
    downscaleStabilizationMs: 20_000,
    maxUpscaleFactor: 3,
    maxDownscaleFactor: 0.5,
    upscaleTolerance: 0.05,
    downscaleTolerance: 0.05,
    fixed: null,
    ...overrides,
  }
}

/** A world of fake gateways (address → in-flight per API, or 'down') and fake services (name → replicas). */
function world(config: SwarmAutoscalerConfig) {
  const clock = {now: 1_000_000}
  const gateways = new Map<string, Record<string, number> | 'down'>()
  const services = new Map<string, {index: number; replicas: number; global?: boolean}>()
  const updates: Array<{service: string; version: unknown; replicas: unknown}> = []
  const lines: Array<Record<string, unknown>> = []
  const autoscaler = new SwarmAutoscaler(config, {
    now: () => clock.now,
    log: (line) => lines.push(JSON.parse(line) as Record<string, unknown>),
    resolve: async (host) => {
      assert.equal(host, `tasks.${config.gateway.service}`)
      if (gateways.size === 0) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), {code: 'ENOTFOUND'})
      return [...gateways.keys()]
    },
    fetchText: async (url) => {
      const address = /^http:\/\/([^:]+):(\d+)\/metrics$/.exec(url)
      assert.ok(address, url)
      assert.equal(Number(address[2]), config.gateway.port)
      const values = gateways.get(address[1])
      if (values === undefined || values === 'down') throw new Error('connect ECONNREFUSED')
      return Object.entries(values)
        .map(([api, n]) => `mlserve_api_in_flight{api="${api}"} ${n}`)
        .join('\n')
    },
    docker: {
      getService: (name) => ({
        async inspect() {
          const service = services.get(name)
          if (!service) throw Object.assign(new Error('(HTTP code 404) no such service'), {statusCode: 404, json: {message: `service ${name} not found`}})
          return {Version: {Index: service.index}, Spec: {Name: name, Mode: service.global ? {Global: {}} : {Replicated: {Replicas: service.replicas}}}}
        },
        async update(options) {
          const service = services.get(name)!
          assert.equal(options.version, service.index, 'updated at the version read')
          const replicas = (options.Mode as {Replicated: {Replicas: number}}).Replicated.Replicas
          updates.push({service: name, version: options.version, replicas})
          service.replicas = replicas
          service.index++
          return {}
        },
      }),
    },
  })
  /** Samples once a second for `seconds`, then ticks. */
  const run = async (seconds: number) => {
    for (let s = 0; s < seconds; s++) {
      clock.now += 1_000
      await autoscaler.sample()
    }
    await autoscaler.tick()
  }
  return {clock, gateways, services, updates, lines, autoscaler, run}
}

const twoApis: SwarmAutoscalerConfig = {
  gateway: {service: 'mlserve-demo-gateway', port: 8888},
  apis: [
    {api: 'iris', service: 'mlserve-demo-iris', autoscaling: settings()},
    {api: 'fixed', service: 'mlserve-demo-fixed', autoscaling: settings({fixed: 'a fixed count'})},
  ],
}

test('the loop: in-flight summed across gateways scales up at the tick, then down after the downscale stabilization, within min..max', async () => {
  const w = world(twoApis)
  w.services.set('mlserve-demo-iris', {index: 10, replicas: 1})
  w.services.set('mlserve-demo-fixed', {index: 3, replicas: 2})
  w.gateways.set('10.0.0.2', {iris: 3, fixed: 50})
  w.gateways.set('10.0.0.3', {iris: 2, fixed: 50})

  // 5 in flight over two gateways / target 2 → 3 replicas (the factor 3 allows 1 → 3).
  await w.run(3)
  assert.deepEqual(w.updates, [{service: 'mlserve-demo-iris', version: 10, replicas: 3}])
  const scaled = w.lines.filter((line) => line.event === 'scaled')
  assert.equal(scaled.length, 1)
  assert.deepEqual({api: scaled[0].api, service: scaled[0].service, from: scaled[0].from, to: scaled[0].to, inFlight: scaled[0].inFlight, level: scaled[0].level}, {api: 'iris', service: 'mlserve-demo-iris', from: 1, to: 3, inFlight: 5, level: 'info'})
  assert.match(String(scaled[0].reason), /in-flight 5 over 3 s \/ target 2 → 3/)

  // Far above the cap: max_replicas 4, and the fixed API is never touched.
  w.gateways.set('10.0.0.2', {iris: 40, fixed: 50})
  await w.run(3)
  assert.deepEqual(w.updates.at(-1), {service: 'mlserve-demo-iris', version: 11, replicas: 4})
  assert.ok(w.updates.every((u) => u.service === 'mlserve-demo-iris'))

  // Idle: the downscale stabilization (20 s since the last higher recommendation) holds the count, then it steps down by at most half, to min 1.
  w.gateways.set('10.0.0.2', {iris: 0})
  w.gateways.set('10.0.0.3', {iris: 0})
  const before = w.updates.length
  await w.run(10)
  await w.run(5)
  assert.equal(w.updates.length, before, 'held by the downscale stabilization')
  const status = w.autoscaler.status().find((s) => s.api === 'iris')!
  assert.match(status.reason, /held by the downscale stabilization/)
  assert.equal(status.current, 4)
  for (let i = 0; i < 6 && w.services.get('mlserve-demo-iris')!.replicas > 1; i++) await w.run(10)
  assert.deepEqual(
    w.updates.slice(before).map((u) => u.replicas),
    [2, 1],
  )
  assert.equal(w.autoscaler.status().find((s) => s.api === 'iris')!.events.down, 2)
  // A tick that changes nothing logs nothing.
  const lines = w.lines.length
  await w.run(10)
  assert.equal(w.lines.length, lines)
})

test('the loop: a gateway that does not answer is left out of the sample and logged once; with none answering, no sample is taken', async () => {
  const w = world({gateway: twoApis.gateway, apis: [twoApis.apis[0]]})
  w.services.set('mlserve-demo-iris', {index: 1, replicas: 2})
  w.gateways.set('10.0.0.2', {iris: 4})
  w.gateways.set('10.0.0.3', 'down')
  await w.run(3)
  const unanswered = w.lines.filter((line) => line.event === 'gateway_unanswered')
  assert.equal(unanswered.length, 1, 'once, not every second')
  assert.equal(unanswered[0].address, '10.0.0.3')
  assert.equal(unanswered[0].level, 'error')
  // 4 from the one that answered / target 2 → 2: stays.
  assert.equal(w.autoscaler.status()[0].inFlight, 4)
  assert.deepEqual(w.updates, [])

  w.gateways.set('10.0.0.3', {iris: 4})
  await w.run(3)
  assert.equal(w.lines.filter((line) => line.event === 'gateway_answers').length, 1)
  assert.deepEqual(w.updates, [{service: 'mlserve-demo-iris', version: 1, replicas: 4}])

  // Every gateway down: the window empties (3 s) and no decision is made, rather than reading it as no load.
  w.gateways.set('10.0.0.2', 'down')
  w.gateways.set('10.0.0.3', 'down')
  const decidedAt = w.autoscaler.status()[0].decidedAt
  await w.run(5)
  await w.run(10)
  assert.equal(w.autoscaler.status()[0].decidedAt, decidedAt)
  assert.equal(w.services.get('mlserve-demo-iris')!.replicas, 4)

  // The name itself not resolving is logged once, as an error.
  w.gateways.clear()
  await w.run(3)
  assert.equal(w.lines.filter((line) => line.event === 'gateway_not_found').length, 1)
})

test('the loop: a service that is gone or not replicated is an error line, and the other APIs go on', async () => {
  const config: SwarmAutoscalerConfig = {
    gateway: twoApis.gateway,
    apis: [
      {api: 'gone', service: 'mlserve-demo-gone', autoscaling: settings()},
      {api: 'global', service: 'mlserve-demo-global', autoscaling: settings()},
      {api: 'iris', service: 'mlserve-demo-iris', autoscaling: settings()},
    ],
  }
  const w = world(config)
  w.services.set('mlserve-demo-global', {index: 1, replicas: 1, global: true})
  w.services.set('mlserve-demo-iris', {index: 1, replicas: 1})
  w.gateways.set('10.0.0.2', {gone: 8, global: 8, iris: 4})
  await w.run(3)
  const errors = w.lines.filter((line) => line.level === 'error')
  assert.deepEqual(
    errors.map((line) => [line.event, line.service]),
    [
      ['service_unreadable', 'mlserve-demo-gone'],
      ['service_not_replicated', 'mlserve-demo-global'],
    ],
  )
  assert.match(String(errors[0].error), /not found/)
  assert.deepEqual(w.updates, [{service: 'mlserve-demo-iris', version: 1, replicas: 2}])
})

test('the loop: an API no answering gateway reports gets no sample (logged once), and stop() ends the loop with a line', async () => {
  const w = world({gateway: twoApis.gateway, apis: [twoApis.apis[0]]})
  w.services.set('mlserve-demo-iris', {index: 1, replicas: 1})
  w.gateways.set('10.0.0.2', {other: 9})
  await w.run(3)
  await w.run(3)
  assert.equal(w.lines.filter((line) => line.event === 'api_not_reported').length, 1)
  assert.equal(w.autoscaler.status()[0].decidedAt, null)
  await w.autoscaler.stop()
  assert.equal(w.lines.at(-1)?.event, 'stopped')
  // Stopped: no more samples or ticks.
  w.gateways.set('10.0.0.2', {iris: 9})
  await w.run(3)
  assert.deepEqual(w.updates, [])
})

// ---------------------------------------------------------------------------
// The config

const valid = {gateway: {service: 'mlserve-demo-gateway', port: 8888}, apis: [{api: 'iris', service: 'mlserve-demo-iris', autoscaling: settings()}]}

function invalidDetails(value: unknown): string[] {
  try {
    parseSwarmAutoscalerConfig(value, '/etc/mlserve/autoscaler.json')
  } catch (error) {
    assert.ok(isMlserveError(error))
    assert.equal(error.code, 'MLS_SWARM_AUTOSCALER_CONFIG_INVALID')
    assert.match(error.message, /\/etc\/mlserve\/autoscaler\.json/)
    return error.details
  }
  assert.fail('expected MLS_SWARM_AUTOSCALER_CONFIG_INVALID')
}

test('config: a valid file parses to the same data (what deploy writes round-trips)', () => {
  assert.deepEqual(parseSwarmAutoscalerConfig(JSON.parse(JSON.stringify(valid)), 'f'), valid)
})

test('config: every problem is listed with its field', () => {
  const details = invalidDetails({
    gateway: {service: '', port: 70000},
    apis: [
      {api: 'iris', service: 'mlserve-demo-iris', autoscaling: settings({minReplicas: 5, maxReplicas: 2})},
      {api: 'b', service: 'svc b', autoscaling: {...settings(), windowMs: '60s'}},
    ],
  })
  assert.ok(details.some((d) => d.startsWith('gateway.service:')), details.join('\n'))
  assert.ok(details.some((d) => d.startsWith('gateway.port:')), details.join('\n'))
  assert.ok(details.some((d) => d.startsWith('apis.1.service:') && /Swarm service name/.test(d)), details.join('\n'))
  assert.ok(details.some((d) => d.startsWith('apis.1.autoscaling.windowMs:')), details.join('\n'))
  assert.deepEqual(invalidDetails({...valid, apis: [valid.apis[0], valid.apis[0]]}), ['apis: each API must be listed once'])
  assert.deepEqual(invalidDetails({...valid, apis: [{...valid.apis[0], autoscaling: settings({minReplicas: 5, maxReplicas: 2})}]}), ['apis.0.autoscaling.minReplicas: minReplicas must not be above maxReplicas'])
  assert.ok(invalidDetails({apis: []}).includes('gateway: Invalid input: expected object, received undefined'))
})

test('config: a missing file and one that is not JSON are unreadable, with the reason', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mlserve-autoscaler-config-'))
  t.after(() => rmSync(dir, {recursive: true, force: true}))
  const unreadable = (file: string) => {
    try {
      readSwarmAutoscalerConfig(file)
    } catch (error) {
      assert.ok(isMlserveError(error))
      assert.equal(error.code, 'MLS_SWARM_AUTOSCALER_CONFIG_UNREADABLE')
      return error.message
    }
    return 'read'
  }
  assert.match(unreadable(join(dir, 'none.json')), /ENOENT/)
  writeFileSync(join(dir, 'bad.json'), '{"gateway": ')
  assert.match(unreadable(join(dir, 'bad.json')), /JSON/)
  writeFileSync(join(dir, 'good.json'), JSON.stringify(valid))
  assert.equal(readSwarmAutoscalerConfig(join(dir, 'good.json')).apis[0].service, 'mlserve-demo-iris')
})
