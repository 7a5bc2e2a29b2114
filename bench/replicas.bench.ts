/**
 * Replicas against a crash (docs/ARCHITECTURE.md, "Replicas"), with CLI node processes (the compiled dist/): 3
 * nodes at --replicas 2 hold N keys (16 B keys, 100 B values; 1M by default); a steady load reads random keys
 * and writes others (each writer its own keys) through a smart client; one node is SIGKILLed.
 * Reported against the targets (not asserted):
 *   - reads during the detection window (from the kill until both survivors hold the node dead): the share that
 *     succeeded, of all keys and of the killed node's keys; target ≥ 99 %;
 *   - keys readable after the detection (MGET of every key through the survivors); target ≥ 99.99 %, and
 *     values older than the last acknowledged write (0);
 *   - time from the kill until every key has 2 copies again (the survivors' items add up to 2 per key and none
 *     counts a range still being restored); target ≤ 30 s.
 *
 *   npm run bench -- replicas   (or: npx tsx bench/replicas.bench.ts [--keys N] [--quick])
 *
 * Every process it starts is ended by PID, also on failure.
 */
import { Client } from '../src/client/client';
import { HashRing } from '../src/consistent/ring';
import { ensureBuilt, startNode, stopAll } from './helpers/nodes';

const argv = process.argv.slice(2);
const keysFlag = argv.indexOf('--keys');
const KEYS = keysFlag >= 0 ? Number(argv[keysFlag + 1]) : argv.includes('--quick') ? 100_000 : 1_000_000;
const READERS = 24;
const WRITERS = 8;
const VALUE = 'v'.repeat(100);
const key = (i: number): string => `key:${String(i).padStart(12, '0')}`;

interface NodeStats {
  store: { items: number };
  replication: { underReplicatedRanges: number };
}

async function statsOf(address: string): Promise<NodeStats | undefined> {
  const client = new Client({ nodes: [address], routing: 'proxy', timeoutMs: 2000 });
  try {
    return (await client.stats()) as unknown as NodeStats;
  } catch {
    return undefined;
  } finally {
    await client.close();
  }
}

async function stateOf(observer: string, target: string): Promise<string | undefined> {
  const client = new Client({ nodes: [observer], routing: 'proxy', timeoutMs: 1000 });
  try {
    return (await client.members()).find((member) => member.id === target)?.state;
  } catch {
    return undefined;
  } finally {
    await client.close();
  }
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    if (await check()) return performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/**
 * READERS workers read random keys and WRITERS workers write (worker w the keys i ≡ w mod WRITERS) until stopped,
 * each one request at a time; every read is kept with its time. Apart, so a write held for a dead replica does
 * not hold reads back.
 */
class Load {
  readonly reads: Array<{ at: number; i: number; ok: boolean }> = [];
  readonly written = new Map<number, string>();
  readonly unsure = new Map<number, string[]>();
  private running = true;
  private readonly done: Promise<unknown>;

  constructor(client: Client) {
    const deadline = performance.now() + 300_000;
    const writer = async (w: number): Promise<void> => {
      for (let n = 0; this.running && performance.now() < deadline && n < 10_000_000; n++) {
        const i = Math.floor(Math.random() * Math.floor(KEYS / WRITERS)) * WRITERS + w;
        const value = `w${w}n${n}`;
        try {
          await client.set(key(i), value);
          this.written.set(i, value);
          this.unsure.delete(i);
        } catch {
          this.unsure.set(i, [...(this.unsure.get(i) ?? []), value]);
        }
      }
    };
    const reader = async (): Promise<void> => {
      for (let n = 0; this.running && performance.now() < deadline && n < 10_000_000; n++) {
        const i = Math.floor(Math.random() * KEYS);
        const at = performance.now();
        try {
          await client.get(key(i));
          this.reads.push({ at, i, ok: true });
        } catch {
          this.reads.push({ at, i, ok: false });
        }
      }
    };
    this.done = Promise.all([...Array.from({ length: WRITERS }, (_, w) => writer(w)), ...Array.from({ length: READERS }, reader)]);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

async function main(): Promise<void> {
  ensureBuilt();
  const args = ['--replicas', '2'];
  const seed = await startNode(args);
  const others = await Promise.all([0, 1].map(() => startNode([...args, '--join', seed.address])));
  const nodes = [seed, ...others].map((node) => node.address);
  const client = new Client({ nodes, timeoutMs: 5000 });
  await until('3 members', async () => (await client.members()).filter((m) => m.state === 'alive').length === 3, 20_000);
  for (let start = 0; start < KEYS; start += 500) {
    await client.mset(Array.from({ length: Math.min(500, KEYS - start) }, (_, j) => [key(start + j), VALUE] as const));
  }
  const items = async (addresses: string[]): Promise<number[]> =>
    Promise.all(addresses.map(async (a) => (await statsOf(a))?.store.items ?? -1));
  console.log(`loaded ${KEYS} keys; items per node ${JSON.stringify(await items(nodes))}`);
  const ring = new HashRing();
  ring.setNodes(nodes);
  const victim = nodes[2]!;
  const survivors = nodes.slice(0, 2);
  const load = new Load(client);
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const killedAt = performance.now();
  others[1]!.child.kill('SIGKILL');
  const detectionMs = await until(
    'the survivors to declare it dead',
    async () => (await Promise.all(survivors.map((s) => stateOf(s, victim)))).every((state) => state === 'dead'),
    30_000,
    25,
  );
  const healMs =
    detectionMs +
    (await until(
      '2 copies of every key',
      async () => {
        const stats = await Promise.all(survivors.map(statsOf));
        const total = stats.reduce((sum, s) => sum + (s?.store.items ?? 0), 0);
        return total >= 2 * KEYS && stats.every((s) => s !== undefined && s.replication.underReplicatedRanges === 0);
      },
      120_000,
      100,
    ));
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await load.stop();
  const windowEnd = killedAt + detectionMs;
  const inWindow = load.reads.filter((r) => r.at >= killedAt && r.at <= windowEnd);
  const victims = inWindow.filter((r) => ring.lookup(key(r.i)) === victim);
  const okShare = (list: typeof inWindow): string =>
    list.length === 0 ? 'n/a' : `${((list.filter((r) => r.ok).length / list.length) * 100).toFixed(3)} % of ${list.length}`;
  let readable = 0;
  let stale = 0;
  const reader = new Client({ nodes: survivors, timeoutMs: 10_000 });
  for (let start = 0; start < KEYS; start += 500) {
    const batch = Array.from({ length: Math.min(500, KEYS - start) }, (_, j) => start + j);
    const values = await reader.mget(batch.map(key));
    values.forEach((value, j) => {
      if (value === null) return;
      readable++;
      const i = batch[j]!;
      const last = load.written.get(i) ?? VALUE;
      const text = value.toString();
      if (text !== last && !(load.unsure.get(i) ?? []).includes(text)) stale++;
    });
  }
  await reader.close();
  await client.close();
  console.log(`\nSIGKILL of 1 of 3 nodes at --replicas 2 holding ${KEYS} keys, under load (${READERS} readers, ${WRITERS} writers)`);
  console.table([
    {
      'detection ms': Math.round(detectionMs),
      'reads OK in the window (all keys)': okShare(inWindow),
      "… (the killed node's keys)": okShare(victims),
      'target reads OK': '≥ 99 %',
      'readable after': `${((readable / KEYS) * 100).toFixed(4)} %`,
      'target readable': '≥ 99.99 %',
      'stale values': stale,
      '2 copies again after (s)': (healMs / 1000).toFixed(1),
      'target copies': '≤ 30 s',
    },
  ]);
}

void main().then(
  () => {
    stopAll();
    process.exit(0);
  },
  (error: unknown) => {
    console.error(error);
    stopAll();
    process.exit(1);
  },
);
