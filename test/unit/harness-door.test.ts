// The harness's door (src/runtime/harness/index.ts): its files, its
// invocation and how event lines are told from log lines.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {EVENT_LINE_MARKER, eventOfLine, harnessFiles, harnessPath, launchArgs, serveArgs} from '../../src/runtime/harness/index.js'
import type {ReplicaSpec} from '../../src/runtime/replica.js'
import {replicaSpec} from '../helpers/replica-spec.js'

const spec: ReplicaSpec = replicaSpec({projectDir: '/p', predictorPath: '/p/predictor.py', env: {}})

describe('the harness door', () => {
  test('the harness is a package directory run as a whole, and its files are its Python modules', () => {
    assert.ok(existsSync(join(harnessPath, '__main__.py')))
    const names = harnessFiles().map((file) => file.rel)
    assert.ok(names.includes('__main__.py') && names.includes('http1.py'), names.join(', '))
    assert.ok(names.every((name) => name.endsWith('.py')))
    for (const file of harnessFiles()) assert.ok(file.size > 0, file.rel)
  })

  test('serve arguments carry the spec, with batching only when asked', () => {
    const args = serveArgs(spec)
    assert.equal(args[0], harnessPath)
    assert.equal(args[1], 'serve')
    const flag = (name: string) => args[args.indexOf(name) + 1]
    assert.deepEqual([flag('--processes'), flag('--threads'), flag('--config-json'), flag('--events-fd')], ['2', '3', '{"k":1}', '3'])
    assert.ok(!args.includes('--batch-max-size'))
    const batched = serveArgs({...spec, batching: {maxBatchSize: 8, intervalMs: 50}})
    assert.deepEqual(batched.slice(-4), ['--batch-max-size', '8', '--batch-interval-ms', '50'])
  })

  test('launch wraps a command after --, with the parent pid', () => {
    assert.deepEqual(launchArgs(['./server', '--port', '9'], 42), [harnessPath, 'launch', '--parent-pid', '42', '--', './server', '--port', '9'])
  })

  test('an event line is one that carries the marker and a JSON event; anything else is a log line', () => {
    assert.deepEqual(eventOfLine(`${EVENT_LINE_MARKER}{"event": "worker_restart", "worker": 1, "pid": 7, "delay_s": 0.5}`), {
      event: 'worker_restart',
      worker: 1,
      pid: 7,
      delay_s: 0.5,
    })
    assert.equal(eventOfLine('{"event": "worker_restart"}'), null, 'no marker: a predictor printing JSON')
    assert.equal(eventOfLine(`${EVENT_LINE_MARKER}not json`), null)
    assert.equal(eventOfLine(`${EVENT_LINE_MARKER}{"no": "event"}`), null)
    assert.equal(eventOfLine(`${EVENT_LINE_MARKER}null`), null)
  })
})
