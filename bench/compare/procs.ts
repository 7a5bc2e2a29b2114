/**
 * Child processes of the comparison: free loopback ports, starting a server pinned to a CPU, waiting until it
 * accepts connections, reading its RSS and CPU time from /proc, and ending every process by PID (at the end,
 * on failure and on SIGINT/SIGTERM).
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';

const children = new Set<ChildProcess>();

export function which(command: string): string | null {
  const result = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  const found = result.status === 0 ? result.stdout.trim() : '';
  return found === '' ? null : found;
}

const TASKSET = which('taskset');
const CPUS = (() => {
  const result = TASKSET === null ? null : spawnSync(TASKSET, ['-pc', String(process.pid)], { encoding: 'utf8' });
  const match = result?.stdout.match(/list:\s*(\S+)/);
  return match ? match[1]! : null;
})();

/** Pinning is used when taskset exists and CPUs 0 and 1 are both in this process's affinity list. */
export function pinningAvailable(): boolean {
  if (TASKSET === null || CPUS === null) return false;
  const allowed = new Set<number>();
  for (const part of CPUS.split(',')) {
    const [a, b] = part.split('-').map(Number);
    if (a === undefined || Number.isNaN(a)) continue;
    for (let c = a; c <= (b ?? a); c++) allowed.add(c);
  }
  return allowed.has(0) && allowed.has(1);
}

/**
 * Spawns `command args` pinned to `cpu` (taskset execs the command, so the child's PID is the program's own),
 * registered for cleanup. cpu null: not pinned.
 */
export function spawnPinned(cpu: number | null, command: string, args: string[], options: SpawnOptions): ChildProcess {
  const child =
    cpu === null || TASKSET === null ? spawn(command, args, options) : spawn(TASKSET, ['-c', String(cpu), command, ...args], options);
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Ends one child by PID: SIGTERM, then SIGKILL after graceMs. Resolves when it has exited. */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    process.kill(child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }, graceMs);
  await exited;
  clearTimeout(timer);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...children].map((child) => stopChild(child)));
}

/** Synchronous last resort (process 'exit'): SIGKILL every child still running, by PID. */
export function killAllNow(): void {
  for (const child of children) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
}

/** A port the kernel just handed out on 127.0.0.1 (closed again, so a server can bind it). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Resolves once 127.0.0.1:port accepts a connection; rejects when the child exits or timeoutMs passes. */
export async function waitForPort(child: ChildProcess, port: number, name: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before listening on ${port}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`${name} did not listen on ${port} within ${timeoutMs} ms`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resident set size in bytes (VmRSS of /proc/PID/status). */
export function rssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = status.match(/^VmRSS:\s+(\d+)\s+kB/m);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

const CLOCK_TICKS = (() => {
  const result = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(result.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** User + system CPU seconds of a process so far (/proc/PID/stat fields 14 and 15). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

/**
 * CPU seconds spent in user and system mode by every process on the machine so far (/proc/stat, first line;
 * interrupt and softirq time left out: loopback traffic lands there whoever causes it).
 */
export function machineCpuSeconds(): number {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    return ((f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0)) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}
