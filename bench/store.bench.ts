/**
 * The store against what Node users cache with today: Map and lru-cache, holding the same data.
 *
 *   npx tsx bench/store.bench.ts            ops/s table, then the memory table (one child process per store)
 *   npx tsx bench/store.bench.ts --quick    shorter timing, 200k entries for memory
 *
 * 1. set and get ops/s with 16-byte keys and 100-byte values over a working set of 100k keys (tinybench; each
 *    call runs a batch of BATCH operations so the timer's own cost does not swamp a ~50 ns operation). Every
 *    store's contents are checked before timing.
 * 2. 1M such entries: RSS and heapUsed per entry (after − before, both after two full GCs) and the duration of
 *    one full GC (global.gc(), median of 7) with the live set. Each store is measured in a fresh child process
 *    (`node --expose-gc -r tsx/cjs bench/store.bench.ts --measure KIND N`) so figures do not mix.
 * Targets: ≤ 170 B RSS per entry, a full GC ≤ 5 ms with 1M entries, ops/s ≥ lru-cache's.
 */

import { spawnSync } from 'node:child_process';
import { Store } from '../src/cache/store';

// tinybench and lru-cache are loaded only where used, so a child measuring the store does not carry their code
// on its heap (a full GC of the empty process is part of every GC figure).
type LruModule = typeof import('lru-cache');
// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only in the child that measures it
const loadLru = (): LruModule => require('lru-cache') as LruModule;

const KEY_BYTES = 16;
const VALUE_BYTES = 100;
const OPS_KEYS = 100_000;
const BATCH = 100;
const ROUNDS = 3;

const quick = process.argv.includes('--quick');

/**
 * Key i as 16 ASCII bytes ("key:000000000042"), written into buf at off. Digits are written by hand: the fill
 * loops must not allocate garbage, or the young generation grows and its RSS is charged to the store measured.
 */
function writeKey(buf: Buffer, off: number, i: number): void {
  buf[off] = 0x6b; // k
  buf[off + 1] = 0x65; // e
  buf[off + 2] = 0x79; // y
  buf[off + 3] = 0x3a; // :
  writeDigits(buf, off + 4, KEY_BYTES - 4, i);
}

/** Value i as 100 bytes: a letter pattern ending in 12 decimal digits of the index, distinct per key. */
function writeValue(buf: Buffer, off: number, i: number): void {
  for (let j = 0; j < VALUE_BYTES - 12; j++) buf[off + j] = 97 + ((i + j) % 26);
  writeDigits(buf, off + VALUE_BYTES - 12, 12, i);
}

function writeDigits(buf: Buffer, off: number, width: number, n: number): void {
  for (let j = off + width - 1; j >= off; j--) {
    buf[j] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
}

/** Flat (sequential, not cons) strings, as a decoder would produce them. */
function keyString(i: number, scratch: Buffer): string {
  writeKey(scratch, 0, i);
  return scratch.toString('latin1', 0, KEY_BYTES);
}

function valueString(i: number, scratch: Buffer): string {
  writeValue(scratch, 0, i);
  return scratch.toString('latin1', 0, VALUE_BYTES);
}

// ---------------------------------------------------------------- memory (child process)

type Kind = 'map-string' | 'map-buffer' | 'lru-string' | 'lru-buffer' | 'store';
const KINDS: Kind[] = ['map-string', 'map-buffer', 'lru-string', 'lru-buffer', 'store'];
const LABELS: Record<Kind, string> = {
  'map-string': 'Map<string, string>',
  'map-buffer': 'Map<string, Buffer>',
  'lru-string': 'lru-cache <string, string>',
  'lru-buffer': 'lru-cache <string, Buffer>',
  store: 'Store (slab)',
};

interface MemoryResult {
  kind: Kind;
  entries: number;
  rssPerEntry: number;
  heapPerEntry: number;
  gcMs: number;
  gcEmptyMs: number;
}

function fill(kind: Kind, n: number): { holder: unknown; check: (i: number) => boolean } {
  const scratch = Buffer.alloc(VALUE_BYTES);
  const keyScratch = Buffer.alloc(KEY_BYTES);
  const expected = Buffer.alloc(VALUE_BYTES);
  const same = (v: Buffer | string | undefined, i: number): boolean => {
    writeValue(expected, 0, i);
    return v !== undefined && (typeof v === 'string' ? v === expected.toString('latin1') : expected.equals(v));
  };
  switch (kind) {
    case 'map-string':
    case 'lru-string': {
      const m = kind === 'map-string' ? new Map<string, string>() : new (loadLru().LRUCache)<string, string>({ max: n });
      for (let i = 0; i < n; i++) m.set(keyString(i, scratch), valueString(i, scratch));
      return { holder: m, check: (i) => same(m.get(keyString(i, scratch)), i) };
    }
    case 'map-buffer':
    case 'lru-buffer': {
      const m = kind === 'map-buffer' ? new Map<string, Buffer>() : new (loadLru().LRUCache)<string, Buffer>({ max: n });
      for (let i = 0; i < n; i++) {
        writeValue(scratch, 0, i);
        m.set(keyString(i, keyScratch), Buffer.from(scratch));
      }
      return { holder: m, check: (i) => same(m.get(keyString(i, keyScratch)), i) };
    }
    case 'store': {
      const store = new Store({ maxMemoryBytes: Math.max(64, Math.ceil((n * 400) / 2 ** 20)) * 2 ** 20, expiryIntervalMs: 0 });
      const key = Buffer.alloc(KEY_BYTES);
      for (let i = 0; i < n; i++) {
        writeKey(key, 0, i);
        writeValue(scratch, 0, i);
        store.setFrom(key, 0, KEY_BYTES, scratch, 0, VALUE_BYTES);
      }
      if (store.size !== n) throw new Error(`store holds ${store.size} items, expected ${n}`);
      return { holder: store, check: (i) => same(store.get(keyString(i, keyScratch)), i) };
    }
  }
}

/**
 * Full GCs with pauses between them: V8 frees array buffer memory on a background sweeper and the allocator
 * returns it to the OS a little later, so RSS read right after gc() still counts memory already garbage.
 */
async function settle(gc: () => void): Promise<void> {
  for (let r = 0; r < 3; r++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  gc();
}

async function measure(kind: Kind, n: number): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run the child with --expose-gc');
  const timeGc = (): number => {
    const times: number[] = [];
    for (let r = 0; r < 7; r++) {
      const t0 = performance.now();
      gc();
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return times[3]!;
  };
  await settle(gc);
  const gcEmptyMs = timeGc();
  const before = process.memoryUsage();
  const { holder, check } = fill(kind, n);
  await settle(gc);
  const after = process.memoryUsage();
  const gcMs = timeGc();
  for (let i = 0; i < n; i += Math.max(1, Math.floor(n / 1000))) {
    if (!check(i)) throw new Error(`${kind}: wrong value for key ${i}`);
  }
  const result: MemoryResult = {
    kind,
    entries: n,
    rssPerEntry: (after.rss - before.rss) / n,
    heapPerEntry: (after.heapUsed - before.heapUsed) / n,
    gcMs,
    gcEmptyMs,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
  if (holder === null) console.log('unreachable'); // keeps the live set alive through the measurement
}

function runMemoryChildren(n: number): MemoryResult[] {
  const results: MemoryResult[] = [];
  for (const kind of KINDS) {
    const child = spawnSync(process.execPath, ['--expose-gc', '-r', require.resolve('tsx/cjs'), __filename, '--measure', kind, String(n)], {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    });
    if (child.status !== 0) throw new Error(`measuring ${kind} failed:\n${child.stderr}`);
    const line = child.stdout.trim().split('\n').pop()!;
    results.push(JSON.parse(line) as MemoryResult);
  }
  return results;
}

// ---------------------------------------------------------------- ops/s

interface OpsRow {
  name: string;
  /** Which baseline the × column compares with. */
  group: 'api' | 'server';
  opsPerSec: number;
}

/**
 * Two views of the same operations:
 *  - api: string keys, each store's own API. Map and lru-cache hand back the stored object; Store.get returns a
 *    copy (it never hands out slab memory), which costs an allocation and a memcpy they skip.
 *  - server: what a cache server does per request. The key and value arrive as bytes in a reused read buffer,
 *    and a value read goes into an output buffer. With lru-cache that means a key string and a value copy per
 *    set, a key string and a copy into the output per get; with the store, setFrom and getInto.
 * Each task runs BATCH operations per call; the suite runs ROUNDS times and each task keeps its best round,
 * which filters out time stolen by other processes on a shared machine.
 */
async function runOps(): Promise<OpsRow[]> {
  const { Bench } = await import('tinybench');
  const { LRUCache } = loadLru();
  const scratch = Buffer.alloc(VALUE_BYTES);
  const keys: string[] = [];
  const bufValues: Buffer[] = [];
  const strValues: string[] = [];
  const keyBlock = Buffer.alloc(OPS_KEYS * KEY_BYTES);
  const valueBlock = Buffer.alloc(OPS_KEYS * VALUE_BYTES);
  for (let i = 0; i < OPS_KEYS; i++) {
    keys.push(keyString(i, scratch));
    strValues.push(valueString(i, scratch));
    writeValue(scratch, 0, i);
    bufValues.push(Buffer.from(scratch));
    writeKey(keyBlock, i * KEY_BYTES, i);
    writeValue(valueBlock, i * VALUE_BYTES, i);
  }

  const mapBuf = new Map<string, Buffer>();
  const mapStr = new Map<string, string>();
  const lruBuf = new LRUCache<string, Buffer>({ max: OPS_KEYS });
  const lruStr = new LRUCache<string, string>({ max: OPS_KEYS });
  const lruServer = new LRUCache<string, Buffer>({ max: OPS_KEYS });
  const store = new Store({ maxMemoryBytes: 128 * 2 ** 20, expiryIntervalMs: 0 });
  const storeServer = new Store({ maxMemoryBytes: 128 * 2 ** 20, expiryIntervalMs: 0 });
  for (let i = 0; i < OPS_KEYS; i++) {
    mapBuf.set(keys[i]!, bufValues[i]!);
    mapStr.set(keys[i]!, strValues[i]!);
    lruBuf.set(keys[i]!, bufValues[i]!);
    lruStr.set(keys[i]!, strValues[i]!);
    lruServer.set(keys[i]!, bufValues[i]!);
    store.set(keys[i]!, bufValues[i]!);
    storeServer.setFrom(keyBlock, i * KEY_BYTES, KEY_BYTES, valueBlock, i * VALUE_BYTES, VALUE_BYTES);
  }
  const out = Buffer.alloc(VALUE_BYTES);
  const expected = Buffer.alloc(VALUE_BYTES);
  /** Whether v is exactly writeValue(n) for the n its last 12 digits name (values are rotated among keys). */
  const wellFormed = (v: Buffer | string | undefined): boolean => {
    if (v === undefined || v.length !== VALUE_BYTES) return false;
    const b = typeof v === 'string' ? Buffer.from(v, 'latin1') : v;
    const n = Number(b.toString('latin1', VALUE_BYTES - 12));
    if (!(n >= 0 && n < OPS_KEYS)) return false;
    writeValue(expected, 0, n);
    return expected.equals(b);
  };
  const checkAll = (when: string, exact: boolean): void => {
    for (let i = 0; i < OPS_KEYS; i++) {
      const k = keys[i]!;
      const values = [
        mapBuf.get(k),
        mapStr.get(k),
        lruBuf.get(k),
        lruStr.get(k),
        lruServer.get(k),
        store.get(k),
        storeServer.getInto(keyBlock, i * KEY_BYTES, KEY_BYTES, out, 0) === VALUE_BYTES ? Buffer.from(out) : undefined,
      ];
      for (const v of values) {
        if (!wellFormed(v) || (exact && Buffer.from(v!).toString('latin1') !== strValues[i])) {
          throw new Error(`a store holds a wrong value for key ${i} ${when}`);
        }
      }
    }
  };
  checkAll('before timing', true);

  // Each task walks the keys in batches; sets rotate which value goes to which key, so every set changes it.
  const walker = () => {
    let cursor = -BATCH;
    let round = 0;
    return {
      next(): number {
        cursor += BATCH;
        if (cursor + BATCH > OPS_KEYS) {
          cursor = 0;
          round = (round + 7) % OPS_KEYS;
        }
        return cursor;
      },
      get round(): number {
        return round;
      },
    };
  };
  let sink = 0;
  const bench = new Bench({ time: quick ? 100 : 300, warmupTime: quick ? 30 : 100 });
  const groups = new Map<string, OpsRow['group']>();
  const setTask = (group: OpsRow['group'], name: string, op: (i: number, v: number) => void) => {
    groups.set(`set  ${name}`, group);
    const w = walker();
    bench.add(`set  ${name}`, () => {
      const base = w.next();
      const round = w.round;
      for (let i = base; i < base + BATCH; i++) op(i, (i + round) % OPS_KEYS);
    });
  };
  const getTask = (group: OpsRow['group'], name: string, op: (i: number) => number) => {
    groups.set(`get  ${name}`, group);
    const w = walker();
    bench.add(`get  ${name}`, () => {
      const base = w.next();
      for (let i = base; i < base + BATCH; i++) sink += op(i);
    });
  };
  setTask('api', 'Map<string, Buffer>', (i, v) => void mapBuf.set(keys[i]!, bufValues[v]!));
  setTask('api', 'Map<string, string>', (i, v) => void mapStr.set(keys[i]!, strValues[v]!));
  setTask('api', 'lru-cache <string, Buffer>', (i, v) => void lruBuf.set(keys[i]!, bufValues[v]!));
  setTask('api', 'lru-cache <string, string>', (i, v) => void lruStr.set(keys[i]!, strValues[v]!));
  setTask('api', 'Store set(string, Buffer)', (i, v) => void store.set(keys[i]!, bufValues[v]!));
  setTask('api', 'Store set(string, string)', (i, v) => void store.set(keys[i]!, strValues[v]!));
  setTask('server', 'lru-cache: key string + value copy', (i, v) => {
    const key = keyBlock.toString('latin1', i * KEY_BYTES, (i + 1) * KEY_BYTES);
    lruServer.set(key, Buffer.from(valueBlock.subarray(v * VALUE_BYTES, (v + 1) * VALUE_BYTES)));
  });
  setTask(
    'server',
    'Store setFrom (buffer ranges)',
    (i, v) => void storeServer.setFrom(keyBlock, i * KEY_BYTES, KEY_BYTES, valueBlock, v * VALUE_BYTES, VALUE_BYTES),
  );
  getTask('api', 'Map<string, Buffer>', (i) => mapBuf.get(keys[i]!)!.length);
  getTask('api', 'Map<string, string>', (i) => mapStr.get(keys[i]!)!.length);
  getTask('api', 'lru-cache <string, Buffer>', (i) => lruBuf.get(keys[i]!)!.length);
  getTask('api', 'lru-cache <string, string>', (i) => lruStr.get(keys[i]!)!.length);
  getTask('api', 'Store get(string) → copy', (i) => store.get(keys[i]!)!.length);
  getTask('server', 'lru-cache: key string + copy to output', (i) => {
    const v = lruServer.get(keyBlock.toString('latin1', i * KEY_BYTES, (i + 1) * KEY_BYTES))!;
    out.set(v, 0);
    return v.length;
  });
  getTask('server', 'Store getInto (buffer ranges)', (i) => storeServer.getInto(keyBlock, i * KEY_BYTES, KEY_BYTES, out, 0));

  const best = new Map<string, number>();
  for (let r = 0; r < ROUNDS; r++) {
    await bench.run();
    for (const task of bench.tasks) {
      const res = task.result;
      if (res.state !== 'completed') throw new Error(`${task.name}: ${res.state}`);
      best.set(task.name, Math.max(best.get(task.name) ?? 0, (BATCH * 1000) / res.period));
    }
    bench.reset();
  }
  if (sink === 42) console.log('');
  checkAll('after timing', false);
  if (store.size !== OPS_KEYS || storeServer.size !== OPS_KEYS) throw new Error('a store lost items during the timed run');
  store.close();
  storeServer.close();
  return [...best].map(([name, opsPerSec]) => ({ name, group: groups.get(name)!, opsPerSec }));
}

// ---------------------------------------------------------------- main

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

async function main(): Promise<void> {
  const memEntries = quick ? 200_000 : 1_000_000;
  console.log(`store bench: ${KEY_BYTES}-byte keys, ${VALUE_BYTES}-byte values, node ${process.version}\n`);
  const ops = await runOps();
  const ofName = (name: string): number => ops.find((r) => r.name === name)!.opsPerSec;
  const baseline = {
    api: { set: ofName('set  lru-cache <string, Buffer>'), get: ofName('get  lru-cache <string, Buffer>') },
    server: { set: ofName('set  lru-cache: key string + value copy'), get: ofName('get  lru-cache: key string + copy to output') },
  };
  console.log(
    `ops/s (${OPS_KEYS.toLocaleString()} keys, batches of ${BATCH}, best of ${ROUNDS} rounds; × = vs lru-cache in the same group)`,
  );
  console.log('| group | operation | ops/s | × |\n|---|---|---:|---:|');
  for (const r of ops) {
    const base = baseline[r.group][r.name.startsWith('set') ? 'set' : 'get'];
    console.log(`| ${r.group} | ${r.name} | ${fmt(r.opsPerSec)} | ${fmt(r.opsPerSec / base, 2)} |`);
  }
  console.log(`\nmemory with ${memEntries.toLocaleString()} entries (one child process each)`);
  console.log('| store | RSS B/entry | heapUsed B/entry | full GC ms (live set) | full GC ms (empty) |\n|---|---:|---:|---:|---:|');
  for (const m of runMemoryChildren(memEntries)) {
    console.log(
      `| ${LABELS[m.kind]} | ${fmt(m.rssPerEntry, 1)} | ${fmt(m.heapPerEntry, 1)} | ${fmt(m.gcMs, 2)} | ${fmt(m.gcEmptyMs, 2)} |`,
    );
  }
}

if (process.argv[2] === '--measure') {
  measure(process.argv[3] as Kind, Number(process.argv[4])).catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
} else {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
