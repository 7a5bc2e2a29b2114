import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hash32, isNativeAccelerationEnabled } from '../src/index';
import { xxh32 } from '../src/consistent/xxhash32';
import { nativeBinding } from '../src/consistent/native';
import { seededRandom } from './helpers/random';

// Published known answers for XXH32: "", "a", "abc" from docs/ARCHITECTURE.md (Decisions, "Hash"); the rest from the xxHash-Swift
// one-shot test table. Lengths 0-3 take only the byte tail, 4-15 the lane tail, 16+ the stripe loop, 32+ two
// stripes and 90+ several; seeds 1 and 0x7fffffff exercise the seeded lane initialisation.
const SEEDED = 0x7fffffff;
const LONG = '123456789ABCDEF123456789ABCDEF123456789ABCDEF123456789ABCDEF123456789ABCDEF123456789ABCDEF';
const KNOWN_ANSWERS: Array<[string, number, number]> = [
  ['', 0, 0x02cc5d05],
  ['a', 0, 0x550d7456],
  ['abc', 0, 0x32d153ff],
  ['1234', 0, 0x01543429],
  ['123456789', 0, 0x937bad67],
  ['123456789ABCDEF', 0, 0x576e3cf9],
  ['123456789ABCDEF1', 0, 0x82d80129],
  ['123456789ABCDEF12', 0, 0x04689504],
  ['123456789ABCDEF123456789ABCDEF', 0, 0x2f375968],
  ['123456789ABCDEF123456789ABCDEF12', 0, 0x852d687c],
  ['123456789ABCDEF123456789ABCDEF123', 0, 0xef78a638],
  [LONG, 0, 0xdfc3325c],
  ['', 1, 0x0b2cb792],
  ['1', 1, 0x642684c5],
  ['', SEEDED, 0xc89b854f],
  ['123456789ABCDEF1', SEEDED, 0xc355753c],
  ['123456789ABCDEF123456789ABCDEF1234', 1, 0x3cb03abc],
  [LONG, 1, 0x7e12c2b3],
  [LONG, SEEDED, 0xba21e87c],
];

test(`hash32 matches published xxh32 answers (${isNativeAccelerationEnabled ? 'native loaded' : 'TS fallback'})`, () => {
  for (const [input, seed, expected] of KNOWN_ANSWERS) {
    assert.is(hash32(input, seed), expected, `xxh32(${JSON.stringify(input)}, ${seed})`);
    assert.is(xxh32(Buffer.from(input), 0, Buffer.byteLength(input), seed), expected);
    if (nativeBinding) {
      const bytes = Buffer.from(input);
      assert.is(nativeBinding.hash32(bytes, 0, bytes.length, seed), expected, `native xxh32(${JSON.stringify(input)})`);
    }
  }
});

test('strings hash as their UTF-8 bytes', () => {
  assert.is(hash32('héllo ☃'), hash32(Buffer.from('héllo ☃', 'utf8')));
});

test('hash32 rejects keys that are neither string nor Buffer, naming the argument', () => {
  for (const bad of [undefined, null, 42, {}, [1], new Uint8Array(2)]) {
    assert.throws(
      () => hash32(bad as unknown as string),
      (error: Error) => error instanceof TypeError && /key/.test(error.message),
    );
  }
  assert.throws(() => hash32('a', -1), RangeError);
  assert.throws(() => hash32('a', 2 ** 32), RangeError);
});

test('native and TS hashes agree on random buffers of every length 0-64 and some of 1-4 KiB, at random offsets', () => {
  if (!nativeBinding) {
    console.log('  (native addon not loaded: comparison skipped in this run; the suite runs again with it in CI)');
    return;
  }
  const random = seededRandom(0xc0ffee);
  const pool = Buffer.alloc(8192);
  for (let i = 0; i < pool.length; i++) pool[i] = Math.floor(random() * 256);
  const lengths: number[] = [];
  for (let length = 0; length <= 64; length++) lengths.push(length);
  for (let i = 0; i < 40; i++) lengths.push(1024 + Math.floor(random() * 3072));
  for (const length of lengths) {
    for (let trial = 0; trial < 8; trial++) {
      const offset = Math.floor(random() * (pool.length - length));
      const seed = trial === 0 ? 0 : Math.floor(random() * 2 ** 32);
      assert.is(
        nativeBinding.hash32(pool, offset, length, seed),
        xxh32(pool, offset, length, seed),
        `length ${length} offset ${offset} seed ${seed}`,
      );
    }
  }
});

test('the native allocator setting refuses thresholds that are not positive', () => {
  if (!nativeBinding) return;
  assert.throws(() => nativeBinding!.tuneAllocator(0, 512 * 1024), /must be positive/);
  assert.throws(() => nativeBinding!.tuneAllocator(32 * 2 ** 20, -1), /must be positive/);
});

test('the native hash rejects a span outside its buffer instead of reading past it', () => {
  if (!nativeBinding) return;
  assert.throws(() => nativeBinding!.hash32(Buffer.alloc(4), 2, 3, 0), RangeError);
});

test.run();
