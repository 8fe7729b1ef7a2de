// Which replica of one API a shard key sticks to: rendezvous (highest random
// weight) hashing. Each replica scores the key; the highest usable score wins.
// A replica's scores do not depend on which others exist, so one joining takes
// only the keys it now outscores everyone on (about 1/(N+1) of them), and one
// leaving hands on only its own keys, each to that key's next-best replica.
import {hashKey, mixHashes} from './shard-key.js'

/** Each candidate's id hash, kept beside the id it was made from (an id is not hashed per request). */
const idHashes = new WeakMap<object, {id: string; hash: number}>()

function idHash(candidate: {id: string}): number {
  const id = candidate.id
  const cached = idHashes.get(candidate)
  if (cached !== undefined && cached.id === id) return cached.hash
  const hash = hashKey(id)
  idHashes.set(candidate, {id, hash})
  return hash
}

/** The usable candidate with the highest score for this key hash, or null when none is usable. Ties (rare) go to the smaller id, so the pick does not depend on the candidates' order. */
export function rendezvousPick<T extends {id: string}>(keyHash: number, candidates: readonly T[], usable: (c: T) => boolean): T | null {
  let best: T | null = null
  let bestScore = -1
  for (let i = 0; i < candidates.length; i++) {
    const candidate = candidates[i]
    if (!usable(candidate)) continue
    const score = mixHashes(keyHash, idHash(candidate))
    if (score > bestScore || (score === bestScore && candidate.id < best!.id)) {
      best = candidate
      bestScore = score
    }
  }
  return best
}
