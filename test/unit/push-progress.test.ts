// Reading the engine's push stream, and the bytes accounting, from event
// streams recorded from dockerd 20.10 pushing to distribution 2.8
// (test/fixtures/push/*.jsonl); then pushImage's retries, against a stand-in
// engine that fails the first attempt as a cut connection does.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import type Docker from 'dockerode'
import {PushProgressView} from '../../src/cli/push-progress.js'
import {isMlserveError} from '../../src/errors.js'
import {accountBytes, classifyFailure, PushTracker, pushImage, type EngineEvent, type PushProgress} from '../../src/registry/index.js'
import {repoRoot} from '../helpers/cli.js'

const fixture = (name: string): EngineEvent[] =>
  readFileSync(join(repoRoot, 'test', 'fixtures', 'push', name), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as EngineEvent)

// The recorded image: the base layer (which the registry had, mounted from another repository) and a 3 MB layer.
const BASE = 'sha256:0cef7e7e0b0178becf91ac5c1935d059b63f6ca5790b9dac734b9d25ac2ab069'
const BLOB = 'sha256:fd6cc5e0d8562d8d949031177c6b947aa63e8810227b9485612e99dc46523ea9'
// The pushed manifest's compressed layer sizes, as the registry answered them.
const SIZES = [66625197, 3001123]

function track(events: EngineEvent[]): {tracker: PushTracker; progress: PushProgress[]} {
  const tracker = new PushTracker()
  tracker.startAttempt()
  const progress = events.map((event) => tracker.apply(event)).filter((p): p is PushProgress => p !== null)
  return {tracker, progress}
}

describe('the push stream', () => {
  test('a first push: the new layer is sent, the mounted one is present, and the digest is read', () => {
    const {tracker, progress} = track(fixture('first-push.jsonl'))
    assert.equal(tracker.error, null)
    assert.equal(tracker.digest, 'sha256:dde5876c99c943d5dcf9c21e4ebcc4d6433a54df9d1a2553568aed3a6f2c50a8')
    assert.equal(tracker.manifestSize, 740)
    assert.deepEqual(
      [...tracker.layers.values()].map((l) => [l.id, l.phase, l.sent, l.detail]),
      [
        ['fd6cc5e0d856', 'pushed', true, null],
        ['0cef7e7e0b01', 'present', false, 'Mounted from rec-two'],
      ],
    )
    // While sending, the engine's figures: bytes so far of the layer's uncompressed size.
    const pushing = progress.filter((p) => p.type === 'layer' && p.phase === 'pushing')
    assert.ok(pushing.length > 0)
    assert.equal(tracker.layers.get('fd6cc5e0d856')?.total, 3_000_000)
    const account = accountBytes(tracker.layers, [BASE, BLOB], SIZES)
    assert.deepEqual(account, {
      layers: [
        {id: '0cef7e7e0b01', status: 'present', bytes: 66625197},
        {id: 'fd6cc5e0d856', status: 'pushed', bytes: 3001123},
      ],
      bytesSent: 3001123,
      bytesPresent: 66625197,
      sizes: 'manifest',
    })
  })

  test('a push of layers the registry has: nothing sent', () => {
    const {tracker} = track(fixture('second-push.jsonl'))
    const account = accountBytes(tracker.layers, [BASE, 'sha256:3a22ffd8ed83aaaa'], [66625197, 111])
    assert.equal(account.bytesSent, 0)
    assert.equal(account.bytesPresent, 66625197 + 111)
    assert.equal(tracker.digest, 'sha256:29becef301ad91ad3f3eca556056d1a8410ece99d05752b68c4d51ddab277862')
  })

  test('a refused login: the error is read and classed as auth, an address nobody serves as unreachable', () => {
    const refused = track(fixture('unauthorized.jsonl')).tracker
    assert.equal(refused.error, 'unauthorized: authentication required')
    assert.equal(refused.digest, null)
    assert.equal(classifyFailure(refused.error ?? ''), 'auth')
    const down = track(fixture('unreachable.jsonl')).tracker
    assert.match(down.error ?? '', /connection refused/)
    assert.equal(classifyFailure(down.error ?? ''), 'unreachable')
  })

  test('failures mid-push are transient; others are not retried', () => {
    for (const message of [
      'Put "http://127.0.0.1:5000/v2/x/blobs/uploads/abc": read tcp 127.0.0.1:1->127.0.0.1:5000: read: connection reset by peer',
      'received unexpected HTTP status: 503 Service Unavailable',
      'received unexpected HTTP status: 502 Bad Gateway',
      'unexpected EOF',
      'write tcp 127.0.0.1:1->127.0.0.1:5000: write: broken pipe',
    ]) {
      assert.equal(classifyFailure(message), 'transient', message)
    }
    assert.equal(classifyFailure('denied: requested access to the resource is denied'), 'auth')
    assert.equal(classifyFailure('dial tcp: lookup registry.invalid: no such host'), 'unreachable')
    assert.equal(classifyFailure('filesystem layer verification failed for digest sha256:abc'), 'other')
  })

  test('a layer sent in a failed attempt counts as sent even when the next attempt finds it present', () => {
    const tracker = new PushTracker()
    tracker.startAttempt()
    tracker.apply({status: 'Pushing', id: 'fd6cc5e0d856', progressDetail: {current: 1000, total: 3_000_000}})
    tracker.apply({status: 'Pushed', id: 'fd6cc5e0d856'})
    tracker.apply({status: 'Pushing', id: '0cef7e7e0b01', progressDetail: {current: 10, total: 161_000_000}})
    tracker.apply({error: 'connection reset by peer', errorDetail: {message: 'connection reset by peer'}})
    assert.equal(tracker.error, 'connection reset by peer')
    tracker.startAttempt()
    assert.equal(tracker.error, null)
    assert.equal(tracker.layers.get('0cef7e7e0b01')?.phase, 'preparing')
    const again = tracker.apply({status: 'Layer already exists', id: 'fd6cc5e0d856'})
    assert.deepEqual(again && again.type === 'layer' ? again.phase : null, 'pushed')
    tracker.apply({status: 'Pushed', id: '0cef7e7e0b01'})
    const account = accountBytes(tracker.layers, [BASE, BLOB], SIZES)
    assert.deepEqual(account.layers.map((l) => l.status), ['pushed', 'pushed'])
    assert.equal(account.bytesSent, SIZES[0] + SIZES[1])
  })

  test('without the manifest, sent layers count their engine totals and present ones 0; a repeated layer counts once', () => {
    const {tracker} = track(fixture('first-push.jsonl'))
    assert.deepEqual(accountBytes(tracker.layers, [BASE, BLOB, BLOB], null), {
      layers: [
        {id: '0cef7e7e0b01', status: 'present', bytes: 0},
        {id: 'fd6cc5e0d856', status: 'pushed', bytes: 3_000_000},
      ],
      bytesSent: 3_000_000,
      bytesPresent: 0,
      sizes: 'engine-progress',
    })
  })
})

describe('the progress shown', () => {
  test('without a TTY: one line per layer as it completes, and one per retry', () => {
    let out = ''
    const view = new PushProgressView((text) => (out += text), false)
    for (const progress of track(fixture('first-push.jsonl')).progress) view.update(progress)
    view.update({type: 'retry', attempt: 1, attempts: 4, delayMs: 1000, reason: 'connection reset by peer'})
    assert.equal(out, '  0cef7e7e0b01  Mounted from rec-two\n  fd6cc5e0d856  pushed\nattempt 1 of 4 failed (connection reset by peer); retrying in 1s\n')
  })

  test('on a TTY: one line per layer, redrawn in place', () => {
    let out = ''
    const view = new PushProgressView((text) => (out += text), true)
    for (const progress of track(fixture('first-push.jsonl')).progress) view.update(progress)
    view.flush()
    const frames = out.split('\x1b[2A')
    assert.ok(frames.length > 1, 'later frames move the cursor up over the two layer lines')
    assert.match(frames.at(-1) ?? '', /fd6cc5e0d856 {2}pushed\n.*0cef7e7e0b01 {2}Mounted from rec-two\n$/s)
  })
})

/** A stand-in engine: each push answers the next recorded stream; records what it was asked. */
function fakeEngine(streams: EngineEvent[][]) {
  const calls = {push: 0, tag: [] as unknown[], auth: [] as unknown[]}
  const image = {
    inspect: async () => ({RootFS: {Type: 'layers', Layers: [BASE, BLOB]}}),
    tag: async (options: unknown) => void calls.tag.push(options),
    push: async (options: {authconfig?: unknown}) => {
      calls.auth.push(options.authconfig)
      const events = streams[calls.push++]
      return Readable.from(events.map((event) => `${JSON.stringify(event)}\n`))
    },
  }
  const docker = {
    getImage: () => image,
    modem: {
      followProgress(stream: Readable, done: (error: Error | null) => void, onEvent: (event: EngineEvent) => void) {
        let buffer = ''
        stream.on('data', (chunk: string | Buffer) => {
          buffer += chunk.toString()
          let newline: number
          while ((newline = buffer.indexOf('\n')) >= 0) {
            onEvent(JSON.parse(buffer.slice(0, newline)) as EngineEvent)
            buffer = buffer.slice(newline + 1)
          }
        })
        stream.on('end', () => done(null))
      },
    },
  }
  return {docker: docker as unknown as Docker, calls}
}

// Nothing listens on the discard port of loopback, so the manifest read fails fast and sizes come from the engine.
const REGISTRY = '127.0.0.1:9'

describe('pushImage', () => {
  test('a connection cut mid-push is retried after a backoff, and the second attempt finishes the push', async () => {
    const cut = [
      {status: 'Preparing', id: 'fd6cc5e0d856'},
      {status: 'Pushing', id: 'fd6cc5e0d856', progressDetail: {current: 4096, total: 3_000_000}},
      {errorDetail: {message: 'read tcp 127.0.0.1:1->127.0.0.1:9: read: connection reset by peer'}, error: 'read: connection reset by peer'},
    ]
    const {docker, calls} = fakeEngine([cut, fixture('first-push.jsonl')])
    const events: PushProgress[] = []
    const started = Date.now()
    const result = await pushImage({
      docker,
      image: 'iris:v1',
      registry: REGISTRY,
      repo: 'iris',
      tag: 'v1',
      auth: {username: 'u', password: 'p', serveraddress: REGISTRY},
      onProgress: (event) => events.push(event),
      retry: {attempts: 3, baseDelayMs: 50},
    })
    assert.equal(calls.push, 2)
    assert.deepEqual(calls.tag, [{repo: `${REGISTRY}/iris`, tag: 'v1'}])
    assert.deepEqual(calls.auth[0], {username: 'u', password: 'p', serveraddress: REGISTRY})
    assert.ok(Date.now() - started >= 50, 'waited the backoff')
    const retries = events.filter((e) => e.type === 'retry')
    assert.deepEqual(retries.map((e) => e.type === 'retry' && [e.attempt, e.attempts, e.delayMs]), [[1, 3, 50]])
    assert.equal(result.attempts, 2)
    assert.equal(result.reference, `${REGISTRY}/iris:v1`)
    assert.equal(result.pinned, `${REGISTRY}/iris@sha256:dde5876c99c943d5dcf9c21e4ebcc4d6433a54df9d1a2553568aed3a6f2c50a8`)
    assert.equal(result.sizes, 'engine-progress')
    assert.equal(result.bytesSent, 3_000_000)
  })

  test('a transient failure on every attempt ends as MLS_PUSH_FAILED saying how many attempts; backoff doubles', async () => {
    const failing = [{errorDetail: {message: 'received unexpected HTTP status: 503 Service Unavailable'}, error: 'x'}]
    const {docker, calls} = fakeEngine([failing, failing, failing])
    const delays: number[] = []
    await assert.rejects(
      pushImage({docker, image: 'iris:v1', registry: REGISTRY, repo: 'iris', tag: 'v1', auth: null, retry: {attempts: 3, baseDelayMs: 10}, onProgress: (e) => e.type === 'retry' && delays.push(e.delayMs)}),
      (error) => isMlserveError(error) && error.code === 'MLS_PUSH_FAILED' && /after 3 attempts: received unexpected HTTP status: 503/.test(error.message),
    )
    assert.equal(calls.push, 3)
    assert.deepEqual(delays, [10, 20])
  })

  test('refused credentials are not retried: MLS_REGISTRY_AUTH_FAILED at once', async () => {
    const {docker, calls} = fakeEngine([fixture('unauthorized.jsonl'), fixture('first-push.jsonl')])
    await assert.rejects(
      pushImage({docker, image: 'iris:v1', registry: REGISTRY, repo: 'iris', tag: 'v1', auth: {username: 'u', password: 'wrong', serveraddress: REGISTRY}, retry: {attempts: 3, baseDelayMs: 10}}),
      (error) => isMlserveError(error) && error.code === 'MLS_REGISTRY_AUTH_FAILED' && /refused the credentials of "u"/.test(error.message),
    )
    assert.equal(calls.push, 1)
  })
})
