import { suite } from 'uvu';
import { eventually } from './helpers/wait';
import * as assert from 'uvu/assert';
import { supersedes, type MemberUpdate } from '../src/discovery/member';
import { MemberTable } from '../src/discovery/member-table';
import { Membership, type MembershipOptions, type MembershipTransport } from '../src/discovery/membership';
import { decodeMessage, encodeMessage, type MembershipMessage } from '../src/discovery/messages';
import { Opcode } from '../src/protocol/constants';
import { silentLogger } from '../src/logger';

/** Every event-loop turn (or every few ms), as this file has always waited. */
const waitUntil = (check: () => boolean, what: string, timeoutMs = 5000): Promise<number> => eventually(check, what, timeoutMs, 5);

const Rules = suite('member precedence');

const u = (state: MemberUpdate['state'], incarnation: number): MemberUpdate => ({ id: 'a:1', state, incarnation });

Rules('SWIM precedence: alive needs a newer incarnation, suspect/dead win at the same one, left is final', () => {
  assert.ok(supersedes(u('alive', 2), u('alive', 1)));
  assert.not.ok(supersedes(u('alive', 1), u('suspect', 1)));
  assert.ok(supersedes(u('alive', 2), u('suspect', 1)), 'a refute');
  assert.ok(supersedes(u('suspect', 1), u('alive', 1)));
  assert.not.ok(supersedes(u('suspect', 1), u('suspect', 1)));
  assert.ok(supersedes(u('dead', 1), u('suspect', 1)));
  assert.not.ok(supersedes(u('suspect', 1), u('dead', 1)));
  assert.ok(supersedes(u('alive', 2), u('dead', 1)), 'a restart beats an old death');
  assert.ok(supersedes(u('left', 1), u('alive', 1)));
  assert.not.ok(supersedes(u('alive', 1), u('left', 1)));
  assert.not.ok(supersedes(u('dead', 1), u('left', 1)));
});

Rules('a table refutes suspicion of itself by raising its incarnation, and ignores older rumours', () => {
  let now = 1000;
  const table = new MemberTable('me:1', 500, () => now);
  assert.is(table.apply({ id: 'me:1', state: 'suspect', incarnation: 400 }), 'ignored');
  assert.is(table.apply({ id: 'me:1', state: 'suspect', incarnation: 500 }), 'refuted');
  assert.ok(table.self.incarnation > 500);
  assert.is(table.self.state, 'alive');
  now = 5000;
  assert.is(table.apply({ id: 'me:1', state: 'dead', incarnation: table.self.incarnation }), 'refuted');
  assert.is(table.self.incarnation, 5000, 'a refute jumps to the clock when it is ahead');
});

Rules('messages from peers are validated whole', () => {
  const good: MembershipMessage = { from: 'a:1', updates: [{ id: 'b:2', state: 'alive', incarnation: 3 }], target: 'c:3' };
  assert.equal(decodeMessage(encodeMessage(good)), good);
  for (const bad of [
    '',
    'not json',
    '[]',
    '{"from":1,"updates":[]}',
    '{"from":"a:1","updates":[{"id":"b:2","state":"zombie","incarnation":1}]}',
    '{"from":"a:1","updates":[{"id":"b:2","state":"alive","incarnation":-1}]}',
    '{"from":"a:1","updates":[{"id":"nope","state":"alive","incarnation":1}]}',
    '{"from":"a:1","updates":[],"ack":"yes"}',
  ]) {
    assert.is(decodeMessage(Buffer.from(bad)), undefined, bad);
  }
});

Rules.run();

/** An in-memory network: each node's handle() is called directly; a killed or frozen node never answers. */
class FakeNetwork {
  readonly nodes = new Map<string, Membership>();
  readonly down = new Set<string>();
  transportFor(from: string): MembershipTransport {
    return {
      send: async (peerId, opcode, message, timeoutMs) => {
        const node = this.nodes.get(peerId);
        if (!node || this.down.has(peerId) || this.down.has(from)) {
          await new Promise((resolve) => setTimeout(resolve, Math.min(timeoutMs, 5)));
          throw new Error(`${peerId} unreachable`);
        }
        const roundTrip = decodeMessage(encodeMessage(message))!;
        return decodeMessage(encodeMessage(await node.handle(opcode, roundTrip)))!;
      },
    };
  }
}

const FAST: MembershipOptions = {
  probeIntervalMs: 10,
  probeTimeoutMs: 20,
  indirectProbes: 2,
  suspicionTimeoutMs: 60,
  syncIntervalMs: 50,
  forgetAfterMs: 60_000,
};

const Swim = suite('membership (in-memory network)');
const running: Membership[] = [];
Swim.after.each(() => {
  for (const node of running.splice(0)) node.stop();
});

function startMember(network: FakeNetwork, id: string, seeds: string[], incarnation?: number): Membership {
  const node = new Membership(id, FAST, network.transportFor(id), silentLogger, Date.now, incarnation);
  network.nodes.set(id, node);
  running.push(node);
  node.start(seeds);
  return node;
}

const stateOf = (node: Membership, id: string) => node.table.get(id)?.state;

Swim('join through one seed spreads to all; a killed member goes suspect then dead everywhere; a restart rejoins as alive', async () => {
  const network = new FakeNetwork();
  const ids = ['n:1', 'n:2', 'n:3', 'n:4'];
  const nodes = ids.map((id) => startMember(network, id, ['n:1']));
  await waitUntil(() => nodes.every((node) => node.table.ownerIds().length === 4), 'all four to know each other');
  network.down.add('n:3');
  // (n:3 alone sees nobody alive: it only suspects the others; the three survivors declare it dead.)
  const survivors = nodes.filter((node) => node.selfId !== 'n:3');
  await waitUntil(() => survivors.every((node) => stateOf(node, 'n:3') === 'dead'), 'n:3 dead everywhere');
  assert.ok(
    survivors.some((node) => node.counters.suspicions > 0),
    'it was suspected before it was declared dead',
  );
  assert.ok(
    survivors.some((node) => node.counters.confirmations > 0),
    "the survivors confirmed each other's suspicion",
  );
  // Restart on the same id: the new incarnation beats the old death.
  nodes[2]!.stop();
  network.down.delete('n:3');
  const restarted = startMember(network, 'n:3', ['n:1'], Date.now() + 1);
  await waitUntil(() => survivors.every((node) => stateOf(node, 'n:3') === 'alive'), 'n:3 alive again everywhere');
  await waitUntil(() => restarted.table.ownerIds().length === 4, 'the restarted node to know everyone');
});

Swim('a frozen member is suspected and then refutes when it wakes before the suspicion timeout', async () => {
  const network = new FakeNetwork();
  const options = { ...FAST, suspicionTimeoutMs: 2000 };
  const nodes = ['f:1', 'f:2', 'f:3'].map((id) => {
    const node = new Membership(id, options, network.transportFor(id), silentLogger);
    network.nodes.set(id, node);
    running.push(node);
    node.start(['f:1']);
    return node;
  });
  await waitUntil(() => nodes.every((node) => node.table.ownerIds().length === 3), 'all three to know each other');
  const before = nodes[1]!.table.self.incarnation;
  network.down.add('f:2');
  await waitUntil(() => stateOf(nodes[0]!, 'f:2') === 'suspect' || stateOf(nodes[2]!, 'f:2') === 'suspect', 'f:2 suspected');
  network.down.delete('f:2');
  await waitUntil(() => [nodes[0]!, nodes[2]!].every((node) => stateOf(node, 'f:2') === 'alive'), 'f:2 alive again');
  assert.ok(nodes[1]!.table.self.incarnation > before, 'it refuted with a higher incarnation');
  assert.ok(nodes[1]!.counters.refutes > 0);
});

Swim('a graceful leave is seen as left at once and never refuted', async () => {
  const network = new FakeNetwork();
  const nodes = ['l:1', 'l:2', 'l:3'].map((id) => startMember(network, id, ['l:1']));
  await waitUntil(() => nodes.every((node) => node.table.ownerIds().length === 3), 'all three to know each other');
  await nodes[2]!.leave();
  assert.is(stateOf(nodes[0]!, 'l:3'), 'left');
  assert.is(stateOf(nodes[1]!, 'l:3'), 'left');
  assert.equal(nodes[0]!.table.ownerIds().sort(), ['l:1', 'l:2']);
});

Swim('a partition is detected on both sides and views converge to all-alive after it heals', async () => {
  const network = new FakeNetwork();
  const nodes = ['p:1', 'p:2', 'p:3'].map((id) => startMember(network, id, ['p:1']));
  await waitUntil(() => nodes.every((node) => node.table.ownerIds().length === 3), 'all three to know each other');
  // The majority side must never see one of its own as dead: not during the cut, not while healing.
  const falselyDead: string[] = [];
  for (const node of nodes.slice(0, 2)) {
    node.table.onChange((member) => {
      if (member.state === 'dead' && member.id !== 'p:3') falselyDead.push(`${node.selfId} saw ${member.id} dead`);
    });
  }
  network.down.add('p:3'); // p:3 can reach nobody and nobody can reach it
  await waitUntil(
    () => stateOf(nodes[0]!, 'p:3') === 'dead' && stateOf(nodes[2]!, 'p:1') === 'suspect' && stateOf(nodes[2]!, 'p:2') === 'suspect',
    'both sides to see the cut',
  );
  assert.not.ok(nodes[2]!.table.hasQuorum(), 'the cut-off node knows it has no majority');
  assert.is(stateOf(nodes[0]!, 'p:2'), 'alive', 'the majority side keeps its own members');
  network.down.delete('p:3');
  await waitUntil(() => nodes.every((node) => node.table.all().every((member) => member.state === 'alive')), 'all-alive after healing');
  assert.equal(falselyDead, []);
});

Swim('a node cut off from the others declares none of them dead, not even one its table still shows alive', async () => {
  const network = new FakeNetwork();
  // A suspicion timeout shorter than a probe round: the cut-off node's first verdict comes while the member
  // it probes second is still alive in its table (a majority by the table alone).
  const options = { ...FAST, probeIntervalMs: 100, probeTimeoutMs: 20, suspicionTimeoutMs: 15 };
  const nodes = ['c:1', 'c:2', 'c:3'].map((id) => {
    const node = new Membership(id, options, network.transportFor(id), silentLogger);
    network.nodes.set(id, node);
    running.push(node);
    node.start(['c:1']);
    return node;
  });
  await waitUntil(() => nodes.every((node) => node.table.ownerIds().length === 3), 'all three to know each other');
  const cutOff = nodes[2]!;
  const verdicts: string[] = [];
  cutOff.table.onChange((member) => {
    if (member.state === 'dead') verdicts.push(member.id);
  });
  network.down.add('c:3');
  await waitUntil(() => cutOff.counters.verdictsDeferred >= 4 || verdicts.length > 0, 'the cut-off node to defer its verdicts a few times');
  assert.equal(verdicts, [], 'no verdict without hearing from a majority');
  await waitUntil(() => stateOf(nodes[0]!, 'c:3') === 'dead' && stateOf(nodes[1]!, 'c:3') === 'dead', 'the majority to declare c:3 dead');
  network.down.delete('c:3');
  await waitUntil(() => nodes.every((node) => node.table.all().every((member) => member.state === 'alive')), 'all-alive after healing');
});

Swim('suspicion timeout: the maximum without confirmations, the minimum once the expected ones arrived', () => {
  const network = new FakeNetwork();
  const node = new Membership('s:1', FAST, network.transportFor('s:1'), silentLogger);
  assert.is(node.suspicionTimeoutMs(0), FAST.suspicionTimeoutMs, 'alone: nobody could confirm');
  for (const id of ['s:2', 's:3', 's:4', 's:5', 's:6']) node.table.apply({ id, state: 'alive', incarnation: 1 });
  node.table.apply({ id: 's:6', state: 'suspect', incarnation: 1 });
  const timeouts = [0, 1, 2, 3, 4].map((confirmations) => node.suspicionTimeoutMs(confirmations));
  assert.is(timeouts[0], FAST.suspicionTimeoutMs * 4);
  assert.ok(
    timeouts[0]! > timeouts[1]! && timeouts[1]! > timeouts[2]! && timeouts[2]! > timeouts[3]!,
    `shrinks with confirmations: ${timeouts.join(', ')}`,
  );
  assert.is(timeouts[3], FAST.suspicionTimeoutMs, 'three confirmations expected (four alive others, capped at three)');
  assert.is(timeouts[4], FAST.suspicionTimeoutMs);
});

Swim.run();

const Comeback = suite('declared dead');

Comeback("news of its own death is acted on once per death, even after a refute moved past it; a previous life's is not", () => {
  let now = 1000;
  const table = new MemberTable('me:1', 1000, () => now);
  let deaths = 0;
  table.onDeclaredDead(() => deaths++);
  assert.is(table.apply({ id: 'me:1', state: 'dead', incarnation: 999 }), 'ignored', 'a previous life');
  assert.is(deaths, 0);
  now = 2000;
  assert.is(table.apply({ id: 'me:1', state: 'suspect', incarnation: 1000 }), 'refuted');
  assert.is(deaths, 0);
  assert.is(table.apply({ id: 'me:1', state: 'dead', incarnation: 1000 }), 'ignored', 'already refuted past it');
  assert.is(deaths, 1, 'but the death is still news');
  table.apply({ id: 'me:1', state: 'dead', incarnation: 1000 });
  assert.is(deaths, 1, 'once per death');
});

Comeback('a member held dead that speaks again as alive is told of its death, so it empties its store', async () => {
  const network = new FakeNetwork();
  const a = new Membership('a:1', FAST, network.transportFor('a:1'), silentLogger);
  a.table.apply({ id: 'c:1', state: 'alive', incarnation: 5 });
  a.table.apply({ id: 'c:1', state: 'dead', incarnation: 5 });
  // C was frozen: it heard only the suspicion queued before its death, refuted it, and now says so.
  const c = new MemberTable('c:1', 5, () => 1000);
  let deaths = 0;
  c.onDeclaredDead(() => deaths++);
  assert.is(c.apply({ id: 'c:1', state: 'suspect', incarnation: 5 }), 'refuted');
  const reply = await a.handle(Opcode.PROBE, {
    from: 'c:1',
    updates: [{ id: 'c:1', state: c.self.state, incarnation: c.self.incarnation }],
  });
  assert.is(stateOf(a, 'c:1'), 'alive', 'the refute is accepted');
  for (const update of reply.updates) c.apply(update);
  assert.is(deaths, 1, 'the returning member learns it had been declared dead');
  // A member that was never dead is told nothing of the kind.
  const again = await a.handle(Opcode.PROBE, {
    from: 'c:1',
    updates: [{ id: 'c:1', state: c.self.state, incarnation: c.self.incarnation }],
  });
  assert.not.ok(again.updates.some((update) => update.id === 'c:1' && update.state === 'dead'));
});

Comeback('quorum: a strict majority of the non-left members must own keys', () => {
  const table = new MemberTable('q:1', 1);
  table.apply({ id: 'q:2', state: 'alive', incarnation: 1 });
  table.apply({ id: 'q:3', state: 'alive', incarnation: 1 });
  assert.ok(table.hasQuorum());
  table.apply({ id: 'q:3', state: 'dead', incarnation: 1 });
  assert.ok(table.hasQuorum(), '2 of 3');
  table.apply({ id: 'q:2', state: 'dead', incarnation: 1 });
  assert.not.ok(table.hasQuorum(), '1 of 3');
  table.apply({ id: 'q:2', state: 'left', incarnation: 1 });
  assert.not.ok(table.hasQuorum(), '1 of 2');
  table.apply({ id: 'q:3', state: 'left', incarnation: 1 });
  assert.ok(table.hasQuorum(), '1 of 1');
  const cut = new MemberTable('c:1', 1);
  cut.apply({ id: 'c:2', state: 'suspect', incarnation: 1 });
  cut.apply({ id: 'c:3', state: 'suspect', incarnation: 1 });
  assert.not.ok(cut.hasQuorum(), 'suspects do not count: the small side of a cut has no quorum');
});

Comeback.run();
