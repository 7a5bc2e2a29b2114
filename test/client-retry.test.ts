/**
 * The smart client's retry rules (docs/ARCHITECTURE.md, "Decisions", "Client retries") against fake members that
 * speak TOPOLOGY: a request that never left, or that a draining node refused, goes again whatever it is; one
 * written to a connection that then closed goes again only when running it twice is harmless (not INCR, not
 * SET NX: those fail with OutcomeUnknownError); a member leaving the topology keeps its requests in flight.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Client } from '../src/client/client';
import { repeatable } from '../src/client/request-fate';
import { HashRing } from '../src/consistent/ring';
import { OutcomeUnknownError } from '../src/errors';
import { Opcode, SetMode, Status, setModeFlags } from '../src/protocol/constants';
import { closeAllFakeServers, type FakeReply, type FakeRequest, FakeServer } from './helpers/fake-server';
import { eventually } from './helpers/wait';
import { freePort } from './helpers/free-port';

const VNODES = 160;
type State = 'alive' | 'left';

/** Two fake members A and B; both answer TOPOLOGY from `members`, which a test changes as members "leave". */
interface FakeCluster {
  a: FakeServer;
  b: FakeServer;
  members: Array<[string, State]>;
  /** Requests of this opcode each server received. */
  count(server: FakeServer, opcode: number): number;
}

let clients: Client[] = [];

function track(client: Client): Client {
  clients.push(client);
  return client;
}

function topologyReply(members: Array<[string, State]>, self: string): FakeReply {
  const ring = new HashRing({ vnodes: VNODES });
  ring.setNodes(members.filter(([, state]) => state === 'alive').map(([id]) => id));
  const body = {
    self,
    vnodes: VNODES,
    epoch: 1,
    checksum: ring.checksum,
    members: members.map(([id, state]) => ({ id, address: id, state, incarnation: 1 })),
  };
  return { status: Status.OK, value: JSON.stringify(body) };
}

/** A and B (B's address may be replaced by one nobody listens on); `a` and `b` add behaviour before the store's. */
async function fakeCluster(
  a: (request: FakeRequest, cluster: FakeCluster) => FakeReply | undefined = () => undefined,
  b: (request: FakeRequest, cluster: FakeCluster) => FakeReply | undefined = () => undefined,
): Promise<FakeCluster> {
  const cluster = { members: [] as Array<[string, State]> } as unknown as FakeCluster;
  const serve = (own: typeof a, self: () => string) => (request: FakeRequest) =>
    request.opcode === Opcode.TOPOLOGY ? topologyReply(cluster.members, self()) : own(request, cluster);
  cluster.a = await FakeServer.start({ record: true, epoch: 1, handler: serve(a, () => cluster.a.address) });
  cluster.b = await FakeServer.start({ record: true, epoch: 1, handler: serve(b, () => cluster.b.address) });
  cluster.members = [
    [cluster.a.address, 'alive'],
    [cluster.b.address, 'alive'],
  ];
  cluster.count = (server, opcode) => server.requests.filter((r) => r.opcode === opcode).length;
  return cluster;
}

/** A smart client seeded with A that has fetched the topology. */
async function smartClient(cluster: FakeCluster): Promise<Client> {
  const client = track(new Client({ nodes: [cluster.a.address], timeoutMs: 2000 }));
  await client.members();
  return client;
}

/** A key the ring of these members gives to `owner`. */
function keyOwnedBy(members: string[], owner: string): string {
  const ring = new HashRing({ vnodes: VNODES });
  ring.setNodes(members);
  for (let i = 0; ; i++) if (ring.lookup(`k${i}`) === owner) return `k${i}`;
}

function failure(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  return promise.then(
    (value) => {
      throw new Error(`expected a failure, got ${String(value)}`);
    },
    (error: unknown) => error as Error & { code?: string },
  );
}

const Retry = suite('client retries');
Retry.after.each(async () => {
  await Promise.all(clients.map((client) => client.close()));
  clients = [];
  await closeAllFakeServers();
});

Retry('the rule: reads, SET, SET XX, DELETE, TOUCH, MGET, MSET may run twice; INCR and SET NX may not', () => {
  for (const opcode of [Opcode.GET, Opcode.TTL, Opcode.DELETE, Opcode.TOUCH, Opcode.MGET, Opcode.MSET]) assert.ok(repeatable(opcode, 0));
  assert.ok(repeatable(Opcode.SET, setModeFlags(SetMode.SET)));
  assert.ok(repeatable(Opcode.SET, setModeFlags(SetMode.XX)));
  assert.not.ok(repeatable(Opcode.SET, setModeFlags(SetMode.NX)));
  assert.not.ok(repeatable(Opcode.INCR, 0));
});

Retry('an INCR written to its owner whose connection then closes fails with OutcomeUnknownError and is not sent again', async () => {
  const cluster = await fakeCluster((request, c) => {
    if (request.opcode !== Opcode.INCR) return undefined;
    c.members[0]![1] = 'left';
    return { status: Status.OK, drop: true };
  });
  const client = await smartClient(cluster);
  const key = keyOwnedBy([cluster.a.address, cluster.b.address], cluster.a.address);
  const error = await failure(client.incr(key));
  assert.instance(error, OutcomeUnknownError);
  assert.is(error.code, 'ERR_OUTCOME_UNKNOWN');
  assert.match(error.message, /INCR may or may not have been applied/);
  assert.is(cluster.count(cluster.a, Opcode.INCR), 1);
  assert.is(cluster.count(cluster.b, Opcode.INCR), 0, 'the new owner never saw it');
});

Retry('a SET NX written to a connection that closes fails the same way; a plain SET goes to the new owner', async () => {
  const cluster = await fakeCluster((request, c) => {
    if (request.opcode !== Opcode.SET) return undefined;
    c.members[0]![1] = 'left';
    return { status: Status.OK, drop: true };
  });
  const client = await smartClient(cluster);
  const key = keyOwnedBy([cluster.a.address, cluster.b.address], cluster.a.address);
  const error = await failure(client.set(key, 'once', { mode: 'nx' }));
  assert.is(error.code, 'ERR_OUTCOME_UNKNOWN');
  assert.match(error.message, /SET NX may or may not have been applied/);
  assert.is(cluster.count(cluster.b, Opcode.SET), 0);
  // The topology now says A left: a plain SET dropped by A goes to B, the key's owner on the new ring.
  cluster.members[0]![1] = 'alive';
  await client.close();
  const again = await smartClient(cluster);
  assert.ok(await again.set(key, 'twice'));
  assert.is(cluster.count(cluster.b, Opcode.SET), 1);
  assert.is(cluster.b.store.get(key)?.value.toString(), 'twice');
});

Retry('an INCR refused with SHUTTING_DOWN never ran: it goes to the new owner and counts once', async () => {
  const cluster = await fakeCluster((request, c) => {
    if (request.opcode !== Opcode.INCR) return undefined;
    c.members[0]![1] = 'left';
    return { status: Status.SHUTTING_DOWN, value: 'the node is shutting down; retry on another node' };
  });
  const client = await smartClient(cluster);
  const key = keyOwnedBy([cluster.a.address, cluster.b.address], cluster.a.address);
  assert.is(await client.incr(key, 5), 5);
  assert.is(cluster.count(cluster.b, Opcode.INCR), 1);
  assert.is(cluster.b.store.get(key)?.value.toString(), '5');
});

Retry('an INCR that never left (its owner refused the connection) goes again, through a live node', async () => {
  const cluster = await fakeCluster();
  // B is listed but nobody listens there: the INCR waits for a connect that fails, so it was never written.
  const gone = `127.0.0.1:${await freePort()}`;
  cluster.members = [
    [cluster.a.address, 'alive'],
    [gone, 'alive'],
  ];
  const client = await smartClient(cluster);
  const key = keyOwnedBy([cluster.a.address, gone], gone);
  assert.is(await client.incr(key), 1);
  assert.is(cluster.count(cluster.a, Opcode.INCR), 1, 'sent once, to the live node (which forwards in a real cluster)');
});

Retry('an MGET part whose connection closes goes again', async () => {
  let dropped = 0;
  const cluster = await fakeCluster((request) =>
    request.opcode === Opcode.MGET && dropped++ === 0 ? { status: Status.OK, drop: true } : undefined,
  );
  cluster.a.store.set('x', { value: Buffer.from('1'), expiresAt: 0 });
  const client = await smartClient(cluster);
  const values = await client.mget(['x', 'y']);
  assert.equal(
    values.map((value) => value?.toString() ?? null),
    ['1', null],
  );
  assert.is(cluster.count(cluster.a, Opcode.MGET), 2);
});

Retry('a member that leaves the topology keeps its requests in flight; one lost after is read again elsewhere', async () => {
  const cluster = await fakeCluster();
  const client = await smartClient(cluster);
  const key = keyOwnedBy([cluster.a.address, cluster.b.address], cluster.b.address);
  cluster.b.behavior = 'silent';
  const read = client.get(key);
  await cluster.b.waitForRequests(cluster.b.received + 1);
  // B leaves the topology; an epoch change on A's next answer makes the client fetch it.
  cluster.members[1]![1] = 'left';
  const topologies = cluster.count(cluster.a, Opcode.TOPOLOGY);
  cluster.a.epoch = 2;
  await client.ping();
  await eventually(() => cluster.count(cluster.a, Opcode.TOPOLOGY) > topologies, 'the client to fetch the topology again');
  await client.ping(); // the topology's answer has been applied once a later request on A completes
  assert.is(cluster.b.openConnections, 1, "the leaver's connection stays open for the request in flight");
  // Its connection now closes with the GET unanswered: a read may run twice, so it goes to A, the owner now.
  cluster.a.store.set(key, { value: Buffer.from('from A'), expiresAt: 0 });
  cluster.b.dropConnections();
  assert.is((await read)?.toString(), 'from A');
  await eventually(() => cluster.b.openConnections === 0, 'the retired connection to close');
});

Retry('ERR_CLIENT_CLOSED is for a client the user closed', async () => {
  const cluster = await fakeCluster();
  const client = await smartClient(cluster);
  cluster.a.behavior = 'silent';
  cluster.b.behavior = 'silent';
  const pending = failure(client.set(keyOwnedBy([cluster.a.address, cluster.b.address], cluster.b.address), 'v'));
  await cluster.b.waitForRequests(cluster.b.received + 1);
  await client.close();
  assert.is((await pending).code, 'ERR_CLIENT_CLOSED');
});

Retry.run();
