/**
 * Members and clients are separate principals: membership messages and forwarded requests are served only on a
 * connection that completed the member handshake (a hello proving the cluster key, checked by calling the named
 * member back); a member speaks only for itself; a client, with or without the client token, cannot speak for
 * the cluster. The first two attacks of the security review are reproduced here: a JOIN announcing made-up
 * members (the cluster lost quorum and 64 % of its keys), and a PROBE declaring a node dead at a huge
 * incarnation (the node emptied its store).
 */
import { createHmac } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ServerStats } from '../src/server/server-stats';
import { Client } from '../src/client/client';
import { encodeMessage, type MembershipMessage } from '../src/discovery/messages';
import { Flag, Opcode, Status } from '../src/protocol/constants';
import { encodeRequest } from '../src/protocol/encoder';
import type { CacheNode } from '../src/node/cache-node';
import { nodeInternals } from '../src/node/internals';
import { aliveIds, eventually, FAST_MEMBERSHIP, startCluster } from './helpers/cluster';
import { closeAllNodes, startTestNode } from './helpers/node';
import { RawPeer } from './helpers/raw-socket';
import { memberSocket, runCanary, seedKeys, unreadableKeys } from './helpers/members';

const TOKEN = 'client-token-0123456789';
const CLUSTER_TOKEN = 'cluster-token-9876543210';
const Trust = suite('security: members and clients');
const clients: Client[] = [];
const peers: RawPeer[] = [];

Trust.after.each(async () => {
  for (const peer of peers.splice(0)) peer.destroy();
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await closeAllNodes();
});

const serverStats = (node: CacheNode) => node.stats().server as unknown as ServerStats;
const madeUp = (i: number) => `127.0.0.1:${i}`;

function frame(opcode: number, requestId: number, message: MembershipMessage): Buffer {
  return encodeRequest({ opcode, requestId, value: encodeMessage(message) });
}

async function rawPeer(node: CacheNode): Promise<RawPeer> {
  const peer = await RawPeer.connect(node.port);
  peers.push(peer);
  return peer;
}

Trust('reproduction 1: a JOIN from a client announcing five made-up members is refused; quorum, keys and a canary stay whole', async () => {
  const nodes = await startCluster(3);
  const members = nodes.map((node) => node.address).sort();
  const client = new Client({ nodes: [nodes[1]!.address] });
  clients.push(client);
  const keys = await seedKeys(client, 1000);
  const canary = runCanary(new Client({ nodes: [nodes[2]!.address] }), clients);
  const now = Date.now();
  const join: MembershipMessage = {
    from: madeUp(1),
    updates: [1, 2, 3, 4, 5].map((i) => ({ id: madeUp(i), state: 'alive' as const, incarnation: now })),
  };
  const peer = await rawPeer(nodes[0]!);
  peer.write(frame(Opcode.JOIN, 1, join));
  const [answer] = await peer.waitForResponses(1);
  assert.is(answer!.status, Status.FORBIDDEN);
  await peer.closed;
  assert.is(serverStats(nodes[0]!).memberOnlyRefusals, 1);
  // Long enough for any rumour to have spread: the canary's round trips outlast several probe and sync rounds.
  await canary.runFor(2000);
  for (const node of nodes) {
    assert.equal(aliveIds(node), members, `${node.address} still sees exactly the three members`);
    assert.is(nodeInternals(node).cluster.membership.table.size, 3);
    assert.ok(nodeInternals(node).cluster.hasQuorum);
  }
  assert.equal(await unreadableKeys(client, keys), []);
  const result = await canary.stop();
  assert.ok(result.ok > 0, 'the canary ran');
  assert.is(result.errors, 0, `canary errors: ${result.firstError}`);
});

Trust('a client holding the client token still cannot send member-only frames; the connection is closed', async () => {
  const nodes = await startCluster(3, { authToken: TOKEN, clusterToken: CLUSTER_TOKEN });
  const peer = await rawPeer(nodes[0]!);
  peer.write(encodeRequest({ opcode: Opcode.AUTH, requestId: 1, value: TOKEN }));
  peer.write(frame(Opcode.JOIN, 2, { from: madeUp(1), updates: [{ id: madeUp(1), state: 'alive', incarnation: Date.now() }] }));
  const responses = await peer.waitForResponses(2);
  assert.equal(
    responses.map((r) => r.status),
    [Status.OK, Status.FORBIDDEN],
  );
  await peer.closed;
  // Forwarded requests are member-only too: a client cannot make a node serve a key it does not own.
  const second = await rawPeer(nodes[0]!);
  second.write(encodeRequest({ opcode: Opcode.AUTH, requestId: 1, value: TOKEN }));
  second.write(encodeRequest({ opcode: Opcode.SET, requestId: 2, flags: Flag.FORWARDED, key: 'k', value: 'forged' }));
  assert.equal(
    (await second.waitForResponses(2)).map((r) => r.status),
    [Status.OK, Status.FORBIDDEN],
  );
  await second.closed;
  assert.is(serverStats(nodes[0]!).memberOnlyRefusals, 2);
  assert.is(nodeInternals(nodes[0]!).store.get(Buffer.from('k')), undefined);
  assert.equal(aliveIds(nodes[0]!), nodes.map((node) => node.address).sort());
});

Trust('reproduction 2: a PROBE declaring a node dead at a huge incarnation changes nothing, from a client or from a member', async () => {
  const nodes = await startCluster(3);
  const victim = nodes[0]!;
  const client = new Client({ nodes: [victim.address] });
  clients.push(client);
  const keys = await seedKeys(client, 1000);
  const before = nodeInternals(victim).store.stats().items;
  const lie = { id: victim.address, state: 'dead' as const, incarnation: Date.now() + 2e9 };
  // From a connection that is no member: refused before it is read.
  const outsider = await rawPeer(victim);
  outsider.write(frame(Opcode.PROBE, 1, { from: '127.0.0.1:7999', updates: [lie] }));
  assert.is((await outsider.waitForResponses(1))[0]!.status, Status.FORBIDDEN);
  await outsider.closed;
  // From a real member, speaking for itself: the incarnation is 23 days ahead of the clock, so it is refused.
  const member = nodes[1]!;
  const asMember = await memberSocket(member, victim, peers);
  const self = {
    id: member.address,
    state: 'alive' as const,
    incarnation: nodeInternals(member).cluster.membership.table.self.incarnation,
  };
  asMember.write(frame(Opcode.PROBE, 2, { from: member.address, updates: [self, lie] }));
  assert.is((await asMember.waitForResponses(2))[1]!.status, Status.OK);
  assert.is(nodeInternals(victim).cluster.membership.counters.futureIncarnationsRefused, 1);
  assert.is(nodeInternals(victim).store.stats().items, before, 'nothing was emptied');
  assert.is((nodeInternals(victim).cluster.stats() as { flushesOnComeback: number }).flushesOnComeback, 0);
  assert.equal(await unreadableKeys(client, keys), []);
  assert.is(nodeInternals(victim).cluster.membership.table.self.state, 'alive');
  assert.ok(
    nodeInternals(victim).cluster.membership.table.self.incarnation < Date.now() + 1e9,
    'no refute raised the incarnation to the lie',
  );
});

Trust("a member speaks only for itself: a message in another member's name is FORBIDDEN and its connection closed", async () => {
  const nodes = await startCluster(3, { authToken: TOKEN, clusterToken: CLUSTER_TOKEN });
  const [target, speaker, other] = nodes as [CacheNode, CacheNode, CacheNode];
  const socket = await memberSocket(speaker, target, peers, CLUSTER_TOKEN);
  socket.write(
    frame(Opcode.PROBE, 2, { from: other.address, updates: [{ id: other.address, state: 'left', incarnation: Number.MAX_SAFE_INTEGER }] }),
  );
  const responses = await socket.waitForResponses(2);
  assert.is(responses[1]!.status, Status.FORBIDDEN);
  await socket.closed;
  assert.is((target.stats().routing as { spoofedSenders: number }).spoofedSenders, 1);
  assert.is(nodeInternals(target).cluster.membership.table.get(other.address)!.state, 'alive');
});

Trust('a death verdict from a member this node does not know is hearsay: the store is kept', async () => {
  const nodes = await startCluster(3);
  const victim = nodes[0]!;
  nodeInternals(victim).store.set('kept', 'yes');
  const self = nodeInternals(victim).cluster.membership.table.self;
  // An authenticated stranger (its id proven, but never a member here) says this node is dead.
  const stranger = '127.0.0.1:7999';
  await nodeInternals(victim).cluster.handleMembership(
    Opcode.PROBE,
    { from: stranger, updates: [{ id: victim.address, state: 'dead', incarnation: self.incarnation }] },
    stranger,
  );
  assert.is(nodeInternals(victim).cluster.membership.counters.hearsayIgnored, 1);
  assert.is(String(nodeInternals(victim).store.get('kept')), 'yes');
  assert.is(nodeInternals(victim).cluster.membership.table.self.state, 'alive');
});

Trust('made-up members relayed by a real member are probed, never admitted, and never count toward the majority', async () => {
  const nodes = await startCluster(3);
  const [target, relay] = nodes as [CacheNode, CacheNode];
  const now = Date.now();
  const fakes = [1, 2, 3, 4, 5].map((i) => ({ id: madeUp(i), state: 'alive' as const, incarnation: now }));
  await nodeInternals(target).cluster.handleMembership(Opcode.SYNC, { from: relay.address, updates: fakes }, relay.address);
  await eventually(() => nodeInternals(target).cluster.membership.counters.admissionFailures >= 5, 'the five admission probes to fail');
  assert.is(nodeInternals(target).cluster.membership.table.size, 3);
  assert.is(nodeInternals(target).cluster.membership.table.votingMembers, 3);
  assert.ok(nodeInternals(target).cluster.hasQuorum);
  assert.equal(aliveIds(target), nodes.map((node) => node.address).sort());
});

Trust(
  'member handshakes that do not prove their id are refused: a made-up id, a wrong proof, the client token as the key, a nonce the member never sent',
  async () => {
    const nodes = await startCluster(2, { authToken: TOKEN, clusterToken: CLUSTER_TOKEN });
    const [target, member] = nodes as [CacheNode, CacheNode];
    const hello = (id: string, key: string) => nodeInternals(member).cluster.peers.sentHellos.create(id, target.address, Buffer.from(key));
    const nonce = 'ef'.repeat(16);
    const rightProof = createHmac('sha256', CLUSTER_TOKEN)
      .update(`dcache-member-hello\n${member.address}\n${target.address}\n${nonce}`)
      .digest('hex');
    const attempts = [
      hello(madeUp(1), CLUSTER_TOKEN), // nothing listens at the id
      Buffer.from(JSON.stringify({ id: member.address, to: target.address, nonce: 'ab'.repeat(16), proof: 'cd'.repeat(32) })),
      hello(member.address, TOKEN), // the client token is not the cluster key
      Buffer.from(JSON.stringify({ id: member.address, to: target.address, nonce, proof: rightProof })), // the member's call-back says no
    ];
    for (const [i, value] of attempts.entries()) {
      const peer = await rawPeer(target);
      peer.write(encodeRequest({ opcode: Opcode.MEMBER_HELLO, requestId: 1, value }));
      peer.write(frame(Opcode.SYNC, 2, { from: member.address, updates: [] }));
      const responses = await peer.waitForResponses(1);
      assert.is(responses[0]!.status, Status.FORBIDDEN, `attempt ${i}`);
      await peer.closed;
      assert.is(responses.length, 1, 'nothing behind the refused hello was served');
    }
    assert.is(serverStats(target).memberHandshakeFailures, attempts.length);
    // The forged hellos that named the real member did not lock it out: its own handshake still succeeds at once.
    const real = await memberSocket(member, target, peers, CLUSTER_TOKEN);
    assert.ok(!real.socket.destroyed);
  },
);

Trust('on a node without tokens, a client naming a real member in a hello is refused, and cannot keep that member out', async () => {
  const nodes = await startCluster(2);
  const [target, member] = nodes as [CacheNode, CacheNode];
  for (let i = 0; i < 3; i++) {
    const peer = await rawPeer(target);
    const nonce = String(i).repeat(32);
    peer.write(
      encodeRequest({
        opcode: Opcode.MEMBER_HELLO,
        requestId: 1,
        value: JSON.stringify({ id: member.address, to: target.address, nonce }),
      }),
    );
    const [answer] = await peer.waitForResponses(1);
    assert.is(answer!.status, Status.FORBIDDEN);
    assert.match(answer!.value.toString(), /did not send this hello/);
  }
  const real = await memberSocket(member, target, peers);
  assert.ok(!real.socket.destroyed);
  assert.equal(aliveIds(target), nodes.map((node) => node.address).sort());
});

Trust('a cluster with a client token and a cluster token converges, forwards and serves the smart and proxy clients', async () => {
  const nodes = await startCluster(3, { authToken: TOKEN, clusterToken: CLUSTER_TOKEN });
  const smart = new Client({ nodes: [nodes[0]!.address], authToken: TOKEN });
  const proxy = new Client({ nodes: [nodes[1]!.address], authToken: TOKEN, routing: 'proxy' });
  clients.push(smart, proxy);
  const keys = Array.from({ length: 60 }, (_, i) => `k${i}`);
  for (const key of keys) await smart.set(key, `v-${key}`);
  const values = await Promise.all(keys.map((key) => proxy.get(key)));
  assert.equal(
    values.map(String),
    keys.map((key) => `v-${key}`),
  );
  const routing = nodes[1]!.stats().routing as { forwarded: number; forwardFailures: number };
  assert.ok(routing.forwarded > 0);
  assert.is(routing.forwardFailures, 0);
  for (const node of nodes) {
    assert.is(serverStats(node).memberOnlyRefusals, 0);
    assert.ok(serverStats(node).memberHandshakes >= 1, 'peers completed the member handshake');
  }
});

Trust('a node with the client token but not the cluster token cannot join', async () => {
  const nodes = await startCluster(3, { authToken: TOKEN, clusterToken: CLUSTER_TOKEN });
  const members = nodes.map((node) => node.address).sort();
  const intruder = await startTestNode({ ...FAST_MEMBERSHIP, join: [nodes[0]!.address], authToken: TOKEN });
  await eventually(() => serverStats(nodes[0]!).memberHandshakeFailures >= 2, "the intruder's hellos to be refused a few times");
  for (const node of nodes) assert.equal(aliveIds(node), members);
  assert.not.ok(aliveIds(intruder).includes(nodes[0]!.address));
});

Trust.run();
