/**
 * The RESP port of a cluster node (ClusterRespBackend): ioredis pointed at ONE node of a 3-node in-process
 * cluster sees the whole cluster as one cache. Keys route to their ring owner (forwarded once), composed
 * commands on remote keys behave as on a local key, DBSIZE/FLUSHALL/INFO speak for the cluster, and a killed
 * owner gives an -ERR, never a hang. Skipped (with a message) when ioredis is not installed.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type RedisClient from 'ioredis';
import { connectIoredis, loadIoredis } from './helpers/ioredis';
import type { CacheNode } from '../src/node/cache-node';
import { nodeInternals } from '../src/node/internals';
import type { NodeOptions } from '../src/server/node-options';
import { eventually, startCluster } from './helpers/cluster';
import { closeAllNodes } from './helpers/node';
import { FakeClock } from './helpers/resp-server';

const Redis = loadIoredis('resp-cluster');

const clients = new Set<RedisClient>();

function connect(node: CacheNode): Promise<RedisClient> {
  return connectIoredis(Redis!, node.respPort!, clients);
}

/** A 3-node cluster with RESP ports, and ioredis connected to the first node. */
async function cluster(options: NodeOptions = {}): Promise<{ nodes: CacheNode[]; redis: RedisClient }> {
  const nodes = await startCluster(3, { respAddr: '127.0.0.1:0', ...options });
  return { nodes, redis: await connect(nodes[0]!) };
}

/** `count` keys (prefix + i) whose ring owner is `owner`. */
function keysOwnedBy(nodes: CacheNode[], owner: CacheNode, prefix: string, count = 1): string[] {
  const ring = nodeInternals(nodes[0]!).cluster.ring;
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) if (ring.lookup(`${prefix}${i}`) === owner.address) keys.push(`${prefix}${i}`);
  return keys;
}

function ownerOf(nodes: CacheNode[], key: string): CacheNode {
  const id = nodeInternals(nodes[0]!).cluster.ring.lookup(key);
  return nodes.find((node) => node.address === id)!;
}

async function rejects(promise: Promise<unknown>, message: string | RegExp): Promise<void> {
  try {
    await promise;
  } catch (error) {
    const text = (error as Error).message;
    if (typeof message === 'string') assert.is(text, message);
    else assert.match(text, message);
    return;
  }
  assert.unreachable(`expected the error ${String(message)}`);
}

const items = (nodes: CacheNode[]): number[] => nodes.map((node) => nodeInternals(node).store.stats().items);

const RC = suite('resp port of a cluster node');

RC.after.each(async () => {
  for (const redis of clients) redis.disconnect();
  clients.clear();
  await closeAllNodes();
});

if (Redis !== undefined) {
  RC('3,000 keys through one node: every GET right, keys spread over all three stores, each on its ring owner only', async () => {
    const { nodes, redis } = await cluster();
    const keys = Array.from({ length: 3000 }, (_, i) => `key:${i}`);
    const sets = redis.pipeline();
    for (const key of keys) sets.set(key, `value of ${key}`);
    const setResults = (await sets.exec())!;
    assert.ok(setResults.every(([error, result]) => error === null && result === 'OK'));
    const gets = redis.pipeline();
    for (const key of keys) gets.get(key);
    const got = (await gets.exec())!;
    got.forEach(([error, value], i) => {
      assert.is(error, null);
      assert.is(value, `value of ${keys[i]}`);
    });
    const perNode = items(nodes);
    assert.is(
      perNode.reduce((a, b) => a + b, 0),
      3000,
      `items per node ${perNode.join(', ')}`,
    );
    assert.ok(
      perNode.every((n) => n > 500),
      `every node holds a share: ${perNode.join(', ')}`,
    );
    for (const key of keys) {
      const owner = ownerOf(nodes, key);
      for (const node of nodes) {
        const stored = nodeInternals(node).store.get(key);
        if (node === owner) assert.is(stored?.toString(), `value of ${key}`);
        else assert.is(stored, undefined, `${key} is not on ${node.address}`);
      }
    }
    // Forwarded once, marked FORWARDED: the owners served them and forwarded nothing further.
    const routing = nodes.map((node) => node.stats()['routing'] as { forwarded: number; servedForPeers: number });
    const remote = keys.filter((key) => ownerOf(nodes, key) !== nodes[0]).length;
    assert.is(routing[1]!.servedForPeers + routing[2]!.servedForPeers, 2 * remote, 'one SET and one GET per remote key');
    assert.is(routing[1]!.forwarded + routing[2]!.forwarded, 0);
    const viaOther = await connect(nodes[2]!);
    assert.is(await viaOther.get('key:1234'), 'value of key:1234', 'another node reads the same cluster');
  });

  RC('MGET and MSET across owners answer in key order', async () => {
    const { nodes, redis } = await cluster();
    const pairs: string[] = [];
    for (let i = 0; i < 300; i++) pairs.push(`m:${i}`, `v${i}`);
    assert.is(await redis.mset(...pairs), 'OK');
    assert.equal(items(nodes).filter((n) => n > 0).length, 3, 'the MSET reached every owner');
    const keys = ['absent', ...Array.from({ length: 300 }, (_, i) => `m:${299 - i}`), 'm:5', 'also-absent'];
    const expected = ['absent', ...Array.from({ length: 300 }, (_, i) => `v${299 - i}`), 'v5', null].map((v) =>
      v === 'absent' ? null : v,
    );
    assert.equal(await redis.mget(...keys), expected);
    const reforwarded = nodes.slice(1).map((node) => (node.stats()['routing'] as { forwarded: number }).forwarded);
    assert.equal(reforwarded, [0, 0], 'the owners served their MGET/MSET parts themselves (FORWARDED)');
    // A binary value and an empty one survive the split.
    const binary = Buffer.from([0, 255, 13, 10, 36]);
    await redis.mset('bin', binary, 'empty', '');
    const both = await redis.mgetBuffer('bin', 'empty', 'm:1');
    assert.ok(both[0]!.equals(binary));
    assert.is(both[1]!.length, 0);
    assert.is(both[2]!.toString(), 'v1');
    await rejects(redis.mset('ok', 'v', '', 'x'), 'ERR empty keys are not supported');
    assert.is(await redis.exists('ok'), 0, 'a bad MSET stores nothing');
  });

  RC('INCR, INCRBY, DECR, DECRBY on keys another node owns, with the non-integer and overflow errors', async () => {
    const { nodes, redis } = await cluster();
    const [n, text, max, min] = keysOwnedBy(nodes, nodes[1]!, 'counter:', 4);
    assert.is(await redis.incr(n!), 1);
    assert.is(await redis.incrby(n!, 9), 10);
    assert.is(await redis.decr(n!), 9);
    assert.is(await redis.decrby(n!, 19), -10);
    assert.is(nodeInternals(nodes[1]!).store.get(n!)?.toString(), '-10', 'stored on the owner');
    assert.is(nodeInternals(nodes[0]!).store.get(n!), undefined);
    await redis.set(text!, 'text');
    await rejects(redis.incr(text!), 'ERR value is not an integer or out of range');
    await redis.set(max!, '9223372036854775807');
    await rejects(redis.incr(max!), 'ERR increment or decrement would overflow');
    await redis.set(min!, '-9223372036854775808');
    await rejects(redis.decr(min!), 'ERR increment or decrement would overflow');
    assert.is(await redis.get(max!), '9223372036854775807', 'nothing changed');
    await redis.incrby(n!, '9223372036854775000'); // ioredis reads the reply as a (rounded) number
    assert.is(await redis.get(n!), '9223372036854774990', 'the owner holds the exact int64');
  });

  RC('key commands on a key another node owns answer exactly as on a key this node owns', async () => {
    const clock = new FakeClock();
    const { nodes, redis } = await cluster({ clock: clock.read });
    const [local] = keysOwnedBy(nodes, nodes[0]!, 'here:');
    const [remote] = keysOwnedBy(nodes, nodes[2]!, 'there:');
    const [other] = keysOwnedBy(nodes, nodes[1]!, 'other:');
    const script = async (k: string): Promise<unknown[]> => {
      const r: unknown[] = [];
      const run = async (p: Promise<unknown>): Promise<void> => {
        r.push(await p.catch((error: Error) => `error: ${error.message}`));
      };
      await run(redis.set(k, 'v1'));
      await run(redis.set(k, 'x', 'NX'));
      await run(redis.set(k, 'v2', 'XX'));
      await run(redis.set(k, 'v3', 'GET'));
      await run(redis.set(k, 'v4', 'PX', 5000));
      await run(redis.pttl(k));
      await run(redis.set(k, 'v5', 'KEEPTTL'));
      await run(redis.pttl(k));
      await run(redis.set(k, 'v6', 'KEEPTTL', 'GET'));
      await run(redis.pttl(k));
      await run(redis.get(k));
      await run(redis.strlen(k));
      await run(redis.expire(k, 100));
      await run(redis.ttl(k));
      await run(redis.expire(k, 50, 'GT'));
      await run(redis.expire(k, 200, 'GT'));
      await run(redis.expire(k, 300, 'LT'));
      await run(redis.expire(k, 10, 'LT'));
      await run(redis.expire(k, 10, 'NX'));
      await run(redis.expire(k, 20, 'XX'));
      await run(redis.pexpire(k, 12_345));
      await run(redis.pttl(k));
      await run(redis.persist(k));
      await run(redis.persist(k));
      await run(redis.ttl(k));
      await run(redis.expire(k, 10, 'XX'));
      await run(redis.expire(k, 10, 'GT'));
      await run(redis.expire(k, 10, 'LT'));
      await run(redis.pttl(k));
      await run(redis.expire(k, 30, 'NX'));
      await run(redis.getex(k, 'PX', 700));
      await run(redis.pttl(k));
      await run(redis.getex(k, 'PERSIST'));
      await run(redis.pttl(k));
      await run(redis.getex(k));
      await run(redis.exists(k, k, `${k}:absent`));
      await run(redis.type(k));
      await run(redis.getdel(k));
      await run(redis.getdel(k));
      await run(redis.exists(k));
      await run(redis.set(k, 'x', 'XX'));
      await run(redis.set(k, 'x', 'KEEPTTL'));
      await run(redis.pttl(k));
      await run(redis.setnx(k, 'y'));
      await run(redis.expire(k, -1));
      await run(redis.exists(k));
      await run(redis.expire(k, 10));
      await run(redis.set(k, 'v', 'PXAT', clock.now - 1));
      await run(redis.exists(k));
      await run(redis.set(k, 'v', 'PXAT', clock.now - 1, 'NX'));
      await run(redis.set(k, 'v'));
      await run(redis.set(k, 'v', 'PXAT', clock.now - 1, 'NX'));
      await run(redis.set(k, 'v', 'PXAT', clock.now - 1, 'XX'));
      await run(redis.set(k, 'v', 'PXAT', clock.now - 1, 'XX'));
      await run(redis.getex(k, 'EX', 10));
      await run(redis.set(k, 'v', 'EX', 1));
      await run(redis.getex(k, 'EXAT', Math.floor(clock.now / 1000) - 10));
      await run(redis.exists(k));
      await run(redis.set(k, 'short', 'PX', 100));
      clock.advance(100);
      await run(redis.get(k));
      await run(redis.ttl(k));
      return r;
    };
    const here = await script(local!);
    const there = await script(remote!);
    assert.equal(there, here);
    // Spot checks of what the script saw (so an equal but wrong pair of answers fails too).
    assert.is(here[0], 'OK');
    assert.is(here[1], null);
    assert.is(here[3], 'v2');
    assert.is(here[7], 5000, 'KEEPTTL kept the TTL');
    assert.is(here[8], 'v5');
    assert.is(here[13], 100);
    assert.equal(here.slice(14, 20), [0, 1, 0, 1, 0, 1]);
    assert.equal(here.slice(22, 25), [1, 0, -1]);
    assert.is(here[35], 2);
    assert.is(here.at(-2), null, 'expired on the owner');
    assert.is(nodeInternals(nodes[0]!).store.stats().items, 0);

    // DEL and EXISTS with keys on all three owners (a repeated key counts once for DEL, each time for EXISTS).
    await redis.mset(local!, '1', remote!, '2', other!, '3');
    assert.is(await redis.exists(local!, remote!, other!, remote!, 'none'), 4);
    assert.is(await redis.del(local!, remote!, remote!, other!, 'none'), 3);
    assert.is(await redis.exists(local!, remote!, other!), 0);

    // A two-round-trip command does not let a later command of the pipeline overtake it.
    await redis.set(remote!, 'old', 'PX', 9000);
    const ordered = (await redis
      .pipeline()
      .set(remote!, 'new', 'KEEPTTL')
      .get(remote!)
      .pexpire(remote!, 20_000, 'GT')
      .pttl(remote!)
      .mget(remote!, local!)
      .exec())!;
    assert.equal(
      ordered.map(([error, value]) => error ?? value),
      ['OK', 'new', 1, 20_000, ['new', null]],
    );
  });

  RC('DBSIZE counts the cluster, INFO reports the cluster, FLUSHALL empties every node', async () => {
    const { nodes, redis } = await cluster();
    const pipeline = redis.pipeline();
    for (let i = 0; i < 600; i++) pipeline.set(`d:${i}`, 'v', 'EX', 1000);
    await pipeline.exec();
    await redis.set('persistent', 'v');
    const perNode = items(nodes);
    assert.ok(
      perNode.every((n) => n > 0),
      `keys on every node: ${perNode.join(', ')}`,
    );
    assert.is(await redis.dbsize(), 601);
    const viaOther = await connect(nodes[1]!);
    assert.is(await viaOther.dbsize(), 601);
    const info = await redis.info();
    assert.match(info, /\r\ndb0:keys=601,expires=600,avg_ttl=0\r\n/);
    assert.match(info, /\r\ncluster_enabled:0\r\n/);
    assert.match(info, /\r\ndcache_keyspace_scope:cluster\r\n/);
    assert.match(info, /\r\ndcache_members:3\r\n/);
    assert.match(info, new RegExp(`\\r\\ndcache_ring_epoch:${nodeInternals(nodes[0]!).cluster.ring.epoch}\\r\\n`));
    assert.match(info, new RegExp(`\\r\\ndcache_ring_checksum:${nodeInternals(nodes[0]!).cluster.ring.checksum}\\r\\n`));
    for (const node of nodes) assert.ok(info.includes(`id=${node.address},state=alive`), `INFO lists ${node.address}`);
    assert.match(await redis.info('keyspace'), /^# Keyspace\r\ndb0:keys=601,/);
    assert.is(await viaOther.flushall(), 'OK');
    assert.equal(items(nodes), [0, 0, 0]);
    assert.is(await redis.dbsize(), 0);
    assert.is(await redis.flushdb(), 'OK');
    assert.not.match(await redis.info('keyspace'), /db0/);
  });

  RC('a pipeline of 1,000 mixed commands across owners answers in order', async () => {
    const { nodes, redis } = await cluster();
    const pipeline = redis.pipeline();
    const expected: unknown[] = [];
    const model = new Map<string, string>();
    for (let i = 0; i < 1000; i++) {
      const key = `p:${i % 37}`;
      switch (i % 8) {
        case 0:
          pipeline.set(key, `s${i}`);
          model.set(key, `s${i}`);
          expected.push('OK');
          break;
        case 1:
          pipeline.get(key);
          expected.push(model.get(key) ?? null);
          break;
        case 2: {
          pipeline.del(key);
          expected.push(model.delete(key) ? 1 : 0);
          break;
        }
        case 3: {
          const counter = `c:${i % 5}`;
          const next = BigInt(model.get(counter) ?? '0') + 1n;
          model.set(counter, next.toString());
          pipeline.incr(counter);
          expected.push(Number(next));
          break;
        }
        case 4:
          pipeline.exists(key, `c:${i % 5}`);
          expected.push((model.has(key) ? 1 : 0) + (model.has(`c:${i % 5}`) ? 1 : 0));
          break;
        case 5: {
          const other = `p:${(i + 11) % 37}`;
          pipeline.mget(key, other);
          expected.push([model.get(key) ?? null, model.get(other) ?? null]);
          break;
        }
        case 6:
          pipeline.set(key, `g${i}`, 'GET');
          expected.push(model.get(key) ?? null);
          model.set(key, `g${i}`);
          break;
        default:
          pipeline.strlen(key);
          expected.push(model.get(key)?.length ?? 0);
      }
    }
    const results = (await pipeline.exec())!;
    assert.is(results.length, 1000);
    const answers = results.map(([error, value]) => (error ? `error: ${error.message}` : value));
    assert.equal(answers, expected);
    const owners = new Set([...model.keys()].map((key) => ownerOf(nodes, key).address));
    assert.is(owners.size, 3, 'the keys span every owner');
  });

  RC('a killed owner: commands on its keys get an -ERR within the forward timeout, never a hang', async () => {
    const { nodes, redis } = await cluster();
    const [a, b, c] = nodes as [CacheNode, CacheNode, CacheNode];
    const ofC = keysOwnedBy(nodes, c, 'dead:', 3);
    const ofB = keysOwnedBy(nodes, b, 'alive:', 1);
    await redis.set(ofB[0]!, 'still here');
    await c.kill();
    const started = Date.now();
    const bound = <T>(p: Promise<T>): Promise<T | 'hang'> =>
      Promise.race([p, new Promise<'hang'>((resolve) => setTimeout(() => resolve('hang'), 5000).unref())]);
    const outcomes = await Promise.all(
      [
        redis.get(ofC[0]!),
        redis.set(ofC[1]!, 'v'),
        redis.incr(ofC[2]!),
        redis.mget(ofB[0]!, ofC[0]!),
        redis.set(ofC[0]!, 'v', 'KEEPTTL'),
        redis.dbsize(),
      ].map((p) =>
        bound(
          p.then(
            (value) => ({ value }),
            (error: Error) => ({ error: error.message }),
          ),
        ),
      ),
    );
    assert.ok(Date.now() - started < 2000, 'answered well before any client timeout (forward timeout 300 ms)');
    for (const outcome of outcomes) {
      assert.ok(outcome !== 'hang', 'every command was answered');
      // Right after the kill C still owns its keys (it is at most suspect): the owner is unreachable.
      assert.ok('error' in outcome, `an error, got ${JSON.stringify(outcome)}`);
      assert.match(outcome.error, /unreachable|did not answer/);
    }
    assert.match(
      (outcomes[0] as { error: string }).error,
      new RegExp(`^ERR the key's owner ${c.address.replace(/\./g, '\\.')} is unreachable`),
    );
    assert.is(await redis.get(ofB[0]!), 'still here', 'keys of live owners are served meanwhile');
    assert.is(await redis.ping(), 'PONG');
    await eventually(() => nodeInternals(a).cluster.ring.size === 2, 'the survivors to drop the killed node from the ring');
    // Its keys now belong to survivors: the cluster answers again.
    assert.is(await redis.set(ofC[0]!, 'again'), 'OK');
    assert.is(await redis.get(ofC[0]!), 'again');
    assert.is(typeof (await redis.dbsize()), 'number');
  });
}

RC.run();
