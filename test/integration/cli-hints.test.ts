// Every command line mlserve prints as advice works when pasted: init's next
// steps, predict's "name the API" suggestion, and the `mlserve …` commands in
// the suggestions of the command-line errors. Each is run as printed, through
// the built CLI, with only what keeps a test short added (a free port, short
// durations); none may fail, and none may be refused as a bad command line.
import {test, after, afterEach} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa, type ResultPromise} from 'execa'
import {cliPath, runCli, type CliResult} from '../helpers/cli.js'
import {apiYaml, projectsRemovedAfterFile, sleepPredictor} from '../helpers/projects.js'

const scratch = mkdtempSync(join(tmpdir(), 'mlserve-hints-'))
const stateDir = mkdtempSync(join(tmpdir(), 'mlserve-state-'))
const env = {NO_COLOR: '1', MLSERVE_STATE_DIR: stateDir}
const project = projectsRemovedAfterFile()
const children: ResultPromise[] = []
after(() => {
  rmSync(scratch, {recursive: true, force: true})
  rmSync(stateDir, {recursive: true, force: true})
})
afterEach(async () => {
  for (const child of children.splice(0)) {
    child.kill('SIGTERM')
    await child.catch(() => undefined)
  }
})

/** A command line as a POSIX shell splits it (words, 'single-quoted' words). */
function words(line: string): string[] {
  const out: string[] = []
  for (const m of line.matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)) out.push(m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2])
  return out
}

/** The argv after `mlserve` of a printed command line. */
function argvOf(line: string): string[] {
  const [bin, ...rest] = words(line)
  assert.equal(bin, 'mlserve', `a printed command starts with mlserve: ${line}`)
  return rest
}

function assertAccepted(line: string, result: CliResult): void {
  const output = result.stdout + result.stderr
  assert.doesNotMatch(output, /MLS_(FLAG_MISSING|UNKNOWN_FLAG|UNKNOWN_COMMAND|FLAG_CONFLICT|ARG_MISSING|UNEXPECTED_ARG|USAGE|INVALID_FLAG)/, `${line} is a valid command line:\n${output}`)
  assert.equal(result.exitCode, 0, `${line} succeeds:\n${output}`)
}

/** Starts a printed `mlserve run …` (on a free port) and resolves once it serves. */
async function startRun(argv: string[], cwd: string): Promise<void> {
  const child = execa(process.execPath, [cliPath, ...argv, '--port', '0'], {cwd, env, reject: false})
  children.push(child)
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const until = Date.now() + 60_000
  while (!/^Ready: /m.test(stderr) && child.exitCode === null && Date.now() < until) await new Promise((r) => setTimeout(r, 50))
  assert.match(stderr, /^Ready: /m, `${argv.join(' ')} serves:\n${stderr}`)
}

test("each of init's next steps runs as printed", async () => {
  const init = await runCli(['init', 'demo', '--json'], {cwd: scratch, env})
  assert.equal(init.exitCode, 0, init.stderr)
  const {nextSteps, name} = JSON.parse(init.stdout) as {nextSteps: string[]; name: string}
  // The human output prints the same commands.
  const human = await runCli(['init', 'demo2'], {cwd: scratch, env})
  assert.match(human.stderr, /Next steps:/)
  assert.deepEqual(
    human.stderr.split('Next steps:')[1].split('\n').map((l) => /^ {2}(mlserve .*?)\s{2,}\S/.exec(l)?.[1]).filter(Boolean),
    nextSteps.map((step) => step.replaceAll('demo', 'demo2')),
  )
  assert.deepEqual(nextSteps.map((step) => argvOf(step)[0]), ['run', 'predict', 'loadtest', 'tune'])

  for (const step of nextSteps) {
    const argv = argvOf(step)
    if (argv[0] === 'run') {
      await startRun(argv, scratch)
      continue
    }
    // Shorter runs of the same command lines: only durations are changed or added.
    const short = argv[0] === 'loadtest'
      ? [...argv.map((word, i) => (argv[i - 1] === '--duration' ? '1' : word))]
      : argv[0] === 'tune'
        ? [...argv, '--processes', '1', '--threads', '1', '--window', '300ms', '--warmup', '300ms', '--max-concurrency', '4']
        : argv
    const result = await runCli(short, {cwd: scratch, env, timeout: 300_000})
    assertAccepted(step, result)
  }
  assert.ok(name.length > 0)
})

test("predict's suggestion, when the runtime serves several APIs, runs as printed", async () => {
  const p = project({
    'mlserve.yaml': `${apiYaml({name: 'first'})}${apiYaml({name: 'second'})}`,
    'predictor.py': sleepPredictor,
  })
  await startRun(['run', p.dir], scratch)
  const ambiguous = await runCli(['predict', '--data', '{"sleep": 0}', '--json'], {env})
  assert.equal(ambiguous.exitCode, 2, ambiguous.stderr)
  const error = JSON.parse(ambiguous.stdout).error as {code: string; suggestion: string}
  assert.equal(error.code, 'MLS_API_AMBIGUOUS')
  const line = /`(mlserve [^`]+)`/.exec(error.suggestion)?.[1]
  assert.ok(line, `the suggestion holds a command line: ${error.suggestion}`)
  const result = await runCli(argvOf(line), {env})
  assertAccepted(line, result)
  assert.equal(JSON.parse(result.stdout).status, 200)
})

test('the commands that usage and input errors suggest run as printed', async () => {
  const cases = [['statsu'], ['tune', scratch], ['run', '--prot', '0'], ['inspect'], ['loadtest', '--rate', '1', '--connections', '1', 'http://127.0.0.1:1'], ['init', join(scratch, 'x'), '--template', 'nope']]
  const suggested = new Set<string>()
  for (const argv of cases) {
    const result = await runCli([...argv, '--json'], {env})
    assert.equal(result.exitCode, 2, result.stdout)
    const {suggestion} = JSON.parse(result.stdout).error as {suggestion: string}
    for (const m of suggestion.matchAll(/`(mlserve [^`]+)`/g)) suggested.add(m[1])
  }
  assert.ok(suggested.size >= 6, [...suggested].join('\n'))
  for (const line of suggested) {
    // `mlserve status` finds nothing running here: it may fail that way, but not as a command line.
    const result = await runCli(argvOf(line), {env})
    if (line === 'mlserve status') assert.match(result.stderr, /MLS_RUNTIME_NOT_FOUND/)
    else assertAccepted(line, result)
  }
})
