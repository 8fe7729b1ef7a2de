// A scaling step on a runtime (scaling.ts), with fake replicas behind a real
// ApiRoute: GPU APIs take free devices or are held with the reason, a replica
// that fails to start is removed with the reason, and scaling down drains the
// least busy replicas first.
import {describe, test, after} from 'node:test'
import assert from 'node:assert/strict'
import {EventEmitter} from 'node:events'
import {chmodSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {ApiRoute} from '../../src/runtime/gateway/api-route.js'
import {RuntimeMetrics} from '../../src/runtime/metrics.js'
import type {Replica, ReplicaSpec, ReplicaStatus} from '../../src/runtime/replica.js'
import type {Runtime} from '../../src/runtime/runtime.js'
import {scaleApi} from '../../src/runtime/scaling.js'
import {replicaSpec} from '../helpers/replica-spec.js'

class FakeReplica extends EventEmitter implements Replica {
  ready = false
  origin: string | null = null
  stopped = false
  constructor(
    readonly spec: ReplicaSpec,
    private readonly fails = false,
  ) {
    super()
  }

  get id(): string {
    return `${this.spec.api}-${this.spec.index}`
  }

  async start(): Promise<void> {
    if (this.fails) throw new Error('the predictor raised in __init__\nTraceback …')
    this.ready = true
    this.origin = 'http://127.0.0.1:9'
    this.emit('ready', this.origin)
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.ready = false
    this.emit('unready', 'stopping')
  }

  status(): ReplicaStatus {
    return {id: this.id, api: this.spec.api, index: this.spec.index, ready: this.ready, origin: this.origin, pid: null, restarts: 0, workerRestarts: 0, processes: this.spec.processes, threads: this.spec.threads, gpus: this.spec.gpus}
  }
}

const dir = mkdtempSync(join(tmpdir(), 'mlserve-scaling-'))
after(() => rmSync(dir, {recursive: true, force: true}))

/** An nvidia-smi that lists `n` GPUs. */
function nvidiaSmi(n: number): string {
  const path = join(dir, `nvidia-smi-${n}`)
  const lines = Array.from({length: n}, (_, i) => `${i}, GPU-${i}, NVIDIA H200, 143771`).join('\\n')
  writeFileSync(path, `#!/bin/sh\nprintf '${lines}\\n'\n`)
  chmodSync(path, 0o755)
  return path
}

function fakeRuntime(specs: ReplicaSpec[], options: {failing?: boolean} = {}): {runtime: Runtime; api: ApiRoute; made: FakeReplica[]} {
  const api = new ApiRoute('iris', '/iris', 8, new RuntimeMetrics())
  const made: FakeReplica[] = []
  const replicas: Replica[] = []
  let next = specs.length
  for (const spec of specs) {
    const replica = new FakeReplica(spec)
    void replica.start()
    replicas.push(replica)
    api.add(replica)
  }
  const runtime = {
    gateway: {api: (name: string) => (name === 'iris' ? api : undefined)},
    plan: {gateway: {timeoutMs: 1_000}},
    replicas,
    freshIndex: () => next++,
    makeReplica: (spec: ReplicaSpec) => {
      const replica = new FakeReplica(spec, options.failing)
      made.push(replica)
      return replica
    },
  } as unknown as Runtime
  return {runtime, api, made}
}

describe('scaleApi', () => {
  test('up: new replicas from the API spec, with fresh ids, routed and ready', async () => {
    const {runtime, api, made} = fakeRuntime([replicaSpec({index: 0})])
    assert.equal(await scaleApi(runtime, 'iris', 3), null)
    assert.deepEqual(api.replicas.map((route) => [route.id, route.isRoutable]), [['iris-0', true], ['iris-1', true], ['iris-2', true]])
    assert.deepEqual(made.map((replica) => replica.spec.predictorConfig), [{k: 1}, {k: 1}])
    assert.equal(runtime.replicas.length, 3)
  })

  test('up: a replica that fails to start is taken out and stopped, and the reason says which and why', async () => {
    const {runtime, api, made} = fakeRuntime([replicaSpec({index: 0})], {failing: true})
    assert.equal(await scaleApi(runtime, 'iris', 2), 'replica iris-1 did not start (the predictor raised in __init__)')
    assert.deepEqual(api.replicas.map((route) => route.id), ['iris-0'])
    assert.equal(made[0].stopped, true)
    assert.equal(runtime.replicas.length, 1)
  })

  test('up, GPU API: new replicas get devices no replica holds; without enough, scaling is held with the reason', async () => {
    const saved = process.env.MLSERVE_NVIDIA_SMI
    try {
      process.env.MLSERVE_NVIDIA_SMI = nvidiaSmi(2)
      const two = fakeRuntime([replicaSpec({index: 0, gpus: ['0']})])
      assert.equal(await scaleApi(two.runtime, 'iris', 2), null)
      assert.deepEqual(two.made.map((replica) => replica.spec.gpus), [['1']])
      assert.equal(await scaleApi(two.runtime, 'iris', 3), 'no free GPU: 1 more replica needs 1 GPU and 0 are free')
      assert.equal(two.api.replicas.length, 2)
      process.env.MLSERVE_NVIDIA_SMI = join(dir, 'no-such-nvidia-smi')
      assert.match((await scaleApi(two.runtime, 'iris', 3))!, /nvidia-smi was not found/)
    } finally {
      if (saved === undefined) delete process.env.MLSERVE_NVIDIA_SMI
      else process.env.MLSERVE_NVIDIA_SMI = saved
    }
  })

  test('down: the replicas holding the fewest requests are drained, stopped and forgotten', async () => {
    const {runtime, api} = fakeRuntime([replicaSpec({index: 0}), replicaSpec({index: 1}), replicaSpec({index: 2})])
    // iris-0 and iris-2 hold a request each; iris-1 none.
    const held = [api.replicas[0], api.replicas[2]].map((route) => route.admission.admit())
    assert.ok(held.every((ticket) => ticket !== null))
    assert.equal(await scaleApi(runtime, 'iris', 2), null)
    assert.deepEqual(api.replicas.map((route) => route.id), ['iris-0', 'iris-2'])
    assert.deepEqual(runtime.replicas.map((replica) => replica.id), ['iris-0', 'iris-2'])
    assert.equal(((runtime.replicas as FakeReplica[]).every((replica) => !replica.stopped)), true)
  })
})
