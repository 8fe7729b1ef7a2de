// Conventions every command shares: --help, --json (stdout holds the result and nothing else), no stack traces.
import {test, after} from 'node:test'
import assert from 'node:assert/strict'
import {readdirSync, readFileSync, mkdtempSync, rmSync, writeFileSync, mkdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {repoRoot, runCli} from '../helpers/cli.js'
import {apiYaml, sleepPredictor} from '../helpers/projects.js'

const commands = readdirSync(join(repoRoot, 'src', 'commands'))
  .filter((file) => file.endsWith('.ts'))
  .map((file) => file.replace(/\.ts$/, ''))
const scratch = mkdtempSync(join(tmpdir(), 'mlserve-cli-'))
// A valid project: validate checks that the predictor file exists, so the config alone is not enough.
const goodProject = join(scratch, 'good')
mkdirSync(goodProject)
writeFileSync(join(goodProject, 'mlserve.yaml'), apiYaml())
writeFileSync(join(goodProject, 'predictor.py'), sleepPredictor)
after(() => rmSync(scratch, {recursive: true, force: true}))

// The commands a deployed image runs (gateway, autoscaler) are hidden: internal, not the user's.
const manifest = JSON.parse(readFileSync(join(repoRoot, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, {hidden?: boolean}>}
const hidden = new Set(Object.entries(manifest.commands).filter(([, command]) => command.hidden).map(([id]) => id))

test('the CLI lists every command in its help, and none of the hidden ones', async () => {
  const result = await runCli(['--help'])
  assert.equal(result.exitCode, 0)
  assert.deepEqual([...hidden].sort(), ['autoscaler', 'gateway'])
  for (const command of commands) {
    const listed = new RegExp(`^  ${command}\\s`, 'm')
    if (hidden.has(command)) assert.doesNotMatch(result.stdout, listed, `${command} is hidden`)
    else assert.match(result.stdout, listed, `${command} is listed`)
  }
})

for (const command of commands) {
  test(`mlserve ${command} --help describes the command and every flag`, async () => {
    const result = await runCli([command, '--help'])
    assert.equal(result.exitCode, 0, result.stderr)
    assert.match(result.stdout, /USAGE/)
    assert.match(result.stdout, /DESCRIPTION/)
    assert.match(result.stdout, /--json/)
    // Every flag line carries a description (oclif prints "--flag  Description").
    // Flag lines live in the FLAGS sections, indented at most 6 spaces; deeper
    // lines there are wrapped descriptions.
    let inFlags = false
    const lines = result.stdout.split('\n')
    const flagLines: number[] = []
    lines.forEach((line, i) => {
      if (/^[A-Z][A-Z ]*$/.test(line)) inFlags = /FLAGS$/.test(line)
      if (inFlags && /^ {1,6}(-\w, )?--[a-z]/.test(line)) flagLines.push(i)
    })
    assert.ok(flagLines.length > 0, 'the help lists flags')
    // oclif puts the description beside the flag, or, when a flag is long, on the next line, indented further.
    for (const i of flagLines) {
      const inline = /--\S+(=<[^>]+>|=\S+)?(\.\.\.)?\s{2,}\S/.test(lines[i])
      const below = /^ {4,}\S/.test(lines[i + 1] ?? '') && !/^ {1,6}(-\w, )?--[a-z]/.test(lines[i + 1] ?? '')
      assert.ok(inline || below, `flag has a description: ${lines[i]}`)
    }
  })
}

const jsonCases: Array<{name: string; args: string[]; ok: boolean}> = [
  {name: 'schema', args: ['schema', '--json'], ok: true},
  {name: 'init --list', args: ['init', '--list', '--json'], ok: true},
  {name: 'validate (a good project)', args: ['validate', goodProject, '--json'], ok: true},
  {name: 'validate (a missing file)', args: ['validate', join(scratch, 'nope.yaml'), '--json'], ok: false},
  {name: 'status (nothing running)', args: ['status', '--json'], ok: false},
  {name: 'predict (bad data)', args: ['predict', '--data', '{bad', '--json'], ok: false},
  {name: 'run (bad flag value)', args: ['run', scratch, '--timeout', 'soon', '--json'], ok: false},
]

for (const c of jsonCases) {
  test(`--json output parses and stdout holds nothing else: ${c.name}`, async () => {
    const result = await runCli(c.args, {env: {NO_COLOR: '1', MLSERVE_STATE_DIR: scratch}})
    assert.equal(result.exitCode === 0, c.ok, result.stderr)
    const parsed = JSON.parse(result.stdout)
    if (!c.ok) {
      assert.match(parsed.error.code, /^MLS_/)
      assert.equal(typeof parsed.error.suggestion, 'string')
    }
    assert.doesNotMatch(result.stderr + result.stdout, /\n\s+at .*:\d+:\d+/, 'no stack trace')
  })
}

test('--verbose shows the stack trace of an error', async () => {
  const result = await runCli(['validate', join(scratch, 'nope.yaml'), '--verbose'])
  assert.equal(result.exitCode, 2)
  assert.match(result.stderr, /MLS_CONFIG_NOT_FOUND/)
  assert.match(result.stderr, /\n\s+at .*:\d+:\d+/)
})

test('NO_COLOR output has no escape codes', async () => {
  const result = await runCli(['validate', join(scratch, 'nope.yaml')], {env: {NO_COLOR: '1', FORCE_COLOR: '1'}})
  assert.doesNotMatch(result.stderr, /\u001b\[/)
})

// A command line that cannot be read: exit 2, one mlserve error (under --json one object on stdout, nothing else;
// without it a short paragraph on stderr), never oclif's parser state.
const usageCases: Array<{name: string; args: string[]; code: string; mentions: RegExp}> = [
  {name: 'missing required flags', args: ['tune', scratch], code: 'MLS_FLAG_MISSING', mentions: /--peak-rps and --slo-p99/},
  {name: 'an unknown flag', args: ['run', scratch, '--prot', '9000'], code: 'MLS_UNKNOWN_FLAG', mentions: /--prot.*\n?.*--port|--port/},
  {name: 'a flag value that does not parse', args: ['loadtest', 'http://127.0.0.1:1', '--duration', 'soon'], code: 'MLS_INVALID_FLAG', mentions: /--duration.*"soon"/},
  {name: 'a value outside a flag’s options', args: ['run', scratch, '--driver', 'podman'], code: 'MLS_INVALID_FLAG', mentions: /--driver.*"podman"/},
  {name: 'a flag without its value', args: ['run', scratch, '--port'], code: 'MLS_INVALID_FLAG', mentions: /--port/},
  {name: 'flags that exclude each other', args: ['loadtest', 'http://127.0.0.1:1', '--rate', '5', '--connections', '2'], code: 'MLS_FLAG_CONFLICT', mentions: /--rate/},
  {name: 'a flag without the flag it depends on', args: ['loadtest', 'http://127.0.0.1:1', '--arrival', 'poisson'], code: 'MLS_FLAG_CONFLICT', mentions: /--rate/},
  {name: 'a missing argument', args: ['inspect'], code: 'MLS_ARG_MISSING', mentions: /IMAGE/},
  {name: 'an extra argument', args: ['validate', scratch, 'extra'], code: 'MLS_UNEXPECTED_ARG', mentions: /"extra"/},
  {name: 'an unknown command', args: ['statsu'], code: 'MLS_UNKNOWN_COMMAND', mentions: /mlserve status/},
  {name: 'a typed flag out of range', args: ['tune', scratch, '--slo-p99', '200', '--peak-rps', '100', '--utilization', '1.5'], code: 'MLS_INVALID_FLAG', mentions: /--utilization.*"1\.5"/},
  {name: 'a bad list', args: ['tune', scratch, '--slo-p99', '200', '--peak-rps', '100', '--threads', '1,two'], code: 'MLS_INVALID_FLAG', mentions: /--threads.*"1,two"/},
]

for (const c of usageCases) {
  test(`--json: ${c.name} prints one ${c.code} error on stdout and exits 2`, async () => {
    const result = await runCli([...c.args, '--json'], {env: {NO_COLOR: '1', MLSERVE_STATE_DIR: scratch}})
    assert.equal(result.exitCode, 2, result.stdout + result.stderr)
    const lines = result.stdout.trim().split('\n')
    assert.equal(lines.length, 1, `one line on stdout:\n${result.stdout.slice(0, 2000)}`)
    const {error} = JSON.parse(lines[0])
    assert.deepEqual(Object.keys(error).sort(), ['code', 'details', 'message', 'suggestion'])
    assert.equal(error.code, c.code)
    assert.match(`${error.message}\n${error.suggestion}`, c.mentions)
    assert.doesNotMatch(result.stdout, /"parse"|"oclif"|"input"/, 'no oclif internals')
  })

  test(`without --json: ${c.name} is one short paragraph on stderr, exit 2`, async () => {
    const result = await runCli(c.args, {env: {NO_COLOR: '1', MLSERVE_STATE_DIR: scratch}})
    assert.equal(result.exitCode, 2)
    assert.equal(result.stdout, '')
    assert.match(result.stderr, new RegExp(`^Error \\[${c.code}\\] `))
    assert.match(result.stderr, /\n→ \S/)
    assert.ok(result.stderr.trim().split('\n').length <= 6, result.stderr)
    assert.doesNotMatch(result.stderr, /\n\s+at .*:\d+:\d+|See more help with --help/)
  })
}
