/**
 * Range transfers racing with requests, untrusted transfer traffic, and a receiver too small for what it gains
 * (docs/ARCHITECTURE.md, "Data movement"). A 4th node joins a cluster holding many keys while a client deletes,
 * overwrites and increments keys the new node gains: every delete stays a delete, every write keeps its value,
 * and every INCR counts exactly once, whatever the order of the transfer and the requests.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Client } from '../../src/client/client';
import type { CacheNode } from '../../src/node/cache-node';
import { nodeInternals } from '../../src/node/internals';
import { Opcode, Status } from '../../src/protocol/constants';
import { encodeRequest } from '../../src/protocol/encoder';
import { converged, eventually, FAST_MEMBERSHIP, startCluster, movementSettled } from '../helpers/cluster';
import { closeAllNodes, startTestNode } from '../helpers/node';
import { RawPeer } from '../helpers/raw-socket';

const Races = suite('transfers racing with requests');
const clients: Client[] = [];
const peers: RawPeer[] = [];

Races.after.each(async () => {
  for (const peer of peers.splice(0)) peer.socket.destroy();
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await closeAllNodes();
});

function movementOf(node: CacheNode): Record<string, number> {
  return (nodeInternals(node).cluster.stats() as { movement: Record<string, number> }).movement;
}

/** Fills the cluster with `count` keys through `client`, 500 at a time. */
async function fill(client: Client, count: number): Promise<void> {
  for (let start = 0; start < count; start += 500) {
    await Promise.all(Array.from({ length: Math.min(500, count - start) }, (_, i) => client.set(`k${start + i}`, `old${start + i}`)));
  }
}

Races('a delete, a write and an INCR during the join are neither undone nor counted twice', async () => {
  const nodes = await startCluster(3);
  const client = new Client({ nodes: [nodes[0]!.address], timeoutMs: 5000 });
  clients.push(client);
  const total = 20_000;
  await fill(client, total);
  for (let i = 0; i < 300; i++) await client.set(`n${i}`, '100');
  const fourth = await startTestNode({ ...FAST_MEMBERSHIP, join: [nodes[0]!.address] });
  const all = [...nodes, fourth];
  // Requests while the fourth node joins and pulls: its ranges are pending, read through, and transferred.
  const deleted = new Set<string>();
  const written = new Map<string, string>();
  const increments = new Map<string, number>();
  const touched = new Set<string>();
  const work: Array<Promise<unknown>> = [];
  for (let round = 0; round < 30 && !(converged(all) && movementSettled(all) && round > 3); round++) {
    for (let j = 0; j < 20; j++) {
      const i = round * 20 + j;
      const d = `k${(i * 7) % total}`;
      const w = `k${(i * 13 + 1) % total}`;
      const n = `n${i % 300}`;
      // Each key is either deleted or written, never both (the two run concurrently).
      if (touched.has(d) || touched.has(w) || d === w) continue;
      touched.add(d);
      touched.add(w);
      work.push(client.delete(d).then(() => deleted.add(d)));
      work.push(client.set(w, `new${i}`).then(() => written.set(w, `new${i}`)));
      work.push(client.incr(n).then(() => increments.set(n, (increments.get(n) ?? 0) + 1)));
    }
    await Promise.all(work.splice(0));
    await new Promise((resolve) => setImmediate(resolve));
  }
  await eventually(() => converged(all) && movementSettled(all), 'the join and its pulls to finish');
  const applied = movementOf(fourth).inItemsApplied ?? 0;
  assert.ok(applied > 1000, `the fourth node pulled items (${applied})`);
  for (const key of deleted) assert.is(await client.get(key), null, `${key} was deleted and stays deleted`);
  for (const [key, value] of written) assert.is((await client.get(key))?.toString(), value, `${key} keeps its last write`);
  for (const [key, count] of increments) assert.is(Number(await client.incr(key, 0)), 100 + count, `${key} counted each INCR once`);
  assert.ok(deleted.size > 100 && written.size > 100, 'the races ran');
});

Races('transfer requests from a client that is not a member are refused and close its connection', async () => {
  const [node] = await startCluster(1);
  for (const opcode of [Opcode.PULL, Opcode.FETCH, Opcode.PULL_DONE]) {
    const peer = await RawPeer.connect(node!.port);
    peers.push(peer);
    peer.write(
      encodeRequest({ opcode, requestId: 1, key: Buffer.from('k'), value: Buffer.from('{"checksum":1,"cursor":0,"maxBytes":4096}') }),
    );
    const [answer] = await peer.waitForResponses(1);
    assert.is(answer!.status, Status.FORBIDDEN, `opcode 0x${opcode.toString(16)}`);
    await peer.closed;
  }
});

Races("a member's malformed transfer requests get BAD_ARGUMENT, are counted, and change nothing", async () => {
  const [a, b] = await startCluster(2);
  const peersOfB = nodeInternals(b!).cluster.peers;
  const bodies = [
    'not json',
    '[]',
    '{"checksum":-1,"cursor":0,"maxBytes":4096}',
    '{"checksum":1,"cursor":0.5,"maxBytes":4096}',
    '{"checksum":1,"cursor":0,"maxBytes":1e12}',
  ];
  for (const body of bodies) {
    const answer = await peersOfB.transfer(a!.address, Opcode.PULL, null, Buffer.from(body));
    assert.is(answer.status, Status.BAD_ARGUMENT, body);
  }
  const done = await peersOfB.transfer(a!.address, Opcode.PULL_DONE, null, Buffer.from('{"checksum":"x"}'));
  assert.is(done.status, Status.BAD_ARGUMENT);
  assert.is(movementOf(a!).outMalformedRequests, bodies.length + 1);
  // A well-formed pull with another ring's checksum is told to retry, not served.
  const stale = await peersOfB.transfer(a!.address, Opcode.PULL, null, Buffer.from('{"checksum":12345,"cursor":0,"maxBytes":4096}'));
  assert.is(stale.status, Status.UNAVAILABLE);
  assert.match(stale.value.toString(), /ring differs/);
});

Races('a receiver whose memory is smaller than what it gains evicts and keeps serving', async () => {
  const nodes = await startCluster(2);
  const client = new Client({ nodes: [nodes[0]!.address], timeoutMs: 5000 });
  clients.push(client);
  const value = 'v'.repeat(1000);
  for (let start = 0; start < 12_000; start += 500) {
    await Promise.all(Array.from({ length: 500 }, (_, i) => client.set(`big${start + i}`, value)));
  }
  const small = await startTestNode({ ...FAST_MEMBERSHIP, maxMemoryBytes: 4 * 1024 * 1024, join: [nodes[0]!.address] });
  const all = [...nodes, small];
  await eventually(() => converged(all) && movementSettled(all), 'the small node to join and pull');
  const stats = nodeInternals(small).store.stats();
  assert.ok(stats.evicted > 0, `it evicted (${stats.evicted})`);
  assert.ok(stats.bytesUsed <= stats.maxMemoryBytes);
  // Still serving: writes and reads of its own keys work.
  const own = Array.from({ length: 2000 }, (_, i) => `after${i}`)
    .filter((key) => nodeInternals(small).cluster.ring.lookup(key) === small.address)
    .slice(0, 50);
  for (const key of own) await client.set(key, 'fresh');
  for (const key of own) assert.is((await client.get(key))?.toString(), 'fresh');
});

Races.run();
