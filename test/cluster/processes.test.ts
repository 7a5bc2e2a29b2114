/**
 * Faults on real processes started through the CLI with the default membership timings: SIGKILL, SIGSTOP and
 * SIGCONT, SIGTERM, a short freeze. Every process is killed by PID in the after hook, also on failure.
 */
import { suite } from 'uvu';
import { eventually } from '../helpers/wait';
import * as assert from 'uvu/assert';
import { Client } from '../../src/client/client';
import { HashRing } from '../../src/consistent/ring';
import { killAllChildren, startCliNode } from '../helpers/cli';
import { stateIn, topologyOf, type TopologyView } from '../helpers/topology';

/** Polls every 25 ms (the checks here ask CLI processes over the network). */
const waitFor = (check: () => Promise<boolean>, what: string, timeoutMs: number): Promise<number> => eventually(check, what, timeoutMs, 25);

const Faults = suite('cluster faults (processes)');
const clients: Client[] = [];
Faults.after.each(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  killAllChildren();
});

type CliNode = Awaited<ReturnType<typeof startCliNode>>;

async function startThree(): Promise<CliNode[]> {
  const seed = await startCliNode();
  const others = await Promise.all([1, 2].map(() => startCliNode(['--join', seed.address])));
  const nodes = [seed, ...others];
  await waitFor(
    async () => {
      const views = await Promise.all(nodes.map((node) => topologyOf(node.address)));
      return views.every(
        (view) =>
          view !== undefined && view.members.filter((m) => m.state === 'alive').length === 3 && view.checksum === views[0]!.checksum,
      );
    },
    'three nodes to converge',
    15_000,
  );
  return nodes;
}

function ringOf(nodes: CliNode[]): HashRing {
  const ring = new HashRing();
  ring.setNodes(nodes.map((node) => node.address));
  return ring;
}

interface LoadReport {
  requests: number;
  failuresByOwner: Map<string, number>;
  slowest: number;
}

/**
 * A steady, bounded load through `entry`: SET then GET of keys spread over every owner, one batch of 50 every
 * 20 ms, until stop() (and never longer than maxMs). Records failures by the key's owner on `ring`.
 */
function runLoad(client: Client, ring: HashRing, maxMs: number): { stop: () => Promise<LoadReport> } {
  const report: LoadReport = { requests: 0, failuresByOwner: new Map(), slowest: 0 };
  let running = true;
  const deadline = Date.now() + maxMs;
  const loop = (async () => {
    let round = 0;
    while (running && Date.now() < deadline) {
      round++;
      await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          const key = `load:${i}`;
          const started = Date.now();
          try {
            await client.set(key, `round ${round}`);
            const value = await client.get(key);
            if (value !== null) assert.is(value.toString(), `round ${round}`);
          } catch {
            const owner = ring.lookup(key)!;
            report.failuresByOwner.set(owner, (report.failuresByOwner.get(owner) ?? 0) + 1);
          }
          report.requests += 2;
          report.slowest = Math.max(report.slowest, Date.now() - started);
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return report;
    },
  };
}

/** Three nodes, and a steady load through the first that has been running for 300 ms. */
async function startThreeUnderLoad(): Promise<{ nodes: [CliNode, CliNode, CliNode]; load: ReturnType<typeof runLoad> }> {
  const nodes = (await startThree()) as [CliNode, CliNode, CliNode];
  const client = new Client({ nodes: [nodes[0].address], timeoutMs: 1000 });
  clients.push(client);
  const load = runLoad(client, ringOf(nodes), 20_000);
  await new Promise((resolve) => setTimeout(resolve, 300));
  return { nodes, load };
}

Faults("SIGKILL under load: survivors mark the node dead within 5 s and agree; survivors' keys never fail; nothing hangs", async () => {
  const { nodes, load } = await startThreeUnderLoad();
  const [a, b, c] = nodes;
  process.kill(c.pid, 'SIGKILL');
  const detection = await waitFor(
    async () => {
      const views = await Promise.all([a, b].map((node) => topologyOf(node.address)));
      return views.every((view) => stateIn(view, c.address) === 'dead') && views[0]!.checksum === views[1]!.checksum;
    },
    'both survivors to see the killed node dead',
    8000,
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  const report = await load.stop();
  console.log(
    `  (SIGKILL seen as dead on both survivors after ${detection} ms; ${report.requests} requests, slowest pair ${report.slowest} ms)`,
  );
  assert.ok(detection < 5000, `detected in ${detection} ms`);
  assert.is(report.failuresByOwner.get(a.address) ?? 0, 0, 'keys owned by A never failed');
  assert.is(report.failuresByOwner.get(b.address) ?? 0, 0, 'keys owned by B never failed');
  assert.ok(report.slowest < 1000 + 1000, `slowest SET+GET pair took ${report.slowest} ms: no hang`);
  assert.ok(report.requests > 500);
});

Faults('SIGSTOP: the frozen node goes suspect then dead; after SIGCONT it refutes, empties its store, and no read is stale', async () => {
  const nodes = await startThree();
  const [a, b, c] = nodes as [CliNode, CliNode, CliNode];
  const client = new Client({ nodes: [a.address], timeoutMs: 1000 });
  clients.push(client);
  const keys = Array.from({ length: 300 }, (_, i) => `stale:${i}`);
  await Promise.all(keys.map((key) => client.set(key, 'v1')));
  process.kill(c.pid, 'SIGSTOP');
  let sawSuspect = false;
  await waitFor(
    async () => {
      const views = await Promise.all([a, b].map((node) => topologyOf(node.address)));
      if (views.some((view) => stateIn(view, c.address) === 'suspect')) sawSuspect = true;
      return views.every((view) => stateIn(view, c.address) === 'dead');
    },
    'the frozen node to be dead on both survivors',
    8000,
  );
  assert.ok(sawSuspect, 'it was suspect before it was dead');
  // While C is away its ranges belong to A and B: newer values are acknowledged there.
  await waitFor(
    async () => (await Promise.allSettled(keys.map((key) => client.set(key, 'v2')))).every((r) => r.status === 'fulfilled'),
    'v2 acknowledged for every key',
    5000,
  );
  process.kill(c.pid, 'SIGCONT');
  await waitFor(
    async () => {
      const views = await Promise.all(nodes.map((node) => topologyOf(node.address)));
      return views.every(
        (view) => view !== undefined && view.members.every((member) => member.state === 'alive') && view.checksum === views[0]!.checksum,
      );
    },
    'all three alive everywhere after SIGCONT',
    10_000,
  );
  // C is back and owns its ranges again: it must answer v2 or a miss, never the v1 it held before.
  const reader = new Client({ nodes: [c.address], timeoutMs: 1000 });
  clients.push(reader);
  await reader.members();
  const values = await Promise.all(keys.map((key) => reader.get(key)));
  const stale = values.filter((value) => value !== null && value.toString() === 'v1').length;
  assert.is(stale, 0, `${stale} stale reads`);
  const cStats = (await reader.stats()) as { cluster: { flushesOnComeback: number } };
  assert.ok(
    cStats.cluster.flushesOnComeback >= 1,
    `the returning node emptied its store: ${JSON.stringify(cStats.cluster)} ${JSON.stringify((cStats as { store?: unknown }).store)}`,
  );
});

Faults("SIGTERM under load: exits 0, peers see it left at once, survivors' keys never fail", async () => {
  const { nodes, load } = await startThreeUnderLoad();
  const [a, b, c] = nodes;
  process.kill(c.pid, 'SIGTERM');
  assert.is(await c.exited, 0);
  const views = await Promise.all([a, b].map((node) => topologyOf(node.address)));
  for (const view of views) assert.is(stateIn(view, c.address), 'left', 'left as soon as the process is gone');
  await new Promise((resolve) => setTimeout(resolve, 500));
  const report = await load.stop();
  assert.is(report.failuresByOwner.get(a.address) ?? 0, 0);
  assert.is(report.failuresByOwner.get(b.address) ?? 0, 0);
});

Faults('a node frozen for 300 ms (a blocked event loop) is never declared dead', async () => {
  const nodes = await startThree();
  const [a, b, c] = nodes as [CliNode, CliNode, CliNode];
  process.kill(c.pid, 'SIGSTOP');
  await new Promise((resolve) => setTimeout(resolve, 300));
  process.kill(c.pid, 'SIGCONT');
  const until = Date.now() + 3000;
  let views: Array<TopologyView | undefined> = [];
  while (Date.now() < until) {
    views = await Promise.all([a, b].map((node) => topologyOf(node.address)));
    for (const view of views) assert.is.not(stateIn(view, c.address), 'dead');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  for (const view of views) assert.is(stateIn(view, c.address), 'alive');
});

Faults.run();
