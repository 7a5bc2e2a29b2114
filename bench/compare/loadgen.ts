/**
 * One load generator: a child process (pinned to the load-generator CPU by bench/compare.ts) that drives ONE
 * system through its usual Node client, on the conductor's orders (messages.ts):
 *
 *   redis-server  ← ioredis (default options: one connection, commands written as issued), and as a second
 *                   row with enableAutoPipelining (the commands of one tick leave in one write, as ours do)
 *                   and, with one replica, SET+WAIT 1 0 per write (a synchronous copy, like ours at --replicas 2)
 *   memcached     ← memjs (binary protocol, one connection)
 *   our node(s)   ← Client from dist/ (the compiled package, as users run it), routing 'smart' for the cluster
 *
 * Every system gets the same keys (16-byte strings), the same value Buffers and the same loop, so the only
 * thing that differs is client + server. Each system has its own process so no client's garbage or JIT state
 * colours another's figures, and the conductor starts fresh ones for every workload (value size × mode) so no
 * earlier workload's garbage colours a later one's (see bench/compare.ts).
 */
import * as path from 'node:path';
import { type PerformanceEntry, PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import { build } from 'hdr-histogram-js';
import Redis from 'ioredis';
import type { Client as DcacheClient, ClientOptions } from '../../src/client';
import {
  type ConnectRequest,
  type ConnectResult,
  type LoadRequest,
  type LoadResult,
  type PrepareRequest,
  type Reply,
  type Request,
  type RunRequest,
  type RunResult,
  keyName,
} from './messages';

interface Driver {
  set(key: string, value: Buffer): Promise<unknown>;
  get(key: string): Promise<Buffer | null>;
  /** The server's own count of bytes used (redis used_memory, memcached bytes, our store.bytesUsed). */
  accounting(): Promise<number>;
  close(): Promise<void>;
}

// memjs ships no types: the part used here.
interface MemjsClient {
  set(key: string, value: Buffer, options: { expires?: number }): Promise<boolean>;
  get(key: string): Promise<{ value: Buffer | null; flags: Buffer | null }>;
  stats(callback: (err: Error | null, server: string, stats: Record<string, string>) => void): void;
  close(): void;
}
interface MemjsModule {
  Client: { create(servers: string, options: Record<string, unknown>): MemjsClient };
}

/**
 * SET, then WAIT: both issued at once on the one connection (ioredis writes each command as issued, so WAIT
 * follows its SET and one round trip answers both), failing unless WAIT says `replicas` replicas have the write.
 * Not redis.pipeline(): its per-call objects cost the load generator so much that SET+WAIT ran about 30 % slower
 * through it (64 in flight, 100 B values, this machine), a cost of the client call rather than of the copy.
 */
async function setAndWait(redis: Redis, key: string, value: Buffer, replicas: number): Promise<void> {
  const [, copies] = await Promise.all([redis.set(key, value), redis.wait(replicas, 0)]);
  if (copies < replicas) throw new Error(`WAIT ${replicas} 0 answered ${copies}`);
}

function redisDriver(address: string, autoPipelining: boolean, waitReplicas: number): Driver {
  const [host, port] = splitAddress(address);
  const redis = new Redis({ host, port, maxRetriesPerRequest: 1, commandTimeout: 10_000, enableAutoPipelining: autoPipelining });
  return {
    set: waitReplicas > 0 ? (key, value) => setAndWait(redis, key, value, waitReplicas) : (key, value) => redis.set(key, value),
    get: (key) => redis.getBuffer(key),
    accounting: async () => {
      const info = await redis.info('memory');
      const match = info.match(/^used_memory:(\d+)/m);
      if (!match) throw new Error('INFO memory has no used_memory');
      return Number(match[1]);
    },
    close: async () => {
      await redis.quit();
    },
  };
}

function memcachedDriver(address: string): Driver {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const memjs = require('memjs') as MemjsModule;
  // Default timeout is 0.5 s and retries 2: a bench must never resend, and 64 KiB × 64 in flight is no reason to fail.
  const client = memjs.Client.create(address, { timeout: 10, retries: 1, expires: 0, logger: { log: () => {} } });
  const options = { expires: 0 };
  return {
    set: (key, value) => client.set(key, value, options),
    get: (key) => client.get(key).then((r) => r.value),
    accounting: () =>
      new Promise<number>((resolve, reject) => {
        client.stats((err, _server, stats) => {
          if (err) reject(err);
          else resolve(Number(stats.bytes));
        });
      }),
    close: async () => {
      client.close();
    },
  };
}

async function dcacheDriver(nodes: string[], smart: boolean): Promise<{ driver: Driver; routing: string; note?: string }> {
  // The compiled package (npx tsc ran first), not src/ through tsx: users run dist/.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Client } = require(path.join(__dirname, '..', '..', 'dist', 'client')) as { Client: typeof DcacheClient };
  const base: ClientOptions = { nodes, timeoutMs: 10_000, maxPending: 100_000 };
  let client: DcacheClient;
  let routing = 'proxy';
  let note: string | undefined;
  if (smart) {
    try {
      client = new Client({ ...base, routing: 'smart' });
      routing = 'smart';
    } catch (error) {
      note = `routing 'smart' refused (${(error as Error).message}); using 'proxy'`;
      client = new Client(base);
    }
  } else {
    client = new Client(base);
  }
  const driver: Driver = {
    set: (key, value) => client.set(key, value),
    get: (key) => client.get(key),
    accounting: async () => {
      const stats = (await client.stats()) as { store?: { bytesUsed?: number } };
      const used = stats.store?.bytesUsed;
      if (typeof used !== 'number') throw new Error('STATS has no store.bytesUsed');
      return used;
    },
    close: () => client.close(),
  };
  return note === undefined ? { driver, routing } : { driver, routing, note };
}

function splitAddress(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  return [address.slice(0, i), Number(address.slice(i + 1))];
}

let driver: Driver | null = null;
let keys: string[] = [];

function keysFor(count: number): string[] {
  if (keys.length < count) keys = Array.from({ length: count }, (_, i) => keyName(i));
  return keys;
}

/** VALUE_VARIANTS distinct values per size; key i holds variant i % VALUE_VARIANTS. */
const VALUE_VARIANTS = 8;
const valueCache = new Map<number, Buffer[]>();
function valuesFor(bytes: number): Buffer[] {
  let values = valueCache.get(bytes);
  if (values === undefined) {
    values = [];
    for (let v = 0; v < VALUE_VARIANTS; v++) {
      const buf = Buffer.allocUnsafe(bytes);
      for (let j = 0; j < bytes; j++) buf[j] = 97 + ((v * 7 + j) % 26);
      buf[0] = 0x30 + v;
      buf[bytes - 1] = 0x30 + v;
      values.push(buf);
    }
    valueCache.set(bytes, values);
  }
  return values;
}

/** Runs `op` for indices 0..count-1 with `window` in flight; bounded by count and by maxMs. */
async function windowed(
  count: number,
  window: number,
  maxMs: number,
  op: (i: number) => Promise<void>,
): Promise<{ done: number; errors: number }> {
  const deadline = performance.now() + maxMs;
  let next = 0;
  let done = 0;
  let errors = 0;
  let firstError: unknown = null;
  const worker = async (): Promise<void> => {
    while (next < count && performance.now() < deadline) {
      const i = next++;
      try {
        await op(i);
        done++;
      } catch (error) {
        errors++;
        if (firstError === null) firstError = error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, count) }, worker));
  if (errors > 0) process.stderr.write(`loadgen: ${errors} errors, first: ${String(firstError)}\n`);
  return { done, errors };
}

async function prepare(d: Driver, r: PrepareRequest): Promise<null> {
  const ks = keysFor(r.keyCount);
  const values = valuesFor(r.valueBytes);
  // Store every key of the working set, then read every one back and compare bytes: GET must return what SET
  // stored before anything is timed.
  const stored = await windowed(r.keyCount, 64, 120_000, (i) => d.set(ks[i]!, values[i % VALUE_VARIANTS]!).then(() => undefined));
  if (stored.done !== r.keyCount) throw new Error(`prepare: stored ${stored.done} of ${r.keyCount} keys`);
  let wrong = 0;
  const read = await windowed(r.keyCount, 64, 120_000, async (i) => {
    const value = await d.get(ks[i]!);
    if (value === null || !value.equals(values[i % VALUE_VARIANTS]!)) wrong++;
  });
  if (read.done !== r.keyCount || wrong > 0) {
    throw new Error(`self-check failed: ${wrong} of ${r.keyCount} GETs did not return the value SET (${read.errors} errors)`);
  }
  for (const phase of ['set', 'get'] as const) {
    await run(d, {
      op: 'run',
      phase,
      valueBytes: r.valueBytes,
      keyCount: r.keyCount,
      concurrency: r.concurrency,
      maxOps: 1e9,
      maxMs: r.warmupMs,
    });
  }
  return null;
}

/**
 * Counts this process's garbage collections from now until stop(). A client's garbage shows up in its latency
 * (a full mark-compact pauses the loop and its concurrent marking competes for the pinned CPU), so the samples
 * carry it to explain a row, never to score it.
 */
function gcCounter(): { stop(): RunResult['gc'] } {
  const counts = { minor: 0, major: 0, pauseMs: 0 };
  const tally = (entries: PerformanceEntry[]): void => {
    for (const entry of entries) {
      const kind = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      if (kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) counts.minor++;
      else if (kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) counts.major++;
      counts.pauseMs += entry.duration;
    }
  };
  const observer = new PerformanceObserver((list) => tally(list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  return {
    stop: () => {
      tally(observer.takeRecords());
      observer.disconnect();
      return { ...counts, pauseMs: Math.round(counts.pauseMs * 10) / 10 };
    },
  };
}

async function run(d: Driver, r: RunRequest): Promise<RunResult> {
  const ks = keysFor(r.keyCount);
  const values = valuesFor(r.valueBytes);
  const keyCount = r.keyCount;
  const size = r.valueBytes;
  const histogram = build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  let issued = 0;
  let ops = 0;
  let errors = 0;
  let wrong = 0;
  const maxOps = r.maxOps;
  const isSet = r.phase === 'set';
  const gc = gcCounter();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = t0 + r.maxMs;
  const worker = async (): Promise<void> => {
    let start = performance.now();
    while (issued < maxOps && start < deadline) {
      const k = issued++ % keyCount;
      try {
        if (isSet) {
          await d.set(ks[k]!, values[k % VALUE_VARIANTS]!);
        } else {
          const v = await d.get(ks[k]!);
          // Cheap per-op check (length and the variant marks); prepare() compared whole values.
          const mark = 0x30 + (k % VALUE_VARIANTS);
          if (v === null || v.length !== size || v[0] !== mark || v[size - 1] !== mark) wrong++;
        }
        const end = performance.now();
        histogram.recordValue(Math.max(1, Math.round((end - start) * 1000)));
        ops++;
        start = end;
      } catch {
        errors++;
        start = performance.now();
      }
    }
  };
  await Promise.all(Array.from({ length: r.concurrency }, worker));
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const result: RunResult = {
    ops,
    errors,
    wrong,
    elapsedMs,
    opsPerSec: (ops / elapsedMs) * 1000,
    p50: histogram.getValueAtPercentile(50),
    p99: histogram.getValueAtPercentile(99),
    p999: histogram.getValueAtPercentile(99.9),
    max: histogram.maxValue,
    cpu: (cpu.user + cpu.system) / 1000 / elapsedMs,
    gc: gc.stop(),
  };
  histogram.destroy();
  return result;
}

async function load(d: Driver, r: LoadRequest): Promise<LoadResult> {
  const values = valuesFor(r.valueBytes);
  const t0 = performance.now();
  const { done, errors } = await windowed(r.count, r.window, r.maxMs, (i) =>
    d.set(keyName(i), values[i % VALUE_VARIANTS]!).then(() => undefined),
  );
  return { loaded: done, errors, elapsedMs: performance.now() - t0 };
}

async function connect(r: ConnectRequest): Promise<ConnectResult> {
  if (driver !== null) throw new Error('already connected');
  if (r.kind === 'redis') {
    const waitReplicas = r.waitReplicas ?? 0;
    driver = redisDriver(r.nodes[0]!, r.autoPipelining === true, waitReplicas);
    const routing = r.autoPipelining === true ? 'ioredis, enableAutoPipelining' : 'ioredis';
    return { routing: waitReplicas > 0 ? `${routing}, SET then WAIT ${waitReplicas} 0` : routing };
  }
  if (r.kind === 'memcached') {
    driver = memcachedDriver(r.nodes[0]!);
    return { routing: 'memjs' };
  }
  const made = await dcacheDriver(r.nodes, r.smart);
  driver = made.driver;
  return made.note === undefined ? { routing: made.routing } : { routing: made.routing, note: made.note };
}

async function handle(request: Request): Promise<ConnectResult | RunResult | LoadResult | number | null> {
  if (request.op === 'connect') return connect(request);
  if (request.op === 'close') {
    if (driver !== null) await driver.close();
    driver = null;
    setImmediate(() => process.exit(0));
    return null;
  }
  if (driver === null) throw new Error(`${request.op} before connect`);
  switch (request.op) {
    case 'prepare':
      return prepare(driver, request);
    case 'run':
      return run(driver, request);
    case 'load':
      return load(driver, request);
    case 'accounting':
      return driver.accounting();
  }
}

if (typeof process.send !== 'function') {
  process.stderr.write('bench/compare/loadgen.ts is started by bench/compare.ts (it needs an IPC channel)\n');
  process.exit(2);
}
process.on('message', (message: Request) => {
  handle(message).then(
    (value) => process.send!({ ok: true, value } satisfies Reply),
    (error: unknown) =>
      process.send!({ ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) } satisfies Reply),
  );
});
// The conductor going away (crash, SIGKILL) must not leave this process running.
process.on('disconnect', () => process.exit(0));
