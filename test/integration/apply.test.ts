// mlserve apply on a running runtime, end to end with real Python replicas:
// mlserve.yaml is edited in place and its new plan handed to Runtime.apply
// while requests keep arriving, as `cortex deploy` updates a running API.
import {join} from 'node:path'
import {describe, test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {loadProject} from '../../src/config/index.js'
import {applyPlan, findProjectTarget} from '../../src/client/traffic.js'
import {isMlserveError} from '../../src/errors.js'
import {planRuntime, type RuntimePlan} from '../../src/runtime/plan.js'
import {Runtime, runtimeDefaults} from '../../src/runtime/runtime.js'
import {listRuntimeRecords} from '../../src/runtime/state.js'
import {post, waitFor, type Answer} from '../helpers/http.js'
import {apiYaml, makeProject, type TestProject} from '../helpers/projects.js'
import {countByApi, fire, splitYaml, versionedPredictor} from '../helpers/traffic.js'

const brokenPredictor = `
class PythonPredictor:
    def __init__(self, config):
        raise RuntimeError("this model does not load")

    def predict(self, payload):
        return {}
`

/** API a (version in its config), 2 replicas; a short sleep so requests are in flight while replicas are replaced. B is slower, so requests wait on it when it is removed. */
const apiA = (version: string, extra = '', maxReplicaConcurrency = 16): string =>
  apiYaml({name: 'a', processes: 1, threads: 2, minReplicas: 2, maxReplicaConcurrency, config: {version, sleep: 0.02}, extra})

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Processes whose command line names `path` (Linux /proc): a replica's harness is started with its predictor's path. */
function processesNaming(path: string): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(path)) pids.push(Number(entry))
    } catch {
      // gone meanwhile
    }
  }
  return pids
}

/**
 * Requests to `urls` from 4 loops (each its own connection order) until
 * `done` settles, at most 150 per loop: the steady traffic an apply must not
 * break.
 */
async function steadyDuring<T>(urls: string[], done: Promise<T>): Promise<{result: T; answers: Answer[]}> {
  let finished = false
  const settled = done.finally(() => {
    finished = true
  })
  const answers: Answer[] = []
  const loop = async (url: string): Promise<void> => {
    for (let i = 0; i < 150 && !finished; i++) answers.push(await post(url, {x: i}))
  }
  const loops = Promise.all([0, 1, 2, 3].map((i) => loop(urls[i % urls.length])))
  const result = await settled
  await loops
  return {result, answers}
}

describe('mlserve apply: a running runtime moves to the edited mlserve.yaml', () => {
  let project: TestProject
  let runtime: Runtime
  const logs: string[] = []

  async function plan(yaml: string): Promise<RuntimePlan> {
    writeFileSync(project.file, yaml)
    // As `mlserve apply` plans: the defaults, the runtime's own address.
    return planRuntime(await loadProject(project.dir), {...runtimeDefaults, port: runtime.gateway.port, accessLog: false, announce: false})
  }

  /** As `mlserve apply` sends it: to the runtime started from this project's file, over POST /apply with its token. */
  const applyOverHttp = (next: RuntimePlan): Promise<{changes: string[]}> => applyPlan(findProjectTarget(project.file), next, {timeoutMs: 60_000})

  const pidsOf = (api: string): number[] =>
    runtime.status().apis.find((candidate) => candidate.name === api)!.replicas.map((replica) => replica.pid!)

  before(async () => {
    project = makeProject({'mlserve.yaml': apiA('a1'), 'predictor.py': versionedPredictor, 'broken.py': brokenPredictor})
    // The runtime announces itself (its record holds the token POST /apply needs), in a state directory of this test's own.
    process.env.MLSERVE_STATE_DIR = join(project.dir, '.state')
    const first = await planRuntime(await loadProject(project.dir), {...runtimeDefaults, port: 0, accessLog: false})
    runtime = await Runtime.start(first, {log: (line) => logs.push(line)})
  })

  after(async () => {
    await runtime?.stop({drain: false})
    project?.cleanup()
  })

  test('a gateway limit or driver change is refused before anything changes', async () => {
    const same = await plan(apiA('a1'))
    const before = runtime.replicas.length
    for (const changed of [{...same, driver: 'docker' as const}, {...same, gateway: {...same.gateway, port: runtime.gateway.port + 1}}, {...same, gateway: {...same.gateway, timeoutMs: 5_000}}]) {
      await assert.rejects(runtime.apply(changed), (error) => {
        assert.ok(isMlserveError(error))
        assert.equal(error.code, 'MLS_GATEWAY_APPLY_FAILED')
        assert.match(error.suggestion, /mlserve run/)
        return true
      })
    }
    // Over HTTP the reason and what to do come back in the gateway's answer.
    await assert.rejects(applyOverHttp({...same, driver: 'docker'}), (error) => {
      assert.ok(isMlserveError(error))
      assert.equal(error.code, 'MLS_GATEWAY_APPLY_FAILED')
      assert.match(error.message, /the driver changed from process to docker\. Stop `mlserve run` and start it again to change it\.$/)
      return true
    })
    assert.equal(runtime.replicas.length, before)
    // The plan crossed as JSON: the same config still compares equal, replica by replica.
    assert.deepEqual(await applyOverHttp(same), {changes: []}, 'the same config changes nothing')
  })

  test('an added API whose replica fails to start: the apply fails, nothing serving changed, and no process of it is left', async () => {
    const broken = apiYaml({name: 'broken', config: {}}).replace('path: predictor.py', 'path: broken.py')
    const next = await plan(apiA('a1') + broken)
    const before = [...runtime.replicas]
    await assert.rejects(runtime.apply(next), (error) => {
      assert.ok(isMlserveError(error))
      assert.equal(error.code, 'MLS_GATEWAY_APPLY_FAILED')
      assert.match(error.message, /broken-0 did not start/)
      return true
    })
    assert.deepEqual(runtime.replicas, before)
    assert.equal(runtime.gateway.api('broken'), undefined)
    assert.equal((await post(`${runtime.url}/broken`, {})).status, 404)
    assert.deepEqual(runtime.plan.apis.map((api) => api.name), ['a'])
    assert.deepEqual(processesNaming(join(project.dir, 'broken.py')), [])
  })

  test('an added API and a splitter: the API is served only once its replica is ready, then the splitter routes 50/50', async (t) => {
    const next = await plan(splitYaml({splitter: 'model', apis: [{...shapeOf('a', 'a1'), weight: 50}, {...shapeOf('b', 'b1'), weight: 50}]}))
    // While b starts, its endpoint is not there yet (404), never an endpoint without a ready replica (503).
    const {result, answers} = await steadyDuring([`${runtime.url}/b`], runtime.apply(next))
    t.diagnostic(`during the apply: ${answers.filter((a) => a.status === 404).length} × 404, ${answers.filter((a) => a.status === 200).length} × 200`)
    assert.ok(answers.every((answer) => answer.status === 404 || answer.status === 200), `statuses: ${[...new Set(answers.map((a) => a.status))]}`)
    assert.deepEqual(result.changes, ['api b: added at /b, 1 replica ready', 'splitter model: added at /model, weights a=50 b=50'])

    const b = await post(`${runtime.url}/b`, {x: 2})
    assert.equal(b.status, 200)
    assert.equal(b.body.version, 'b1')
    const shots = await fire(`${runtime.url}/model`, 20, {concurrency: 4})
    assert.ok(shots.every((shot) => shot.status === 200))
    assert.deepEqual(countByApi(shots), {a: 10, b: 10})
    assert.deepEqual(runtime.plan.splitters.map((splitter) => splitter.name), ['model'])
    assert.equal(runtime.replicas.length, 3)
    const [record] = listRuntimeRecords()
    assert.deepEqual(record.apis, [{name: 'a', endpoint: '/a'}, {name: 'b', endpoint: '/b'}])
    assert.deepEqual(record.splitters, [{name: 'model', endpoint: '/model'}])
  })

  test('a changed predictor config is rolled out one replica at a time under steady traffic: no request fails, then only the new version answers', async (t) => {
    const oldPids = pidsOf('a')
    const next = await plan(splitYaml({splitter: 'model', apis: [{...shapeOf('a', 'a2'), weight: 50}, {...shapeOf('b', 'b1'), weight: 50}]}))
    const {result, answers} = await steadyDuring([`${runtime.url}/a`, `${runtime.url}/model`], runtime.apply(next))
    t.diagnostic(`${answers.length} requests during the apply; ${result.changes.join(' | ')}`)
    assert.ok(answers.length > 20, `${answers.length} requests ran during the apply`)
    assert.deepEqual(answers.filter((answer) => answer.status !== 200).map((answer) => answer.status), [], 'no request failed')
    assert.ok(answers.some((answer) => answer.body.version === 'a1') && answers.some((answer) => answer.body.version === 'a2'), 'both versions answered during the rollout')
    assert.equal(result.changes.length, 1)
    assert.match(result.changes[0], /^api a: predictor\.config changed, replaced 2 replicas one at a time \(a-0 → a-2, a-1 → a-3\)/)

    const after = await Promise.all(Array.from({length: 8}, (_, i) => post(`${runtime.url}/a`, {x: i})))
    assert.deepEqual(after.map((answer) => answer.body.version), new Array(8).fill('a2'))
    assert.deepEqual(runtime.status().apis.find((api) => api.name === 'a')!.replicas.map((replica) => replica.id), ['a-2', 'a-3'])
    assert.ok(oldPids.every((pid) => !alive(pid)), 'the old replicas stopped')
    assert.equal(runtime.replicas.length, 3)
  })

  test('a new endpoint and max_replica_concurrency: new replicas take over at once, the splitter follows, and rollback still restores the weights before the apply', async (t) => {
    const splitter = runtime.gateway.splitter('model')!
    assert.equal(splitter.setWeights({a: 60, b: 40}), null)
    const next = await plan(
      splitYaml({splitter: 'model', apis: [{...shapeOf('a', 'a2'), extra: '  networking:\n    endpoint: /a-v2\n', maxReplicaConcurrency: 8, weight: 50}, {...shapeOf('b', 'b1'), weight: 50}]}),
    )
    const {result, answers} = await steadyDuring([`${runtime.url}/model`], runtime.apply(next))
    t.diagnostic(`${answers.length} requests during the apply; ${result.changes.join(' | ')}`)
    assert.deepEqual(answers.filter((answer) => answer.status !== 200).map((answer) => answer.status), [], 'no request failed')
    assert.deepEqual(result.changes, [
      'api a: endpoint /a → /a-v2; max_replica_concurrency 16 → 8; 2 new replicas ready, then 2 old ones retired' + (result.changes[0].includes('drained') ? result.changes[0].slice(result.changes[0].indexOf(' (drained')) : ''),
      'splitter model: weights a=60 b=40 → a=50 b=50',
    ])
    assert.equal((await post(`${runtime.url}/a`, {})).status, 404)
    const moved = await post(`${runtime.url}/a-v2`, {})
    assert.equal(moved.status, 200)
    assert.equal(moved.body.version, 'a2')
    const a = runtime.status().apis.find((api) => api.name === 'a')!
    assert.deepEqual(a.replicas.map((replica) => [replica.id, replica.maxReplicaConcurrency]), [['a-4', 8], ['a-5', 8]])
    const shots = await fire(`${runtime.url}/model`, 20, {concurrency: 4})
    assert.deepEqual(countByApi(shots), {a: 10, b: 10})
    const status = runtime.gateway.splitter('model')!.status()
    assert.deepEqual(status.previous, {a: 60, b: 40})
  })

  test('min_replicas up, then max_replicas down: a replica is added once ready, then one is retired after draining, with no request failing', async (t) => {
    // An apply keeps the count within the new min..max (as cortex deploy does): a lower min_replicas alone would leave it for the autoscaler.
    const a = (minReplicas: number, maxReplicas?: number) => ({...shapeOf('a', 'a2'), minReplicas, maxReplicas, extra: '  networking:\n    endpoint: /a-v2\n', maxReplicaConcurrency: 8, weight: 50})
    const up = await runtime.apply(await plan(splitYaml({splitter: 'model', apis: [a(3), {...shapeOf('b', 'b1'), weight: 50}]})))
    assert.deepEqual(up.changes, ['api a: replicas 2 → 3'])
    assert.deepEqual(runtime.status().apis.find((api) => api.name === 'a')!.replicas.map((replica) => [replica.id, replica.ready]), [['a-4', true], ['a-5', true], ['a-6', true]])
    const next = await plan(splitYaml({splitter: 'model', apis: [a(2, 2), {...shapeOf('b', 'b1'), weight: 50}]}))
    const {result, answers} = await steadyDuring([`${runtime.url}/a-v2`], runtime.apply(next))
    t.diagnostic(`${answers.length} requests during the apply; ${result.changes.join(' | ')}`)
    assert.deepEqual(answers.filter((answer) => answer.status !== 200).map((answer) => answer.status), [], 'no request failed')
    assert.match(result.changes[0], /^api a: replicas 3 → 2(; drained \d+ requests?)?$/)
    assert.deepEqual(runtime.status().apis.find((api) => api.name === 'a')!.replicas.map((replica) => replica.id), ['a-4', 'a-5'])
    assert.equal(runtime.replicas.length, 3)
  })

  test('a removed API: the splitter stops naming it, its requests drain, its endpoint 404s, its replica is gone', async (t) => {
    const bPids = pidsOf('b')
    const next = await plan(splitYaml({splitter: 'model', apis: [{...shapeOf('a', 'a2'), extra: '  networking:\n    endpoint: /a-v2\n', maxReplicaConcurrency: 8, weight: 100}]}))
    // Four requests held by b when it is removed: two running on its two threads, two queued.
    const held = Array.from({length: 4}, (_, i) => post(`${runtime.url}/b`, {x: i}))
    await waitFor(() => {
      const [replica] = runtime.status().apis.find((api) => api.name === 'b')!.replicas
      return replica.running === 2 && replica.queued === 2
    }, '2 running and 2 queued on b')
    const {result, answers} = await steadyDuring([`${runtime.url}/model`, `${runtime.url}/a-v2`], applyOverHttp(next))
    assert.deepEqual((await Promise.all(held)).map((answer) => [answer.status, answer.body.version]), new Array(4).fill([200, 'b1']), 'what b held was answered')
    t.diagnostic(`${answers.length} requests during the apply; ${result.changes.join(' | ')}`)
    assert.deepEqual(answers.filter((answer) => answer.status !== 200).map((answer) => answer.status), [], 'no request failed')
    assert.equal(result.changes[0], 'splitter model: weights a=50 b=50 → a=100')
    const drained = /^api b: removed from \/b; drained (\d+) requests?, stopped 1 replica$/.exec(result.changes[1])
    assert.ok(drained && Number(drained[1]) >= 4, result.changes[1])
    assert.equal((await post(`${runtime.url}/b`, {})).status, 404)
    assert.ok(bPids.every((pid) => !alive(pid)), "b's replica stopped")
    assert.deepEqual(runtime.replicas.map((replica) => replica.id), ['a-4', 'a-5'])
    const shots = await fire(`${runtime.url}/model`, 10, {concurrency: 2})
    assert.deepEqual(countByApi(shots), {a: 10})
    // The weights before this apply named b, which is gone: nothing to roll back to, rather than a rollback onto a removed API.
    assert.equal(runtime.gateway.splitter('model')!.status().previous, null)
    assert.deepEqual(runtime.plan.apis.map((api) => [api.name, api.endpoint]), [['a', '/a-v2']])
    assert.ok(logs.some((line) => line.startsWith('apply: api b: removed')))
    assert.deepEqual(listRuntimeRecords()[0].apis, [{name: 'a', endpoint: '/a-v2'}])
  })

  test('an edited predictor file, with mlserve.yaml unchanged, is rolled out; an apply with nothing changed changes nothing', async () => {
    const same = await plan(readFileSync(project.file, 'utf8'))
    assert.deepEqual((await runtime.apply(same)).changes, [], 'nothing changed, nothing replaced')
    writeFileSync(
      join(project.dir, 'predictor.py'),
      `${versionedPredictor}
_predict = PythonPredictor.predict


def _stamped(self, payload):
    answer = _predict(self, payload)
    answer["code"] = 2
    return answer


PythonPredictor.predict = _stamped
`,
    )
    const {result, answers} = await steadyDuring([`${runtime.url}/model`], runtime.apply(await plan(readFileSync(project.file, 'utf8'))))
    assert.deepEqual(answers.filter((answer) => answer.status !== 200).map((answer) => answer.status), [], 'no request failed')
    assert.match(result.changes.join(' | '), /^api a: predictor code changed, replaced 2 replicas one at a time/)
    const after = await fire(`${runtime.url}/model`, 6, {concurrency: 2})
    assert.ok(after.every((shot) => shot.body.code === 2), 'the new code answers')
  })
})

function shapeOf(name: string, version: string): {name: string; processes: number; threads: number; minReplicas: number; config: Record<string, unknown>} {
  return {name, processes: 1, threads: 2, minReplicas: name === 'a' ? 2 : 1, config: {version, sleep: name === 'a' ? 0.02 : 0.25}}
}
