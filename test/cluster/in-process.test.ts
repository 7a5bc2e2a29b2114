import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Client } from '../../src/client/client';
import { closeAllNodes, startTestNode } from '../helpers/node';
import { converged, eventually, FAST_MEMBERSHIP, startCluster } from '../helpers/cluster';
import { nodeInternals } from '../../src/node/internals';
import { freePort } from '../helpers/free-port';

const Cluster = suite('cluster (in-process)');
const clients: Client[] = [];
Cluster.after.each(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await closeAllNodes();
});

function clientFor(address: string, options: Partial<ConstructorParameters<typeof Client>[0]> = {}): Client {
  const client = new Client({ nodes: [address], ...options });
  clients.push(client);
  return client;
}

Cluster('3 nodes joined through one seed: keys set through A are readable through C, each stored once on its ring owner', async () => {
  const [a, b, c] = await startCluster(3);
  const viaA = clientFor(a!.address, { routing: 'proxy' });
  const viaC = clientFor(c!.address, { routing: 'proxy' });
  const keys = Array.from({ length: 10_000 }, (_, i) => `key:${i}`);
  await Promise.all(keys.map((key) => viaA.set(key, `value of ${key}`)));
  const values = await Promise.all(keys.map((key) => viaC.get(key)));
  values.forEach((value, i) => assert.is(value?.toString(), `value of ${keys[i]}`));
  const nodes = [a!, b!, c!];
  const items = nodes.map((node) => nodeInternals(node).store.stats().items);
  assert.is(
    items.reduce((sum, n) => sum + n, 0),
    10_000,
    `items per node ${items.join(', ')}`,
  );
  const ring = nodeInternals(a!).cluster.ring;
  for (const key of keys.slice(0, 2000)) {
    const owner = nodes.find((node) => node.address === ring.lookup(key))!;
    assert.ok(nodeInternals(owner).store.get(key), `${key} is stored on its owner ${owner.address}`);
  }
  assert.ok(
    items.every((n) => n > 2000),
    'every node holds a share',
  );
});

Cluster('MGET and MSET are split per owner and joined in key order', async () => {
  const nodes = await startCluster(3);
  const a = nodes[0];
  const client = clientFor(a!.address, { routing: 'proxy' });
  const entries: Array<[string, string]> = Array.from({ length: 200 }, (_, i) => [`m:${i}`, `v${i}`]);
  await client.mset(entries, { ttlMs: 60_000 });
  const got = await client.mget([...entries.map(([key]) => key), 'absent']);
  assert.equal(
    got.map((value) => (value === null ? null : value.toString())),
    [...entries.map(([, value]) => value), null],
  );
  // Each key landed on its owner (200 keys are routed with one batch lookup where the addon loaded).
  const misplaced = entries.filter(([key, value]) => {
    const owner = nodes.find((node) => node.address === nodeInternals(a!).cluster.ring.lookup(key))!;
    return nodeInternals(owner).store.get(key)?.toString() !== value;
  });
  assert.equal(misplaced, []);
});

Cluster('an unreachable owner gives a clear error fast, never a hang; survivors mark it dead and agree', async () => {
  const [a, b, c] = await startCluster(3);
  const client = clientFor(a!.address, { routing: 'proxy', timeoutMs: 2000 });
  const keyOwnedByC = Array.from({ length: 1000 }, (_, i) => `k${i}`).find(
    (key) => nodeInternals(a!).cluster.ring.lookup(key) === c!.address,
  )!;
  await c!.kill();
  const started = Date.now();
  const outcome = await client.get(keyOwnedByC).then(
    (value) => ({ value }),
    (error: Error & { code?: string }) => ({ error }),
  );
  assert.ok(Date.now() - started < 2000, 'answered before the client timeout');
  if ('error' in outcome) assert.is(outcome.error.code, 'ERR_UNAVAILABLE');
  else assert.is(outcome.value, null);
  await eventually(
    () =>
      [a!, b!].every(
        (node) =>
          nodeInternals(node).cluster.membership.table.get(c!.address)?.state === 'dead' && nodeInternals(node).cluster.ring.size === 2,
      ),
    'both survivors to mark the killed node dead and drop it from the ring',
  );
  assert.is(nodeInternals(a!).cluster.ring.checksum, nodeInternals(b!).cluster.ring.checksum);
  // Its keys now belong to survivors: writes succeed again.
  assert.ok(await client.set(keyOwnedByC, 'again'));
  assert.is((await client.get(keyOwnedByC))?.toString(), 'again');
});

Cluster('a graceful stop is seen as left at once; a node restarted on the same address rejoins as alive', async () => {
  const [a, b, c] = await startCluster(3);
  const port = c!.port;
  await c!.close();
  assert.is(nodeInternals(a!).cluster.membership.table.get(c!.address)?.state, 'left');
  assert.is(nodeInternals(b!).cluster.membership.table.get(c!.address)?.state, 'left');
  await eventually(() => converged([a!, b!], [a!.address, b!.address]), 'the ring to drop the leaver');
  const again = await startTestNode({ ...FAST_MEMBERSHIP, addr: `127.0.0.1:${port}`, join: [a!.address] });
  await eventually(() => converged([a!, b!, again]), 'the restarted node to be alive everywhere');
});

Cluster('5 nodes converge to one checksum', async () => {
  const nodes = await startCluster(5);
  const checksums = new Set(nodes.map((node) => nodeInternals(node).cluster.ring.checksum));
  assert.is(checksums.size, 1);
  assert.ok(nodes.every((node) => nodeInternals(node).cluster.ring.size === 5));
});

Cluster('members() lists the member table as TOPOLOGY does, and a node exposes no internals', async () => {
  const nodes = await startCluster(3);
  const ids = nodes.map((node) => node.address).sort();
  const client = clientFor(nodes[0]!.address);
  const viaTopology = await client.members();
  for (const node of nodes) {
    const members = node.members();
    assert.equal(
      members.map((m) => m.id),
      ids,
    );
    assert.ok(members.every((m) => m.address === m.id && m.state === 'alive' && Number.isSafeInteger(m.incarnation)));
  }
  assert.equal(Object.keys(nodes[0]!.members()[0]!).sort(), Object.keys(viaTopology[0]!).sort(), 'the fields TOPOLOGY gives');
  assert.equal(Object.keys(nodes[0]!).sort(), ['address', 'close', 'host', 'kill', 'members', 'port', 'respAddress', 'respPort', 'stats']);
  assert.throws(() => nodeInternals({ ...nodes[0]! }), /not a node started by startNode/);
});

Cluster('a node whose seeds are all down keeps retrying, refuses clients meanwhile, and serves once it has joined', async () => {
  // Serving alone, it would acknowledge writes of keys that belong to members it has not met: lost once it joins.
  const seedPort = await freePort();
  const lonely = await startTestNode({ ...FAST_MEMBERSHIP, join: [`127.0.0.1:${seedPort}`] });
  const client = clientFor(lonely.address, { routing: 'proxy', timeoutMs: 2000 });
  const refused = await client.set('x', 'y').then(
    () => 'stored',
    (error: unknown) => String(error),
  );
  assert.match(refused, /joining the cluster/);
  // A smart client sees its partial view marked as such (and routes nothing by it).
  const smart = clientFor(lonely.address, { timeoutMs: 2000 });
  assert.equal(
    (await smart.members()).map((m) => m.id),
    [lonely.address],
  );
  await startTestNode({ ...FAST_MEMBERSHIP, addr: `127.0.0.1:${seedPort}` });
  await eventually(() => !nodeInternals(lonely).cluster.joining, 'the node to join once its seed is up');
  assert.ok(await client.set('x', 'y'));
  assert.is((await client.get('x'))?.toString(), 'y');
});

function forwardedCount(nodes: Array<{ stats(): Record<string, unknown> }>): number {
  return nodes.reduce((sum, node) => sum + (node.stats() as { routing: { forwarded: number } }).routing.forwarded, 0);
}

Cluster('the smart client (default) fetches the topology from one seed and sends each key straight to its owner', async () => {
  const nodes = await startCluster(3);
  const client = clientFor(nodes[0]!.address);
  const members = await client.members();
  assert.equal(
    members.map((m) => m.state),
    ['alive', 'alive', 'alive'],
  );
  assert.equal(members.map((m) => m.id).sort(), nodes.map((node) => node.address).sort());
  const before = forwardedCount(nodes);
  const keys = Array.from({ length: 3000 }, (_, i) => `smart:${i}`);
  await Promise.all(keys.map((key) => client.set(key, key)));
  const values = await Promise.all(keys.map((key) => client.get(key)));
  values.forEach((value, i) => assert.is(value?.toString(), keys[i]));
  assert.is(forwardedCount(nodes), before, 'no request needed forwarding');
  assert.ok(
    nodes.every((node) => nodeInternals(node).store.stats().items > 500),
    'every node got its share directly',
  );
});

Cluster("the smart client follows membership changes: a killed node's keys are routed to survivors after the epoch moves", async () => {
  const [a, b, c] = await startCluster(3);
  const client = clientFor(a!.address, { timeoutMs: 1000 });
  await client.members();
  await c!.kill();
  await eventually(() => [a!, b!].every((node) => nodeInternals(node).cluster.ring.size === 2), 'survivors to drop the killed node');
  // Within a few refreshes every key works again through the smart client.
  const keys = Array.from({ length: 300 }, (_, i) => `after:${i}`);
  let failures = Infinity;
  for (let attempt = 0; attempt < 50 && failures > 0; attempt++) {
    const results = await Promise.allSettled(keys.map((key) => client.set(key, 'v')));
    failures = results.filter((result) => result.status === 'rejected').length;
    if (failures > 0) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.is(failures, 0);
  assert.equal((await client.members()).find((m) => m.id === c!.address)?.state, 'dead');
});

Cluster(
  'a graceful leave under load: requests answered SHUTTING_DOWN are retried on the new owner; no acknowledged request fails',
  async () => {
    const [a, , c] = await startCluster(3);
    const client = clientFor(a!.address, { timeoutMs: 2000 });
    await client.members();
    const keys = Array.from({ length: 200 }, (_, i) => `leave:${i}`);
    let failures = 0;
    let acknowledged = 0;
    let running = true;
    const load = (async () => {
      for (let round = 0; running && round < 2000; round++) {
        const results = await Promise.allSettled(keys.map((key) => client.set(key, `r${round}`)));
        for (const result of results) {
          if (result.status === 'fulfilled') acknowledged++;
          else failures++;
        }
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 100));
    await c!.close();
    await new Promise((resolve) => setTimeout(resolve, 300));
    running = false;
    await load;
    assert.ok(acknowledged > 1000, `acknowledged ${acknowledged}`);
    assert.is(failures, 0);
  },
);

Cluster.run();
