/**
 * A smart client under load while members stop gracefully and come back, round after round: requests whose
 * connection closes are retried on the key's new owner (README, "The client": retries), so none fails with
 * ERR_CLIENT_CLOSED (only for a client the user closed) and every acknowledged write reads back afterwards.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Client } from '../../src/client/client';
import { HashRing } from '../../src/consistent/ring';
import type { CacheNode } from '../../src/node/cache-node';
import { nodeInternals } from '../../src/node/internals';
import { AckChecker } from '../helpers/ack-checker';
import { converged, eventually, FAST_MEMBERSHIP, startCluster } from '../helpers/cluster';
import { closeAllNodes, startTestNode } from '../helpers/node';

/** Enough stops that a failure seen once in 12 stops shows up with near certainty. */
const ROUNDS = 16;
const WORKERS = 24;
const KEYS_PER_WORKER = 8;
/** Acknowledged writes awaited before each stop, and after it (each key is written again after the stop). */
const BEFORE_STOP = 150;
const AFTER_STOP = 2 * WORKERS * KEYS_PER_WORKER;
/** Bounds of one round's load whatever happens: operations per worker, and wall time. */
const MAX_OPS_PER_WORKER = 2000;
const MAX_ROUND_MS = 30_000;

/** WORKERS loops, each writing (and reading back) its own keys one request at a time. */
class Load {
  /** Requests outstanding now whose key the leaving member owned before its stop. */
  inFlightToLeaver = 0;
  private stopped = false;
  /** The member has finished its stop: writes issued from now on can only be served by the survivors. */
  private memberGone = false;
  private readonly waiters: Array<{ count: number; resolve: () => void }> = [];
  private readonly done: Promise<void>;

  constructor(
    private readonly client: Client,
    private readonly checker: AckChecker,
    private readonly round: number,
    private readonly leaverOwns: (key: string) => boolean,
  ) {
    const deadline = Date.now() + MAX_ROUND_MS;
    this.done = Promise.all(Array.from({ length: WORKERS }, (_, w) => this.worker(w, deadline))).then(() => this.release(true));
  }

  /** Resolves once the checker has counted `count` acknowledged writes in total (or the load ended). */
  whenAcknowledged(count: number): Promise<void> {
    if (this.checker.acknowledgedCount >= count || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  leaverGone(): void {
    this.memberGone = true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  private release(all: boolean): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const waiter = this.waiters[i]!;
      if (all || this.checker.acknowledgedCount >= waiter.count) {
        this.waiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }

  private async worker(w: number, deadline: number): Promise<void> {
    const key = (i: number): string => `g${this.round}:w${w}:k${i % KEYS_PER_WORKER}`;
    for (let i = 0; i < MAX_OPS_PER_WORKER && !this.stopped && Date.now() < deadline; i++) {
      const value = `${this.round}.${w}.${i}`;
      // Every fifth write is an MSET of two of this worker's keys: a multi-key request crossing the stop too.
      const keys = i % 5 === 4 ? [key(i), key(i + 1)] : [key(i)];
      const mayBeLost = keys.map((k) => !this.memberGone && this.leaverOwns(k));
      const toLeaver = keys.some((k) => this.leaverOwns(k)) ? 1 : 0;
      this.inFlightToLeaver += toLeaver;
      try {
        if (keys.length === 1) await this.client.set(keys[0]!, value);
        else await this.client.mset(keys.map((k) => [k, value] as const));
        keys.forEach((k, j) => this.checker.acknowledged(k, value, mayBeLost[j]!));
      } catch (error) {
        for (const k of keys) this.checker.failed(k, value, error);
      } finally {
        this.inFlightToLeaver -= toLeaver;
      }
      this.release(false);
      if (i % 3 === 0) await this.readBack(keys[0]!);
    }
  }

  /** A read during the stop is retried like a write; what it returns is checked like the final reads. */
  private async readBack(key: string): Promise<void> {
    try {
      const problem = this.checker.problem(key, await this.client.get(key));
      if (problem !== null) this.checker.failures.push({ code: 'WRONG_VALUE', message: problem });
    } catch (error) {
      const e = error as { code?: string; message?: string };
      this.checker.failures.push({ code: e.code ?? 'none', message: String(e.message) });
    }
  }
}

/** A copy of a node's ring now: the node's own changes as members come and go. */
function ringNow(node: CacheNode): HashRing {
  const ring = new HashRing({ vnodes: nodeInternals(node).cluster.ring.vnodes });
  ring.setNodes(nodeInternals(node).cluster.ring.nodes);
  return ring;
}

const Stop = suite('graceful stops under a smart client');
const clients: Client[] = [];
Stop.after.each(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await closeAllNodes();
});

Stop(`${ROUNDS} graceful stops and restarts under load: no request fails, every acknowledged write reads back`, async () => {
  // Warm stops: each member hands its ranges over before it leaves (docs/ARCHITECTURE.md, "Data movement").
  const nodes = await startCluster(3);
  // One seed, as users start a smart client: it learns the other members from the topology, and its
  // connections to them are the ones a leave used to close. The seed stops in its turn too.
  const client = new Client({ nodes: [nodes[0]!.address], timeoutMs: 2000 });
  clients.push(client);
  await client.members();
  const checker = new AckChecker();
  let inFlightAtStops = 0;
  for (let round = 0; round < ROUNDS; round++) {
    // The members the client learnt from the topology stop first, then its seed.
    const index = (round + 1) % nodes.length;
    const leaver = nodes[index]!;
    const survivors = nodes.filter((node) => node !== leaver);
    const before = ringNow(survivors[0]!);
    const load = new Load(client, checker, round, (key) => before.lookup(key) === leaver.address);
    try {
      await load.whenAcknowledged(checker.acknowledgedCount + BEFORE_STOP);
      inFlightAtStops += load.inFlightToLeaver;
      await leaver.close();
      load.leaverGone();
      await load.whenAcknowledged(checker.acknowledgedCount + AFTER_STOP);
    } finally {
      await load.stop();
    }
    const codes = JSON.stringify(checker.failureCodes());
    assert.not.ok(
      checker.failures.some((failure) => failure.code === 'ERR_CLIENT_CLOSED'),
      `round ${round}: ${codes}`,
    );
    assert.equal(checker.failures.slice(0, 5), [], `round ${round}: ${codes}`);
    const keys = checker.writtenKeys().filter((key) => key.startsWith(`g${round}:`));
    const values = await client.mget(keys);
    const problems = keys.map((key, i) => checker.problem(key, values[i]!)).filter((problem) => problem !== null);
    assert.equal(problems.slice(0, 5), [], `round ${round}: ${problems.length} keys do not read back`);
    assert.ok(keys.length === WORKERS * KEYS_PER_WORKER, `round ${round}: every key was written (${keys.length})`);
    // The member comes back on its address; the next round starts once every node sees all three.
    nodes[index] = await startTestNode({ ...FAST_MEMBERSHIP, addr: leaver.address, join: [survivors[0]!.address] });
    await eventually(() => converged(nodes), `round ${round}: ${leaver.address} to rejoin`);
  }
  assert.ok(checker.acknowledgedCount >= ROUNDS * (BEFORE_STOP + AFTER_STOP), `acknowledged ${checker.acknowledgedCount}`);
  // The stops met requests in flight to the member that left (else this test shows nothing).
  assert.ok(inFlightAtStops > 0, `requests in flight to the leaving member at its stops: ${inFlightAtStops}`);
});

Stop.run();
