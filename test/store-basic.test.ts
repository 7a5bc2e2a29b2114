/**
 * Store basics with an injected clock: set/get/delete/touch/ttl, NX/XX, lazy and active expiry (expireDue and
 * the timer), TTL changes leaving no wrong expiry behind, string and Buffer keys naming the same bytes,
 * flush and close.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Store, type StoreOptions } from '../src/cache/store';

function fakeClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

function open(options: StoreOptions = {}): Store {
  return new Store({ expiryIntervalMs: 0, ...options });
}

const str = (b: Buffer | undefined): string | undefined => b?.toString('utf8');

const basics = suite('store basics');

basics('set, get, delete, overwrite', () => {
  const store = open();
  assert.is(store.get('a'), undefined);
  assert.is(store.set('a', 'one'), true);
  assert.is(str(store.get('a')), 'one');
  assert.is(store.set('a', 'two'), true);
  assert.is(str(store.get('a')), 'two');
  assert.is(store.size, 1);
  assert.is(store.delete('a'), true);
  assert.is(store.delete('a'), false);
  assert.is(store.get('a'), undefined);
  assert.is(store.size, 0);
  const s = store.stats();
  assert.is(s.sets, 2);
  assert.is(s.deletes, 1);
  assert.is(s.hits, 2);
  assert.is(s.misses, 2);
  store.close();
});

basics('get returns a copy that later writes do not change', () => {
  const store = open();
  store.set('k', 'abcdefghijklmnopqrstuvwxyz0123456789');
  const first = store.get('k')!;
  store.set('k', 'ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210');
  store.delete('k');
  store.set('other', 'x'.repeat(36));
  assert.is(first.toString(), 'abcdefghijklmnopqrstuvwxyz0123456789');
  first[0] = 0x21;
  assert.is(store.get('other')!.toString(), 'x'.repeat(36));
  store.close();
});

basics('string keys and Buffer keys with the same UTF-8 bytes are the same key', () => {
  const store = open();
  const keys = ['plain', 'ünïcödé', '日本語のキー', 'emoji 😀 key', 'a', 'abc', 'abcd', 'abcde'];
  for (const k of keys) store.set(k, `v:${k}`);
  for (const k of keys) {
    assert.is(str(store.get(Buffer.from(k, 'utf8'))), `v:${k}`, k);
    assert.is(store.set(Buffer.from(k, 'utf8'), `w:${k}`, { mode: 'xx' }), true);
    assert.is(str(store.get(k)), `w:${k}`);
  }
  assert.is(store.size, keys.length);
  store.close();
});

basics('string values are stored as UTF-8', () => {
  const store = open();
  const values = ['', 'ascii', 'ü', '日本語', '😀', 'x'.repeat(300), 'ñ'.repeat(200)];
  values.forEach((v, i) => store.set(`k${i}`, v));
  values.forEach((v, i) => assert.ok(store.get(`k${i}`)!.equals(Buffer.from(v, 'utf8')), `value ${i}`));
  store.close();
});

basics('NX sets only when absent, XX only when present', () => {
  const store = open();
  assert.is(store.set('k', 'v1', { mode: 'xx' }), false);
  assert.is(store.get('k'), undefined);
  assert.is(store.set('k', 'v1', { mode: 'nx' }), true);
  assert.is(store.set('k', 'v2', { mode: 'nx' }), false);
  assert.is(str(store.get('k')), 'v1');
  assert.is(store.set('k', 'v3', { mode: 'xx' }), true);
  assert.is(str(store.get('k')), 'v3');
  assert.is(store.set('k', 'v4', { mode: 'set' }), true);
  assert.is(str(store.get('k')), 'v4');
  store.close();
});

const ttl = suite('store ttl and expiry');

ttl('ttl reports -2 missing, -1 no expiry, ms left otherwise; lazy expiry at the deadline', () => {
  const clock = fakeClock();
  const store = open({ clock: clock.now });
  assert.is(store.ttl('k'), -2);
  store.set('k', 'v');
  assert.is(store.ttl('k'), -1);
  store.set('t', 'v', { ttlMs: 1000 });
  assert.is(store.ttl('t'), 1000);
  clock.advance(400);
  assert.is(store.ttl('t'), 600);
  clock.advance(599);
  assert.is(store.ttl('t'), 1);
  assert.is(str(store.get('t')), 'v');
  clock.advance(1);
  assert.is(store.get('t'), undefined);
  assert.is(store.ttl('t'), -2);
  assert.is(store.stats().expired, 1);
  assert.is(store.size, 1);
  store.close();
});

ttl('an expired key is absent for every operation', () => {
  const clock = fakeClock();
  const store = open({ clock: clock.now });
  const setAll = () => {
    for (const k of ['g', 'd', 't', 'x', 'n', 'i']) store.set(k, '5', { ttlMs: 10 });
  };
  setAll();
  clock.advance(10);
  assert.is(store.get('g'), undefined);
  assert.is(store.delete('d'), false);
  assert.is(store.touch('t', 1000), false);
  assert.is(store.set('x', 'new', { mode: 'xx' }), false);
  assert.is(store.set('n', 'new', { mode: 'nx' }), true);
  assert.is(store.ttl('n'), -1);
  assert.is(store.incr('i', 1), 1n);
  assert.is(store.ttl('i'), -1);
  store.close();
});

ttl('a re-set replaces the TTL: a new one, or none', () => {
  const clock = fakeClock();
  const store = open({ clock: clock.now });
  store.set('a', 'v', { ttlMs: 100 });
  store.set('a', 'v2', { ttlMs: 5000 });
  clock.advance(200);
  assert.is(str(store.get('a')), 'v2');
  assert.is(store.ttl('a'), 4800);
  store.set('a', 'v3');
  assert.is(store.ttl('a'), -1);
  clock.advance(10_000);
  assert.is(str(store.get('a')), 'v3');
  assert.is(store.expireDue(), 0);
  assert.is(store.stats().expired, 0);
  store.close();
});

ttl('touch sets, changes and removes the TTL', () => {
  const clock = fakeClock();
  const store = open({ clock: clock.now });
  assert.is(store.touch('missing', 10), false);
  store.set('a', 'v');
  assert.is(store.touch('a', 50), true);
  assert.is(store.ttl('a'), 50);
  assert.is(store.touch('a', 500), true);
  clock.advance(100);
  assert.is(store.ttl('a'), 400);
  assert.is(store.touch('a', 0), true);
  assert.is(store.ttl('a'), -1);
  clock.advance(1000);
  assert.is(store.expireDue(), 0);
  assert.is(str(store.get('a')), 'v');
  store.close();
});

ttl('active expiry: expireDue removes exactly the due items, earliest first, and counts them', () => {
  const clock = fakeClock();
  const store = open({ clock: clock.now });
  for (let i = 0; i < 100; i++) store.set(`k${i}`, 'v', { ttlMs: 10 * (i + 1) });
  store.set('forever', 'v');
  assert.is(store.expireDue(), 0);
  clock.advance(250);
  assert.is(store.expireDue(10), 10);
  assert.is(store.expireDue(), 15);
  assert.is(store.size, 76);
  for (let i = 0; i < 100; i++) assert.is(store.ttl(`k${i}`) === -2, i < 25, `k${i}`);
  assert.is(store.stats().expired, 25);
  clock.advance(10_000);
  assert.is(store.expireDue(), 75);
  assert.is(store.size, 1);
  assert.is(store.stats().expiringItems, 0);
  store.close();
});

ttl('stale expiries: deleted, re-set, touched and overwritten keys do not expire early', () => {
  const clock = fakeClock();
  const store = open({ clock: clock.now });
  store.set('deleted-then-set', 'v', { ttlMs: 10 });
  store.delete('deleted-then-set');
  store.set('deleted-then-set', 'v2');
  store.set('touched', 'v', { ttlMs: 10 });
  store.touch('touched', 1000);
  store.set('reset-bigger', 'v', { ttlMs: 10 });
  store.set('reset-bigger', 'a much longer value that lands in another size class', { ttlMs: 1000 });
  store.set('due', 'v', { ttlMs: 10 });
  clock.advance(20);
  assert.is(store.expireDue(), 1);
  assert.is(store.get('due'), undefined);
  assert.is(str(store.get('deleted-then-set')), 'v2');
  assert.is(str(store.get('touched')), 'v');
  assert.is(store.ttl('reset-bigger'), 980);
  clock.advance(1000);
  assert.is(store.expireDue(), 2);
  assert.is(str(store.get('deleted-then-set')), 'v2');
  store.close();
});

ttl('the unref timer drains due items on its own, in slices', async () => {
  const clock = fakeClock();
  const sweeps: number[] = [];
  let resolve: () => void = () => {};
  const drained = new Promise<void>((r) => (resolve = r));
  const store = new Store({
    clock: clock.now,
    expiryIntervalMs: 1,
    onSweep: (n) => {
      sweeps.push(n);
      if (store.size === 1) resolve();
    },
  });
  for (let i = 0; i < 20_000; i++) store.set(`k${i}`, 'v', { ttlMs: 1 + (i % 50) });
  store.set('keep', 'v', { ttlMs: 1_000_000 });
  clock.advance(100);
  // The store's timer is unref'd (it must not keep a process alive), so a ref'd watchdog keeps this test's
  // process up while it waits, and fails the test if the sweeps never finish.
  let watchdog: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    watchdog = setTimeout(() => reject(new Error(`timer expired only ${store.stats().expired} items`)), 10_000);
  });
  try {
    await Promise.race([drained, timedOut]);
  } finally {
    clearTimeout(watchdog);
  }
  assert.is(store.size, 1);
  assert.is(store.stats().expired, 20_000);
  assert.is(
    sweeps.reduce((a, b) => a + b, 0),
    20_000,
  );
  assert.is(str(store.get('keep')), 'v');
  store.close();
});

const lifecycle = suite('store flush and close');

lifecycle('flush empties the store and releases pages; it stays usable', () => {
  const store = open();
  for (let i = 0; i < 1000; i++) store.set(`k${i}`, 'x'.repeat(i % 200));
  assert.ok(store.stats().pages > 0);
  store.flush();
  assert.is(store.size, 0);
  assert.is(store.stats().pages, 0);
  assert.is(store.get('k1'), undefined);
  store.set('k1', 'again');
  assert.is(str(store.get('k1')), 'again');
  store.close();
});

lifecycle('close releases memory; every later call throws StoreClosedError; close is idempotent', () => {
  const store = open();
  store.set('a', 'b');
  store.close();
  store.close();
  assert.ok(store.isClosed);
  const calls: Array<() => unknown> = [
    () => store.get('a'),
    () => store.set('a', 'b'),
    () => store.delete('a'),
    () => store.touch('a', 1),
    () => store.ttl('a'),
    () => store.incr('a', 1),
    () => store.flush(),
    () => store.stats(),
    () => store.expireDue(),
    () => store.lookup(Buffer.from('a'), 0, 1),
    () => store.setFrom(Buffer.from('a'), 0, 1, Buffer.from('b'), 0, 1),
  ];
  for (const call of calls) {
    try {
      call();
      assert.unreachable('expected StoreClosedError');
    } catch (error) {
      assert.is((error as { code?: string }).code, 'ERR_STORE_CLOSED');
    }
  }
});

basics.run();
ttl.run();
lifecycle.run();
