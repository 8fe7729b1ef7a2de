// `mlserve traffic` and `mlserve apply` as a user runs them: the built CLI
// against a real `mlserve run` serving two Python APIs behind a TrafficSplitter.
import {describe, test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {ResultPromise} from 'execa'
import {request} from 'undici'
import {runCli, startRunCli, type RunningCli} from '../helpers/cli.js'
import {makeProject, sleepPredictor, type TestProject} from '../helpers/projects.js'
import {weightsAt} from '../helpers/traffic.js'
import {waitFor} from '../helpers/http.js'

// Each test file gets its own state dir, so the commands see only this file's runtime.
const stateDir = mkdtempSync(join(tmpdir(), 'mlserve-state-'))
const env = {NO_COLOR: '1', MLSERVE_STATE_DIR: stateDir}

const api = (name: string): string => `- name: ${name}
  kind: RealtimeAPI
  predictor:
    type: python
    path: predictor.py
    config: {version: ${name}}
    processes_per_replica: 1
    threads_per_process: 2
  autoscaling:
    min_replicas: 1
    max_replica_concurrency: 8
`

// Comments and spacing that --write must keep.
const config = `# Two versions of one model behind one endpoint.
${api('iris-a')}${api('iris-b')}
- name: iris
  kind: TrafficSplitter
  apis:
    - name: iris-a
      weight: 90   # the current model keeps most of the traffic
    - name: iris-b
      weight: 10   # the candidate
`

let project: TestProject
let run: RunningCli
const children: ResultPromise[] = []

before(async () => {
  project = makeProject({'mlserve.yaml': config, 'predictor.py': sleepPredictor})
  run = await startRunCli([project.dir, '--port', '0'], env, (child) => children.push(child))
})

after(async () => {
  for (const child of children) {
    child.kill('SIGKILL')
    await child.catch(() => undefined)
  }
  project?.cleanup()
  rmSync(stateDir, {recursive: true, force: true})
})

const cli = (args: string[]) => runCli(args, {env})

const weightsNow = (): Promise<Record<string, number>> => weightsAt(run.url, 'iris')

/** Sends `n` predictions through the splitter; how many each API answered (X-Mlserve-Api). */
async function predictThroughSplitter(n: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {}
  for (let i = 0; i < n; i++) {
    const answer = await request(`${run.url}/iris`, {method: 'POST', body: '{}', headers: {'content-type': 'application/json'}})
    assert.equal(answer.statusCode, 200)
    await answer.body.dump()
    const name = String(answer.headers['x-mlserve-api'])
    counts[name] = (counts[name] ?? 0) + 1
  }
  return counts
}

describe('mlserve traffic against a running mlserve run', () => {
  test('show lists the splitter, its weights and each API\'s live figures', async () => {
    const counts = await predictThroughSplitter(20)
    const result = await cli(['traffic', 'show', '--json'])
    assert.equal(result.exitCode, 0, result.stderr)
    const shown = JSON.parse(result.stdout)
    assert.equal(shown.runtimes.length, 1)
    const [splitter] = shown.runtimes[0].splitters
    assert.equal(splitter.name, 'iris')
    assert.equal(splitter.endpoint, '/iris')
    assert.deepEqual(splitter.weights, {'iris-a': 90, 'iris-b': 10})
    assert.equal(splitter.previous, null)
    const a = splitter.apis.find((line: {api: string}) => line.api === 'iris-a')
    assert.equal(a.requests, counts['iris-a'] ?? 0)
    assert.equal(a.readyReplicas, 1)
    assert.ok(a.p50Ms > 0 && a.p99Ms >= a.p50Ms, `p50 ${a.p50Ms} p99 ${a.p99Ms}`)
    const shares = splitter.apis.reduce((sum: number, line: {share: number | null}) => sum + (line.share ?? 0), 0)
    assert.ok(Math.abs(shares - 1) < 1e-9, `the shares add up to 1: ${shares}`)

    const human = await cli(['traffic', 'show', 'iris'])
    assert.equal(human.exitCode, 0, human.stderr)
    assert.match(human.stderr, /iris {2}\/iris/)
    assert.match(human.stderr, /iris-a\s+90\s+1\/1\s+/)
    assert.match(human.stderr, /rollback restores: nothing/)
  })

  test('set moves the weights (the API left out gets the rest), and rollback restores them', async () => {
    const set = await cli(['traffic', 'set', 'iris', 'iris-a=0'])
    assert.equal(set.exitCode, 0, set.stderr)
    assert.match(set.stderr, /iris-a\s+90 → 0/)
    assert.match(set.stderr, /iris-b\s+10 → 100/)
    assert.deepEqual(await weightsNow(), {'iris-a': 0, 'iris-b': 100})
    assert.deepEqual(await predictThroughSplitter(10), {'iris-b': 10}, 'the next requests follow the new weights')

    const half = await cli(['traffic', 'set', 'iris', 'iris-a=50', '--json'])
    assert.equal(half.exitCode, 0, half.stderr)
    const result = JSON.parse(half.stdout)
    assert.deepEqual(result.before, {'iris-a': 0, 'iris-b': 100})
    assert.deepEqual(result.after.weights, {'iris-a': 50, 'iris-b': 50})
    assert.equal(result.written, null)

    const back = await cli(['traffic', 'rollback', 'iris'])
    assert.equal(back.exitCode, 0, back.stderr)
    assert.match(back.stderr, /iris-a\s+50 → 0/)
    assert.deepEqual(await weightsNow(), {'iris-a': 0, 'iris-b': 100})
    const again = await cli(['traffic', 'rollback', 'iris', '--json'])
    assert.equal(again.exitCode, 0, again.stderr)
    assert.deepEqual(JSON.parse(again.stdout).after.weights, {'iris-a': 50, 'iris-b': 50}, 'a second rollback undoes the first')
    assert.equal(readFileSync(project.file, 'utf8'), config, 'without --write the file is untouched')
  })

  test('set --write writes the weights into mlserve.yaml, keeping its comments', async () => {
    const result = await cli(['traffic', 'set', 'iris', 'iris-a=70', 'iris-b=30', '--write'])
    assert.equal(result.exitCode, 0, result.stderr)
    assert.match(result.stderr, /Wrote the weights to /)
    assert.deepEqual(await weightsNow(), {'iris-a': 70, 'iris-b': 30})
    const expected = config.replace('weight: 90   #', 'weight: 70   #').replace('weight: 10   #', 'weight: 30   #')
    assert.equal(readFileSync(project.file, 'utf8'), expected)
  })

  test('status shows the splitter beside the APIs', async () => {
    const result = await cli(['status'])
    assert.equal(result.exitCode, 0, result.stderr)
    assert.match(result.stderr, /iris\s+│?\s*\/iris\s+│?\s*iris-a 70 · iris-b 30/)
  })

  test('bad weights and unknown splitters fail with clear errors, changing nothing', async () => {
    const before = await weightsNow()
    const sum = await cli(['traffic', 'set', 'iris', 'iris-a=60', 'iris-b=60', '--json'])
    assert.equal(sum.exitCode, 2, sum.stderr)
    assert.equal(JSON.parse(sum.stdout).error.code, 'MLS_GATEWAY_BAD_WEIGHTS')
    const word = await cli(['traffic', 'set', 'iris', 'iris-a:60'])
    assert.equal(word.exitCode, 2)
    assert.match(word.stderr, /MLS_USAGE.*"iris-a:60" is not API=WEIGHT/)
    const missing = await cli(['traffic', 'set', 'rose', 'a=100', '--json'])
    assert.equal(missing.exitCode, 1)
    assert.match(JSON.parse(missing.stdout).error.message, /TrafficSplitter named "rose"/)
    const direct = await cli(['traffic', 'show', 'rose', '--url', run.url, '--json'])
    assert.equal(JSON.parse(direct.stdout).error.code, 'MLS_GATEWAY_SPLITTER_NOT_FOUND')
    assert.deepEqual(await weightsNow(), before)
  })

  test('changing weights without the token is refused with 401', async () => {
    for (const authorization of [undefined, `Bearer ${'0'.repeat(64)}`]) {
      const answer = await request(`${run.url}/traffic/iris`, {
        method: 'PUT',
        body: JSON.stringify({weights: {'iris-a': 100, 'iris-b': 0}}),
        headers: {'content-type': 'application/json', ...(authorization ? {authorization} : {})},
      })
      assert.equal(answer.statusCode, 401)
      assert.equal(((await answer.body.json()) as {code: string}).code, 'MLS_GATEWAY_CONTROL_UNAUTHORIZED')
    }
    assert.deepEqual(await weightsNow(), {'iris-a': 70, 'iris-b': 30})
  })

  test('apply with the file as served changes nothing', async () => {
    const result = await cli(['apply', project.dir, '--json'])
    assert.equal(result.exitCode, 0, result.stderr)
    assert.deepEqual(JSON.parse(result.stdout).changes, [])
    const human = await cli(['apply', project.dir])
    assert.match(human.stderr, /Nothing to change/)
  })

  test('apply puts an edited file in force: new weights, a new API as the shadow, and traffic diff compares it', async () => {
    const edited = readFileSync(project.file, 'utf8')
      .replace('weight: 70   #', 'weight: 60   #')
      .replace('weight: 30   #', 'weight: 40   #')
      .replace('# Two versions', `${api('iris-c')}# Two versions`)
      .concat('    - name: iris-c\n      weight: 100\n      shadow: true\n')
    writeFileSync(project.file, edited)
    const result = await cli(['apply', project.dir])
    assert.equal(result.exitCode, 0, result.stderr)
    assert.match(result.stderr, /iris-c/)
    assert.match(result.stderr, /iris-a=70 iris-b=30 → iris-a=60 iris-b=40/)
    assert.deepEqual(await weightsNow(), {'iris-a': 60, 'iris-b': 40})

    await predictThroughSplitter(5)
    await waitFor(async () => {
      const answer = await request(`${run.url}/traffic/iris/diff`)
      return ((await answer.body.json()) as {kept: number}).kept >= 5
    }, 'five shadowed requests')
    const diff = await cli(['traffic', 'diff', 'iris', '--examples', '1', '--json'])
    assert.equal(diff.exitCode, 0, diff.stderr)
    const report = JSON.parse(diff.stdout).report
    assert.equal(report.shadowApi, 'iris-c')
    assert.equal(report.kept, 5)
    const human = await cli(['traffic', 'diff', 'iris'])
    assert.equal(human.exitCode, 0, human.stderr)
    assert.match(human.stderr, /shadow iris-c against iris-/)
    const bad = await cli(['traffic', 'diff', 'iris', '--tolerance', '-1'])
    assert.equal(bad.exitCode, 2)
    assert.match(bad.stderr, /MLS_INVALID_FLAG.*--tolerance/)
  })

  test('apply of a project no runtime serves says which runtimes run what', async () => {
    const other = makeProject({'mlserve.yaml': api('lonely'), 'predictor.py': sleepPredictor})
    try {
      const result = await cli(['apply', other.dir, '--json'])
      assert.equal(result.exitCode, 1, result.stderr)
      const {error} = JSON.parse(result.stdout)
      assert.equal(error.code, 'MLS_RUNTIME_NOT_FOUND')
      assert.match(error.message, /serves .*mlserve\.yaml/)
    } finally {
      other.cleanup()
    }
  })
})
