// Which API of a splitter a shard key belongs to. The key's hash picks one of a
// fixed number of slots, and each API owns exactly its weight's share of them.
// A weight change moves only slots from APIs over their new share to APIs
// under it, so the share of keys that change API is the least any scheme could
// move: the total variation distance between the old and the new weights.
// Hashing onto cumulative weights (Ray's old way), weighted rendezvous hashing
// or Maglev can move more (bench/affinity-remap.ts measures how much).
//
// Which slots go where follows from the weights' history alone, so every
// process with the same history holds the same table. Each slot has a score
// for each API, as in weighted rendezvous hashing (−weight / ln u, u the
// slot's hash with the API's name). The initial layout hands out the slots by
// best score, each API up to its share. On a change, an API over its share
// gives up the slots it took most recently first, then those a taking API
// wants most over it; a slot goes back to the API it last came from when that
// API is taking, else to the taking API that scores it best. So undoing the
// last change (a rollback) sends every key it moved back where it was, to
// caches still warm; and a table that reached some weights by a change lies
// close to the one a restart with those weights lays out afresh. The scores
// use only integer mixing and Math.log, which V8 computes with its own fdlibm
// port, so they are the same on every machine and Node version.

import {hashKey, mixHashes} from './shard-key.js'

export interface SlotWeight {
  api: string
  weight: number
}

const NONE = 0xffff
/** Slots a table may have: a slot's place fits beside a 32-bit hash in one float (2^21 × 2^32 = 2^53). */
const PLACES = 2 ** 21

export class SlotTable {
  /** The owner of each slot, as an index into `names`. */
  private readonly owners: Uint16Array
  /** The owner each slot had before its last move (NONE when it has not moved). */
  private readonly previous: Uint16Array
  /** The change (a count of reweighs) in which each slot last moved. */
  private readonly movedIn: Uint32Array
  private changes = 0
  /** API names by index. An API at 0 keeps its index, so slots it gave up can find their way back to it by name. */
  private readonly names: string[] = []
  /** hashKey of each name, for the scores. */
  private readonly nameHashes: number[] = []

  constructor(
    weights: ReadonlyArray<SlotWeight>,
    readonly slots = 10_000,
  ) {
    if (!Number.isInteger(slots) || slots < 1 || slots > PLACES) throw new RangeError(`a slot table needs a whole number of slots from 1 to ${PLACES}, got ${slots}`)
    this.owners = new Uint16Array(slots).fill(NONE)
    this.previous = new Uint16Array(slots).fill(NONE)
    this.movedIn = new Uint32Array(slots)
    this.reweigh(weights)
  }

  /** The API owning the hash's slot. */
  lookup(hash: number): string {
    return this.names[this.owners[(hash >>> 0) % this.slots]]
  }

  /**
   * Moves the fewest slots so that each API holds its weight's share: those
   * over their share give up slots, those under take them. An API missing from
   * `weights` (or at 0) gives up all of its slots; a new name takes its share.
   * Returns how many slots changed owner.
   */
  reweigh(weights: ReadonlyArray<SlotWeight>): number {
    const targets = slotTargets(weights, this.slots)
    // Names in code-unit order, so the layout does not depend on the order the weights were listed in.
    const apis = [...targets.keys()].sort(byCodeUnits)
    for (const api of apis) if (targets.get(api)! > 0 && !this.names.includes(api)) this.claimIndex(api, targets)

    const counts = new Array<number>(this.names.length).fill(0)
    for (let s = 0; s < this.slots; s++) if (this.owners[s] !== NONE) counts[this.owners[s]]++
    const surplus = this.names.map((name, index) => counts[index] - (targets.get(name) ?? 0))
    const score = (slot: number, index: number): number => weightedScore(targets.get(this.names[index]) ?? 0, this.u(slot, index))
    const takers = apis.map((api) => this.names.indexOf(api)).filter((index) => index >= 0 && surplus[index] < 0)
    const given = this.giveUp(surplus, takers, score)
    const change = ++this.changes

    let moved = 0
    const take = (slot: number, to: number): void => {
      const from = this.owners[slot]
      if (from !== NONE) moved++
      this.previous[slot] = from
      this.owners[slot] = to
      this.movedIn[slot] = change
      surplus[to]++
    }
    // First, slots back to the API they last came from, when it is taking.
    const rest: number[] = []
    for (const slot of given) {
      const back = this.previous[slot]
      if (back !== NONE && surplus[back] < 0) take(slot, back)
      else rest.push(slot)
    }
    // Then the rest to the taking APIs, best score first, each up to its share.
    this.placeBest(rest, takers, targets, surplus, take)
    return moved
  }

  /** Each API's share of the slots (0–1), for APIs that hold any. */
  shares(): Record<string, number> {
    const counts = new Array<number>(this.names.length).fill(0)
    for (let s = 0; s < this.slots; s++) counts[this.owners[s]]++
    const shares: Record<string, number> = {}
    this.names.forEach((name, index) => {
      if (counts[index] > 0) shares[name] = counts[index] / this.slots
    })
    return shares
  }

  /**
   * Hands out `slots` to the `takers` as greedy weighted rendezvous does:
   * every (slot, API) pair by score, best first, each API up to its share.
   * For one API the score rises with u alone, so each API's slots are sorted
   * by u (natively, u and the slot's place packed in one float) and the lists
   * merged by score.
   */
  private placeBest(slots: readonly number[], takers: readonly number[], targets: ReadonlyMap<string, number>, surplus: number[], take: (slot: number, to: number) => void): void {
    const n = slots.length
    const lists = takers.map((index) => {
      const keys = new Float64Array(n)
      for (let i = 0; i < n; i++) keys[i] = this.u(slots[i], index) * PLACES + i
      keys.sort()
      return {index, weight: targets.get(this.names[index])!, keys, next: n - 1}
    })
    const placed = new Uint8Array(n)
    const head = (list: (typeof lists)[number]): number => {
      while (list.next >= 0 && placed[list.keys[list.next] % PLACES] === 1) list.next--
      return list.next < 0 ? -1 : weightedScore(list.weight, Math.floor(list.keys[list.next] / PLACES))
    }
    for (let left = n; left > 0; left--) {
      let best: (typeof lists)[number] | null = null
      let bestScore = -1
      for (const list of lists) {
        if (surplus[list.index] >= 0) continue
        const score = head(list)
        if (score > bestScore) {
          best = list
          bestScore = score
        }
      }
      if (best === null) return
      const i = best.keys[best.next] % PLACES
      placed[i] = 1
      take(slots[i], best.index)
    }
  }

  /**
   * Every unowned slot, and the slots each API over its share gives up: the
   * most recently taken first, then those a taking API wants most over it.
   */
  private giveUp(surplus: readonly number[], takers: readonly number[], score: (slot: number, index: number) => number): number[] {
    const held = new Map<number, number[]>()
    const given: number[] = []
    for (let slot = 0; slot < this.slots; slot++) {
      const owner = this.owners[slot]
      if (owner === NONE) given.push(slot)
      else if (surplus[owner] > 0) {
        const slots = held.get(owner)
        if (slots) slots.push(slot)
        else held.set(owner, [slot])
      }
    }
    // How much more a taking API wants the slot than its owner does, under the new weights (the owner at 0 wants none).
    const pull = new Float64Array(this.slots)
    for (const [owner, slots] of held) {
      for (const slot of slots) {
        let best = 0
        for (const taker of takers) best = Math.max(best, score(slot, taker))
        pull[slot] = best / score(slot, owner)
      }
      slots.sort((a, b) => this.movedIn[b] - this.movedIn[a] || pull[b] - pull[a] || a - b)
      for (let k = 0; k < surplus[owner]; k++) given.push(slots[k])
    }
    return given
  }

  /** The slot's hash with the API's name: the API's preference for the slot, before its weight. */
  private u(slot: number, index: number): number {
    return mixHashes(slot, this.nameHashes[index])
  }

  /** A new API's index: the next one, or past 65,535 names ever seen, one of an API that holds no slot and takes none now. */
  private claimIndex(api: string, targets: ReadonlyMap<string, number>): void {
    if (this.names.length < NONE) {
      this.names.push(api)
      this.nameHashes.push(hashKey(api))
      return
    }
    const counts = new Array<number>(this.names.length).fill(0)
    for (let s = 0; s < this.slots; s++) if (this.owners[s] !== NONE) counts[this.owners[s]]++
    const retired = this.names.findIndex((name, index) => counts[index] === 0 && (targets.get(name) ?? 0) === 0)
    if (retired < 0) throw new RangeError('a slot table holds at most 65535 APIs')
    this.names[retired] = api
    this.nameHashes[retired] = hashKey(api)
    // Slots that came from the API retired must not "go back" to the new one.
    for (let s = 0; s < this.slots; s++) if (this.previous[s] === retired) this.previous[s] = NONE
  }
}

/**
 * Slots per API: weight × slots / 100 each, by largest remainder when that is
 * not whole (ties to the heavier weight, then the name first in code-unit
 * order), so the counts add up to the slots exactly.
 */
function slotTargets(weights: ReadonlyArray<SlotWeight>, slots: number): Map<string, number> {
  const targets = new Map<string, number>()
  let sum = 0
  for (const {api, weight} of weights) {
    if (!Number.isInteger(weight) || weight < 0 || weight > 100) throw new RangeError(`the weight of "${api}" is ${weight}; a weight is a whole number from 0 to 100`)
    if (targets.has(api)) throw new RangeError(`"${api}" is given twice`)
    targets.set(api, 0)
    sum += weight
  }
  if (sum !== 100) throw new RangeError(`the weights add up to ${sum}; they must add up to 100`)
  const rest = weights.map(({api, weight}) => {
    const exact = (weight * slots) / 100
    targets.set(api, Math.floor(exact))
    return {api, weight, remainder: weight * slots - Math.floor(exact) * 100}
  })
  let left = slots - [...targets.values()].reduce((total, n) => total + n, 0)
  rest.sort((a, b) => b.remainder - a.remainder || b.weight - a.weight || byCodeUnits(a.api, b.api))
  for (const {api} of rest) {
    if (left === 0) break
    targets.set(api, targets.get(api)! + 1)
    left--
  }
  return targets
}

/** Weighted rendezvous: −weight / ln u, with u the 32-bit hash mapped into (0, 1). Higher wins. */
function weightedScore(weight: number, hash: number): number {
  return -weight / Math.log((hash + 0.5) / 4_294_967_296)
}

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)
