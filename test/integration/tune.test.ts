// mlserve tune on predictors with known behaviour: real Python workers, real
// load, the real CLI. Each must get the right recommendation, and the
// recommendation must hold when it is run.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {runCli, startRunCli} from '../helpers/cli.js'
import type {TestProject} from '../helpers/projects.js'
import {tuneCliFixtures} from '../helpers/tune-cli.js'
import {cpuBound, ioBound} from '../helpers/tune-predictors.js'

const {env, tuneProject, tuneCli, measured} = tuneCliFixtures()

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
})
