/**
 * Data movement (docs/ARCHITECTURE.md, "Data movement"), with CLI node processes (the compiled dist/):
 *
 *   1. transfer rate: a node holding N keys (16 B keys, 100 B values), a second one joins; items/s of its pull;
 *   2. rolling restart of 3 nodes holding N keys under a steady load (90 % GET, 10 % SET, 32 in flight through
 *      a smart client; --rate N paces it instead): each node SIGTERM'd, restarted with --join, and the next one
 *      only once all are back; the worst one-second read hit ratio, foreground p99 idle (after a 2 s warm-up)
 *      vs during the restart and while pulls run, and at the end the share of keys readable and of values
 *      stale (a failed write's value counts as possible until a later write of the key is acknowledged);
 *   3. scale-out 3 → 4 under the same load: keys readable, and the 4th node's share of the items 30 s on.
 *
 *   npm run bench -- movement   (or: npx tsx bench/movement.bench.ts [--keys N] [--quick] [--restart-only] [--rate N])
 *
 * DCACHE_BENCH_DEBUG=1 prints a per-second timeline; DCACHE_BENCH_LOGS=/tmp/x writes each node's log to
 * /tmp/x.PORT.log; DCACHE_BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=D' passes node flags to every node (under --cpu-prof
 * they are stopped with SIGTERM, so each writes its profile).
 *
 * Every process it starts is stopped by PID, also on failure.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { build } from 'hdr-histogram-js';
import { Client } from '../src/client/client';
import { HashRing } from '../src/consistent/ring';
import { freePort } from './compare/procs';

const MAIN = path.join(__dirname, '..', 'dist', 'main.js');
const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
/** Only the rolling restart (for profiling it): no transfer-rate run and no scale-out. */
const restartOnly = argv.includes('--restart-only');
const rateFlag = argv.indexOf('--rate');
/**
 * The load's requests/s, paced (256 workers, latency counted from sending), as a cache tier with CPU to spare
 * sees it. 0, the default: as fast as 32 workers go, one request each in flight, which saturates this 2-core
 * machine, so any background work shows as foreground latency.
 */
const RATE = rateFlag >= 0 ? Number(argv[rateFlag + 1]) : 0;
/** Paced, enough workers that each has room to catch up after a stall; unpaced, 32 as before. */
const WORKERS = RATE > 0 ? 256 : 32;
const keysFlag = argv.indexOf('--keys');
const KEYS = keysFlag >= 0 ? Number(argv[keysFlag + 1]) : quick ? 100_000 : 1_000_000;
const VALUE = 'v'.repeat(100);
const children = new Set<ChildProcess>();
const TRACE = process.env['DCACHE_BENCH_DEBUG'] !== undefined;
const NODE_ARGS = (process.env['DCACHE_BENCH_NODE_ARGS'] ?? '').split(' ').filter((arg) => arg !== '');

interface Proc {
  address: string;
  port: number;
  child: ChildProcess;
  exited: Promise<number | null>;
}

function spawnNode(port: number, join?: string): Proc {
  const args = [MAIN, '--addr', `127.0.0.1:${port}`, '--max-memory', '1gb', ...(join ? ['--join', join] : [])];
  const logFile = process.env['DCACHE_BENCH_LOGS'];
  const child = spawn(process.execPath, [...NODE_ARGS, ...args, ...(logFile ? ['--log-level', 'info'] : [])], {
    stdio: ['ignore', 'ignore', logFile ? fs.openSync(`${logFile}.${port}.log`, 'a') : 'ignore'],
  });
  children.add(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then(() => children.delete(child));
  return { address: `127.0.0.1:${port}`, port, child, exited };
}

/** The parts of a node's STATS this bench reads. */
interface NodeStats {
  cluster: { members: number; movement: { pullsInProgress: unknown[]; inPullsCompleted: number; inItemsApplied: number } };
  store: { items: number };
}

async function stats(address: string): Promise<NodeStats> {
  const client = new Client({ nodes: [address], routing: 'proxy', timeoutMs: 5000 });
  try {
    return (await client.stats()) as unknown as NodeStats;
  } finally {
    await client.close();
  }
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Every node sees `count` alive members and has no pull running. */
async function settled(nodes: Proc[], count: number): Promise<boolean> {
  for (const node of nodes) {
    const s = await stats(node.address);
    if (s.cluster.members !== count || s.cluster.movement.pullsInProgress.length > 0) return false;
  }
  return true;
}

const key = (i: number): string => `key:${String(i).padStart(12, '0')}`;

async function fill(client: Client, count: number): Promise<void> {
  for (let start = 0; start < count; start += 500) {
    await client.mset(Array.from({ length: Math.min(500, count - start) }, (_, j) => [key(start + j), VALUE] as const));
  }
}

/**
 * 90 % GET, 10 % SET on random keys from WORKERS workers, each with one request in flight, paced to RATE
 * requests/s in all (0: as fast as they go);
 * per-second hit ratios and one latency histogram per phase.
 */
class Load {
  phase = 'idle';
  readonly histograms = new Map<string, ReturnType<typeof build>>();
  readonly seconds: Array<{ phase: string; hits: number; misses: number }> = [];
  readonly written = new Map<number, string>();
  /** Values of failed writes since the key's last acknowledged one: each may or may not have been applied. */
  readonly unsure = new Map<number, string[]>();
  /** When each key's last write was acknowledged (ms since the load started), for DCACHE_BENCH_DEBUG. */
  readonly ackedAt = new Map<number, number>();
  /** Set while some node pulls or sweeps: requests then count in the 'transfer' histogram too. */
  transferring = false;
  /** Per-second p99 (ms) and events, for DCACHE_BENCH_DEBUG. */
  readonly timeline: Array<{ second: number; phase: string; p99: number; requests: number; transferring: boolean; events: string[] }> = [];
  private secondHistogram = build();
  /** Requests over 10 ms this second, by kind and by the key's owner in the full ring (DCACHE_BENCH_DEBUG). */
  private readonly slow = new Map<string, number>();
  /** The ring of every node the load started with (DCACHE_BENCH_DEBUG). */
  homeRing: HashRing | undefined;
  private secondTransferring = false;
  private events: string[] = [];
  private readonly startedAt = performance.now();
  private running = true;
  private readonly done: Promise<void>;

  constructor(private readonly client: Client) {
    const ticker = setInterval(() => {
      this.seconds.push({ phase: this.phase, hits: 0, misses: 0 });
      this.timeline.push({
        second: Math.round((performance.now() - this.startedAt) / 1000),
        phase: this.phase,
        p99: this.secondHistogram.getValueAtPercentile(99) / 1000,
        requests: this.secondHistogram.totalCount,
        transferring: this.secondTransferring,
        events: [...this.events, ...[...this.slow].map(([what, count]) => `slow ${what} ×${count}`)],
      });
      this.secondHistogram.reset();
      this.secondTransferring = this.transferring;
      this.events = [];
      this.slow.clear();
    }, 1000);
    this.seconds.push({ phase: this.phase, hits: 0, misses: 0 });
    if (process.env['DCACHE_BENCH_DEBUG']) console.log(`load started at ${new Date().toISOString()}`);
    this.done = Promise.all(Array.from({ length: WORKERS }, (_, w) => this.worker(w))).then(() => clearInterval(ticker));
  }

  private async worker(w: number): Promise<void> {
    let due = performance.now() + (w * 1000) / Math.max(1, RATE);
    for (let n = 0; this.running && n < 10_000_000; n++) {
      // Each worker writes its own keys (i ≡ w mod WORKERS): two writers never race on one key, so "the last value
      // acknowledged" is exact and any other value read back is stale.
      const i = Math.floor(Math.random() * Math.floor(KEYS / WORKERS)) * WORKERS + w;
      if (RATE > 0) {
        // Paced: each request is sent when due, or as soon as the worker's previous one is answered. Latency
        // counts from sending: a worker holds one request at a time, so counting from when it was due would
        // charge one slow answer to every request of that worker behind it, which independent callers would
        // not have waited for.
        const early = due - performance.now();
        if (early > 1) await new Promise((resolve) => setTimeout(resolve, early));
        due += (WORKERS * 1000) / RATE;
      }
      const started = performance.now();
      try {
        if (n % 10 === w % 10) {
          const value = `w${w}n${n}`;
          try {
            await this.client.set(key(i), value);
            if (TRACE) this.trace(i, `${value} ok ${(performance.now() - started).toFixed(1)} ms`, started);
          } catch (error) {
            if (TRACE) this.trace(i, `${value} FAILED ${String(error).slice(0, 120)}`, started);
            const unsure = this.unsure.get(i) ?? [];
            unsure.push(value);
            this.unsure.set(i, unsure);
            throw error;
          }
          this.written.set(i, value);
          this.ackedAt.set(i, performance.now() - this.startedAt);
          this.unsure.delete(i);
        } else {
          const value = await this.client.get(key(i));
          const second = this.seconds[this.seconds.length - 1]!;
          if (value === null) second.misses++;
          else second.hits++;
        }
      } catch {
        // Counted as a miss of that second: the request could not be served.
        this.seconds[this.seconds.length - 1]!.misses++;
      }
      const micros = Math.max(1, Math.round((performance.now() - started) * 1000));
      for (const phase of this.transferring ? [this.phase, `${this.phase}:transfer`] : [this.phase]) {
        let histogram = this.histograms.get(phase);
        if (!histogram) this.histograms.set(phase, (histogram = build()));
        histogram.recordValue(micros);
      }
      this.secondHistogram.recordValue(micros);
      if (TRACE && performance.now() - started > 100) {
        const owner = this.homeRing?.lookup(key(i))?.split(':')[1] ?? '?';
        this.events.push(
          `slowest ${(performance.now() - started).toFixed(0)} ms ${n % 10 === w % 10 ? 'set' : 'get'}@${owner} sent at ${(started - this.startedAt).toFixed(0)}`,
        );
      }
      if (TRACE && micros > 10_000) {
        const owner = this.homeRing?.lookup(key(i))?.split(':')[1] ?? '?';
        const what = `${n % 10 === w % 10 ? 'set' : 'get'}@${owner}`;
        this.slow.set(what, (this.slow.get(what) ?? 0) + 1);
      }
      if (this.transferring) this.secondTransferring = true;
    }
  }

  /** Per key, each write's value and outcome (DCACHE_BENCH_DEBUG only). */
  readonly history = new Map<number, string[]>();

  private trace(i: number, what: string, started: number): void {
    const list = this.history.get(i) ?? [];
    list.push(`${(started - this.startedAt).toFixed(0)} ms: ${what}`);
    this.history.set(i, list);
  }

  event(what: string): void {
    this.events.push(what);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }

  worstHitRatio(phase: string): number {
    const ratios = this.seconds.filter((s) => s.phase === phase && s.hits + s.misses > 100).map((s) => s.hits / (s.hits + s.misses));
    return ratios.length === 0 ? NaN : Math.min(...ratios);
  }

  p99(phase: string): number {
    return (this.histograms.get(phase)?.getValueAtPercentile(99) ?? NaN) / 1000;
  }
}

/**
 * Sets load.transferring while any node pulls a range, asking each node's STATS every
 * 200 ms over one proxy client per address (a restarted node keeps its address).
 */
function watchTransfers(load: Load, addresses: () => string[]): () => Promise<void> {
  const clients = new Map<string, Client>();
  let running = true;
  const loop = (async () => {
    for (let n = 0; running && n < 100_000; n++) {
      let any = false;
      for (const address of addresses()) {
        let client = clients.get(address);
        if (!client) clients.set(address, (client = new Client({ nodes: [address], routing: 'proxy', timeoutMs: 1000 })));
        const s = (await client.stats().catch(() => undefined)) as unknown as
          { cluster: { movement: { pullsInProgress: unknown[] } } } | undefined;
        const m = s?.cluster.movement;
        if (m && m.pullsInProgress.length > 0) any = true;
      }
      if (any !== load.transferring) load.event(any ? 'transfers start' : 'transfers end');
      load.transferring = any;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  return async () => {
    running = false;
    await loop;
    await Promise.all([...clients.values()].map((c) => c.close()));
  };
}

/** Share of keys readable, and of written keys whose value is not the last one written. */
let auditNodes: string[] = [];

async function audit(client: Client, load: Load): Promise<{ readable: number; stale: number }> {
  let found = 0;
  let stale = 0;
  for (let start = 0; start < KEYS; start += 500) {
    const batch = Array.from({ length: Math.min(500, KEYS - start) }, (_, j) => start + j);
    let values: Array<Buffer | null>;
    try {
      values = await client.mget(batch.map(key));
    } catch (error) {
      // A failed read is reported with what each node holds in order, then the batch is read key by key.
      console.error(`audit: MGET of keys ${start}… failed: ${String(error)}`);
      for (const address of auditNodes) {
        const s = await stats(address).catch(() => undefined);
        const sections = s as unknown as { routing?: unknown; cluster?: { movement?: unknown } } | undefined;
        console.error(`  ${address}: ${JSON.stringify(sections?.routing)} ${JSON.stringify(sections?.cluster?.movement)}`);
      }
      values = await Promise.all(batch.map((i) => client.get(key(i)).catch(() => null)));
    }
    values.forEach((value, j) => {
      if (value === null) return;
      found++;
      const last = load.written.get(batch[j]!);
      const text = value.toString();
      if (last !== undefined && text !== last && !(load.unsure.get(batch[j]!) ?? []).includes(text)) {
        stale++;
        if (process.env['DCACHE_BENCH_DEBUG'] && stale <= 20) {
          const i = batch[j]!;
          console.log(`stale: ${key(i)} read ${text.slice(0, 20)}, last acknowledged ${last} at ${load.ackedAt.get(i)?.toFixed(0)} ms`);
          for (const line of load.history.get(i) ?? []) console.log(`    ${line}`);
        }
      }
    });
  }
  return { readable: found / KEYS, stale };
}

async function transferRate(): Promise<void> {
  const a = spawnNode(await freePort());
  const client = new Client({ nodes: [a.address], timeoutMs: 10_000 });
  await until('the first node', async () => (await client.ping()) >= 0);
  await fill(client, KEYS);
  const b = spawnNode(await freePort(), a.address);
  let started = 0;
  await until('the pull to start', async () => {
    const s = await stats(b.address);
    if (s.cluster.movement.pullsInProgress.length > 0 || s.cluster.movement.inPullsCompleted > 0) started = performance.now();
    return started > 0;
  });
  await until('the pull to finish', () => settled([a, b], 2));
  const ms = performance.now() - started;
  const items = (await stats(b.address)).cluster.movement.inItemsApplied;
  console.log(`\nTransfer: ${items} items (of ${KEYS}) pulled in ${ms.toFixed(0)} ms = ${Math.round((items / ms) * 1000)} items/s`);
  await client.close();
  for (const p of [a, b]) p.child.kill('SIGKILL');
}

async function rollingRestartAndScaleOut(): Promise<void> {
  const ports = [await freePort(), await freePort(), await freePort()];
  const nodes = [spawnNode(ports[0]!)];
  await until('the seed', async () => (await stats(nodes[0]!.address)) !== undefined);
  nodes.push(spawnNode(ports[1]!, nodes[0]!.address), spawnNode(ports[2]!, nodes[0]!.address));
  await until('3 members', () => settled(nodes, 3));
  const client = new Client({ nodes: nodes.map((n) => n.address), timeoutMs: 5000 });
  await fill(client, KEYS);
  const load = new Load(client);
  load.homeRing = new HashRing();
  load.homeRing.setNodes(nodes.map((n) => n.address));
  const stopWatching = watchTransfers(load, () => nodes.map((n) => n.address));
  load.phase = 'warm-up';
  await new Promise((resolve) => setTimeout(resolve, 2000));
  load.phase = 'idle';
  await new Promise((resolve) => setTimeout(resolve, 3000));
  load.phase = 'restart';
  const restartStarted = performance.now();
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i]!;
    load.event(`SIGTERM ${node.port}`);
    node.child.kill('SIGTERM');
    const code = await node.exited;
    if (code !== 0) throw new Error(`${node.address} exited ${code} on SIGTERM`);
    load.event(`exited ${node.port}`);
    const other = nodes[(i + 1) % nodes.length]!;
    nodes[i] = spawnNode(node.port, other.address);
    await until('the restarted node to rejoin and pull', () => settled(nodes, 3));
    load.event(`settled ${node.port}`);
    if (process.env['DCACHE_BENCH_DEBUG']) {
      for (const n of nodes) {
        const st = (await stats(n.address)) as unknown as { store: { items: number }; cluster: { movement: Record<string, unknown> } };
        console.log(`after restarting ${node.address}: ${n.address} items ${st.store.items} ${JSON.stringify(st.cluster.movement)}`);
      }
    }
  }
  const restartMs = performance.now() - restartStarted;
  load.phase = 'after';
  await new Promise((resolve) => setTimeout(resolve, 2000));
  await load.stop();
  await stopWatching();
  if (process.env['DCACHE_BENCH_DEBUG']) {
    for (const t of load.timeline) {
      console.log(
        `${t.second}s (${((t.second * 1000) | 0) - 1000}–${t.second * 1000} ms) ${t.phase} p99 ${t.p99.toFixed(2)} ms n=${t.requests}${t.transferring ? ' T' : ''} ${t.events.join(', ')}`,
      );
    }
  }
  auditNodes = nodes.map((n) => n.address);
  const afterRestart = await audit(client, load);
  console.log(`\nRolling restart of 3 nodes holding ${KEYS} keys under load (${(restartMs / 1000).toFixed(1)} s)`);
  console.table([
    {
      'readable after': `${(afterRestart.readable * 100).toFixed(2)} %`,
      'stale values': afterRestart.stale,
      'worst 1 s hit ratio during': `${(load.worstHitRatio('restart') * 100).toFixed(1)} %`,
      'p99 idle ms': load.p99('idle').toFixed(2),
      'p99 during ms': load.p99('restart').toFixed(2),
      'p99 during / idle': (load.p99('restart') / load.p99('idle')).toFixed(2),
      'p99 while transferring ms': load.p99('restart:transfer').toFixed(2),
    },
  ]);

  if (restartOnly) {
    await client.close();
    await stopNodes(nodes);
    return;
  }
  const scale = new Load(client);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  scale.phase = 'scale-out';
  const fourth = spawnNode(await freePort(), nodes[0]!.address);
  const joined = performance.now();
  nodes.push(fourth);
  await until('the 4th node to join', async () => (await stats(fourth.address)).cluster.members === 4);
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, 30_000 - (performance.now() - joined))));
  const items = await Promise.all(nodes.map(async (n) => (await stats(n.address)).store.items));
  await scale.stop();
  auditNodes = nodes.map((n) => n.address);
  const afterScale = await audit(client, scale);
  const total = items.reduce((a, b) => a + b, 0);
  console.log('\nScale-out 3 → 4 under load');
  console.table([
    {
      'readable after': `${(afterScale.readable * 100).toFixed(2)} %`,
      'stale values': afterScale.stale,
      // Of the keys the cluster holds: the members it took ranges from still hold their copies until it confirms.
      "4th node's items / keys at 30 s": `${((items[3]! / KEYS) * 100).toFixed(1)} %`,
      '… / all copies held': `${((items[3]! / total) * 100).toFixed(1)} %`,
      'worst 1 s hit ratio': `${(scale.worstHitRatio('scale-out') * 100).toFixed(1)} %`,
    },
  ]);
  await client.close();
  await stopNodes(nodes);
}

/**
 * Kills the nodes; under --cpu-prof they get SIGTERM twice instead (the second skips the handoff),
 * so each writes its profile on the way out.
 */
async function stopNodes(nodes: Proc[]): Promise<void> {
  if (!NODE_ARGS.includes('--cpu-prof')) {
    for (const node of nodes) node.child.kill('SIGKILL');
    return;
  }
  for (const node of nodes) node.child.kill('SIGTERM');
  await new Promise((resolve) => setTimeout(resolve, 200));
  for (const node of nodes) node.child.kill('SIGTERM');
  await Promise.all(nodes.map((node) => node.exited));
}

async function main(): Promise<void> {
  // Always compile: the nodes run dist/, which must be this tree's code.
  const built = spawnSync(
    process.execPath,
    [path.join(__dirname, '..', 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(__dirname, '..', 'tsconfig.json')],
    {
      stdio: 'inherit',
    },
  );
  if (built.status !== 0) throw new Error('tsc failed');
  if (!restartOnly) await transferRate();
  await rollingRestartAndScaleOut();
}

function stopAll(): void {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
}

process.on('exit', stopAll);
void main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
