/**
 * TOPOLOGY answers as the smart client reads them (docs/PROTOCOL.md, "Topology"): every member state a node
 * reports, including `leaving`, and the `joining` mark of a node whose view is partial.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseTopology, ringOf } from '../src/client/topology';
import { HashRing } from '../src/consistent/ring';

const Topology = suite('client topology parsing');

function answer(extra: Record<string, unknown>, states: string[]): string {
  const ids = states.map((_, i) => `127.0.0.1:${7300 + i}`);
  const owners = new HashRing();
  owners.setNodes(ids.filter((_, i) => states[i] === 'alive' || states[i] === 'suspect'));
  return JSON.stringify({
    self: ids[0],
    vnodes: 160,
    epoch: 4,
    checksum: owners.checksum,
    members: ids.map((id, i) => ({ id, state: states[i], incarnation: 1 })),
    ...extra,
  });
}

Topology('a leaving member is read, and owns no keys in the ring the client routes by', () => {
  const snapshot = parseTopology(answer({}, ['alive', 'leaving', 'alive']));
  assert.equal(
    snapshot.members.map((m) => m.state),
    ['alive', 'leaving', 'alive'],
  );
  const ring = ringOf(snapshot);
  assert.ok(ring !== undefined, 'the ring of alive members matches the checksum');
  assert.equal(ring.nodes, ['127.0.0.1:7300', '127.0.0.1:7302']);
});

Topology('the joining mark is read, and a malformed one refused', () => {
  assert.is(parseTopology(answer({ joining: true }, ['alive'])).joining, true);
  assert.is(parseTopology(answer({}, ['alive'])).joining, undefined);
  assert.throws(() => parseTopology(answer({ joining: 'yes' }, ['alive'])), /bad joining flag/);
  assert.throws(() => parseTopology(answer({}, ['alive', 'departed'])), /bad member state/);
});

Topology.run();
