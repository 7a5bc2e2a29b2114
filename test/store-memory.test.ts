/**
 * The memory limit: filling to twice the limit, accounted bytes never above it (and what is really allocated
 * never above what is accounted), LRU eviction that spares recently read keys, expired items reclaimed before
 * anything is evicted, pages moving to a class that needs them, and the one case that fails (an item too big
 * for the limit).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Store, type StoreOptions } from '../src/cache/store';
import { seededRandom } from './helpers/random';

const MiB = 1024 * 1024;

function open(options: StoreOptions = {}): Store {
  return new Store({ expiryIntervalMs: 0, ...options });
}

function checkAccounting(store: Store, where: string): void {
  const s = store.stats();
  if (s.bytesUsed > s.maxMemoryBytes) assert.unreachable(`${where}: bytesUsed ${s.bytesUsed} > limit ${s.maxMemoryBytes}`);
  if (s.allocatedBytes > s.bytesUsed) assert.unreachable(`${where}: allocated ${s.allocatedBytes} > accounted ${s.bytesUsed}`);
  if (s.items !== s.itemsPerClass.reduce((a, b) => a + b, 0)) assert.unreachable(`${where}: item counts disagree`);
}

const limit = suite('memory limit');

limit('filling to twice the limit with one size: accounted bytes stay under it, old items go', () => {
  const store = open({ maxMemoryBytes: 8 * MiB });
  const value = Buffer.alloc(100, 7);
  let written = 0;
  let i = 0;
  while (written < 16 * MiB) {
    store.set(`key:${i.toString().padStart(12, '0')}`, value);
    written += 116;
    if (i % 1000 === 0) checkAccounting(store, `after ${i} sets`);
    i++;
  }
  checkAccounting(store, 'at the end');
  const s = store.stats();
  assert.ok(s.evicted > 0, 'something was evicted');
  assert.is(s.items + s.evicted, i);
  assert.ok(s.bytesUsed > 0.8 * s.maxMemoryBytes, `the store uses its memory (${s.bytesUsed})`);
  // The newest items are all there, the oldest are gone.
  for (let k = i - 1000; k < i; k++) assert.ok(store.get(`key:${k.toString().padStart(12, '0')}`), `recent ${k}`);
  assert.is(store.get(`key:${'0'.padStart(12, '0')}`), undefined);
  store.close();
});

limit('filling to twice the limit with random sizes and TTLs keeps every invariant', () => {
  const seed = 4242;
  const random = seededRandom(seed);
  let now = 0;
  const store = open({ maxMemoryBytes: 6 * MiB, maxValueBytes: 256 * 1024, clock: () => now });
  let written = 0;
  let n = 0;
  while (written < 12 * MiB) {
    const size = random() < 0.02 ? Math.floor(random() * 256 * 1024) : Math.floor(random() * 2000);
    const key = `k${Math.floor(random() * 50_000)}`;
    const value = Buffer.alloc(size, n & 0xff);
    store.set(key, value, { ttlMs: random() < 0.3 ? 1 + Math.floor(random() * 1000) : 0 });
    const got = store.get(key);
    if (got === undefined || !got.equals(value)) assert.unreachable(`a fresh set of ${size} bytes reads back (seed ${seed})`);
    written += size + key.length;
    now += Math.floor(random() * 5);
    if (n++ % 500 === 0) checkAccounting(store, `op ${n} (seed ${seed})`);
  }
  checkAccounting(store, 'at the end');
  assert.ok(store.stats().evicted > 0);
  assert.ok(store.stats().expired > 0);
  store.close();
});

limit('recently read keys survive while untouched ones are evicted', () => {
  const store = open({ maxMemoryBytes: 4 * MiB });
  const value = Buffer.alloc(200, 1);
  const key = (i: number) => `item-${i}`;
  let i = 0;
  while (store.stats().evicted === 0) store.set(key(i++), value);
  const firstRound = i;
  // Read the oldest tenth of what is still there.
  const hot: number[] = [];
  for (let k = 0; k < firstRound && hot.length < firstRound / 10; k++) if (store.get(key(k))) hot.push(k);
  assert.ok(hot.length > 100);
  const hotSet = new Set(hot);
  const untouched = (): number => {
    let n = 0;
    for (let k = 0; k < firstRound; k++) if (!hotSet.has(k) && store.ttl(key(k)) !== -2) n++;
    return n;
  };
  // Write as many new items as there are untouched old ones: every eviction must take an untouched item.
  const untouchedBefore = untouched();
  const before = store.stats().evicted;
  for (let k = 0; k < untouchedBefore; k++) store.set(key(i++), value);
  const evicted = store.stats().evicted - before;
  assert.ok(evicted > untouchedBefore / 2, `${evicted} evictions`);
  assert.is(untouched(), untouchedBefore - evicted, 'only untouched items were evicted');
  for (const k of hot) assert.ok(store.get(key(k)), `read key ${k} survived`);
  checkAccounting(store, 'after eviction');
  store.close();
});

limit('expired items are reclaimed before anything live is evicted', () => {
  let now = 0;
  const store = open({ maxMemoryBytes: 4 * MiB, clock: () => now });
  const value = Buffer.alloc(500, 2);
  let i = 0;
  while (store.stats().evicted === 0) store.set(`short-${i++}`, value, { ttlMs: 10 });
  const evictedBefore = store.stats().evicted;
  now += 100;
  for (let k = 0; k < i / 2; k++) store.set(`live-${k}`, value);
  const s = store.stats();
  assert.is(s.evicted, evictedBefore, 'no live item evicted while expired ones remained');
  assert.ok(s.expired > 0);
  for (let k = 0; k < i / 2; k++) assert.ok(store.get(`live-${k}`));
  store.close();
});

const pages = suite('pages between classes');

pages('a class with no pages gets one when other classes took all memory', () => {
  const store = open({ maxMemoryBytes: 4 * MiB });
  const small = Buffer.alloc(20, 3);
  for (let i = 0; i < 200_000; i++) store.set(`s${i}`, small);
  const before = store.stats();
  assert.ok(before.evicted > 0, 'the small class filled the store');
  // Values of every other size still go in, including a 1 MiB one.
  for (const size of [100, 1000, 10_000, 100_000, 1024 * 1024]) {
    const value = Buffer.alloc(size, 9);
    assert.ok(store.set(`big${size}`, value), `size ${size}`);
    assert.ok(store.get(`big${size}`)!.equals(value), `size ${size}`);
    checkAccounting(store, `after ${size}`);
  }
  assert.ok(store.stats().pageMoves > 0);
  store.close();
});

pages('a starving class takes pages from an idle one (automove)', () => {
  const store = open({ maxMemoryBytes: 8 * MiB });
  const a = Buffer.alloc(50, 1);
  for (let i = 0; i < 100_000; i++) store.set(`a${i}`, a);
  const pagesA = store.stats().pagesPerClass.slice();
  const b = Buffer.alloc(3000, 2);
  for (let i = 0; i < 20_000; i++) store.set(`b${i}`, b);
  const s = store.stats();
  const classA = pagesA.findIndex((n) => n > 0);
  const classB = s.pagesPerClass.findIndex((n, c) => n > 0 && c !== classA);
  // All pages but one moved from the idle class to the busy one.
  assert.is(s.pagesPerClass[classA], 1, 'the idle class kept one page');
  assert.is(s.pagesPerClass[classB], pagesA[classA]! - 1, `B ${s.pagesPerClass[classB]} pages, A had ${pagesA[classA]}`);
  assert.ok(s.pageMoves >= pagesA[classA]! - 1);
  // B's pages are full of B's items.
  assert.is(s.itemsPerClass[classB], s.pagesPerClass[classB]! * Math.floor((1024 * 1024) / s.chunkSizes[classB]!));
  checkAccounting(store, 'after automove');
  store.close();
});

pages('an item that could never fit is refused with OutOfMemoryError and changes nothing', () => {
  const store = open({ maxMemoryBytes: 4 * MiB, maxValueBytes: 3 * MiB });
  store.set('k', 'small');
  assert.throws(
    () => store.set('k', Buffer.alloc(3 * MiB)),
    (e: { code?: string }) => e.code === 'ERR_OUT_OF_MEMORY',
  );
  assert.is(store.get('k')!.toString(), 'small');
  assert.ok(store.set('k2', Buffer.alloc(MiB, 1)));
  assert.is(store.get('k')!.toString(), 'small');
  store.close();
});

pages('many tiny items: metadata is capped at half the limit, then items are evicted for slots', () => {
  const store = open({ maxMemoryBytes: 4 * MiB });
  for (let i = 0; i < 300_000; i++) {
    store.set(`t${i}`, 'x');
    if (i % 20_000 === 0) checkAccounting(store, `tiny ${i}`);
  }
  const s = store.stats();
  assert.ok(s.evicted > 0);
  assert.ok(s.bytesUsed - s.pageBytes <= s.maxMemoryBytes / 2, 'metadata within half the limit');
  assert.ok(store.get('t299999'));
  checkAccounting(store, 'end');
  store.close();
});

limit.run();
pages.run();
