/**
 * Data survives membership changes (docs/ARCHITECTURE.md, "Data movement"), checked against a record of every
 * acknowledged write: a graceful leave hands its ranges over before the node goes, a joining node pulls the
 * ranges it gains (and holds them), and a node that crashed and comes back on the same address pulls the writes
 * the survivors acknowledged while it was away instead of owning its ranges empty.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Client } from '../../src/client/client';
import { nodeInternals } from '../../src/node/internals';
import { converged, eventually, FAST_MEMBERSHIP, startCluster, movementSettled } from '../helpers/cluster';
import { closeAllNodes, startTestNode } from '../helpers/node';

const Movement = suite('warm joins, leaves and rejoins');
const clients: Client[] = [];

Movement.after.each(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await closeAllNodes();
});

/** Writes `count` keys through a smart client and returns the acknowledged value of each. */
async function writeAll(client: Client, prefix: string, count: number, round: string): Promise<Map<string, string>> {
  const acknowledged = new Map<string, string>();
  const keys = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
  for (let start = 0; start < keys.length; start += 200) {
    await Promise.all(
      keys.slice(start, start + 200).map(async (key) => {
        await client.set(key, `${round}:${key}`);
        acknowledged.set(key, `${round}:${key}`);
      }),
    );
  }
  return acknowledged;
}

/** Every acknowledged key read back: the count of misses and of stale (other) values. */
async function check(client: Client, acknowledged: Map<string, string>): Promise<{ missing: number; stale: number }> {
  let missing = 0;
  let stale = 0;
  const entries = [...acknowledged];
  for (let start = 0; start < entries.length; start += 200) {
    const values = await Promise.all(entries.slice(start, start + 200).map(([key]) => client.get(key)));
    values.forEach((value, i) => {
      if (value === null) missing++;
      else if (value.toString() !== entries[start + i]![1]) stale++;
    });
  }
  return { missing, stale };
}

Movement('a graceful leave hands every key over: all readable afterwards, none stale', async () => {
  const nodes = await startCluster(3);
  const client = new Client({ nodes: [nodes[0]!.address], timeoutMs: 3000 });
  clients.push(client);
  const acknowledged = await writeAll(client, 'leave:', 3000, 'r1');
  const leaving = nodes[2]!;
  const held = nodeInternals(leaving).store.stats().items;
  assert.ok(held > 500, `the leaving node held a share of the keys (${held})`);
  await leaving.close();
  const survivors = nodes.slice(0, 2);
  await eventually(() => converged(survivors) && movementSettled(survivors), 'the survivors to take over');
  const result = await check(client, acknowledged);
  assert.equal(result, { missing: 0, stale: 0 });
  const pulled = survivors.map(
    (node) => (nodeInternals(node).cluster.stats() as { movement: { inItemsApplied: number } }).movement.inItemsApplied,
  );
  assert.ok(pulled[0]! + pulled[1]! >= held, `the survivors pulled what it held (${pulled.join(' + ')} of ${held})`);
});

Movement('a joining node pulls the ranges it gains: it holds them, and every key stays readable', async () => {
  const nodes = await startCluster(3);
  const client = new Client({ nodes: [nodes[0]!.address], timeoutMs: 3000 });
  clients.push(client);
  const acknowledged = await writeAll(client, 'join:', 3000, 'r1');
  const fourth = await startTestNode({ ...FAST_MEMBERSHIP, join: [nodes[0]!.address] });
  const all = [...nodes, fourth];
  await eventually(() => converged(all) && movementSettled(all), 'the fourth node to join and pull');
  const owned = [...acknowledged.keys()].filter((key) => nodeInternals(fourth).cluster.ring.lookup(key) === fourth.address).length;
  assert.ok(owned > 300, `the fourth node owns a share (${owned})`);
  const stats = JSON.stringify((nodeInternals(fourth).cluster.stats() as { movement: unknown }).movement);
  assert.ok(
    nodeInternals(fourth).store.stats().items >= owned,
    `it holds every key it owns (${nodeInternals(fourth).store.stats().items} of ${owned}): ${stats}`,
  );
  assert.equal(await check(client, acknowledged), { missing: 0, stale: 0 });
  // The previous owners drop their copies once the new owner confirmed.
  await eventually(
    () => nodes.reduce((sum, node) => sum + nodeInternals(node).store.stats().items, 0) === 3000 - owned,
    'the old copies to go',
  );
  // And no member keeps waiting for a confirmation that will not come (the new member, for one, believes from
  // its first partial ring that it gave ranges to members that never pull from it): all are told at once,
  // well before the 60 s hold runs out.
  const awaiting = (): string[][] =>
    all.map(
      (node) => (nodeInternals(node).cluster.stats() as { movement: { awaitingConfirmation: string[] } }).movement.awaitingConfirmation,
    );
  await eventually(() => awaiting().every((ids) => ids.length === 0), `no confirmation awaited (${JSON.stringify(awaiting())})`, 10_000);
});

Movement('a crashed node that comes back on its address pulls the writes acknowledged while it was away', async () => {
  const nodes = await startCluster(3);
  const client = new Client({ nodes: [nodes[0]!.address], timeoutMs: 3000 });
  clients.push(client);
  await writeAll(client, 'crash:', 1500, 'before');
  const victim = nodes[2]!;
  const port = victim.port;
  await victim.kill();
  const survivors = nodes.slice(0, 2);
  await eventually(() => survivors.every((node) => nodeInternals(node).cluster.ring.size === 2), 'the survivors to drop it from the ring');
  // Written while it is away (through a client that knows it is gone): its ranges belong to the survivors now.
  const after = new Client({ nodes: [nodes[0]!.address], timeoutMs: 3000 });
  clients.push(after);
  const acknowledged = await writeAll(after, 'crash:', 1500, 'away');
  const back = await startTestNode({ ...FAST_MEMBERSHIP, addr: `127.0.0.1:${port}`, join: [nodes[0]!.address] });
  const all = [...survivors, back];
  await eventually(() => converged(all) && movementSettled(all), 'the node to rejoin and pull');
  assert.equal(await check(after, acknowledged), { missing: 0, stale: 0 });
  const owned = [...acknowledged.keys()].filter((key) => nodeInternals(back).cluster.ring.lookup(key) === back.address).length;
  assert.ok(nodeInternals(back).store.stats().items >= owned, `it holds the ${owned} keys it owns again`);
});

Movement.run();
