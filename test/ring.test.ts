import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HashRing, hash32, isNativeAccelerationEnabled } from '../src/index';
import { randomKeys } from './helpers/random';

const KEYS = randomKeys(100_000, 0x5eed);
const implementation = isNativeAccelerationEnabled ? 'native' : 'TS fallback';

function ringOf(ids: string[], vnodes?: number): HashRing {
  const ring = new HashRing(vnodes === undefined ? {} : { vnodes });
  for (const id of ids) ring.add(id);
  return ring;
}

function countByOwner(ring: HashRing, keys: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const key of keys) {
    const owner = ring.lookup(key)!;
    counts.set(owner, (counts.get(owner) ?? 0) + 1);
  }
  return counts;
}

test('an empty ring owns nothing', () => {
  const ring = new HashRing();
  assert.is(ring.lookup('a'), undefined);
  assert.equal(ring.lookupN('a', 3), []);
  assert.equal(ring.lookupMany(['a', 'b']), [undefined, undefined]);
  assert.is(ring.size, 0);
  assert.is(ring.epoch, 0);
});

test('the same members give the same ring in any insertion order', () => {
  const ids = ['10.0.0.1:7000', '10.0.0.2:7000', '10.0.0.3:7000', 'node-d', 'node-e'];
  const forward = ringOf(ids);
  const backward = ringOf([...ids].reverse());
  const batch = new HashRing();
  batch.setNodes([ids[2]!, ids[0]!, ids[4]!, ids[1]!, ids[3]!]);
  assert.is(forward.checksum, backward.checksum);
  assert.is(forward.checksum, batch.checksum);
  for (const key of KEYS.slice(0, 20_000)) {
    const owner = forward.lookup(key);
    assert.is(backward.lookup(key), owner);
    assert.is(batch.lookup(key), owner);
  }
});

test('equal points are ordered by node id, so ties never depend on insertion order', () => {
  // "n2210-0" and "n95400-0" have the same xxh32 (2428070152), so with one vnode each both nodes sit on the
  // same point, and every key belongs to whichever comes first among equal points: the smaller id ("n2210").
  const sameLabelHash = (id: string) => {
    const label = Buffer.from(`${id}-0`);
    return hash32(label);
  };
  assert.is(sameLabelHash('n2210'), sameLabelHash('n95400'));
  for (const order of [
    ['n2210', 'n95400'],
    ['n95400', 'n2210'],
  ]) {
    const ring = ringOf(order, 1);
    for (const key of KEYS.slice(0, 1000)) assert.is(ring.lookup(key), 'n2210');
    assert.equal(ring.lookupN('k', 2), ['n2210', 'n95400']);
  }
});

test(`3 nodes x 160 vnodes spread 100k keys within 1.3x max/min (${implementation})`, () => {
  const ring = ringOf(['a:1', 'b:2', 'c:3']);
  const counts = [...countByOwner(ring, KEYS).values()];
  assert.is(counts.length, 3);
  const ratio = Math.max(...counts) / Math.min(...counts);
  assert.ok(ratio <= 1.3, `max/min = ${ratio.toFixed(3)} (${counts.join(', ')})`);
});

test('adding a 4th node moves at most 30% of keys, all of them to the new node', () => {
  const ring = ringOf(['a:1', 'b:2', 'c:3']);
  const before = KEYS.map((key) => ring.lookup(key));
  const epoch = ring.epoch;
  assert.ok(ring.add('d:4'));
  assert.is(ring.epoch, epoch + 1);
  let moved = 0;
  KEYS.forEach((key, i) => {
    const owner = ring.lookup(key);
    if (owner !== before[i]) {
      moved++;
      assert.is(owner, 'd:4', `key ${key} moved from ${before[i]} to ${owner}`);
    }
  });
  assert.ok(moved > 0);
  assert.ok(moved / KEYS.length <= 0.3, `moved ${moved}`);
});

test("removing a node moves only that node's keys", () => {
  const ring = ringOf(['a:1', 'b:2', 'c:3', 'd:4']);
  const before = KEYS.map((key) => ring.lookup(key));
  assert.ok(ring.remove('b:2'));
  assert.not.ok(ring.remove('b:2'), 'removing a non-member reports false');
  KEYS.forEach((key, i) => {
    const owner = ring.lookup(key);
    if (before[i] !== 'b:2') assert.is(owner, before[i]);
    else assert.is.not(owner, 'b:2');
  });
});

test('lookupN returns distinct nodes in ring order, stable across calls, starting at the owner', () => {
  const ring = ringOf(['a', 'b', 'c', 'd', 'e']);
  for (const key of KEYS.slice(0, 2000)) {
    const three = ring.lookupN(key, 3);
    assert.is(three.length, 3);
    assert.is(new Set(three).size, 3);
    assert.is(three[0], ring.lookup(key));
    assert.equal(ring.lookupN(key, 3), three);
    assert.equal(ring.lookupN(key, 2), three.slice(0, 2));
  }
  assert.is(ring.lookupN('x', 10).length, 5, 'fewer when the ring has fewer');
  assert.equal(ring.lookupN('x', 0), []);
  assert.throws(() => ring.lookupN('x', -1), RangeError);
});

test('weights shift the share roughly in proportion', () => {
  const ring = new HashRing();
  ring.add('light', 1);
  ring.add('heavy', 3);
  const counts = countByOwner(ring, KEYS);
  const share = counts.get('heavy')! / KEYS.length;
  assert.ok(share > 0.68 && share < 0.82, `heavy share ${share.toFixed(3)}`);
  assert.is(ring.pointCount, 160 + 480);
});

test(`batch lookup agrees with single lookups and with a pure-TS walk on 100k keys (${implementation})`, () => {
  const ring = ringOf(['a:1', 'b:2', 'c:3', 'd:4', 'e:5']);
  const batched = ring.lookupMany(KEYS);
  KEYS.forEach((key, i) => {
    assert.is(batched[i], ring.lookup(key));
    // lookupN always walks the points in TypeScript, whichever path lookup and the batch took.
    assert.is(batched[i], ring.lookupN(key, 1)[0]);
  });
});

test('lookupBatch routes spans of one buffer and lookupIndex agrees', () => {
  const ring = ringOf(['a', 'b', 'c']);
  const keys = KEYS.slice(0, 1000).map((key) => Buffer.from(key));
  const joined = Buffer.concat(keys);
  const spans = new Uint32Array(keys.length * 2);
  let offset = 0;
  keys.forEach((key, i) => {
    spans[2 * i] = offset;
    spans[2 * i + 1] = key.length;
    offset += key.length;
  });
  const out = new Int32Array(keys.length);
  ring.lookupBatch(joined, spans, keys.length, out);
  keys.forEach((key, i) => {
    assert.is(out[i], ring.lookupIndex(joined, spans[2 * i]!, spans[2 * i + 1]!));
    assert.is(ring.nodeAt(out[i]!), ring.lookup(key));
  });
  assert.throws(() => ring.lookupBatch(joined, spans, keys.length + 1, out), RangeError);
});

test('Buffer and string keys with the same bytes have the same owner', () => {
  const ring = ringOf(['a', 'b', 'c']);
  for (const key of ['plain', 'ünïcödé ☃', 'x'.repeat(5000)]) assert.is(ring.lookup(Buffer.from(key)), ring.lookup(key));
});

test('bad input: key type, vnodes range, weight, duplicate add', () => {
  const ring = ringOf(['a']);
  for (const bad of [undefined, null, 1, {}, ['a']]) {
    assert.throws(
      () => ring.lookup(bad as unknown as string),
      (error: Error) => error instanceof TypeError && /key/.test(error.message),
    );
  }
  assert.throws(
    () => ring.lookupMany(['ok', 5 as unknown as string]),
    (error: Error) => error instanceof TypeError && /keys\[1\]/.test(error.message),
  );
  for (const vnodes of [0, -1, 4097, 1.5, Number.NaN]) assert.throws(() => new HashRing({ vnodes }), RangeError);
  assert.ok(new HashRing({ vnodes: 4096 }));
  for (const weight of [0, -1, Number.NaN, Infinity]) assert.throws(() => ring.add('b', weight), RangeError);
  const epoch = ring.epoch;
  assert.not.ok(ring.add('a'), 'adding an id twice with the same weight is a no-op');
  assert.is(ring.epoch, epoch);
  assert.ok(ring.add('a', 2), 'adding it with another weight re-weights');
  assert.is(ring.epoch, epoch + 1);
  assert.throws(() => ring.add(''), RangeError);
  assert.throws(() => ring.add(5 as unknown as string), TypeError);
});

test('checksum follows membership and epoch bumps on each change only', () => {
  const ring = new HashRing();
  const empty = ring.checksum;
  ring.setNodes(['a', 'b']);
  assert.is(ring.epoch, 1);
  const ab = ring.checksum;
  assert.is.not(ab, empty);
  assert.not.ok(ring.setNodes(['b', 'a']), 'the same members is no change');
  assert.is(ring.epoch, 1);
  ring.add('c');
  assert.is.not(ring.checksum, ab);
  ring.remove('c');
  assert.is(ring.checksum, ab);
  assert.is(ring.epoch, 3);
  assert.equal(ring.nodes, ['a', 'b']);
});

test.run();
