// The Python replica harness, end to end: the real mlserve_harness package under
// python3 (standard library only), real processes, real HTTP on 127.0.0.1.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {Agent} from 'node:http'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, afterEach, describe, it} from 'node:test'

import {
  fixturesDir,
  harnessPath,
  httpCall,
  isAlive,
  killAllHarnesses,
  postJson,
  python,
  RawConnection,
  rawPost,
  startHarness,
  waitUntil,
} from '../helpers/harness.js'

afterEach(killAllHarnesses)
after(killAllHarnesses)

const tmpDirs: string[] = []
after(() => {
  for (const dir of tmpDirs) rmSync(dir, {recursive: true, force: true})
})

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mlserve-harness-'))
  tmpDirs.push(dir)
  return dir
}

describe('harness: startup and routes', () => {
  it('emits listening, worker_ready and ready, and answers /healthz', async () => {
    const h = await startHarness({predictor: 'echo', processes: 2, threads: 1})
    const names = h.events.map((e) => e.event)
    assert.equal(names[0], 'listening')
    assert.equal(names.filter((n) => n === 'worker_ready').length, 2)
    assert.ok(names.indexOf('ready') > names.lastIndexOf('worker_ready'), names.join(','))
    const ready = h.events.find((e) => e.event === 'ready')!
    assert.equal(ready.port, h.port)
    assert.equal((ready.pids as number[]).length, 2)
    assert.ok(!(ready.pids as number[]).includes(h.masterPid))

    const res = await httpCall(h.port, {method: 'GET', path: '/healthz'})
    assert.equal(res.status, 200)
    assert.deepEqual(res.json(), {status: 'ready'})
    assert.match(String(res.headers['content-type']), /application\/json/)
  })

  it('echoes JSON with the config, from the project dir (sibling import, relative file), and echoes X-Request-ID', async () => {
    const h = await startHarness({predictor: 'echo', config: {model: 'tiny', k: 3}})
    const res = await postJson(h.port, {x: [1, 2, 3], s: 'héllo'}, {headers: {'x-request-id': 'req-123'}})
    assert.equal(res.status, 200)
    assert.match(String(res.headers['content-type']), /^application\/json/)
    assert.equal(res.headers['x-request-id'], 'req-123')
    const body = res.json()
    assert.deepEqual(body.payload, {x: [1, 2, 3], s: 'héllo'})
    assert.deepEqual(body.config, {model: 'tiny', k: 3})
    assert.equal(body.greeting, 'hello from a sibling module')
    assert.equal(body.file_greeting, 'hello from a relative file')
    assert.match(body.thread, /^mlserve-w0-t0$/)

    // POST / is an alias; no X-Request-ID in, none out.
    const alias = await postJson(h.port, {a: 1}, {path: '/'})
    assert.equal(alias.status, 200)
    assert.deepEqual(alias.json().payload, {a: 1})
    assert.equal(alias.headers['x-request-id'], undefined)

    // A body without a content type that parses as JSON is JSON.
    const untyped = await httpCall(h.port, {body: '{"n": 5}'})
    assert.deepEqual(untyped.json().payload, {n: 5})
  })

  it('passes text and bytes through with matching content types', async () => {
    const h = await startHarness({predictor: 'bytes_echo'})
    const text = await httpCall(h.port, {headers: {'content-type': 'text/plain'}, body: 'plain text ✓'})
    assert.equal(text.status, 200)
    assert.equal(text.headers['content-type'], 'text/plain; charset=utf-8')
    assert.equal(text.text, 'plain text ✓')

    const bytes = Buffer.from([0, 1, 2, 250, 251, 252, 255, 10, 13])
    const bin = await httpCall(h.port, {headers: {'content-type': 'application/octet-stream'}, body: bytes})
    assert.equal(bin.status, 200)
    assert.equal(bin.headers['content-type'], 'application/octet-stream')
    assert.deepEqual(bin.body, bytes)

    const json = await postJson(h.port, [1, 'two', null])
    assert.deepEqual(json.json(), [1, 'two', null])
  })

  it('answers 404, 405, 413, 400 (invalid JSON, malformed request) and 431', async () => {
    const h = await startHarness({predictor: 'echo', maxBodyBytes: 1000})
    const notFound = await httpCall(h.port, {method: 'GET', path: '/nope'})
    assert.equal(notFound.status, 404)
    assert.ok(notFound.json().error)

    const wrongMethod = await httpCall(h.port, {method: 'GET', path: '/predict'})
    assert.equal(wrongMethod.status, 405)
    assert.equal(wrongMethod.headers.allow, 'POST')
    const healthPost = await httpCall(h.port, {method: 'POST', path: '/healthz', body: '{}'})
    assert.equal(healthPost.status, 405)

    const tooBig = await httpCall(h.port, {headers: {'content-type': 'application/json'}, body: JSON.stringify({s: 'x'.repeat(2000)})})
    assert.equal(tooBig.status, 413)

    const badJson = await httpCall(h.port, {headers: {'content-type': 'application/json'}, body: '{"unterminated": '})
    assert.equal(badJson.status, 400)
    assert.match(badJson.json().error, /invalid JSON/)

    const garbage = await RawConnection.open(h.port)
    garbage.write('THIS IS NOT HTTP\r\n\r\n')
    const r400 = await garbage.readResponse()
    assert.equal(r400.status, 400)
    assert.ok(await garbage.waitClosed(), 'a malformed request closes the connection')

    const huge = await RawConnection.open(h.port)
    huge.write(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(70 * 1024)}\r\n\r\n`)
    const r431 = await huge.readResponse()
    assert.equal(r431.status, 431)
    assert.ok(await huge.waitClosed())

    // The replica still serves after all that.
    assert.equal((await postJson(h.port, {ok: 1})).status, 200)
  })

  it('reads chunked bodies, answers Expect: 100-continue, and serves pipelined requests in order', async () => {
    const h = await startHarness({predictor: 'echo'})
    const conn = await RawConnection.open(h.port)

    conn.write(
      'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n' +
        '5\r\n{"a":\r\n3;ext=1\r\n 42\r\n1\r\n}\r\n0\r\nX-Trailer: t\r\n\r\n',
    )
    const chunked = await conn.readResponse()
    assert.equal(chunked.status, 200)
    assert.deepEqual(JSON.parse(chunked.body.toString()).payload, {a: 42})

    const body = '{"expect": true}'
    conn.write(`POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`)
    const cont = await conn.readResponse()
    assert.equal(cont.status, 100)
    conn.write(body)
    const expectRes = await conn.readResponse()
    assert.equal(expectRes.status, 200)
    assert.deepEqual(JSON.parse(expectRes.body.toString()).payload, {expect: true})

    conn.write(rawPost('/predict', '{"i":1}') + rawPost('/predict', '{"i":2}') + rawPost('/predict', '{"i":3}', {'X-Request-ID': 'third'}))
    const got = []
    for (let i = 0; i < 3; i++) got.push(await conn.readResponse())
    assert.deepEqual(got.map((r) => JSON.parse(r.body.toString()).payload.i), [1, 2, 3])
    assert.equal(got[2]!.headers['x-request-id'], 'third')
    assert.equal(got[0]!.headers.connection, 'keep-alive')
    assert.match(got[0]!.headers['keep-alive'] ?? '', /^timeout=\d+$/)
    assert.equal(conn.closed, false)

    // HTTP/1.0 without keep-alive closes after the response.
    conn.write('GET /healthz HTTP/1.0\r\n\r\n')
    const old = await conn.readResponse()
    assert.equal(old.status, 200)
    assert.ok(await conn.waitClosed())
  })

  it('marks event lines when events share standard error with the log (--events-fd 2, as in a container)', async () => {
    const h = await startHarness({predictor: 'echo', extraArgs: ['--events-fd', '2'], waitReady: false})
    assert.ok(await waitUntil(() => h.stderr.includes('@mlserve-event {"event": "ready"'), 15_000), h.stderr)
    const lines = h.stderr.split('\n').filter((line) => line.startsWith('@mlserve-event '))
    assert.deepEqual(lines.map((line) => JSON.parse(line.slice('@mlserve-event '.length)).event), ['listening', 'worker_ready', 'ready'])
    assert.match(h.stderr, /^\[mlserve\] api=echo ready on/m)
  })

  it('takes every option from the environment when no flags are given', async () => {
    const h = await startHarness({
      predictor: 'echo',
      noFlags: true,
      env: {
        MLSERVE_HOST: '127.0.0.1',
        MLSERVE_PORT: '0',
        MLSERVE_PROCESSES: '2',
        MLSERVE_THREADS: '1',
        MLSERVE_PROJECT_DIR: join(fixturesDir, 'echo'),
        MLSERVE_PREDICTOR: 'predictor.py',
        MLSERVE_CONFIG_JSON: '{"from":"env"}',
        MLSERVE_EVENTS_FD: '3',
      },
    })
    const ready = await h.waitFor('ready')
    assert.equal((ready.pids as number[]).length, 2)
    assert.deepEqual((await postJson(h.port, {})).json().config, {from: 'env'})
  })
})

describe('harness: concurrency', () => {
  it('runs processes × threads requests at once, in distinct processes, and queues the next one', async () => {
    const h = await startHarness({predictor: 'sleep', processes: 2, threads: 2, config: {seconds: 1.5}})
    const ready = await h.waitFor('ready')
    const responses = await Promise.all([1, 2, 3, 4, 5].map((tag) => postJson(h.port, {tag})))
    for (const r of responses) assert.equal(r.status, 200, r.text)
    const runs = responses.map((r) => r.json()).sort((a, b) => a.start - b.start)
    const firstFour = runs.slice(0, 4)
    const fifth = runs[4]
    const firstEnd = Math.min(...firstFour.map((r) => r.end))
    // All four started before any of them finished: they overlapped.
    for (const r of firstFour) assert.ok(r.start < firstEnd, `start ${r.start} >= first end ${firstEnd}`)
    // Two processes served them, two threads each.
    assert.equal(new Set(firstFour.map((r) => r.pid)).size, 2)
    assert.equal(new Set(firstFour.map((r) => `${r.pid}/${r.thread}`)).size, 4)
    for (const r of runs) assert.ok((ready.pids as number[]).includes(r.pid))
    // The fifth waited for a thread to come free.
    assert.ok(fifth.start >= firstEnd - 0.05, `fifth started at ${fifth.start}, first end ${firstEnd}`)
  })

  it('constructs the predictor once in each process', async () => {
    const h = await startHarness({predictor: 'echo', processes: 2, threads: 2})
    const ready = await h.waitFor('ready')
    const rounds = []
    for (let round = 0; round < 2; round++) {
      rounds.push(...(await Promise.all([1, 2, 3, 4].map(() => postJson(h.port, {sleep: 0.4})))))
    }
    const bodies = rounds.map((r) => r.json())
    const pids = new Set(bodies.map((b) => b.pid))
    assert.deepEqual([...pids].sort(), [...(ready.pids as number[])].sort())
    assert.ok(!pids.has(h.masterPid))
    for (const b of bodies) assert.equal(b.constructions, 1)
  })

  it('lets more keep-alive connections than processes × threads all get answers (idle threads yield)', async () => {
    const h = await startHarness({predictor: 'echo', processes: 1, threads: 1, keepaliveS: 60})
    const conns = await Promise.all([0, 1, 2].map(() => RawConnection.open(h.port)))
    for (const [i, c] of conns.entries()) c.write(rawPost('/predict', JSON.stringify({conn: i})))
    // Without yielding, the 2nd and 3rd would wait for the first's 60 s keep-alive timeout.
    const answers = await Promise.all(conns.map((c) => c.readResponse(8_000)))
    assert.deepEqual(
      answers.map((a) => JSON.parse(a.body.toString()).payload.conn),
      [0, 1, 2],
    )
    for (const a of answers) assert.equal(a.status, 200)
    for (const c of conns) c.close()
  })

  it('answers a health probe on a new connection without closing an idle one its client holds (no request crosses a close)', async () => {
    // A gateway holds one connection per thread; a probe (its own readiness check, a kubelet's) arrives on a new one.
    const h = await startHarness({predictor: 'echo', processes: 1, threads: 2, keepaliveS: 60})
    const held = await Promise.all([0, 1].map(() => RawConnection.open(h.port)))
    for (const [i, c] of held.entries()) {
      c.write(rawPost('/predict', JSON.stringify({held: i})))
      assert.equal((await c.readResponse(8_000)).status, 200)
    }
    // Both threads now hold an idle connection, well past the yield grace.
    await new Promise((resolve) => setTimeout(resolve, 300))
    for (const target of ['/healthz', '/healthz?probe=2']) {
      const probe = await RawConnection.open(h.port)
      probe.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)
      const answer = await probe.readResponse(8_000)
      assert.equal(answer.status, 200)
      assert.deepEqual(JSON.parse(answer.body.toString()), {status: 'ready'})
      assert.match(answer.headers.connection ?? '', /close/i)
      assert.equal(await probe.waitClosed(5_000), true, 'the harness closes the probe connection')
    }
    for (const c of held) assert.equal(c.closed, false, 'a held connection was closed for the probe')
    for (const [i, c] of held.entries()) {
      c.write(rawPost('/predict', JSON.stringify({again: i})))
      const answer = await c.readResponse(8_000)
      assert.equal(answer.status, 200)
      assert.equal(JSON.parse(answer.body.toString()).payload.again, i)
    }
    // Any other request on a new connection still takes an idle one's place.
    const client = await RawConnection.open(h.port)
    client.write(rawPost('/predict', JSON.stringify({newcomer: true})))
    assert.equal((await client.readResponse(8_000)).status, 200)
    for (const c of [...held, client]) c.close()
  })
})

describe('harness: failures', () => {
  it('answers 500 with an error_id when predict raises, and the process keeps serving', async () => {
    const h = await startHarness({predictor: 'raises'})
    const ok1 = await postJson(h.port, {})
    const fail = await postJson(h.port, {fail: true})
    assert.equal(fail.status, 500)
    const err = fail.json()
    assert.equal(err.error, 'ValueError: asked to fail')
    assert.match(err.error_id, /^[0-9a-f]{8}$/)
    const ok2 = await postJson(h.port, {})
    assert.equal(ok2.status, 200)
    assert.equal(ok2.json().pid, ok1.json().pid)
    await waitUntil(() => h.stderr.includes(err.error_id), 2000)
    assert.match(h.stderr, new RegExp(`error_id=${err.error_id}[^]*Traceback[^]*ValueError: asked to fail`))
  })

  it('restarts a worker that crashes after ready, and serves again', async () => {
    const h = await startHarness({predictor: 'crash', processes: 1, threads: 1})
    const first = (await postJson(h.port, {})).json().pid
    await assert.rejects(postJson(h.port, {crash: true}))
    const exitEvent = await h.waitFor('worker_exit')
    assert.deepEqual({worker: exitEvent.worker, pid: exitEvent.pid, code: exitEvent.code, signal: exitEvent.signal}, {
      worker: 0,
      pid: first,
      code: 1,
      signal: null,
    })
    const restart = await h.waitFor('worker_restart')
    assert.equal(restart.worker, 0)
    assert.equal(restart.delay_s, 0.5)
    assert.notEqual(restart.pid, first)
    await h.waitFor((e) => e.event === 'worker_ready' && e.pid === restart.pid)
    const again = await postJson(h.port, {})
    assert.equal(again.status, 200)
    assert.equal(again.json().pid, restart.pid)
    assert.match(h.stderr, new RegExp(`worker 0 \\(pid ${first}\\) exited with code 1; restarting in 0.5s`))
    assert.equal(h.events.filter((e) => e.event === 'ready').length, 1)
  })

  it('restarts a worker killed by a signal and reports the signal', async () => {
    const h = await startHarness({predictor: 'echo', processes: 2, threads: 1})
    const ready = await h.waitFor('ready')
    const victim = (ready.pids as number[])[1]!
    process.kill(victim, 'SIGKILL')
    const exitEvent = await h.waitFor('worker_exit')
    assert.equal(exitEvent.pid, victim)
    assert.equal(exitEvent.code, -9)
    assert.equal(exitEvent.signal, 'SIGKILL')
    const restart = await h.waitFor('worker_restart')
    await h.waitFor((e) => e.event === 'worker_ready' && e.pid === restart.pid)
    assert.equal((await postJson(h.port, {})).status, 200)
  })

  for (const [fixture, pattern] of [
    ['import_error', /ModuleNotFoundError: No module named 'mlserve_module_that_does_not_exist'/],
    ['init_error', /RuntimeError: cannot load the model: weights.bin is missing/],
  ] as const) {
    it(`fails fast with exit code 3 and the traceback when the predictor cannot load (${fixture})`, async () => {
      const started = Date.now()
      const h = await startHarness({predictor: fixture, processes: 2, threads: 1, waitReady: false})
      const exit = await h.waitExit(15_000)
      assert.equal(exit.code, 3)
      assert.ok(Date.now() - started < 10_000)
      assert.match(h.stderr, /Traceback \(most recent call last\)/)
      assert.match(h.stderr, pattern)
      const failed = h.events.find((e) => e.event === 'load_failed')
      assert.ok(failed, JSON.stringify(h.events))
      assert.match(String(failed.traceback), pattern)
      assert.equal(h.events.some((e) => e.event === 'ready'), false)
      // No worker outlives the failed start.
      for (const pid of h.workerPids) assert.ok(await waitUntil(() => !isAlive(pid), 3000), `worker ${pid} still alive`)
    })
  }
})

describe('harness: clients that leave (a gateway timeout, 504)', () => {
  it('finishes the abandoned prediction quietly, skips one whose client left while it queued, and serves the next', async () => {
    const h = await startHarness({predictor: 'tally', processes: 1, threads: 1})
    // The gateway times out on a running request and drops its connection...
    const running = await RawConnection.open(h.port)
    running.write(rawPost('/predict', JSON.stringify({seconds: 3, tag: 'abandoned-running'})))
    await new Promise((r) => setTimeout(r, 300))
    running.close()
    // ...and on one still waiting in the backlog for the busy thread.
    const queued = await RawConnection.open(h.port)
    queued.write(rawPost('/predict', JSON.stringify({seconds: 3, tag: 'abandoned-queued'})))
    await new Promise((r) => setTimeout(r, 300))
    queued.close()
    const next = await RawConnection.open(h.port)
    next.write(rawPost('/predict', JSON.stringify({tag: 'next'})))
    const res = await next.readResponse(15_000)
    assert.equal(res.status, 200)
    assert.deepEqual(JSON.parse(res.body.toString()).ran, ['abandoned-running', 'next'])
    next.close()
    // Writing the first answer into a closed socket is not an error worth a line.
    assert.doesNotMatch(h.stderr, /Traceback|Error|error/)
  })
})

describe('harness: predictor forms and batching', () => {
  it('serves the Cortex Handler form with query_params (and handle_get)', async () => {
    const h = await startHarness({predictor: 'handler'})
    const res = await postJson(h.port, {v: 1}, {path: '/predict?a=1&b=two%20words'})
    assert.equal(res.status, 200)
    assert.deepEqual(res.json().payload, {v: 1})
    assert.deepEqual(res.json().query_params, {a: '1', b: 'two words'})
    const get = await httpCall(h.port, {method: 'GET', path: '/predict?x=9', headers: {'user-agent': 'tests'}})
    assert.equal(get.status, 200)
    assert.deepEqual(get.json(), {get: true, query_params: {x: '9'}, user_agent_seen: true})
    const del = await httpCall(h.port, {method: 'DELETE', path: '/predict'})
    assert.equal(del.status, 405)
  })

  it('batches concurrent requests up to max_batch_size', async () => {
    const h = await startHarness({predictor: 'batch', processes: 1, threads: 4, batchMaxSize: 4, batchIntervalMs: 10_000})
    const started = Date.now()
    const res = await Promise.all([0, 1, 2, 3].map((i) => postJson(h.port, {i})))
    assert.ok(Date.now() - started < 8_000, 'a full batch does not wait for the interval')
    for (const [i, r] of res.entries()) {
      assert.equal(r.status, 200, r.text)
      assert.equal(r.json().batch_size, 4)
      assert.deepEqual(r.json().item, {i})
    }
  })

  it('runs a lone request after batch_interval with a batch of 1', async () => {
    const h = await startHarness({predictor: 'batch', processes: 1, threads: 4, batchMaxSize: 4, batchIntervalMs: 100})
    const res = await postJson(h.port, {lone: true})
    assert.equal(res.status, 200)
    assert.equal(res.json().batch_size, 1)
    assert.deepEqual(res.json().item, {lone: true})
  })

  it('answers 500 to every request of a batch whose result has the wrong length', async () => {
    const h = await startHarness({predictor: 'batch', processes: 1, threads: 2, batchMaxSize: 2, batchIntervalMs: 10_000})
    const res = await Promise.all([postJson(h.port, {wrong_length: true}), postJson(h.port, {})])
    for (const r of res) {
      assert.equal(r.status, 500)
      assert.match(r.json().error, /1 results for a batch of 2/)
    }
    assert.equal(res[0]!.json().error_id, res[1]!.json().error_id)
  })
})

describe('harness: shutdown and health', () => {
  it('drains on SIGTERM: the request in flight gets its answer, then the master exits 0 and no worker is left', async () => {
    const h = await startHarness({predictor: 'sleep', processes: 2, threads: 1, config: {seconds: 1.5}})
    const workers = h.workerPids
    assert.equal(workers.length, 2)
    const inFlight = postJson(h.port, {tag: 'in-flight'})
    await new Promise((r) => setTimeout(r, 500))
    process.kill(h.masterPid, 'SIGTERM')
    const res = await inFlight
    assert.equal(res.status, 200)
    assert.equal(res.json().tag, 'in-flight')
    assert.equal(res.headers.connection, 'close')
    const exit = await h.waitExit(10_000)
    assert.equal(exit.code, 0)
    assert.ok(h.events.some((e) => e.event === 'stopped'))
    for (const pid of workers) assert.equal(isAlive(pid), false, `worker ${pid} outlived the master`)
  })

  it('with a stop delay, serves new requests on a kept-alive connection after SIGTERM until the delay ends, then drains', async () => {
    const h = await startHarness({predictor: 'sleep', processes: 1, threads: 2, config: {seconds: 0.01}, extraArgs: ['--stop-delay-s', '1.5']})
    const agent = new Agent({keepAlive: true, maxSockets: 1})
    try {
      assert.equal((await postJson(h.port, {tag: 'before'}, {agent})).status, 200)
      const stopped = Date.now()
      process.kill(h.masterPid, 'SIGTERM')
      await waitUntil(() => h.stderr.includes('serving 1.5s more before draining'), 5_000)
      // A gateway that has not yet learned the task is leaving still sends on its pooled connection: it is answered.
      const during = await postJson(h.port, {tag: 'during'}, {agent})
      assert.equal(during.status, 200)
      assert.equal(during.json().tag, 'during')
      assert.ok(Date.now() - stopped < 1_500, 'answered within the delay')
      assert.equal((await h.waitExit(10_000)).code, 0)
      assert.ok(Date.now() - stopped >= 1_500, 'the drain began only after the delay')
      assert.match(h.stderr, /draining requests in flight/)
    } finally {
      agent.destroy()
    }
  })

  it('drains when standard input reaches end of file (the driver went away)', async () => {
    const h = await startHarness({predictor: 'echo', processes: 2, threads: 1})
    const workers = h.workerPids
    h.child.stdin!.end()
    const exit = await h.waitExit(10_000)
    assert.equal(exit.code, 0)
    for (const pid of workers) assert.equal(isAlive(pid), false)
  })

  it('drains once when the driver stops it both ways at once (end of stdin, then SIGTERM), as mlserve does', async () => {
    const h = await startHarness({predictor: 'sleep', processes: 1, threads: 1, config: {seconds: 1.5}})
    const inFlight = postJson(h.port, {tag: 'in-flight'})
    await new Promise((r) => setTimeout(r, 500))
    h.child.stdin!.end()
    process.kill(h.masterPid, 'SIGTERM')
    const res = await inFlight
    assert.equal(res.status, 200)
    assert.equal(res.json().tag, 'in-flight')
    assert.equal((await h.waitExit(10_000)).code, 0)
    assert.doesNotMatch(h.stderr, /second stop signal/)
    assert.match(h.stderr, /draining requests in flight/)
  })

  it('kills the workers at once on a second signal during the drain', async () => {
    const h = await startHarness({predictor: 'sleep', processes: 1, threads: 1, config: {seconds: 20}})
    const inFlight = postJson(h.port, {tag: 'in-flight'}).then(
      (r) => r.status,
      () => 'no answer',
    )
    await new Promise((r) => setTimeout(r, 500))
    process.kill(h.masterPid, 'SIGTERM')
    await waitUntil(() => h.stderr.includes('draining requests in flight'), 5_000)
    process.kill(h.masterPid, 'SIGTERM')
    assert.equal((await h.waitExit(10_000)).code, 0)
    assert.match(h.stderr, /second stop signal: killing workers/)
    assert.equal(await inFlight, 'no answer')
  })

  it('takes the workers down when the master is SIGKILLed', async () => {
    const h = await startHarness({predictor: 'echo', processes: 2, threads: 2})
    const workers = h.workerPids
    assert.equal(workers.length, 2)
    process.kill(h.masterPid, 'SIGKILL')
    await h.waitExit(5_000)
    const gone = await waitUntil(() => workers.every((pid) => !isAlive(pid)), 5_000)
    assert.ok(gone, `workers still alive: ${workers.filter(isAlive).join(', ')}`)
  })

  it('check exits 0 only while the replica is ready', async () => {
    const statusFile = join(tempDir(), 'status.json')
    const check = () => spawnSync(python, [harnessPath, 'check', '--status-file', statusFile], {encoding: 'utf8'}).status
    assert.equal(check(), 1, 'no status file yet')
    const h = await startHarness({predictor: 'sleep', processes: 1, threads: 1, statusFile, config: {seconds: 0}})
    const status = JSON.parse(readFileSync(statusFile, 'utf8'))
    assert.equal(status.status, 'ready')
    assert.equal(status.port, h.port)
    assert.equal(check(), 0)
    // Through the environment, as a Docker HEALTHCHECK would.
    const viaEnv = spawnSync(python, [harnessPath, 'check'], {encoding: 'utf8', env: {...process.env, MLSERVE_STATUS_FILE: statusFile}})
    assert.equal(viaEnv.status, 0)
    process.kill(h.masterPid, 'SIGTERM')
    await h.waitExit(10_000)
    assert.equal(check(), 1, 'not ready after stopping')
  })
})

// RFC 9112's framing rules: a message whose length two parties could read
// differently (request smuggling behind a proxy) is refused with 400 and the
// connection closed, before any predictor runs.
describe('harness: HTTP framing (RFC 9112)', () => {
  const chunked = (sizeLine: string) =>
    'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n' +
    `${sizeLine}\r\n{}\r\n0\r\n\r\n`

  const rejected: Array<[string, string]> = [
    ['a chunk size with a 0x prefix', chunked('0x2')],
    ['a chunk size with a sign', chunked('+2')],
    ['a chunk size after a space', chunked(' 2')],
    ['a chunk size before a space', chunked('2 ')],
    ['an empty chunk size', chunked('')],
    ['an empty chunk size before an extension', chunked(';ext=1')],
    ['two Content-Length headers that differ', 'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}x'],
    ['two identical Content-Length headers', 'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}'],
    ['a Content-Length list', 'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 2, 3\r\n\r\n{}x'],
    ['a Content-Length list of equal values', 'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 2, 2\r\n\r\n{}'],
    ['Content-Length with Transfer-Encoding', 'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n'],
    ['Transfer-Encoding with Content-Length after it', 'POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n2\r\n{}\r\n0\r\n\r\n'],
    ['two Transfer-Encoding headers', 'POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n'],
    ['an obs-fold line starting with a space', 'POST /predict HTTP/1.1\r\nHost: x\r\nX-Long: one\r\n two\r\nContent-Length: 2\r\n\r\n{}'],
    ['an obs-fold line starting with a tab', 'POST /predict HTTP/1.1\r\nHost: x\r\nX-Long: one\r\n\ttwo\r\nContent-Length: 2\r\n\r\n{}'],
    ['an obs-fold line that looks like a header', 'POST /predict HTTP/1.1\r\nHost: x\r\nX-Long: one\r\n Content-Length: 5\r\nContent-Length: 2\r\n\r\n{}'],
  ]

  it('answers 400 and closes the connection for each ambiguous framing, and keeps serving', async () => {
    const h = await startHarness({predictor: 'echo'})
    const seen: string[] = []
    for (const [what, raw] of rejected) {
      const conn = await RawConnection.open(h.port)
      conn.write(raw)
      const res = await conn.readResponse()
      seen.push(`${what}: ${res.status}`)
      assert.equal(res.status, 400, `${what}: ${res.status} ${res.body.toString()}`)
      assert.equal(res.headers.connection, 'close', what)
      assert.ok(await conn.waitClosed(), `${what}: the connection stays open`)
    }
    assert.equal(seen.length, rejected.length)
    assert.equal((await postJson(h.port, {ok: 1})).status, 200)
  })

  it('still reads chunk extensions, with or without whitespace before the semicolon, and upper-case hex', async () => {
    const h = await startHarness({predictor: 'echo'})
    const conn = await RawConnection.open(h.port)
    conn.write(
      'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n' +
        '5;name=value\r\n{"a":\r\n3 ;ext\r\n 42\r\nA\t; x="y"\r\n,"b":"12"}\r\n0\r\n\r\n',
    )
    const res = await conn.readResponse()
    assert.equal(res.status, 200, res.body.toString())
    assert.deepEqual(JSON.parse(res.body.toString()).payload, {a: 42, b: '12'})
    conn.close()
  })
})
