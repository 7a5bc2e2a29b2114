/**
 * The store's bucket hash: MurmurHash3 (x86, 32-bit) over the key's bytes, with a per-process random seed so a
 * client cannot precompute keys that all land in one probe run (hash flooding). It never leaves the process, so
 * it need not match the ring's xxHash32 (decision 1); it only needs to be fast in JS and well mixed in its low
 * bits, which pick the bucket.
 *
 * KeyHash also leaves the key behind in a scratch area as 32-bit little-endian words (`words`), the form the
 * index compares against a chunk (chunks start 8-byte aligned, so a chunk's key is readable as Int32 words):
 * 4 bytes per compare instead of 1. A string key is hashed straight from its char codes when it is ASCII (no
 * UTF-8 encoder call), and its bytes are then in `bytes`, where a set copies them from.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** Word compares and word copies assume the platform reads Int32Array elements little-endian. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export class KeyHash {
  /** Scratch: a string key's UTF-8 bytes (3 bytes per UTF-16 unit at most, so never truncated). */
  readonly bytes: Buffer;
  /** The current key's full 4-byte blocks, as little-endian words (same memory as `bytes`). */
  readonly words: Int32Array;
  /** Byte length of the current key. */
  length = 0;

  constructor(
    readonly seed: number,
    maxKeyBytes: number,
  ) {
    const size = (3 * maxKeyBytes + 7) & ~7;
    this.bytes = Buffer.alloc(size);
    this.words = new Int32Array(this.bytes.buffer, this.bytes.byteOffset, size >> 2);
  }

  /** Hash buf[off, off + len) and leave its words in `words`. */
  hashBytes(buf: Uint8Array, off: number, len: number): number {
    const words = this.words;
    let h = this.seed;
    let i = off;
    let w = 0;
    const blocksEnd = off + (len & ~3);
    while (i < blocksEnd) {
      const k = buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24);
      words[w++] = k;
      h = mixBlock(h, k);
      i += 4;
    }
    const rest = len & 3;
    if (rest !== 0) {
      let k = buf[i]!;
      if (rest > 1) k |= buf[i + 1]! << 8;
      if (rest > 2) k |= buf[i + 2]! << 16;
      h = mixTail(h, k);
    }
    this.length = len;
    return finish(h, len);
  }

  /**
   * Hash a string key's UTF-8 bytes, leaving them in `bytes` (and the words in `words`); the length in `length`.
   * The caller checked 0 < str.length ≤ maxKeyBytes.
   */
  hashString(str: string): number {
    const n = str.length;
    if (!LITTLE_ENDIAN) return this.hashEncoded(str);
    const words = this.words;
    let h = this.seed;
    let i = 0;
    let w = 0;
    const blocksEnd = n & ~3;
    while (i < blocksEnd) {
      const c0 = str.charCodeAt(i);
      const c1 = str.charCodeAt(i + 1);
      const c2 = str.charCodeAt(i + 2);
      const c3 = str.charCodeAt(i + 3);
      if ((c0 | c1 | c2 | c3) >= 0x80) return this.hashEncoded(str);
      const k = c0 | (c1 << 8) | (c2 << 16) | (c3 << 24);
      words[w++] = k;
      h = mixBlock(h, k);
      i += 4;
    }
    const rest = n & 3;
    if (rest !== 0) {
      const bytes = this.bytes;
      let k = 0;
      for (let j = 0; j < rest; j++) {
        const c = str.charCodeAt(i + j);
        if (c >= 0x80) return this.hashEncoded(str);
        bytes[i + j] = c;
        k |= c << (8 * j);
      }
      h = mixTail(h, k);
    }
    this.length = n;
    return finish(h, n);
  }

  /** Non-ASCII (or big-endian) string: encode to UTF-8 in `bytes`, then hash those. */
  private hashEncoded(str: string): number {
    const len = this.bytes.write(str, 0, 'utf8');
    return this.hashBytes(this.bytes, 0, len);
  }
}

/** One MurmurHash3 block step (small enough for V8 to inline into both hashing loops). */
function mixBlock(h: number, k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function mixTail(h: number, k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  return h ^ k;
}

function finish(h: number, len: number): number {
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/** A fresh random 32-bit seed (crypto-quality is not needed; unpredictability across processes is). */
export function randomSeed(): number {
  return (Math.random() * 0x100000000) | 0;
}
