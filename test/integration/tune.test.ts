// mlserve tune on predictors with known behaviour: real Python workers, real
// load, the real CLI. Each must get the right recommendation, and the
// recommendation must hold when it is run.
import {describe, test, after} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync, existsSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa} from 'execa'
import {cliPath, runCli, startRunCli} from '../helpers/cli.js'
import {makeProject, type TestProject} from '../helpers/projects.js'
import {batchedSleep, cpuBound, ioBound, numpyOneThread, numpyPool, tuneConfig, type TunePredictor} from '../helpers/tune-predictors.js'
import {candidateLabel, type TuneResult} from '../../src/tune/types.js'

const projects: TestProject[] = []
const stateDir = mkdtempSync(join(tmpdir(), 'mlserve-tune-state-'))
after(() => {
  projects.forEach((p) => p.cleanup())
  rmSync(stateDir, {recursive: true, force: true})
})
const env = {NO_COLOR: '1', MLSERVE_STATE_DIR: stateDir}

const yaml = (extra = ''): string => tuneConfig({source: '', predictorExtra: extra}).replace('compute:\n  cpu: 1\n', '')

function tuneProject(predictor: TunePredictor): TestProject {
  const project = makeProject({'mlserve.yaml': tuneConfig(predictor), 'predictor.py': predictor.source})
  projects.push(project)
  return project
}

async function tuneCli(project: TestProject, args: string[], window = ['--window', '2s', '--window-requests', '400']): Promise<TuneResult> {
  const result = await runCli(['tune', project.dir, ...window, '--warmup', '1s', '--verify-duration', '10s', '--json', ...args], {env, timeout: 900_000})
  assert.equal(result.exitCode, 0, result.stderr)
  return JSON.parse(result.stdout) as TuneResult
}

/** The measured candidates, one line each, for assertion messages: a failing run says what it saw. */
function measured(result: TuneResult): string {
  return result.candidates
    .map((c) => {
      const cap = c.capacity
      const windows = (cap?.windows ?? []).map((w) => `${w.phase[0]}${Math.round(w.rate)}:${Math.round(w.p99Ms)}${w.passes ? '' : '✗'}`).join(' ')
      return `${candidateLabel(c)}: ${c.status} ${Math.round(cap?.capacity ?? 0)} req/s (plateau ${Math.round(cap?.upperBound ?? 0)}), cost ${c.cost?.perHour.toFixed(4) ?? '-'} ×${c.cost?.replicas ?? '-'}, windows ${windows}`
    })
    .concat((result.recommendation?.verifications ?? result.failedVerification?.verifications ?? []).map((v) => `verify ${Math.round(v.rate)}: ${v.passed} p99 ${v.p99Ms.toFixed(1)} ${v.failures.join('; ')}`))
    .concat(result.warnings)
    .join('\n')
}

/** The claim itself: the written config, run by hand, loaded at the per-replica rate from another process. */
async function runByHand(project: TestProject, rate: number, replicaCpus: number[]): Promise<{p99: number; ok: number; shed: number; failed: number; total: number}> {
  const running = await startRunCli([project.dir, '--port', '0', '--replicas', '1', '--replica-cpus', replicaCpus.join(',')], env)
  try {
    const load = await runCli(['loadtest', `${running.url}/subject`, '--data', '{}', '--rate', String(Math.floor(rate)), '--arrival', 'poisson', '--duration', '15s', '--warmup', '2s', '--json'], {env, timeout: 120_000})
    assert.equal(load.exitCode, 0, load.stderr)
    const r = JSON.parse(load.stdout) as {latencyMs: {p99: number}; requests: {ok: number; shed: number; failed: number; total: number}}
    return {p99: r.latencyMs.p99, ok: r.requests.ok, shed: r.requests.shed, failed: r.requests.failed, total: r.requests.total}
  } finally {
    running.child.kill('SIGINT')
    await running.child
  }
}

describe('recommendations on predictors with known behaviour, proven by running them', () => {
  test('CPU-bound pure Python on one CPU: one process with one thread is the cheapest; the written config holds its rate when run by hand', async () => {
    const project = tuneProject(cpuBound())
    // A peak that one replica of any candidate serves: the cheapest is the one with the least memory.
    const result = await tuneCli(project, ['--slo-p99', '100', '--peak-rps', '100', '--processes', '1,2', '--threads', '1,2', '--write'])
    const rec = result.recommendation!
    assert.ok(rec, measured(result))
    assert.ok(result.placement.fits, result.placement.note)
    assert.deepEqual([rec.processes_per_replica, rec.threads_per_process], [1, 1], measured(result))
    assert.equal(rec.min_replicas, 1, measured(result))
    const last = rec.verifications.at(-1)!
    assert.ok(last.passed, measured(result))
    assert.ok(last.p99Ms <= 100, measured(result))
    for (const c of result.candidates.filter((x) => x.capacity?.meetsSlo)) {
      assert.ok(c.capacity!.capacity < c.capacity!.upperBound, `the closed-loop plateau only bounds the capacity\n${measured(result)}`)
      assert.ok(c.capacity!.atCapacity.length >= 3, 'the capacity was repeated')
      assert.ok(c.capacity!.utilizationAtCapacity! > 0.3, `utilization at capacity is measured\n${measured(result)}`)
    }
    const text = readFileSync(project.file, 'utf8')
    assert.match(text, new RegExp(`max_replica_concurrency: ${rec.max_replica_concurrency}`))
    assert.match(text, /mem: \d+Mi/)
    assert.ok(result.writes.some((w) => w.path === 'compute.mem'))

    const byHand = await runByHand(project, rec.perReplicaRate, result.placement.replicaCpus)
    assert.ok(byHand.total > 100, `run by hand: ${byHand.total} requests`)
    assert.ok(byHand.failed / byHand.total < 0.01, `run by hand: ${byHand.failed} of ${byHand.total} failed (${byHand.shed} shed)`)
    assert.ok(byHand.p99 <= 100, `run by hand at ${Math.round(rec.perReplicaRate)} req/s: p99 ${byHand.p99} ms\n${measured(result)}`)
  })

  test('I/O-bound: threads serve the peak with one replica of one process', async () => {
    const project = tuneProject(ioBound())
    const result = await tuneCli(project, ['--slo-p99', '500', '--peak-rps', '150', '--processes', '1,2', '--threads', '4,16'], ['--window', '2s', '--window-requests', '200'])
    const rec = result.recommendation!
    assert.ok(rec, measured(result))
    assert.deepEqual([rec.processes_per_replica, rec.threads_per_process], [1, 16], measured(result))
    assert.equal(rec.min_replicas, 1, measured(result))
    assert.ok(rec.verifications.at(-1)!.passed, measured(result))
    const four = result.candidates.find((c) => c.processes === 1 && c.threads === 4)!
    const sixteen = result.candidates.find((c) => c.processes === 1 && c.threads === 16)!
    assert.ok(sixteen.capacity!.capacity > 2.5 * four.capacity!.capacity, `sixteen threads sustain several times what four do\n${measured(result)}`)
    assert.ok(rec.target_replica_concurrency > 1, "Little's law: several requests in flight at 50 ms each")
  })

  test('numpy with its default BLAS pool: BLAS threads are swept, and the pick sets them', async () => {
    const project = tuneProject(numpyPool())
    const result = await tuneCli(project, ['--slo-p99', '200', '--peak-rps', '50', '--processes', '1', '--threads', '1,2', '--search', 'exhaustive'])
    assert.deepEqual(result.grid.blasThreads, [1, null], 'one CPU: one BLAS thread, or the library default')
    assert.equal(result.candidates.length, 4, measured(result))
    const rec = result.recommendation!
    assert.ok(rec, measured(result))
    assert.equal(rec.blasThreads, 1, `the default pool costs the same or more on one CPU, so a tie goes to one BLAS thread\n${measured(result)}`)
    assert.equal(rec.env.OPENBLAS_NUM_THREADS, '1')
    assert.ok(rec.verifications.at(-1)!.passed, measured(result))
  })

  test('server-side batching: the config\'s pair is halved and doubled, and a larger batch that serves the peak with fewer replicas is the pick', async () => {
    const project = tuneProject(batchedSleep())
    // 20 ms per call: batches of 4 sustain under 200 req/s, batches of 8 nearly 400.
    const result = await tuneCli(project, ['--slo-p99', '500', '--peak-rps', '300', '--processes', '1', '--threads', '4'], ['--window', '2s', '--window-requests', '300'])
    assert.deepEqual(result.grid.batches, [
      {maxBatchSize: 2, intervalMs: 10},
      {maxBatchSize: 8, intervalMs: 40},
    ])
    const rec = result.recommendation!
    assert.ok(rec, measured(result))
    assert.deepEqual(rec.batch, {maxBatchSize: 8, intervalMs: 40}, measured(result))
    assert.equal(rec.threads_per_process, 8, 'threads hold a full batch')
    assert.ok(rec.verifications.at(-1)!.passed, measured(result))
  })

  test('numpy with BLAS threads set in its env: they are not swept', async () => {
    const project = tuneProject(numpyOneThread())
    const result = await tuneCli(project, ['--slo-p99', '200', '--peak-rps', '50', '--processes', '1', '--threads', '1', '--no-verify'])
    assert.deepEqual(result.grid.blasThreads, [null])
    assert.ok(result.recommendation, measured(result))
    assert.deepEqual(result.recommendation.env, {})
    assert.deepEqual(result.recommendation.verifications, [], '--no-verify')
  })
})

describe('reports, writes and stopping', () => {
  test('no candidate meets the SLO: a warning and the closest candidates', async () => {
    const slow = `import time\nclass PythonPredictor:\n    def __init__(self, config): pass\n    def predict(self, payload):\n        time.sleep(0.3)\n        return {}\n`
    const project = makeProject({'mlserve.yaml': yaml(), 'predictor.py': slow})
    projects.push(project)
    const result = await tuneCli(project, ['--slo-p99', '100', '--peak-rps', '10', '--processes', '1', '--threads', '1'])
    assert.equal(result.recommendation, null)
    assert.equal(result.candidates[0].status, 'fails-slo')
    assert.equal(result.bestFailing.length, 1)
    assert.ok(result.warnings.some((w) => /No candidate meets p99 ≤ 100 ms/.test(w)))
  })

  test('--write updates mlserve.yaml in place, keeping comments; --out writes a self-contained HTML report', async () => {
    const project = makeProject({'mlserve.yaml': yaml(), 'predictor.py': ioBound().source})
    projects.push(project)
    const out = join(project.dir, 'report.html')
    const result = await tuneCli(project, ['--slo-p99', '500', '--peak-rps', '50', '--processes', '1', '--threads', '4', '--write', '--out', out])
    const rec = result.recommendation!
    assert.ok(rec)
    assert.equal(result.wrote, project.file)
    const text = readFileSync(project.file, 'utf8')
    assert.match(text, /^# Tuning writes below; this comment must survive\./)
    assert.match(text, /path: predictor.py # the predictor/)
    assert.match(text, /threads_per_process: 4/)
    assert.match(text, new RegExp(`max_replica_concurrency: ${rec.max_replica_concurrency}`))
    assert.match(text, new RegExp(`min_replicas: ${rec.min_replicas}`))
    for (const write of result.writes) assert.ok(write.why.length > 0, `${write.path} says why`)
    assert.ok(result.writes.some((w) => w.path === 'autoscaling.target_replica_concurrency'))
    const validate = await runCli(['validate', project.dir], {env})
    assert.equal(validate.exitCode, 0, validate.stderr)

    const html = readFileSync(out, 'utf8')
    assert.match(html, /<svg[^>]*Throughput against p99/)
    assert.ok(html.includes(rec.sentence.replaceAll('&', '&amp;')))
    assert.doesNotMatch(html, /(src|href)="https?:/, 'no external resources')
  })

  test('Ctrl-C stops cleanly, leaves no replica running, and prints what was measured', async () => {
    const project = makeProject({'mlserve.yaml': yaml(), 'predictor.py': ioBound().source})
    projects.push(project)
    const child = execa(process.execPath, [cliPath, 'tune', project.dir, '--slo-p99', '500', '--peak-rps', '50', '--processes', '1', '--threads', '1,2,4,8', '--search', 'exhaustive', '--window', '1s'], {env, reject: false})
    let stderr = ''
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const until = Date.now() + 120_000
    // Once the first candidate is done, the second one's replica starts.
    while (!/\[1\/≤4\]/.test(stderr) && Date.now() < until && child.exitCode === null) await new Promise((r) => setTimeout(r, 100))
    await new Promise((r) => setTimeout(r, 3000))
    const harnessesBefore = await execa('pgrep', ['-f', `project-dir ${project.dir}`], {reject: false})
    assert.ok(harnessesBefore.stdout.trim().length > 0, 'a replica is running mid-tune')
    child.kill('SIGINT')
    const result = await child
    assert.equal(result.exitCode, 130, stderr)
    assert.match(stderr, /Stopped early/)
    assert.match(stderr, /1 × 1/)
    const harnessesAfter = await execa('pgrep', ['-f', `project-dir ${project.dir}`], {reject: false})
    assert.equal(harnessesAfter.stdout.trim(), '', 'no replica process is left')
    assert.ok(!existsSync(join(project.dir, 'report.html')))
  })
})
