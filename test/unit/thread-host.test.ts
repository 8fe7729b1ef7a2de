// The main thread's side of a runtime thread (hostRuntimeThread), driven by a
// stand-in entry that speaks the runtime thread's messages: it says it is
// ready, holds one process group in its reaper slots as a replica would (a
// plain `sleep` in a group of its own, which nothing but a kill stops), then misbehaves as each test
// asks. Whatever the thread does after `ready`, status() settles and stop()
// resolves, and the group it held does not outlive it.
import {after, test} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {Worker} from 'node:worker_threads'
import {reaperSlotsForThread} from '../../src/runtime/reaper.js'
import {hostRuntimeThread, type ThreadRuntime} from '../../src/runtime/thread-host.js'

// A thread the host fails to end must not keep this file's process alive.
const workers: Worker[] = []
after(() => Promise.all(workers.map((worker) => worker.terminate())))

interface Hosted {
  runtime: ThreadRuntime
  /** The process the stand-in holds in its reaper slots. */
  pid: number
  lines: string[]
}

/** Starts a stand-in runtime thread; `onMessage` is the body of its handler for the host's messages (`message`, `send`). */
async function host(onMessage: string): Promise<Hosted> {
  const reaperSlots = reaperSlotsForThread()
  const worker = new Worker(
    `
    const {parentPort, workerData} = require('node:worker_threads')
    const {spawn} = require('node:child_process')
    const send = (message) => parentPort.postMessage(message)
    // Ready once the child has its own group (it writes after setsid, before exec).
    const child = spawn('/bin/sh', ['-c', 'echo started; exec sleep 600'], {detached: true, stdio: ['ignore', 'pipe', 'ignore']})
    Atomics.store(workerData.reaperSlots, 0, child.pid)
    parentPort.on('message', (message) => { ${onMessage} })
    child.stdout.once('data', () => send({type: 'ready', url: 'http://127.0.0.1:9', endpoints: {}, status: {pid: child.pid}}))
    `,
    {eval: true, workerData: {reaperSlots}},
  )
  workers.push(worker)
  const lines: string[] = []
  const runtime = await hostRuntimeThread(worker, reaperSlots, (line) => lines.push(line))
  return {runtime, pid: (runtime.initialStatus as unknown as {pid: number}).pid, lines}
}

/** Whether a process runs (a zombie, killed and not yet waited for, does not). */
function running(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '')[0] !== 'Z'
  } catch {
    return false
  }
}

async function assertReaped(pid: number): Promise<void> {
  // The host kills on the thread's exit event, and stop() resolves after it;
  // a SIGKILLed process may take the kernel a moment to end.
  for (let i = 0; i < 100 && running(pid); i++) await new Promise((resolve) => setTimeout(resolve, 50))
  const alive = running(pid)
  if (alive) process.kill(-pid, 'SIGKILL')
  assert.equal(alive, false, `the process group ${pid} the thread held was killed when the thread ended`)
}

test('a runtime thread that crashes after ready: status calls, pending and later, reject with its error; it is logged; stop resolves; its group is reaped', {timeout: 30_000}, async () => {
  const {runtime, pid, lines} = await host(`if (message.type === 'status') throw new Error('the gateway broke')`)
  await assert.rejects(runtime.status(), /the runtime thread crashed: the gateway broke/)
  await assert.rejects(runtime.status(), /the runtime thread crashed: the gateway broke/)
  assert.ok(lines.some((line) => /runtime thread crashed: the gateway broke/.test(line)), lines.join('\n'))
  await runtime.stop()
  await runtime.stop({drain: false})
  await assertReaped(pid)
})

test('a runtime thread that exits after ready: status rejects with its exit code; stop resolves; its group is reaped', {timeout: 30_000}, async () => {
  const {runtime, pid, lines} = await host(`if (message.type === 'status') process.exit(3)`)
  await assert.rejects(runtime.status(), /the runtime thread exited \(code 3\)/)
  await assert.rejects(runtime.status(), /the runtime thread exited \(code 3\)/)
  assert.ok(lines.some((line) => /runtime thread exited \(code 3\)/.test(line)), lines.join('\n'))
  await runtime.stop()
  await assertReaped(pid)
})

test('an error the runtime thread reports after ready (a failed stop) is logged, fails status, and stop still resolves', {timeout: 30_000}, async () => {
  // The stand-in never answers status, and answers stop with an error, staying alive.
  const {runtime, pid, lines} = await host(`
    if (message.type === 'stop') send({type: 'error', error: {code: null, message: 'a replica would not stop', suggestion: '', details: [], exitCode: 1}})
    setInterval(() => undefined, 1000)
  `)
  const pending = assert.rejects(runtime.status(), /the runtime thread failed: a replica would not stop/)
  await runtime.stop()
  await pending
  await assert.rejects(runtime.status(), /the runtime thread failed: a replica would not stop/)
  assert.ok(lines.some((line) => /a replica would not stop/.test(line)), lines.join('\n'))
  await assertReaped(pid)
})

test('after a stop, status rejects: the thread has stopped', {timeout: 30_000}, async () => {
  const {runtime, pid, lines} = await host(`
    if (message.type === 'status') send({type: 'status', id: message.id, status: {answered: true}})
    if (message.type === 'stop') { process.kill(-Atomics.exchange(workerData.reaperSlots, 0, 0), 'SIGKILL'); send({type: 'stopped'}) }
  `)
  assert.deepEqual(await runtime.status(), {answered: true})
  await runtime.stop()
  await assert.rejects(runtime.status(), /the runtime thread has stopped/)
  assert.deepEqual(lines, [], 'a thread that stopped when asked logs nothing')
  await assertReaped(pid)
})
