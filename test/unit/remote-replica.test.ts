// A remote replica (a Swarm task, a pod's model container) as the gateway
// sees it: ready once its readiness route answers 200, out of routing after
// failed checks in a row and back once it answers, never failed by a check
// that is merely slow, and silent once stopped.
import {test, after} from 'node:test'
import assert from 'node:assert/strict'
import {once} from 'node:events'
import {createServer} from 'node:net'
import type {AddressInfo} from 'node:net'
import {isMlserveError} from '../../src/errors.js'
import {RemoteReplica} from '../../src/runtime/remote-replica.js'
import {hitsOf, startFakeTasks} from '../helpers/fake-tasks.js'
import {waitFor} from '../helpers/http.js'
import {replicaSpec} from '../helpers/replica-spec.js'

const tasks = await startFakeTasks()
after(() => tasks.close())
const logs: string[] = []
const replicas: RemoteReplica[] = []
after(() => Promise.all(replicas.map((replica) => replica.stop())))

function remote(address: string, readinessTimeoutMs = 5_000): RemoteReplica {
  const replica = new RemoteReplica(replicaSpec({api: 'iris', index: replicas.length, readinessTimeoutMs}), {
    origin: `http://${address}:${tasks.port}`,
    log: (line) => logs.push(line),
    startIntervalMs: 20,
    checkIntervalMs: 40,
    failuresToUnready: 2,
    probeTimeoutMs: 150,
  })
  replicas.push(replica)
  return replica
}

test('start() resolves once /healthz answers 200, and the replica reports its origin and slots (processes × threads)', async () => {
  tasks.health.set('127.0.0.2', 503)
  const replica = remote('127.0.0.2')
  const slots: number[] = []
  replica.on('slots', (n: number) => slots.push(n))
  const ready = once(replica, 'ready')
  const started = replica.start()
  await waitFor(() => hitsOf(tasks, '127.0.0.2', '/healthz') >= 3, 'a few polls answered 503')
  assert.equal(replica.ready, false)
  tasks.health.set('127.0.0.2', 200)
  await started
  assert.deepEqual(await ready, [`http://127.0.0.2:${tasks.port}`])
  assert.equal(replica.ready, true)
  assert.deepEqual(slots, [6])
  assert.deepEqual({origin: replica.status().origin, pid: replica.status().pid, ready: replica.status().ready}, {origin: `http://127.0.0.2:${tasks.port}`, pid: null, ready: true})
})

test('a ready replica leaves routing after 2 failed checks in a row, and comes back once it answers 200 again', async () => {
  const replica = remote('127.0.0.3')
  await replica.start()
  const unready = once(replica, 'unready')
  tasks.health.set('127.0.0.3', 500)
  assert.deepEqual(await unready, ['readiness checks failed'])
  assert.equal(replica.ready, false)
  const back = once(replica, 'ready')
  tasks.health.set('127.0.0.3', 200)
  await back
  assert.equal(replica.ready, true)
  assert.equal(replica.status().restarts, 1, 'one lapse out of routing')
  assert.ok(logs.some((line) => /127\.0\.0\.3.*failed 2 readiness checks/.test(line)), logs.join('\n'))
})

test('a check that gets no answer in time counts as busy (all threads taken), not as a failure', async () => {
  const replica = remote('127.0.0.4')
  await replica.start()
  let left = false
  replica.on('unready', () => (left = true))
  tasks.health.set('127.0.0.4', 'hang')
  const before = hitsOf(tasks, '127.0.0.4', '/healthz')
  await waitFor(() => hitsOf(tasks, '127.0.0.4', '/healthz') >= before + 4, 'four checks that timed out')
  assert.equal(left, false)
  assert.equal(replica.ready, true)
  tasks.health.set('127.0.0.4', 200)
})

test('a replica that refuses connections is not ready; past the readiness timeout start() rejects, and checks go on until it serves', async () => {
  // A port nothing listens on: taken, then freed.
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const port = (probe.address() as AddressInfo).port
  await new Promise((resolve) => probe.close(resolve))
  const refusing = new RemoteReplica(replicaSpec({readinessTimeoutMs: 200}), {origin: `http://127.0.0.1:${port}`, log: () => {}, startIntervalMs: 20})
  replicas.push(refusing)
  await assert.rejects(refusing.start(), (error) => isMlserveError(error) && error.code === 'MLS_READINESS_TIMEOUT')
  assert.equal(refusing.ready, false)

  tasks.health.set('127.0.0.5', 503)
  const late = remote('127.0.0.5', 200)
  await assert.rejects(late.start(), (error) => isMlserveError(error) && error.code === 'MLS_READINESS_TIMEOUT')
  const ready = once(late, 'ready')
  tasks.health.set('127.0.0.5', 200)
  await ready
  assert.equal(late.ready, true)
})

test('stop() ends the checks and takes the replica out of routing; a start still waiting rejects', async () => {
  const replica = remote('127.0.0.6')
  await replica.start()
  const unready = once(replica, 'unready')
  await replica.stop()
  assert.deepEqual(await unready, ['stopping'])
  const checks = hitsOf(tasks, '127.0.0.6', '/healthz')
  await new Promise((resolve) => setTimeout(resolve, 200))
  assert.equal(hitsOf(tasks, '127.0.0.6', '/healthz'), checks, 'no check after stop()')

  // Stopped between two polls (the next one 10 s away) and during one: either way the start rejects at once.
  tasks.health.set('127.0.0.7', 503)
  const between = new RemoteReplica(replicaSpec({index: 90}), {origin: `http://127.0.0.7:${tasks.port}`, log: () => {}, startIntervalMs: 10_000})
  replicas.push(between)
  const started = between.start()
  await waitFor(() => hitsOf(tasks, '127.0.0.7', '/healthz') >= 1, 'one poll')
  await new Promise((resolve) => setTimeout(resolve, 100))
  await between.stop()
  await assert.rejects(started, (error) => isMlserveError(error) && error.code === 'MLS_REPLICA_START_FAILED')
  tasks.health.set('127.0.0.8', 'hang')
  const during = remote('127.0.0.8')
  const polling = during.start()
  await waitFor(() => hitsOf(tasks, '127.0.0.8', '/healthz') >= 1, 'a poll waiting for its answer')
  await during.stop()
  await assert.rejects(polling, (error) => isMlserveError(error) && error.code === 'MLS_REPLICA_START_FAILED')
})
