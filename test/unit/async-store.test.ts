// The job stores' logic, on both stores: the embedded LMDB one and Redis (a
// real redis-server, test/helpers/redis.ts). Same cases, same expectations.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {LmdbJobStore, RedisJobStore, type JobStore, type StoreOptions} from '../../src/runtime/async/index.js'
import {startRedis, type TestRedis} from '../helpers/redis.js'

const dirs: string[] = []
let redis: TestRedis
let apiCount = 0

before(async () => {
  redis = await startRedis()
})
after(async () => {
  await redis.stop()
  for (const dir of dirs) rmSync(dir, {recursive: true, force: true})
})

interface Opened {
  store: JobStore
  /** A second store on the same queue (another runtime). */
  peer: () => Promise<JobStore>
  clock: {now: number}
}

const kinds: Record<string, (options: Omit<StoreOptions, 'now'>) => Promise<Opened>> = {
  embedded: async (options) => {
    const dir = mkdtempSync(join(tmpdir(), 'mlserve-lmdb-'))
    dirs.push(dir)
    const clock = {now: Date.now()}
    const opts = {...options, now: () => clock.now}
    return {store: new LmdbJobStore(dir, opts), peer: async () => new LmdbJobStore(dir, opts), clock}
  },
  redis: async (options) => {
    const api = `api${++apiCount}`
    const clock = {now: Date.now()}
    const opts = {...options, now: () => clock.now}
    return {store: await RedisJobStore.connect(redis.url, api, opts), peer: () => RedisJobStore.connect(redis.url, api, opts), clock}
  },
}

const body = (value: unknown) => ({body: Buffer.from(JSON.stringify(value)), contentType: 'application/json'})

for (const [kind, open] of Object.entries(kinds)) {
  describe(`${kind} job store`, () => {
    test('jobs run in submission order; a finished job keeps its result and leaves the counts', async () => {
      const {store} = await open({resultTtlMs: 60_000, maxRetries: 3})
      const ids = [await store.submit(body({n: 1})), await store.submit(body({n: 2})), await store.submit(body({n: 3}))]
      assert.equal(new Set(ids).size, 3)
      assert.deepEqual(await store.counts(), {queued: 3, inProgress: 0})
      assert.equal((await store.get(ids[0]))?.status, 'in_queue')
      const first = await store.claim(10_000)
      assert.equal(first?.id, ids[0])
      assert.deepEqual(JSON.parse(first!.request.body.toString()), {n: 1})
      assert.equal(first?.request.contentType, 'application/json')
      assert.deepEqual(await store.counts(), {queued: 2, inProgress: 1})
      assert.equal((await store.get(ids[0]))?.status, 'in_progress')
      assert.equal(await store.finish(ids[0], {status: 'completed', result: {label: 'setosa'}}), true)
      assert.equal(await store.finish(ids[0], {status: 'failed', error: 'late'}), false, 'a job finishes once')
      const done = await store.get(ids[0])
      assert.equal(done?.status, 'completed')
      assert.deepEqual(done?.result, {label: 'setosa'})
      assert.deepEqual(await store.counts(), {queued: 2, inProgress: 0})
      assert.equal((await store.claim(10_000))?.id, ids[1])
      await store.finish(ids[1], {status: 'failed', error: {status: 500, body: {error: 'ValueError'}}})
      assert.deepEqual((await store.get(ids[1]))?.error, {status: 500, body: {error: 'ValueError'}})
      assert.equal(await store.get('00000000-0000-0000-0000-000000000000'), null)
      await store.close()
    })

    test('claimUpTo takes at most that many jobs from the front, in order, in one step', async () => {
      const {store} = await open({resultTtlMs: 60_000, maxRetries: 3})
      const ids: string[] = []
      for (let i = 0; i < 5; i++) ids.push(await store.submit(body({i})))
      const firstThree = await store.claimUpTo(10_000, 3)
      assert.deepEqual(firstThree.map((job) => job.id), ids.slice(0, 3))
      assert.deepEqual(await store.counts(), {queued: 2, inProgress: 3})
      assert.deepEqual((await store.claimUpTo(10_000, 10)).map((job) => job.id), ids.slice(3))
      assert.deepEqual(await store.claimUpTo(10_000, 10), [])
      await store.close()
    })

    test('two stores on one queue claim every job exactly once', async () => {
      const {store, peer} = await open({resultTtlMs: 60_000, maxRetries: 3})
      const other = await peer()
      const ids = new Set<string>()
      for (let i = 0; i < 60; i++) ids.add(await store.submit(body({i})))
      const claimed: string[] = []
      const drain = async (s: JobStore, batch: number) => {
        for (;;) {
          const jobs = await s.claimUpTo(10_000, batch)
          if (jobs.length === 0) return
          claimed.push(...jobs.map((job) => job.id))
        }
      }
      await Promise.all([drain(store, 1), drain(other, 3), drain(store, 7), drain(other, 1)])
      assert.equal(claimed.length, 60)
      assert.deepEqual(new Set(claimed), ids)
      assert.deepEqual(await store.counts(), {queued: 0, inProgress: 60})
      await other.close()
      await store.close()
    })

    test('a job whose lease ran out goes back to the front with a retry counted; past max_retries it fails', async () => {
      const {store, clock} = await open({resultTtlMs: 60_000, maxRetries: 1})
      const a = await store.submit(body('a'))
      const b = await store.submit(body('b'))
      assert.equal((await store.claim(1_000))?.id, a)
      clock.now += 500
      assert.deepEqual(await store.reclaimExpired(), {requeued: 0, failed: 0}, 'the lease still holds')
      clock.now += 600
      assert.deepEqual(await store.reclaimExpired(), {requeued: 1, failed: 0})
      const back = await store.get(a)
      assert.equal(back?.status, 'in_queue')
      assert.equal(back?.retries, 1)
      const again = await store.claim(1_000)
      assert.equal(again?.id, a, 'a retried job runs before those that waited less')
      assert.equal(again?.retries, 1)
      clock.now += 2_000
      assert.deepEqual(await store.reclaimExpired(), {requeued: 0, failed: 1})
      const failed = await store.get(a)
      assert.equal(failed?.status, 'failed')
      assert.match(String(failed?.error), /stopped before it finished; it was retried 1 time \(async\.max_retries\)/)
      assert.equal((await store.claim(1_000))?.id, b)
      await store.close()
    })

    test('renewing a lease keeps the job; release puts it back uncounted, retry counted', async () => {
      const {store, clock} = await open({resultTtlMs: 60_000, maxRetries: 5})
      const a = await store.submit(body('a'))
      await store.claim(1_000)
      clock.now += 800
      await store.renew([a], 1_000)
      clock.now += 800
      assert.deepEqual(await store.reclaimExpired(), {requeued: 0, failed: 0})
      await store.release(a)
      assert.deepEqual({status: (await store.get(a))?.status, retries: (await store.get(a))?.retries}, {status: 'in_queue', retries: 0})
      await store.claim(1_000)
      assert.equal(await store.retry(a, 'its replica failed'), 'requeued')
      assert.equal((await store.get(a))?.retries, 1)
      assert.deepEqual(await store.counts(), {queued: 1, inProgress: 0})
      await store.close()
    })

    test('a runtime finishing a job after its lease ran out and it was queued again finishes it once', async () => {
      const {store, clock} = await open({resultTtlMs: 60_000, maxRetries: 3})
      const a = await store.submit(body('a'))
      await store.claim(1_000)
      clock.now += 2_000
      await store.reclaimExpired()
      assert.equal(await store.finish(a, {status: 'completed', result: 1}), true)
      assert.deepEqual(await store.counts(), {queued: 0, inProgress: 0}, 'it left the queue')
      assert.equal(await store.claim(1_000), null)
      await store.close()
    })

    test('results are removed after result_ttl', async () => {
      const {store, clock} = await open({resultTtlMs: 200, maxRetries: 3})
      const a = await store.submit(body('a'))
      await store.claim(1_000)
      await store.finish(a, {status: 'completed', result: 'x'})
      assert.equal((await store.get(a))?.status, 'completed')
      clock.now += 300
      // The embedded store removes on its sweep (and hides expired ones at once); Redis expires on its own clock.
      for (let i = 0; i < 100 && (await store.get(a)) !== null; i++) {
        await store.sweep()
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      assert.equal(await store.get(a), null)
      await store.close()
    })
  })
}

test('the embedded store keeps its jobs across a close and reopen (a runtime restart)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mlserve-lmdb-'))
  dirs.push(dir)
  const clock = {now: Date.now()}
  const options = {resultTtlMs: 60_000, maxRetries: 3, now: () => clock.now}
  const store = new LmdbJobStore(dir, options)
  const ids = [await store.submit(body(1)), await store.submit(body(2)), await store.submit(body(3))]
  await store.claim(1_000)
  await store.close()
  clock.now += 5_000
  const reopened = new LmdbJobStore(dir, options)
  assert.deepEqual(await reopened.counts(), {queued: 2, inProgress: 1})
  assert.deepEqual(await reopened.reclaimExpired(), {requeued: 1, failed: 0})
  const order: string[] = []
  for (let job = await reopened.claim(1_000); job; job = await reopened.claim(1_000)) order.push(job.id)
  assert.deepEqual(order, ids)
  await reopened.close()
})
