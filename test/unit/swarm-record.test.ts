// The deploy record (src/swarm/record.ts) and what reads it: where it is
// kept and with which mode, and `traffic … --env` finding the deployed
// gateway with its token (src/client/traffic.ts findDeployedTarget).
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {deployRecordFile, deployRecordsDir, listDeployRecords, readDeployRecord, removeDeployRecord, writeDeployRecord, type DeployRecord} from '../../src/swarm/record.js'
import {findDeployedTarget} from '../../src/client/traffic.js'
import {canonical} from '../../src/swarm/deploy.js'
import {isMlserveError} from '../../src/errors.js'

const dir = mkdtempSync(join(tmpdir(), 'mlserve-deploy-record-'))
const saved = process.env.MLSERVE_STATE_DIR

before(() => {
  process.env.MLSERVE_STATE_DIR = dir
})

after(() => {
  if (saved === undefined) delete process.env.MLSERVE_STATE_DIR
  else process.env.MLSERVE_STATE_DIR = saved
  rmSync(dir, {recursive: true, force: true})
})

const record = (project: string, deployedAt: string, splitters: string[] = []): DeployRecord => ({
  engine: 'swarm',
  env: 'prod',
  project,
  projectFile: `/src/${project}/mlserve.yaml`,
  url: `http://127.0.0.1:${project === 'shop' ? 8888 : 9999}/`,
  token: `token-${project}`,
  deployedAt,
  apis: [{name: 'a', endpoint: '/a', service: `mlserve-${project}-a`}],
  splitters: splitters.map((name) => ({name, endpoint: `/${name}`})),
  services: [`mlserve-${project}-a`, `mlserve-${project}-gateway`],
})

describe('deploy record', () => {
  test('is written under $MLSERVE_STATE_DIR/deploys as ENV--PROJECT.json, mode 0600 in a 0700 folder, and read back', () => {
    const file = writeDeployRecord(record('shop', '2026-12-05T08:00:00.000Z', ['split']))
    assert.equal(file, join(dir, 'deploys', 'prod--shop.json'))
    assert.equal(file, deployRecordFile('prod', 'shop'))
    assert.equal(deployRecordsDir(), join(dir, 'deploys'))
    assert.equal(statSync(file).mode & 0o777, 0o600)
    assert.equal(statSync(join(dir, 'deploys')).mode & 0o777, 0o700)
    assert.equal(readDeployRecord('prod', 'shop')?.token, 'token-shop')
    assert.equal(readDeployRecord('prod', 'other'), null)
  })

  test('listing one environment gives its records newest first; findDeployedTarget picks the one serving the splitter', () => {
    writeDeployRecord(record('other', '2026-12-05T09:00:00.000Z'))
    writeDeployRecord({...record('elsewhere', '2026-12-05T10:00:00.000Z'), env: 'staging'})
    assert.deepEqual(listDeployRecords('prod').map((r) => r.project), ['other', 'shop'])
    assert.deepEqual(findDeployedTarget('prod', 'split'), {url: 'http://127.0.0.1:8888', token: 'token-shop', record: null, project: '/src/shop/mlserve.yaml'})
    assert.equal(findDeployedTarget('prod').url, 'http://127.0.0.1:9999', 'no splitter named: the newest deploy')
    assert.throws(() => findDeployedTarget('prod', 'nope'), (e: unknown) => isMlserveError(e) && e.code === 'MLS_RUNTIME_NOT_FOUND' && /serves a TrafficSplitter named "nope"/.test(e.message))
    assert.throws(() => findDeployedTarget('nowhere', 'split'), (e: unknown) => isMlserveError(e) && e.code === 'MLS_DEPLOY_NOT_FOUND')
  })

  test('removing a record says whether there was one', () => {
    assert.equal(removeDeployRecord('prod', 'other'), true)
    assert.equal(removeDeployRecord('prod', 'other'), false)
    assert.deepEqual(listDeployRecords('prod').map((r) => r.project), ['shop'])
  })
})

describe('canonical task template', () => {
  test("leaves out what the engine adds to the service's copy only (Runtime, empty objects), so a task of the current template matches it", () => {
    const service = {ContainerSpec: {Image: 'x', DNSConfig: {}, Env: ['A=1']}, ForceUpdate: 0, Runtime: 'container'}
    const task = {ContainerSpec: {Image: 'x', Env: ['A=1']}, ForceUpdate: 0}
    assert.equal(canonical(service), canonical(task))
    assert.notEqual(canonical({...task, ContainerSpec: {Image: 'y', Env: ['A=1']}}), canonical(service))
  })
})
