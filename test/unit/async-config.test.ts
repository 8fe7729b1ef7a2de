// kind: AsyncAPI in mlserve.yaml: defaults, Cortex's handler alias, located
// errors in the async section, and what a TrafficSplitter may not route to.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {asyncApis, parseProject, servedApis, type AsyncApiConfig} from '../../src/config/index.js'
import {configErrors} from '../helpers/config.js'

const errorsOf = configErrors

test('an AsyncAPI gets the queue defaults: embedded store, 168h results (Cortex keeps 7 days), 30s lease, 3 retries, no webhook', () => {
  const project = parseProject('name: jobs\nkind: AsyncAPI\npredictor: {type: python, path: p.py}\n', 'mlserve.yaml')
  assert.deepEqual(project.warnings, [])
  const [api] = asyncApis(project) as [AsyncApiConfig]
  assert.deepEqual(api.async, {store: 'embedded', redis_url: 'redis://127.0.0.1:6379', result_ttl: '168h', lease: '30s', max_retries: 3})
  assert.equal(api.networking.endpoint, '/jobs')
  assert.equal(api.autoscaling.target_replica_concurrency, 1)
  assert.deepEqual(servedApis(project).map((a) => a.name), ['jobs'])
})

test("Cortex's handler section is the predictor of an AsyncAPI too, and the webhook takes its defaults", () => {
  const project = parseProject(
    'name: jobs\nkind: AsyncAPI\nhandler: {type: python, path: p.py}\nasync: {store: redis, redis_url: "redis://10.0.0.5:6380/2", webhook: {url: "https://example.com/done"}}\n',
    'mlserve.yaml',
  )
  const [api] = asyncApis(project)
  assert.equal(api.predictor.path, 'p.py')
  assert.deepEqual(api.async.webhook, {url: 'https://example.com/done', max_retries: 5, backoff: '1s', timeout: '10s'})
  assert.equal(api.async.store, 'redis')
})

test('errors in the async section are located and say what was expected', () => {
  const errors = errorsOf(
    'name: jobs\nkind: AsyncAPI\npredictor: {type: python, path: p.py}\nasync:\n  store: rediss\n  result_ttl: 7d\n  max_retries: -1\n  webhook: {url: "ftp://x"}\n  queue: x\n',
  )
  assert.equal(errors.length, 5, errors.join('\n'))
  assert.match(errors.join('\n'), /mlserve\.yaml:5:10 +async\.store: expected one of embedded, redis, found "rediss" \(a string\); did you mean 'redis'\?/)
  assert.match(errors.join('\n'), /mlserve\.yaml:6:15 +async\.result_ttl: expected a duration/)
  assert.match(errors.join('\n'), /async\.max_retries: expected an integer ≥ 0, found -1/)
  assert.match(errors.join('\n'), /async\.webhook\.url: expected an http:\/\/ or https:\/\/ URL, found "ftp:\/\/x"/)
  assert.match(errors.join('\n'), /unknown key 'queue' at async; expected one of: store, redis_url, result_ttl, lease, max_retries, webhook/)
})

test('a TrafficSplitter cannot route to an AsyncAPI', () => {
  const errors = errorsOf(
    '- name: jobs\n  kind: AsyncAPI\n  predictor: {type: python, path: p.py}\n- name: live\n  predictor: {type: python, path: p.py}\n- name: split\n  kind: TrafficSplitter\n  apis: [{name: jobs, weight: 50}, {name: live, weight: 50}]\n',
  )
  assert.equal(errors.length, 1, errors.join('\n'))
  assert.match(errors[0], /"jobs" is an AsyncAPI; a TrafficSplitter routes to RealtimeAPIs only/)
})
