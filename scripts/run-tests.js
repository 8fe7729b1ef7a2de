#!/usr/bin/env node
// Runs the test files under the given folders (default: test/unit and
// test/integration) with Node's built-in runner. Tests are TypeScript, loaded
// through tsx; CLI tests run the built CLI, so the build runs first. Files run
// one at a time: the tuning and load tests measure real replicas on a 2-core
// machine, and a neighbouring test file would be part of what they measure.
import {readdirSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {spawnSync} from 'node:child_process'

const roots = process.argv.slice(2).filter((a) => !a.startsWith('-'))
const passThrough = process.argv.slice(2).filter((a) => a.startsWith('-'))
const dirs = roots.length > 0 ? roots : ['test/unit', 'test/integration']

function collect(path) {
  if (statSync(path).isFile()) return [path]
  return readdirSync(path, {withFileTypes: true}).flatMap((entry) => {
    const full = join(path, entry.name)
    if (entry.isDirectory()) return collect(full)
    return entry.name.endsWith('.test.ts') ? [full] : []
  })
}

const files = dirs.flatMap(collect).sort()
if (files.length === 0) {
  console.error(`no test files under ${dirs.join(', ')}`)
  process.exit(1)
}

const build = spawnSync('npm', ['run', '--silent', 'build'], {stdio: 'inherit'})
if (build.status !== 0) process.exit(build.status ?? 1)

// TAP as it goes, then the failed tests listed at the end (a CI log may keep only the tail).
const reporters = passThrough.some((flag) => flag.startsWith('--test-reporter'))
  ? []
  : ['--test-reporter=tap', '--test-reporter-destination=stdout', '--test-reporter=./scripts/failures-reporter.mjs', '--test-reporter-destination=stdout']
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-timeout=1200000', ...reporters, ...passThrough, ...files],
  {stdio: 'inherit', env: {...process.env, NO_COLOR: '1'}},
)
process.exit(result.status ?? 1)
