/**
 * REPLICATE is a member's message, and untrusted until then (docs/PROTOCOL.md, "Replicas"): from a client, with
 * or without the client token, it is FORBIDDEN and counted; from a member, a body that does not parse exactly is
 * refused whole (BAD_ARGUMENT), counted, and nothing of it is applied; a well-formed one is applied by version.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { CacheNode } from '../src/node/cache-node';
import { nodeInternals } from '../src/node/internals';
import { Opcode, Status } from '../src/protocol/constants';
import { encodeRequest } from '../src/protocol/encoder';
import type { ServerStats } from '../src/server/server-stats';
import { ReplicaBatch } from '../src/transfer/replica-codec';
import { startCluster } from './helpers/cluster';
import { memberSocket } from './helpers/members';
import { closeAllNodes } from './helpers/node';
import { RawPeer } from './helpers/raw-socket';

const TOKEN = 'client-token-0123456789';
const CLUSTER_TOKEN = 'cluster-token-9876543210';
const Input = suite('REPLICATE input');
const peers: RawPeer[] = [];
Input.after.each(async () => {
  for (const peer of peers.splice(0)) peer.destroy();
  await closeAllNodes();
});

const replication = (node: CacheNode) => (node.stats() as unknown as { replication: Record<string, number> }).replication;
const serverStats = (node: CacheNode) => node.stats().server as unknown as ServerStats;

/** A valid body: one key's copy at a version far above anything the node issued. */
function validBody(key: string, value: string, version: number): Buffer {
  const batch = new ReplicaBatch();
  batch.addCopy(Buffer.from(key), { value: Buffer.from(value), expireAt: 0, version, tag: 7 });
  return batch.encode();
}

Input('a client cannot send REPLICATE, with or without the client token: FORBIDDEN, counted, nothing applied', async () => {
  const nodes = await startCluster(3, { authToken: TOKEN, clusterToken: CLUSTER_TOKEN, replicas: 2 });
  const target = nodes[0]!;
  const version = nodeInternals(target).store.versions.next() + 1_000_000;
  const anonymous = await RawPeer.connect(target.port);
  peers.push(anonymous);
  anonymous.write(encodeRequest({ opcode: Opcode.REPLICATE, requestId: 1, value: validBody('forged', 'x', version) }));
  assert.is((await anonymous.waitForResponses(1))[0]!.status, Status.FORBIDDEN);
  await anonymous.closed;
  const client = await RawPeer.connect(target.port);
  peers.push(client);
  client.write(encodeRequest({ opcode: Opcode.AUTH, requestId: 1, value: TOKEN }));
  client.write(encodeRequest({ opcode: Opcode.REPLICATE, requestId: 2, value: validBody('forged', 'x', version) }));
  assert.equal(
    (await client.waitForResponses(2)).map((r) => r.status),
    [Status.OK, Status.FORBIDDEN],
  );
  await client.closed;
  assert.is(serverStats(target).memberOnlyRefusals, 2);
  assert.is(nodeInternals(target).store.get('forged'), undefined);
});

Input('malformed REPLICATE bodies from a member are refused whole and counted; a valid one is applied', async () => {
  const nodes = await startCluster(3, { replicas: 2 });
  const [target, member] = nodes as [CacheNode, CacheNode];
  const socket = await memberSocket(member, target, peers);
  const version = nodeInternals(target).store.versions.next() + 1_000_000;
  const good = validBody('replicated', 'value', version);
  const withKeyLength = (length: number): Buffer => {
    const body = Buffer.from(good);
    body.writeUInt16BE(length, 6);
    return body;
  };
  const withVersion = (v: number): Buffer => {
    const body = Buffer.from(good);
    body.writeDoubleBE(v, 20);
    return body;
  };
  const malformed: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['unknown format', Buffer.concat([Buffer.from([9]), good.subarray(1)])],
    ['count over the body', Buffer.concat([good.subarray(0, 1), Buffer.from([0, 0, 1, 0]), good.subarray(5)])],
    ['zero items', Buffer.from([1, 0, 0, 0, 0])],
    ['truncated item', good.subarray(0, good.length - 1)],
    ['bytes after the last item', Buffer.concat([good, Buffer.from([0])])],
    ['key length 0', withKeyLength(0)],
    ['key past the end', withKeyLength(60_000)],
    ['version 0', withVersion(0)],
    ['fractional version', withVersion(1.5)],
    ['unknown kind', Buffer.concat([good.subarray(0, 5), Buffer.from([7]), good.subarray(6)])],
  ];
  let id = 2;
  for (const [, body] of malformed) socket.write(encodeRequest({ opcode: Opcode.REPLICATE, requestId: id++, value: body }));
  socket.write(encodeRequest({ opcode: Opcode.REPLICATE, requestId: id++, value: good }));
  const responses = await socket.waitForResponses(1 + malformed.length + 1);
  malformed.forEach(([what], i) => assert.is(responses[1 + i]!.status, Status.BAD_ARGUMENT, what));
  assert.is(responses[responses.length - 1]!.status, Status.OK, 'a well-formed batch');
  assert.is(replication(target).replicaBatchesRefused, malformed.length);
  assert.is(replication(target).replicaItemsApplied, 1);
  assert.is(nodeInternals(target).store.get('replicated')?.toString(), 'value');
  // An older copy of the same key changes nothing: versions decide.
  const answered = responses.length;
  socket.write(encodeRequest({ opcode: Opcode.REPLICATE, requestId: id++, value: validBody('replicated', 'older', version - 1) }));
  assert.is((await socket.waitForResponses(answered + 1))[answered]!.status, Status.OK);
  assert.is(nodeInternals(target).store.get('replicated')?.toString(), 'value');
  assert.is(replication(target).replicaItemsNotNewer, 1);
});

Input.run();
