// The remote driver's plan: planRuntime checks the config but nothing local
// (interpreter, predictor file, GPUs), builds the same ApiPlans as for a local
// run, and the result survives JSON (a deployment writes it into a Swarm
// config or a ConfigMap; `mlserve gateway --plan` reads it back, checked).
import {test, after} from 'node:test'
import assert from 'node:assert/strict'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {loadProject} from '../../src/config/index.js'
import {isMlserveError} from '../../src/errors.js'
import {planRuntime, runtimeDefaults, type PlanOptions, type RemotePlan} from '../../src/runtime/plan.js'
import {checkRemotePlan, readRemotePlan} from '../../src/runtime/plan-file.js'
import {makeProject} from '../helpers/projects.js'
import {splitYaml} from '../helpers/traffic.js'

// Two APIs (one with a cache, batching, a GPU and a batch endpoint limit) behind a splitter with a shadow; no predictor.py here.
const yaml = splitYaml({
  apis: [
    {name: 'a', weight: 80, processes: 2, threads: 3, maxReplicaConcurrency: 7, minReplicas: 2, maxReplicas: 5, extra: '  compute: {gpu: 1}\n'},
    {name: 'b', weight: 20},
    {name: 'c', shadow: true, shadowPercent: 10},
  ],
})
  .replace('    threads_per_process: 3\n', '    threads_per_process: 3\n    cache: {max_entries: 100, ttl: 1m}\n    server_side_batching: {max_batch_size: 4, batch_interval: 10ms}\n    batch_endpoint: {max_items: 50}\n    interpreter: /nonexistent/python\n')
const project = makeProject({'mlserve.yaml': yaml})
after(() => project.cleanup())

const dns: RemotePlan = {discovery: {kind: 'dns', services: {a: 'mlserve-p-a', b: 'mlserve-p-b', c: 'mlserve-p-c'}, port: 8080, intervalMs: 1000}, control: 'token'}
const plan = async (options: Partial<PlanOptions>) =>
  planRuntime(await loadProject(project.dir), {...runtimeDefaults, host: '0.0.0.0', port: 8888, accessLog: false, announce: false, ...options})

const isCode = (code: string, text?: RegExp) => (error: unknown) => isMlserveError(error) && error.code === code && (text === undefined || text.test(error.message))

test("a remote plan checks the config only: no predictor file, interpreter or GPU here, and the same API plans as a local run's", async () => {
  // The process driver looks for the predictor file (and the interpreter, and GPUs): none exists here.
  await assert.rejects(plan({}), isCode('MLS_PREDICTOR_NOT_FOUND'))
  const remote = await plan({driver: 'remote', remote: dns})
  assert.equal(remote.driver, 'remote')
  assert.equal(remote.docker, null)
  assert.deepEqual(remote.remote, dns)
  const a = remote.apis.find((api) => api.name === 'a')!
  assert.equal(a.maxReplicaConcurrency, 7)
  assert.deepEqual(a.cache, {maxEntries: 100, maxBytes: a.cache!.maxBytes, ttlMs: 60_000})
  assert.deepEqual(a.batch, {maxItems: 50})
  assert.equal(a.replicas.length, 2, 'the planned count (init_replicas) of templates')
  assert.deepEqual({processes: a.replicas[0].processes, threads: a.replicas[0].threads, batching: a.replicas[0].batching}, {processes: 2, threads: 3, batching: {maxBatchSize: 4, intervalMs: 10}})
  // The engine places GPUs: the template keeps the count, with no device of this machine named.
  assert.deepEqual(a.replicas[0].gpus, [''])
  // Autoscaling is carried for the engine's autoscaler, not fixed.
  assert.deepEqual({min: a.autoscaling.minReplicas, max: a.autoscaling.maxReplicas, fixed: a.autoscaling.fixed}, {min: 2, max: 5, fixed: null})
  assert.deepEqual(remote.splitters, [{name: 'model', endpoint: '/model', apis: [{name: 'a', weight: 80}, {name: 'b', weight: 20}], shadow: {api: 'c', percent: 10}}])
})

test('a remote plan survives JSON.stringify and JSON.parse whole, and the gateway accepts it back', async () => {
  const remote = await plan({driver: 'remote', remote: {discovery: {kind: 'static', origins: {a: ['http://127.0.0.1:8080'], b: ['http://10.0.0.2:8080'], c: []}}, control: 'token'}})
  const text = JSON.stringify(remote)
  const back = JSON.parse(text)
  assert.deepEqual(back, remote)
  assert.deepEqual(checkRemotePlan(back, 'test'), remote)
  const file = join(project.dir, 'plan.json')
  writeFileSync(file, text)
  assert.deepEqual(readRemotePlan(file), remote)
})

test('a remote plan whose discovery names nothing for an API is refused with the API named', async () => {
  await assert.rejects(plan({driver: 'remote', remote: {...dns, discovery: {kind: 'static', origins: {a: [], b: []}}}}), isCode('MLS_GATEWAY_PLAN_INVALID', /"c"/))
  await assert.rejects(plan({driver: 'remote'}), isCode('MLS_GATEWAY_PLAN_INVALID', /options\.remote/))
})

test('the gateway refuses a plan file that is missing, not JSON, of another driver or of the wrong shape, saying where', async () => {
  const good = JSON.parse(JSON.stringify(await plan({driver: 'remote', remote: dns})))
  const write = (name: string, text: string): string => {
    const file = join(project.dir, name)
    writeFileSync(file, text)
    return file
  }
  assert.throws(() => readRemotePlan(join(project.dir, 'absent.json')), isCode('MLS_GATEWAY_PLAN_NOT_FOUND', /absent\.json/))
  assert.throws(() => readRemotePlan(write('broken.json', '{"driver": ')), isCode('MLS_GATEWAY_PLAN_NOT_JSON', /broken\.json/))
  assert.throws(() => readRemotePlan(write('process.json', JSON.stringify({...good, driver: 'process'}))), isCode('MLS_GATEWAY_PLAN_INVALID', /driver: "process" where 'remote' belongs/))
  assert.throws(() => readRemotePlan(write('bare.json', '{}')), isCode('MLS_GATEWAY_PLAN_INVALID', /driver: null where 'remote'/))
  assert.throws(() => readRemotePlan(write('list.json', '[]')), isCode('MLS_GATEWAY_PLAN_INVALID'))
  assert.throws(() => readRemotePlan(write('noapis.json', JSON.stringify({...good, apis: 'a'}))), isCode('MLS_GATEWAY_PLAN_INVALID', /^.*apis: /))
  const noPort = {...good, remote: {...good.remote, discovery: {...good.remote.discovery, port: 'eighty'}}}
  assert.throws(() => readRemotePlan(write('noport.json', JSON.stringify(noPort))), isCode('MLS_GATEWAY_PLAN_INVALID', /remote\.discovery\.port/))
  const badTemplate = {...good, apis: good.apis.map((api: {replicas: object[]}) => ({...api, replicas: [{...api.replicas[0], threads: 0}]}))}
  assert.throws(() => readRemotePlan(write('threads.json', JSON.stringify(badTemplate))), isCode('MLS_GATEWAY_PLAN_INVALID', /apis\.0\.replicas\.0\.threads/))
  const strangerSplit = {...good, splitters: [{...good.splitters[0], shadow: {api: 'z', percent: 5}}]}
  assert.throws(() => readRemotePlan(write('split.json', JSON.stringify(strangerSplit))), isCode('MLS_GATEWAY_PLAN_INVALID', /"z"/))
})
