// A pod of the generated manifests, run on this machine without Kubernetes:
// the model container is the real harness started from the Deployment's
// environment alone (as the image's CMD starts it), the sidecar is the built
// CLI's `mlserve gateway --plan` on the ConfigMap's plan. Only the ports move
// (a pod has its own network; here 8080 and 8888 may be taken) and the
// project directory (the image's /app is the checkout here). The sklearn
// template is trained, so it needs /usr/bin/python3 (or MLSERVE_PYTHON) with
// python3-sklearn; it fails, never skips, without it.
import {test, describe, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {spawn, type ChildProcess} from 'node:child_process'
import {mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parse, stringify} from 'yaml'
import {loadProject} from '../../src/config/index.js'
import {kubernetesManifests, type KubernetesManifest} from '../../src/kubernetes/index.js'
import {harnessPath} from '../../src/runtime/harness/index.js'
import {freePort} from '../../src/runtime/ports.js'
import {initProject} from '../../src/scaffold/index.js'
import {cliPath} from '../helpers/cli.js'
import {IMAGES, kubernetesEnvironment} from '../helpers/kubernetes.js'

type Json = Record<string, any>
const python = process.env.MLSERVE_PYTHON || '/usr/bin/python3'

let root: string
let dir: string
let objects: KubernetesManifest[]
const children: ChildProcess[] = []

function find(kind: string, name: string): Json {
  return objects.find((object) => object.kind === kind && object.metadata?.name === name)!.toJSON()
}

function exited(child: ChildProcess): Promise<number | string | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode ?? child.signalCode)
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)))
}

async function until(what: string, check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await check().catch(() => false)) return
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`timed out waiting for ${what}`)
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'mlserve-k8s-pod-'))
  dir = join(root, 'iris')
  const init = await initProject({dir, template: 'sklearn', name: 'iris', env: {...process.env, MLSERVE_PYTHON: python}})
  assert.ok(init.trained, `the sklearn template must train with ${python} (python3-sklearn): ${init.warnings.join(' ')}`)
  const file = join(dir, 'mlserve.yaml')
  const base = parse(readFileSync(file, 'utf8')) as Json
  const splitter = {name: 'iris-split', kind: 'TrafficSplitter', apis: [{name: 'iris', weight: 80}, {name: 'iris-v2', weight: 20}]}
  writeFileSync(file, stringify([base, {...base, name: 'iris-v2', networking: {endpoint: '/iris-v2'}}, splitter]))
  objects = await kubernetesManifests(await loadProject(dir), kubernetesEnvironment(), IMAGES)
})
after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  await Promise.all(children.map(exited))
  rmSync(root, {recursive: true, force: true})
})

describe('a pod of the manifests, run here', () => {
  test('the harness from the env alone, the gateway from the plan: predictions at the endpoint, the splitter path and batch; the drain in order', async () => {
    const deployment = find('Deployment', 'iris')
    const [model, gateway] = deployment.spec.template.spec.containers as Json[]
    const env = Object.fromEntries((model.env as Json[]).map((entry) => [entry.name, entry.value as string]))
    const modelPort = await freePort()
    const harness = spawn(python, [harnessPath, 'serve'], {
      cwd: dir,
      env: {PATH: process.env.PATH, ...env, MLSERVE_PROJECT_DIR: dir, MLSERVE_HOST: '127.0.0.1', MLSERVE_PORT: String(modelPort), PORT: String(modelPort)},
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    children.push(harness)
    let harnessLog = ''
    harness.stderr!.on('data', (chunk: Buffer) => (harnessLog += chunk.toString()))

    const plan = JSON.parse(find('ConfigMap', 'iris-gateway').data['plan.json']) as Json
    assert.deepEqual(plan.remote.discovery.origins, {iris: ['http://127.0.0.1:8080']})
    plan.remote.discovery.origins = {iris: [`http://127.0.0.1:${modelPort}`]}
    plan.gateway.host = '127.0.0.1'
    plan.gateway.port = 0
    const planFile = join(root, 'plan.json')
    writeFileSync(planFile, JSON.stringify(plan))
    assert.deepEqual(gateway.args, ['gateway', '--plan', '/etc/mlserve/plan.json'])
    const sidecar = spawn(process.execPath, [cliPath, gateway.args[0], gateway.args[1], planFile], {env: {PATH: process.env.PATH, NO_COLOR: '1'}, stdio: ['ignore', 'pipe', 'pipe']})
    children.push(sidecar)
    let gatewayLog = ''
    sidecar.stdout!.on('data', (chunk: Buffer) => (gatewayLog += chunk.toString()))
    sidecar.stderr!.on('data', (chunk: Buffer) => (gatewayLog += chunk.toString()))
    await until('the gateway to listen', async () => /"event":"listening"/.test(gatewayLog))
    const url = (JSON.parse(gatewayLog.split('\n').find((line) => line.includes('"event":"listening"'))!) as {url: string}).url
    await until(`the gateway to be ready (harness: ${harnessLog.slice(-400)})`, async () => (await fetch(`${url}/readyz`)).status === 200, 90_000)

    const payloadFile = readdirSync(join(dir, 'payloads')).find((name) => name.endsWith('.json'))!
    const payload = readFileSync(join(dir, 'payloads', payloadFile), 'utf8')
    for (const path of ['/iris', '/iris-split']) {
      const answer = await fetch(`${url}${path}`, {method: 'POST', body: payload, headers: {'content-type': 'application/json'}})
      assert.equal(answer.status, 200, `${path}: ${await answer.clone().text()}`)
      assert.equal(answer.headers.get('x-mlserve-api'), 'iris')
      assert.ok(Array.isArray(((await answer.json()) as Json).predictions))
    }
    const batch = await fetch(`${url}/iris/batch`, {method: 'POST', body: `[${payload},${payload}]`, headers: {'content-type': 'application/json'}})
    assert.equal(batch.status, 200)
    assert.equal(((await batch.json()) as Json[]).length, 2)
    const metrics = await (await fetch(`${url}/metrics`)).text()
    assert.match(metrics, /^mlserve_api_in_flight\{api="iris"\} 0$/m)

    // The termination: the model's preStop (its port and delay moved to this run's) returns only once the sidecar has gone.
    const gatewayPort = new URL(url).port
    const script = (model.lifecycle.preStop.exec.command[2] as string).replace('("127.0.0.1", 8888)', `("127.0.0.1", ${gatewayPort})`).replace('time.sleep(5)', 'time.sleep(1)')
    assert.ok(script.includes(`("127.0.0.1", ${gatewayPort})`))
    const preStop = spawn(python, ['-c', script], {stdio: 'ignore'})
    children.push(preStop)
    const exitTimes: Record<string, number> = {}
    preStop.once('exit', () => (exitTimes.preStop = Date.now()))
    sidecar.once('exit', () => (exitTimes.gateway = Date.now()))
    await new Promise((resolve) => setTimeout(resolve, 2500))
    assert.equal(preStop.exitCode, null, 'the preStop waits while the gateway is up')
    sidecar.kill('SIGTERM')
    assert.equal(await exited(sidecar), 0, gatewayLog)
    assert.equal(await exited(preStop), 0)
    assert.ok(exitTimes.preStop >= exitTimes.gateway, 'the preStop returned after the gateway exited')
    assert.ok(exitTimes.preStop - exitTimes.gateway < 3000, 'and within a poll or two of it')
    harness.kill('SIGTERM')
    assert.equal(await exited(harness), 0, harnessLog)
  })
})
