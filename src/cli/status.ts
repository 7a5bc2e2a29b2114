/**
 * `distributed-cache status --server :7000`: the member table as that node sees it (address, state,
 * incarnation, keys held, range pulls running and replication — read from each member's own STATS), the ring
 * checksum and epoch, and the replication health: copies per key, and ranges still being restored.
 */
import { parseNodeAddress } from '../client/node-address';
import { NodeConnection } from '../client/connection';
import { Opcode, Status, statusName } from '../protocol/constants';

interface TopologyMember {
  id: string;
  state: string;
  incarnation: number;
}

interface Topology {
  self: string;
  vnodes: number;
  epoch: number;
  checksum: number;
  members: TopologyMember[];
  /** Copies of each key (absent from nodes before replicas existed: 1). */
  replicas?: number;
}

const TIMEOUT_MS = 2000;

export interface MemberStats {
  store?: { items?: number };
  replication?: { underReplicatedRanges?: number; replicaAckP99Ms?: number; replicaFailures?: number };
  cluster?: { movement?: { pullsInProgress?: Array<{ from: string; items: number }>; awaitingConfirmation?: string[] } };
}

/** "from A (1200 items), from B (0 items)" / "giving to C": the data movement a member reports, or "-". */
export function transfersOf(stats: MemberStats): string {
  const movement = stats.cluster?.movement;
  const parts = (movement?.pullsInProgress ?? []).map((pull) => `pulling from ${pull.from} (${pull.items} items)`);
  for (const id of movement?.awaitingConfirmation ?? []) parts.push(`handing over to ${id}`);
  return parts.length === 0 ? '-' : parts.join(', ');
}

/** "restoring 12 ranges" / "ok, ack p99 0.5 ms" / "-": a member's replication as its STATS reports it. */
export function replicationOf(stats: MemberStats, replicas: number): string {
  const replication = stats.replication;
  if (replicas <= 1 || replication === undefined) return '-';
  const restoring = replication.underReplicatedRanges ?? 0;
  if (restoring > 0) return `restoring ${restoring} range${restoring === 1 ? '' : 's'}`;
  return `ok, ack p99 ${replication.replicaAckP99Ms ?? 0} ms`;
}

/** The cluster's replication health line: copies per key, and whether each key has them. */
export function replicationHealth(replicas: number, owners: number, restoring: number, unreachable: number): string {
  if (replicas <= 1) return 'replication: 1 copy of each key (--replicas 1)\n';
  const copies = Math.min(replicas, owners);
  const state =
    unreachable > 0
      ? `unknown for ${unreachable} unreachable member${unreachable === 1 ? '' : 's'}`
      : restoring > 0
        ? `degraded: ${restoring} range${restoring === 1 ? '' : 's'} being restored`
        : copies < replicas
          ? `degraded: ${owners} member${owners === 1 ? '' : 's'} own keys, fewer than ${replicas} copies`
          : 'healthy: every key has its copies';
  return `replication: ${replicas} copies of each key; ${state}\n`;
}

async function query(connection: NodeConnection, opcode: number): Promise<unknown> {
  const response = await connection.requestRaw(opcode, 0, null, null, 0);
  if (response.status !== Status.OK)
    throw new Error(`${connection.address.id} answered ${statusName(response.status)}: ${response.value.toString()}`);
  return JSON.parse(response.value.toString('utf8')) as unknown;
}

function open(address: string, authToken: string | undefined): NodeConnection {
  return new NodeConnection(parseNodeAddress(address, '--server'), {
    timeoutMs: TIMEOUT_MS,
    connectTimeoutMs: TIMEOUT_MS,
    maxPending: 16,
    ...(authToken === undefined ? {} : { authToken }),
  });
}

/**
 * Prints the table; returns the exit code (0, or 1 when the server could not be asked). `authToken`: the
 * cluster's token (--auth-token / DCACHE_AUTH_TOKEN), sent to every member asked.
 */
export async function printStatus(server: string, write: (text: string) => void, authToken?: string): Promise<number> {
  const connection = open(server, authToken);
  try {
    const topology = (await query(connection, Opcode.TOPOLOGY)) as Topology;
    const replicas = topology.replicas ?? 1;
    let restoring = 0;
    let unreachable = 0;
    const rows = await Promise.all(
      topology.members.map(async (member) => {
        let keys = '-';
        let transfers = '-';
        let replication = '-';
        if (member.state === 'alive' || member.state === 'suspect' || member.state === 'leaving') {
          const peer = member.id === topology.self ? connection : open(member.id, authToken);
          try {
            const stats = (await query(peer, Opcode.STATS)) as MemberStats;
            keys = String(stats.store?.items ?? '?');
            transfers = transfersOf(stats);
            replication = replicationOf(stats, replicas);
            restoring += stats.replication?.underReplicatedRanges ?? 0;
          } catch {
            keys = 'unreachable';
            unreachable++;
          } finally {
            if (peer !== connection) await peer.close();
          }
        }
        const id = member.id + (member.id === topology.self ? ' (self)' : '');
        return [id, member.state, String(member.incarnation), keys, transfers, replication];
      }),
    );
    const header = ['ADDRESS', 'STATE', 'INCARNATION', 'KEYS', 'TRANSFERS', 'REPLICATION'];
    const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
    const line = (cells: string[]) =>
      cells
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd();
    write(`${line(header)}\n${rows.map(line).join('\n')}\n`);
    write(
      `ring: epoch ${topology.epoch}, checksum ${topology.checksum.toString(16).padStart(8, '0')}, ${topology.vnodes} vnodes per member\n`,
    );
    const owners = topology.members.filter((member) => member.state === 'alive' || member.state === 'suspect').length;
    write(replicationHealth(replicas, owners, restoring, unreachable));
    return 0;
  } finally {
    await connection.close();
  }
}
