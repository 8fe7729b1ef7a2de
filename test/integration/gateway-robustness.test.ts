// The gateway under bad clients and shutdowns: real Python replicas behind the
// real gateway, misbehaving clients on raw sockets over loopback.
import {describe, test, after, afterEach} from 'node:test'
import assert from 'node:assert/strict'
import {connect, type Socket} from 'node:net'
import {request} from 'undici'
import {loadProject} from '../../src/config/index.js'
import {planRuntime, type PlanOptions} from '../../src/runtime/plan.js'
import {Runtime, runtimeDefaults} from '../../src/runtime/runtime.js'
import {sleepProject, makeProject, type TestProject} from '../helpers/projects.js'
import {post, waitFor} from '../helpers/http.js'

const projects: TestProject[] = []
const runtimes: Runtime[] = []
const sockets: Socket[] = []
after(() => projects.forEach((p) => p.cleanup()))
afterEach(async () => {
  sockets.splice(0).forEach((s) => s.destroy())
  await Promise.all(runtimes.splice(0).map((r) => r.stop({drain: false})))
})

async function start(project: TestProject, options: Partial<PlanOptions> = {}): Promise<Runtime> {
  projects.push(project)
  const plan = await planRuntime(await loadProject(project.dir), {...runtimeDefaults, port: 0, announce: false, ...options})
  const runtime = await Runtime.start(plan, {log: () => undefined})
  runtimes.push(runtime)
  return runtime
}

/** A raw client: connects, and collects everything the gateway sends until it closes. */
function rawClient(runtime: Runtime): {socket: Socket; received: () => string; closed: Promise<void>} {
  const socket = connect(runtime.gateway.port, '127.0.0.1')
  sockets.push(socket)
  let text = ''
  socket.on('data', (chunk) => (text += chunk.toString('latin1')))
  socket.on('error', () => undefined)
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  return {socket, received: () => text, closed}
}

const replica = (runtime: Runtime, i = 0) => runtime.status().apis[0].replicas[i]

async function metricsText(runtime: Runtime): Promise<string> {
  return (await request(`${runtime.url}/metrics`)).body.text()
}

describe('slow clients hold no replica slot', () => {
  test('a slow upload takes no slot: a normal request on a 1 × 1 replica is answered while it trickles', async () => {
    const runtime = await start(sleepProject({processes: 1, threads: 1, maxReplicaConcurrency: 1, maxReplicas: 1}))
    const slow = rawClient(runtime)
    slow.socket.write('POST /sleepy HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{')
    // Eight more uploads that send their headers and one body byte: before, each took a slot or a queue place.
    for (let i = 0; i < 8; i++) rawClient(runtime).socket.write('POST /sleepy HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{')
    await new Promise((r) => setTimeout(r, 300))
    assert.equal(replica(runtime).running, 0, 'no slot is held while bodies arrive')
    const normal = await post(runtime.endpointUrl('sleepy'), {})
    assert.equal(normal.status, 200, 'a normal request is served, not shed "at capacity"')
    // When the slow body completes, it is served in turn.
    slow.socket.write('"sleep": 0, "x": 1}')
    await waitFor(() => slow.received().includes('\r\n\r\n{'), 'the slow upload to be answered')
    assert.match(slow.received(), /^HTTP\/1\.1 200/)
  })

  test('a header trickled byte by byte gets 408 and is closed at the headers deadline; so is an idle connection', async () => {
    const runtime = await start(sleepProject(), {headersTimeoutMs: 1000, requestTimeoutMs: 2000})
    const trickle = rawClient(runtime)
    const idle = rawClient(runtime)
    const header = 'POST /sleepy HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(100)
    let i = 0
    const timer = setInterval(() => {
      if (!trickle.socket.destroyed && i < header.length) trickle.socket.write(header[i++])
    }, 100)
    try {
      await trickle.closed
      await idle.closed
    } finally {
      clearInterval(timer)
    }
    assert.ok(i < header.length, 'closed before the header was complete')
    assert.match(trickle.received(), /^HTTP\/1\.1 408 /)
    assert.match(trickle.received(), /"code":"MLS_GATEWAY_REQUEST_TIMEOUT"/)
    assert.match(idle.received(), /^HTTP\/1\.1 408 /)
    assert.match(await metricsText(runtime), /mlserve_requests_total\{api="-",replica="-",code="408"\} 2/)
  })

  test('a body that does not arrive within the request deadline gets 408, counted against its API', async () => {
    const runtime = await start(sleepProject(), {headersTimeoutMs: 1000, requestTimeoutMs: 1500})
    const slow = rawClient(runtime)
    slow.socket.write('POST /sleepy HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{"a":')
    await slow.closed
    assert.match(slow.received(), /^HTTP\/1\.1 408 /)
    assert.match(slow.received(), /body did not arrive/)
    const metrics = await metricsText(runtime)
    assert.match(metrics, /mlserve_requests_total\{api="sleepy",replica="-",code="408"\} 1/)
    assert.equal(replica(runtime).running, 0)
  })
})

describe('replicas that die, and requests that time out', () => {
  test('queued requests of a replica whose workers die move to a ready replica', async () => {
    const runtime = await start(sleepProject({processes: 1, threads: 1, minReplicas: 2, maxReplicaConcurrency: 4}))
    const url = runtime.endpointUrl('sleepy')
    const long = [post(url, {sleep: 3}), post(url, {sleep: 3})]
    await waitFor(() => replica(runtime, 0).running === 1 && replica(runtime, 1).running === 1, 'both replicas busy')
    const short = [post(url, {}), post(url, {})]
    await waitFor(() => replica(runtime, 0).queued === 1 && replica(runtime, 1).queued === 1, 'one queued on each')
    process.kill(-replica(runtime, 0).pid!, 'SIGKILL')
    await waitFor(() => replica(runtime, 1).queued === 2 || replica(runtime, 1).running === 1, 'the queue to move')
    const shortAnswers = await Promise.all(short)
    assert.deepEqual(shortAnswers.map((a) => a.status), [200, 200], 'the queued requests were served by the other replica')
    assert.equal(new Set(shortAnswers.map((a) => a.body.pid)).size, 1)
    const longAnswers = await Promise.all(long)
    assert.deepEqual(longAnswers.map((a) => a.status).sort(), [200, 502])
    const failed = longAnswers.find((a) => a.status === 502)!
    assert.equal(failed.body.code, 'MLS_GATEWAY_REPLICA_FAILED')
    assert.doesNotMatch(failed.body.error, /assert|undici|UND_ERR|statusCode/i, 'no client-library internals')
  })

  test('with no other replica, the queue of a dead replica gets 503 at once, counted', async () => {
    const runtime = await start(sleepProject({processes: 1, threads: 1, maxReplicaConcurrency: 4}), {timeoutMs: 30_000})
    const url = runtime.endpointUrl('sleepy')
    const running = post(url, {sleep: 3})
    await waitFor(() => replica(runtime).running === 1, 'the replica busy')
    const queued = post(url, {})
    await waitFor(() => replica(runtime).queued === 1, 'one queued')
    process.kill(-replica(runtime).pid!, 'SIGKILL')
    const answer = await queued
    assert.equal(answer.status, 503)
    assert.equal(answer.body.code, 'MLS_GATEWAY_NO_REPLICA')
    assert.equal(answer.headers['retry-after'], '1')
    assert.equal((await running).status, 502)
    assert.match(await metricsText(runtime), /mlserve_requests_total\{api="sleepy",replica="-",code="503"\} 1/)
  })

  test('after a 504, the abandoned request keeps its slot until the replica answers, so the next one queues instead of landing on a busy thread', async () => {
    const runtime = await start(sleepProject({processes: 1, threads: 1, maxReplicaConcurrency: 4}), {timeoutMs: 1500})
    const url = runtime.endpointUrl('sleepy')
    const first = await post(url, {sleep: 2.2})
    assert.equal(first.status, 504)
    assert.equal(first.body.code, 'MLS_GATEWAY_TIMEOUT')
    assert.equal(replica(runtime).running, 1, 'the slot stays taken while the replica works on the abandoned request')
    const second = post(url, {})
    await waitFor(() => replica(runtime).queued === 1, 'the next request to queue behind it')
    const answer = await second
    assert.equal(answer.status, 200)
    assert.equal(answer.body.calls, 2, 'the replica ran the abandoned request, then this one')
    await waitFor(() => replica(runtime).running === 0, 'the slot to be free')
  })
})

describe('every answer reaches the client and is counted', () => {
  test('405 on an API and on control routes, 413 from a declared size, 503 while draining: each counted', async () => {
    const runtime = await start(sleepProject({processes: 1, threads: 1}), {maxBodyBytes: 1024, timeoutMs: 10_000})
    const url = runtime.endpointUrl('sleepy')
    const get = await request(url)
    assert.equal(get.statusCode, 405)
    await get.body.dump()
    for (const path of ['/metrics', '/status']) {
      const wrong = await request(`${runtime.url}${path}`, {method: 'POST', body: '{}'})
      assert.equal(wrong.statusCode, 405, `POST ${path}`)
      assert.equal(wrong.headers.allow, 'GET, HEAD')
      assert.equal(((await wrong.body.json()) as {code: string}).code, 'MLS_GATEWAY_METHOD_NOT_ALLOWED')
    }
    const big = await request(url, {method: 'POST', body: 'x'.repeat(4096), headers: {'content-type': 'application/json'}})
    assert.equal(big.statusCode, 413)
    await big.body.dump()

    const inFlight = post(url, {sleep: 1.5})
    await waitFor(() => replica(runtime).running === 1, 'a request in flight')
    const stopping = runtime.stop()
    await waitFor(() => runtime.status().apis.length > 0 && runtime.gateway.inFlight() > 0, 'the drain to start')
    const during = await post(url, {})
    assert.equal(during.status, 503, 'a new request during the drain is answered, not refused')
    assert.equal(during.body.code, 'MLS_GATEWAY_DRAINING')
    assert.equal(during.headers['retry-after'], '1')
    const metrics = await metricsText(runtime)
    assert.equal((await inFlight).status, 200, 'the request in flight finished')
    await stopping
    assert.match(metrics, /mlserve_requests_total\{api="sleepy",replica="-",code="405"\} 1/)
    assert.match(metrics, /mlserve_requests_total\{api="-",replica="-",code="405"\} 2/)
    assert.match(metrics, /mlserve_requests_total\{api="sleepy",replica="-",code="413"\} 1/)
    assert.match(metrics, /mlserve_requests_total\{api="sleepy",replica="-",code="503"\} 1/)
  })

  test('a 413 for a declared Content-Length reaches a client that keeps sending, every time', async () => {
    const runtime = await start(sleepProject(), {maxBodyBytes: 1024})
    const chunk = Buffer.alloc(64 * 1024, 'x')
    for (let i = 0; i < 15; i++) {
      const client = rawClient(runtime)
      client.socket.write(`POST /sleepy HTTP/1.1\r\nHost: x\r\nContent-Length: ${20 * 1024 * 1024}\r\n\r\n`)
      // Keep sending body bytes, as curl does, while the answer comes back.
      for (let k = 0; k < 16 && !client.socket.destroyed; k++) client.socket.write(chunk)
      await client.closed
      assert.match(client.received(), /^HTTP\/1\.1 413 /, `try ${i + 1}: the 413 arrived, not a reset`)
      assert.match(client.received(), /[Cc]onnection: close/)
    }
  })

  test('a replica that answers with invalid HTTP gets a 502 from the registry, without library internals', async () => {
    const server = `
import socket, os
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(os.environ["PORT"]))); s.listen(16)
while True:
    c, _ = s.accept()
    data = c.recv(65536)
    if data.startswith(b"GET /healthz"):
        c.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok")
    else:
        c.sendall(b"HTTP/1.1 20 Nonsense\\r\\n\\r\\n")
    c.close()
`
    const project = makeProject({
      'server.py': server,
      'mlserve.yaml': `name: bad\npredictor:\n  type: command\n  command: ["python3", "server.py"]\n`,
    })
    const runtime = await start(project)
    const answer = await post(runtime.endpointUrl('bad'), {})
    assert.equal(answer.status, 502)
    assert.equal(answer.body.code, 'MLS_GATEWAY_REPLICA_FAILED')
    assert.match(answer.body.error, /^Replica bad-0 failed to answer: /)
    assert.doesNotMatch(answer.body.error, /assert|statusCode|undici|UND_ERR/i)
  })
})
