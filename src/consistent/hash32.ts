/**
 * The public hash: xxHash32 over the key's bytes (strings as UTF-8). The single-key path stays in
 * TypeScript even when the addon is loaded: bench/hash.bench.ts measures a native call at about 70-85 ns by
 * itself, more than the whole JS hash of a short key, so native only pays where it hashes and searches a batch.
 */
import { xxh32 } from './xxhash32';
import { keyToBuffer, type Key } from './key-bytes';

export function hash32(key: Key, seed = 0): number {
  const bytes = keyToBuffer(key);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError(`seed must be an integer from 0 to 2^32-1, got ${String(seed)}`);
  }
  return xxh32(bytes, 0, bytes.length, seed);
}
