/**
 * Synchronous replicas in process (docs/ARCHITECTURE.md, "Replicas"): every kind of write reaches each of a
 * key's holders with the owner's version, and a member lost under load (R = 2) loses no acknowledged write,
 * serves no stale read, keeps serving its keys' reads from the replicas, and its copies are restored.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Client } from '../../src/client/client';
import type { CacheNode } from '../../src/node/cache-node';
import { nodeInternals } from '../../src/node/internals';
import { AckChecker } from '../helpers/ack-checker';
import { converged, eventually, movementSettled, startCluster } from '../helpers/cluster';
import { closeAllNodes } from '../helpers/node';

const Replicas = suite('replicas in process');
const clients: Client[] = [];
Replicas.after.each(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await closeAllNodes();
});

/** How many of the nodes hold `key`, and whether they are exactly the key's holders in the first node's ring. */
function copiesOf(nodes: CacheNode[], key: string): { count: number; onHolders: boolean; values: string[] } {
  const bytes = Buffer.from(key);
  const ring = nodeInternals(nodes[0]!).cluster.ring;
  const replicas = nodeInternals(nodes[0]!).cluster.replicas;
  const holders = new Set(ring.lookupN(key, replicas));
  let count = 0;
  let onHolders = true;
  const values: string[] = [];
  for (const node of nodes) {
    const copy = nodeInternals(node).store.copyOf(bytes, 0, bytes.length);
    if (copy === null) {
      if (holders.has(node.address)) onHolders = false;
      continue;
    }
    count++;
    values.push(`${copy.value.toString()}@${copy.version}`);
    if (!holders.has(node.address)) onHolders = false;
  }
  return { count, onHolders, values };
}

Replicas('R = 2: SET, INCR, TOUCH, DELETE and MSET reach both holders with one version', async () => {
  const nodes = await startCluster(3, { replicas: 2 });
  const client = new Client({ nodes: [nodes[0]!.address], timeoutMs: 3000 });
  clients.push(client);
  const keys = Array.from({ length: 200 }, (_, i) => `rep:${i}`);
  for (const key of keys) await client.set(key, `v-${key}`);
  await client.mset(keys.slice(0, 50).map((key) => [key, `m-${key}`] as const));
  await client.incr('rep:counter', 5n);
  await client.incr('rep:counter', 2n);
  await client.touch('rep:1', 60_000);
  for (const key of keys.slice(100, 120)) assert.ok(await client.delete(key));
  for (const key of [...keys, 'rep:counter']) {
    const { count, onHolders, values } = copiesOf(nodes, key);
    const deleted = keys.indexOf(key) >= 100 && keys.indexOf(key) < 120;
    assert.equal(count, deleted ? 0 : 2, `${key}: copies ${JSON.stringify(values)}`);
    assert.ok(deleted || onHolders, `${key} is held by its holders only`);
    assert.equal(new Set(values).size, deleted ? 0 : 1, `${key}: every copy has one value and version ${JSON.stringify(values)}`);
  }
  assert.equal(copiesOf(nodes, 'rep:counter').values[0]!.split('@')[0], '7');
  const replication = (node: CacheNode): Record<string, number> =>
    (node.stats() as unknown as { replication: Record<string, number> }).replication;
  const sent = nodes.reduce((sum, node) => sum + replication(node).replicaWrites!, 0);
  assert.ok(sent >= 200 + 50 + 2 + 1 + 20, `replica writes counted (${sent})`);
});

Replicas('R = 2: a member lost under load loses no acknowledged write, reads keep working, copies heal', async () => {
  const nodes = await startCluster(3, { replicas: 2 });
  const victim = nodes[2]!;
  const survivors = nodes.slice(0, 2);
  const client = new Client({ nodes: [nodes[0]!.address], timeoutMs: 3000 });
  clients.push(client);
  const checker = new AckChecker();
  const KEYS = 600;
  const key = (i: number): string => `heal:${i}`;
  for (let i = 0; i < KEYS; i++) {
    await client.set(key(i), 'initial');
    checker.acknowledged(key(i), 'initial', false);
  }
  let stopped = false;
  let reads = 0;
  let readFailures = 0;
  const deadline = Date.now() + 30_000;
  const worker = async (w: number): Promise<void> => {
    for (let n = 0; n < 20_000 && !stopped && Date.now() < deadline; n++) {
      const written = key(Math.floor(Math.random() * (KEYS / 8)) * 8 + w);
      const value = `w${w}n${n}`;
      try {
        await client.set(written, value);
        checker.acknowledged(written, value, false);
      } catch (error) {
        checker.failed(written, value, error);
      }
      const read = key(Math.floor(Math.random() * (KEYS / 8)) * 8 + w);
      try {
        const got = await client.get(read);
        reads++;
        const problem = checker.problem(read, got);
        if (problem !== null) checker.failures.push({ code: got === null ? 'LOST' : 'STALE', message: problem });
      } catch {
        readFailures++;
      }
    }
  };
  const load = Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
  try {
    await eventually(() => reads > 300, 'reads before the loss');
    await victim.kill();
    // Suspect at once (its connections closed), dead after the suspicion timeout: the ring then drops it.
    const dropped = (): boolean => survivors.every((node) => !nodeInternals(node).cluster.ring.has(victim.address));
    await eventually(() => dropped() && converged(survivors) && movementSettled(survivors), 'the survivors to drop it and heal', 20_000);
    const readsAfter = reads;
    await eventually(() => reads > readsAfter + 300, 'reads after the heal');
  } finally {
    stopped = true;
    await load;
  }
  const lostOrStale = checker.failures.filter((f) => f.code === 'LOST' || f.code === 'STALE');
  assert.equal(lostOrStale.slice(0, 5), [], `${lostOrStale.length} reads lost or stale`);
  for (let i = 0; i < KEYS; i++) {
    const got = await client.get(key(i));
    const problem = checker.problem(key(i), got);
    assert.is(problem, null, problem ?? '');
    assert.equal(copiesOf(survivors, key(i)).count, 2, `${key(i)} has 2 copies again`);
  }
  console.log(`reads ${reads}, failed reads ${readFailures}, write failures ${JSON.stringify(checker.failureCodes())}`);
});

Replicas.run();
