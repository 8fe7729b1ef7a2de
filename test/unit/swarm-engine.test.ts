// Deploy's checks of the engine before anything is made, on a stand-in
// engine (only ping, info and listNodes answer): a Swarm manager is
// required, and spot placement is chosen from the nodes' labels.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import type Docker from 'dockerode'
import {choosePlacement} from '../../src/swarm/deploy.js'
import {requireManager, swarmEngine} from '../../src/swarm/engine.js'
import {isMlserveError} from '../../src/errors.js'

const engine = (swarm: Record<string, unknown>, nodes: unknown[] = []) =>
  ({ping: async () => 'OK', info: async () => ({Swarm: swarm}), listNodes: async () => nodes}) as unknown as Docker

const node = (labels: Record<string, string>, state = 'ready', availability = 'active') => ({Spec: {Labels: labels, Availability: availability}, Status: {State: state}})

describe('swarm engine checks', () => {
  test('an engine in no Swarm is MLS_SWARM_NOT_ACTIVE naming docker swarm init; a worker is MLS_SWARM_NOT_MANAGER; a manager passes', async () => {
    const at = (docker: Docker) => ({docker, address: 'unix:///var/run/docker.sock', host: '127.0.0.1'})
    await assert.rejects(requireManager(at(engine({LocalNodeState: 'inactive'}))), (e: unknown) => isMlserveError(e) && e.code === 'MLS_SWARM_NOT_ACTIVE' && /docker swarm init/.test(e.suggestion) && /"inactive"/.test(e.message))
    await assert.rejects(requireManager(at(engine({LocalNodeState: 'active', ControlAvailable: false}))), (e: unknown) => isMlserveError(e) && e.code === 'MLS_SWARM_NOT_MANAGER')
    await requireManager(at(engine({LocalNodeState: 'active', ControlAvailable: true})))
  })

  test("the environment's endpoint: a socket is reached on 127.0.0.1, tcp and ssh on their host", () => {
    assert.equal(swarmEngine('unix:///run/docker.sock').host, '127.0.0.1')
    assert.equal(swarmEngine('tcp://10.0.0.5:2375').host, '10.0.0.5')
    assert.equal(swarmEngine('ssh://ops@manager.example').host, 'manager.example')
    assert.equal(swarmEngine('tcp://10.0.0.5:2375').address, 'tcp://10.0.0.5:2375')
  })
})

describe('spot placement', () => {
  const log: string[] = []
  const say = (line: string) => log.push(line)
  const label = {key: 'node.kind', value: 'spot'}

  test('no spot label in the environment: any node', async () => {
    assert.equal(await choosePlacement(engine({}, [node({})]), {name: 'e', spotLabel: null}, say), 'any')
  })

  test('a ready, active node with the label: spot', async () => {
    assert.equal(await choosePlacement(engine({}, [node({}), node({'node.kind': 'spot'})]), {name: 'e', spotLabel: label}, say), 'spot')
    assert.match(log.at(-1) ?? '', /1 node carries node\.kind=spot/)
  })

  test('none (or only down, drained or other-valued ones): on-demand, said in the log', async () => {
    const nodes = [node({'node.kind': 'spot'}, 'down'), node({'node.kind': 'spot'}, 'ready', 'drain'), node({'node.kind': 'on-demand'})]
    assert.equal(await choosePlacement(engine({}, nodes), {name: 'e', spotLabel: label}, say), 'on-demand')
    assert.match(log.at(-1) ?? '', /no ready node carries node\.kind=spot, so the API services go on on-demand nodes/)
  })
})
