/**
 * Transfers interrupted by SIGKILL (docs/ARCHITECTURE.md, "Data movement"), on CLI processes. A third node joins
 * two that hold enough data for its pull to take seconds, and while it pulls, it (the receiver) or one of the
 * members it pulls from (a sender) is killed, with a small writer updating keys throughout. Afterwards no read
 * returns anything but a key's last acknowledged value (or a failed write's value after it), every key that never
 * lived only on the killed node is readable, and no pull or held copy waits forever. The receiver, restarted on
 * its address, completes its pull. Every process is killed by PID in the after hook, also on failure.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Client } from '../../src/client/client';
import { HashRing } from '../../src/consistent/ring';
import { AckChecker } from '../helpers/ack-checker';
import { killAllChildren, runCli, waitForLog, type CliProcess } from '../helpers/cli';
import { freePort } from '../helpers/free-port';
import { convergedOn } from '../helpers/topology';
import { eventually } from '../helpers/wait';

/** Enough data (about 140 MB) that the joining node's third takes seconds to pull. */
const KEYS = 200_000;
const PAD = '.'.repeat(700);
/** The keys the writer updates. */
const HOT = 200;
/** Membership a little faster than the defaults; values small enough that an MGET frame carries 256 keys. */
const FLAGS = [
  '--max-memory',
  '512mb',
  '--max-value-size',
  '4kb',
  '--probe-interval',
  '200',
  '--probe-timeout',
  '200',
  '--suspicion-timeout',
  '1000',
  '--sync-interval',
  '1000',
];

interface Pull {
  from: string;
  items: number;
}

interface Movement {
  pullsInProgress: Pull[];
  awaitingConfirmation: string[];
  inPulls: number;
  inPullsCompleted: number;
  inPullsAbandoned: number;
  outWaitsConfirmed: number;
}

type CliNode = CliProcess & { address: string };

const Kill = suite('transfers interrupted by SIGKILL (processes)');
const clients: Client[] = [];
const writers: Writer[] = [];

Kill.after.each(async () => {
  await Promise.all(writers.splice(0).map((writer) => writer.stop()));
  await Promise.all(clients.splice(0).map((client) => client.close()));
  killAllChildren();
});

/** Polls every 25 ms (the checks ask CLI processes over the network). */
const waitFor = (check: () => Promise<boolean>, what: string, timeoutMs: number): Promise<number> => eventually(check, what, timeoutMs, 25);

/** A CLI node on 127.0.0.1:port (a known port, so a killed node can come back on its address). */
async function startNodeAt(port: number, join: string[] = []): Promise<CliNode> {
  const proc = runCli(['--addr', `127.0.0.1:${port}`, ...FLAGS, ...join.flatMap((seed) => ['--join', seed])]);
  await waitForLog(proc, /listening on /);
  return Object.assign(proc, { address: `127.0.0.1:${port}` });
}

function client(nodes: string[], routing: 'smart' | 'proxy', timeoutMs: number): Client {
  const c = new Client({ nodes, routing, timeoutMs });
  clients.push(c);
  return c;
}

/** The node's data-movement counters from STATS (through a proxy client to it alone); undefined if it does not answer. */
async function movementOf(stats: Client): Promise<Movement | undefined> {
  try {
    return ((await stats.stats()) as { cluster: { movement: Movement } }).cluster.movement;
  } catch {
    return undefined;
  }
}

/** Settled: no pull in progress and no member whose confirmation the node still waits for. */
function settled(movement: Movement | undefined): boolean {
  return movement !== undefined && movement.pullsInProgress.length === 0 && movement.awaitingConfirmation.length === 0;
}

function ringOf(addresses: string[]): HashRing {
  const ring = new HashRing();
  ring.setNodes(addresses);
  return ring;
}

const keyOf = (i: number): string => `k${i}`;
/** A value: its tag (what the checker records), then padding. */
const valueOf = (tag: string): string => `${tag}|${PAD}`;
const tagOf = (value: Buffer | null): Buffer | null => (value === null ? null : value.subarray(0, value.indexOf(0x7c)));

/** Writes every key once (tag v0) with MSET, 500 keys a frame, 8 frames at a time. */
async function fill(writer: Client, checker: AckChecker, mayBeLost: (key: string) => boolean): Promise<void> {
  const value = valueOf('v0');
  const batches: number[] = [];
  for (let start = 0; start < KEYS; start += 500) batches.push(start);
  const next = async (): Promise<void> => {
    for (let start = batches.shift(); start !== undefined; start = batches.shift()) {
      const keys = Array.from({ length: Math.min(500, KEYS - start) }, (_, i) => keyOf(start + i));
      await writer.mset(keys.map((key) => [key, value] as [string, string]));
      for (const key of keys) checker.acknowledged(key, 'v0', mayBeLost(key));
    }
  };
  await Promise.all(Array.from({ length: 8 }, next));
}

interface Writer {
  /** Stops the writer and resolves once its last write is answered. */
  stop(): Promise<{ writes: number; staleReads: string[] }>;
}

/**
 * A small writer over the first HOT keys through a smart client: each of its 8 workers owns the keys equal to
 * its number modulo 8 (one writer per key), reads a key (a stale value is recorded), then writes it a new tag,
 * recording an acknowledgement or, on a failure, an unsure value. At most maxWrites writes and maxMs.
 */
function startWriter(writer: Client, checker: AckChecker, mayBeLost: (key: string) => boolean, maxWrites = 20_000, maxMs = 25_000): Writer {
  let running = true;
  let writes = 0;
  const staleReads: string[] = [];
  const deadline = Date.now() + maxMs;
  const worker = async (w: number): Promise<void> => {
    for (let i = w; running && !writer.isClosed && writes < maxWrites && Date.now() < deadline; i = (i + 8) % HOT) {
      const key = keyOf(i);
      try {
        const problem = checker.problem(key, tagOf(await writer.get(key)));
        if (problem !== null) staleReads.push(problem);
      } catch {
        // A failed read tells nothing.
      }
      const tag = `w${++writes}`;
      try {
        await writer.set(key, valueOf(tag));
        checker.acknowledged(key, tag, mayBeLost(key));
      } catch (error) {
        checker.failed(key, tag, error);
      }
    }
  };
  const done = Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
  const handle: Writer = {
    stop: async () => {
      running = false;
      await done;
      return { writes, staleReads };
    },
  };
  writers.push(handle);
  return handle;
}

/**
 * Reads `keys` (which nothing writes meanwhile) through each of `nodes` alone, over and over until stop() (at most
 * maxMs): the reads whose value the record does not allow. A failed read tells nothing.
 */
function startProber(
  nodes: Client[],
  checker: AckChecker,
  keys: string[],
  maxMs = 20_000,
): { stop(): Promise<{ reads: number; stale: string[] }> } {
  let running = true;
  let reads = 0;
  const stale: string[] = [];
  const deadline = Date.now() + maxMs;
  const probe = async (node: Client): Promise<void> => {
    while (running && !node.isClosed && Date.now() < deadline) {
      try {
        const values = await node.mget(keys);
        reads += values.length;
        values.forEach((value, i) => {
          const problem = value === null ? null : checker.problem(keys[i]!, tagOf(value));
          if (problem !== null) stale.push(problem);
        });
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  };
  const done = Promise.all(nodes.map(probe));
  return {
    stop: async () => {
      running = false;
      await done;
      return { reads, stale };
    },
  };
}

interface ReadCheck {
  /** Reads that returned a value other than the last acknowledged one (or an unsure one after it). */
  stale: string[];
  /** Misses of keys that must be readable. */
  lost: string[];
  /** Misses the checker allows (keys that may have lived only on the killed node). */
  allowedMisses: number;
}

/** Reads every written key with MGET (256 keys a frame, 8 frames at a time) and checks each against the record. */
async function readAll(reader: Client, checker: AckChecker): Promise<ReadCheck> {
  const result: ReadCheck = { stale: [], lost: [], allowedMisses: 0 };
  const keys = checker.writtenKeys();
  const starts: number[] = [];
  for (let start = 0; start < keys.length; start += 256) starts.push(start);
  const next = async (): Promise<void> => {
    for (let start = starts.shift(); start !== undefined; start = starts.shift()) {
      const batch = keys.slice(start, start + 256);
      const values = await reader.mget(batch);
      values.forEach((value, i) => {
        const problem = checker.problem(batch[i]!, tagOf(value));
        if (problem === null) {
          if (value === null) result.allowedMisses++;
        } else if (value === null) result.lost.push(problem);
        else result.stale.push(problem);
      });
    }
  };
  await Promise.all(Array.from({ length: 8 }, next));
  return result;
}

interface Setup {
  a: CliNode;
  b: CliNode;
  c: CliNode;
  cPort: number;
  checker: AckChecker;
  writer: Writer;
  /** The smart client the keys were filled through (a long deadline: it writes in bulk). */
  filler: Client;
  /** The ring of all three. */
  ring3: HashRing;
  /** Proxy clients, one per node, for STATS. */
  statsOf: Map<CliNode, Client>;
  /** C's pulls as STATS showed them last, before the kill. */
  pullsAtKill: Pull[];
  /** From now on, acknowledged writes can no longer be lost with the killed node. */
  killedNodeGone(): void;
}

/**
 * A and B holding KEYS keys, then C joining them with the writer running: resolves while C pulls from `watch`
 * ('a' or 'b', or either) and has received items from it. `lost` says which keys may have lived only on the node
 * the test kills, given the rings of A and B and of all three; until killedNodeGone(), every acknowledgement of
 * such a key is recorded as one that may be lost.
 */
async function joinUnderLoad(
  watch: 'a' | 'b' | 'either',
  lost: (nodes: { a: string; b: string; c: string }, ring2: HashRing, ring3: HashRing) => (key: string) => boolean,
): Promise<Setup> {
  const a = await startNodeAt(await freePort());
  const b = await startNodeAt(await freePort(), [a.address]);
  await waitFor(() => convergedOn([a, b], [a, b]), 'A and B to converge', 15_000);
  const cPort = await freePort();
  const addresses = { a: a.address, b: b.address, c: `127.0.0.1:${cPort}` };
  const ring2 = ringOf([addresses.a, addresses.b]);
  const ring3 = ringOf([addresses.a, addresses.b, addresses.c]);
  let mayBeLost = lost(addresses, ring2, ring3);
  const filler = client([a.address, b.address], 'smart', 10_000);
  await filler.members();
  const checker = new AckChecker();
  await fill(filler, checker, (key) => mayBeLost(key));
  const c = await startNodeAt(cPort, [a.address]);
  const writer = startWriter(client([a.address, b.address], 'smart', 2000), checker, (key) => mayBeLost(key));
  const statsOf = new Map([a, b, c].map((node) => [node, client([node.address], 'proxy', 1000)]));
  const from = watch === 'a' ? a.address : watch === 'b' ? b.address : undefined;
  let pullsAtKill: Pull[] = [];
  await eventually(
    async () => {
      pullsAtKill = (await movementOf(statsOf.get(c)!))?.pullsInProgress ?? [];
      return pullsAtKill.some((pull) => pull.items > 0 && (from === undefined || pull.from === from));
    },
    'C to be pulling with items received',
    15_000,
    20,
  );
  return { a, b, c, cPort, checker, writer, filler, ring3, statsOf, pullsAtKill, killedNodeGone: () => (mayBeLost = () => false) };
}

Kill('the receiver killed mid-pull: no stale read, nothing waits forever; restarted, it completes its pull', async () => {
  // What C acknowledged, and the copies it pulled, die with it: A and B drop what they held for it.
  const setup = await joinUnderLoad('either', (nodes, _ring2, ring3) => (key) => ring3.lookup(key) === nodes.c);
  const { a, b, c, checker, statsOf } = setup;
  // Keys C gains, rewritten while it pulls (the writer leaves them alone): C acknowledges the new values while A
  // and B still hold the old ones for it. Once C is gone, A and B must not serve those old copies.
  const moved = Array.from({ length: 2000 }, (_, i) => keyOf(HOT + i)).filter((key) => setup.ring3.lookup(key) === c.address);
  try {
    await setup.filler.mset(moved.map((key) => [key, valueOf('p1')] as [string, string]));
    for (const key of moved) checker.acknowledged(key, 'p1', true);
  } catch (error) {
    for (const key of moved) checker.failed(key, 'p1', error);
  }
  process.kill(c.pid, 'SIGKILL');
  console.log(`  (killed C while it pulled ${JSON.stringify(setup.pullsAtKill)})`);
  await c.exited;
  const prober = startProber([statsOf.get(a)!, statsOf.get(b)!], checker, moved);
  await waitFor(() => convergedOn([a, b], [a, b], [c]), 'A and B to declare C dead and agree', 15_000);
  setup.killedNodeGone();
  await waitFor(
    async () => (await Promise.all([a, b].map((node) => movementOf(statsOf.get(node)!)))).every(settled),
    'A and B to have no pull in progress and no confirmation pending',
    10_000,
  );
  const probed = await prober.stop();
  assert.equal(probed.stale, [], 'no stale read of a key C had acknowledged, through A and B as they took its ranges back');
  const sources = await Promise.all([a, b].map((node) => movementOf(statsOf.get(node)!)));
  assert.ok(
    sources.some((movement) => movement!.outWaitsConfirmed === 0),
    `the kill interrupted a pull: a source never got C's confirmation (${JSON.stringify(sources)})`,
  );
  const during = await setup.writer.stop();
  assert.equal(during.staleReads, [], 'no stale read while the writer ran');
  const reader = client([a.address, b.address], 'smart', 5000);
  const afterKill = await readAll(reader, checker);
  console.log(
    `  (${during.writes} writes, ${probed.reads} reads of keys C had acknowledged; after the kill ${afterKill.allowedMisses} misses, all of keys C owned)`,
  );
  assert.equal(afterKill.stale, [], 'no stale read after the kill');
  assert.equal(afterKill.lost, [], 'every key C never owned is readable');

  // C comes back on its address, empty, and pulls what it owns from A and B.
  const back = await startNodeAt(setup.cPort, [a.address]);
  const backStats = client([back.address], 'proxy', 1000);
  await waitFor(() => convergedOn([a, b, back], [a, b, back]), 'C to rejoin', 15_000);
  await waitFor(
    async () => {
      const movement = await movementOf(backStats);
      return movement !== undefined && movement.inPullsCompleted >= 1 && movement.pullsInProgress.length === 0;
    },
    'the restarted C to complete its pull',
    20_000,
  );
  await waitFor(
    async () => (await Promise.all([a, b].map((node) => movementOf(statsOf.get(node)!)))).every(settled),
    "A and B to have C's confirmation",
    10_000,
  );
  const final = await readAll(reader, checker);
  assert.equal(final.stale, [], 'no stale read after the restart');
  assert.equal(final.lost, [], 'every key C never owned is readable after the restart');
  assert.ok(final.allowedMisses <= afterKill.allowedMisses, `no more misses than after the kill (${final.allowedMisses})`);
});

Kill('a sender killed mid-pull: the pull from it ends, no stale read, keys that lived on survivors stay readable', async () => {
  // B is killed while C pulls from it: lost with it are the keys it kept and those C had yet to pull from it.
  const setup = await joinUnderLoad('b', (nodes, ring2, ring3) => (key) => {
    const owner = ring3.lookup(key);
    return owner === nodes.b || (owner === nodes.c && ring2.lookup(key) === nodes.b);
  });
  const { a, b, c, checker, statsOf } = setup;
  process.kill(b.pid, 'SIGKILL');
  console.log(`  (killed B while C pulled ${JSON.stringify(setup.pullsAtKill)})`);
  await b.exited;
  await waitFor(() => convergedOn([a, c], [a, c], [b]), 'A and C to declare B dead and agree', 15_000);
  setup.killedNodeGone();
  await waitFor(
    async () => (await Promise.all([a, c].map((node) => movementOf(statsOf.get(node)!)))).every(settled),
    'C to stop pulling and A to have its confirmation',
    15_000,
  );
  const cMovement = (await movementOf(statsOf.get(c)!))!;
  assert.ok(cMovement.inPullsAbandoned >= 1, `the pull from B was abandoned: ${JSON.stringify(cMovement)}`);
  const during = await setup.writer.stop();
  assert.equal(during.staleReads, [], 'no stale read while the writer ran');
  const reader = client([a.address, c.address], 'smart', 5000);
  const result = await readAll(reader, checker);
  console.log(
    `  (${during.writes} writes; C abandoned ${cMovement.inPullsAbandoned} pulls, completed ${cMovement.inPullsCompleted}; ${result.allowedMisses} misses, all of keys that lived on B)`,
  );
  assert.equal(result.stale, [], 'no stale read');
  assert.equal(result.lost, [], 'every key that lived on a survivor is readable');
});

Kill.run();
