/**
 * Which ranges each member gains between two rings, with replicas (docs/ARCHITECTURE.md, "Data movement" and
 * "Replicas"), checked key by key against the definition: a member in a key's replica set after the change but
 * not before gains the key, from the first member of the set before that still owns keys after (else the first
 * of the set before); nobody else gains it. And the arcs a pull asks for contain exactly the keys gained.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HashRing } from '../src/consistent/ring';
import { xxh32 } from '../src/consistent/xxhash32';
import { arcsOf, inArcs, ringMoves, type RingMove } from '../src/transfer/ring-moves';

function ringOf(members: string[]): HashRing {
  const ring = new HashRing({ vnodes: 40, native: false });
  ring.setNodes(members);
  return ring;
}

const MEMBERS = ['10.0.0.1:7000', '10.0.0.2:7000', '10.0.0.3:7000', '10.0.0.4:7000', '10.0.0.5:7000'];

/** The moves covering a hash, per gainer. */
function gainersOf(moves: RingMove[], hash: number): Map<string, string> {
  const found = new Map<string, string>();
  for (const move of moves) if (move.lo <= hash && hash <= move.hi) found.set(move.to, move.from);
  return found;
}

const CHANGES: Array<[string, string[], string[]]> = [
  ['a member dies', MEMBERS, MEMBERS.filter((m) => m !== MEMBERS[2])],
  ['a member joins', MEMBERS.slice(0, 4), MEMBERS],
  ['one leaves, another joins', MEMBERS.slice(0, 4), [...MEMBERS.slice(1, 4), MEMBERS[4]!]],
  ['from one member to three', MEMBERS.slice(0, 1), MEMBERS.slice(0, 3)],
];

for (const replicas of [1, 2, 3]) {
  for (const [what, beforeIds, afterIds] of CHANGES) {
    test(`R = ${replicas}, ${what}: every key is gained by exactly the members new in its replica set`, () => {
      const before = ringOf(beforeIds);
      const after = ringOf(afterIds);
      const moves = ringMoves(before, after, replicas);
      const arcsByGainer = new Map<string, Uint32Array>();
      for (const id of afterIds) arcsByGainer.set(id, arcsOf(moves.filter((move) => move.to === id)));
      for (let i = 0; i < 3000; i++) {
        const key = `key:${i}`;
        const hash = xxh32(Buffer.from(key), 0, key.length, 0);
        const setBefore = before.lookupN(key, replicas);
        const setAfter = after.lookupN(key, replicas);
        const source = setBefore.find((id) => after.has(id)) ?? setBefore[0]!;
        const expected = new Map(setAfter.filter((id) => !setBefore.includes(id)).map((id) => [id, source]));
        assert.equal(
          [...gainersOf(moves, hash)].sort(),
          [...expected].sort(),
          `${key}: before ${setBefore.join(' ')}, after ${setAfter.join(' ')}`,
        );
        for (const [id, arcs] of arcsByGainer) assert.is(inArcs(arcs, hash), expected.has(id), `${key} in the arcs ${id} pulls`);
      }
    });
  }
}

test('arcsOf merges touching and overlapping arcs; inArcs finds the bounds', () => {
  const arcs = arcsOf([
    { lo: 10, hi: 20 },
    { lo: 21, hi: 30 },
    { lo: 50, hi: 60 },
    { lo: 55, hi: 70 },
    { lo: 0, hi: 0 },
  ]);
  assert.equal(Array.from(arcs), [0, 0, 10, 30, 50, 70]);
  for (const [hash, inside] of [
    [0, true],
    [1, false],
    [10, true],
    [30, true],
    [31, false],
    [70, true],
    [71, false],
    [0xffffffff, false],
  ] as const) {
    assert.is(inArcs(arcs, hash), inside, `hash ${hash}`);
  }
});

test.run();
