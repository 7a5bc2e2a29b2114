/**
 * Size classes and bytes: every class boundary up to maxValueBytes (and one byte over), overwrites that move an
 * item to a larger or smaller class, binary-safe keys and values, and the zero-copy entry points the server
 * uses (buffer ranges in, values copied into the caller's buffer, stale handles refused).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SetMode, Store, type StoreOptions } from '../src/cache/store';

function open(options: StoreOptions = {}): Store {
  return new Store({ expiryIntervalMs: 0, ...options });
}

/** Deterministic, position-dependent bytes so a shifted or truncated copy is caught. */
function pattern(length: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return b;
}

function classOf(store: Store, key: string): number {
  const items = store.stats().itemsPerClass;
  const found = items.findIndex((n) => n > 0);
  assert.ok(found >= 0, `no class holds ${key}`);
  assert.is(items.filter((n) => n > 0).length, 1, 'exactly one class holds an item');
  return found;
}

const classes = suite('size classes');

classes('every class boundary round-trips and lands in the smallest class that fits; one byte over fails', () => {
  const store = open();
  const { chunkSizes } = store.stats();
  assert.is(chunkSizes[0], 32);
  assert.ok(chunkSizes.includes(120), '16 + 100 byte items fit a 120-byte chunk');
  for (let c = 1; c < chunkSizes.length; c++) {
    const ratio = chunkSizes[c]! / chunkSizes[c - 1]!;
    assert.ok(ratio <= 1.25 + 8 / chunkSizes[c - 1]! + 1e-9, `growth ${ratio} at class ${c}`);
  }
  assert.is(chunkSizes[chunkSizes.length - 1], store.maxKeyBytes + store.maxValueBytes);
  const key = 'k';
  let seed = 0;
  for (let c = 0; c < chunkSizes.length; c++) {
    const size = chunkSizes[c]!;
    for (const itemBytes of [size - 1, size, size + 1]) {
      const valueBytes = itemBytes - key.length;
      if (valueBytes < 0) continue;
      const value = pattern(Math.min(valueBytes, store.maxValueBytes + 1), ++seed);
      if (valueBytes > store.maxValueBytes) {
        assert.throws(
          () => store.set(key, value),
          (e: { code?: string }) => e.code === 'ERR_VALUE_TOO_LARGE',
        );
        continue;
      }
      assert.is(store.set(key, value), true);
      const got = store.get(key)!;
      assert.ok(got.equals(value), `item of ${itemBytes} bytes`);
      const expectedClass = chunkSizes.findIndex((s) => s >= itemBytes);
      assert.is(classOf(store, key), expectedClass, `item of ${itemBytes} bytes`);
      store.delete(key);
    }
  }
  const max = pattern(store.maxValueBytes, 99);
  assert.ok(store.set('max', max));
  assert.ok(store.get('max')!.equals(max));
  assert.is(store.stats().evicted, 0);
  assert.ok(store.stats().bytesUsed <= store.maxMemoryBytes);
  store.close();
});

classes('values of every size from 0 to 2 KiB, and a spread up to the maximum, round-trip', () => {
  const store = open({ maxValueBytes: 256 * 1024 });
  for (let n = 0; n <= 2048; n++) store.set(`v${n}`, pattern(n, n));
  for (let n = 0; n <= 2048; n++) assert.ok(store.get(`v${n}`)!.equals(pattern(n, n)), `length ${n}`);
  for (let n = 2049; n <= 256 * 1024; n = Math.ceil(n * 1.7)) {
    store.set('big', pattern(n, n));
    assert.ok(store.get('big')!.equals(pattern(n, n)), `length ${n}`);
  }
  assert.is(store.stats().evicted, 0);
  store.close();
});

classes('overwrites move an item to a larger or smaller class and free the old chunk', () => {
  const store = open();
  const sizes = [10, 500, 5000, 100, 60_000, 3, 1_000_000, 40, 40];
  let previousClass = -1;
  for (const [i, n] of sizes.entries()) {
    const value = pattern(n, i);
    store.set('k', value, { ttlMs: i % 2 === 0 ? 0 : 60_000 });
    assert.ok(store.get('k')!.equals(value), `size ${n}`);
    const c = classOf(store, 'k');
    if (i > 0 && sizes[i - 1] !== n) assert.is.not(c, previousClass, `size ${n} changed class`);
    previousClass = c;
    assert.is(store.size, 1);
    assert.is(store.ttl('k') === -1, i % 2 === 0);
  }
  // Freed chunks are reused: cycling through the same sizes again adds no page.
  const pages = store.stats().pages;
  for (let round = 0; round < 3; round++) for (const [i, n] of sizes.entries()) store.set('k', pattern(n, i));
  assert.is(store.stats().pages, pages);
  store.close();
});

const bytes = suite('binary safety');

bytes('keys and values holding all 256 byte values', () => {
  const store = open();
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const value = Buffer.concat([all, all.reverse(), Buffer.alloc(17, 0)]);
  store.set(all, value);
  assert.ok(store.get(Buffer.from(all))!.equals(value));
  for (let b = 0; b < 256; b++) {
    const k = Buffer.from([b]);
    const v = Buffer.from([b, 0, 255 - b, 0]);
    store.set(k, v);
  }
  for (let b = 0; b < 256; b++) assert.ok(store.get(Buffer.from([b]))!.equals(Buffer.from([b, 0, 255 - b, 0])), `key ${b}`);
  // Keys that differ in one byte only, at every position, with the same hash-relevant length.
  const base = pattern(37, 5);
  for (let pos = 0; pos < base.length; pos++) {
    const k = Buffer.from(base);
    k[pos] = k[pos]! ^ 0x80;
    store.set(k, `pos ${pos}`);
  }
  store.set(base, 'base');
  assert.is(store.get(base)!.toString(), 'base');
  for (let pos = 0; pos < base.length; pos++) {
    const k = Buffer.from(base);
    k[pos] = k[pos]! ^ 0x80;
    assert.is(store.get(k)!.toString(), `pos ${pos}`);
  }
  // Prefixes are different keys.
  store.set(Buffer.from([0]), 'one zero');
  store.set(Buffer.from([0, 0]), 'two zeros');
  assert.is(store.get(Buffer.from([0]))!.toString(), 'one zero');
  assert.is(store.get(Buffer.from([0, 0, 0])), undefined);
  store.close();
});

bytes('the longest key works; a Uint8Array key or value works like a Buffer', () => {
  const store = open({ maxKeyBytes: 300 });
  const key = pattern(300, 1);
  store.set(key, new Uint8Array([1, 2, 3]));
  assert.ok(store.get(new Uint8Array(key))!.equals(Buffer.from([1, 2, 3])));
  store.close();
});

const zeroCopy = suite('zero-copy entry points');

zeroCopy('setFrom / lookup / valueLength / copyValue / getInto with offsets into shared buffers', () => {
  const store = open();
  const read = Buffer.alloc(4096, 0xee);
  read.write('user:42', 100, 'latin1');
  const value = pattern(300, 3);
  value.copy(read, 1000);
  assert.is(store.setFrom(read, 100, 7, read, 1000, 300, 0, SetMode.Set), true);
  // The caller's buffer is not retained.
  read.fill(0);
  read.write('user:42', 2000, 'latin1');
  const h = store.lookup(read, 2000, 7);
  assert.ok(h >= 0);
  assert.is(store.valueLength(h), 300);
  const out = Buffer.alloc(512, 0xaa);
  assert.is(store.copyValue(h, out, 10), 300);
  assert.ok(out.subarray(10, 310).equals(value));
  assert.is(out[9], 0xaa);
  assert.is(out[310], 0xaa);
  const out2 = Buffer.alloc(300);
  assert.is(store.getInto(read, 2000, 7, out2, 0), 300);
  assert.ok(out2.equals(value));
  assert.is(store.getInto(Buffer.from('nope'), 0, 4, out2, 0), -1);
  assert.is(store.lookup(Buffer.from('xuser:42x'), 1, 7) >= 0, true);
  assert.throws(() => store.getInto(read, 2000, 7, Buffer.alloc(299), 0), RangeError);
  assert.throws(() => store.copyValue(store.lookup(read, 2000, 7), Buffer.alloc(400), 101), RangeError);
  store.close();
});

zeroCopy('modes, delete, touch, ttl and incr on buffer ranges', () => {
  let now = 5000;
  const store = open({ clock: () => now });
  const buf = Buffer.from('..counter..other..');
  assert.is(store.setFrom(buf, 2, 7, Buffer.from('41'), 0, 2, 0, SetMode.XX), false);
  assert.is(store.setFrom(buf, 2, 7, Buffer.from('41'), 0, 2, 0, SetMode.NX), true);
  assert.is(store.setFrom(buf, 2, 7, Buffer.from('99'), 0, 2, 0, SetMode.NX), false);
  assert.is(store.incrFrom(buf, 2, 7, 1n), 42n);
  assert.is(store.get('counter')!.toString(), '42');
  assert.is(store.touchFrom(buf, 2, 7, 100), true);
  assert.is(store.ttlFrom(buf, 2, 7), 100);
  now += 50;
  assert.is(store.incrFrom(buf, 2, 7, -2), 40n);
  assert.is(store.ttlFrom(buf, 2, 7), 50);
  assert.is(store.deleteFrom(buf, 11, 5), false);
  assert.is(store.deleteFrom(buf, 2, 7), true);
  assert.is(store.ttlFrom(buf, 2, 7), -2);
  store.close();
});

zeroCopy('a handle is refused once the store changed after the lookup', () => {
  const store = open();
  store.set('a', 'alpha');
  store.set('b', 'beta');
  const key = Buffer.from('ab');
  const ha = store.lookup(key, 0, 1);
  const hb = store.lookup(key, 1, 1);
  // Lookups do not invalidate each other.
  assert.is(store.copyValue(ha, Buffer.alloc(5)), 5);
  assert.is(store.copyValue(hb, Buffer.alloc(4)), 4);
  store.set('c', 'gamma');
  assert.throws(() => store.copyValue(hb, Buffer.alloc(4)), RangeError);
  const h2 = store.lookup(key, 0, 1);
  store.delete('a');
  assert.throws(() => store.valueLength(h2), RangeError);
  assert.throws(() => store.copyValue(-1, Buffer.alloc(4)), RangeError);
  assert.throws(() => store.copyValue(1.5, Buffer.alloc(4)), RangeError);
  store.close();
});

zeroCopy('bad ranges and lengths are refused before anything changes', () => {
  const store = open({ maxKeyBytes: 8, maxValueBytes: 16 });
  const buf = Buffer.alloc(64);
  const code = (fn: () => unknown): string | undefined => {
    try {
      fn();
    } catch (error) {
      return (error as { code?: string }).code ?? (error as Error).name;
    }
    return undefined;
  };
  assert.is(
    code(() => store.setFrom(buf, 0, 0, buf, 0, 1)),
    'ERR_KEY_EMPTY',
  );
  assert.is(
    code(() => store.setFrom(buf, 0, 9, buf, 0, 1)),
    'ERR_KEY_TOO_LARGE',
  );
  assert.is(
    code(() => store.setFrom(buf, 0, 4, buf, 0, 17)),
    'ERR_VALUE_TOO_LARGE',
  );
  assert.is(
    code(() => store.setFrom(buf, 60, 8, buf, 0, 1)),
    'RangeError',
  );
  assert.is(
    code(() => store.setFrom(buf, 0, 4, buf, 60, 8)),
    'RangeError',
  );
  assert.is(
    code(() => store.setFrom(buf, -1, 4, buf, 0, 1)),
    'RangeError',
  );
  assert.is(
    code(() => store.setFrom(buf, 0.5, 4, buf, 0, 1)),
    'RangeError',
  );
  assert.is(
    code(() => store.setFrom(buf, 0, 4, buf, 0, 1, -5)),
    'ERR_INVALID_ARGUMENT',
  );
  assert.is(
    code(() => store.setFrom(buf, 0, 4, buf, 0, 1, 0, 7)),
    'ERR_INVALID_ARGUMENT',
  );
  assert.is(
    code(() => store.lookup('key' as unknown as Buffer, 0, 3)),
    'TypeError',
  );
  assert.is(
    code(() => store.setFrom(buf, 0, 4, [1, 2] as unknown as Buffer, 0, 1)),
    'TypeError',
  );
  assert.is(store.size, 0);
  assert.is(store.stats().sets, 0);
  store.close();
});

classes.run();
bytes.run();
zeroCopy.run();
