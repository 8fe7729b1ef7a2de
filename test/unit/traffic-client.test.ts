// The traffic client against a fake gateway on loopback that speaks the
// control routes' contract: arguments, the fill-in rule, finding the runtime
// and its token, and every error answer as the mlserve error it stands for.
import {test, after} from 'node:test'
import assert from 'node:assert/strict'
import {createServer, type IncomingMessage, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import * as hdr from 'hdr-histogram-js'
import {
  allTargets,
  applyPlan,
  completeWeights,
  diff,
  findProjectTarget,
  findSplitterTarget,
  parseWeightArgs,
  rollback,
  setWeights,
  splitterStatus,
  targetAt,
  trafficStatus,
  type TrafficTarget,
} from '../../src/client/traffic.js'
import {MlserveError} from '../../src/errors.js'
import type {RuntimeRecord} from '../../src/runtime/state.js'
import type {SplitterStatus} from '../../src/runtime/gateway/traffic-types.js'
import {latencyPercentiles, renderSplitterText, renderWeightChange, splitterView} from '../../src/report/traffic.js'

const TOKEN = 'a'.repeat(64)

const splitter = (): SplitterStatus => ({
  name: 'iris',
  endpoint: '/iris',
  weights: {'iris-a': 90, 'iris-b': 10},
  shadow: {api: 'iris-c', percent: 20},
  previous: null,
  changedAt: '2026-12-04T12:00:00.000Z',
  routed: {'iris-a': 75, 'iris-b': 25},
})

const isCode = (code: string, message?: RegExp) => (error: unknown) => {
  assert.ok(error instanceof MlserveError, String(error))
  assert.equal(error.code, code)
  if (message) assert.match(`${error.message}\n${error.suggestion}`, message)
  return true
}

// ---------------------------------------------------------------------------
// Arguments and the fill-in rule

test('API=WEIGHT words parse into weights', () => {
  assert.deepEqual(parseWeightArgs(['iris-a=90', 'iris-b=10']), {'iris-a': 90, 'iris-b': 10})
  assert.deepEqual(parseWeightArgs(['iris-b=0']), {'iris-b': 0})
})

test('a word that is not API=WEIGHT is a usage error naming it', () => {
  assert.throws(() => parseWeightArgs(['iris-a:90']), isCode('MLS_USAGE', /"iris-a:90" is not API=WEIGHT/))
  assert.throws(() => parseWeightArgs(['=90']), isCode('MLS_USAGE', /"=90"/))
  assert.throws(() => parseWeightArgs(['iris-a=101']), isCode('MLS_USAGE', /"iris-a=101".*0 to 100/))
  assert.throws(() => parseWeightArgs(['iris-a=1.5']), isCode('MLS_USAGE', /"iris-a=1\.5"/))
  assert.throws(() => parseWeightArgs(['iris-a=-1']), isCode('MLS_USAGE', /"iris-a=-1"/))
  assert.throws(() => parseWeightArgs(['iris-a=']), isCode('MLS_USAGE', /"iris-a="/))
  assert.throws(() => parseWeightArgs(['iris-a=50', 'iris-a=50']), isCode('MLS_USAGE', /iris-a is given twice/))
  assert.throws(() => parseWeightArgs([]), isCode('MLS_USAGE', /no API=WEIGHT/))
  assert.throws(() => parseWeightArgs(['iris-a=50', '--wirte']), isCode('MLS_USAGE', /"--wirte" is neither API=WEIGHT nor a flag/))
})

test('the one non-shadow API left out gets what the others leave of 100', () => {
  assert.deepEqual(completeWeights(splitter(), {'iris-b': 50}), {'iris-a': 50, 'iris-b': 50})
  assert.deepEqual(completeWeights(splitter(), {'iris-a': 100}), {'iris-a': 100, 'iris-b': 0})
  const three = {...splitter(), weights: {a: 50, b: 30, c: 20}}
  assert.deepEqual(completeWeights(three, {a: 10, c: 10}), {a: 10, b: 80, c: 10})
})

test('every non-shadow API given must add up to 100', () => {
  assert.deepEqual(completeWeights(splitter(), {'iris-a': 25, 'iris-b': 75}), {'iris-a': 25, 'iris-b': 75})
  assert.throws(() => completeWeights(splitter(), {'iris-a': 25, 'iris-b': 70}), isCode('MLS_GATEWAY_BAD_WEIGHTS', /add up to 95; they must add up to 100/))
})

test('more than one API left out, too much for the one left, an unknown API or the shadow are refused before anything is sent', () => {
  const three = {...splitter(), weights: {a: 50, b: 30, c: 20}}
  assert.throws(() => completeWeights(three, {a: 100}), isCode('MLS_GATEWAY_BAD_WEIGHTS', /b, c are both left out/))
  assert.throws(() => completeWeights(three, {a: 60, b: 50}), isCode('MLS_GATEWAY_BAD_WEIGHTS', /add up to 110, which leaves nothing for c/))
  assert.throws(() => completeWeights(splitter(), {'iris-z': 10}), isCode('MLS_GATEWAY_BAD_WEIGHTS', /iris-z is not an API of the splitter \(its APIs are iris-a, iris-b\)/))
  assert.throws(() => completeWeights(splitter(), {'iris-c': 10}), isCode('MLS_GATEWAY_BAD_WEIGHTS', /iris-c is the splitter's shadow API/))
})

// ---------------------------------------------------------------------------
// Finding the runtime and its token

const record = (url: string, extra: Record<string, unknown> = {}): RuntimeRecord =>
  ({pid: process.pid, url, project: '/p/mlserve.yaml', startedAt: '2026-12-04T12:00:00.000Z', apis: [], splitters: [], driver: 'process', token: 'b'.repeat(64), ...extra}) as RuntimeRecord

test('the runtime serving a splitter is the newest record that lists it, with its token', () => {
  const records = [
    record('http://127.0.0.1:9001', {token: 'new', splitters: [{name: 'other', endpoint: '/other'}]}),
    record('http://127.0.0.1:9000', {token: TOKEN, splitters: [{name: 'iris', endpoint: '/iris'}]}),
  ]
  const target = findSplitterTarget('iris', undefined, records)
  assert.equal(target.url, 'http://127.0.0.1:9000')
  assert.equal(target.token, TOKEN)
  assert.throws(() => findSplitterTarget('nope', undefined, records), isCode('MLS_RUNTIME_NOT_FOUND', /named "nope".*9001 serves other.*9000 serves iris/))
  assert.throws(() => findSplitterTarget('iris', undefined, []), isCode('MLS_RUNTIME_NOT_FOUND', /no `mlserve run` is running/))
  assert.throws(() => allTargets(undefined, []), isCode('MLS_RUNTIME_NOT_FOUND'))
})

test('--url wins, and the token comes from the record at that url (localhost or a trailing slash alike)', () => {
  const records = [record('http://127.0.0.1:9000', {token: TOKEN, splitters: [{name: 'iris', endpoint: '/iris'}]})]
  assert.equal(findSplitterTarget('iris', 'http://localhost:9000/', records).token, TOKEN)
  assert.equal(findSplitterTarget('iris', 'http://localhost:9000/', records).url, 'http://localhost:9000')
  const elsewhere = targetAt('http://127.0.0.1:9999', records)
  assert.equal(elsewhere.token, null)
  assert.equal(elsewhere.record, null)
})

test('apply finds the runtime started from the same config file', () => {
  const records = [record('http://127.0.0.1:9000', {project: '/a/mlserve.yaml'}), record('http://127.0.0.1:9001', {project: '/b/mlserve.yaml'})]
  assert.equal(findProjectTarget('/b/mlserve.yaml', undefined, records).url, 'http://127.0.0.1:9001')
  assert.throws(() => findProjectTarget('/c/mlserve.yaml', undefined, records), isCode('MLS_RUNTIME_NOT_FOUND', /serves \/c\/mlserve\.yaml.*--url/))
})

// ---------------------------------------------------------------------------
// A fake gateway that speaks the contract

interface Seen {
  method: string
  url: string
  authorization: string | undefined
  body: string
}

const seen: Seen[] = []
let state = splitter()

function answer(res: import('node:http').ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, {'content-type': 'application/json'})
  res.end(JSON.stringify(body))
}

const errorBody = (code: string, error: string, suggestion = 'Do the right thing.') => ({error, code, suggestion})

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

const server: Server = createServer(async (req, res) => {
  const body = await readBody(req)
  seen.push({method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization, body})
  const url = new URL(req.url ?? '/', 'http://x')
  const authorized = req.headers.authorization === `Bearer ${TOKEN}`
  const changes = req.method !== 'GET'
  if (changes && !authorized) return answer(res, 401, errorBody('MLS_GATEWAY_CONTROL_UNAUTHORIZED', `Changing the runtime through ${url.pathname} needs its token.`))
  if (url.pathname === '/traffic') {
    const histogram = hdr.build({bitBucketSize: 32, lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3, autoResize: false})
    for (let i = 1; i <= 100; i++) histogram.recordValue(i * 1000)
    const figures = (requests: number) => ({endpoint: '/x', replicas: 2, readyReplicas: 1, codes: {200: requests}, requests, shed: 1, errors: 2, latencyHistogram: hdr.encodeIntoCompressedBase64(histogram), shadow: {sent: 0, completed: 0, shed: 0, failed: 0}})
    return answer(res, 200, {splitters: [state], apis: {'iris-a': figures(75), 'iris-b': figures(25), 'iris-c': {...figures(0), shadow: {sent: 20, completed: 19, shed: 1, failed: 0}}}})
  }
  if (url.pathname === '/apply') return answer(res, 200, {changes: ['Started iris-b (1 replica).']})
  if (url.pathname === '/broken/traffic') {
    res.writeHead(502)
    return res.end('bad gateway')
  }
  const m = /^\/traffic\/([^/]+)(\/rollback|\/diff)?$/.exec(url.pathname)
  if (!m) return answer(res, 404, errorBody('MLS_GATEWAY_NOT_FOUND', `No API is served at ${url.pathname}.`))
  const name = decodeURIComponent(m[1])
  if (name !== state.name) return answer(res, 404, errorBody('MLS_GATEWAY_SPLITTER_NOT_FOUND', `This runtime serves no TrafficSplitter named "${name}".`, 'The runtime serves: iris.'))
  if (m[2] === '/rollback') {
    if (!state.previous) return answer(res, 409, errorBody('MLS_GATEWAY_NOTHING_TO_ROLL_BACK', `TrafficSplitter "${name}" has no earlier weights to restore.`))
    state = {...state, weights: state.previous, previous: state.weights}
    return answer(res, 200, state)
  }
  if (m[2] === '/diff') return answer(res, 200, {tolerance: Number(url.searchParams.get('tolerance')), examples: Number(url.searchParams.get('examples'))})
  if (req.method === 'PUT') {
    const weights = (JSON.parse(body) as {weights: Record<string, number>}).weights
    const sum = Object.values(weights).reduce((a, b) => a + b, 0)
    if (sum !== 100) return answer(res, 400, errorBody('MLS_GATEWAY_BAD_WEIGHTS', `The weights for TrafficSplitter "iris" are not valid: they add up to ${sum}.`))
    state = {...state, previous: state.weights, weights}
  }
  return answer(res, 200, state)
})
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
after(() => server.close())
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
const withToken: TrafficTarget = {url: base, token: TOKEN, record: null}
const without: TrafficTarget = {url: base, token: null, record: null}

test('set, show and roll back against the contract, with the token as a bearer', async () => {
  state = splitter()
  seen.length = 0
  const current = await splitterStatus(withToken, 'iris')
  assert.deepEqual(current.weights, {'iris-a': 90, 'iris-b': 10})
  const after = await setWeights(withToken, 'iris', completeWeights(current, {'iris-b': 50}))
  assert.deepEqual(after.weights, {'iris-a': 50, 'iris-b': 50})
  assert.deepEqual(after.previous, {'iris-a': 90, 'iris-b': 10})
  const put = seen.find((s) => s.method === 'PUT')!
  assert.equal(put.url, '/traffic/iris')
  assert.equal(put.authorization, `Bearer ${TOKEN}`)
  assert.deepEqual(JSON.parse(put.body), {weights: {'iris-a': 50, 'iris-b': 50}})
  const back = await rollback(withToken, 'iris')
  assert.deepEqual(back.weights, {'iris-a': 90, 'iris-b': 10})
  assert.deepEqual(back.previous, {'iris-a': 50, 'iris-b': 50})
  assert.equal(seen.at(-1)!.url, '/traffic/iris/rollback')
})

test('diff and apply send what the contract says', async () => {
  const report = (await diff(withToken, 'iris', {tolerance: 1e-6, examples: 5})) as unknown as {tolerance: number; examples: number}
  assert.deepEqual(report, {tolerance: 1e-6, examples: 5})
  const applied = await applyPlan(withToken, {apis: []}, {timeoutMs: 5_000})
  assert.deepEqual(applied.changes, ['Started iris-b (1 replica).'])
  assert.deepEqual(JSON.parse(seen.at(-1)!.body), {plan: {apis: []}})
})

test("the gateway's error answers become the same mlserve errors, with the gateway's message", async () => {
  state = splitter()
  await assert.rejects(setWeights(without, 'iris', {'iris-a': 100, 'iris-b': 0}), isCode('MLS_GATEWAY_CONTROL_UNAUTHORIZED', /needs its token/))
  await assert.rejects(splitterStatus(withToken, 'rose'), isCode('MLS_GATEWAY_SPLITTER_NOT_FOUND', /named "rose"[^]*serves: iris/))
  await assert.rejects(rollback(withToken, 'iris'), isCode('MLS_GATEWAY_NOTHING_TO_ROLL_BACK'))
  await assert.rejects(setWeights(withToken, 'iris', {'iris-a': 1, 'iris-b': 1}), (error: MlserveError) => {
    isCode('MLS_GATEWAY_BAD_WEIGHTS', /add up to 2/)(error)
    assert.equal(error.exitCode, 2, "the registry's exit code for the code")
    return true
  })
})

test('a gateway without the control routes, a bad answer, and no gateway at all say so', async () => {
  await assert.rejects(applyPlan({...withToken, url: `${base}/nothing`}, {}, {timeoutMs: 5_000}), isCode('MLS_RUNTIME_NOT_FOUND', /has no POST \/apply route/))
  await assert.rejects(trafficStatus({...withToken, url: `${base}/broken`}), isCode('MLS_RUNTIME_NOT_FOUND', /answered GET \/traffic with HTTP 502: bad gateway/))
  const closed = createServer()
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
  const port = (closed.address() as AddressInfo).port
  await new Promise((resolve) => closed.close(resolve))
  await assert.rejects(trafficStatus({url: `http://127.0.0.1:${port}`, token: null, record: null}), isCode('MLS_RUNTIME_NOT_FOUND', /did not answer GET \/traffic \(ECONNREFUSED/))
})

// ---------------------------------------------------------------------------
// Rendering

test('show: shares of the splitter, p50/p99 from the histogram, the shadow and what a rollback restores', async () => {
  state = {...splitter(), previous: {'iris-a': 100, 'iris-b': 0}}
  const status = await trafficStatus(without)
  const view = splitterView(status.splitters[0], status.apis)
  const a = view.apis.find((l) => l.api === 'iris-a')!
  assert.equal(a.share, 0.75)
  assert.equal(a.readyReplicas, 1)
  assert.ok(Math.abs(a.p50Ms! - 50) < 0.1, `p50 ${a.p50Ms}`)
  assert.ok(Math.abs(a.p99Ms! - 99) < 0.1, `p99 ${a.p99Ms}`)
  const shadow = view.apis.find((l) => l.shadow)!
  assert.equal(shadow.api, 'iris-c')
  assert.equal(shadow.share, null)
  const text = renderSplitterText(view)
  assert.match(text, /iris-a\s+90\s+1\/2\s+75\s+75\.0%\s+1\s+2\s+50\.0\s+99\.0/)
  assert.match(text, /iris-c\s+shadow 20%/)
  assert.match(text, /20 copies sent, 19 completed, 1 shed, 0 failed/)
  assert.match(text, /rollback restores: iris-a 100 · iris-b 0/)
  assert.deepEqual(latencyPercentiles(''), {p50Ms: null, p99Ms: null})
  assert.deepEqual(latencyPercentiles('not a histogram'), {p50Ms: null, p99Ms: null})
})

test('a weight change reads old → new', () => {
  const text = renderWeightChange('iris', {a: 90, b: 10}, {a: 50, b: 50})
  assert.match(text, /a {2}90 → 50/)
  assert.match(text, /b {2}10 → 50/)
})
