// The reaper lives on the main thread: a process group that a worker thread
// started and tracked is killed when the main thread exits in a hurry, even
// though the worker thread's own exit handlers never run. The group here is a
// plain `sleep` with no parent-death signal and no stdin pipe, so nothing but
// the reaper can stop it.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {execa} from 'execa'

const reaper = new URL('../../src/runtime/reaper.ts', import.meta.url).href

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
