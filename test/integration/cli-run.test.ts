// `mlserve run`'s promises at its edges: under --json it says where it listens
// as soon as it is ready (one JSON line on stdout, the human lines staying on
// stderr), and a second Ctrl-C stops it at once, without draining.
import {test, after, afterEach} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa, type ResultPromise} from 'execa'
import {request} from 'undici'
import {cliPath, startRunCli} from '../helpers/cli.js'
import {projectsRemovedAfterFile, sleepPredictor, apiYaml} from '../helpers/projects.js'

const stateDir = mkdtempSync(join(tmpdir(), 'mlserve-state-'))
const env = {NO_COLOR: '1', MLSERVE_STATE_DIR: stateDir}
const project = projectsRemovedAfterFile()
const children: ResultPromise[] = []
after(() => rmSync(stateDir, {recursive: true, force: true}))
afterEach(async () => {
  for (const child of children.splice(0)) {
    child.kill('SIGKILL')
    await child.catch(() => undefined)
  }
})

const sleepy = () => project({'mlserve.yaml': apiYaml({processes: 1, threads: 1}), 'predictor.py': sleepPredictor})

test('run --json prints one ready line on stdout as soon as it serves, and one result line when it stops', async () => {
  const p = sleepy()
  const child = execa(process.execPath, [cliPath, 'run', p.dir, '--port', '0', '--json'], {env, reject: false})
  children.push(child)
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const until = Date.now() + 60_000
  while (!stdout.includes('\n') && child.exitCode === null && Date.now() < until) await new Promise((r) => setTimeout(r, 50))
  const [line] = stdout.split('\n')
  const ready = JSON.parse(line)
  assert.equal(ready.event, 'ready', stderr)
  assert.match(ready.url, /^http:\/\/127\.0\.0\.1:\d+$/)
  assert.deepEqual(ready.apis.map((a: {name: string}) => a.name), ['sleepy'])
  // The URL it gives serves.
  const answer = await request(ready.apis[0].url, {method: 'POST', body: '{"sleep": 0}', headers: {'content-type': 'application/json'}})
  assert.equal(answer.statusCode, 200)
  await answer.body.dump()
  // The human lines are still there, on stderr.
  assert.match(stderr, /^Ready: http:\/\/127\.0\.0\.1:\d+$/m)

  child.kill('SIGTERM')
  const result = await child
  assert.equal(result.exitCode, 0, stderr)
  const lines = stdout.trim().split('\n')
  assert.equal(lines.length, 2, `stdout holds JSON lines only:\n${stdout}`)
  const stopped = JSON.parse(lines[1])
  assert.equal(stopped.event, 'stopped')
  assert.equal(stopped.stoppedBy, 'SIGTERM')
  assert.equal(stopped.url, ready.url)
})

test('a second SIGINT during a 30 s request stops run at once, without waiting for the request', async () => {
  const p = sleepy()
  const run = await startRunCli([p.dir, '--port', '0'], env, (child) => children.push(child))
  const inFlight = request(`${run.url}/sleepy`, {method: 'POST', body: '{"sleep": 30}', headers: {'content-type': 'application/json'}}).then(
    async (r) => {
      await r.body.dump()
      return r.statusCode
    },
    () => 'connection closed',
  )
  await new Promise((r) => setTimeout(r, 500))
  const status = (await (await request(`${run.url}/status`)).body.json()) as {apis: Array<{replicas: Array<{running: number; pid: number}>}>}
  assert.equal(status.apis[0].replicas[0].running, 1, 'the 30 s request is running')
  const replicaPid = status.apis[0].replicas[0].pid

  run.child.kill('SIGINT')
  await waitForText(run.stderr, /draining \d+ request/)
  const second = Date.now()
  run.child.kill('SIGINT')
  const result = await run.child
  const exitedAfterS = (Date.now() - second) / 1000
  process.stderr.write(`# mlserve run exited ${exitedAfterS.toFixed(2)} s after the second SIGINT\n`)
  assert.match(run.stderr(), /Stopping now, without draining/)
  // The replica was stopped, not asked to drain: a draining harness would hold the 30 s request (up to its 15 s grace).
  assert.doesNotMatch(run.stderr(), /draining requests in flight/, 'the replica is not asked to drain')
  // It did not wait for the request: the request was cut, not answered.
  assert.notEqual(await inFlight, 200, 'the 30 s request was not waited for')
  assert.notEqual(result.exitCode, null, run.stderr())
  assert.deepEqual(runningInGroup(replicaPid), [], 'no process of the replica is left running')
})

/** Pids of the processes of a process group that still run (zombies, already dead and waiting for PID 1 to reap them, are not). */
function runningInGroup(pgid: number): number[] {
  const running: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      // /proc/PID/stat: "pid (comm) state ppid pgrp …"; comm may hold spaces, so read after the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (Number(pgrp) === pgid && state !== 'Z') running.push(Number(entry))
    } catch {
      // gone while we looked
    }
  }
  return running
}

async function waitForText(text: () => string, pattern: RegExp): Promise<void> {
  const until = Date.now() + 30_000
  while (!pattern.test(text()) && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
  assert.match(text(), pattern)
}
