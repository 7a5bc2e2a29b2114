/**
 * The one key router behind both ports, across 3 in-process nodes: RESP MGET/MSET/DEL/EXISTS over many keys
 * land every key on its owner (routed with the native batch lookup from 32 keys), both ports see each other's
 * writes, remote MGET parts are cut by the chunking rule the client uses, and a checker records acknowledged
 * writes and reads through every node and both ports and fails on a lost write or a stale read.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type RedisClient from 'ioredis';
import { Client } from '../../src/client/client';
import { mgetKeysPerFrame } from '../../src/client/multi-plan';
import { DEFAULT_MAX_RESPONSE_BYTES } from '../../src/client/connection';
import { MULTI_SLACK_BYTES } from '../../src/protocol/constants';
import { multiPartEnds } from '../../src/protocol/multi';
import type { CacheNode } from '../../src/node/cache-node';
import { nodeInternals } from '../../src/node/internals';
import { connectIoredis, loadIoredis } from '../helpers/ioredis';
import { startCluster } from '../helpers/cluster';
import { closeAllNodes } from '../helpers/node';

const Redis = loadIoredis('key-router');
const KR = suite('key router (3 in-process nodes, both ports)');
const redises: RedisClient[] = [];
const clients: Client[] = [];

KR.after.each(async () => {
  for (const redis of redises.splice(0)) redis.disconnect();
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await closeAllNodes();
});

function redisOn(node: CacheNode): Promise<RedisClient> {
  return connectIoredis(Redis!, node.respPort!, redises);
}

function clientOn(node: CacheNode): Client {
  const client = new Client({ nodes: [node.address], routing: 'proxy' });
  clients.push(client);
  return client;
}

/** Keys whose stored copy is not on their ring owner, or is also on another node. */
function misplaced(nodes: CacheNode[], keys: string[], expected: (key: string) => string | null): string[] {
  const ring = nodeInternals(nodes[0]!).cluster.ring;
  return keys.filter((key) =>
    nodes.some((node) => {
      const here = nodeInternals(node).store.get(key)?.toString() ?? null;
      return node.address === ring.lookup(key) ? here !== expected(key) : here !== null;
    }),
  );
}

if (Redis !== undefined) {
  KR('RESP MSET, MGET, EXISTS and DEL of 400 keys through one node: every key on its owner only, answers in key order', async () => {
    const nodes = await startCluster(3, { respAddr: '127.0.0.1:0' });
    const [viaA, viaB] = [await redisOn(nodes[0]!), await redisOn(nodes[1]!)];
    const keys = Array.from({ length: 400 }, (_, i) => `many:${i}`);
    const model = new Map(keys.map((key, i) => [key, `v${i}`]));
    assert.is(await viaA.mset(...keys.flatMap((key) => [key, model.get(key)!])), 'OK');
    assert.equal(
      misplaced(nodes, keys, (key) => model.get(key) ?? null),
      [],
    );
    assert.equal(await viaB.mget(...keys), [...model.values()]);
    const doomed = keys.filter((_, i) => i % 3 === 0);
    assert.is(await viaB.exists(...doomed, 'absent'), doomed.length);
    assert.is(await viaA.del(...doomed, doomed[0]!, 'absent'), doomed.length, 'a repeated key counts once');
    for (const key of doomed) model.delete(key);
    assert.equal(
      misplaced(nodes, keys, (key) => model.get(key) ?? null),
      [],
    );
    assert.equal(
      await viaB.mget(...keys),
      keys.map((key) => model.get(key) ?? null),
    );
    assert.is(await viaA.exists(...keys), model.size);
    // Every request sent to an owner went marked FORWARDED and was served where it landed, never sent on.
    const routing = nodes.map((node) => node.stats()['routing'] as { forwarded: number; servedForPeers: number });
    const forwarded = routing.reduce((n, r) => n + r.forwarded, 0);
    assert.ok(forwarded > 0);
    assert.is(
      routing.reduce((n, r) => n + r.servedForPeers, 0),
      forwarded,
    );
    // The binary port reads what the RESP port wrote, through yet another node.
    const binary = clientOn(nodes[2]!);
    const got = await binary.mget(keys);
    assert.equal(
      got.map((value) => value?.toString() ?? null),
      keys.map((key) => model.get(key) ?? null),
    );
  });

  KR('remote MGET parts are cut by the chunking rule the client uses (keys per part bounded by the value limit)', async () => {
    const maxValueBytes = 8 * 1024 * 1024;
    const nodes = await startCluster(3, { respAddr: '127.0.0.1:0', maxValueBytes });
    const redis = await redisOn(nodes[0]!);
    const keys = Array.from({ length: 120 }, (_, i) => `parts:${i}`);
    await redis.mset(...keys.flatMap((key) => [key, key]));
    const routing = (): { forwarded: number } => nodes[0]!.stats()['routing'] as { forwarded: number };
    const before = routing().forwarded;
    assert.equal(await redis.mget(...keys), keys);
    const peerLimit = DEFAULT_MAX_RESPONSE_BYTES - 64 * 1024;
    const keysPerPart = mgetKeysPerFrame({ maxValueBytes, maxResponseBytes: peerLimit }, peerLimit);
    assert.ok(keysPerPart < 40, `a small part size (${keysPerPart}) so that owners get several parts`);
    const ring = nodeInternals(nodes[0]!).cluster.ring;
    let parts = 0;
    for (const node of nodes.slice(1)) {
      const owned = keys.filter((key) => ring.lookup(key) === node.address);
      parts += multiPartEnds(
        owned.map((key) => 2 + key.length),
        MULTI_SLACK_BYTES,
        keysPerPart,
      ).length;
    }
    assert.is(routing().forwarded - before, parts);
  });

  KR('checker: concurrent writes through both ports and every node, no lost write and no stale read', async () => {
    const nodes = await startCluster(3, { respAddr: '127.0.0.1:0' });
    const redis = await Promise.all(nodes.map((node) => redisOn(node)));
    const binary = nodes.map((node) => clientOn(node));
    const keyCount = 48;
    const key = (i: number): string => `checked:${i}`;
    // acked[i]: the highest version of key i acknowledged so far; sent[i]: the highest one sent.
    const acked = new Array<number>(keyCount).fill(0);
    let version = 0;
    const problems: string[] = [];
    const versionOf = (value: string | Buffer | null): number => (value === null ? 0 : Number(value.toString().slice(1)));
    const check = (i: number, floor: number, value: string | Buffer | null, how: string): void => {
      if (value === null && floor > 0) problems.push(`${how}: ${key(i)} missing after v${floor} was acknowledged (lost write)`);
      else if (versionOf(value) < floor) problems.push(`${how}: ${key(i)} read ${String(value)} after v${floor} was acknowledged (stale)`);
    };
    const write = async (round: number, i: number): Promise<void> => {
      const v = ++version;
      const via = (round + i) % 3;
      if ((round + i) % 2 === 0) await redis[via]!.set(key(i), `v${v}`);
      else await binary[via]!.set(key(i), `v${v}`);
      acked[i] = Math.max(acked[i]!, v);
    };
    const writeMany = async (round: number): Promise<void> => {
      const indexes = Array.from({ length: keyCount }, (_, i) => i).filter((i) => i % 4 === round % 4);
      const v = ++version;
      await redis[round % 3]!.mset(...indexes.flatMap((i) => [key(i), `v${v}`]));
      for (const i of indexes) acked[i] = Math.max(acked[i]!, v);
    };
    const readAll = async (round: number): Promise<void> => {
      const floors = [...acked];
      const all = Array.from({ length: keyCount }, (_, i) => key(i));
      if (round % 2 === 0) {
        const values = await redis[(round + 1) % 3]!.mget(...all);
        values.forEach((value, i) => check(i, floors[i]!, value, 'RESP MGET'));
      } else {
        const values = await binary[(round + 2) % 3]!.mget(all);
        values.forEach((value, i) => check(i, floors[i]!, value, 'binary MGET'));
      }
    };
    const readOne = async (round: number, i: number): Promise<void> => {
      const floor = acked[i]!;
      const value = (round + i) % 2 === 0 ? await redis[i % 3]!.get(key(i)) : await binary[i % 3]!.get(key(i));
      check(i, floor, value, 'GET');
    };
    for (let round = 0; round < 12; round++) {
      await Promise.all([
        // Each key has one writer at a time (the MSET's keys are left out of the single writes of its round).
        ...Array.from({ length: keyCount }, (_, i) => i)
          .filter((i) => i % 4 !== round % 4)
          .map((i) => write(round, i).then(() => readOne(round, i))),
        writeMany(round).then(() => readAll(round)),
        readAll(round + 1),
      ]);
    }
    await readAll(0);
    await readAll(1);
    assert.equal(problems.slice(0, 5), [], `${problems.length} problems`);
    assert.equal(
      misplaced(
        nodes,
        Array.from({ length: keyCount }, (_, i) => key(i)),
        (k) => `v${acked[Number(k.slice('checked:'.length))]}`,
      ),
      [],
      'after the load every key holds its last acknowledged version, on its owner only',
    );
  });
}

KR.run();
