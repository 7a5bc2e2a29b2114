/**
 * The sweeps of data movement (docs/ARCHITECTURE.md, "Data movement") on one member, with the ring and the
 * other members faked: what a sweep drops after a handoff, and what it must keep when the ring moves again
 * while it runs.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Store } from '../src/cache/store';
import { HashRing } from '../src/consistent/ring';
import { silentLogger } from '../src/logger';
import { Opcode, Status } from '../src/protocol/constants';
import type { RawResponse } from '../src/routing/sink';
import { encodeChecksum } from '../src/transfer/copy-codec';
import { DataMovement } from '../src/transfer/data-movement';
import { eventually } from './helpers/wait';

const Sweeps = suite('data movement sweeps');

const SELF = '127.0.0.1:7001';
const OTHER = '127.0.0.1:7002';
const THIRD = '127.0.0.1:7003';

function ringOf(...members: string[]): HashRing {
  const ring = new HashRing();
  ring.setNodes(members);
  return ring;
}

/** A key that `owner` owns in `ring` (and `laterOwner` in `later`, when given). */
function keyOwnedBy(ring: HashRing, owner: string, prefix: string, later?: HashRing, laterOwner?: string): string {
  for (let i = 0; i < 10_000; i++) {
    const key = `${prefix}${i}`;
    if (ring.lookup(key) === owner && (later === undefined || later.lookup(key) === laterOwner)) return key;
  }
  throw new Error(`no key of ${owner}`);
}

/** One member's data movement over a ring the test sets; the first PULL it sends resolves `pulled`. */
function member(store: Store): { movement: DataMovement; view: { ring: HashRing }; pulled: Promise<void> } {
  const view = { selfId: SELF, ring: ringOf(SELF), replicas: 1, reachable: () => true, leaving: () => [] };
  let pulledNow!: () => void;
  const pulled = new Promise<void>((resolve) => (pulledNow = resolve));
  const peers = {
    transfer(_peer: string, opcode: number): Promise<RawResponse> {
      if (opcode === Opcode.PULL) pulledNow();
      // Nothing comes back: the pull keeps its range pending, which is all these tests need.
      return Promise.resolve({ status: Status.UNAVAILABLE, value: Buffer.from('not in this test') } as RawResponse);
    },
    request(): Promise<RawResponse> {
      return Promise.reject(new Error('no replica writes in this test'));
    },
  };
  const movement = new DataMovement(view, store, peers, silentLogger);
  return { movement, view, pulled };
}

Sweeps('a key given away and confirmed is dropped once its new owner confirms', async () => {
  const store = new Store();
  const { movement, view } = member(store);
  const after = ringOf(SELF, OTHER);
  const given = keyOwnedBy(after, OTHER, 'given:');
  const kept = keyOwnedBy(after, SELF, 'kept:');
  store.set(given, 'old');
  store.set(kept, 'mine');
  view.ring = after;
  movement.ringChanged([SELF], null);
  const answer = await movement.handle(Opcode.PULL_DONE, OTHER, Buffer.alloc(0), encodeChecksum(after.checksum));
  assert.is(answer.status, Status.OK);
  await eventually(() => store.get(given) === undefined, 'the given-away key to be dropped');
  assert.is(store.get(kept)?.toString(), 'mine');
  movement.close();
});

Sweeps('a write to a key this node gains while the sweep after a handoff runs is kept', async () => {
  const store = new Store();
  const { movement, view, pulled } = member(store);
  view.ring = ringOf(SELF, OTHER);
  const three = ringOf(SELF, OTHER, THIRD);
  const key = keyOwnedBy(three, OTHER, 'gained:', ringOf(SELF, THIRD), SELF);
  // A third member joins and takes some ranges from this node; once it confirms, this node sweeps what it
  // gave away, judged by the three-member ring, where the key is the other member's.
  view.ring = three;
  movement.ringChanged([SELF, OTHER], null);
  const answer = await movement.handle(Opcode.PULL_DONE, THIRD, Buffer.alloc(0), encodeChecksum(three.checksum));
  assert.is(answer.status, Status.OK);
  // Before that sweep reaches the key, the other member leaves: the key is this node's now, and a client
  // writes it here.
  view.ring = ringOf(SELF, THIRD);
  movement.ringChanged([SELF, OTHER, THIRD], null);
  store.set(key, 'acknowledged');
  // The pull from the member that left starts only once the sweeps are through.
  await pulled;
  assert.is(store.get(key)?.toString(), 'acknowledged');
  movement.close();
});

Sweeps.run();
