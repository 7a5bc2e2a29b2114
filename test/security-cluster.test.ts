/**
 * Issue 8, inter-node trust: members of a cluster with a token authenticate to each other (AUTH first on every
 * peer connection); the smart client routes with the token; a node without the token, or a forged membership
 * message or forwarded request from an unauthenticated connection, changes nothing and is counted.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ServerStats } from '../src/server/stats';
import { Client } from '../src/client/client';
import { encodeMessage } from '../src/discovery/messages';
import { Flag, Opcode, Status } from '../src/protocol/constants';
import { encodeRequest } from '../src/protocol/encoder';
import type { CacheNode } from '../src/server/node';
import { aliveIds, eventually, FAST_MEMBERSHIP, startCluster } from './helpers/cluster';
import { closeAllNodes, startTestNode } from './helpers/node';
import { RawPeer } from './helpers/raw-socket';

const TOKEN = 'cluster-token-0123456789';
const Trust = suite('security: cluster');
const clients: Client[] = [];
const peers: RawPeer[] = [];

Trust.after.each(async () => {
  for (const peer of peers.splice(0)) peer.destroy();
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await closeAllNodes();
});

const serverStats = (node: CacheNode) => node.stats().server as unknown as ServerStats;

Trust('a 3-node cluster with a token converges, forwards and serves the smart and proxy clients', async () => {
  const nodes = await startCluster(3, { authToken: TOKEN });
  const smart = new Client({ nodes: [nodes[0]!.address], authToken: TOKEN });
  const proxy = new Client({ nodes: [nodes[1]!.address], authToken: TOKEN, routing: 'proxy' });
  clients.push(smart, proxy);
  const keys = Array.from({ length: 60 }, (_, i) => `k${i}`);
  for (const key of keys) await smart.set(key, `v-${key}`);
  // Through one node: two thirds of these are forwarded to their owners over authenticated peer connections.
  const values = await Promise.all(keys.map((key) => proxy.get(key)));
  assert.equal(values.map(String), keys.map((key) => `v-${key}`));
  const routing = nodes[1]!.stats().routing as { forwarded: number; forwardFailures: number };
  assert.ok(routing.forwarded > 0);
  assert.is(routing.forwardFailures, 0);
  for (const node of nodes) {
    assert.is(serverStats(node).unauthenticatedPeerMessages, 0);
    assert.ok(serverStats(node).authSuccesses >= 2, 'peers authenticated');
  }
});

Trust('a node without the token (or with a wrong one) cannot join; its messages are rejected and counted', async () => {
  const nodes = await startCluster(3, { authToken: TOKEN });
  const members = nodes.map((node) => node.address).sort();
  const before = nodes.map((node) => serverStats(node).unauthenticatedPeerMessages);
  const intruder = await startTestNode({ ...FAST_MEMBERSHIP, join: [nodes[0]!.address] });
  const wrong = await startTestNode({ ...FAST_MEMBERSHIP, join: [nodes[1]!.address], authToken: 'not-the-token' });
  await eventually(() => serverStats(nodes[0]!).unauthenticatedPeerMessages > before[0]! + 2, 'the intruder to be refused a few times');
  await eventually(() => serverStats(nodes[1]!).authFailures >= 2, 'the wrong token to be refused a few times');
  for (const node of nodes) assert.equal(aliveIds(node), members);
  assert.not.ok(aliveIds(intruder).includes(nodes[0]!.address));
  assert.not.ok(aliveIds(wrong).includes(nodes[1]!.address));
});

Trust('forged membership messages and forwarded requests on an unauthenticated connection change nothing', async () => {
  const nodes = await startCluster(3, { authToken: TOKEN });
  const target = nodes[0]!;
  const victim = nodes[2]!.address;
  const p = await RawPeer.connect(target.port);
  peers.push(p);
  const forged = encodeMessage({ from: victim, updates: [{ id: victim, state: 'left', incarnation: Number.MAX_SAFE_INTEGER }] });
  const evil = encodeMessage({ from: '127.0.0.1:1', updates: [{ id: '127.0.0.1:1', state: 'alive', incarnation: 1 }] });
  p.write(
    Buffer.concat([
      encodeRequest({ opcode: Opcode.LEAVE, requestId: 1, value: forged }),
      encodeRequest({ opcode: Opcode.JOIN, requestId: 2, value: evil }),
      encodeRequest({ opcode: Opcode.SYNC, requestId: 3, value: forged }),
      encodeRequest({ opcode: Opcode.SET, requestId: 4, flags: Flag.FORWARDED, key: 'k', value: 'forged' }),
      encodeRequest({ opcode: Opcode.GET, requestId: 5, flags: Flag.FORWARDED, key: 'k' }),
    ]),
  );
  const responses = await p.waitForResponses(5);
  assert.equal(responses.map((r) => r.status), Array(5).fill(Status.AUTH_REQUIRED));
  assert.is(serverStats(target).unauthenticatedPeerMessages, 5);
  assert.equal(aliveIds(target), nodes.map((node) => node.address).sort());
  assert.is(target.store.get(Buffer.from('k')), undefined);
});

Trust.run();
