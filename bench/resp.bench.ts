/**
 * The RESP port against redis-server, side by side in the same run (docs/ARCHITECTURE.md, Decisions, "Measuring": a figure is a ratio against a
 * baseline measured on the same machine with the same load generator):
 *
 *   redis-benchmark -t set,get -n 200000 -c 50 -r 100000 -P 1 | -P 16
 *
 * against our RESP port as users run it (dist/ is built first; `node dist/main.js --resp-addr …`, a node that is a
 * cluster of one, keys going through its key router) and against redis-server. Both
 * servers are pinned to CPU 0 and redis-benchmark to CPU 1 (taskset) so the load generator never competes with
 * the server it measures. Rounds alternate the two servers; the table shows medians, bests and their ratios.
 * A second table drives both servers with ioredis from this process (pinned to CPU 1): 100 commands in flight,
 * and one at a time (p50/p99 latency). Skips with a message when redis-benchmark is missing (apt-get install redis-tools; redis-server for the
 * baseline). Every process it starts is stopped by PID, also on failure or Ctrl-C.
 *
 *   npm run bench -- resp            (or: npx tsx bench/resp.bench.ts [--rounds N] [--requests N])
 *   npx tsx bench/resp.bench.ts --serve PORT     (a bare RESP server over a Store, under tsx, for manual runs)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as net from 'node:net';
import * as path from 'node:path';
import Redis from 'ioredis';
import { Store } from '../src/cache/store';
import { LocalRespBackend } from '../src/resp/local-backend';
import { startRespServer } from '../src/resp/resp-server';

const argv = process.argv.slice(2);
function flag(name: string, fallback: number): number {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? Number(argv[i + 1]) : fallback;
}

async function serve(port: number): Promise<void> {
  const store = new Store({ maxMemoryBytes: 256 * 1024 * 1024 });
  const server = await startRespServer({
    addr: `127.0.0.1:${port}`,
    backend: new LocalRespBackend(store),
    maxMemoryBytes: 256 * 1024 * 1024,
  });
  process.stdout.write(`READY ${server.port}\n`);
  const stop = () => {
    void server.close(0).then(() => {
      store.close();
      process.exit(0);
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

function available(command: string, args: string[]): boolean {
  return spawnSync(command, args, { stdio: 'ignore' }).status === 0;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const children = new Set<ChildProcess>();

function start(command: string, args: string[], pin: string | null): ChildProcess {
  const child =
    pin === null
      ? spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('taskset', ['-c', pin, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

async function stopAll(): Promise<void> {
  const all = [...children];
  for (const child of all) if (child.pid !== undefined && child.exitCode === null) child.kill('SIGTERM');
  await Promise.all(
    all.map(async (child) => {
      if (child.exitCode !== null) return;
      const timer = setTimeout(() => child.pid !== undefined && child.kill('SIGKILL'), 3000);
      await once(child, 'exit');
      clearTimeout(timer);
    }),
  );
}

/** Resolves once a PING on the port answers +PONG (the server is up). */
async function waitForPong(port: number, child: ChildProcess, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}) before answering on port ${port}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ port, host: '127.0.0.1' });
      socket.setTimeout(500);
      socket.on('data', (chunk: Buffer) => {
        socket.destroy();
        resolve(chunk.toString().startsWith('+PONG'));
      });
      socket.on('error', () => resolve(false));
      socket.on('timeout', () => {
        socket.destroy();
        resolve(false);
      });
      socket.write('PING\r\n');
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`no PONG on port ${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** One redis-benchmark run: requests per second by test name (SET, GET). */
async function redisBenchmark(port: number, pipeline: number, requests: number, pin: string | null): Promise<Map<string, number>> {
  const child = start(
    'redis-benchmark',
    [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-t',
      'set,get',
      '-n',
      String(requests),
      '-c',
      '50',
      '-r',
      '100000',
      '-P',
      String(pipeline),
      '--csv',
      '-q',
    ],
    pin,
  );
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`redis-benchmark exited ${code}: ${out}`);
  const rps = new Map<string, number>();
  for (const line of out.split('\n')) {
    const match = /^"(SET|GET)","([\d.]+)"/.exec(line.trim());
    if (match) rps.set(match[1]!, Number(match[2]));
  }
  if (rps.size !== 2) throw new Error(`could not read redis-benchmark's output: ${out}`);
  return rps;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function compare(): Promise<void> {
  if (!available('redis-benchmark', ['--version'])) {
    console.log('resp bench: redis-benchmark is not installed: skipping (Debian/Ubuntu: apt-get install redis-tools redis-server)');
    return;
  }
  const hasRedis = available('redis-server', ['--version']);
  if (!hasRedis)
    console.log('resp bench: redis-server is not installed: measuring our port alone, no ratio (apt-get install redis-server)');
  const pinned = available('taskset', ['-c', '0', 'true']);
  if (!pinned) console.log('resp bench: taskset is not available: processes are not pinned, figures are noisier');
  const serverCpu = pinned ? '0' : null;
  const loadCpu = pinned ? '1' : null;
  const rounds = flag('rounds', 3);
  const requests = flag('requests', 200_000);

  // Our RESP port as users run it: the compiled CLI, a node (cluster of one) with --resp-addr.
  const root = path.join(__dirname, '..');
  const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (tsc.status !== 0) throw new Error('building dist/ failed (npx tsc -p tsconfig.json)');
  const ourPort = await freePort();
  const ours = start(
    process.execPath,
    [
      path.join(root, 'dist', 'main.js'),
      '--addr',
      '127.0.0.1:0',
      '--resp-addr',
      `127.0.0.1:${ourPort}`,
      '--max-memory',
      '256mb',
      '--log-level',
      'error',
    ],
    serverCpu,
  );
  await waitForPong(ourPort, ours);
  let redisPort = 0;
  if (hasRedis) {
    redisPort = await freePort();
    const redis = start(
      'redis-server',
      ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      serverCpu,
    );
    await waitForPong(redisPort, redis);
  }
  // Check the port answers correctly before timing it, then warm the JIT up.
  const check = await redisBenchmark(ourPort, 16, 20_000, loadCpu);
  if (!(check.get('SET')! > 0 && check.get('GET')! > 0)) throw new Error('self-check failed: no throughput measured');
  await redisBenchmark(ourPort, 1, 100_000, loadCpu);

  const results = new Map<string, number[]>();
  const add = (key: string, value: number) => results.set(key, [...(results.get(key) ?? []), value]);
  for (let round = 0; round < rounds; round++) {
    for (const pipeline of [1, 16]) {
      const targets: Array<[string, number]> = hasRedis
        ? [
            ['redis', redisPort],
            ['ours', ourPort],
          ]
        : [['ours', ourPort]];
      if (round % 2 === 1) targets.reverse();
      for (const [name, port] of targets) {
        const rps = await redisBenchmark(port, pipeline, requests, loadCpu);
        for (const [test, value] of rps) add(`${name} P${pipeline} ${test}`, value);
      }
    }
  }

  // Shared machines are noisy and noise only ever slows a run down: the table gives the ratio of the medians
  // and the ratio of the best rounds; the raw rounds follow it.
  const rows: Array<Record<string, string>> = [];
  const raw: string[] = [];
  for (const pipeline of [1, 16]) {
    for (const test of ['SET', 'GET']) {
      const runs = (name: string) => results.get(`${name} P${pipeline} ${test}`)!;
      const ourRuns = runs('ours');
      const row: Record<string, string> = { pipeline: `-P ${pipeline}`, test, 'ours median': median(ourRuns).toFixed(0) };
      raw.push(`-P ${pipeline} ${test}  ours: ${ourRuns.map((v) => (v / 1000).toFixed(0) + 'k').join(' ')}`);
      if (hasRedis) {
        const redisRuns = runs('redis');
        row['redis median'] = median(redisRuns).toFixed(0);
        row['ratio of medians'] = (median(ourRuns) / median(redisRuns)).toFixed(2);
        row['ours best'] = Math.max(...ourRuns).toFixed(0);
        row['redis best'] = Math.max(...redisRuns).toFixed(0);
        row['ratio of bests'] = (Math.max(...ourRuns) / Math.max(...redisRuns)).toFixed(2);
        row['target'] = pipeline === 1 ? '≥ 1.00' : '≥ 0.90';
        raw[raw.length - 1] += `   redis: ${redisRuns.map((v) => (v / 1000).toFixed(0) + 'k').join(' ')}`;
      }
      rows.push(row);
    }
  }
  console.log(
    `\nredis-benchmark -t set,get -n ${requests} -c 50 -r 100000, ${rounds} rounds` +
      (pinned ? ' (servers on CPU 0, redis-benchmark on CPU 1)' : ''),
  );
  console.table(rows);
  console.log(`rounds (requests/s):\n  ${raw.join('\n  ')}`);

  if (pinned) spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  const ioRows: Array<Record<string, string>> = [];
  const targets: Array<[string, number]> = hasRedis
    ? [
        ['redis-server', redisPort],
        ['ours', ourPort],
      ]
    : [['ours', ourPort]];
  const io = new Map<string, IoResult>();
  for (const [name, port] of targets) io.set(name, await ioredisRun(port));
  for (const [name, result] of io) {
    const row: Record<string, string> = {
      server: name,
      'pipelined ops/s': result.pipelinedOps.toFixed(0),
      'one at a time ops/s': result.sequentialOps.toFixed(0),
      'p50 µs': result.p50.toFixed(0),
      'p99 µs': result.p99.toFixed(0),
    };
    const base = io.get('redis-server');
    if (base !== undefined)
      row['ratio (pipelined / one at a time)'] =
        `${(result.pipelinedOps / base.pipelinedOps).toFixed(2)} / ${(result.sequentialOps / base.sequentialOps).toFixed(2)}`;
    ioRows.push(row);
  }
  console.log('\nioredis client (SET then GET, 100 in flight; then one at a time), from this process' + (pinned ? ' on CPU 1' : ''));
  console.table(ioRows);
}

interface IoResult {
  pipelinedOps: number;
  sequentialOps: number;
  p50: number;
  p99: number;
}

async function ioredisRun(port: number): Promise<IoResult> {
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null });
  await redis.connect();
  try {
    // Self-check before timing.
    await redis.set('bench:check', 'ok');
    if ((await redis.get('bench:check')) !== 'ok') throw new Error('self-check failed: GET did not return what SET stored');
    const total = 100_000;
    const inFlight = 100;
    const started = process.hrtime.bigint();
    for (const op of ['set', 'get'] as const) {
      for (let i = 0; i < total / 2; i += inFlight) {
        const batch: Array<Promise<unknown>> = [];
        for (let j = i; j < i + inFlight; j++)
          batch.push(op === 'set' ? redis.set(`key:${j % 100_000}`, 'xxx') : redis.get(`key:${j % 100_000}`));
        await Promise.all(batch);
      }
    }
    const pipelinedOps = total / (Number(process.hrtime.bigint() - started) / 1e9);
    const one = 10_000;
    const latencies = new Float64Array(one);
    const seqStart = process.hrtime.bigint();
    for (let i = 0; i < one; i++) {
      const t0 = process.hrtime.bigint();
      if (i % 2 === 0) await redis.set(`key:${i}`, 'xxx');
      else await redis.get(`key:${i}`);
      latencies[i] = Number(process.hrtime.bigint() - t0) / 1000;
    }
    const sequentialOps = one / (Number(process.hrtime.bigint() - seqStart) / 1e9);
    latencies.sort();
    return { pipelinedOps, sequentialOps, p50: latencies[Math.floor(one * 0.5)]!, p99: latencies[Math.floor(one * 0.99)]! };
  } finally {
    redis.disconnect();
  }
}

async function main(): Promise<void> {
  const serveAt = argv.indexOf('--serve');
  if (serveAt >= 0) {
    await serve(Number(argv[serveAt + 1] ?? 0));
    return;
  }
  const interrupted = () => {
    void stopAll().then(() => process.exit(130));
  };
  process.on('SIGINT', interrupted);
  process.on('SIGTERM', interrupted);
  try {
    await compare();
  } finally {
    await stopAll();
  }
}

main().catch(async (error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  await stopAll();
  process.exit(1);
});
