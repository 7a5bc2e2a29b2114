/** Asks a node for its TOPOLOGY over a short-lived connection (tests and tools). */
import { parseNodeAddress } from '../../src/client/node-address';
import { NodeConnection } from '../../src/client/connection';
import { Opcode, Status } from '../../src/protocol/constants';

export interface TopologyView {
  self: string;
  epoch: number;
  checksum: number;
  members: Array<{ id: string; state: string; incarnation: number }>;
}

export async function topologyOf(address: string, timeoutMs = 1000): Promise<TopologyView | undefined> {
  const connection = new NodeConnection(parseNodeAddress(address), { timeoutMs, connectTimeoutMs: timeoutMs, maxPending: 4 });
  try {
    const response = await connection.requestRaw(Opcode.TOPOLOGY, 0, null, null, 0);
    return response.status === Status.OK ? (JSON.parse(response.value.toString('utf8')) as TopologyView) : undefined;
  } catch {
    return undefined;
  } finally {
    await connection.close();
  }
}

export function stateIn(view: TopologyView | undefined, id: string): string | undefined {
  return view?.members.find((member) => member.id === id)?.state;
}

/**
 * True when every node of `nodes` answers TOPOLOGY, all share one ring, and each sees exactly the members of
 * `alive` alive (and those of `dead` dead).
 */
export async function convergedOn(
  nodes: Array<{ address: string }>,
  alive: Array<{ address: string }>,
  dead: Array<{ address: string }> = [],
): Promise<boolean> {
  const views = await Promise.all(nodes.map((node) => topologyOf(node.address)));
  return views.every(
    (view) =>
      view !== undefined &&
      view.checksum === views[0]!.checksum &&
      alive.every((node) => stateIn(view, node.address) === 'alive') &&
      dead.every((node) => stateIn(view, node.address) === 'dead') &&
      view.members.filter((member) => member.state === 'alive').length === alive.length,
  );
}
