// The prediction cache of one API: its 200 answers by request key (the
// canonical JSON of the body), least recently used first out, each kept at
// most its TTL. lru-cache holds the structure; this module sets its bounds
// from the config and counts what the metrics report. One cache belongs to
// one API at one version: a new version (mlserve apply) gets an empty one, so
// the API and its version need not be in every key.
import {createHash} from 'node:crypto'
import {LRUCache} from 'lru-cache'
import {canonicalJson} from './canonical-json.js'

/** predictor.cache as the plan carries it (plain data). */
export interface CacheConfig {
  maxEntries: number
  /** Bound on the bytes of keys and bodies held (see entryBytes). */
  maxBytes: number
  ttlMs: number
}

/** A stored answer: a 200's body and its content type. */
export interface CachedAnswer {
  body: Buffer
  contentType?: string
}

/** Why entries left, other than clear(): bounds (max_entries or max_bytes) or ttl (expired). */
export interface CacheEvictions {
  bounds: number
  ttl: number
}

/** Options for tests: lru-cache's clock (read on every TTL check when given). */
export interface CacheOptions {
  perf?: {now(): number}
}

export class PredictionCache {
  hits = 0
  misses = 0
  private readonly evicted: CacheEvictions = {bounds: 0, ttl: 0}
  private readonly lru: LRUCache<string, CachedAnswer>

  constructor(
    readonly config: CacheConfig,
    /** The API's version the answers belong to (plan's ApiPlan.version). */
    readonly version: string = '',
    options: CacheOptions = {},
    /** The cache this one replaces: its counts carry on. */
    previous?: PredictionCache,
  ) {
    if (previous) {
      this.hits = previous.hits
      this.misses = previous.misses
      Object.assign(this.evicted, previous.evictions)
    }
    const evictions = this.evicted
    this.lru = new LRUCache<string, CachedAnswer>({
      max: config.maxEntries,
      maxSize: config.maxBytes,
      sizeCalculation: entryBytes,
      ttl: config.ttlMs,
      // Age counts from when the answer was stored, not last read: the TTL bounds how stale an answer may be.
      updateAgeOnGet: false,
      dispose(_value, _key, reason) {
        if (reason === 'evict') evictions.bounds++
        else if (reason === 'expire') evictions.ttl++
      },
      ...(options.perf ? {perf: options.perf, ttlResolution: 0} : {}),
    })
  }

  /** The stored answer for a key, counted as a hit or a miss. */
  get(key: string): CachedAnswer | undefined {
    const answer = this.lru.get(key)
    if (answer === undefined) this.misses++
    else this.hits++
    return answer
  }

  /** A request that went to a replica without a lookup (Cache-Control: no-cache): a miss all the same. */
  bypassed(): void {
    this.misses++
  }

  /**
   * Stores a 200 answer; one larger than max_bytes by itself is not stored.
   * The body is copied into memory of its own, so an entry holds no socket
   * buffer (nor a shared pool slab) alive past its bytes.
   */
  set(key: string, answer: CachedAnswer): void {
    const body = Buffer.allocUnsafeSlow(answer.body.length)
    answer.body.copy(body)
    this.lru.set(key, {body, contentType: answer.contentType})
  }

  /** Drops every answer (not counted as evictions). */
  clear(): void {
    this.lru.clear()
  }

  /**
   * Evictions by reason, expired entries purged first: a scrape reads this
   * before entries and bytes, and must count the TTL evictions those figures
   * already leave out, not one scrape later.
   */
  get evictions(): Readonly<CacheEvictions> {
    this.lru.purgeStale()
    return this.evicted
  }

  /** Entries held, expired ones purged first (read at scrape time, not on the request path). */
  get entries(): number {
    this.lru.purgeStale()
    return this.lru.size
  }

  /** Bytes held by keys and bodies (as entryBytes counts them), expired entries purged first. */
  get bytes(): number {
    this.lru.purgeStale()
    return this.lru.calculatedSize
  }
}

/**
 * What an entry counts against max_bytes: its key's and body's bytes (and the
 * content type's). The JavaScript objects around them (about 200 bytes an
 * entry) are not counted; max_entries bounds those.
 */
export function entryBytes(answer: CachedAnswer, key: string): number {
  return Buffer.byteLength(key) + answer.body.length + (answer.contentType?.length ?? 0) || 1
}

/**
 * An API's answers version: a short hash of what its answers depend on (the
 * code version of its predictor and the files it imports, predictor.config,
 * env, type, path, command). Any change gives a new version, and so an empty
 * cache; replica counts and concurrency do not change it.
 */
export function answersVersion(inputs: Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson(inputs)).digest('hex').slice(0, 16)
}

/** A request's cache key: the canonical JSON of its body, with its query string (a single POST and a batch item key alike). */
export function cacheKey(canonical: string, query: string): string {
  return query === '' ? canonical : `${canonical}\u0000${query}`
}

/**
 * What the request's Cache-Control asks of the cache: no-cache (do not answer
 * from it; the fresh answer is stored), no-store (neither answer from it nor
 * store), or null.
 */
export function cacheDirective(directives: string | undefined): 'no-cache' | 'no-store' | null {
  if (directives === undefined) return null
  const lower = directives.toLowerCase()
  if (/(?:^|[\s,])no-store(?:$|[\s,=])/.test(lower)) return 'no-store'
  if (/(?:^|[\s,])no-cache(?:$|[\s,=])/.test(lower)) return 'no-cache'
  return null
}
