// The reaper lives on the main thread: a process group that a worker thread
// started and tracked is killed when the main thread exits in a hurry, even
// though the worker thread's own exit handlers never run. The group here is a
// plain `sleep` with no parent-death signal and no stdin pipe, so nothing but
// the reaper can stop it.
import {after, test} from 'node:test'
import assert from 'node:assert/strict'
import {once} from 'node:events'
import {createInterface} from 'node:readline'
import {execa} from 'execa'
import {processesIn, processesLeftIn} from '../helpers/processes.js'
import {apiYaml, makeProject} from '../helpers/projects.js'

const src = (path: string): string => new URL(`../../src/${path}`, import.meta.url).href
const reaper = src('runtime/reaper.ts')

test('a process group tracked on a worker thread dies when the main thread calls process.exit', async () => {
  const script = `
    import {Worker} from 'node:worker_threads'
    import {reaperSlotsForThread} from ${JSON.stringify(reaper)}
    const slots = reaperSlotsForThread()
    const worker = new Worker(\`
      import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(reaper)}) }).then(async (reaper) => {
        const {workerData, parentPort} = await import('node:worker_threads')
        const {spawn} = await import('node:child_process')
        reaper.adoptReaperSlots(workerData.slots)
        const child = spawn('sleep', ['60'], {detached: true, stdio: 'ignore'})
        reaper.trackProcessGroup(child.pid)
        parentPort.postMessage(child.pid)
      })\`, {eval: true, workerData: {slots}})
    worker.once('message', (pgid) => {
      process.stdout.write(pgid + '\\n')
      process.exit(0)
    })
  `
  const child = await execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {reject: false})
  const pgid = Number(child.stdout.trim())
  assert.ok(pgid > 0, `the child printed the group it started: ${child.stdout} ${child.stderr}`)
  let alive = true
  for (let i = 0; i < 40 && alive; i++) {
    try {
      process.kill(-pgid, 0)
      await new Promise((r) => setTimeout(r, 50))
    } catch {
      alive = false
    }
  }
  if (alive) process.kill(-pgid, 'SIGKILL')
  assert.equal(alive, false, `process group ${pgid} was reaped by the main thread's exit handler`)
})

test("tune's second Ctrl-C (process.exit(130) on the main thread) leaves no harness process of the project", async () => {
  // A project whose predictor holds every request for an hour, and a request
  // in flight: a harness that drains never ends by itself.
  const project = makeProject({
    'mlserve.yaml': apiYaml({processes: 2, threads: 1}),
    'predictor.py': 'import time\n\nclass PythonPredictor:\n    def __init__(self, config):\n        pass\n\n    def predict(self, payload):\n        time.sleep(3600)\n        return {}\n',
  })
  after(() => project.cleanup())
  // The process that tune is, cut down: the same two-stage Ctrl-C with the
  // same immediate stage, and the replica under test on its runtime thread.
  const script = `
    import {request} from 'undici'
    import {onInterrupt} from ${JSON.stringify(src('cli/interrupt.ts'))}
    import {loadProject} from ${JSON.stringify(src('config/index.ts'))}
    import {startReplicaUnderTest} from ${JSON.stringify(src('runtime/replica-under-test.ts'))}
    onInterrupt({graceful: () => process.stderr.write('graceful\\n'), immediate: () => process.exit(130), say: () => undefined})
    const replica = await startReplicaUnderTest(await loadProject(${JSON.stringify(project.dir)}), {api: 'sleepy', log: () => undefined})
    void request(replica.url, {method: 'POST', body: '{}', headers: {'content-type': 'application/json'}}).catch(() => undefined)
    while ((await replica.status()).apis[0].replicas[0].running === 0) await new Promise((r) => setTimeout(r, 20))
    process.stdout.write((await replica.status()).apis[0].replicas[0].pid + '\\n')
    setInterval(() => undefined, 1000)
  `
  // Only the reaper may stop the harness: its parent-death signal and its
  // watch on standard input are off, as on a machine that has neither.
  const child = execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    reject: false,
    env: {MLSERVE_PDEATHSIG: '0', MLSERVE_WATCH_STDIN: '0'},
  })
  const lines = createInterface({input: child.stdout!})
  const [line] = (await once(lines, 'line')) as [string]
  const pgid = Number(line)
  assert.ok(pgid > 0, `the child printed its replica's process group: ${line}`)
  assert.ok(processesIn(project.dir).length >= 3, 'the harness master and its 2 workers run in the project')
  child.kill('SIGINT')
  await once(createInterface({input: child.stderr!}), 'line')
  child.kill('SIGINT')
  const result = await child
  assert.equal(result.exitCode, 130, String(result.stderr))
  const left = await processesLeftIn(project.dir)
  for (const pid of left) process.kill(pid, 'SIGKILL')
  assert.deepEqual(left, [], 'no harness process of the project is left')
})
