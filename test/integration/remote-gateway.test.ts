// `mlserve gateway --plan` as a deployment runs it, in front of replicas it did
// not start: two real harness replicas on loopback ports (standing in for
// Swarm tasks or a pod's model container), a plan of driver 'remote' with
// static discovery pointing at them, and the built CLI as a child process.
// Predictions pass through with X-Mlserve-Api, admission sheds past
// max_replica_concurrency (503 + Retry-After), the control routes take the
// deployment's token, a replica that dies costs no request (a refused
// connection is placed again), and SIGTERM drains a request in flight and exits 0,
// leaving the replicas running (their engine owns them).
import {test, after, before} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {execa, type ResultPromise} from 'execa'
import {request} from 'undici'
import {loadProject} from '../../src/config/index.js'
import {planRuntime, runtimeDefaults} from '../../src/runtime/plan.js'
import {cliPath} from '../helpers/cli.js'
import {fixturesDir, isAlive, killAllHarnesses, startHarness, type Harness} from '../helpers/harness.js'
import {post, waitFor} from '../helpers/http.js'
import {apiYaml, makeProject} from '../helpers/projects.js'

const TOKEN = 'remote-gateway-test-token'
// 1 process × 1 thread per replica, at most 2 requests held per replica (1 running, 1 queued).
const project = makeProject({
  'mlserve.yaml': apiYaml({name: 'sleeper', processes: 1, threads: 1, maxReplicaConcurrency: 2, config: {seconds: 0}}),
  'predictor.py': readFileSync(join(fixturesDir, 'sleep', 'predictor.py'), 'utf8'),
})
let replicas: Harness[] = []
let gateway: ResultPromise<{reject: false}> | null = null
let stdout = ''
let url = ''

interface LogLine {
  event: string
  [key: string]: unknown
}
const lines = (): LogLine[] => stdout.split('\n').filter((line) => line.trim()).map((line) => JSON.parse(line) as LogLine)

before(async () => {
  replicas = await Promise.all([0, 1].map(() => startHarness({predictor: 'sleep', processes: 1, threads: 1, config: {seconds: 0}})))
  const plan = await planRuntime(await loadProject(project.dir), {
    ...runtimeDefaults,
    host: '127.0.0.1',
    port: 8888,
    accessLog: false,
    announce: false,
    driver: 'remote',
    remote: {discovery: {kind: 'static', origins: {sleeper: replicas.map((replica) => `http://127.0.0.1:${replica.port}`)}}, control: 'token'},
  })
  const planFile = join(project.dir, 'plan.json')
  writeFileSync(planFile, JSON.stringify(plan))
  // --port 0 over the plan's 8888: a free port, read from the 'listening' line.
  gateway = execa(process.execPath, [cliPath, 'gateway', '--plan', planFile, '--port', '0'], {reject: false, env: {NO_COLOR: '1', MLSERVE_GATEWAY_TOKEN: TOKEN}})
  gateway.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  await waitFor(() => lines().some((line) => line.event === 'listening') || gateway!.exitCode !== null, 'the gateway listening', 60_000)
  const listening = lines().find((line) => line.event === 'listening')
  assert.ok(listening, `the gateway did not start: ${stdout}`)
  url = listening.url as string
  await waitFor(async () => (await request(`${url}/readyz`)).statusCode === 200, 'both replicas ready behind the gateway')
})

after(async () => {
  if (gateway && gateway.exitCode === null) gateway.kill('SIGKILL')
  await killAllHarnesses()
  project.cleanup()
})

test('predictions pass through the gateway to both replicas, with X-Mlserve-Api', async () => {
  // 4 at once: what the two replicas hold together (2 each), so none is shed and both must take some.
  const answers = await Promise.all(Array.from({length: 4}, (_, i) => post(`${url}/sleeper`, {seconds: 0.2, tag: i})))
  for (const answer of answers) {
    assert.equal(answer.status, 200)
    assert.equal(answer.headers['x-mlserve-api'], 'sleeper')
  }
  const served = new Set(answers.map((answer) => answer.body.pid as number))
  assert.equal(served.size, 2, `both replicas answered: ${[...served].join(', ')}`)
  const status = (await (await request(`${url}/status`)).body.json()) as {apis: Array<{replicas: Array<{origin: string; ready: boolean}>}>}
  assert.deepEqual(status.apis[0].replicas.map((replica) => replica.origin).sort(), replicas.map((replica) => `http://127.0.0.1:${replica.port}`).sort())
})

test('past max_replica_concurrency on every replica a request is shed: 503 MLS_GATEWAY_SHED with Retry-After', async () => {
  // 2 replicas × max_replica_concurrency 2 = 4 held; the 5th and 6th are shed at once.
  const held = Array.from({length: 4}, () => post(`${url}/sleeper`, {seconds: 1}))
  await waitFor(async () => /mlserve_api_in_flight\{api="sleeper"\} 4/.test(await (await request(`${url}/metrics`)).body.text()), '4 requests held')
  const shed = await Promise.all([post(`${url}/sleeper`, {seconds: 0}), post(`${url}/sleeper`, {seconds: 0})])
  for (const answer of shed) {
    assert.equal(answer.status, 503)
    assert.equal(answer.body.code, 'MLS_GATEWAY_SHED')
    assert.equal(answer.headers['retry-after'], '1')
    assert.equal(answer.headers['x-mlserve-api'], 'sleeper')
  }
  assert.deepEqual((await Promise.all(held)).map((answer) => answer.status), [200, 200, 200, 200])
})

test("the control routes take the deployment's token: a change without it is refused, with it applied", async () => {
  const status = async (authorization?: string) => (await request(`${url}/traffic`, {method: 'PUT', headers: authorization ? {authorization} : {}})).statusCode
  // PUT /traffic is not a route (405) once authorized; without the token it is refused before that.
  assert.equal(await status(), 401)
  assert.equal(await status(`Bearer ${TOKEN}`), 405)
})

test('a replica that dies (its port refuses connections) costs no request: each is placed on the other, and the dead one leaves routing', async () => {
  const [dead, alive] = replicas
  dead.kill()
  await dead.waitExit()
  const answers = []
  for (let i = 0; i < 10; i++) answers.push(await post(`${url}/sleeper`, {seconds: 0}))
  assert.deepEqual(answers.map((answer) => answer.status), new Array(10).fill(200))
  assert.deepEqual(new Set(answers.map((answer) => answer.body.pid)).size, 1, 'every answer from the live replica')
  const origins = async () => ((await (await request(`${url}/status`)).body.json()) as {apis: Array<{replicas: Array<{origin: string; ready: boolean}>}>}).apis[0].replicas.filter((replica) => replica.ready).map((replica) => replica.origin)
  await waitFor(async () => (await origins()).join() === `http://127.0.0.1:${alive.port}`, 'the dead replica out of routing')
  replicas = [alive]
})

test('SIGTERM drains the request in flight, logs it, exits 0, and leaves the replicas running', async () => {
  const inFlight = post(`${url}/sleeper`, {seconds: 1})
  await waitFor(async () => /mlserve_api_in_flight\{api="sleeper"\} 1/.test(await (await request(`${url}/metrics`)).body.text()), 'the request running')
  gateway!.kill('SIGTERM')
  const answer = await inFlight
  assert.equal(answer.status, 200)
  const result = await gateway!
  assert.equal(result.exitCode, 0, String(result.stderr))
  const events = lines().map((line) => line.event)
  assert.ok(events.includes('draining') && events.at(-1) === 'stopped', events.join(', '))
  assert.equal(lines().find((line) => line.event === 'draining')!.signal, 'SIGTERM')
  for (const replica of replicas) assert.ok(isAlive(replica.masterPid), 'a replica of its engine is not the gateway\'s to stop')
})
