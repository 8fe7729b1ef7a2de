// Conventions every command shares: --help, --json (stdout holds the result and nothing else), no stack traces.
import {test, after} from 'node:test'
import assert from 'node:assert/strict'
import {readdirSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {repoRoot, runCli} from '../helpers/cli.js'

const commands = readdirSync(join(repoRoot, 'src', 'commands'))
  .filter((file) => file.endsWith('.ts'))
  .map((file) => file.replace(/\.ts$/, ''))
const scratch = mkdtempSync(join(tmpdir(), 'mlserve-cli-'))
after(() => rmSync(scratch, {recursive: true, force: true}))

test('the CLI lists every command in its help', async () => {
  const result = await runCli(['--help'])
  assert.equal(result.exitCode, 0)
  for (const command of commands) assert.match(result.stdout, new RegExp(`^  ${command}\\s`, 'm'), `${command} is listed`)
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
  {name: 'validate (a good file)', args: ['validate', join(repoRoot, 'test', 'fixtures', 'config', 'good.yaml'), '--json'], ok: true},
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
