// The gateway's internal call (callReplica) against a real Python replica
// behind a real runtime: it runs, queues and sheds through the API's
// admission like a client's request, and a call past its timeout keeps its
// slot until the replica answers.
import {describe, test, after, afterEach} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {request} from 'undici'
import {loadProject} from '../../src/config/index.js'
import {planRuntime} from '../../src/runtime/plan.js'
import {Runtime, runtimeDefaults} from '../../src/runtime/runtime.js'
import {callReplica, type InternalAnswer} from '../../src/runtime/gateway/dispatch.js'
import type {ApiRoute} from '../../src/runtime/gateway/api-route.js'
import {sleepProject, type TestProject} from '../helpers/projects.js'

const stateDir = mkdtempSync(join(tmpdir(), 'mlserve-dispatch-state-'))
process.env.MLSERVE_STATE_DIR = stateDir
after(() => rmSync(stateDir, {recursive: true, force: true}))
const projects: TestProject[] = []
after(() => projects.forEach((p) => p.cleanup()))
const runtimes: Runtime[] = []
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.stop({drain: false})))
})

async function start(maxReplicaConcurrency: number): Promise<{runtime: Runtime; api: ApiRoute}> {
  const project = sleepProject({threads: 1, maxReplicaConcurrency})
  projects.push(project)
  const plan = await planRuntime(await loadProject(project.dir), {...runtimeDefaults, port: 0, accessLog: false, announce: false})
  const runtime = await Runtime.start(plan, {log: () => undefined})
  runtimes.push(runtime)
  return {runtime, api: runtime.gateway.api('sleepy')!}
}

const call = (api: ApiRoute, payload: unknown, timeoutMs = 10_000): Promise<InternalAnswer> =>
  callReplica(api, {body: Buffer.from(JSON.stringify(payload)), timeoutMs, requestId: `t-${Math.random()}`})

function answered(answer: InternalAnswer): any {
  assert.equal(answer.kind, 'answered', JSON.stringify(answer))
  if (answer.kind !== 'answered') throw new Error('unreachable')
  assert.equal(answer.status, 200)
  assert.match(answer.contentType ?? '', /application\/json/)
  return JSON.parse(answer.body.toString())
}

describe('callReplica', () => {
  test('runs on a replica and answers with its status, body and replica', async () => {
    const {api} = await start(4)
    const answer = await call(api, {sleep: 0})
    const body = answered(answer)
    assert.equal(body.calls, 1)
    assert.equal(answer.kind === 'answered' && answer.replica, api.replicas[0].id)
    assert.equal(api.replicas[0].admission.inFlight, 0, 'the slot is released once answered')
  })

  test('queues behind a running request on a one-slot replica, then runs', async () => {
    const {api} = await start(4)
    const first = call(api, {sleep: 0.3})
    const second = call(api, {sleep: 0})
    assert.equal(api.replicas[0].admission.runningCount, 1)
    assert.equal(api.replicas[0].admission.queuedCount, 1, 'the second call waits for the slot')
    const [a, b] = [answered(await first), answered(await second)]
    assert.ok(b.start >= a.end, 'the queued call ran after the first ended')
  })

  test('is shed past max_replica_concurrency, as a client request would be', async () => {
    const {runtime, api} = await start(2)
    const running = call(api, {sleep: 0.3})
    const queued = call(api, {sleep: 0})
    const shed = await call(api, {sleep: 0})
    assert.equal(shed.kind, 'shed')
    assert.match(shed.kind === 'shed' ? shed.reason : '', /max_replica_concurrency \(2\)/)
    // A client's request is shed too while the two calls hold the replica.
    const client = await request(`${runtime.url}/sleepy`, {method: 'POST', body: '{}', headers: {'content-type': 'application/json'}})
    await client.body.dump()
    assert.equal(client.statusCode, 503)
    answered(await running)
    answered(await queued)
  })

  test('past its timeout: answered "timeout" while the slot stays held until the replica answers', async () => {
    const {runtime, api} = await start(4)
    const admission = api.replicas[0].admission
    const answer = await call(api, {sleep: 0.5}, 100)
    assert.equal(answer.kind, 'timeout')
    assert.equal(admission.runningCount, 1, 'the replica still works on it: its slot is held')
    // A client's request queues behind it rather than entering the busy thread.
    const client = request(`${runtime.url}/sleepy`, {method: 'POST', body: '{}', headers: {'content-type': 'application/json'}})
    const response = await client
    const body = (await response.body.json()) as {calls: number}
    assert.equal(response.statusCode, 200)
    assert.equal(body.calls, 2, 'the client ran after the abandoned call')
    assert.equal(admission.inFlight, 0)
  })

  test('a call that times out while queued leaves the queue at once', async () => {
    const {api} = await start(4)
    const admission = api.replicas[0].admission
    const running = call(api, {sleep: 0.4})
    const waiting = await call(api, {sleep: 0}, 50)
    assert.equal(waiting.kind, 'timeout')
    assert.equal(admission.queuedCount, 0, 'no queue place is held')
    const body = answered(await running)
    assert.equal(body.calls, 1)
    const next = answered(await call(api, {}))
    assert.equal(next.calls, 2, 'the timed-out call never ran')
  })
})
