// The shared job store: Redis, so several runtimes (and the cluster) take
// jobs from one queue. Keys live under mlserve:async:<api>: a list `queue`
// (submit pushes on the left, claims pop on the right), a sorted set `leases`
// (id → lease deadline, the reliable queue's processing set) and one hash per
// job. Every step that touches more than one key is a Lua script, so it is
// atomic like LMOVE: a job is always in the queue, under a lease, or finished,
// and never in two places. Finished jobs carry a Redis expiry (the result TTL).
import {randomUUID} from 'node:crypto'
import {Redis} from 'ioredis'
import {mlserveError} from '../../errors.js'
import {LOST_REASON, type ClaimedJob, type Job, type JobCounts, type JobRequest, type JobStatus, type JobStore, type RetryOutcome, type StoreOptions} from './types.js'

// KEYS[1] queue, KEYS[2] leases; ARGV[1] job key prefix, ARGV[2] lease deadline, ARGV[3] now, ARGV[4] most jobs
const CLAIM = `
local claimed = {}
local limit = tonumber(ARGV[4])
while #claimed < limit * 4 do
  local id = redis.call('RPOP', KEYS[1])
  if not id then break end
  local key = ARGV[1] .. id
  local fields = redis.call('HMGET', key, 'body', 'ctype', 'retries')
  if fields[1] then
    redis.call('ZADD', KEYS[2], ARGV[2], id)
    redis.call('HSET', key, 'status', 'in_progress', 'started', ARGV[3])
    table.insert(claimed, id)
    table.insert(claimed, fields[1])
    table.insert(claimed, fields[2] or '')
    table.insert(claimed, fields[3] or '0')
  end
end
return claimed`

// KEYS[1] queue, KEYS[2] leases, KEYS[3] job; ARGV[1] status, ARGV[2] field, ARGV[3] value, ARGV[4] now, ARGV[5] ttl ms, ARGV[6] id
const FINISH = `
local status = redis.call('HGET', KEYS[3], 'status')
if not status or status == 'completed' or status == 'failed' then return 0 end
redis.call('ZREM', KEYS[2], ARGV[6])
if status == 'in_queue' then redis.call('LREM', KEYS[1], 0, ARGV[6]) end
redis.call('HSET', KEYS[3], 'status', ARGV[1], ARGV[2], ARGV[3], 'finished', ARGV[4])
redis.call('HDEL', KEYS[3], 'body')
redis.call('PEXPIRE', KEYS[3], ARGV[5])
return 1`

// Back to the front of the queue (the right end, which claims pop), counting a retry or not.
// KEYS[1] queue, KEYS[2] leases; ARGV[1] job key prefix, ARGV[2] count (0|1), ARGV[3] max retries, ARGV[4] reason, ARGV[5] now, ARGV[6] ttl ms, ARGV[7..] ids
const REQUEUE = `
local requeued, failed = 0, 0
for i = 7, #ARGV do
  local id = ARGV[i]
  local key = ARGV[1] .. id
  redis.call('ZREM', KEYS[2], id)
  if redis.call('HGET', key, 'status') == 'in_progress' then
    local retries = tonumber(redis.call('HGET', key, 'retries') or '0')
    if ARGV[2] == '1' and retries >= tonumber(ARGV[3]) then
      local times = retries == 1 and ' time' or ' times'
      redis.call('HSET', key, 'status', 'failed', 'error', cjson.encode(ARGV[4] .. '; it was retried ' .. retries .. times .. ' (async.max_retries)'), 'finished', ARGV[5])
      redis.call('HDEL', key, 'body')
      redis.call('PEXPIRE', key, ARGV[6])
      failed = failed + 1
    else
      redis.call('HSET', key, 'status', 'in_queue', 'retries', retries + tonumber(ARGV[2]))
      redis.call('HDEL', key, 'started')
      redis.call('RPUSH', KEYS[1], id)
      requeued = requeued + 1
    end
  end
end
return {requeued, failed}`

// KEYS[1] leases; ARGV[1] deadline, ARGV[2..] ids. XX: only leases still held here.
const RENEW = `
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', ARGV[1], ARGV[i]) end
return 0`

const CONNECT_TIMEOUT_MS = 5_000

export class RedisJobStore implements JobStore {
  readonly kind = 'redis' as const
  private readonly prefix: string
  private readonly queueKey: string
  private readonly leasesKey: string
  private readonly now: () => number

  private constructor(
    private readonly redis: Redis,
    api: string,
    private readonly options: StoreOptions,
  ) {
    this.prefix = `mlserve:async:${api}:`
    this.queueKey = `${this.prefix}queue`
    this.leasesKey = `${this.prefix}leases`
    this.now = options.now ?? Date.now
  }

  /** Connects, or fails with MLS_ASYNC_REDIS_UNREACHABLE before anything else starts. */
  static async connect(url: string, api: string, options: StoreOptions): Promise<RedisJobStore> {
    const redis = new Redis(url, {lazyConnect: true, maxRetriesPerRequest: 3, connectTimeout: CONNECT_TIMEOUT_MS, enableOfflineQueue: true})
    // Until connected, one failure is an answer: no endless reconnecting at start.
    const failed = new Promise<never>((_, reject) => redis.once('error', reject))
    try {
      await Promise.race([redis.connect().then(() => redis.ping()), failed])
    } catch (error) {
      redis.disconnect()
      throw mlserveError('MLS_ASYNC_REDIS_UNREACHABLE', {api, url: redactUrl(url), reason: (error as Error).message})
    }
    failed.catch(() => undefined)
    // Later errors (a restart of Redis) are retried by ioredis; keep them from crashing the runtime.
    redis.on('error', () => undefined)
    return new RedisJobStore(redis, api, options)
  }

  private jobKey(id: string): string {
    return `${this.prefix}job:${id}`
  }

  async submit(request: JobRequest): Promise<string> {
    const id = randomUUID()
    await this.redis
      .multi()
      .hset(this.jobKey(id), {status: 'in_queue', created: this.now(), retries: 0, body: request.body.toString('base64'), ctype: request.contentType ?? ''})
      .lpush(this.queueKey, id)
      .exec()
      .then(throwOnFailure)
    return id
  }

  async claim(leaseMs: number): Promise<ClaimedJob | null> {
    return (await this.claimUpTo(leaseMs, 1))[0] ?? null
  }

  async claimUpTo(leaseMs: number, limit: number): Promise<ClaimedJob[]> {
    const now = this.now()
    const flat = (await this.redis.eval(CLAIM, 2, this.queueKey, this.leasesKey, `${this.prefix}job:`, now + leaseMs, now, limit)) as string[]
    const claimed: ClaimedJob[] = []
    for (let i = 0; i < flat.length; i += 4) {
      claimed.push({id: flat[i], request: {body: Buffer.from(flat[i + 1], 'base64'), contentType: flat[i + 2] || undefined}, retries: Number(flat[i + 3])})
    }
    return claimed
  }

  async renew(ids: string[], leaseMs: number): Promise<void> {
    if (ids.length === 0) return
    await this.redis.eval(RENEW, 1, this.leasesKey, this.now() + leaseMs, ...ids)
  }

  async finish(id: string, outcome: {status: 'completed'; result: unknown} | {status: 'failed'; error: unknown}): Promise<boolean> {
    const [field, value] = outcome.status === 'completed' ? ['result', outcome.result] : ['error', outcome.error]
    const done = await this.redis.eval(
      FINISH,
      3,
      this.queueKey,
      this.leasesKey,
      this.jobKey(id),
      outcome.status,
      field,
      JSON.stringify(value ?? null),
      this.now(),
      Math.max(1, Math.round(this.options.resultTtlMs)),
      id,
    )
    return done === 1
  }

  async release(id: string): Promise<void> {
    await this.requeue([id], false, '')
  }

  async retry(id: string, reason: string): Promise<RetryOutcome> {
    const {requeued, failed} = await this.requeue([id], true, reason)
    return requeued > 0 ? 'requeued' : failed > 0 ? 'failed' : 'gone'
  }

  async reclaimExpired(): Promise<{requeued: number; failed: number}> {
    const expired = await this.redis.zrangebyscore(this.leasesKey, '-inf', this.now())
    if (expired.length === 0) return {requeued: 0, failed: 0}
    return this.requeue(expired, true, LOST_REASON)
  }

  private async requeue(ids: string[], counted: boolean, reason: string): Promise<{requeued: number; failed: number}> {
    const [requeued, failed] = (await this.redis.eval(
      REQUEUE,
      2,
      this.queueKey,
      this.leasesKey,
      `${this.prefix}job:`,
      counted ? 1 : 0,
      this.options.maxRetries,
      reason,
      this.now(),
      Math.max(1, Math.round(this.options.resultTtlMs)),
      ...ids,
    )) as [number, number]
    return {requeued, failed}
  }

  async get(id: string): Promise<Job | null> {
    const fields = await this.redis.hgetall(this.jobKey(id))
    if (!fields.status) return null
    const job: Job = {id, status: fields.status as JobStatus, createdAt: Number(fields.created), retries: Number(fields.retries ?? 0)}
    if (fields.started) job.startedAt = Number(fields.started)
    if (fields.finished) job.finishedAt = Number(fields.finished)
    if (fields.result !== undefined) job.result = JSON.parse(fields.result)
    if (fields.error !== undefined) job.error = JSON.parse(fields.error)
    return job
  }

  async counts(): Promise<JobCounts> {
    const [queued, inProgress] = await Promise.all([this.redis.llen(this.queueKey), this.redis.zcard(this.leasesKey)])
    return {queued, inProgress}
  }

  async sweep(): Promise<number> {
    return 0 // finished jobs carry a Redis expiry
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect())
  }
}

function throwOnFailure(results: Array<[Error | null, unknown]> | null): void {
  const failure = results?.find(([error]) => error !== null)
  if (failure) throw failure[0]
}

/** A URL without its password, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^:@/]*:)[^@/]*@/, '$1***@')
}
