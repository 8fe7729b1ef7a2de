// The process driver's replica on its own: real harness and command servers,
// real processes, HTTP on loopback. What the runtime tests do not reach: worker
// restarts in the replica's status, and servers that die with mlserve.
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {createInterface} from 'node:readline'
import {after, afterEach, describe, it} from 'node:test'
import {join} from 'node:path'
import {ProcessReplica} from '../../src/runtime/process-replica.js'
import type {ReplicaSpec} from '../../src/runtime/replica.js'
import {fixturesDir, isAlive, postJson, python, repoRoot, waitUntil} from '../helpers/harness.js'

const replicas: ProcessReplica[] = []
const pids: number[] = []
afterEach(async () => {
  await Promise.all(replicas.splice(0).map((r) => r.stop()))
})
after(() => {
  for (const pid of pids) {
    try {
      process.kill(-pid, 'SIGKILL')
    } catch {
      // gone, as it should be
    }
  }
})

function spec(overrides: Partial<ReplicaSpec>): ReplicaSpec {
  return {
    api: 'api',
    index: 0,
    kind: 'python',
    projectDir: join(fixturesDir, 'crash'),
    interpreter: python,
    predictorPath: join(fixturesDir, 'crash', 'predictor.py'),
    predictorConfig: {},
    env: {},
    processes: 1,
    threads: 1,
    readinessPath: '/',
    predictPath: '/predict',
    gpus: [],
    cpus: null,
    readinessTimeoutMs: 20_000,
    maxBodyBytes: 1 << 20,
    ...overrides,
  }
}

describe('process replica: worker restarts', () => {
  it('counts a worker process the harness restarts in status().restarts, and its slots come back', async () => {
    const replica = new ProcessReplica(spec({processes: 2, threads: 1}), {log: () => {}})
    replicas.push(replica)
    const slots: number[] = []
    replica.on('slots', (n: number) => slots.push(n))
    await replica.start()
    const before = replica.status()
    assert.deepEqual([before.restarts, before.workerRestarts], [0, 0])
    const port = Number(new URL(before.origin!).port)
    await assert.rejects(postJson(port, {crash: true}))
    assert.ok(await waitUntil(() => replica.status().workerRestarts === 1, 10_000), 'a worker restart')
    assert.equal(replica.status().restarts, 1)
    assert.ok(await waitUntil(() => slots.at(-1) === 2, 10_000), `slots: ${slots.join(',')}`)
    assert.ok(slots.includes(1), `slots: ${slots.join(',')}`)
    assert.equal(replica.status().pid, before.pid, 'the replica itself was not restarted')
    assert.equal((await postJson(port, {})).status, 200)
  })
})

describe('process replica: a command server dies with mlserve', () => {
  const server = [python, '-m', 'http.server', '--bind', '127.0.0.1', '${PORT}']
  for (const [how, env] of [
    ['with setpriv', {}],
    ['without setpriv: prctl then exec', {MLSERVE_SETPRIV: '/nonexistent/setpriv'}],
    ['without setpriv or prctl: the stdin watchdog', {MLSERVE_SETPRIV: '/nonexistent/setpriv', MLSERVE_NO_PRCTL: '1'}],
  ] as const) {
    it(`when mlserve is SIGKILLed (${how})`, async () => {
      const host = spawn(
        process.execPath,
        ['--import', 'tsx', join(repoRoot, 'test', 'helpers', 'replica-host.ts'), JSON.stringify(spec({kind: 'command', command: [...server], projectDir: repoRoot}))],
        {cwd: repoRoot, env: {...process.env, ...env}, stdio: ['ignore', 'pipe', 'pipe']},
      )
      let stderr = ''
      host.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({input: host.stdout}).once('line', resolve)
        host.once('exit', (code) => reject(new Error(`the host exited (${code}): ${stderr}`)))
      })
      const {pid, origin} = JSON.parse(line) as {pid: number; origin: string}
      pids.push(pid)
      assert.ok(isAlive(pid))
      assert.equal((await fetch(origin)).status, 200)
      host.kill('SIGKILL')
      assert.ok(await waitUntil(() => !isAlive(pid), 10_000), `the server (pid ${pid}) outlived mlserve`)
    })
  }
})
