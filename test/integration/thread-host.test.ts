// A runtime on its own worker thread, as load tests and tuning start it.
import {test, after} from 'node:test'
import assert from 'node:assert/strict'
import {request} from 'undici'
import {startRuntimeThread} from '../../src/runtime/thread-host.js'
import {runtimeDefaults} from '../../src/runtime/runtime.js'
import {planRuntime} from '../../src/runtime/plan.js'
import {loadProject} from '../../src/config/index.js'
import {MlserveError} from '../../src/errors.js'
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

test('no replica outlives a main thread that exits while the runtime thread runs', async () => {
  const project = sleepProject({processes: 2, threads: 1})
  projects.push(project)
  // A separate process whose main thread starts a runtime thread, prints the
  // replica's process group, then exits in a hurry (process.exit), as an
  // uncaught error would: the worker thread gets no chance to stop anything.
  const script = `
    import {loadProject} from ${JSON.stringify(new URL('../../src/config/index.ts', import.meta.url).href)}
    import {planRuntime} from ${JSON.stringify(new URL('../../src/runtime/plan.ts', import.meta.url).href)}
    import {startRuntimeThread} from ${JSON.stringify(new URL('../../src/runtime/thread-host.ts', import.meta.url).href)}
    import {runtimeDefaults} from ${JSON.stringify(new URL('../../src/runtime/runtime.ts', import.meta.url).href)}
    const plan = await planRuntime(await loadProject(${JSON.stringify(project.dir)}), {...runtimeDefaults, port: 0, accessLog: false, announce: false, replicas: 1})
    const runtime = await startRuntimeThread(plan, () => undefined)
    const status = await runtime.status()
    process.stdout.write(String(status.apis[0].replicas[0].pid) + '\\n')
    process.exit(0)
  `
  const {execa} = await import('execa')
  const child = await execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {reject: false})
  const pgid = Number(child.stdout.trim())
  assert.ok(pgid > 0, `the child printed its replica's process group: ${child.stdout} ${child.stderr}`)
  const gone = (): boolean => {
    try {
      process.kill(-pgid, 0)
      return false
    } catch {
      return true
    }
  }
  // The reaper kills synchronously in the exit handler; allow the kernel a moment to reap.
  for (let i = 0; i < 100 && !gone(); i++) await new Promise((r) => setTimeout(r, 50))
  assert.ok(gone(), `process group ${pgid} is gone after the main thread exited`)
})
