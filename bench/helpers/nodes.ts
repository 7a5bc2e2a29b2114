/**
 * Bench nodes: the compiled CLI (node dist/main.js, as users run it; built first if missing) on ephemeral
 * loopback ports, pinned to CPU 0 when taskset exists, ended by PID when the bench ends or fails.
 * DCACHE_BENCH_NO_PIN=1 leaves them unpinned; DCACHE_BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=D' passes
 * node flags to each (a profile is written when the node exits on SIGTERM).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const MAIN = path.join(ROOT, 'dist', 'main.js');
const running = new Set<ChildProcess>();

process.on('exit', () => {
  for (const child of running) if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
});

export const hasTaskset = process.env['DCACHE_BENCH_NO_PIN'] === undefined && spawnSync('taskset', ['-c', '0', 'true']).status === 0;

export function ensureBuilt(): void {
  if (!fs.existsSync(MAIN))
    spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'tsconfig.json')], {
      stdio: 'inherit',
    });
}

/** Starts one node; resolves with its address once it listens. */
export function startNode(args: string[] = []): Promise<{ address: string; child: ChildProcess }> {
  const command = hasTaskset ? 'taskset' : process.execPath;
  const argv = [
    ...(hasTaskset ? ['-c', '0', process.execPath] : []),
    ...(process.env['DCACHE_BENCH_NODE_ARGS'] ?? '').split(' ').filter(Boolean),
    MAIN,
    '--addr',
    '127.0.0.1:0',
    '--max-memory',
    '1gb',
    ...args,
  ];
  const child = spawn(command, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  return new Promise((resolve, reject) => {
    let log = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      const match = /listening on ([\d.]+:\d+)/.exec(log);
      if (match) resolve({ address: match[1]!, child });
    });
    child.once('exit', (code) => reject(new Error(`node exited (${code}) before listening: ${log}`)));
  });
}

/** A cluster of `count` nodes joined through the first, each with `args`; the addresses in start order. */
export async function startCluster(count: number, args: string[] = []): Promise<string[]> {
  const seed = await startNode(args);
  const others = await Promise.all(Array.from({ length: count - 1 }, () => startNode([...args, '--join', seed.address])));
  return [seed.address, ...others.map((node) => node.address)];
}

export function stopAll(): void {
  for (const child of running)
    if (child.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(child.pid, 'SIGTERM');
      } catch {
        // Exited already.
      }
    }
  running.clear();
}
