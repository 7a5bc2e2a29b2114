/**
 * xxHash32 in TypeScript, written from the published XXH32 algorithm description. It is the reference the
 * native addon is tested against and the fallback where no binary loads, so it must stay bit-identical to
 * native/hash.h. Math.imul keeps every multiplication in uint32 arithmetic; `>>> 0` makes results unsigned.
 */

const PRIME1 = 0x9e3779b1;
const PRIME2 = 0x85ebca77;
const PRIME3 = 0xc2b2ae3d;
const PRIME4 = 0x27d4eb2f;
const PRIME5 = 0x165667b1;

function rotl(value: number, bits: number): number {
  return (value << bits) | (value >>> (32 - bits));
}

function readLane(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

function round(accumulator: number, lane: number): number {
  return Math.imul(rotl((accumulator + Math.imul(lane, PRIME2)) | 0, 13), PRIME1);
}

/** xxh32 of bytes[offset, offset + length) with the given seed, as an unsigned 32-bit number. */
export function xxh32(bytes: Uint8Array, offset: number, length: number, seed: number): number {
  let p = offset;
  const end = offset + length;
  let accumulator: number;

  if (length >= 16) {
    let v1 = (seed + PRIME1 + PRIME2) | 0;
    let v2 = (seed + PRIME2) | 0;
    let v3 = seed | 0;
    let v4 = (seed - PRIME1) | 0;
    const lastStripe = end - 16;
    do {
      v1 = round(v1, readLane(bytes, p));
      v2 = round(v2, readLane(bytes, p + 4));
      v3 = round(v3, readLane(bytes, p + 8));
      v4 = round(v4, readLane(bytes, p + 12));
      p += 16;
    } while (p <= lastStripe);
    accumulator = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0;
  } else {
    accumulator = (seed + PRIME5) | 0;
  }

  accumulator = (accumulator + length) | 0;

  while (p + 4 <= end) {
    accumulator = Math.imul(rotl((accumulator + Math.imul(readLane(bytes, p), PRIME3)) | 0, 17), PRIME4);
    p += 4;
  }
  while (p < end) {
    accumulator = Math.imul(rotl((accumulator + Math.imul(bytes[p]!, PRIME5)) | 0, 11), PRIME1);
    p += 1;
  }

  accumulator ^= accumulator >>> 15;
  accumulator = Math.imul(accumulator, PRIME2);
  accumulator ^= accumulator >>> 13;
  accumulator = Math.imul(accumulator, PRIME3);
  accumulator ^= accumulator >>> 16;
  return accumulator >>> 0;
}
