/**
 * The one chunking rule for multi-key bodies (multiPartEnds), shared by the client's planning and the node's
 * key router: parts in order, a new one when the body would pass the limit or the part holds maxCount items,
 * an oversized item alone.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MULTI_SLACK_BYTES } from '../src/protocol/constants';
import { multiPartEnds } from '../src/protocol/multi';
import { planMget, planMset } from '../src/client/multi-plan';

const Parts = suite('multi-key parts');

Parts('no items: no parts; items that fit: one part', () => {
  assert.equal(multiPartEnds([], 100), []);
  assert.equal(multiPartEnds([10, 10, 10], 100), [3]);
});

Parts('a part ends before the item that would take the body (4 bytes of count included) past the limit', () => {
  // 4 + 30 + 30 + 30 = 94 fits in 100; one more 30 does not.
  assert.equal(multiPartEnds([30, 30, 30, 30, 30], 100), [3, 5]);
  assert.equal(multiPartEnds([30, 30, 30, 6], 100), [4], 'exactly the limit fits');
});

Parts('an item bigger than the limit travels alone, between the parts around it', () => {
  assert.equal(multiPartEnds([10, 500, 10, 10], 100), [1, 2, 4]);
  assert.equal(multiPartEnds([500, 500], 100), [1, 2]);
});

Parts('at most maxCount items per part', () => {
  assert.equal(multiPartEnds(new Array<number>(7).fill(1), 1000, 3), [3, 6, 7]);
});

Parts("the client's MGET and MSET plans cut where the rule cuts", () => {
  const keys = Array.from({ length: 1000 }, (_, i) => `key:${i}:${'x'.repeat(i % 50)}`);
  const sizes = keys.map((key) => 2 + Buffer.byteLength(key));
  const plan = planMget(keys, 4096, 64);
  assert.ok(!(plan instanceof Error));
  const ends = multiPartEnds(sizes, 4096, 64);
  assert.equal(
    plan.map((part) => part.items.length),
    ends.map((end, i) => end - (i === 0 ? 0 : ends[i - 1]!)),
  );
  assert.equal(
    plan.flatMap((part) => part.items),
    keys,
    'every key once, in order',
  );
  plan.forEach((part) => assert.is(part.bodyLength, 4 + part.items.reduce((n, key) => n + 2 + Buffer.byteLength(key), 0)));

  const entries = keys.map((key, i): [string, Buffer] => [key, Buffer.alloc(i * 997)]);
  const msetPlan = planMset(entries);
  assert.ok(!(msetPlan instanceof Error));
  const msetEnds = multiPartEnds(
    entries.map(([key, value]) => 6 + Buffer.byteLength(key) + value.length),
    MULTI_SLACK_BYTES,
  );
  assert.ok(msetEnds.length > 1, 'the entries need several parts');
  assert.equal(
    msetPlan.map((part) => part.items.length),
    msetEnds.map((end, i) => end - (i === 0 ? 0 : msetEnds[i - 1]!)),
  );
});

Parts.run();
