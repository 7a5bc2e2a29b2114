/**
 * Client and server limits agree (reproduction 5 of the security review): `client.mget()` of 70 keys with 1 MiB
 * values failed with ERR_CONNECTION, because the node's 64 MiB output limit closed a client that was reading
 * normally while the client's own limit allowed 256 such keys per frame. The client now splits an MGET into
 * frames whose worst-case response fits the node's limits (from TOPOLOGY, or the defaults), and the node
 * refuses, rather than builds, a response over its cap.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Client } from '../src/client/client';
import { parseTopology } from '../src/client/topology';
import { Opcode, Status } from '../src/protocol/constants';
import { encodeRequest } from '../src/protocol/encoder';
import { encodeMgetBody } from '../src/protocol/multi';
import type { ServerStats } from '../src/server/server-stats';
import { closeAllNodes, startTestNode } from './helpers/node';
import { RawPeer } from './helpers/raw-socket';

const MiB = 1024 * 1024;
const Limits = suite('client and server limits agree');
const clients: Client[] = [];
const peers: RawPeer[] = [];

Limits.after.each(async () => {
  for (const peer of peers.splice(0)) peer.destroy();
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await closeAllNodes();
});

function valueFor(i: number): Buffer {
  const value = Buffer.alloc(MiB, i % 251);
  value.writeUInt32BE(i, 0);
  return value;
}

async function storeValues(client: Client, count: number): Promise<string[]> {
  const keys = Array.from({ length: count }, (_, i) => `v:${i}`);
  for (let i = 0; i < count; i += 16) await Promise.all(keys.slice(i, i + 16).map((key, j) => client.set(key, valueFor(i + j))));
  return keys;
}

function checkValues(values: Array<Buffer | null>, count: number): void {
  assert.is(values.length, count);
  for (let i = 0; i < count; i++) {
    const value = values[i];
    assert.ok(value !== null && value !== undefined && value.length === MiB, `value ${i} is there`);
    assert.is(value.readUInt32BE(0), i);
    assert.is(value[MiB - 1], i % 251);
  }
}

Limits('reproduction 5: mget of 70 keys of 1 MiB against a node with default limits succeeds, in frames the node can answer', async () => {
  const node = await startTestNode({ maxMemoryBytes: 256 * MiB });
  for (const routing of ['proxy', 'smart'] as const) {
    const client = new Client({ nodes: [node.address], routing });
    clients.push(client);
    const keys = await storeValues(client, 70);
    checkValues(await client.mget(keys), 70);
  }
  const server = node.stats().server as unknown as ServerStats;
  assert.is(server.outputLimitDisconnects, 0);
  assert.is(server.responseTooLarge, 0);
  // What the client was told: the node's own limits ride in TOPOLOGY.
  const peer = await RawPeer.connect(node.port);
  peers.push(peer);
  peer.write(encodeRequest({ opcode: Opcode.TOPOLOGY, requestId: 1 }));
  const [answer] = await peer.waitForResponses(1);
  assert.equal(parseTopology(answer!.value.toString()).limits, { maxKeyBytes: 1024, maxValueBytes: MiB, maxResponseBytes: 63 * MiB });
  // The same 70 keys in one raw frame are refused before anything is built, and the connection stays.
  peer.write(encodeRequest({ opcode: Opcode.MGET, requestId: 2, value: encodeMgetBody(Array.from({ length: 70 }, (_, i) => `v:${i}`)) }));
  peer.write(encodeRequest({ opcode: Opcode.PING, requestId: 3 }));
  const responses = await peer.waitForResponses(3);
  assert.equal(
    responses.slice(1).map((r) => r.status),
    [Status.RESPONSE_TOO_LARGE, Status.OK],
  );
});

Limits('mget of 1,000 keys of 1 MiB each succeeds against a node with default limits (given the memory)', async () => {
  const node = await startTestNode({ maxMemoryBytes: 1200 * MiB });
  const client = new Client({ nodes: [node.address], timeoutMs: 30_000 });
  clients.push(client);
  const keys = await storeValues(client, 1000);
  checkValues(await client.mget(keys), 1000);
  const server = node.stats().server as unknown as ServerStats;
  assert.is(server.outputLimitDisconnects, 0);
  assert.is(server.responseTooLarge, 0);
});

Limits('a node with larger limits says so in TOPOLOGY, and the smart client packs more keys per frame', async () => {
  const node = await startTestNode({ maxValueBytes: 64 * 1024, outputHardLimitBytes: 64 * MiB });
  const client = new Client({ nodes: [node.address] });
  clients.push(client);
  await client.members();
  await client.set('small', 'x');
  const keys = Array.from({ length: 600 }, (_, i) => (i === 599 ? 'small' : `missing:${i}`));
  const before = (node.stats().server as unknown as ServerStats).commandsByOpcode;
  const mgetsBefore = (before as unknown as Record<string, number>).MGET ?? 0;
  const values = await client.mget(keys);
  assert.is(values[599]!.toString(), 'x');
  const after = (node.stats().server as unknown as { commandsByOpcode: Record<string, number> }).commandsByOpcode;
  // 64 KiB values in a 63 MiB response: 256 keys (the per-frame maximum) fit, so 600 keys take 3 frames, not 10.
  assert.is((after.MGET ?? 0) - mgetsBefore, 3);
});

Limits.run();
