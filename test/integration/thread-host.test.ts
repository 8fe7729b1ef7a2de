// A runtime on its own worker thread, as load tests and tuning start it.
import {test, after} from 'node:test'
import assert from 'node:assert/strict'
import {request} from 'undici'
import {Worker} from 'node:worker_threads'
import {reaperSlotsForThread} from '../../src/runtime/reaper.js'
import {hostRuntimeThread, startRuntimeThread} from '../../src/runtime/thread-host.js'
import {runtimeDefaults} from '../../src/runtime/runtime.js'
import {planRuntime} from '../../src/runtime/plan.js'
import {loadProject} from '../../src/config/index.js'
import {MlserveError} from '../../src/errors.js'
import {processesIn, processesLeftIn} from '../helpers/processes.js'
import {apiYaml, makeProject, sleepProject, type TestProject} from '../helpers/projects.js'

const projects: TestProject[] = []
after(() => projects.forEach((p) => p.cleanup()))
const options = {...runtimeDefaults, port: 0, accessLog: false, announce: false, replicas: 1}

test('serves through a gateway on another thread, and stops every replica', async () => {
  const project = sleepProject({processes: 1, threads: 2})
  projects.push(project)
  const lines: string[] = []
  const runtime = await startRuntimeThread(await planRuntime(await loadProject(project.dir), options), (line) => lines.push(line))
  const answer = await request(runtime.endpoints.sleepy, {method: 'POST', body: '{}', headers: {'content-type': 'application/json'}})
  assert.equal(answer.statusCode, 200)
  await answer.body.dump()
  const status = await runtime.status()
  const pid = status.apis[0].replicas[0].pid!
  assert.equal(status.apis[0].replicas[0].threads, 2)
  await runtime.stop()
  assert.throws(() => process.kill(-pid, 0), /ESRCH/, 'the replica process group is gone')
})

test('start failures come back as the same MlserveError', async () => {
  const project = makeProject({'mlserve.yaml': apiYaml(), 'predictor.py': 'raise RuntimeError("model file missing")\n'})
  projects.push(project)
  await assert.rejects(startRuntimeThread(await planRuntime(await loadProject(project.dir), options), () => undefined), (error: MlserveError) => {
    assert.ok(error instanceof MlserveError)
    assert.equal(error.code, 'MLS_REPLICA_START_FAILED')
    assert.match(error.message + error.details.join('\n'), /model file missing/)
    return true
  })
})

test('replica memory is read per process from /proc', async () => {
  const {replicaMemory} = await import('../../src/runtime/memory.js')
  const project = sleepProject({processes: 2, threads: 1})
  projects.push(project)
  const runtime = await startRuntimeThread(await planRuntime(await loadProject(project.dir), options), () => undefined)
  try {
    const pid = (await runtime.status()).apis[0].replicas[0].pid!
    const memory = replicaMemory(pid)!
    assert.equal(memory.processes.length, 3, 'the harness master and 2 workers')
    assert.ok(memory.perProcessBytes > 1024 * 1024, 'a Python worker uses more than 1 MiB')
    assert.ok(memory.totalBytes >= memory.perProcessBytes * 2)
  } finally {
    await runtime.stop()
  }
})

test('a runtime thread that crashes after ready fails status, and stop resolves with no harness process of the project left', {timeout: 120_000}, async () => {
  const project = sleepProject({processes: 2, threads: 1})
  projects.push(project)
  const plan = await planRuntime(await loadProject(project.dir), options)
  // The real runtime thread, which throws when told to (as a bug in it would).
  // Only the main thread may stop the harness: its parent-death signal and
  // its watch on standard input are off, as on a machine that has neither.
  const entry = new URL('../../src/runtime/runtime-thread.ts', import.meta.url).href
  const reaperSlots = reaperSlotsForThread()
  const saved = {pdeathsig: process.env.MLSERVE_PDEATHSIG, watchStdin: process.env.MLSERVE_WATCH_STDIN}
  process.env.MLSERVE_PDEATHSIG = '0'
  process.env.MLSERVE_WATCH_STDIN = '0'
  const worker = new Worker(
    `
    require('node:worker_threads').parentPort.on('message', (message) => {
      if (message.type === 'crash') throw new Error('the runtime thread broke')
    })
    import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}) })
    `,
    {eval: true, workerData: {plan, reaperSlots}},
  )
  process.env.MLSERVE_PDEATHSIG = saved.pdeathsig
  process.env.MLSERVE_WATCH_STDIN = saved.watchStdin
  if (saved.pdeathsig === undefined) delete process.env.MLSERVE_PDEATHSIG
  if (saved.watchStdin === undefined) delete process.env.MLSERVE_WATCH_STDIN
  const lines: string[] = []
  const runtime = await hostRuntimeThread(worker, reaperSlots, (line) => lines.push(line))
  const pgid = (await runtime.status()).apis[0].replicas[0].pid!
  try {
    assert.ok(processesIn(project.dir).length >= 3, 'the harness master and its 2 workers run in the project')
    worker.postMessage({type: 'crash'})
    await assert.rejects(runtime.status(), /the runtime thread crashed: the runtime thread broke/)
    assert.ok(lines.some((line) => /the runtime thread crashed: the runtime thread broke/.test(line)), 'the crash is logged')
    await runtime.stop()
    assert.deepEqual(await processesLeftIn(project.dir), [], 'no harness process of the project is left')
  } finally {
    await worker.terminate()
    try {
      process.kill(-pgid, 'SIGKILL')
    } catch {
      // reaped, as it should be
    }
  }
})
