/**
 * Pinned values (Store.pinValue, chunk-pins.ts): a view of a value's chunk keeps its bytes until it is released,
 * whatever happens to the item meanwhile (overwrite in place, delete, eviction, expiry, its page moving to another
 * class, flush), and the chunk is reused once the last pin goes. The server sends large GET values this way, so a
 * failure here is a wrong value on the wire.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Store, type PinnedValue, type StoreOptions } from '../src/cache/store';
import { seededRandom } from './helpers/random';

const MiB = 1024 * 1024;

function open(options: StoreOptions = {}): Store {
  return new Store({ expiryIntervalMs: 0, ...options });
}

function pin(store: Store, key: string): PinnedValue {
  const k = Buffer.from(key);
  const handle = store.lookup(k, 0, k.length);
  if (handle < 0) throw new Error(`${key} is not stored`);
  const pinned = store.pinValue(handle);
  if (pinned === null) throw new Error(`${key} could not be pinned`);
  return pinned;
}

const Pins = suite('pinned values');

Pins('a pinned value keeps its bytes through an overwrite of the same size; the item moves, the old chunk waits', () => {
  const store = open();
  const before = Buffer.alloc(40_000, 1);
  const after = Buffer.alloc(40_000, 2);
  store.set('k', before);
  const pinned = pin(store, 'k');
  assert.ok(pinned.view.equals(before));
  store.set('k', after);
  assert.ok(pinned.view.equals(before), 'the view still shows the value it was pinned with');
  assert.ok(store.get('k')!.equals(after), 'the key has the new value');
  let s = store.stats();
  assert.is(s.pinnedChunks, 1);
  assert.is(s.deferredFrees, 1, 'the overwrite did not write in place');
  pinned.release();
  s = store.stats();
  assert.is(s.pinnedChunks, 0);
  // The old chunk is free again: the next value of that class takes it instead of carving a new one.
  const pages = s.pages;
  for (let i = 0; i < 3; i++) store.set(`other${i}`, Buffer.alloc(40_000, 3));
  assert.is(store.stats().pages, pages);
  store.close();
});

Pins('a deleted value keeps its bytes while pinned, through later sets of the same class', () => {
  const store = open();
  const value = Buffer.alloc(20_000, 7);
  store.set('k', value);
  const pinned = pin(store, 'k');
  assert.ok(store.delete('k'));
  for (let i = 0; i < 50; i++) store.set(`n${i}`, Buffer.alloc(20_000, 8));
  assert.ok(pinned.view.equals(value));
  assert.is(store.get('k'), undefined);
  pinned.release();
  assert.is(store.stats().pinnedChunks, 0);
  store.close();
});

Pins('two pins on one chunk: it is reused only after both are released', () => {
  const store = open();
  const value = Buffer.alloc(30_000, 5);
  store.set('k', value);
  const first = pin(store, 'k');
  const second = pin(store, 'k');
  store.delete('k');
  first.release();
  assert.is(store.stats().pinnedChunks, 1, 'one pin is left');
  for (let i = 0; i < 20; i++) store.set(`n${i}`, Buffer.alloc(30_000, 6));
  assert.ok(second.view.equals(value));
  second.release();
  second.release(); // more releases than pins are ignored
  assert.is(store.stats().pinnedChunks, 0);
  store.close();
});

Pins('pinned chunks take at most an eighth of the memory limit; past it pinValue says copy (null)', () => {
  const store = open({ maxMemoryBytes: 8 * MiB });
  const pinned: PinnedValue[] = [];
  let refused = 0;
  for (let i = 0; i < 40; i++) {
    store.set(`k${i}`, Buffer.alloc(60_000, i));
    const k = Buffer.from(`k${i}`);
    const p = store.pinValue(store.lookup(k, 0, k.length));
    if (p === null) refused++;
    else pinned.push(p);
  }
  const s = store.stats();
  assert.ok(refused > 0, 'some pins were refused');
  assert.ok(s.pinnedBytes <= MiB && s.pinnedBytes > MiB - 100_000, `pinned bytes ${s.pinnedBytes}`);
  assert.is(s.pinnedChunks, pinned.length);
  // A chunk already pinned can always take another pin (its bytes are counted once).
  const k0 = Buffer.from('k0');
  const again = store.pinValue(store.lookup(k0, 0, 2));
  assert.ok(again !== null);
  assert.is(store.stats().pinnedBytes, s.pinnedBytes);
  again.release();
  for (const p of pinned) p.release();
  assert.is(store.stats().pinnedBytes, 0);
  const k = Buffer.from('k39');
  assert.ok(store.pinValue(store.lookup(k, 0, k.length)) !== null, 'room again once released');
  store.close();
});

Pins('flush drops the pages; a pinned view still reads its bytes, and releasing it afterwards is harmless', () => {
  const store = open();
  const value = Buffer.alloc(50_000, 9);
  store.set('k', value);
  const pinned = pin(store, 'k');
  store.flush();
  for (let i = 0; i < 100; i++) store.set(`n${i}`, Buffer.alloc(50_000, 4));
  assert.ok(pinned.view.equals(value));
  pinned.release();
  assert.is(store.stats().pinnedChunks, 0);
  for (let i = 0; i < 100; i++) assert.ok(store.get(`n${i}`)!.equals(Buffer.alloc(50_000, 4)), `n${i}`);
  store.close();
});

Pins('a page whose chunks are pinned is dropped, not handed to another class; its views keep their bytes', () => {
  const store = open({ maxMemoryBytes: 16 * MiB });
  // Class A takes every page the limit allows, and every tenth of its values (a couple in each page) is pinned.
  const a = (i: number): Buffer => Buffer.alloc(40_000, i & 0xff);
  const pinned: PinnedValue[] = [];
  for (let i = 0; i < 400; i++) {
    store.set(`a${i}`, a(i));
  }
  const live: number[] = [];
  for (let i = 0; i < 400; i += 10) {
    if (store.get(`a${i}`) === undefined) continue;
    pinned.push(pin(store, `a${i}`));
    live.push(i);
  }
  assert.ok(live.length > 20, `A holds ${live.length} pinned values`);
  // Class B has no page and nothing to evict of its own: it must take pages from A.
  const b = Buffer.alloc(3_000, 0xbb);
  for (let i = 0; i < 3000; i++) assert.ok(store.set(`b${i}`, b), `b${i}`);
  const s = store.stats();
  assert.ok(s.pageMoves > 0, 'pages moved');
  assert.ok(s.pinnedPageDrops > 0, `pages dropped because pinned: ${s.pinnedPageDrops}`);
  assert.ok(s.bytesUsed <= s.maxMemoryBytes);
  live.forEach((i, n) => assert.ok(pinned[n]!.view.equals(a(i)), `a${i} kept its bytes`));
  for (let i = 0; i < 3000; i++) {
    const got = store.get(`b${i}`);
    if (got !== undefined) assert.ok(got.equals(b), `b${i}`);
  }
  for (const p of pinned) p.release();
  assert.is(store.stats().pinnedChunks, 0);
  // Both classes still work after the releases (a dropped page's chunks are never freed into a new page).
  for (let i = 0; i < 100; i++) {
    assert.ok(store.set(`a${i}`, a(i + 1)));
    assert.ok(store.get(`a${i}`)!.equals(a(i + 1)), `a${i} again`);
    assert.ok(store.set(`b${i}`, b));
  }
  store.close();
});

/**
 * Random sets of many sizes into a store far smaller than what is written, so items are evicted, expire and
 * pages move between classes, while up to 12 values are pinned at a time and released in random order. Every
 * pinned view must keep the bytes it was pinned with, and every read must return the last value set or nothing.
 */
Pins('under eviction, expiry and page moves, every pinned view keeps its bytes and reads stay right', () => {
  const seed = 7_070;
  const random = seededRandom(seed);
  let now = 1_000;
  const store = open({ maxMemoryBytes: 8 * MiB, maxValueBytes: 300 * 1024, clock: () => now });
  const last = new Map<string, Buffer>();
  const pins: Array<{ pinned: PinnedValue; expected: Buffer; key: string }> = [];
  const sizes = [100, 1_000, 16_000, 40_000, 65_536, 120_000, 250_000];
  let version = 0;
  let deferredWhilePinned = 0;
  const checkPins = (where: string): void => {
    for (const p of pins) {
      if (!p.pinned.view.equals(p.expected)) assert.unreachable(`seed ${seed}, ${where}: pinned view of ${p.key} changed`);
    }
  };
  for (let op = 0; op < 20_000; op++) {
    const r = random();
    // A phase mostly of one size, then another: classes starve in turn, so pages move.
    const phaseSize = sizes[Math.floor(op / 1_000) % sizes.length]!;
    let key = `k${Math.floor(random() * 400)}`;
    const set = (size: number): void => {
      const value = Buffer.alloc(size, version & 0xff);
      value.writeUInt32LE(version++, 0);
      store.set(key, value, { ttlMs: random() < 0.2 ? 1 + Math.floor(random() * 50) : 0 });
      last.set(key, value);
    };
    if (r < 0.45) {
      set(random() < 0.8 ? phaseSize : sizes[Math.floor(random() * sizes.length)]!);
    } else if (r < 0.55) {
      store.delete(key);
      last.delete(key);
    } else if (r < 0.7) {
      const k = Buffer.from(key);
      const handle = store.lookup(k, 0, k.length);
      const pinned = handle >= 0 && pins.length < 12 ? store.pinValue(handle) : null;
      if (pinned !== null) pins.push({ pinned, expected: Buffer.from(pinned.view), key });
    } else if (r < 0.8) {
      // A pinned key changes: same size (the in-place case), another size, or it goes.
      if (pins.length > 0) {
        const p = pins[Math.floor(random() * pins.length)]!;
        key = p.key;
        const what = random();
        if (what < 0.5) set(p.expected.length);
        else if (what < 0.8) set(sizes[Math.floor(random() * sizes.length)]!);
        else {
          store.delete(key);
          last.delete(key);
        }
      }
    } else if (r < 0.95) {
      if (pins.length > 0) {
        const p = pins.splice(Math.floor(random() * pins.length), 1)[0]!;
        if (!p.pinned.view.equals(p.expected)) assert.unreachable(`seed ${seed}, op ${op}: pinned view of ${p.key} changed before release`);
        p.pinned.release();
      }
    } else if (r < 0.999) {
      now += 10;
      store.expireDue();
    } else {
      store.flush();
      last.clear();
    }
    const got = store.get(key);
    const expected = last.get(key);
    if (got !== undefined && (expected === undefined || !got.equals(expected))) {
      assert.unreachable(`seed ${seed}, op ${op}: ${key} read back a value it was not last set to`);
    }
    if (got === undefined) last.delete(key); // evicted or expired: gone for good
    const s = store.stats();
    if (s.bytesUsed > s.maxMemoryBytes) assert.unreachable(`seed ${seed}, op ${op}: bytesUsed over the limit`);
    if (s.pinnedBytes > s.maxMemoryBytes / 8) assert.unreachable(`seed ${seed}, op ${op}: pinned bytes over an eighth of the limit`);
    if (pins.length > 0) deferredWhilePinned = s.deferredFrees;
    if (op % 25 === 0) checkPins(`op ${op}`);
  }
  checkPins('at the end');
  for (const p of pins.splice(0)) p.pinned.release();
  const s = store.stats();
  assert.is(s.pinnedChunks, 0);
  // The run exercised what it is about.
  assert.ok(s.pinsTaken > 500, `pins taken: ${s.pinsTaken}`);
  assert.ok(deferredWhilePinned > 100, `frees deferred: ${deferredWhilePinned}`);
  assert.ok(s.pageMoves > 20, `page moves: ${s.pageMoves}`);
  assert.ok(s.evicted > 100, `evicted: ${s.evicted}`);
  // Everything still works: every size goes in and reads back.
  for (const size of sizes) {
    const value = Buffer.alloc(size, 0xee);
    assert.ok(store.set(`final${size}`, value));
    assert.ok(store.get(`final${size}`)!.equals(value), `final ${size}`);
  }
  store.close();
});

Pins.run();
