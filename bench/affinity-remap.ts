// How many sessions a weight change moves to another API, by scheme.
//
// Shard keys pin a session to one API of a splitter (docs/traffic.md, "Session
// affinity"). When the weights change, some keys must move; the fewest that
// can is the total variation distance between the old and new weights (half
// the sum of the absolute changes). This measures, over random keys, the share
// each scheme moves for a few changes, beside that minimum:
//
//   slot table      mlserve's (src/runtime/gateway/slot-table.ts): 10,000 slots, APIs over
//                   their new share hand slots to those under it
//   cumulative      Ray Serve's old way: the hash as a point in [0, 1), matched on the
//                   cumulative weights in the order the APIs are listed
//   rendezvous      weighted rendezvous hashing: the API with the highest −w / ln(u), u the
//                   key's hash with the API's, in (0, 1)
//   maglev          Maglev (Eisenbud et al. 2016) with a 65,537-entry table, weighted as
//                   Envoy does (an API fills entries in proportion to its weight)
//
// Every scheme hashes a key with the gateway's hashKey (murmur3). The keys come
// from a seeded generator, so a run reproduces the table exactly. Then it shows
// what a restart with the new weights moves on top (the slot table lives as long
// as the runtime), and times the lookups (a note: one run, on whatever else the
// machine does).
//
// Run: node --import tsx bench/affinity-remap.ts [--keys 100000]
import {hashKey, mixHashes} from '../src/runtime/gateway/shard-key.js'
import {SlotTable} from '../src/runtime/gateway/slot-table.js'
import {rendezvousPick} from '../src/runtime/gateway/rendezvous.js'
import {machine} from './lib.js'

type Weights = Record<string, number>

interface Scheme {
  name: string
  /** A key-hash → API mapper for these weights; `previous` is the mapper it replaces (the slot table changes in place). */
  build(weights: Weights, previous: Mapper | null): Mapper
  /** The share of all hash values that change API, from the scheme's structure rather than sampled keys, where it can be had. */
  exact?(before: Mapper, after: Mapper): number
}
type Mapper = (hash: number) => string

const CHANGES: Array<[Weights, Weights]> = [
  [{a: 90, b: 10}, {a: 80, b: 20}],
  [{a: 50, b: 25, c: 25}, {a: 25, b: 25, c: 50}],
  [{a: 34, b: 33, c: 33}, {a: 10, b: 45, c: 45}],
  [{a: 25, b: 25, c: 25, d: 25}, {a: 40, b: 20, c: 20, d: 20}],
]

const asList = (weights: Weights) => Object.entries(weights).map(([api, weight]) => ({api, weight}))

const slotTable: Scheme = {
  name: 'slot table (10,000)',
  build(weights, previous) {
    // One table for the runtime's life: a change reweighs it, as the gateway does.
    const table = previous ? tables.get(previous)! : new SlotTable(asList(weights))
    if (previous) table.reweigh(asList(weights))
    const mapper: Mapper = (hash) => table.lookup(hash)
    tables.set(mapper, table)
    return mapper
  },
  exact: (before, after) => movedOverTable(before, after, 10_000),
}
const tables = new WeakMap<Mapper, SlotTable>()

/**
 * For schemes that look the hash up in a table of `size` entries (hash mod
 * size): the share of entries that change owner. The slot table changes in
 * place, so the owners before are read when the mapper is first seen.
 */
function movedOverTable(before: Mapper, after: Mapper, size: number): number {
  const owners = snapshots.get(before) ?? []
  let moved = 0
  for (let s = 0; s < size; s++) if (owners[s] !== after(s)) moved++
  return moved / size
}
const snapshots = new WeakMap<Mapper, string[]>()
const snapshot = (mapper: Mapper, size: number): void => void snapshots.set(mapper, Array.from({length: size}, (_, s) => mapper(s)))

const cumulative: Scheme = {
  name: 'cumulative (Ray, old)',
  build(weights) {
    const entries = Object.entries(weights)
    const bounds: number[] = []
    let sum = 0
    for (const [, weight] of entries) bounds.push((sum += weight) / 100)
    boundsSeen.push(...bounds)
    return (hash) => {
      const point = hash / 2 ** 32
      for (let i = 0; i < entries.length; i++) if (point < bounds[i] && entries[i][1] > 0) return entries[i][0]
      return entries[entries.length - 1][0]
    }
  },
  // Owners change at the cumulative bounds only: the length of [0, 1) whose owner differs, read between every pair of bounds.
  exact(before, after) {
    const points = [...new Set([0, 1, ...boundsSeen])].sort((a, b) => a - b)
    let moved = 0
    for (let i = 0; i + 1 < points.length; i++) {
      const middle = Math.floor(((points[i] + points[i + 1]) / 2) * 2 ** 32)
      if (before(middle) !== after(middle)) moved += points[i + 1] - points[i]
    }
    return moved
  },
}
const boundsSeen: number[] = []

const rendezvous: Scheme = {
  name: 'weighted rendezvous',
  build(weights) {
    const arms = Object.entries(weights)
      .filter(([, weight]) => weight > 0)
      .map(([api, weight]) => ({api, weight, hash: hashKey(api)}))
    return (hash) => {
      let best = ''
      let bestScore = -Infinity
      for (const arm of arms) {
        const u = (mixHashes(hash, arm.hash) + 0.5) / 2 ** 32
        const score = -arm.weight / Math.log(u)
        if (score > bestScore) {
          best = arm.api
          bestScore = score
        }
      }
      return best
    }
  },
}

const MAGLEV_SIZE = 65_537

const maglev: Scheme = {
  name: `maglev (${MAGLEV_SIZE.toLocaleString('en-US')})`,
  build(weights) {
    const apis = Object.entries(weights).filter(([, weight]) => weight > 0)
    const maxWeight = Math.max(...apis.map(([, weight]) => weight))
    const entries = apis.map(([api, weight]) => ({
      api,
      weight,
      offset: hashKey(api, 0x6f6666) % MAGLEV_SIZE,
      skip: (hashKey(api, 0x736b6970) % (MAGLEV_SIZE - 1)) + 1,
      next: 0,
      target: 0,
    }))
    const table = new Int32Array(MAGLEV_SIZE).fill(-1)
    let filled = 0
    // Envoy's weighted fill: an entry takes a turn in iteration i once i × weight reaches its target, which then grows by the largest weight.
    for (let iteration = 0; filled < MAGLEV_SIZE; iteration++) {
      for (let e = 0; e < entries.length && filled < MAGLEV_SIZE; e++) {
        const entry = entries[e]
        if (iteration * entry.weight < entry.target) continue
        entry.target += maxWeight
        for (;;) {
          const slot = (entry.offset + entry.next * entry.skip) % MAGLEV_SIZE
          entry.next++
          if (table[slot] < 0) {
            table[slot] = e
            filled++
            break
          }
        }
      }
    }
    const names = entries.map((entry) => entry.api)
    return (hash) => names[table[hash % MAGLEV_SIZE]]
  },
  exact: (before, after) => movedOverTable(before, after, MAGLEV_SIZE),
}

const SCHEMES = [slotTable, cumulative, rendezvous, maglev]

/** Total variation distance between two weight sets, as a share: the fewest keys any scheme can move. */
function tvDistance(from: Weights, to: Weights): number {
  const names = new Set([...Object.keys(from), ...Object.keys(to)])
  let sum = 0
  for (const name of names) sum += Math.abs((from[name] ?? 0) - (to[name] ?? 0))
  return sum / 200
}

/** Seeded xorshift32, so the keys are the same on every run. */
function xorshift(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    return state >>> 0
  }
}

const label = (weights: Weights): string => Object.values(weights).join('/')

function keysOf(count: number): string[] {
  const next = xorshift(0x5eed)
  return Array.from({length: count}, () => `session-${next().toString(16)}${next().toString(16)}`)
}

function remap(keyHashes: Uint32Array): void {
  console.log('| scheme | change | moved share (keys) | minimum (TV distance) | ratio to minimum | moved share (exact, over the table) | shares after (keys, %) |')
  console.log('| --- | --- | --- | --- | --- | --- | --- |')
  for (const [from, to] of CHANGES) {
    const minimum = tvDistance(from, to)
    for (const scheme of SCHEMES) {
      boundsSeen.length = 0
      const before = scheme.build(from, null)
      if (scheme === slotTable) snapshot(before, 10_000)
      if (scheme === maglev) snapshot(before, MAGLEV_SIZE)
      const owners = Array.from(keyHashes, (hash) => before(hash))
      const after = scheme.build(to, before)
      let moved = 0
      const counts: Record<string, number> = {}
      for (let i = 0; i < keyHashes.length; i++) {
        const api = after(keyHashes[i])
        if (api !== owners[i]) moved++
        counts[api] = (counts[api] ?? 0) + 1
      }
      const share = moved / keyHashes.length
      const shares = Object.keys(to)
        .map((api) => (((counts[api] ?? 0) / keyHashes.length) * 100).toFixed(1))
        .join('/')
      const exact = scheme.exact ? scheme.exact(before, after).toFixed(4) : '—'
      console.log(`| ${scheme.name} | ${label(from)} → ${label(to)} | ${share.toFixed(4)} | ${minimum.toFixed(4)} | ${(share / minimum).toFixed(2)}× | ${exact} | ${shares} |`)
    }
  }
}

/** Lookups per second: best of a few passes over the hashes, so a hiccup of the machine does not count. */
function perSecond(passes: number, count: number, body: () => number): number {
  let best = Infinity
  let sink = 0
  for (let p = 0; p < passes; p++) {
    const t0 = process.hrtime.bigint()
    sink += body()
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9)
  }
  if (sink === 0.5) console.log('') // keeps the work from being optimised away
  return count / best
}

/**
 * The limit of the slot table: it lives as long as the runtime. A runtime
 * started afresh with the new weights lays the slots out from those alone, so
 * against the table that reached them by a change, some keys land elsewhere.
 */
function restart(keyHashes: Uint32Array): void {
  console.log('| change, then a restart with the new weights | keys on another API after the restart |')
  console.log('| --- | --- |')
  for (const [from, to] of CHANGES) {
    const changed = new SlotTable(asList(from))
    changed.reweigh(asList(to))
    const fresh = new SlotTable(asList(to))
    let moved = 0
    for (let i = 0; i < keyHashes.length; i++) if (changed.lookup(keyHashes[i]) !== fresh.lookup(keyHashes[i])) moved++
    console.log(`| ${label(from)} → ${label(to)} | ${(moved / keyHashes.length).toFixed(4)} |`)
  }
}

function timings(keys: string[], keyHashes: Uint32Array): void {
  const table = new SlotTable(asList({a: 50, b: 25, c: 25}))
  const n = keyHashes.length
  const lookups = perSecond(5, n * 10, () => {
    let length = 0
    for (let r = 0; r < 10; r++) for (let i = 0; i < n; i++) length += table.lookup(keyHashes[i]).length
    return length
  })
  const hashed = perSecond(5, n, () => {
    let length = 0
    for (let i = 0; i < n; i++) length += table.lookup(hashKey(keys[i])).length
    return length
  })
  const replicas = Array.from({length: 4}, (_, i) => ({id: `iris-a-${i}-7f3c9a`}))
  const usable = (): boolean => true
  const picked = perSecond(5, n, () => {
    let length = 0
    for (let i = 0; i < n; i++) length += rendezvousPick(keyHashes[i], replicas, usable)!.id.length
    return length
  })
  const fmt = (x: number): string => `${(x / 1e6).toFixed(1)} M/s`
  console.log(`slot table lookup (hash given): ${fmt(lookups)}; hashKey of a ~24-character key + lookup: ${fmt(hashed)}; rendezvousPick over 4 replicas: ${fmt(picked)}`)
}

function main(): void {
  const at = process.argv.indexOf('--keys')
  const count = at >= 0 ? Number(process.argv[at + 1]) : 100_000
  if (!Number.isInteger(count) || count < 1) throw new Error(`--keys needs a whole number of 1 or more, got ${process.argv[at + 1]}`)
  const keys = keysOf(count)
  const keyHashes = Uint32Array.from(keys, (key) => hashKey(key))
  console.log(`Keys that change API when the weights change, ${count.toLocaleString('en-US')} random keys (${machine()})`)
  console.log('')
  remap(keyHashes)
  console.log('')
  restart(keyHashes)
  console.log('')
  timings(keys, keyHashes)
}

main()
