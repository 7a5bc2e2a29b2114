/**
 * Item versions, copies and tombstones (docs/ARCHITECTURE.md, "Versions"): a copy from another member is
 * applied only if newer; a delete, expiry or eviction of a key a copy may still arrive for leaves a tombstone
 * that refuses older copies; the tombstone bound raises a floor instead of forgetting; the version clock moves
 * past every version it applies, so a later local write always wins. While a sweep of moved ranges runs, an item it
 * will drop is gone when a request finds it.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Store, type StoreOptions } from '../src/cache/store';
import { CopyResult } from '../src/cache/store-copies';
import { isNewer, VersionClock, VERSIONS_PER_MS } from '../src/cache/version-clock';
import { Sweeper } from '../src/transfer/sweeper';

function fakeClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

function open(options: StoreOptions = {}): Store {
  return new Store({ expiryIntervalMs: 0, ...options });
}

const b = (s: string): Buffer => Buffer.from(s);

function apply(store: Store, key: string, value: string, version: number, tag = 7, expireAt = 0): CopyResult {
  const k = b(key);
  const v = b(value);
  return store.applyCopy(k, 0, k.length, v, 0, v.length, expireAt, version, tag);
}

const clock = suite('version clock');

clock('next() is above the wall clock and every version issued or observed', () => {
  const time = fakeClock(5000);
  const versions = new VersionClock(3, time.now);
  const first = versions.next();
  assert.is(first, 5000 * VERSIONS_PER_MS);
  assert.ok(versions.next() > first, 'same millisecond: the counter moves on');
  versions.observe(9000 * VERSIONS_PER_MS);
  assert.ok(versions.next() > 9000 * VERSIONS_PER_MS, 'an observed version is passed');
  versions.observe(1);
  assert.ok(versions.next() > 9000 * VERSIONS_PER_MS, 'an older observation changes nothing');
});

clock('a version implausibly far ahead is not adopted', () => {
  const time = fakeClock(5000);
  const versions = new VersionClock(0, time.now);
  versions.observe((5000 + 3_600_000) * VERSIONS_PER_MS);
  assert.is(versions.rejectedAhead, 1);
  assert.is(versions.next(), 5000 * VERSIONS_PER_MS);
});

clock('ties are broken by the member tag, as unsigned numbers', () => {
  assert.ok(isNewer(10, 1, 9, 99));
  assert.ok(isNewer(10, 2, 10, 1));
  assert.ok(!isNewer(10, 1, 10, 1));
  assert.ok(isNewer(10, -1, 10, 5), 'tag 0xffffffff is the largest');
});

const copies = suite('copies between members');

copies('a copy is applied when the key is absent or the copy is newer, and refused when older', () => {
  const time = fakeClock();
  const store = open({ clock: time.now });
  assert.is(apply(store, 'k', 'v1', 100), CopyResult.APPLIED);
  assert.is(store.get('k')?.toString(), 'v1');
  assert.is(apply(store, 'k', 'old', 50), CopyResult.OLDER);
  assert.is(apply(store, 'k', 'same', 100), CopyResult.OLDER, 'equal version and tag: nothing new');
  assert.is(apply(store, 'k', 'v2', 200), CopyResult.APPLIED);
  assert.is(store.get('k')?.toString(), 'v2');
  const stats = store.stats();
  assert.is(stats.copiesApplied, 2);
  assert.is(stats.copiesOlder, 2);
  store.close();
});

copies('a local write after a copy wins over it, even when the copy came from a clock ahead', () => {
  const time = fakeClock(1000);
  const store = open({ clock: time.now });
  const ahead = (time.now() + 5000) * VERSIONS_PER_MS;
  assert.is(apply(store, 'k', 'remote', ahead), CopyResult.APPLIED);
  store.set('k', 'local');
  assert.is(apply(store, 'k', 'remote', ahead), CopyResult.OLDER);
  assert.is(store.get('k')?.toString(), 'local');
  store.close();
});

copies('with a local floor, an item written here since the takeover wins over any copy', () => {
  const time = fakeClock(1000);
  const store = open({ clock: time.now });
  const since = store.versions.next();
  store.set('k', 'local');
  const ahead = (time.now() + 5) * VERSIONS_PER_MS;
  const k = b('k');
  const v = b('from the previous owner');
  assert.is(store.applyCopy(k, 0, 1, v, 0, v.length, 0, ahead, 1, since), CopyResult.OLDER, 'the copy is newer by its clock only');
  assert.is(store.get('k')?.toString(), 'local');
  // Without the floor, versions alone decide.
  assert.is(store.applyCopy(k, 0, 1, v, 0, v.length, 0, ahead, 1), CopyResult.APPLIED);
  // An item from before the takeover still loses to a newer copy.
  const later = store.versions.next();
  assert.is(store.applyCopy(k, 0, 1, b('newer'), 0, 5, 0, ahead + 10, 1, later + 1), CopyResult.APPLIED);
  store.close();
});

copies('copyOf returns value, expiry and version without counting a hit', () => {
  const time = fakeClock();
  const store = open({ clock: time.now });
  store.set('k', 'value', { ttlMs: 500 });
  const copy = store.copyOf(b('k'), 0, 1)!;
  assert.is(copy.value.toString(), 'value');
  assert.is(copy.expireAt, time.now() + 500);
  assert.ok(copy.version > 0);
  assert.is(store.stats().hits, 0);
  assert.is(store.copyOf(b('missing'), 0, 7), null);
  // The copy applied elsewhere keeps the absolute expiry.
  const other = open({ clock: time.now });
  assert.is(other.applyCopy(b('k'), 0, 1, copy.value, 0, copy.value.length, copy.expireAt, copy.version, copy.tag), CopyResult.APPLIED);
  assert.is(other.ttl('k'), 500);
  time.advance(500);
  assert.is(other.get('k'), undefined);
  store.close();
  other.close();
});

copies('an expired copy is not stored, and removes an older live item', () => {
  const time = fakeClock();
  const store = open({ clock: time.now });
  assert.is(apply(store, 'k', 'v', 100, 1, time.now() - 1), CopyResult.EXPIRED);
  assert.is(store.get('k'), undefined);
  apply(store, 'k', 'v', 100);
  assert.is(apply(store, 'k', 'gone', 200, 1, time.now()), CopyResult.EXPIRED);
  assert.is(store.get('k'), undefined);
  store.close();
});

copies('TOUCH is a write: it moves the version', () => {
  const store = open();
  store.set('k', 'v');
  const before = store.copyOf(b('k'), 0, 1)!.version;
  store.touch('k', 1000);
  assert.ok(store.copyOf(b('k'), 0, 1)!.version > before);
  store.close();
});

copies('scanCopies shows the accepted live items once each, resumes from its cursor, and skips expired ones', () => {
  const time = fakeClock();
  const store = open({ clock: time.now });
  for (let i = 0; i < 3000; i++) store.set(`key${i}`, `value${i}`, i % 10 === 0 ? { ttlMs: 10 } : undefined);
  time.advance(10);
  const seen = new Map<string, string>();
  let cursor = 0;
  let calls = 0;
  while (cursor >= 0 && calls < 10_000) {
    calls++;
    let taken = 0;
    cursor = store.scanCopies(
      cursor,
      (page, off, len) => page[off + len - 1]! % 2 === 0, // keys ending in an even digit
      (page, off, kl, vl) => {
        if (taken === 100) return false;
        taken++;
        const key = page.toString('latin1', off, off + kl);
        assert.not.ok(seen.has(key), `${key} shown twice`);
        seen.set(key, page.toString('latin1', off + kl, off + kl + vl));
        return true;
      },
      50,
    );
  }
  const expected = [...Array(3000).keys()].filter((i) => i % 2 === 0 && i % 10 !== 0);
  assert.is(seen.size, expected.length);
  for (const i of expected) assert.is(seen.get(`key${i}`), `value${i}`);
  assert.ok(calls > 1, 'the visitor stopped batches and the scan resumed');
  store.close();
});

copies('while a sweep of moved ranges runs, an old item it will drop is gone when found and not handed out', async () => {
  const store = open();
  for (const key of ['old-drop', 'old-keep']) store.set(key, 'v');
  const keyAt = (page: Buffer, offset: number, length: number): string => page.toString('latin1', offset, offset + length);
  const sweeper = new Sweeper(store);
  sweeper.start((page, offset, length) => !keyAt(page, offset, length).endsWith('drop'));
  // Written since the sweep began: judged by the sweep when it gets there, never on access.
  store.set('new-drop', 'v');
  const scanned: string[] = [];
  store.scanCopies(
    0,
    () => true,
    (page, offset, length) => scanned.push(keyAt(page, offset, length)) > 0,
    50,
  );
  assert.equal(scanned.sort(), ['new-drop', 'old-keep'], 'a pull is not sent what the sweep will drop');
  assert.is(store.get('old-drop'), undefined, 'a request finds it gone before the sweep reached it');
  assert.is(store.get('old-keep')?.toString(), 'v');
  assert.is(store.get('new-drop')?.toString(), 'v');
  assert.is(store.stats().dropped, 1);
  await sweeper.idle();
  assert.is(store.get('new-drop'), undefined, 'the sweep itself drops what it rejects');
  store.set('old-drop', 'back');
  assert.is(store.get('old-drop')?.toString(), 'back', 'nothing is judged on access once the sweep is over');
  store.close();
});

copies("a peer copy over this node's limits is refused before anything changes", () => {
  const store = open({ maxValueBytes: 4 });
  assert.throws(() => apply(store, 'k', 'too long', 100), /value/i);
  assert.throws(() => apply(store, 'k', 'ok', -1), /version/);
  assert.throws(() => store.applyCopy(b('k'), 0, 1, b('v'), 0, 1, -5, 100, 0), /expiry/);
  assert.is(store.size, 0);
  store.close();
});

const tombstones = suite('tombstones');

tombstones('while the filter asks for them, a delete refuses older copies and a newer copy still applies', () => {
  const time = fakeClock();
  const store = open({ clock: time.now });
  store.keepTombstonesFor((page, off, len) =>
    Buffer.from(page.subarray(off, off + len))
      .toString('latin1')
      .startsWith('t'),
  );
  apply(store, 'tk', 'v', 100);
  assert.ok(store.delete('tk'));
  assert.is(apply(store, 'tk', 'v', 100), CopyResult.BURIED, 'the transferred older copy does not resurrect it');
  assert.is(store.get('tk'), undefined);
  const newer = (time.now() + 1) * VERSIONS_PER_MS;
  assert.is(apply(store, 'tk', 'v2', newer), CopyResult.APPLIED);
  // Keys the filter does not accept get no tombstone.
  apply(store, 'other', 'v', 100);
  store.delete('other');
  assert.is(apply(store, 'other', 'v', 100), CopyResult.APPLIED);
  const stats = store.stats();
  assert.is(stats.tombstonesCreated, 1);
  assert.is(stats.copiesRefusedByTombstones, 1);
  store.close();
});

tombstones('deleting an absent key leaves a tombstone too (the copy may not have arrived yet)', () => {
  const time = fakeClock();
  const store = open({ clock: time.now });
  store.keepTombstonesFor(() => true);
  assert.not.ok(store.delete('k'));
  assert.is(apply(store, 'k', 'v', 100), CopyResult.BURIED);
  store.close();
});

tombstones('expiry and eviction leave tombstones at the item version', () => {
  const time = fakeClock();
  const store = open({ clock: time.now, maxMemoryBytes: 4 * 1024 * 1024 });
  store.keepTombstonesFor(() => true);
  store.set('short', 'v', { ttlMs: 5 });
  const version = store.copyOf(b('short'), 0, 5)!.version;
  time.advance(5);
  assert.is(store.get('short'), undefined);
  assert.is(apply(store, 'short', 'older', version - 1), CopyResult.BURIED, 'an older copy cannot undo the expiry');
  // Fill past the limit: evicted items leave tombstones.
  const value = Buffer.alloc(1000, 1);
  for (let i = 0; i < 6000; i++) store.set(`fill${i}`, value);
  const stats = store.stats();
  assert.ok(stats.evicted > 0, 'something was evicted');
  assert.ok(stats.tombstonesCreated >= stats.evicted + 1);
  store.close();
});

tombstones('tombstones expire after their time to live, and the filter turned off records none', () => {
  const time = fakeClock();
  const store = open({ clock: time.now, tombstoneTtlMs: 1000 });
  store.keepTombstonesFor(() => true);
  store.delete('k');
  assert.is(apply(store, 'k', 'v', 100), CopyResult.BURIED);
  time.advance(1000);
  assert.is(apply(store, 'k', 'v', 100), CopyResult.APPLIED);
  assert.is(store.stats().tombstonesExpired, 1);
  store.keepTombstonesFor(null);
  store.delete('k');
  assert.is(apply(store, 'k', 'v', 100), CopyResult.APPLIED);
  store.close();
});

tombstones('over capacity the oldest goes, and a floor refuses copies as old as it until it would have expired', () => {
  const time = fakeClock();
  const store = open({ clock: time.now, maxTombstones: 2, tombstoneTtlMs: 1000 });
  store.keepTombstonesFor(() => true);
  store.delete('a');
  store.delete('b');
  store.delete('c'); // pushes a's tombstone out
  const stats = store.stats();
  assert.is(stats.tombstones, 2);
  assert.is(stats.tombstonesOverflowed, 1);
  assert.is(apply(store, 'a', 'old', 100), CopyResult.BURIED, 'a forgotten tombstone still refuses older copies');
  assert.is(apply(store, 'never-deleted', 'old', 100), CopyResult.BURIED, 'the floor is not per key');
  time.advance(1000);
  assert.is(apply(store, 'a', 'old', 100), CopyResult.APPLIED, 'the floor lasts only as long as the tombstone would have');
  store.close();
});

tombstones('flush forgets tombstones', () => {
  const store = open();
  store.keepTombstonesFor(() => true);
  store.delete('k');
  store.flush();
  assert.is(store.stats().tombstones, 0);
  assert.is(apply(store, 'k', 'v', 100), CopyResult.APPLIED);
  store.close();
});

clock.run();
copies.run();
tombstones.run();
