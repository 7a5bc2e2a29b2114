/**
 * The replicated systems of the comparison (`bench/compare.ts --systems redis,redis-wait,dcache-3,dcache-3r2`):
 * what a synchronous copy of every write costs, ours against Redis's way of getting one.
 *
 *  - dcache-3r2: the 3-node cluster of dcache-3, every node started with `--replicas 2` (a write is answered once
 *    the owner and the next member have it). Nothing is timed until every node reports `replication.replicas`
 *    2 and no under-replicated range: otherwise the first phases would time the ring's restore pulls as well.
 *  - redis-wait: redis-server and one replica (`--replicaof`), both pinned to the servers' CPU as every other
 *    server is; the load generator follows each SET with `WAIT 1 0` on the primary. Nothing is timed until the
 *    replica reports `master_link_status:up` and the primary lists it online: `WAIT 1 0` without a linked
 *    replica blocks forever.
 *
 * The report side (ratios R=2 ÷ R=1 and ours ÷ redis with WAIT) is in replica-report.ts.
 */
import type { ChildProcess } from 'node:child_process';
import * as os from 'node:os';
import Redis from 'ioredis';
import { freePort, sleep, spawnPinned, waitForPort } from './procs';
import type { SystemId } from './report';

/** Copies of each key the system's nodes are started with (--replicas): 2 for dcache-3r2, else 1 (no flag). */
export function replicasOf(system: SystemId): number {
  return system === 'dcache-3r2' ? 2 : 1;
}

/** The part of a node's STATS `replication` section read here (bench/compare.ts keeps the rest of STATS). */
export interface ReplicationStats {
  replicas?: number;
  replicaWrites?: number;
  replicaFailures?: number;
  writesHeld?: number;
  replicaAckP50Ms?: number;
  replicaAckP99Ms?: number;
  underReplicatedRanges?: number;
}

/** A node runs with `replicas` copies and has no range left to restore (so its copies are all in place). */
export function replicationSettled(stats: ReplicationStats | undefined, replicas: number): boolean {
  return stats?.replicas === replicas && stats.underReplicatedRanges === 0;
}

/**
 * What the replicated cluster's nodes did over the workloads (STATS before the first and after the last, so
 * prepare and warm-up are in): replica writes sent, failures and held writes (both should be 0 on loopback), and
 * each node's acknowledgement p50/p99 (its histogram covers the node's whole life).
 */
export function replicationLine(
  label: string,
  before: Array<ReplicationStats | undefined>,
  after: Array<ReplicationStats | undefined>,
): string {
  const delta = (key: 'replicaWrites' | 'replicaFailures' | 'writesHeld') =>
    after.reduce((n, a, i) => n + (a?.[key] ?? 0) - (before[i]?.[key] ?? 0), 0);
  const acks = after.map((a) => `${a?.replicaAckP50Ms ?? '?'}/${a?.replicaAckP99Ms ?? '?'}`).join(', ');
  return (
    `${label}: ${delta('replicaWrites').toLocaleString('en-US')} replica writes over the workloads (prepare and warm-up included), ` +
    `${delta('replicaFailures')} failed, ${delta('writesHeld')} held; replica ack p50/p99 per node (ms, whole run): ${acks}`
  );
}

/** "host:port" → INFO section as key → value. */
async function info(address: string, section: string): Promise<Map<string, string>> {
  const i = address.lastIndexOf(':');
  // One short-lived connection per question: the conductor asks a few times per run, never while timing.
  const redis = new Redis({ host: address.slice(0, i), port: Number(address.slice(i + 1)), lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await redis.connect();
    const text = await redis.info(section);
    const fields = new Map<string, string>();
    for (const line of text.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1));
    }
    return fields;
  } finally {
    redis.disconnect();
  }
}

/** The replica's link is up and the primary counts it online (bounded: timeoutMs). */
async function waitForReplicaLink(primary: string, replica: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const [p, r] = await Promise.all([info(primary, 'replication').catch(() => null), info(replica, 'replication').catch(() => null)]);
    if (r?.get('master_link_status') === 'up' && p?.get('connected_slaves') === '1' && p.get('slave0')?.includes('state=online')) return;
    await sleep(100);
  }
  throw new Error(`the redis replica ${replica} did not link up with its primary ${primary} within ${timeoutMs} ms`);
}

/**
 * redis-server as primary and one replica of it, on free loopback ports and pinned to `cpu` like every other
 * server. nodes: [primary, replica]; the load generator talks to the primary only (nodes[0]), and the server CPU
 * measured for the system is both processes'. Both are ended by PID with the other servers (procs.ts).
 */
export async function startRedisWithReplica(cpu: number | null): Promise<{ processes: ChildProcess[]; nodes: string[] }> {
  const primaryPort = await freePort();
  const replicaPort = await freePort();
  // The same flags as the plain redis row, and the full sync at start made diskless with no delay (the
  // default waits 5 s for more replicas): it copies an empty data set, so it changes nothing that is timed,
  // and nothing is written to the working directory. --dir is the temporary directory in case it would be.
  const common = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning', '--dir', os.tmpdir()];
  const primary = spawnPinned(
    cpu,
    'redis-server',
    ['--port', String(primaryPort), ...common, '--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  await waitForPort(primary, primaryPort, 'redis-server (primary)');
  const replica = spawnPinned(
    cpu,
    'redis-server',
    ['--port', String(replicaPort), ...common, '--replicaof', '127.0.0.1', String(primaryPort), '--repl-diskless-load', 'on-empty-db'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  await waitForPort(replica, replicaPort, 'redis-server (replica)');
  const nodes = [`127.0.0.1:${primaryPort}`, `127.0.0.1:${replicaPort}`];
  await waitForReplicaLink(nodes[0]!, nodes[1]!);
  return { processes: [primary, replica], nodes };
}

/**
 * After the timed phases: the replica still linked, how far its offset is behind the primary's (WAIT 1 0
 * returned for every SET, so 0 but for the last moments' pings), and both key counts.
 */
export async function redisReplicaLine(label: string, nodes: string[]): Promise<string> {
  const [primary, replica] = nodes;
  if (primary === undefined || replica === undefined) return `${label}: no replica`;
  try {
    const [p, r, pk, rk] = await Promise.all([
      info(primary, 'replication'),
      info(replica, 'replication'),
      info(primary, 'keyspace'),
      info(replica, 'keyspace'),
    ]);
    const keys = (k: Map<string, string>) => k.get('db0')?.match(/keys=(\d+)/)?.[1] ?? '0';
    const behind = Number(p.get('master_repl_offset') ?? NaN) - Number(r.get('slave_repl_offset') ?? NaN);
    return (
      `${label}: replica link ${r.get('master_link_status') ?? '?'}, ${Number.isFinite(behind) ? behind : '?'} bytes behind the primary; ` +
      `keys ${keys(pk)} on the primary, ${keys(rk)} on the replica`
    );
  } catch (error) {
    return `${label}: replica state not read (${(error as Error).message})`;
  }
}
