// The remote driver's gateway with dns discovery, through a resolver the test
// controls: tasks that appear are routed once ready, tasks that vanish are
// drained (the request they hold finishes), a service with no task (NXDOMAIN)
// is zero replicas and a 503, a DNS timeout leaves routing alone, and a task
// that comes back is routed again. Also: the control routes answer a peer off
// loopback only with the token, while probes and metrics stay open, and
// mlserve_api_in_flight counts an API's requests in this gateway.
import {test, after, before} from 'node:test'
import assert from 'node:assert/strict'
import {networkInterfaces} from 'node:os'
import {request} from 'undici'
import {loadProject} from '../../src/config/index.js'
import {planRuntime, runtimeDefaults} from '../../src/runtime/plan.js'
import {Runtime} from '../../src/runtime/runtime.js'
import {hitsOf, startFakeTasks, type FakeTasks} from '../helpers/fake-tasks.js'
import {post, waitFor} from '../helpers/http.js'
import {makeProject} from '../helpers/projects.js'
import {splitYaml} from '../helpers/traffic.js'

const project = makeProject({'mlserve.yaml': splitYaml({apis: [{name: 'a', weight: 50, threads: 2, maxReplicaConcurrency: 4}, {name: 'b', weight: 50}]})})
after(() => project.cleanup())

let tasks: FakeTasks
let runtime: Runtime
const logs: string[] = []
/** What tasks.<service> resolves to now, per name: addresses, or an error code to fail with. */
const answers = new Map<string, string[] | string>()
const asked: string[] = []
const TOKEN = 'test-token-0123456789'

before(async () => {
  tasks = await startFakeTasks()
  const plan = await planRuntime(await loadProject(project.dir), {
    ...runtimeDefaults,
    host: '0.0.0.0',
    port: 0,
    accessLog: false,
    announce: false,
    timeoutMs: 5_000,
    driver: 'remote',
    remote: {discovery: {kind: 'dns', services: {a: 'svc-a', b: 'svc-b'}, port: tasks.port, intervalMs: 40}, control: 'token'},
  })
  answers.set('tasks.svc-a', ['127.0.0.2'])
  answers.set('tasks.svc-b', 'ENOTFOUND')
  runtime = await Runtime.start(plan, {
    log: (line) => logs.push(line),
    token: TOKEN,
    remoteReplica: {startIntervalMs: 20, checkIntervalMs: 40},
    resolve: async (name) => {
      asked.push(name)
      const answer = answers.get(name) ?? 'ENOTFOUND'
      if (typeof answer === 'string') throw Object.assign(new Error(`getaddrinfo ${answer} ${name}`), {code: answer})
      return answer
    },
  })
})
after(async () => {
  await runtime?.stop({drain: false})
  await tasks?.close()
})

const local = (path: string): string => `http://127.0.0.1:${runtime.gateway.port}${path}`
const replicasOf = (api: string) => runtime.gateway.status().find((entry) => entry.name === api)!.replicas
const readyOrigins = (api: string): string[] => replicasOf(api).filter((replica) => replica.ready).map((replica) => replica.origin!).sort()
const origin = (address: string): string => `http://${address}:${tasks.port}`

test('the first round routes the tasks found, asking tasks.<service>; a service with no task (NXDOMAIN) has no replica and answers 503 with Retry-After', async () => {
  assert.ok(asked.includes('tasks.svc-a') && asked.includes('tasks.svc-b'), asked.join(', '))
  await waitFor(() => readyOrigins('a').length === 1, 'a task of a ready')
  assert.deepEqual(readyOrigins('a'), [origin('127.0.0.2')])
  const answer = await post(local('/a'), {})
  assert.equal(answer.status, 200)
  assert.equal(answer.headers['x-mlserve-api'], 'a')
  assert.deepEqual(answer.body, {task: '127.0.0.2'})
  assert.deepEqual(replicasOf('b'), [])
  const none = await post(local('/b'), {})
  assert.equal(none.status, 503)
  assert.equal(none.body.code, 'MLS_GATEWAY_NO_REPLICA')
  assert.equal(none.headers['retry-after'], '1')
  assert.ok(logs.some((line) => line.includes('tasks.svc-b has no tasks (ENOTFOUND)')), logs.join('\n'))
  // The engine scales: the gateway shows no autoscaler of its own.
  assert.deepEqual(runtime.gateway.status().map((api) => api.autoscaler), [null, null])
})

test('a new task takes traffic once ready; a vanished one is retired while the request it holds finishes', async () => {
  // One slow request in flight on 127.0.0.2, then the service's tasks become .3 and .4 (a rolling update).
  const slow = post(local('/a'), {sleepMs: 600})
  await waitFor(() => runtime.gateway.api('a')!.inFlight === 1, 'the slow request running')
  answers.set('tasks.svc-a', ['127.0.0.4', '127.0.0.3'])
  await waitFor(() => readyOrigins('a').join() === [origin('127.0.0.3'), origin('127.0.0.4')].join(), 'the new tasks routed and the old one retired')
  const answers2 = await Promise.all(Array.from({length: 8}, () => post(local('/a'), {})))
  assert.deepEqual([...new Set(answers2.map((answer) => answer.body.task))].sort(), ['127.0.0.3', '127.0.0.4'])
  const finished = await slow
  assert.equal(finished.status, 200)
  assert.deepEqual(finished.body, {task: '127.0.0.2'})
  await waitFor(() => !runtime.replicas.some((replica) => replica.origin === origin('127.0.0.2')), 'the retired replica forgotten once drained')
  assert.ok(logs.some((line) => /discovery: a: added a-\d+ .*127\.0\.0\.4.*retired a-0 .*127\.0\.0\.2/.test(line)), logs.join('\n'))
})

test('a DNS failure other than NXDOMAIN leaves routing as it is; a service whose tasks all went, then came back, is routed again', async () => {
  answers.set('tasks.svc-a', 'EAI_AGAIN')
  const rounds = asked.length
  await waitFor(() => asked.length >= rounds + 6, 'a few rounds failing')
  assert.deepEqual(readyOrigins('a'), [origin('127.0.0.3'), origin('127.0.0.4')])
  assert.equal((await post(local('/a'), {})).status, 200)

  answers.set('tasks.svc-a', 'ENOTFOUND')
  await waitFor(() => replicasOf('a').length === 0, 'every task of a retired')
  assert.equal((await post(local('/a'), {})).body.code, 'MLS_GATEWAY_NO_REPLICA')

  answers.set('tasks.svc-a', ['127.0.0.3'])
  answers.set('tasks.svc-b', ['127.0.0.6'])
  await waitFor(() => readyOrigins('a').length === 1 && readyOrigins('b').length === 1, 'a and b routed again')
  const back = await post(local('/a'), {})
  assert.deepEqual([back.status, back.body.task], [200, '127.0.0.3'])
  const ids = replicasOf('a').map((replica) => replica.id)
  assert.ok(!ids.includes('a-1') && !ids.includes('a-2'), `a task back is a new replica, with an id never used: ${ids.join()}`)
})

test('a task that turns unhealthy leaves routing, and is routed again once it answers', async () => {
  tasks.health.set('127.0.0.3', 503)
  await waitFor(() => readyOrigins('a').length === 0, 'the unhealthy task out of routing')
  assert.equal(replicasOf('a').length, 1, 'still a replica of a: its address is still listed')
  tasks.health.set('127.0.0.3', 200)
  await waitFor(() => readyOrigins('a').length === 1, 'the task back in routing')
})

test('mlserve_api_in_flight counts the requests an API holds in this gateway, raw', async () => {
  const metric = async (): Promise<string> => (await (await request(local('/metrics'))).body.text()).split('\n').filter((line) => line.startsWith('mlserve_api_in_flight')).join('\n')
  const slow = [post(local('/a'), {sleepMs: 500}), post(local('/a'), {sleepMs: 500}), post(local('/a'), {sleepMs: 500})]
  await waitFor(() => runtime.gateway.api('a')!.inFlight === 3, 'three requests in flight (2 running, 1 queued)')
  const during = await metric()
  assert.match(during, /^mlserve_api_in_flight\{api="a"\} 3$/m)
  assert.match(during, /^mlserve_api_in_flight\{api="b"\} 0$/m)
  await Promise.all(slow)
  assert.match(await metric(), /^mlserve_api_in_flight\{api="a"\} 0$/m)
})

test("control 'token': a peer off loopback reads and changes the routes only with the token; /healthz, /readyz and /metrics stay open; apply is refused", async () => {
  const address = Object.values(networkInterfaces()).flat().find((entry) => entry && entry.family === 'IPv4' && !entry.internal)?.address
  assert.ok(address, 'this machine has a non-loopback IPv4 address to reach the gateway through')
  const remote = (path: string): string => `http://${address}:${runtime.gateway.port}${path}`
  const bearer = {authorization: `Bearer ${TOKEN}`}
  const call = async (path: string, options: {method?: 'GET' | 'PUT' | 'POST'; headers?: Record<string, string>; body?: unknown} = {}) => {
    const response = await request(remote(path), {method: options.method ?? 'GET', headers: {'content-type': 'application/json', ...options.headers}, body: options.body === undefined ? undefined : JSON.stringify(options.body)})
    const text = await response.body.text()
    return {status: response.statusCode, body: text.startsWith('{') ? JSON.parse(text) : text}
  }
  for (const path of ['/traffic', '/traffic/model', '/status']) {
    const anonymous = await call(path)
    assert.deepEqual([anonymous.status, anonymous.body.code], [401, 'MLS_GATEWAY_CONTROL_UNAUTHORIZED'], path)
    assert.equal((await call(path, {headers: {authorization: 'Bearer wrong'}})).status, 401, path)
    assert.equal((await call(path, {headers: bearer})).status, 200, path)
  }
  assert.equal((await call('/traffic/model', {method: 'PUT', body: {weights: {a: 100, b: 0}}})).status, 401)
  const set = await call('/traffic/model', {method: 'PUT', headers: bearer, body: {weights: {a: 100, b: 0}}})
  assert.equal(set.status, 200)
  assert.deepEqual(set.body.weights, {a: 100, b: 0})
  assert.deepEqual((await call('/healthz')).status, 200)
  assert.ok([200, 503].includes((await call('/readyz')).status))
  const metrics = await call('/metrics')
  assert.equal(metrics.status, 200)
  assert.match(String(metrics.body), /mlserve_api_in_flight/)
  // Loopback reads as before, with no token.
  assert.equal((await request(local('/traffic'))).statusCode, 200)
  // The engine runs the replicas: a new plan comes through a deploy, not /apply.
  const applied = await call('/apply', {method: 'POST', headers: bearer, body: {plan: runtime.plan}})
  assert.equal(applied.body.code, 'MLS_GATEWAY_APPLY_FAILED')
  assert.match(applied.body.error, /mlserve deploy/)
  assert.ok(hitsOf(tasks, '127.0.0.3', '/predict') > 0)
})

test("the system resolver gives every address of a name, and an unknown name rejects with the code read as 'no tasks'", async () => {
  const {systemResolve} = await import('../../src/runtime/task-discovery.js')
  assert.ok((await systemResolve('localhost')).includes('127.0.0.1'))
  // .invalid never resolves (RFC 2606); without a DNS server the resolver may say EAI_AGAIN instead, which keeps routing as it is.
  await assert.rejects(systemResolve('tasks.mlserve-no-such-service.invalid'), (error: NodeJS.ErrnoException) => ['ENOTFOUND', 'ENODATA', 'EAI_AGAIN'].includes(error.code ?? ''))
})
