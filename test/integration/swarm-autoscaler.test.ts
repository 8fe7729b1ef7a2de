// The Swarm autoscaler against the real Swarm of this machine: a tiny
// replicated service (the base image sleeping), the loop in-process with a
// metrics server on a loopback port standing in for the gateway's tasks (the
// address resolver is injected, as tasks.<service> resolves only inside the
// overlay network), short window and stabilization settings. High in-flight
// scales the service up after the upscale stabilization, low scales it down
// after the downscale one, within min..max, and Swarm runs that many tasks.
// Then the update that meets a service changed in between (out of sequence),
// and the hidden command: a bad config, and SIGTERM → exit 0.
import {after, before, test} from 'node:test'
import assert from 'node:assert/strict'
import {createServer, type Server} from 'node:http'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa} from 'execa'
import {SwarmAutoscaler, specReplicas, updateReplicas} from '../../src/swarm/autoscaler.js'
import type {SwarmAutoscalerConfig} from '../../src/swarm/autoscaler-config.js'
import type {AutoscalingPlan} from '../../src/runtime/autoscale/index.js'
import {baseImage, docker, uniqueName} from '../helpers/docker.js'
import {cleanupSwarm, requireSwarm, runningTasks, swarmTestLabels, waitFor} from '../helpers/swarm.js'
import {cliPath} from '../helpers/cli.js'

const tmp = mkdtempSync(join(tmpdir(), 'mlserve-swarm-autoscaler-'))
let metrics: Server
let metricsPort = 0
/** What the stand-in gateway reports for the API now. */
let inFlight = 0

before(async () => {
  await requireSwarm()
  metrics = createServer((request, response) => {
    if (request.url !== '/metrics') {
      response.writeHead(404).end()
      return
    }
    response.writeHead(200, {'content-type': 'text/plain; version=0.0.4'})
    response.end(`# TYPE mlserve_api_in_flight gauge\nmlserve_api_in_flight{api="iris"} ${inFlight}\nmlserve_api_in_flight{api="other"} 100\n`)
  })
  await new Promise<void>((resolve) => metrics.listen(0, '127.0.0.1', resolve))
  metricsPort = (metrics.address() as {port: number}).port
})

after(async () => {
  metrics?.close()
  await cleanupSwarm()
  rmSync(tmp, {recursive: true, force: true})
})

/** A replicated service of the base image that only sleeps; it stops at once (SIGKILL after 1 s: sleep as PID 1 ignores SIGTERM). */
async function sleepingService(replicas: number): Promise<string> {
  const name = uniqueName('mlserve-test-scale')
  await docker.createService({
    Name: name,
    Labels: swarmTestLabels(),
    TaskTemplate: {
      ContainerSpec: {Image: baseImage, Command: ['sleep', 'infinity'], StopGracePeriod: 1_000_000_000, Labels: swarmTestLabels()},
      RestartPolicy: {Condition: 'on-failure', MaxAttempts: 3},
    },
    Mode: {Replicated: {Replicas: replicas}},
    EndpointSpec: {Mode: 'dnsrr'},
  } as never)
  return name
}

function autoscaling(overrides: Partial<AutoscalingPlan>): AutoscalingPlan {
  return {
    minReplicas: 1,
    maxReplicas: 3,
    initReplicas: 1,
    targetReplicaConcurrency: 2,
    windowMs: 1_000,
    upscaleStabilizationMs: 2_000,
    downscaleStabilizationMs: 3_000,
    maxUpscaleFactor: 3,
    maxDownscaleFactor: 0.5,
    upscaleTolerance: 0.05,
    downscaleTolerance: 0.05,
    fixed: null,
    ...overrides,
  }
}

const specCount = async (service: string) => specReplicas(await docker.getService(service).inspect()) ?? -1

test('the loop scales a real Swarm service up on high in-flight and down on low, after the stabilization periods, within min..max', {timeout: 180_000}, async () => {
  const service = await sleepingService(1)
  await waitFor(async () => (await runningTasks(service)) === 1, 60_000, async () => `${service} runs ${await runningTasks(service)} tasks, not 1`)

  const config: SwarmAutoscalerConfig = {gateway: {service: 'mlserve-test-gateway', port: metricsPort}, apis: [{api: 'iris', service, autoscaling: autoscaling({})}]}
  const lines: Array<Record<string, unknown>> = []
  const resolved: string[] = []
  const autoscaler = new SwarmAutoscaler(config, {
    docker,
    log: (line) => lines.push(JSON.parse(line) as Record<string, unknown>),
    resolve: async (host) => {
      resolved.push(host)
      return ['127.0.0.1']
    },
    sampleMs: 200,
    tickMs: 1_000,
  })
  const started = Date.now()
  try {
    // 20 in flight / target 2 = 10, capped at max_replicas 3; held by the 2 s upscale stabilization first.
    inFlight = 20
    autoscaler.start()
    await waitFor(async () => (await specCount(service)) === 3, 30_000, async () => `spec replicas ${await specCount(service)}; log:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`)
    const upAfterMs = Date.now() - started
    assert.ok(upAfterMs >= 2_000, `scaled up after ${upAfterMs} ms, before the 2 s upscale stabilization`)
    assert.equal(resolved[0], 'tasks.mlserve-test-gateway')
    await waitFor(async () => (await runningTasks(service)) === 3, 60_000, async () => `${service} runs ${await runningTasks(service)} tasks, not 3`)

    // Idle: after the 3 s downscale stabilization, down by at most half a step (3 → 2 → 1), never below min_replicas 1.
    inFlight = 0
    const idleAt = Date.now()
    await waitFor(async () => (await specCount(service)) === 1, 30_000, async () => `spec replicas ${await specCount(service)}; log:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`)
    assert.ok(Date.now() - idleAt >= 3_000, 'held by the downscale stabilization')
    // A few more ticks at zero: it stays at min_replicas.
    await new Promise((resolve) => setTimeout(resolve, 2_500))
    assert.equal(await specCount(service), 1)
    await waitFor(async () => (await runningTasks(service)) === 1, 60_000, async () => `${service} runs ${await runningTasks(service)} tasks, not 1`)
  } finally {
    await autoscaler.stop()
  }
  const steps = lines.filter((line) => line.event === 'scaled').map((line) => [line.from, line.to])
  assert.deepEqual(steps, [
    [1, 3],
    [3, 2],
    [2, 1],
  ])
  const errors = lines.filter((line) => line.level === 'error')
  assert.deepEqual(errors, [])
  const status = autoscaler.status()[0]
  assert.deepEqual({current: status.current, events: status.events}, {current: 1, events: {up: 1, down: 2}})
  console.log(`scaled up after ${(upAfterMsOf(lines, started) / 1000).toFixed(1)} s; steps ${steps.map((s) => s.join('→')).join(', ')}`)
})

function upAfterMsOf(lines: Array<Record<string, unknown>>, started: number): number {
  const up = lines.find((line) => line.event === 'scaled')
  return up ? Date.parse(String(up.time)) - started : Number.NaN
}

test('an update at a version the service has moved past is read again and tried once more (Swarm\'s "update out of sequence")', {timeout: 120_000}, async () => {
  const service = await sleepingService(1)
  const handle = docker.getService(service)
  const stale = await handle.inspect()
  // Someone else (a redeploy) changes the service in between.
  await handle.update({...stale.Spec, version: stale.Version.Index, Labels: {...stale.Spec.Labels, changed: 'yes'}})
  assert.equal(await updateReplicas(handle, stale, 2), 2)
  const now = await handle.inspect()
  assert.equal(specReplicas(now), 2)
  assert.equal(now.Spec.Labels.changed, 'yes', 'the other change is kept')
})

test('mlserve autoscaler: a bad config is exit 2 with each problem; SIGTERM stops a running one with exit 0', {timeout: 120_000}, async () => {
  const bad = join(tmp, 'bad.json')
  writeFileSync(bad, JSON.stringify({gateway: {service: 'gw', port: 0}, apis: []}))
  const refused = await execa(process.execPath, [cliPath, 'autoscaler', '--config', bad], {reject: false, env: {NO_COLOR: '1'}})
  assert.equal(refused.exitCode, 2)
  assert.match(String(refused.stderr), /MLS_SWARM_AUTOSCALER_CONFIG_INVALID/)
  assert.match(String(refused.stderr), /gateway\.port/)

  const good = join(tmp, 'good.json')
  const service = await sleepingService(1)
  writeFileSync(good, JSON.stringify({gateway: {service: uniqueName('mlserve-test-no-gateway'), port: 8888}, apis: [{api: 'iris', service, autoscaling: autoscaling({})}]}))
  const child = execa(process.execPath, [cliPath, 'autoscaler', '--config', good], {reject: false, env: {NO_COLOR: '1'}})
  let stdout = ''
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
  })
  try {
    // The gateway's name does not resolve (no such service): logged once as an error, and the loop goes on.
    await waitFor(async () => /"event":"gateway_not_found"/.test(stdout), 30_000, () => `stdout:\n${stdout}`)
    child.kill('SIGTERM')
    const result = await child
    assert.equal(result.exitCode, 0, String(result.stderr))
  } finally {
    child.kill('SIGKILL')
  }
  const events = stdout
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as {event: string}).event)
  assert.equal(events[0], 'started')
  assert.equal(events.at(-1), 'stopped')
  assert.equal(await specCount(service), 1, 'no sample, no decision: the service is left as it was')
})
