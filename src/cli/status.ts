/**
 * `distributed-cache status --server :7000`: the member table as that node sees it (address, state,
 * incarnation, keys held and range pulls running — read from each member's own STATS), the ring checksum and
 * epoch.
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
}

const TIMEOUT_MS = 2000;

export interface MemberStats {
  store?: { items?: number };
  cluster?: { movement?: { pullsInProgress?: Array<{ from: string; items: number }>; awaitingConfirmation?: string[] } };
}

/** "from A (1200 items), from B (0 items)" / "giving to C": the data movement a member reports, or "-". */
export function transfersOf(stats: MemberStats): string {
  const movement = stats.cluster?.movement;
  const parts = (movement?.pullsInProgress ?? []).map((pull) => `pulling from ${pull.from} (${pull.items} items)`);
  for (const id of movement?.awaitingConfirmation ?? []) parts.push(`handing over to ${id}`);
  return parts.length === 0 ? '-' : parts.join(', ');
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
    const rows = await Promise.all(
      topology.members.map(async (member) => {
        let keys = '-';
        let transfers = '-';
        if (member.state === 'alive' || member.state === 'suspect' || member.state === 'leaving') {
          const peer = member.id === topology.self ? connection : open(member.id, authToken);
          try {
            const stats = (await query(peer, Opcode.STATS)) as MemberStats;
            keys = String(stats.store?.items ?? '?');
            transfers = transfersOf(stats);
          } catch {
            keys = 'unreachable';
          } finally {
            if (peer !== connection) await peer.close();
          }
        }
        return [member.id + (member.id === topology.self ? ' (self)' : ''), member.state, String(member.incarnation), keys, transfers];
      }),
    );
    const header = ['ADDRESS', 'STATE', 'INCARNATION', 'KEYS', 'TRANSFERS'];
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
    return 0;
  } finally {
    await connection.close();
  }
}
