// The image check's parts that need no engine: the modules the harness needs,
// the probe (run here under the host's python3 against a harness of our own),
// the base image named in messages, and build-time pins for system packages.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, mkdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa} from 'execa'
import {baseImageOf, harnessModules, probeScript} from '../../src/image/check.js'
import {parsePins, unpinnedPackages} from '../../src/image/pins.js'

function withDir<T>(fn: (dir: string) => Promise<T> | T): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'mlserve-check-'))
  return Promise.resolve(fn(dir)).finally(() => rmSync(dir, {recursive: true, force: true}))
}

describe('the modules the harness needs', () => {
  test('the shipped harness: standard-library modules imported at load, without its own modules or __future__', () => {
    const modules = harnessModules()
    for (const name of ['json', 'socket', 'threading']) assert.ok(modules.includes(name), `${name} in ${modules.join(', ')}`)
    assert.ok(!modules.includes('__future__'))
    assert.deepEqual(modules, [...modules].sort())
  })

  test('a package: module-level imports of every file; indented (optional) imports and sibling modules are left out', () =>
    withDir((dir) => {
      const pkg = join(dir, 'harness')
      mkdirSync(pkg)
      writeFileSync(join(pkg, '__main__.py'), 'from __future__ import annotations\nimport sys, os.path as p\nfrom http import HTTPStatus\nimport server\n')
      writeFileSync(join(pkg, 'server.py'), 'import json  # framing\nfrom email.utils import formatdate\ndef f():\n    import ctypes\n')
      assert.deepEqual(harnessModules(pkg), ['email.utils', 'http', 'json', 'os.path', 'sys'])
    }))
})

describe('the probe', () => {
  test('under a full Python it loads the harness’s command line and prints the version', () =>
    withDir(async (dir) => {
      const harness = join(dir, 'harness')
      mkdirSync(harness)
      writeFileSync(join(harness, '__main__.py'), 'import argparse, json\nargparse.ArgumentParser(prog="h").parse_args()\n')
      const run = await execa('python3', ['-c', probeScript(['json', 'argparse'], harness)], {reject: false})
      assert.equal(run.exitCode, 0, run.stderr)
      assert.match(run.stdout, /^mlserve-python 3\.\d+\.\d+$/m)
      assert.match(run.stdout, /usage: h/)
    }))

  test('names each module that does not import, and stops before the harness', async () => {
    const run = await execa('python3', ['-c', probeScript(['json', 'no_such_module_here', 'nor_this.one'], '/nonexistent')], {reject: false})
    assert.equal(run.exitCode, 3)
    assert.deepEqual(run.stdout.trim().split('\n'), [
      "mlserve-missing no_such_module_here\tModuleNotFoundError: No module named 'no_such_module_here'",
      "mlserve-missing nor_this.one\tModuleNotFoundError: No module named 'nor_this'",
    ])
  })

  test('a missing harness is reported as such', async () => {
    const run = await execa('python3', ['-c', probeScript([], '/nonexistent/harness')], {reject: false})
    assert.equal(run.exitCode, 5)
    assert.match(run.stdout, /^mlserve-no-harness$/m)
  })
})

describe('messages and pins', () => {
  test('the base image is the last stage’s FROM', () => {
    assert.equal(baseImageOf('FROM python:3.11-slim AS build\nRUN true\nFROM debian:bookworm-slim\nCMD ["x"]\n'), 'debian:bookworm-slim')
    assert.equal(baseImageOf('RUN true\n'), null)
  })

  test('unpinned system packages, and their pins from dpkg-query’s output, in the order asked', () => {
    assert.deepEqual(unpinnedPackages(['python3-sklearn', 'curl=7.88.1-10+deb12u5', 'libgomp1:amd64']), ['python3-sklearn', 'libgomp1:amd64'])
    const output = 'libgomp1\t12.2.0-14\npython3-sklearn\t1.2.1+dfsg-1\ndpkg-query: no packages found matching nope\n'
    assert.deepEqual(parsePins(output, ['python3-sklearn', 'nope', 'libgomp1:amd64']), ['python3-sklearn=1.2.1+dfsg-1', 'libgomp1:amd64=12.2.0-14'])
  })
})
