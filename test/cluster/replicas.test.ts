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
import { AckLoad, seedKeys } from '../helpers/ack-load';
import { converged, eventually, FAST_MEMBERSHIP, movementSettled, startCluster } from '../helpers/cluster';
import { closeAllNodes, startTestNode } from '../helpers/node';
import { RespTestClient, text } from '../helpers/resp-client';

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
  await seedKeys(client, checker, key, KEYS);
  const load = new AckLoad({ client, checker, keyOf: key, keys: KEYS, writers: 8, readers: 4, maxMs: 30_000 });
  // MGETs through one survivor, which splits them per owner: a part for the lost member is read from replicas.
  const proxy = new Client({ nodes: [nodes[0]!.address], routing: 'proxy', timeoutMs: 3000 });
  clients.push(proxy);
  let mgets = 0;
  let mgetFailures = 0;
  let stopped = false;
  const deadline = Date.now() + 30_000;
  const mgetter = async (): Promise<void> => {
    for (let n = 0; n < 20_000 && !stopped && Date.now() < deadline; n++) {
      const keys = Array.from({ length: 16 }, () => key(Math.floor(Math.random() * KEYS)));
      const tokens = keys.map((k) => checker.readStart(k));
      try {
        const values = await proxy.mget(keys);
        mgets++;
        keys.forEach((k, i) => {
          const problem = checker.problemSince(k, values[i]!, tokens[i]!);
          if (problem !== null) load.wrong.push(`MGET ${problem}`);
        });
      } catch {
        mgetFailures++;
      }
    }
  };
  const mgetting = mgetter();
  try {
    await eventually(() => load.readCount > 300, 'reads before the loss');
    await victim.kill();
    // Suspect at once (its connections closed), dead after the suspicion timeout: the ring then drops it.
    const dropped = (): boolean => survivors.every((node) => !nodeInternals(node).cluster.ring.has(victim.address));
    await eventually(() => dropped() && converged(survivors) && movementSettled(survivors), 'the survivors to drop it and heal', 20_000);
    const readsAfter = load.readCount;
    const mgetsAfter = mgets;
    await eventually(() => load.readCount > readsAfter + 300 && mgets > mgetsAfter + 20, 'reads after the heal');
  } finally {
    stopped = true;
    await Promise.all([load.stop(), mgetting]);
  }
  assert.equal(load.wrong.slice(0, 5), [], `${load.wrong.length} reads lost or stale`);
  for (let i = 0; i < KEYS; i++) {
    const problem = checker.problemSince(key(i), await client.get(key(i)), checker.readStart(key(i)));
    assert.is(problem, null, problem ?? '');
    assert.equal(copiesOf(survivors, key(i)).count, 2, `${key(i)} has 2 copies again`);
  }
  // The survivors serve the lost member's keys from their copies while it is not declared dead yet.
  const readFailures = load.reads.filter((r) => !r.ok).length;
  assert.is(readFailures + mgetFailures, 0, `${readFailures} of ${load.readCount} reads and ${mgetFailures} of ${mgets} MGETs failed`);
});

Replicas('R = 2: writes and INCRs racing a join and a leave are neither lost nor duplicated, reads never stale', async () => {
  const nodes = await startCluster(3, { replicas: 2 });
  const client = new Client({ nodes: [nodes[0]!.address], timeoutMs: 3000 });
  clients.push(client);
  const checker = new AckChecker();
  const KEYS = 800;
  const key = (i: number): string => `race:${i}`;
  await seedKeys(client, checker, key, KEYS);
  const load = new AckLoad({
    client,
    checker,
    keyOf: key,
    keys: KEYS,
    writers: 6,
    readers: 2,
    incrementers: 2,
    counterKey: 'race:counter',
    maxMs: 40_000,
  });
  try {
    await eventually(() => load.readCount > 300, 'reads before the join');
    const fourth = await startTestNode({ ...FAST_MEMBERSHIP, replicas: 2, join: [nodes[0]!.address] });
    const four = [...nodes, fourth];
    await eventually(() => converged(four) && movementSettled(four), 'the 4th member to join and pull its copies', 30_000);
    const readsAfterJoin = load.readCount;
    await eventually(() => load.readCount > readsAfterJoin + 300, 'reads after the join');
    await fourth.close();
    await eventually(() => converged(nodes) && movementSettled(nodes), 'the 3 to take its copies back', 30_000);
    const readsAfterLeave = load.readCount;
    await eventually(() => load.readCount > readsAfterLeave + 300, 'reads after the leave');
  } finally {
    await load.stop();
  }
  assert.equal(load.wrong.slice(0, 5), [], `${load.wrong.length} reads stale or lost`);
  for (let i = 0; i < KEYS; i++) {
    const problem = checker.problemSince(key(i), await client.get(key(i)), checker.readStart(key(i)));
    assert.is(problem, null, problem ?? '');
    assert.equal(copiesOf(nodes, key(i)).count, 2, `${key(i)}: 2 copies`);
  }
  const counted = Number(await client.get('race:counter'));
  const { incrAcked, incrUnsure } = load;
  assert.ok(incrAcked > 0, 'increments were acknowledged');
  assert.ok(
    counted >= incrAcked && counted <= incrAcked + incrUnsure,
    `INCR counted ${counted}: acknowledged ${incrAcked}, unsure ${incrUnsure}`,
  );
});

Replicas('R = 2 through the RESP port: SET, DEL and INCR reach both holders', async () => {
  const nodes = await startCluster(3, { replicas: 2, respAddr: '127.0.0.1:0' });
  const redis = await RespTestClient.connect(nodes[0]!.respPort!);
  try {
    for (let i = 0; i < 50; i++) assert.is(text(await redis.call('SET', `resp:${i}`, `v${i}`)), 'OK');
    assert.is(await redis.call('DEL', 'resp:0', 'resp:1', 'resp:2'), 3);
    assert.is(await redis.call('INCRBY', 'resp:n', '41'), 41);
    assert.is(await redis.call('INCR', 'resp:n'), 42);
  } finally {
    redis.destroy();
  }
  for (let i = 0; i < 50; i++) assert.is(copiesOf(nodes, `resp:${i}`).count, i < 3 ? 0 : 2, `resp:${i}`);
  const counter = copiesOf(nodes, 'resp:n');
  assert.is(counter.count, 2);
  assert.equal(new Set(counter.values).size, 1);
});

Replicas.run();
