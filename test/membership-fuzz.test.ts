/**
 * Fuzzing the membership decoder and the member rules: random and mutated membership messages from a connected
 * non-member, from a member with a lying `from`, and (in process) from a real member speaking about members that
 * do not exist or at incarnations far in the future. None of them may change the member table, the ring or the
 * store; the node must stay up and keep answering.
 */
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeMessage, encodeMessage, type MembershipMessage } from '../src/discovery/messages';
import { MAX_INCARNATION_LEAD_MS } from '../src/discovery/membership';
import { MEMBERSHIP_OPCODE_FIRST, Opcode, Status } from '../src/protocol/constants';
import { encodeRequest } from '../src/protocol/encoder';
import type { CacheNode } from '../src/node/cache-node';
import { nodeInternals } from '../src/node/internals';
import { startCluster } from './helpers/cluster';
import { memberSocket } from './helpers/members';
import { closeAllNodes } from './helpers/node';
import { RawPeer } from './helpers/raw-socket';

const Fuzz = suite('membership fuzz');
const peers: RawPeer[] = [];

Fuzz.after.each(async () => {
  for (const peer of peers.splice(0)) peer.destroy();
  await closeAllNodes();
});

const STATES = ['alive', 'suspect', 'dead', 'left'] as const;

/** A member id: mostly made-up loopback ports, sometimes one of the cluster's own ids. */
function idArb(real: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    fc.integer({ min: 1, max: 65535 }).map((port) => `127.0.0.1:${port}`),
    fc.constantFrom(...real),
  );
}

function updateArb(real: string[]): fc.Arbitrary<Record<string, unknown>> {
  return fc.record({
    id: idArb(real),
    state: fc.constantFrom(...STATES),
    incarnation: fc.oneof(fc.constant(Date.now()), fc.constant(Number.MAX_SAFE_INTEGER), fc.integer({ min: 0, max: 2 ** 52 })),
  });
}

/** A well-formed message, then maybe broken: a field dropped or retyped, bytes flipped, truncated. */
function messageBytesArb(real: string[]): fc.Arbitrary<Buffer> {
  const message = fc.record({
    from: idArb(real),
    updates: fc.array(updateArb(real), { maxLength: 8 }),
    target: fc.option(idArb(real), { nil: undefined }),
  });
  const mutation = fc.oneof(
    fc.constant((b: Buffer) => b),
    fc.nat().map((n) => (b: Buffer) => b.subarray(0, n % (b.length + 1))),
    fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([at, byte]) => (b: Buffer) => {
      const copy = Buffer.from(b);
      if (copy.length > 0) copy[at % copy.length] = byte;
      return copy;
    }),
    fc.constant((b: Buffer) => Buffer.from(b.toString().replace('"updates"', '"updatez"'))),
  );
  return fc.tuple(message, mutation).map(([m, mutate]) => mutate(Buffer.from(JSON.stringify(m))));
}

interface Snapshot {
  members: string;
  checksum: number;
  items: number;
  farFuture: number;
}

/**
 * What no message may change: who the members are, the ring, the store, and no incarnation far in the future.
 * (States and incarnations of real members may move on their own under load: a slow probe, a refute.)
 */
function snapshot(node: CacheNode): Snapshot {
  const all = nodeInternals(node).cluster.membership.table.all();
  const members = all
    .map((m) => m.id)
    .sort()
    .join(',');
  const farFuture = all.filter((m) => m.incarnation > Date.now() + MAX_INCARNATION_LEAD_MS).length;
  return { members, checksum: nodeInternals(node).cluster.ring.checksum, items: nodeInternals(node).store.stats().items, farFuture };
}

Fuzz('random and mutated membership frames from a non-member are all refused and change nothing', async () => {
  const nodes = await startCluster(3);
  const target = nodes[0]!;
  // Keys the target owns: those of other members' ranges would be dropped once their owners confirm the handoff.
  const ring = nodeInternals(target).cluster.ring;
  for (let i = 0, stored = 0; stored < 50 && i < 10_000; i++) {
    if (ring.lookup(`k${i}`) !== target.address) continue;
    nodeInternals(target).store.set(`k${i}`, 'v');
    stored++;
  }
  const real = nodes.map((node) => node.address);
  const before = snapshot(target);
  const samples = fc.sample(
    fc.tuple(fc.integer({ min: MEMBERSHIP_OPCODE_FIRST, max: MEMBERSHIP_OPCODE_FIRST + 15 }), messageBytesArb(real)),
    { numRuns: 60, seed: 14 },
  );
  // One connection per message: each refusal closes its connection.
  for (const [i, [opcode, value]] of samples.entries()) {
    const peer = await RawPeer.connect(target.port);
    peers.push(peer);
    peer.write(encodeRequest({ opcode, requestId: i + 1, value }));
    const [answer] = await peer.waitForResponses(1);
    assert.is(answer!.status, Status.FORBIDDEN, `message ${i}`);
    await peer.closed;
  }
  assert.equal(snapshot(target), before);
  assert.is((target.stats().server as { memberOnlyRefusals: number }).memberOnlyRefusals, samples.length);
});

Fuzz(
  "messages on a member's connection in another member's name are refused whatever they say; malformed ones are answered and ignored",
  async () => {
    const nodes = await startCluster(3);
    const [target, member] = nodes as [CacheNode, CacheNode];
    const real = nodes.map((node) => node.address);
    const before = snapshot(target);
    const samples = fc.sample(messageBytesArb(real), { numRuns: 40, seed: 41 });
    let forbidden = 0;
    let malformed = 0;
    for (const [i, value] of samples.entries()) {
      const decoded = decodeMessage(value);
      if (decoded !== undefined && decoded.from === member.address) continue; // speaking for itself: allowed, not a lie
      const socket = await memberSocket(member, target, peers);
      socket.write(encodeRequest({ opcode: Opcode.SYNC, requestId: 2, value }));
      const responses = await socket.waitForResponses(2);
      const status = responses[1]!.status;
      if (decoded === undefined) {
        assert.is(status, Status.BAD_ARGUMENT, `message ${i} is malformed`);
        malformed++;
      } else {
        assert.is(status, Status.FORBIDDEN, `message ${i} lies about its sender`);
        forbidden++;
      }
      socket.destroy();
    }
    assert.ok(forbidden > 5 && malformed > 5, `${forbidden} lies, ${malformed} malformed`);
    assert.equal(snapshot(target), before);
  },
);

Fuzz('a real member speaking about made-up members or far-future incarnations changes nothing', async () => {
  const nodes = await startCluster(3);
  const [target, member] = nodes as [CacheNode, CacheNode];
  const before = snapshot(target);
  const now = Date.now();
  const lie = fc.record({
    id: fc.oneof(
      fc.integer({ min: 1, max: 999 }).map((port) => `127.0.0.1:${port}`),
      fc.constantFrom(...nodes.map((node) => node.address)),
    ),
    state: fc.constantFrom(...STATES),
    incarnation: fc.integer({ min: now + MAX_INCARNATION_LEAD_MS + 1, max: Number.MAX_SAFE_INTEGER }),
  });
  const madeUp = fc.record({
    id: fc.integer({ min: 1, max: 999 }).map((port) => `127.0.0.1:${port}`),
    state: fc.constantFrom('dead', 'left') as fc.Arbitrary<'dead' | 'left'>,
    incarnation: fc.nat(),
  });
  const messages = fc.sample(fc.array(fc.oneof(lie, madeUp), { minLength: 1, maxLength: 10 }), { numRuns: 100, seed: 7 });
  for (const updates of messages) {
    const message: MembershipMessage = { from: member.address, updates: updates as MembershipMessage['updates'] };
    await nodeInternals(target).cluster.handleMembership(Opcode.PROBE, decodeMessage(encodeMessage(message))!, member.address);
  }
  assert.equal(snapshot(target), before);
  assert.ok(nodeInternals(target).cluster.membership.counters.futureIncarnationsRefused > 0);
});

Fuzz.run();
