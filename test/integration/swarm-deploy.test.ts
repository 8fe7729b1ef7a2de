// `mlserve deploy` live on this machine's Docker Swarm, as a user runs it
// (the built CLI): two APIs and a TrafficSplitter built with `mlserve build`
// on the local base image, deployed (local images, no registry), answered
// through the deployed gateway's published port, `deploy --status`, a
// redeploy with new code under a bounded open-loop load on loopback (no
// failure but 503 allowed), a failing health check that Swarm rolls back by
// itself, `traffic set --env` on the deployed gateway, a deploy through a
// real registry (images pinned by digest), and `delete`, which leaves nothing
// with the deploy's labels. Never skipped; everything made here is removed in
// the after hook, even when a test fails.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import http from 'node:http'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {randomBytes} from 'node:crypto'
import {ensureGatewayImage} from '../../src/swarm/gateway-image.js'
import {DEPLOY_LABELS} from '../../src/swarm/spec.js'
import {runCli, type CliResult} from '../helpers/cli.js'
import {baseImage, docker, removeImage} from '../helpers/docker.js'
import {cleanupSwarm, requireSwarm} from '../helpers/swarm.js'
import {startRegistry, type TestRegistry} from '../helpers/registry.js'

const project = `mlsw${randomBytes(3).toString('hex')}`
const root = mkdtempSync(join(tmpdir(), 'mlserve-swarm-deploy-'))
const dir = join(root, project)
const env = {
  NO_COLOR: '1',
  MLSERVE_CONFIG_DIR: join(root, 'config'),
  MLSERVE_STATE_DIR: join(root, 'state'),
  XDG_CONFIG_HOME: join(root, 'xdg'),
}
const labels = (envName: string) => ({[DEPLOY_LABELS.project]: project, [DEPLOY_LABELS.env]: envName})
const builtImages = new Set<string>()
let gatewayImage = ''
let port = 0
let registry: TestRegistry | null = null

const predictor = (version: number, broken = false) => `
import os, time

VERSION = ${version}

class PythonPredictor:
    def __init__(self, config):
${broken ? '        time.sleep(3600)  # never loads: the health check never passes\n' : ''}        self.api = os.environ.get("MLSERVE_API")

    def predict(self, payload):
        return {"api": self.api, "version": VERSION}
`

const api = (name: string) => `
- name: ${name}
  kind: RealtimeAPI
  predictor:
    type: python
    path: predictor.py
    processes_per_replica: 1
    threads_per_process: 2
  compute: {cpu: 100m, mem: 128Mi}
  autoscaling: {min_replicas: 1, max_replicas: 2, max_replica_concurrency: 16, target_replica_concurrency: 1}
  networking: {endpoint: /${name}}
  build: {base_image: ${baseImage}}
`

function writeProject(version: number, broken = false): void {
  writeFileSync(join(dir, 'predictor.py'), predictor(version, broken))
}

async function cli(args: string[], timeout = 300_000): Promise<CliResult> {
  return runCli(args, {env, timeout, cwd: dir})
}

async function ok(args: string[], timeout?: number): Promise<CliResult> {
  const run = await cli(args, timeout)
  assert.equal(run.exitCode, 0, `mlserve ${args.join(' ')} failed:\n${run.stdout}\n${run.stderr}`)
  return run
}

async function build(): Promise<void> {
  for (const name of ['a', 'b']) {
    const run = await ok(['build', dir, '--api', name, '--base-image', baseImage, '--json'])
    builtImages.add((JSON.parse(run.stdout) as {tag: string}).tag)
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const {port: free} = server.address() as {port: number}
      server.close(() => resolve(free))
    })
  })
}

function post(url: string, agent?: http.Agent): Promise<{status: number; body: string}> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {method: 'POST', agent, headers: {'content-type': 'application/json'}, timeout: 15_000}, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString()}))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end('{}')
  })
}

/** An open loop on loopback: `rate` requests a second, each sent on schedule whatever the answers, until stopped (or maxMs). */
function openLoop(url: string, rate: number, maxMs: number) {
  const agent = new http.Agent({keepAlive: true, maxSockets: 32})
  const outcomes = new Map<string, number>()
  const inFlight = new Set<Promise<void>>()
  let sent = 0
  const started = Date.now()
  const count = (key: string): void => {
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1)
  }
  const timer = setInterval(() => {
    if (Date.now() - started > maxMs) return
    sent++
    const p = post(url, agent).then(
      (answer) => count(String(answer.status)),
      (error: NodeJS.ErrnoException) => count(error.code ?? error.message),
    )
    inFlight.add(p)
    void p.finally(() => inFlight.delete(p))
  }, 1000 / rate)
  let result: {sent: number; outcomes: Record<string, number>; seconds: number} | null = null
  return {
    async stop() {
      if (result) return result
      clearInterval(timer)
      await Promise.all(inFlight)
      agent.destroy()
      result = {sent, outcomes: Object.fromEntries(outcomes), seconds: (Date.now() - started) / 1000}
      return result
    },
  }
}

async function leftovers(envName: string): Promise<string[]> {
  const filters = {label: Object.entries(labels(envName)).map(([k, v]) => `${k}=${v}`)}
  const found: string[] = []
  for (const s of (await docker.listServices({filters})) as Array<{Spec?: {Name?: string}}>) found.push(`service ${s.Spec?.Name}`)
  for (const c of (await docker.listConfigs({filters})) as Array<{Spec?: {Name?: string}}>) found.push(`config ${c.Spec?.Name}`)
  for (const s of (await docker.listSecrets({filters})) as Array<{Spec?: {Name?: string}}>) found.push(`secret ${s.Spec?.Name}`)
  for (const n of (await docker.listNetworks({filters})) as Array<{Name: string}>) found.push(`network ${n.Name}`)
  for (const c of (await docker.listContainers({all: true, filters})) as Array<{Names?: string[]}>) found.push(`container ${c.Names?.[0]}`)
  return found
}

before(async () => {
  await requireSwarm()
  port = await freePort()
  // One gateway image for every deploy here: a rebuilt dist/ elsewhere must not restart the gateway mid-test.
  gatewayImage = (await ensureGatewayImage(docker, {baseImage})).tag
  writeFileSync(join(root, '.keep'), '')
  const {mkdirSync} = await import('node:fs')
  mkdirSync(dir)
  writeFileSync(join(dir, 'mlserve.yaml'), `${api('a')}${api('b')}
- name: split
  kind: TrafficSplitter
  apis:
    - {name: a, weight: 50}
    - {name: b, weight: 50}
  networking: {endpoint: /split}
`)
  writeProject(1)
  // No node carries this label: the APIs go on on-demand nodes (every node without it).
  await ok(['env', 'add', 'swarm-test', '--engine', 'swarm', '--gateway-port', String(port), '--spot-label', 'mlserve.test.spot=true'])
  await build()
})

after(async () => {
  for (const envName of ['swarm-test', 'swarm-registry']) await cleanupSwarm(labels(envName)).catch(() => undefined)
  for (const tag of builtImages) await removeImage(tag).catch(() => undefined)
  if (registry) {
    // The tags deploy's pushes left (REGISTRY/REPO:TAG), also when a deploy failed before saying which.
    const pushed = (await docker.listImages()).flatMap((image) => (image.RepoTags ?? []).filter((tag) => tag.startsWith(`${registry!.url}/`)))
    for (const tag of pushed) await removeImage(tag).catch(() => undefined)
  }
  await registry?.stop().catch(() => undefined)
  rmSync(root, {recursive: true, force: true})
})

describe('mlserve deploy on Docker Swarm', () => {
  let url = ''

  test('deploys two APIs, the gateway and the autoscaler; predictions answer through the published port', async () => {
    const started = Date.now()
    const run = await ok(['deploy', '--env', 'swarm-test', '--gateway-image', gatewayImage, '--json'])
    const result = JSON.parse(run.stdout) as {url: string; services: Array<{name: string; role: string; action: string; placement: string | null}>; record: string}
    console.log(`deploy: ${((Date.now() - started) / 1000).toFixed(1)} s`)
    url = result.url
    assert.equal(url, `http://127.0.0.1:${port}`)
    assert.deepEqual(
      result.services.map((s) => [s.name, s.role, s.action]),
      [
        [`mlserve-${project}-a`, 'api', 'created'],
        [`mlserve-${project}-b`, 'api', 'created'],
        [`mlserve-${project}-gateway`, 'gateway', 'created'],
        [`mlserve-${project}-autoscaler`, 'autoscaler', 'created'],
      ],
    )
    assert.equal(result.services[0].placement, 'on-demand', 'no node carries the spot label')
    assert.equal(statSync(result.record).mode & 0o777, 0o600)
    for (const name of ['a', 'b']) {
      const answer = await post(`${url}/${name}`)
      assert.equal(answer.status, 200, answer.body)
      assert.deepEqual(JSON.parse(answer.body), {api: name, version: 1})
    }
    const service = (await docker.getService(`mlserve-${project}-a`).inspect()) as {Spec: {TaskTemplate: {Placement?: {Constraints?: string[]}}; EndpointSpec?: {Mode?: string}}}
    assert.deepEqual(service.Spec.TaskTemplate.Placement?.Constraints, ['node.labels.mlserve.test.spot!=true'])
    assert.equal(service.Spec.EndpointSpec?.Mode, 'dnsrr')
  })

  test('predict --env and deploy --status reach the deployed gateway', async () => {
    const predict = await ok(['predict', 'a', '--env', 'swarm-test', '--data', '{}', '--json'])
    assert.deepEqual((JSON.parse(predict.stdout) as {body: unknown}).body, {api: 'a', version: 1})
    const status = JSON.parse((await ok(['deploy', '--env', 'swarm-test', '--status', '--json'])).stdout) as {
      url: string
      services: Array<{name: string; replicas: {wanted: number; running: number}; tasks: Array<{state: string; desired: string}>}>
    }
    assert.equal(status.url, url)
    assert.equal(status.services.length, 4)
    for (const s of status.services) {
      assert.equal(s.replicas.running, s.replicas.wanted, `${s.name}: ${JSON.stringify(s.tasks)}`)
      assert.ok(s.tasks.some((t) => t.state === 'running' && t.desired === 'running'), s.name)
    }
  })

  test('a redeploy with new code is a rolling update: no failed request under an open-loop load, the gateway untouched', async () => {
    writeProject(2)
    await build()
    const load = openLoop(`${url}/split`, 20, 180_000)
    const started = Date.now()
    let run: CliResult
    let seconds: number
    try {
      run = await ok(['deploy', '--env', 'swarm-test', '--gateway-image', gatewayImage, '--timeout', '3m', '--json'])
      seconds = (Date.now() - started) / 1000
      await new Promise((resolve) => setTimeout(resolve, 2_000))
    } finally {
      await load.stop()
    }
    const {sent, outcomes} = await load.stop()
    const result = JSON.parse(run.stdout) as {services: Array<{role: string; action: string}>}
    assert.deepEqual(result.services.map((s) => s.action), ['updated', 'updated', 'unchanged', 'unchanged'])
    const failures = Object.entries(outcomes).filter(([key]) => key !== '200' && key !== '503')
    console.log(`rolling update: ${seconds.toFixed(1)} s; ${sent} requests sent: ${JSON.stringify(outcomes)}`)
    assert.ok(sent >= 100, `only ${sent} requests were sent`)
    assert.deepEqual(failures, [], `requests failed other than with 503: ${JSON.stringify(outcomes)}`)
    for (const name of ['a', 'b']) assert.deepEqual(JSON.parse((await post(`${url}/${name}`)).body), {api: name, version: 2})
  })

  test('a failing health check rolls back by itself; deploy says so and exits 1, the previous version serving throughout', async () => {
    writeProject(3, true)
    const run0 = await ok(['build', dir, '--api', 'a', '--base-image', baseImage, '--json'])
    const broken = (JSON.parse(run0.stdout) as {tag: string}).tag
    builtImages.add(broken)
    const load = openLoop(`${url}/a`, 10, 180_000)
    const started = Date.now()
    let run: CliResult
    try {
      run = await cli(['deploy', '--env', 'swarm-test', '--gateway-image', gatewayImage, '--health-start-period', '5s', '--timeout', '3m', '--json'])
    } finally {
      await load.stop()
    }
    const seconds = (Date.now() - started) / 1000
    const {sent, outcomes} = await load.stop()
    console.log(`rollback: deploy ended after ${seconds.toFixed(1)} s; ${sent} requests meanwhile: ${JSON.stringify(outcomes)}`)
    assert.equal(run.exitCode, 1, run.stdout + run.stderr)
    const error = (JSON.parse(run.stdout) as {error: {code: string; message: string; details: string[]}}).error
    assert.equal(error.code, 'MLS_DEPLOY_ROLLED_BACK')
    assert.match(error.message, new RegExp(`update of mlserve-${project}-a failed and Swarm rolled it back`))
    assert.ok(error.details.length > 0, 'the failed tasks are listed')
    assert.deepEqual(Object.keys(outcomes).filter((k) => k !== '200' && k !== '503'), [], JSON.stringify(outcomes))
    assert.deepEqual(JSON.parse((await post(`${url}/a`)).body), {api: 'a', version: 2})
    // The bad build goes, so that the newest image of a is version 2 again (a rebuild of it is all cached, and keeps its date).
    writeProject(2)
    await removeImage(broken)
  })

  test('an update no node has room for is rolled back after a short wait, saying what the new task needs', async () => {
    // a asks for all the CPUs the node has left beside b: alone it fits, but start-first runs it beside the old a.
    const node = ((await docker.listNodes()) as Array<{Description?: {Resources?: {NanoCPUs?: number}}}>)[0]
    const cpus = (node.Description?.Resources?.NanoCPUs ?? 2e9) / 1e9
    const big = `${Math.round((cpus - 0.1) * 1000)}m`
    const config = join(dir, 'mlserve.yaml')
    const before = readFileSync(config, 'utf8')
    writeFileSync(config, before.replace('compute: {cpu: 100m, mem: 128Mi}', `compute: {cpu: ${big}, mem: 128Mi}`))
    let run: CliResult
    try {
      run = await cli(['deploy', '--env', 'swarm-test', '--gateway-image', gatewayImage, '--timeout', '3m', '--json'])
    } finally {
      writeFileSync(config, before)
    }
    assert.equal(run.exitCode, 1, run.stdout + run.stderr)
    const error = (JSON.parse(run.stdout) as {error: {code: string; message: string}}).error
    assert.equal(error.code, 'MLS_DEPLOY_NO_CAPACITY', error.message)
    assert.match(error.message, new RegExp(`reserve ${cpus - 0.1} CPU and 128 MiB for a new task of mlserve-${project}-a within 20s; the update was rolled back`))
    const service = (await docker.getService(`mlserve-${project}-a`).inspect()) as {Spec: {TaskTemplate: {Resources: {Reservations: {NanoCPUs: number}}}}}
    assert.equal(service.Spec.TaskTemplate.Resources.Reservations.NanoCPUs, 1e8, 'the previous spec is back')
    assert.deepEqual(JSON.parse((await post(`${url}/a`)).body), {api: 'a', version: 2})
  })

  test('traffic set --env changes the split on the deployed gateway', async () => {
    const set = JSON.parse((await ok(['traffic', 'set', 'split', 'a=0', 'b=100', '--env', 'swarm-test', '--json'])).stdout) as {after: {weights: Record<string, number>}}
    assert.deepEqual(set.after.weights, {a: 0, b: 100})
    const apis = new Set<string>()
    for (let i = 0; i < 20; i++) apis.add((JSON.parse((await post(`${url}/split`)).body) as {api: string}).api)
    assert.deepEqual([...apis], ['b'])
    const show = JSON.parse((await ok(['traffic', 'show', 'split', '--env', 'swarm-test', '--json'])).stdout) as {runtimes: Array<{url: string}>}
    assert.equal(show.runtimes[0].url, url)
  })

  test('delete removes every service, config, secret, network and container of the deploy, and the record', async () => {
    const run = JSON.parse((await ok(['delete', '--env', 'swarm-test', '--json'])).stdout) as {removed: {services: string[]; networks: string[]}; record: boolean}
    assert.equal(run.removed.services.length, 4)
    assert.deepEqual(run.removed.networks, [`mlserve-${project}`])
    assert.equal(run.record, true)
    assert.deepEqual(await leftovers('swarm-test'), [])
    const predict = await cli(['predict', 'a', '--env', 'swarm-test', '--data', '{}', '--json'])
    assert.equal((JSON.parse(predict.stdout) as {error: {code: string}}).error.code, 'MLS_DEPLOY_NOT_FOUND')
  })
})

describe('mlserve deploy through a registry', () => {
  test('pushes the images, runs them pinned by digest with the credentials passed on, and delete cleans up', async () => {
    registry = await startRegistry()
    const regEnv = {...env, MLSERVE_REGISTRY_USERNAME: registry.username, MLSERVE_REGISTRY_PASSWORD: registry.password}
    const regPort = await freePort()
    const add = await runCli(['env', 'add', 'swarm-registry', '--engine', 'swarm', '--registry', registry.url, '--gateway-port', String(regPort)], {env: regEnv, cwd: dir})
    assert.equal(add.exitCode, 0, add.stderr)
    const run = await runCli(['deploy', '--env', 'swarm-registry', '--gateway-image', gatewayImage, '--timeout', '3m', '--json'], {env: regEnv, cwd: dir, timeout: 400_000})
    assert.equal(run.exitCode, 0, run.stdout + run.stderr)
    const result = JSON.parse(run.stdout) as {url: string; pushed: Array<{api: string | null; reference: string; pinned: string}>}
    for (const push of result.pushed) builtImages.add(push.reference)
    assert.deepEqual(result.pushed.map((p) => p.api), ['a', 'b', null])
    for (const name of ['a', 'b']) {
      const service = (await docker.getService(`mlserve-${project}-${name}`).inspect()) as {Spec: {TaskTemplate: {ContainerSpec: {Image: string}}}}
      assert.match(service.Spec.TaskTemplate.ContainerSpec.Image, new RegExp(`^${registry.url.replace(/\./g, '\\.')}/${name}(:[^@]+)?@sha256:[0-9a-f]{64}$`))
      assert.deepEqual(JSON.parse((await post(`${result.url}/${name}`)).body), {api: name, version: 2})
    }
    const removed = await runCli(['delete', '--env', 'swarm-registry', '--json'], {env: regEnv, cwd: dir})
    assert.equal(removed.exitCode, 0, removed.stderr)
    assert.deepEqual(await leftovers('swarm-registry'), [])
  })
})
