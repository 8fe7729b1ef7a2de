// The two-stage Ctrl-C (src/cli/interrupt.ts), with real signals sent to this process.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {once} from 'node:events'
import {onInterrupt} from '../../src/cli/interrupt.js'

test('the first SIGINT or SIGTERM stops gracefully, the second at once, later ones do nothing; dispose removes the handlers', async () => {
  const before = {SIGINT: process.listenerCount('SIGINT'), SIGTERM: process.listenerCount('SIGTERM')}
  const calls: string[] = []
  const notes: string[] = []
  const interrupts = onInterrupt({
    gracefulNote: (signal) => `graceful on ${signal}`,
    graceful: (signal) => calls.push(`graceful ${signal}`),
    immediateNote: 'at once',
    immediate: (signal) => calls.push(`immediate ${signal}`),
    say: (line) => notes.push(line),
  })
  // A signal handler does not keep the event loop alive while the signal is on its way.
  const alive = setInterval(() => {}, 1000)
  process.kill(process.pid, 'SIGTERM')
  assert.equal(await interrupts.first, 'SIGTERM')
  process.kill(process.pid, 'SIGINT')
  assert.equal(await interrupts.second, 'SIGINT')
  process.kill(process.pid, 'SIGINT')
  await once(process, 'SIGINT')
  assert.deepEqual(calls, ['graceful SIGTERM', 'immediate SIGINT'])
  assert.deepEqual(notes, ['graceful on SIGTERM', 'at once'])
  assert.equal(interrupts.count, 3)
  interrupts.dispose()
  clearInterval(alive)
  assert.deepEqual({SIGINT: process.listenerCount('SIGINT'), SIGTERM: process.listenerCount('SIGTERM')}, before)
})
