// mlserve tune's reports, --write and stopping, through the real CLI (apart
// from tune.test.ts, whose proofs take most of a file's time limit).
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync, existsSync} from 'node:fs'
import {join} from 'node:path'
import {execa} from 'execa'
import {cliPath, runCli} from '../helpers/cli.js'
import {makeProject} from '../helpers/projects.js'
import {tuneCliFixtures} from '../helpers/tune-cli.js'
import {ioBound} from '../helpers/tune-predictors.js'

const {projects, env, yaml, tuneCli} = tuneCliFixtures()

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
