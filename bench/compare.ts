/**
 * The side-by-side comparison: distributed-cache against redis-server and memcached, each driven by
 * its usual Node client, in one run on this machine, reported as ratios to redis-server.
 *
 *   npm run bench                          microbenchmarks, then this comparison (full: several minutes)
 *   npx tsx bench/compare.ts [--quick]     this comparison alone; --quick takes about a minute
 *
 * Options: --rounds N, --phase-ms N, --memory-keys N, --no-memory, --no-throughput,
 *          --systems redis,redis-ap,memcached,dcache-1,dcache-3   --sizes 100,1024,65536   --modes 1,64   --phases set,get
 *            (also: redis-wait, dcache-3r2, the replicated pair, see below; and the A/B twins)
 *          --cpu-prof   (our nodes and our load generator write .cpuprofile files to bench/results/profiles/)
 *          --node-flags "-r ./x.js --trace-gc"  --loadgen-flags "…"   (extra node.js flags, for diagnosis)
 *          --baseline DIR   (A/B: this build against another checkout's, see below)
 *
 * What runs:
 *  - `npx tsc -p tsconfig.json` first, so our servers run the compiled package (node dist/main.js) and our
 *    Client is loaded from dist/, as users run them (tsx adds overhead to every import).
 *  - redis-server (--save '' --appendonly no), memcached (-m 4096), one distributed-cache node and a 3-node
 *    cluster, each on a free loopback port. A missing redis-server or memcached prints the install command and
 *    its rows are skipped.
 *  - Synchronous copies, only when listed (`--systems redis,redis-wait,dcache-3,dcache-3r2`; they add two
 *    systems' phases to every round, so the default run leaves them out): 'dcache-3r2' is the 3-node cluster
 *    of dcache-3 (smart client, same flags and CPU) with every node at --replicas 2, timed once every node
 *    reports its copies in place; 'redis-wait' is redis-server plus one replica (--replicaof, same flags, same
 *    CPU) driven by ioredis with each SET followed at once by WAIT 1 0 (one SET+WAIT = one operation;
 *    GETs plain, from the primary), timed once the replica's link is up. The report adds R=2 ÷ R=1 and R=2 ÷
 *    redis+WAIT for ops/s and p99 per workload, next to their targets (docs/PERFORMANCE.md, "Replicas";
 *    bench/compare/replicas.ts, replica-report.ts). Memory is not measured for them.
 *  - One load generator process per system (bench/compare/loadgen.ts), so no client's heap or JIT state
 *    colours another's figures. Servers are pinned to CPU 0 and load generators to CPU 1 (taskset) when both
 *    exist: a round trip then crosses CPUs for every system alike.
 *  - Workload: 16-byte keys; values of 100 B, 1 KiB, 64 KiB; SET then GET over a working set that is stored
 *    and read back byte for byte before anything is timed; one request at a time, and 64 in flight. Each
 *    phase is bounded in operations and in time. ops/s and p50/p99/p99.9 (hdr-histogram-js, µs).
 *  - Fairness: for each workload the systems alternate over the rounds, the order rotating by one each round
 *    (A B C D, B C D A, C D A B …) so no system always runs right after the same one: on this machine the slot
 *    after another node's phase measured up to 40 % faster than the one after redis's, for the same build. Medians
 *    are reported.
 *    Ratios are to ioredis with its defaults (the baseline the targets are stated against); a second redis row, ioredis with
 *    enableAutoPipelining, shows the baseline a tuned ioredis user gets (it batches a tick's commands like ours).
 *    CPU used by other processes during each phase is measured (/proc/stat): a phase during which they took
 *    over a quarter of a CPU is run again (at most twice, after a pause), and what remains is reported.
 *  - Memory: fresh servers, N keys of 100-byte values loaded (256 in flight, bounded in time), bytes per key
 *    from the server's own accounting and from its RSS (/proc/PID/status VmRSS), both as deltas over the load.
 *  - Output: the table on stdout, bench/results/latest.{json,md,svg} (--quick: latest-quick.*; a run narrowed
 *    by any other option: latest-custom.*).
 *  - A/B (--baseline DIR): DIR is another checkout of this repository, built (DIR/dist/main.js; made with
 *    `git worktree add DIR <commit> && (cd DIR && npm ci)`). Each of our systems in the run gets a twin,
 *    'dcache-1-base' / 'dcache-3-base', started exactly like ours (flags, CPU, waits) from DIR/dist/main.js and
 *    driven by this build's Client (the protocol is the same). A system and its twin run back to back in every
 *    round, their order swapped from round to round (so neither always runs in the slot after the other), and
 *    the report adds ours ÷ twin for ops/s and p99 ("vs base"). Without --systems: redis, dcache-1,
 *    dcache-1-base. A warning is printed when one build has the native addon and the other does not.
 * Every process started here is ended by PID at the end, on failure and on SIGINT/SIGTERM.
 */
import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { renderSvg } from './compare/chart';
import type { ConnectResult, LoadResult, Reply, Request, RunResult, SystemKind } from './compare/messages';
import {
  cpuSeconds,
  freePort,
  killAllNow,
  machineCpuSeconds,
  pinningAvailable,
  rssBytes,
  sleep,
  spawnPinned,
  stopAll,
  stopChild,
  waitForPort,
  which,
} from './compare/procs';
import {
  type MemoryRow,
  type Sample,
  SYSTEM_LABELS,
  type SystemId,
  abSummary,
  aggregate,
  consoleRows,
  isBaseline,
  markdownTable,
  memoryMarkdown,
  modeName,
  sizeName,
  twinOf,
  verdicts,
} from './compare/report';
import { replicaMarkdown, replicaSummary } from './compare/replica-report';
import {
  type ReplicationStats,
  redisReplicaLine,
  replicasOf,
  replicationLine,
  replicationSettled,
  startRedisWithReplica,
} from './compare/replicas';

const ROOT = path.join(__dirname, '..');
const RESULTS = path.join(__dirname, 'results');
const PROFILES = path.join(RESULTS, 'profiles');
const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const cpuProf = argv.includes('--cpu-prof');

function numberFlag(name: string, fallback: number): number {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(argv[i + 1]);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} needs a positive number`);
  return n;
}
/** An option's argument was missing or wrong, or the baseline is not built: the message says what to do. */
class UsageError extends Error {}

function stringFlag(name: string): string | null {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return null;
  const value = argv[i + 1];
  if (value === undefined || value.startsWith('--')) throw new UsageError(`--${name} needs an argument`);
  return value;
}
function listFlag(name: string): string[] | null {
  const i = argv.indexOf(`--${name}`);
  return i < 0 || argv[i + 1] === undefined
    ? null
    : argv[i + 1]!.split(',')
        .map((s) => s.trim())
        .filter(Boolean);
}

const CONFIG = {
  rounds: numberFlag('rounds', quick ? 3 : 5),
  /**
   * Timed length of each phase. One at a time runs longer: at about 12k round trips a second, a 1 s phase puts
   * only about 120 samples above its p99, and rows within 10 % of redis's p99 flipped from run to run.
   */
  phaseMs: {
    1: numberFlag('phase-ms', quick ? 200 : 3000),
    64: numberFlag('phase-ms', quick ? 200 : 1000),
  } as Record<number, number>,
  warmupMs: quick ? 80 : 300,
  /** Operation bounds per phase (the time bound usually ends a phase first). */
  maxOps: { 1: quick ? 20_000 : 100_000, 64: quick ? 200_000 : 1_000_000 } as Record<number, number>,
  memoryKeys: numberFlag('memory-keys', quick ? 100_000 : 1_000_000),
  memoryMaxMs: 300_000,
  sizes: (listFlag('sizes') ?? ['100', '1024', '65536']).map(Number),
  modes: (listFlag('modes') ?? ['1', '64']).map(Number),
  phases: (listFlag('phases') ?? ['set', 'get']) as Array<'set' | 'get'>,
};

function phaseMsFor(concurrency: number): number {
  return CONFIG.phaseMs[concurrency] ?? CONFIG.phaseMs[64]!;
}

/** Working set per value size: every key is stored and verified before timing; at most about 64 MiB per system. */
function keyCountFor(valueBytes: number): number {
  const cap = quick ? 1_000 : 10_000;
  return Math.max(64, Math.min(cap, Math.floor((64 * 1024 * 1024) / valueBytes)));
}

/** Extra node.js flags for our server processes / the load generators, for diagnosis (e.g. "--trace-gc"). */
const EXTRA_NODE_FLAGS = (listFlag('node-flags') ?? []).flatMap((f) => f.split(' ')).filter(Boolean);
const EXTRA_LOADGEN_FLAGS = (listFlag('loadgen-flags') ?? []).flatMap((f) => f.split(' ')).filter(Boolean);
const PINNED = pinningAvailable();
/** A phase during which other processes used more than this share of a CPU is rerun, at most MAX_RETRIES times. */
const NOISY_CPU = 0.25;
const MAX_RETRIES = 2;
const SERVER_CPU = PINNED ? 0 : null;
const LOADGEN_CPU = PINNED ? 1 : null;
const NODE_BIN = path.join(ROOT, 'dist', 'main.js');
/** A/B runs: the server of the other checkout's build that the twins run (--baseline DIR; set by main()). */
let BASELINE_BIN: string | null = null;
const LOADGEN = path.join(__dirname, 'compare', 'loadgen.ts');

// ---------------------------------------------------------------------------------------------------------
// Servers

interface Server {
  processes: ChildProcess[];
  nodes: string[];
}

async function startRedis(): Promise<Server> {
  const port = await freePort();
  const child = spawnPinned(
    SERVER_CPU,
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  await waitForPort(child, port, 'redis-server');
  return { processes: [child], nodes: [`127.0.0.1:${port}`] };
}

async function startMemcached(): Promise<Server> {
  const port = await freePort();
  const args = ['-p', String(port), '-U', '0', '-m', '4096', '-l', '127.0.0.1'];
  if (process.getuid?.() === 0) args.push('-u', 'root'); // memcached refuses to run as root without -u
  const child = spawnPinned(SERVER_CPU, 'memcached', args, { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitForPort(child, port, 'memcached');
  return { processes: [child], nodes: [`127.0.0.1:${port}`] };
}

/**
 * One node of ours (bin NODE_BIN) or of the baseline's build (BASELINE_BIN), started the same way either way.
 * replicas > 1 adds --replicas (dcache-3r2); at 1 no flag, so dcache-3 runs exactly as before the option existed.
 */
async function startDcacheNode(bin: string, port: number, join: string | null, replicas: number): Promise<ChildProcess> {
  const profName = `node-${bin === NODE_BIN ? '' : 'base-'}${port}-${Date.now()}.cpuprofile`;
  const nodeFlags = cpuProf ? ['--cpu-prof', '--cpu-prof-dir', PROFILES, '--cpu-prof-name', profName] : [];
  nodeFlags.push(...EXTRA_NODE_FLAGS);
  const args = [...nodeFlags, bin, '--addr', `127.0.0.1:${port}`, '--max-memory', '2gb', '--log-level', 'error'];
  if (join !== null) args.push('--join', join);
  if (replicas > 1) args.push('--replicas', String(replicas));
  const child = spawnPinned(SERVER_CPU, process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitForPort(child, port, `distributed-cache node :${port}${bin === NODE_BIN ? '' : ` (baseline ${bin})`}`);
  return child;
}

async function startDcache(count: number, bin: string, replicas = 1): Promise<Server> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) ports.push(await freePort());
  const processes: ChildProcess[] = [];
  const seed = `127.0.0.1:${ports[0]}`;
  for (let i = 0; i < count; i++) processes.push(await startDcacheNode(bin, ports[i]!, i === 0 ? null : seed, replicas));
  const nodes = ports.map((p) => `127.0.0.1:${p}`);
  if (count > 1) await waitForCluster(nodes, replicas);
  return { processes, nodes };
}

interface DcacheStats {
  cluster?: { members?: number; owners?: number; epoch?: number };
  server?: { commands?: number };
  routing?: { forwarded?: number; servedForPeers?: number };
  replication?: ReplicationStats;
}

async function dcacheStats(node: string): Promise<DcacheStats> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Client } = require(path.join(ROOT, 'dist', 'client')) as typeof import('../src/client');
  const client = new Client({ nodes: [node], timeoutMs: 2000 });
  try {
    return (await client.stats()) as DcacheStats;
  } finally {
    await client.close();
  }
}

/**
 * Every node sees every member alive and owning a share of the ring, and with replicas > 1 has its copies in
 * place (bounded: 30 s).
 */
async function waitForCluster(nodes: string[], replicas: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const stats = await Promise.all(nodes.map((n) => dcacheStats(n).catch(() => null)));
    const converged = stats.every((s) => s?.cluster?.members === nodes.length && s.cluster.owners === nodes.length);
    if (converged && (replicas === 1 || stats.every((s) => replicationSettled(s?.replication, replicas)))) return;
    await sleep(100);
  }
  throw new Error(`the ${nodes.length}-node cluster did not converge within 30 s`);
}

// ---------------------------------------------------------------------------------------------------------
// Load generators

class LoadGen {
  private waiting: { resolve: (v: unknown) => void; reject: (e: Error) => void } | null = null;
  private exited = false;

  constructor(
    readonly system: SystemId,
    private readonly child: ChildProcess,
  ) {
    child.on('message', (reply: Reply) => {
      const w = this.waiting;
      this.waiting = null;
      if (w === null) return;
      if (reply.ok) w.resolve(reply.value);
      else w.reject(new Error(`${system} load generator: ${reply.error}`));
    });
    child.once('exit', (code, signal) => {
      this.exited = true;
      const w = this.waiting;
      this.waiting = null;
      w?.reject(new Error(`${system} load generator exited (${code ?? signal})`));
    });
  }

  cpuSeconds(): number {
    return this.child.pid === undefined ? 0 : cpuSeconds(this.child.pid);
  }

  call<T>(request: Request, timeoutMs = 600_000): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.system} load generator is gone`));
    if (this.waiting !== null) return Promise.reject(new Error('one request at a time'));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        reject(new Error(`${this.system} load generator: ${request.op} took over ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting = {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.child.send(request);
    });
  }

  /** Asks the load generator to exit by itself (so a --cpu-prof profile gets written), then ends it by PID. */
  async close(): Promise<void> {
    if (!this.exited) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      await this.call({ op: 'close' }, 10_000).catch(() => undefined);
      await Promise.race([exited, sleep(10_000)]);
    }
    await stopChild(this.child, 2000);
  }
}

function startLoadGen(system: SystemId): LoadGen {
  const prof =
    cpuProf && system.startsWith('dcache')
      ? ['--cpu-prof', '--cpu-prof-dir', PROFILES, '--cpu-prof-name', `loadgen-${system}-${Date.now()}.cpuprofile`]
      : [];
  const child = spawnPinned(LOADGEN_CPU, process.execPath, [...prof, ...EXTRA_LOADGEN_FLAGS, '-r', 'tsx/cjs', LOADGEN], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new LoadGen(system, child);
}

function connectLoadGen(loadgen: LoadGen, system: SystemId, server: Server): Promise<ConnectResult> {
  return loadgen.call<ConnectResult>({
    op: 'connect',
    kind: kindOf(system),
    nodes: server.nodes,
    smart: system === 'dcache-3' || system === 'dcache-3r2' || system === 'dcache-3-base',
    autoPipelining: system === 'redis-ap',
    waitReplicas: system === 'redis-wait' ? 1 : 0,
  });
}

/** items starting at index `by` (mod length), wrapping around. */
function rotated<T>(items: readonly T[], by: number): T[] {
  const k = items.length === 0 ? 0 : by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/**
 * The order of round `round` (from 0): the systems rotated by one each round, except that one of ours and its
 * baseline twin (A/B runs) move as one unit and run back to back, their order swapped every round. With an even
 * number of units the swap also shifts by one every full rotation, so rotation and swap do not stay in step
 * (with two units they would: the twin would always be the one after redis). Without twins: plain rotation.
 */
function roundOrder<T extends { system: SystemId }>(items: readonly T[], round: number): T[] {
  const units: T[][] = [];
  for (const item of items) {
    const unit = units.find((u) => u.some((x) => twinOf(x.system) === item.system || twinOf(item.system) === x.system));
    if (unit === undefined) units.push([item]);
    else if (isBaseline(item.system)) unit.push(item);
    else unit.unshift(item);
  }
  const n = units.length;
  const swap = (n % 2 === 1 ? round : round + Math.floor(round / n)) % 2 === 1;
  return rotated(units, round).flatMap((u) => (swap ? [...u].reverse() : u));
}

function kindOf(system: SystemId): SystemKind {
  return system === 'redis' || system === 'redis-ap' || system === 'redis-wait' ? 'redis' : system === 'memcached' ? 'memcached' : 'dcache';
}

async function startSystem(system: SystemId): Promise<Server> {
  if (system === 'redis' || system === 'redis-ap') return startRedis();
  if (system === 'redis-wait') return startRedisWithReplica(SERVER_CPU);
  if (system === 'memcached') return startMemcached();
  const count = system === 'dcache-1' || system === 'dcache-1-base' ? 1 : 3;
  if (!isBaseline(system)) return startDcache(count, NODE_BIN, replicasOf(system));
  if (BASELINE_BIN === null) throw new UsageError(`${system} needs --baseline DIR`);
  return startDcache(count, BASELINE_BIN);
}

// ---------------------------------------------------------------------------------------------------------
// Phases

interface Live {
  system: SystemId;
  server: Server;
  loadgen: LoadGen;
  routing: ConnectResult;
}

function serverCpuSeconds(server: Server): number {
  return server.processes.reduce((sum, p) => sum + (p.pid === undefined ? 0 : cpuSeconds(p.pid)), 0);
}

async function throughput(
  systems: SystemId[],
  log: (line: string) => void,
): Promise<{ samples: Sample[]; routing: Record<string, ConnectResult>; forwarded: Record<string, number>; replication: string[] }> {
  const live: Live[] = [];
  const routing: Record<string, ConnectResult> = {};
  for (const system of systems) {
    const server = await startSystem(system);
    const loadgen = startLoadGen(system);
    const r = await connectLoadGen(loadgen, system, server);
    routing[system] = r;
    if (r.note !== undefined) log(`  note: ${SYSTEM_LABELS[system]}: ${r.note}`);
    live.push({ system, server, loadgen, routing: r });
  }
  const samples: Sample[] = [];
  let noisy = 0;
  let retried = 0;
  const before = new Map<string, DcacheStats[]>();
  const clusters: SystemId[] = ['dcache-3', 'dcache-3r2', 'dcache-3-base'];
  for (const l of live) if (clusters.includes(l.system)) before.set(l.system, await Promise.all(l.server.nodes.map(dcacheStats)));
  let firstWorkload = true;
  for (const size of CONFIG.sizes) {
    const keyCount = keyCountFor(size);
    for (const concurrency of CONFIG.modes) {
      log(`\n${sizeName(size)} values, ${modeName(concurrency)} (${keyCount} keys, ${CONFIG.rounds} rounds × ${live.length} systems)`);
      // Every workload starts with fresh load generators. A process that has just pushed 300k small requests a
      // second keeps a grown young generation, after which each 64 KiB result Buffer lives until a full
      // mark-compact; the system that was fastest in the earlier rows would carry the most of that into this
      // one. Fresh processes give every system the same start (prepare and warm-up run in each).
      if (!firstWorkload) {
        for (const l of live) {
          await l.loadgen.close();
          l.loadgen = startLoadGen(l.system);
          await connectLoadGen(l.loadgen, l.system, l.server);
        }
      }
      firstWorkload = false;
      for (let round = 1; round <= CONFIG.rounds; round++) {
        const parts: string[] = [];
        for (const l of roundOrder(live, round - 1)) {
          await l.loadgen.call({ op: 'prepare', valueBytes: size, keyCount, concurrency, warmupMs: CONFIG.warmupMs });
          for (const phase of CONFIG.phases) {
            // A phase during which other processes took a real share of the CPUs is run again (at most
            // MAX_RETRIES times, after a pause): the machine is shared and a neighbour's burst is not a result.
            for (let attempt = 0; ; attempt++) {
              const cpu0 = serverCpuSeconds(l.server);
              const ours0 = cpu0 + l.loadgen.cpuSeconds() + process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6;
              const machine0 = machineCpuSeconds();
              const t0 = performance.now();
              const result = await l.loadgen.call<RunResult>({
                op: 'run',
                phase,
                valueBytes: size,
                keyCount,
                concurrency,
                maxOps: CONFIG.maxOps[concurrency] ?? 100_000 * concurrency,
                maxMs: phaseMsFor(concurrency),
              });
              const wall = (performance.now() - t0) / 1000;
              const cpu1 = serverCpuSeconds(l.server);
              const serverCpu = (cpu1 - cpu0) / wall;
              const ours1 = cpu1 + l.loadgen.cpuSeconds() + process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6;
              const otherCpu = Math.max(0, (machineCpuSeconds() - machine0 - (ours1 - ours0)) / wall);
              if (otherCpu > NOISY_CPU && attempt < MAX_RETRIES) {
                retried++;
                await sleep(quick ? 500 : 2000);
                continue;
              }
              if (otherCpu > NOISY_CPU) noisy++;
              samples.push({
                ...result,
                system: l.system,
                valueBytes: size,
                concurrency,
                phase,
                round,
                serverCpu,
                otherCpu,
                retries: attempt,
              });
              parts.push(`${l.system} ${phase} ${(result.opsPerSec / 1000).toFixed(1)}k`);
              if (result.errors > 0 || result.wrong > 0)
                log(`  ! ${l.system} ${phase}: ${result.errors} errors, ${result.wrong} wrong values`);
              break;
            }
          }
        }
        const notes = [
          retried > 0 ? `${retried} phases rerun: other processes were busy` : '',
          noisy > 0 ? `${noisy} kept although still busy` : '',
        ].filter(Boolean);
        log(`  round ${round}: ${parts.join(' · ')}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}`);
        noisy = 0;
        retried = 0;
      }
    }
  }
  // How much the cluster's nodes forwarded: with a smart client, next to nothing. And what the replicated
  // systems' copies did: a copy that failed or a replica that fell behind would make their figures meaningless.
  const forwarded: Record<string, number> = {};
  const replication: string[] = [];
  for (const l of live) {
    if (l.system === 'redis-wait') replication.push(await redisReplicaLine(SYSTEM_LABELS[l.system], l.server.nodes));
    const b = before.get(l.system);
    if (b === undefined) continue;
    const after = await Promise.all(l.server.nodes.map(dcacheStats));
    if (replicasOf(l.system) > 1)
      replication.push(
        replicationLine(
          SYSTEM_LABELS[l.system],
          b.map((x) => x.replication),
          after.map((x) => x.replication),
        ),
      );
    let fwd = 0;
    let commands = 0;
    after.forEach((a, i) => {
      fwd += (a.routing?.forwarded ?? 0) - (b[i]?.routing?.forwarded ?? 0);
      commands += (a.server?.commands ?? 0) - (b[i]?.server?.commands ?? 0);
    });
    const served = after.reduce((n, a, i) => n + (a.routing?.servedForPeers ?? 0) - (b[i]?.routing?.servedForPeers ?? 0), 0);
    // Client requests = commands that did not arrive forwarded from a peer.
    forwarded[l.system] = fwd / Math.max(1, commands - served);
  }
  for (const l of live) {
    await l.loadgen.close();
    for (const p of l.server.processes) await stopChild(p);
  }
  return { samples, routing, forwarded, replication };
}

async function memory(systems: SystemId[], log: (line: string) => void): Promise<MemoryRow[]> {
  const rows: MemoryRow[] = [];
  const accountingName: Record<string, string> = {
    redis: 'INFO used_memory',
    memcached: 'stats bytes',
    'dcache-1': 'STATS store.bytesUsed',
    'dcache-1-base': 'STATS store.bytesUsed',
  };
  for (const system of systems) {
    if (!(system in accountingName)) continue;
    const server = await startSystem(system);
    const loadgen = startLoadGen(system);
    try {
      await loadgen.call({ op: 'connect', kind: kindOf(system), nodes: server.nodes, smart: false });
      const pid = server.processes[0]!.pid!;
      await sleep(300);
      const acc0 = await loadgen.call<number>({ op: 'accounting' });
      const rss0 = rssBytes(pid);
      const loaded = await loadgen.call<LoadResult>({
        op: 'load',
        count: CONFIG.memoryKeys,
        valueBytes: 100,
        window: 256,
        maxMs: CONFIG.memoryMaxMs,
      });
      await sleep(1000);
      const acc1 = await loadgen.call<number>({ op: 'accounting' });
      const rss1 = rssBytes(pid);
      const n = Math.max(1, loaded.loaded);
      rows.push({
        system,
        label: SYSTEM_LABELS[system],
        keys: loaded.loaded,
        valueBytes: 100,
        accountingPerKey: (acc1 - acc0) / n,
        accountingName: accountingName[system]!,
        rssPerKey: (rss1 - rss0) / n,
        rssBefore: rss0,
        rssAfter: rss1,
        loadSeconds: loaded.elapsedMs / 1000,
        errors: loaded.errors,
      });
      const m = rows[rows.length - 1]!;
      log(
        `  ${SYSTEM_LABELS[system].padEnd(28)} ${loaded.loaded} keys in ${m.loadSeconds.toFixed(1)} s: ${m.accountingPerKey.toFixed(0)} B/key (${m.accountingName}), ${m.rssPerKey.toFixed(0)} B/key RSS`,
      );
      if (loaded.loaded < CONFIG.memoryKeys || loaded.errors > 0)
        log(`  ! ${system}: loaded ${loaded.loaded} of ${CONFIG.memoryKeys} (${loaded.errors} errors)`);
    } finally {
      await loadgen.close();
      for (const p of server.processes) await stopChild(p);
    }
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------------------

function version(command: string, args: string[]): string {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  return (r.stdout || r.stderr || '').trim().split('\n')[0] ?? '';
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

// ---------------------------------------------------------------------------------------------------------
// A/B: the baseline checkout

/** One line comparing our node's memory per key with the baseline twin's, null when the run has not both. */
function memoryVsBase(rows: MemoryRow[]): string | null {
  const ours = rows.find((m) => m.system === 'dcache-1');
  const base = rows.find((m) => m.system === 'dcache-1-base');
  if (ours === undefined || base === undefined) return null;
  return (
    `memory per key, this build vs baseline: ${ours.rssPerKey.toFixed(0)} B vs ${base.rssPerKey.toFixed(0)} B RSS (${(ours.rssPerKey / base.rssPerKey).toFixed(2)}×), ` +
    `own accounting ${ours.accountingPerKey.toFixed(0)} B vs ${base.accountingPerKey.toFixed(0)} B (${(ours.accountingPerKey / base.accountingPerKey).toFixed(2)}×)`
  );
}

interface BaselineInfo {
  dir: string;
  commit: string;
  /** Files under DIR/src that differ from its commit (git status). */
  srcChanges: number;
  /** Whether each build's nodes hash with the native addon or the TypeScript fallback. */
  native: { ours: string; baseline: string };
}

/** DIR/dist/main.js must exist; if not, how to make it (a UsageError: printed without a stack, exit 2). */
function requireBaselineBuild(dir: string, shown: string): void {
  if (fs.existsSync(path.join(dir, 'dist', 'main.js'))) return;
  throw new UsageError(
    [
      `--baseline ${shown}: ${path.join(shown, 'dist', 'main.js')} not found. The baseline is another checkout of this repository, built:`,
      '',
      `  git worktree add ${shown} <commit> && (cd ${shown} && npm ci)`,
      '',
      `npm ci installs its dependencies, builds its native addon and compiles its dist/. Afterwards: git worktree remove ${shown}`,
    ].join('\n'),
  );
}

/** The newest modification time of the files under dir (0 when there are none). */
function newestMtime(dir: string): number {
  let newest = 0;
  const entries = fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }) : [];
  for (const e of entries) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : fs.statSync(p).mtimeMs);
  }
  return newest;
}

/** How a build's node hashes: "native addon", or "TypeScript fallback (why)", read by loading its dist/ in a child. */
function nativeStatus(root: string): string {
  const script =
    "try { const n = require(process.argv[1]); console.log(n.isNativeAccelerationEnabled ? 'native addon' : 'TypeScript fallback (' + n.nativeUnavailableReason + ')'); }" +
    " catch (e) { console.log('unknown (' + String(e).split('\\n')[0] + ')'); }";
  const r = spawnSync(process.execPath, ['-e', script, path.join(root, 'dist', 'consistent', 'native.js')], {
    cwd: root,
    encoding: 'utf8',
  });
  return r.stdout?.trim() || 'unknown';
}

function inspectBaseline(dir: string, log: (line: string) => void): BaselineInfo {
  const git = (args: string[]) => spawnSync('git', ['-C', dir, ...args], { encoding: 'utf8' }).stdout?.trim() ?? '';
  const info: BaselineInfo = {
    dir,
    commit: git(['rev-parse', '--short', 'HEAD']) || '?',
    srcChanges: git(['status', '--porcelain', '--', 'src']).split('\n').filter(Boolean).length,
    native: { ours: nativeStatus(ROOT), baseline: nativeStatus(dir) },
  };
  log(
    `A/B: baseline ${dir} (commit ${info.commit}${info.srcChanges > 0 ? ` + ${info.srcChanges} changed files in src/` : ''}); ` +
      `native: this build ${info.native.ours}, baseline ${info.native.baseline}`,
  );
  if (path.resolve(dir) === path.resolve(ROOT))
    log('  note: the baseline is this checkout: an A/A run (how far apart the same build lands)');
  if (newestMtime(path.join(dir, 'src')) > fs.statSync(path.join(dir, 'dist', 'main.js')).mtimeMs) {
    log(`  ! files in ${path.join(dir, 'src')} are newer than its dist/main.js: rebuild with (cd ${dir} && npx tsc -p tsconfig.json)`);
  }
  if (info.native.ours !== info.native.baseline) {
    log(
      `  ! the two builds differ in native acceleration (hashing and ring lookups), which the A/B figures will include: ` +
        `build the baseline's addon with (cd ${dir} && node scripts/install.js), as npm ci does, or set DCACHE_FORCE_JS=1 for both`,
    );
  }
  return info;
}

async function main(): Promise<void> {
  const log = (line: string) => console.log(line);
  console.log(`distributed-cache comparison${quick ? ' (--quick)' : ''}: ${new Date().toISOString()}`);
  const baselineFlag = stringFlag('baseline');
  const baselineDir = baselineFlag === null ? null : path.resolve(baselineFlag);
  if (baselineFlag !== null && baselineDir !== null) {
    requireBaselineBuild(baselineDir, baselineFlag);
    BASELINE_BIN = path.join(baselineDir, 'dist', 'main.js');
  }
  // An A/B run defaults to redis (the reference row, when installed) and one node of each build.
  const listed =
    listFlag('systems') ?? (baselineDir === null ? ['redis', 'redis-ap', 'memcached', 'dcache-1', 'dcache-3'] : ['redis', 'dcache-1']);
  for (const s of listed) {
    if (!(s in SYSTEM_LABELS)) throw new UsageError(`unknown system ${s}: one of ${Object.keys(SYSTEM_LABELS).join(', ')}`);
    if (baselineDir === null && isBaseline(s as SystemId)) throw new UsageError(`${s} runs the baseline's build: it needs --baseline DIR`);
  }

  // The code measured, read when dist/ is built from it: the commit, and whether src/ had uncommitted changes
  // (the checkout is shared, and src/ may change while the comparison runs; dist/ does not).
  const git = (args: string[]) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() ?? '';
  const code = {
    commit: git(['rev-parse', '--short', 'HEAD']),
    srcChanges: git(['status', '--porcelain', '--', 'src']).split('\n').filter(Boolean).length,
  };
  log('building dist/ (npx tsc -p tsconfig.json) so servers and our client run compiled, as users run them…');
  const tsc = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (tsc.status !== 0) {
    if (!fs.existsSync(NODE_BIN) || !fs.existsSync(path.join(ROOT, 'dist', 'client', 'index.js')))
      throw new Error('tsc failed and there is no dist/ to run');
    log('  ! tsc failed: running the dist/ already there');
  }
  if (cpuProf) fs.mkdirSync(PROFILES, { recursive: true });
  const baseline = baselineDir === null ? null : inspectBaseline(baselineDir, log);

  // With --baseline every one of our systems gets its twin, listed right after it.
  const wanted: SystemId[] = [];
  for (const s of listed as SystemId[]) {
    const twin = twinOf(s);
    for (const id of baseline === null || twin === null ? [s] : [s, twin]) if (!wanted.includes(id)) wanted.push(id);
  }
  const systems: SystemId[] = [];
  const missing: string[] = [];
  for (const s of wanted) {
    const binary = kindOf(s) === 'redis' ? 'redis-server' : s === 'memcached' ? 'memcached' : null;
    if (binary !== null && which(binary) === null) {
      if (!missing.includes(binary)) missing.push(binary);
    } else systems.push(s);
  }
  if (missing.length > 0) {
    log(`\n! ${missing.join(' and ')} not installed: their rows are skipped. Install with: apt-get install -y redis-server memcached`);
  }
  const placement = PINNED
    ? 'servers pinned to CPU 0, load generators to CPU 1 (taskset), the same for every system'
    : `not pinned (${which('taskset') === null ? 'taskset missing' : 'CPUs 0 and 1 not both available'}): figures are noisier`;
  log(`CPU placement: ${placement}`);
  log(
    `workload: 16-byte keys; values ${CONFIG.sizes.map(sizeName).join(', ')}; ${CONFIG.modes.map(modeName).join(' and ')}; ` +
      `${CONFIG.rounds} rounds alternating systems (the order rotating each round${baseline === null ? '' : '; ours and its baseline twin back to back, their order swapped each round'}), ≤ ${CONFIG.modes.map((c) => `${phaseMsFor(c)} ms per phase ${modeName(c)}`).join(', ')}; medians reported`,
  );

  const started = Date.now();
  let samples: Sample[] = [];
  let routing: Record<string, ConnectResult> = {};
  let forwarded: Record<string, number> = {};
  let replication: string[] = [];
  if (!argv.includes('--no-throughput')) ({ samples, routing, forwarded, replication } = await throughput(systems, log));
  let memoryRows: MemoryRow[] = [];
  if (!argv.includes('--no-memory')) {
    log(`\nmemory: ${CONFIG.memoryKeys.toLocaleString('en-US')} keys of 100-byte values into a fresh server each (256 in flight)`);
    memoryRows = await memory(systems, log);
  }

  const rows = aggregate(samples, systems);
  const verdictList = verdicts(rows, memoryRows);
  const ab = abSummary(rows);
  const replicated = replicaSummary(rows);
  if (rows.length > 0) {
    console.log(
      `\nthroughput and latency (median of ${CONFIG.rounds} rounds; ratios to ioredis → redis-server in this run; cpu = load generator / server share of one CPU` +
        `${baseline === null ? '' : `; vs base = this build ÷ the baseline's (${baseline.commit}): ops/s > 1 is faster, p99 < 1 is better`})`,
    );
    console.table(consoleRows(rows));
  }
  if (ab.length > 0 && baseline !== null) {
    console.log(`\nA/B: this build (${code.commit}) ÷ baseline (${baseline.commit}), medians; ops/s > 1 is faster, p99 < 1 is better`);
    for (const line of ab) console.log(`  ${line}`);
  }
  if (replicated.lines.length > 0) {
    console.log(`\n${replicated.heading}`);
    for (const line of replicated.lines) console.log(`  ${line}`);
  }
  if (samples.length > 0) {
    const others = samples.map((x) => x.otherCpu).sort((a, b) => a - b);
    const busy = others.filter((x) => x > NOISY_CPU).length;
    log(
      `other processes on this machine during the timed phases: median ${Math.round(others[others.length >> 1]! * 100)}% of a CPU, max ${Math.round(others[others.length - 1]! * 100)}%; ` +
        `${busy} of ${others.length} phases kept above ${NOISY_CPU * 100}% after ${samples.reduce((n, x) => n + x.retries, 0)} reruns` +
        `${busy > 0 ? ' (medians over alternating rounds damp this; rerun on a quiet machine for cleaner figures)' : ''}`,
    );
  }
  for (const cluster of ['dcache-3', 'dcache-3r2', 'dcache-3-base'] as const) {
    const r = routing[cluster];
    if (r === undefined) continue;
    const share = forwarded[cluster];
    log(
      `${SYSTEM_LABELS[cluster]}: client routing '${r.routing}'${share === undefined ? '' : `, ${(share * 100).toFixed(1)}% of requests forwarded between nodes`}`,
    );
  }
  for (const line of replication) log(line);
  if (memoryRows.length > 0) {
    console.log('\nmemory per key (deltas over the load ÷ keys)');
    console.table(
      memoryRows.map((m) => ({
        system: m.label,
        keys: m.keys,
        [`own accounting`]: `${m.accountingPerKey.toFixed(0)} B (${m.accountingName})`,
        RSS: `${m.rssPerKey.toFixed(0)} B`,
      })),
    );
  }
  const memoryAb = memoryVsBase(memoryRows);
  if (memoryAb !== null) log(memoryAb);
  if (verdictList.length > 0) {
    console.log('\ntargets');
    for (const v of verdictList)
      console.log(`  ${v.met === true ? 'MET   ' : v.met === false ? 'MISSED' : 'N/A   '} ${v.target}: ${v.detail}`);
  }

  const cpuModel = os.cpus()[0]?.model ?? '?';
  const meta = {
    date: new Date().toISOString(),
    quick,
    durationSeconds: Math.round((Date.now() - started) / 1000),
    machine: {
      cpus: os.cpus().length,
      cpuModel,
      platform: `${os.type()} ${os.release()}`,
      memoryGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    },
    placement,
    pinned: PINNED,
    code,
    versions: {
      node: process.version,
      redisServer: which('redis-server') ? `redis-server ${version('redis-server', ['--version']).match(/v=(\S+)/)?.[1] ?? '?'}` : null,
      memcached: which('memcached') ? version('memcached', ['-V']) : null,
      ioredis: packageVersion('ioredis'),
      memjs: packageVersion('memjs'),
    },
    config: CONFIG,
    missing,
    routing,
    clusterForwardedShare: forwarded['dcache-3'] ?? null,
    replicatedClusterForwardedShare: forwarded['dcache-3r2'] ?? null,
    replication,
    baseline: baseline === null ? null : { ...baseline, clusterForwardedShare: forwarded['dcache-3-base'] ?? null },
  };
  fs.mkdirSync(RESULTS, { recursive: true });
  // A run narrowed by flags (profiling, a subset) must not overwrite the full results the README quotes.
  const custom = [
    '--rounds',
    '--phase-ms',
    '--memory-keys',
    '--no-memory',
    '--no-throughput',
    '--systems',
    '--sizes',
    '--modes',
    '--phases',
    '--cpu-prof',
    '--node-flags',
    '--loadgen-flags',
    '--baseline',
  ].some((f) => argv.includes(f));
  const base = path.join(RESULTS, custom ? 'latest-custom' : quick ? 'latest-quick' : 'latest');
  fs.writeFileSync(
    `${base}.json`,
    `${JSON.stringify({ ...meta, rows, memory: memoryRows, targets: verdictList, replicaComparison: replicated.lines, samples }, null, 2)}\n`,
  );
  const baselineNote =
    baseline === null
      ? ''
      : ` · baseline commit ${baseline.commit}${baseline.srcChanges > 0 ? ` + ${baseline.srcChanges} changed files in src/` : ''}`;
  const subtitle = `${meta.date.slice(0, 10)} · commit ${code.commit}${code.srcChanges > 0 ? ` + ${code.srcChanges} changed files in src/` : ''}${baselineNote} · ${os.cpus().length} vCPU ${cpuModel} · node ${process.version} · ${placement} · ${CONFIG.rounds} rounds${quick ? ' (--quick)' : ''}`;
  fs.writeFileSync(`${base}.svg`, renderSvg(rows, memoryRows, systems, subtitle));
  const md = [
    `Measured ${meta.date.slice(0, 10)} (commit ${code.commit}${code.srcChanges > 0 ? ` with uncommitted changes in src/` : ''}) on ${os.cpus().length} vCPU (${cpuModel}), node ${process.version}, ${meta.versions.redisServer ?? 'no redis-server'}, ${meta.versions.memcached ?? 'no memcached'}; ${placement}; median of ${CONFIG.rounds} rounds.`,
    ...(baseline === null
      ? []
      : [
          '',
          `A/B against the baseline build at commit ${baseline.commit}${baseline.srcChanges > 0 ? ` with uncommitted changes in src/` : ''} (${baseline.dir}; native: this build ${baseline.native.ours}, baseline ${baseline.native.baseline}): "vs base" is this build ÷ the baseline's; ops/s > 1 is faster, p99 < 1 is better.`,
        ]),
    '',
    markdownTable(rows),
    '',
    ...(ab.length > 0 ? [ab.map((line) => `- ${line.replace(/ {2,}/g, ' ')}`).join('\n'), ''] : []),
    ...replicaMarkdown(replicated),
    ...(memoryAb === null ? [] : [memoryAb, '']),
    memoryRows.length > 0
      ? `Memory, ${memoryRows[0]!.keys.toLocaleString('en-US')} keys of 16 B + 100 B:\n\n${memoryMarkdown(memoryRows)}`
      : '',
    '',
  ].join('\n');
  fs.writeFileSync(`${base}.md`, md);
  log(`\nwritten: ${path.relative(ROOT, base)}.json, .md, .svg${cpuProf ? `; profiles in ${path.relative(ROOT, PROFILES)}/` : ''}`);
}

let exiting = false;
async function shutdown(code: number): Promise<never> {
  if (!exiting) {
    exiting = true;
    await stopAll().catch(() => undefined);
  }
  process.exit(code);
}
process.on('exit', killAllNow);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    console.error(`\n${signal}: stopping every process started by the comparison`);
    void shutdown(130);
  });
}

main().then(
  () => shutdown(0),
  (error: unknown) => {
    // After SIGINT the children going away is expected, not an error worth a stack trace; nor is a usage error.
    if (error instanceof UsageError) console.error(error.message);
    else if (!exiting) console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    void shutdown(exiting ? 130 : error instanceof UsageError ? 2 : 1);
  },
);
