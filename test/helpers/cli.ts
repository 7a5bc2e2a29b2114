/**
 * Runs the CLI (src/main.ts through tsx) as a child process. Every child is tracked and killed by PID in
 * killAllChildren(), which suites call in their after hooks, so a failed assertion never leaks a process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as path from 'node:path';

const MAIN = path.join(__dirname, '..', '..', 'src', 'main.ts');
const children = new Set<ChildProcess>();

export interface CliProcess {
  child: ChildProcess;
  pid: number;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  stdout(): string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  const child = spawn(process.execPath, ['-r', 'tsx/cjs', MAIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const exited = once(child, 'exit').then(([code, signal]) => {
    children.delete(child);
    return (code as number | null) ?? (signal as string);
  });
  return { child, pid: child.pid!, stderr: () => stderr, stdout: () => stdout, exited };
}

/** Waits until stderr matches the pattern (the process logs where it listens), or fails if it exits first. */
export async function waitForLog(proc: CliProcess, pattern: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = pattern.exec(proc.stderr());
    if (match) return match;
    if (proc.child.exitCode !== null)
      throw new Error(`process exited (${proc.child.exitCode}) before logging ${pattern}: ${proc.stderr()}`);
    if (Date.now() > deadline) throw new Error(`no ${pattern} within ${timeoutMs} ms: ${proc.stderr()}`);
    await nextOutputOrExit(proc, deadline - Date.now());
  }
}

/** Resolves on the next stderr chunk, on exit, or when the time is up, whichever comes first. */
function nextOutputOrExit(proc: CliProcess, remainingMs: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      proc.child.stderr!.off('data', done);
      proc.child.off('exit', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, remainingMs));
    proc.child.stderr!.on('data', done);
    proc.child.once('exit', done);
  });
}

/** Starts a node through the CLI on an ephemeral port and returns it with its bound address. */
export async function startCliNode(
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<CliProcess & { address: string; port: number }> {
  const proc = runCli(['--addr', '127.0.0.1:0', ...args], env);
  const match = await waitForLog(proc, /listening on ([\d.]+):(\d+)/);
  return Object.assign(proc, { address: `${match[1]}:${match[2]}`, port: Number(match[2]) });
}

export function killAllChildren(): void {
  for (const child of children) {
    if (child.exitCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  children.clear();
}
