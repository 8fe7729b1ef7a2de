// `mlserve loadtest` as a user runs it: the built CLI against test servers and
// against a real Python replica started with --api.
import {describe, test, after} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa} from 'execa'
import {cliPath, runCli} from '../helpers/cli.js'
import {sleepProject, type TestProject} from '../helpers/projects.js'
import {instantServer, slowServer, statusServer, type TestServer} from '../helpers/servers.js'
import {CSV_COLUMNS} from '../../src/report/index.js'
import type {LoadResult} from '../../src/loadtest/index.js'

const servers: TestServer[] = []
const projects: TestProject[] = []
const outDir = mkdtempSync(join(tmpdir(), 'mlserve-loadtest-out-'))
const stateDir = mkdtempSync(join(tmpdir(), 'mlserve-state-'))
const env = {NO_COLOR: '1', MLSERVE_STATE_DIR: stateDir}
after(async () => {
  await Promise.all(servers.map((s) => s.close()))
  projects.forEach((p) => p.cleanup())
  rmSync(outDir, {recursive: true, force: true})
  rmSync(stateDir, {recursive: true, force: true})
})
async function serve(server: Promise<TestServer>): Promise<TestServer> {
  const s = await server
  servers.push(s)
  return s
}
function project(): TestProject {
  const p = sleepProject({processes: 1, threads: 2, config: {sleep: 0}})
  projects.push(p)
  return p
}

/** Processes whose command line mentions `text` (the harness is started with --project-dir DIR). */
async function processesMentioning(text: string): Promise<string[]> {
  const {stdout} = await execa('pgrep', ['-af', text], {reject: false})
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '' && line.includes('mlserve_harness'))
}

describe('mlserve loadtest --api', () => {
  test('starts one replica of the API, tests it through the gateway, and leaves nothing running', async () => {
    const p = project()
    const {stdout, stderr, exitCode} = await runCli(['loadtest', p.dir, '--api', 'sleepy', '--duration', '2', '--connections', '2', '--json'], {env})
    assert.equal(exitCode, 0, stderr)
    const result = JSON.parse(stdout) as LoadResult
    assert.equal(result.model, 'closed')
    assert.equal(result.target.api, 'sleepy')
    assert.match(result.target.url, /^http:\/\/127\.0\.0\.1:\d+\/sleepy$/)
    assert.equal(result.target.method, 'POST')
    assert.ok(result.requests.ok > 20, `${result.requests.ok} answered`)
    assert.equal(result.requests.ok, result.requests.total, JSON.stringify(result.requests))
    assert.equal(stderr, '', 'under --json nothing else is printed')
    assert.deepEqual(await processesMentioning(p.dir), [], 'no replica process is left')
  })

  test("mlserve init's CI invocation works as generated: --api NAME with the directory defaulting to '.'", async () => {
    const p = project()
    // The generated flags, with a p99 bound no machine's load can trip: the test is of the invocation, not of this machine's speed.
    const {stderr, exitCode} = await runCli(['loadtest', '--api', 'sleepy', '--duration', '1', '--max-p99', '60000', '--max-error-rate', '0.01'], {env, cwd: p.dir})
    assert.equal(exitCode, 0, stderr)
    assert.match(stderr, /Ready: http:\/\/127\.0\.0\.1:\d+\/sleepy \(API sleepy of .*mlserve\.yaml, 1 replica\)/)
    assert.match(stderr, /All thresholds met\./)
    assert.deepEqual(await processesMentioning(p.dir), [])
  })

  test('Ctrl-C stops the run, reports what was measured, and stops the replica', async () => {
    const p = project()
    const child = execa(process.execPath, [cliPath, 'loadtest', p.dir, '--api', 'sleepy', '--rate', '50', '--duration', '60'], {env, reject: false})
    let stderr = ''
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const until = Date.now() + 60_000
    while (!/^Load: /m.test(stderr) && Date.now() < until && child.exitCode === null) await new Promise((r) => setTimeout(r, 50))
    assert.match(stderr, /^Load: 50 req\/s \(open loop, constant\)/m)
    assert.equal((await processesMentioning(p.dir)).length > 0, true, 'the replica runs during the test')
    await new Promise((r) => setTimeout(r, 1500))
    const signalled = Date.now()
    child.kill('SIGINT')
    const result = await child
    assert.ok(Date.now() - signalled < 10_000, 'it stopped promptly')
    assert.equal(result.exitCode, 130, stderr)
    assert.match(stderr, /Stopping: reporting what was measured so far/)
    assert.match(stderr, /stopped early/)
    assert.match(stderr, /requests\s+│ \d+/)
    assert.deepEqual(await processesMentioning(p.dir), [], 'no replica process is left')
  })
})

describe('mlserve loadtest URL', () => {
  test('--json: stdout is the result alone, and parses', async () => {
    const server = await serve(instantServer())
    const {stdout, exitCode, stderr} = await runCli(['loadtest', `${server.url}/predict`, '--rate', '100', '--duration', '1', '--json'], {env})
    assert.equal(exitCode, 0, stderr)
    const result = JSON.parse(stdout) as LoadResult
    assert.equal(result.model, 'open')
    assert.equal(result.settings.rate, 100)
    assert.equal(result.target.method, 'GET')
    assert.ok(Math.abs(result.requests.total - 100) <= 2, `${result.requests.total} requests`)
  })

  test('human output: the stats table on stderr, nothing on stdout', async () => {
    const server = await serve(instantServer())
    const {stdout, stderr, exitCode} = await runCli(['loadtest', server.url, '--duration', '1', '--connections', '2', '--data', '{"x": 1}', '-H', 'X-Test: 1'], {env})
    assert.equal(exitCode, 0, stderr)
    assert.equal(stdout, '')
    assert.match(stderr, /closed loop, 2 connections, 1 s/)
    assert.match(stderr, /latency \(ms, per request\)\s+│ answers\s+│ p50\s+│ p90\s+│ p95\s+│ p99\s+│ p99\.9\s+│ max\s+│ mean/)
    assert.match(stderr, /│ ok \(2xx\)\s+│ \d/)
    assert.match(stderr, /shed \(503\)/)
  })

  test('--out writes each format, chosen by extension', async () => {
    const server = await serve(statusServer((hit) => (hit % 10 === 0 ? 503 : 200)))
    const files = ['r.json', 'r.csv', 'r.md', 'nested/r.html'].map((f) => join(outDir, f))
    const {exitCode, stderr} = await runCli(['loadtest', server.url, '--rate', '100', '--duration', '1.5', ...files.flatMap((f) => ['--out', f])], {env})
    assert.equal(exitCode, 0, stderr)
    for (const file of files) assert.ok(existsSync(file), file)
    const json = JSON.parse(readFileSync(files[0], 'utf8')) as LoadResult
    assert.ok(json.requests.shed > 0)
    const csv = readFileSync(files[1], 'utf8').trim().split('\n')
    assert.equal(csv[0], CSV_COLUMNS.join(','))
    assert.match(csv.at(-1)!, /^all,/)
    assert.match(readFileSync(files[2], 'utf8'), /^# Load test: /)
    const html = readFileSync(files[3], 'utf8')
    assert.match(html, /^<!doctype html>/)
    assert.equal((html.match(/<svg /g) ?? []).length, 2)
    assert.doesNotMatch(html, /<script|<link|\ssrc=|\shref=/)
    assert.match(stderr, /Wrote .*r\.html/)
  })

  test('a missed threshold exits 1 with a one-line reason; met thresholds exit 0', async () => {
    const server = await serve(slowServer(20))
    const failing = await runCli(['loadtest', server.url, '--duration', '1', '--connections', '2', '--max-p99', '5', '--min-throughput', '100000'], {env})
    assert.equal(failing.exitCode, 1, failing.stderr)
    const reasons = failing.stderr.split('\n').filter((line) => /threshold/i.test(line))
    assert.equal(reasons.length, 1, failing.stderr)
    assert.match(reasons[0], /^Threshold missed: p99 latency [\d.]+ ms \(successful answers\) is above 5 ms; throughput [\d.]+ req\/s \(2xx\) is below 100000 req\/s$/)

    const passing = await runCli(['loadtest', server.url, '--duration', '1', '--connections', '2', '--max-p99', '1000', '--max-error-rate', '0.01', '--min-throughput', '10'], {env})
    assert.equal(passing.exitCode, 0, passing.stderr)
    assert.match(passing.stderr, /All thresholds met\./)
  })

  test('--max-error-rate counts 503s; under --json the result still parses and the reason goes to stderr', async () => {
    const server = await serve(statusServer((hit) => (hit % 2 === 0 ? 503 : 200)))
    const {stdout, stderr, exitCode} = await runCli(['loadtest', server.url, '--amount', '200', '--connections', '1', '--max-error-rate', '1%', '--json'], {env})
    assert.equal(exitCode, 1, stderr)
    const result = JSON.parse(stdout) as LoadResult
    assert.equal(result.requests.total, 200)
    assert.equal(result.requests.shed, 100)
    assert.equal(result.thresholds?.passed, false)
    assert.equal(stderr.trim().split('\n').length, 1)
    assert.match(stderr, /^Threshold missed: error rate 50% \(100 of 200: 100 shed, 0 other HTTP errors, 0 timeouts, 0 connection errors\) is above 1%$/m)
  })

  test('bad targets and flags are refused before any load', async () => {
    const none = await runCli(['loadtest'], {env})
    assert.equal(none.exitCode, 2)
    assert.match(none.stderr, /MLS_LOADTEST_TARGET/)
    const both = await runCli(['loadtest', 'http://127.0.0.1:9/x', '--api', 'iris'], {env})
    assert.equal(both.exitCode, 2)
    assert.match(both.stderr, /MLS_LOADTEST_TARGET.*both a URL/)
    const unreachable = await runCli(['loadtest', 'http://127.0.0.1:9/x', '--duration', '1'], {env})
    assert.equal(unreachable.exitCode, 1)
    assert.match(unreachable.stderr, /MLS_LOADTEST_UNREACHABLE.*ECONNREFUSED/)
    const format = await runCli(['loadtest', 'http://127.0.0.1:9/x', '--out', 'report.pdf'], {env})
    assert.equal(format.exitCode, 2)
    assert.match(format.stderr, /MLS_INVALID_FLAG.*--out/)
    const rate = await runCli(['loadtest', 'http://127.0.0.1:9/x', '--rate', 'fast'], {env})
    assert.equal(rate.exitCode, 2)
    assert.match(rate.stderr, /--rate/)
    const exclusive = await runCli(['loadtest', 'http://127.0.0.1:9/x', '--rate', '10', '--connections', '2'], {env})
    assert.notEqual(exclusive.exitCode, 0)
    assert.match(exclusive.stderr, /--connections|--rate/)
  })
})
