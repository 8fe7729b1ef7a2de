import {test} from 'node:test'
import assert from 'node:assert/strict'
import {AdmissionController} from '../../src/runtime/admission.js'

test('runs up to the slots at once, queues the rest FIFO, sheds past max_replica_concurrency', async () => {
  // Cortex's example: 2 processes × 2 threads, 5 requests: 4 run and 1 waits.
  const admission = new AdmissionController(4, 5)
  const tickets = Array.from({length: 5}, () => admission.admit())
  assert.ok(tickets.every((t) => t !== null))
  assert.equal(admission.runningCount, 4)
  assert.equal(admission.queuedCount, 1)
  assert.equal(tickets[4]!.state, 'waiting')
  assert.equal(admission.admit(), null, 'the sixth is shed')
  assert.equal(admission.shedTotal, 1)

  tickets[0]!.release()
  assert.equal(await tickets[4]!.granted, 'granted')
  assert.equal(admission.runningCount, 4)
  assert.equal(admission.queuedCount, 0)
})

test('the Ray Serve scenario: 2 running + 2 queued, then 5 more are all shed', () => {
  const admission = new AdmissionController(2, 4)
  const first = Array.from({length: 4}, () => admission.admit())
  const more = Array.from({length: 5}, () => admission.admit())
  assert.equal(first.filter((t) => t !== null).length, 4)
  assert.equal(more.filter((t) => t === null).length, 5)
  assert.equal(admission.shedTotal, 5)
})

test('queue order is first in, first out', async () => {
  const admission = new AdmissionController(1, 10)
  const running = admission.admit()!
  const queued = [admission.admit()!, admission.admit()!, admission.admit()!]
  const order: number[] = []
  queued.forEach((t, i) => void t.granted.then(() => order.push(i)))
  running.release()
  await new Promise((r) => setImmediate(r))
  queued[0].release()
  await new Promise((r) => setImmediate(r))
  queued[1].release()
  await new Promise((r) => setImmediate(r))
  assert.deepEqual(order, [0, 1, 2])
})

test('a waiting ticket that leaves (client gone, timeout) frees its place and is never granted', async () => {
  const admission = new AdmissionController(1, 3)
  const running = admission.admit()!
  const leaving = admission.admit()!
  const staying = admission.admit()!
  leaving.release()
  assert.equal(await leaving.granted, 'cancelled')
  assert.equal(admission.inFlight, 2)
  running.release()
  assert.equal(await staying.granted, 'granted')
  assert.equal(admission.runningCount, 1)
  assert.equal(admission.queuedCount, 0)
})

test('release is idempotent', () => {
  const admission = new AdmissionController(2, 2)
  const ticket = admission.admit()!
  ticket.release()
  ticket.release()
  assert.equal(admission.inFlight, 0)
  assert.equal(admission.runningCount, 0)
})

test('fewer slots while a worker restarts; waiting requests run when slots come back', async () => {
  const admission = new AdmissionController(2, 10)
  admission.setSlots(0)
  const ticket = admission.admit()!
  assert.equal(ticket.state, 'waiting')
  admission.setSlots(2)
  assert.equal(await ticket.granted, 'granted')
})

test('invalid sizes are rejected', () => {
  assert.throws(() => new AdmissionController(0, 1), /slots/)
  assert.throws(() => new AdmissionController(1, 0), /maxConcurrency/)
})

test('a long queue stays consistent across many grants (compaction)', async () => {
  const admission = new AdmissionController(1, 5000)
  const first = admission.admit()!
  const queued = Array.from({length: 3000}, () => admission.admit()!)
  first.release()
  for (const t of queued) {
    assert.equal(await t.granted, 'granted')
    t.release()
  }
  assert.equal(admission.inFlight, 0)
})

test('100,000 clients that queue behind one busy slot and one waiter, and leave, are unlinked at once: nothing of them stays reachable', async () => {
  const {setFlagsFromString} = await import('node:v8')
  const {runInNewContext} = await import('node:vm')
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const admission = new AdmissionController(1, 1_000_000)
  const busy = admission.admit()!
  const first = admission.admit()!
  const left: WeakRef<object>[] = []
  for (let i = 0; i < 100_000; i++) {
    const ticket = admission.admit()!
    ticket.release()
    if (i % 1000 === 0) left.push(new WeakRef(ticket))
  }
  assert.equal(admission.queuedCount, 1)
  assert.equal(admission.inFlight, 2)
  const staying = admission.admit()!
  assert.equal(staying.state, 'waiting')
  await new Promise((r) => setImmediate(r))
  gc()
  assert.equal(left.filter((ref) => ref.deref() !== undefined).length, 0, 'every ticket that left was collected')
  busy.release()
  assert.equal(await first.granted, 'granted')
  first.release()
  assert.equal(await staying.granted, 'granted')
})

test('evictWaiting empties the queue, telling each waiter, and keeps running tickets', () => {
  const admission = new AdmissionController(1, 10)
  const running = admission.admit()!
  const outcomes: string[] = []
  admission.admit({admissionOutcome: (o) => outcomes.push(o)})
  admission.admit({admissionOutcome: (o) => outcomes.push(o)})
  admission.evictWaiting()
  assert.deepEqual(outcomes, ['evicted', 'evicted'])
  assert.equal(admission.queuedCount, 0)
  assert.equal(admission.runningCount, 1)
  running.release()
  assert.equal(admission.inFlight, 0)
})
