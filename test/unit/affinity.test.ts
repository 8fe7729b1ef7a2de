import {test} from 'node:test'
import assert from 'node:assert/strict'
import {fmix32, hashKey, shardKeyOf} from '../../src/runtime/gateway/shard-key.js'
import {SlotTable, type SlotWeight} from '../../src/runtime/gateway/slot-table.js'
import {rendezvousPick} from '../../src/runtime/gateway/rendezvous.js'

const table = (weights: Record<string, number>, slots?: number): SlotTable => new SlotTable(asList(weights), slots)
const asList = (weights: Record<string, number>): SlotWeight[] => Object.entries(weights).map(([api, weight]) => ({api, weight}))

/** Total variation distance between two weight sets (weights in percent), as a share. */
function tv(from: Record<string, number>, to: Record<string, number>): number {
  const names = new Set([...Object.keys(from), ...Object.keys(to)])
  let sum = 0
  for (const name of names) sum += Math.abs((from[name] ?? 0) - (to[name] ?? 0))
  return sum / 200
}

/** Every slot's owner (one key hash per slot: the slot's own index). */
const layout = (slots: SlotTable): string[] => Array.from({length: slots.slots}, (_, s) => slots.lookup(s))

/** A seeded generator of 32-bit values, so the "random" cases are the same on every run. */
function xorshift(seed: number): () => number {
  let state = seed >>> 0 || 1
  return () => {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    return state >>> 0
  }
}

function randomWeights(names: string[], next: () => number): Record<string, number> {
  // Cut points on 0..100 make whole weights adding up to 100; some come out 0.
  const cuts = names.slice(1).map(() => next() % 101).sort((a, b) => a - b)
  const edges = [0, ...cuts, 100]
  return Object.fromEntries(names.map((name, i) => [name, edges[i + 1] - edges[i]]))
}

// ---- shard key ----

test('the shard key comes from X-Shard-Key, else Ray’s X-Serve-Shard-Key', () => {
  assert.equal(shardKeyOf({'x-shard-key': 'user-1'}), 'user-1')
  assert.equal(shardKeyOf({'x-serve-shard-key': 'user-2'}), 'user-2')
  assert.equal(shardKeyOf({'x-shard-key': 'user-1', 'x-serve-shard-key': 'user-2'}), 'user-1', 'ours first')
  assert.equal(shardKeyOf({}), undefined)
  assert.equal(shardKeyOf({'x-shard-key': ''}), undefined, 'empty is none')
  assert.equal(shardKeyOf({'x-shard-key': '', 'x-serve-shard-key': 'user-2'}), 'user-2', 'an empty header falls through to the other')
  assert.equal(shardKeyOf({'x-shard-key': ['a', 'b']} as never), 'a', 'an array gives its first')
  assert.equal(shardKeyOf({'x-shard-key': []} as never), undefined)
})

test('hashKey is MurmurHash3 x86_32 of the UTF-8 bytes (the reference vectors)', () => {
  const vectors: Array<[string, number, number]> = [
    ['', 0, 0],
    ['', 1, 0x514e28b7],
    ['', 0xffffffff, 0x81f16f39],
    ['\0\0\0\0', 0, 0x2362f9de],
    ['aaaa', 0x9747b28c, 0x5a97808a],
    ['abc', 0, 0xb3dd93fa],
    ['test', 0, 0xba6bd213],
    ['Hello, world!', 0x9747b28c, 0x24884cba],
    ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
    ['ππππππππ', 0x9747b28c, 0xd58063c1],
  ]
  for (const [key, seed, want] of vectors) assert.equal(hashKey(key, seed), want, `${JSON.stringify(key)} seed ${seed}`)
})

test('hashKey over any characters equals murmur3 of Buffer.from(key) (UTF-8, lone surrogates as U+FFFD)', () => {
  const next = xorshift(7)
  const alphabet = ['a', 'Z', '0', '-', 'é', 'ß', '€', '中', '😀', '\u{10ffff}', '\ud800', '\udc00', '\u007f', '\u0080', '\u07ff', '\u0800', '\uffff']
  for (let n = 0; n < 500; n++) {
    const length = next() % 24
    let key = ''
    for (let i = 0; i < length; i++) key += alphabet[next() % alphabet.length]
    assert.equal(hashKey(key, n), murmurOfBytes(Buffer.from(key, 'utf8'), n), JSON.stringify(key))
  }
})

test('hashKey is unsigned, spreads near keys evenly, and depends on the seed', () => {
  const buckets = new Array<number>(16).fill(0)
  for (let i = 0; i < 16_000; i++) {
    const h = hashKey(`user-${i}`)
    assert.ok(Number.isInteger(h) && h >= 0 && h <= 0xffffffff)
    buckets[h >>> 28]++
  }
  // 1,000 expected per bucket; a well-mixed hash stays within a few standard deviations (~31).
  for (const count of buckets) assert.ok(count > 850 && count < 1150, `bucket of ${count}`)
  assert.notEqual(hashKey('user-1', 1), hashKey('user-1', 2))
})

// ---- slot table ----

const GOLDEN_90_10 = 3_598_682_474

test('the same weights give the same table, whatever order they are listed in', () => {
  const a = table({'iris-a': 50, 'iris-b': 25, 'iris-c': 25})
  const b = table({'iris-c': 25, 'iris-a': 50, 'iris-b': 25})
  assert.deepEqual(layout(a), layout(b))
  // The layout is part of the contract between processes (and releases): pinned by its hash.
  assert.equal(hashKey(layout(table({a: 90, b: 10})).join('')), GOLDEN_90_10)
})

test('each API holds exactly its weight’s share of the slots; a weight-0 API holds none', () => {
  assert.deepEqual(table({a: 90, b: 10}).shares(), {a: 0.9, b: 0.1})
  assert.deepEqual(table({a: 34, b: 33, c: 33}).shares(), {a: 0.34, b: 0.33, c: 0.33})
  assert.deepEqual(table({a: 100, b: 0}).shares(), {a: 1})
  const small = table({a: 34, b: 33, c: 33}, 7)
  const counts = Object.values(small.shares()).map((share) => Math.round(share * 7))
  assert.equal(counts.reduce((x, y) => x + y, 0), 7, 'a table too small for exact shares still fills every slot')
})

test('lookup takes any 32-bit hash (slot = hash mod slots)', () => {
  const slots = table({a: 50, b: 50})
  assert.equal(slots.lookup(0xffffffff), slots.lookup(0xffffffff % 10_000))
  assert.equal(slots.lookup(-1), slots.lookup(0xffffffff), 'a signed value reads as its unsigned bits')
  assert.equal(slots.lookup(12_345), slots.lookup(2_345))
})

test('reweigh 90/10 → 80/20 moves exactly 10% of the slots, all from a to b', () => {
  const slots = table({a: 90, b: 10})
  const before = layout(slots)
  assert.equal(slots.reweigh(asList({a: 80, b: 20})), 1_000)
  const after = layout(slots)
  assert.deepEqual(slots.shares(), {a: 0.8, b: 0.2})
  const changed = before.map((api, s) => [api, after[s]]).filter(([x, y]) => x !== y)
  assert.equal(changed.length, 1_000)
  assert.ok(changed.every(([x, y]) => x === 'a' && y === 'b'))
})

test('reweigh 50/25/25 → 25/25/50 moves exactly 25%: a’s surplus to c, b untouched', () => {
  const slots = table({a: 50, b: 25, c: 25})
  const before = layout(slots)
  assert.equal(slots.reweigh(asList({a: 25, b: 25, c: 50})), 2_500)
  const after = layout(slots)
  assert.deepEqual(slots.shares(), {a: 0.25, b: 0.25, c: 0.5})
  const changed = before.map((api, s) => [api, after[s]]).filter(([x, y]) => x !== y)
  assert.equal(changed.length, 2_500)
  assert.ok(changed.every(([x, y]) => x === 'a' && y === 'c'))
})

test('keys follow the slots: the share of random keys that change API is the TV distance', () => {
  const slots = table({a: 90, b: 10})
  const keys = Array.from({length: 50_000}, (_, i) => hashKey(`session-${i}`))
  const before = keys.map((h) => slots.lookup(h))
  slots.reweigh(asList({a: 80, b: 20}))
  const moved = keys.filter((h, i) => slots.lookup(h) !== before[i]).length / keys.length
  assert.ok(Math.abs(moved - 0.1) < 0.01, `moved ${moved}`)
})

test('random weight sequences: every step moves exactly the TV distance, and only from APIs that lost weight', () => {
  const next = xorshift(2026)
  for (let run = 0; run < 20; run++) {
    const names = ['a', 'b', 'c', 'd', 'e'].slice(0, 2 + (run % 4))
    let weights = randomWeights(names, next)
    const slots = table(weights)
    for (let step = 0; step < 8; step++) {
      const to = randomWeights(names, next)
      const before = layout(slots)
      const moved = slots.reweigh(asList(to))
      const after = layout(slots)
      assert.equal(moved, Math.round(tv(weights, to) * 10_000), `${JSON.stringify(weights)} → ${JSON.stringify(to)}`)
      assert.equal(before.filter((api, s) => api !== after[s]).length, moved)
      for (let s = 0; s < before.length; s++) {
        if (before[s] === after[s]) continue
        assert.ok((to[before[s]] ?? 0) < weights[before[s]], 'a slot leaves only an API whose weight fell')
        assert.ok(to[after[s]] > (weights[after[s]] ?? 0), 'a slot goes only to an API whose weight rose')
      }
      const expected = Object.fromEntries(Object.entries(to).filter(([, w]) => w > 0).map(([api, w]) => [api, w / 100]))
      assert.deepEqual(slots.shares(), expected)
      weights = to
    }
  }
})

test('the same history of weights, replayed on a fresh table, gives the same table', () => {
  const history: Array<Record<string, number>> = [{a: 90, b: 10}, {a: 80, b: 20}, {a: 40, b: 20, c: 40}, {b: 50, c: 50}, {a: 10, b: 45, c: 45}]
  const replay = (): string[] => {
    const slots = table(history[0])
    for (const weights of history.slice(1)) slots.reweigh(asList(weights))
    return layout(slots)
  }
  assert.deepEqual(replay(), replay())
})

test('an API added takes only its share, from the others; one removed hands on only its own slots', () => {
  const slots = table({a: 50, b: 50})
  const before = layout(slots)
  assert.equal(slots.reweigh(asList({a: 40, b: 40, c: 20})), 2_000)
  const withC = layout(slots)
  assert.deepEqual(slots.shares(), {a: 0.4, b: 0.4, c: 0.2})
  assert.ok(before.every((api, s) => withC[s] === api || withC[s] === 'c'), 'keys move only to the new API')

  // c removed by leaving it out: its slots, and only those, go back to a and b.
  assert.equal(slots.reweigh(asList({a: 50, b: 50})), 2_000)
  const withoutC = layout(slots)
  assert.deepEqual(slots.shares(), {a: 0.5, b: 0.5})
  assert.ok(withC.every((api, s) => api === 'c' || withoutC[s] === api), 'only c’s keys move')

  // Removing by weight 0 is the same; a name seen before comes back as any new one would.
  assert.equal(slots.reweigh(asList({a: 100, b: 0})), 5_000)
  assert.deepEqual(slots.shares(), {a: 1})
  assert.equal(slots.reweigh(asList({a: 70, c: 30})), 3_000)
  assert.deepEqual(slots.shares(), {a: 0.7, c: 0.3})
})

test('undoing a change sends every key it moved back where it was, and redoing it moves them again (any weights)', () => {
  const next = xorshift(11)
  for (let run = 0; run < 10; run++) {
    const names = ['a', 'b', 'c', 'd'].slice(0, 2 + (run % 3))
    let weights = randomWeights(names, next)
    const slots = table(weights)
    for (let step = 0; step < 6; step++) {
      const to = randomWeights(names, next)
      const before = layout(slots)
      slots.reweigh(asList(to))
      const after = layout(slots)
      assert.equal(slots.reweigh(asList(weights)), Math.round(tv(weights, to) * 10_000))
      assert.deepEqual(layout(slots), before, `undo of ${JSON.stringify(weights)} → ${JSON.stringify(to)}`)
      slots.reweigh(asList(to))
      assert.deepEqual(layout(slots), after, 'redo')
      weights = to
    }
  }
})

test('APIs taken to 0 and brought back get back the very slots they gave up', () => {
  const slots = table({a: 20, b: 40, c: 40})
  const start = layout(slots)
  slots.reweigh(asList({a: 100, b: 0, c: 0}))
  assert.deepEqual(slots.shares(), {a: 1})
  slots.reweigh(asList({a: 20, b: 40, c: 40}))
  assert.deepEqual(layout(slots), start)
})

test('a table that reached its weights by a change lies close to a fresh one with those weights (a restart)', () => {
  const differ = (from: Record<string, number>, to: Record<string, number>): number => {
    const changed = table(from)
    changed.reweigh(asList(to))
    const fresh = layout(table(to))
    return layout(changed).filter((api, s) => api !== fresh[s]).length / 10_000
  }
  // Against the TV distance the change itself moved (0.10, 0.25, 0.24): a fresh layout shares most of the change's.
  assert.ok(differ({a: 90, b: 10}, {a: 80, b: 20}) < 0.03)
  assert.ok(differ({a: 50, b: 25, c: 25}, {a: 25, b: 25, c: 50}) < 0.15)
  assert.ok(differ({a: 34, b: 33, c: 33}, {a: 10, b: 45, c: 45}) < 0.03)
})

test('a rollout between two APIs put back in one change (90/10 → 80/20 → 50/50 → 90/10) restores the layout', () => {
  const slots = table({a: 90, b: 10})
  const start = layout(slots)
  slots.reweigh(asList({a: 80, b: 20}))
  slots.reweigh(asList({a: 50, b: 50}))
  assert.equal(slots.reweigh(asList({a: 90, b: 10})), 4_000)
  assert.deepEqual(layout(slots), start)
})

test('bad weights are refused and leave the table as it was', () => {
  const slots = table({a: 50, b: 50})
  const before = layout(slots)
  assert.throws(() => slots.reweigh(asList({a: 50, b: 40})), /add up to 90/)
  assert.throws(() => slots.reweigh(asList({a: 50.5, b: 49.5})), /whole number/)
  assert.throws(() => slots.reweigh([{api: 'a', weight: 50}, {api: 'a', weight: 50}]), /twice/)
  assert.throws(() => table({a: 101, b: -1}), /whole number/)
  assert.deepEqual(layout(slots), before)
})

// ---- rendezvous ----

interface Candidate {
  id: string
  up: boolean
}
const replicas = (n: number, from = 0): Candidate[] => Array.from({length: n}, (_, i) => ({id: `iris-a-${from + i}`, up: true}))
const always = (): boolean => true
const keyHashes = Array.from({length: 20_000}, (_, i) => hashKey(`user-${i}`))
const assign = (candidates: readonly Candidate[], usable: (c: Candidate) => boolean = always): Array<string | undefined> =>
  keyHashes.map((h) => rendezvousPick(h, candidates, usable)?.id)

test('rendezvous spreads keys evenly and does not depend on the candidates’ order', () => {
  const five = replicas(5)
  const picks = assign(five)
  assert.deepEqual(assign([...five].reverse()), picks)
  const counts = new Map<string, number>()
  for (const id of picks) counts.set(id!, (counts.get(id!) ?? 0) + 1)
  // 4,000 expected each; allow for sampling noise (sd ~57) and a little more.
  for (const [id, count] of counts) assert.ok(count > 3_700 && count < 4_300, `${id} holds ${count}`)
  assert.equal(counts.size, 5)
})

test('rendezvous: a replica leaving moves only its own keys', () => {
  const five = replicas(5)
  const before = assign(five)
  const gone = five[2]
  const after = assign(five.filter((c) => c !== gone))
  for (let i = 0; i < before.length; i++) {
    if (before[i] !== gone.id) assert.equal(after[i], before[i], 'a key of another replica stays')
    else assert.notEqual(after[i], gone.id)
  }
  // Unusable (not ready, or full) is the same as gone.
  assert.deepEqual(assign(five, (c) => c !== gone), after)
})

test('rendezvous: a replica joining takes about 1/(N+1) of the keys, all from the others, none between them', () => {
  const four = replicas(4)
  const before = assign(four)
  const joined = replicas(1, 4)[0]
  const after = assign([...four, joined])
  let moved = 0
  for (let i = 0; i < before.length; i++) {
    if (after[i] === before[i]) continue
    moved++
    assert.equal(after[i], joined.id, 'a key that moves goes to the new replica')
  }
  const share = moved / before.length
  assert.ok(Math.abs(share - 1 / 5) < 0.02, `moved ${share}`)
})

test('rendezvous: none usable gives null; the id hash follows an id that changes', () => {
  const two = replicas(2)
  assert.equal(rendezvousPick(1, two, () => false), null)
  assert.equal(rendezvousPick(1, [], always), null)
  const mutable = {id: 'x', up: true}
  const other = {id: 'y', up: true}
  // Find a key x wins, then rename x so that the cached hash would be wrong.
  const key = keyHashes.find((h) => rendezvousPick(h, [mutable, other], always) === mutable)!
  const renamed = {id: 'y2', up: true}
  mutable.id = 'y2'
  assert.equal(rendezvousPick(key, [mutable, other], always)?.id, rendezvousPick(key, [renamed, other], always)?.id)
})

/** A plain murmur3 x86_32 over bytes, to check the streaming one against. */
function murmurOfBytes(data: Buffer, seed: number): number {
  let h = seed >>> 0
  const blocks = data.length >> 2
  const scramble = (k: number): number => Math.imul(rotl(Math.imul(k, 0xcc9e2d51), 15), 0x1b873593)
  for (let i = 0; i < blocks; i++) {
    h ^= scramble(data.readUInt32LE(i * 4))
    h = (Math.imul(rotl(h, 13), 5) + 0xe6546b64) | 0
  }
  let tail = 0
  const rest = data.length & 3
  for (let i = rest - 1; i >= 0; i--) tail = (tail << 8) | data[blocks * 4 + i]
  if (rest > 0) h ^= scramble(tail)
  return fmix32(h ^ data.length)
}

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r))
}
