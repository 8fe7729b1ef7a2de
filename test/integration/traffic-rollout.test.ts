// `mlserve traffic rollout` as a user runs it: the built CLI against a real
// `mlserve run` serving three Python APIs behind one TrafficSplitter, under
// load sent through the splitter: a version that fails every request is
// rolled back by the rollout itself, a version without the ready replicas its
// share needs is never given traffic, and a healthy one is rolled out to 100%
// and written into mlserve.yaml.
import {describe, test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa, type ResultPromise} from 'execa'
import {Pool} from 'undici'
import {cliPath, runCli, startRunCli, type RunningCli} from '../helpers/cli.js'
import {makeProject, type TestProject} from '../helpers/projects.js'
import {versionedPredictor, weightsAt} from '../helpers/traffic.js'

// Each test file gets its own state dir, so the commands see only this file's runtime.
const stateDir = mkdtempSync(join(tmpdir(), 'mlserve-state-'))
const env = {NO_COLOR: '1', MLSERVE_STATE_DIR: stateDir}

const api = (name: string, fail = false): string => `- name: ${name}
  kind: RealtimeAPI
  predictor:
    type: python
    path: predictor.py
    config: {version: ${name}, fail: ${fail}}
    processes_per_replica: 1
    threads_per_process: 2
  autoscaling:
    min_replicas: 1
    max_replica_concurrency: 8
`

const config = `# The current model, a broken candidate and a good one.
${api('iris-a')}${api('iris-b', true)}${api('iris-c')}
- name: iris
  kind: TrafficSplitter
  apis:
    - name: iris-a
      weight: 100  # the current model
    - name: iris-b
      weight: 0
    - name: iris-c
      weight: 0
`

let project: TestProject
let run: RunningCli
const children: ResultPromise[] = []
let stopLoad: () => Promise<void> = async () => {}
/** Every answer's status through the splitter, in order (0: no answer), so a test can look at the answers of its own window. */
const statuses: number[] = []

/** Sends predictions through the splitter, two at a time, until stopped: the traffic each step is judged on. */
function startLoad(url: string): () => Promise<void> {
  const pool = new Pool(new URL(url).origin, {connections: 2})
  let running = true
  const worker = async (): Promise<void> => {
    while (running) {
      try {
        const answer = await pool.request({path: '/iris', method: 'POST', body: '{"x": 1}', headers: {'content-type': 'application/json'}})
        await answer.body.dump()
        statuses.push(answer.statusCode)
      } catch {
        // the runtime going away at the end
        if (running) statuses.push(0)
      }
    }
  }
  const workers = [worker(), worker()]
  return async () => {
    running = false
    await Promise.all(workers)
    await pool.close()
  }
}

before(async () => {
  project = makeProject({'mlserve.yaml': config, 'predictor.py': versionedPredictor})
  run = await startRunCli([project.dir, '--port', '0'], env, (child) => children.push(child))
  stopLoad = startLoad(run.url)
})

after(async () => {
  await stopLoad()
  for (const child of children) {
    child.kill('SIGKILL')
    await child.catch(() => undefined)
  }
  project?.cleanup()
  rmSync(stateDir, {recursive: true, force: true})
})

const cli = (args: string[]) => runCli(args, {env})

const weightsNow = (): Promise<Record<string, number>> => weightsAt(run.url, 'iris')

/** Polls `check` until it holds (the CLI's PUT and its line on stderr race). */
async function waitFor(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  assert.fail('the condition never held')
}

describe('mlserve traffic rollout against a running mlserve run', () => {
  test('a version that fails every request is rolled back by the rollout, to the weights before it', async () => {
    // A long interval: the breach, not the interval's end, ends the step.
    const result = await cli(['traffic', 'rollout', 'iris', 'iris-b', '--steps', '20,50,100', '--interval', '5m', '--min-requests', '10', '--json'])
    assert.equal(result.exitCode, 1, result.stderr)
    const out = JSON.parse(result.stdout)
    assert.equal(out.outcome, 'rolled-back')
    assert.equal(out.error.code, 'MLS_ROLLOUT_ROLLED_BACK')
    assert.match(out.error.message, /failed at 20%: \d+ of \d+ answers failed/)
    assert.deepEqual(out.startWeights, {'iris-a': 100, 'iris-b': 0, 'iris-c': 0})
    assert.deepEqual(out.finalWeights, {'iris-a': 100, 'iris-b': 0, 'iris-c': 0})
    assert.equal(out.steps.length, 1)
    const [step] = out.steps
    assert.deepEqual(step.weights, {'iris-a': 80, 'iris-b': 20, 'iris-c': 0})
    assert.equal(step.verdict, 'breached')
    assert.ok(step.requests >= 10, `judged on ${step.requests} answers`)
    assert.equal(step.errors, step.requests, 'every answer of the broken version failed')
    assert.equal(step.codes['500'], step.requests)
    assert.equal(step.errorRate, 1)
    // Rolled back before the interval's end: the rollout judged the step as it went.
    assert.ok(step.durationMs < 5 * 60_000, `held ${step.durationMs} ms`)
    assert.deepEqual(await weightsNow(), {'iris-a': 100, 'iris-b': 0, 'iris-c': 0})

    const human = await cli(['traffic', 'rollout', 'iris', 'iris-b', '--steps', '20', '--interval', '5m', '--min-requests', '10'])
    assert.equal(human.exitCode, 1)
    assert.match(human.stderr, /\[1\/1\] {2}20% {2}\(iris-a 80 · iris-b 20 · iris-c 0\) {2}\d+ answers in [\d.]+ s, 100\.00% errors, p99 [\d.]+ ms: BREACHED/)
    assert.match(human.stderr, /Error \[MLS_ROLLOUT_ROLLED_BACK\]/)
    assert.deepEqual(await weightsNow(), {'iris-a': 100, 'iris-b': 0, 'iris-c': 0})
  })

  test('a version without the ready replicas its share needs gets no traffic', async () => {
    // What tune would have recorded: 4 replicas serve the full load, so 50% needs 2, and iris-c has 1.
    const record = join(project.dir, '.mlserve', 'tune', 'iris-c.json')
    mkdirSync(join(project.dir, '.mlserve', 'tune'), {recursive: true})
    writeFileSync(record, JSON.stringify({api: 'iris-c', at: new Date().toISOString(), peakRps: 100, sloP99Ms: 100, perReplicaRate: 25, minReplicas: 4, processes: 1, threads: 2, maxReplicaConcurrency: 8}))
    try {
      const result = await cli(['traffic', 'rollout', 'iris', 'iris-c', '--steps', '50,100', '--interval', '5s', '--ready-timeout', '1s', '--json'])
      assert.equal(result.exitCode, 1, result.stderr)
      const out = JSON.parse(result.stdout)
      assert.equal(out.error.code, 'MLS_ROLLOUT_NOT_ENOUGH_REPLICAS')
      assert.match(out.error.message, /"iris-c" has 1 ready replica, but 50% of the traffic needs 2 \(from mlserve tune's min_replicas for iris-c/)
      assert.equal(out.replicaBasis.replicas, 4)
      assert.deepEqual(out.finalWeights, {'iris-a': 100, 'iris-b': 0, 'iris-c': 0})
      assert.deepEqual(await weightsNow(), {'iris-a': 100, 'iris-b': 0, 'iris-c': 0})
    } finally {
      rmSync(join(project.dir, '.mlserve'), {recursive: true, force: true})
    }
  })

  test('Ctrl-C during a step puts the weights before the rollout back, then exits', async () => {
    const child = execa(process.execPath, [cliPath, 'traffic', 'rollout', 'iris', 'iris-c', '--steps', '30,100', '--interval', '5m'], {env, reject: false})
    children.push(child)
    let stderr = ''
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString()
        // The step's weights are in force once it says it holds them.
        if (/\[1\/2\] 30%: .* for 300 s/.test(stderr)) resolve()
      })
      child.once('exit', () => reject(new Error(`the rollout ended before its first step: ${stderr}`)))
    })
    await waitFor(async () => (await weightsNow())['iris-c'] === 30)
    child.kill('SIGINT')
    const ended = await child
    assert.equal(ended.exitCode, 130, String(ended.stderr))
    assert.match(String(ended.stderr), /Stopped: iris is back at the weights before the rollout: iris-a 100 · iris-b 0 · iris-c 0\./)
    assert.deepEqual(await weightsNow(), {'iris-a': 100, 'iris-b': 0, 'iris-c': 0})
  })

  test('a healthy version is rolled out to 100% under load with no failed request but 503s, and --write writes the final weights, keeping comments', async () => {
    const from = statuses.length
    const result = await cli(['traffic', 'rollout', 'iris', 'iris-c', '--steps', '50,100', '--interval', '2s', '--min-requests', '5', '--write', '--json'])
    assert.equal(result.exitCode, 0, result.stdout + result.stderr)
    const out = JSON.parse(result.stdout)
    assert.equal(out.outcome, 'completed')
    assert.equal(out.error, null)
    assert.match(out.replicaBasis.source, /autoscaling\.min_replicas of iris-a/)
    assert.deepEqual(
      out.steps.map((s: {weights: Record<string, number>}) => s.weights),
      [
        {'iris-a': 50, 'iris-b': 0, 'iris-c': 50},
        {'iris-a': 0, 'iris-b': 0, 'iris-c': 100},
      ],
    )
    for (const step of out.steps) {
      assert.equal(step.errors, 0)
      assert.ok(['passed', 'low-traffic'].includes(step.verdict), step.verdict)
    }
    assert.ok(out.steps.at(-1).requests > 0, 'the last step saw traffic')
    const during = statuses.slice(from)
    assert.ok(during.length > 20, `${during.length} requests ran during the rollout`)
    assert.deepEqual(during.filter((status) => status !== 200 && status !== 503), [], 'no request failed other than with a 503')
    assert.deepEqual(await weightsNow(), {'iris-a': 0, 'iris-b': 0, 'iris-c': 100})
    const expected = config.replace('weight: 100  # the current model', 'weight: 0  # the current model').replace(/(name: iris-c\n {6}weight:) 0/, '$1 100')
    assert.equal(readFileSync(project.file, 'utf8'), expected)
  })
})
