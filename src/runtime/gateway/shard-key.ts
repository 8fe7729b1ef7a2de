// The shard key of a request and its 32-bit hash. The hash decides which API
// (slot-table.ts) and which replica (rendezvous.ts) a session sticks to, in
// every gateway process alike, so it is a fixed function (murmur3) rather than
// anything seeded at start, and it runs once per request on the hot path.
import type {IncomingHttpHeaders} from 'node:http'

/** The request's shard key: `X-Shard-Key`, else Ray Serve's `X-Serve-Shard-Key`; an empty header counts as none. */
export function shardKeyOf(headers: IncomingHttpHeaders): string | undefined {
  return firstValue(headers['x-shard-key']) ?? firstValue(headers['x-serve-shard-key'])
}

function firstValue(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value
  return first === undefined || first === '' ? undefined : first
}

const C1 = 0xcc9e2d51
const C2 = 0x1b873593

/**
 * MurmurHash3 (x86, 32-bit) of the key's UTF-8 bytes, as an unsigned 32-bit
 * integer: the same value as the reference implementation (Python's
 * `mmh3.hash(key, seed, signed=False)`), in any process. The UTF-8 bytes are
 * produced on the fly, so no buffer is allocated; a lone surrogate counts as
 * U+FFFD, as Buffer.from does.
 */
export function hashKey(key: string, seed = 0): number {
  let h = seed >>> 0
  // The block being filled, how many of its bytes are set, and the byte count.
  let block = 0
  let filled = 0
  let length = 0
  const n = key.length
  for (let i = 0; i < n; i++) {
    let code = key.charCodeAt(i)
    let bytes: number
    let count: number
    if (code < 0x80) {
      bytes = code
      count = 1
    } else if (code < 0x800) {
      bytes = (0xc0 | (code >> 6)) | ((0x80 | (code & 0x3f)) << 8)
      count = 2
    } else {
      if (code >= 0xd800 && code <= 0xdfff) {
        const next = i + 1 < n ? key.charCodeAt(i + 1) : 0
        if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          code = 0x10000 + ((code - 0xd800) << 10) + (next - 0xdc00)
          i++
        } else code = 0xfffd
      }
      if (code < 0x10000) {
        bytes = (0xe0 | (code >> 12)) | ((0x80 | ((code >> 6) & 0x3f)) << 8) | ((0x80 | (code & 0x3f)) << 16)
        count = 3
      } else {
        bytes = (0xf0 | (code >> 18)) | ((0x80 | ((code >> 12) & 0x3f)) << 8) | ((0x80 | ((code >> 6) & 0x3f)) << 16) | ((0x80 | (code & 0x3f)) << 24)
        count = 4
      }
    }
    length += count
    // Feed the character's bytes (low byte first) into the 4-byte blocks.
    for (let b = 0; b < count; b++) {
      block |= (bytes & 0xff) << (filled << 3)
      bytes >>>= 8
      if (++filled === 4) {
        h ^= scramble(block)
        h = (h << 13) | (h >>> 19)
        h = (Math.imul(h, 5) + 0xe6546b64) | 0
        block = 0
        filled = 0
      }
    }
  }
  if (filled > 0) h ^= scramble(block)
  h ^= length
  return fmix32(h)
}

function scramble(k: number): number {
  k = Math.imul(k, C1)
  k = (k << 15) | (k >>> 17)
  return Math.imul(k, C2)
}

/** Murmur3's finaliser: every input bit affects every output bit. Unsigned. */
export function fmix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** A keyed mix of two 32-bit hashes (one murmur3 round of `a` seeded with `b`): a well-spread unsigned 32-bit score, no strings involved. */
export function mixHashes(a: number, b: number): number {
  let h = b ^ scramble(a)
  h = (h << 13) | (h >>> 19)
  h = (Math.imul(h, 5) + 0xe6546b64) | 0
  return fmix32(h ^ 4)
}
