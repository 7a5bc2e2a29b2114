/**
 * Shared bench plumbing: run tinybench tasks that each process `perIteration` items, and print ns per item,
 * so per-key figures stay comparable whether a task handles one key or a batch of 1024.
 */
import { Bench } from 'tinybench';

export interface PerItemTask {
  name: string;
  perIteration: number;
  run: () => void;
}

export interface PerItemResult {
  name: string;
  nsPerItem: number;
  opsPerSecond: number;
  rme: number;
}

export async function measurePerItem(tasks: PerItemTask[], timeMs = 400): Promise<PerItemResult[]> {
  const bench = new Bench({ time: timeMs, warmup: true });
  for (const task of tasks) bench.add(task.name, task.run);
  await bench.run();
  return tasks.map((task, i) => {
    const result = bench.tasks[i]!.result;
    if (!('latency' in result)) throw new Error(`${task.name} did not complete: ${result.state}`);
    const nsPerItem = (result.latency.mean * 1e6) / task.perIteration;
    return { name: task.name, nsPerItem, opsPerSecond: 1e9 / nsPerItem, rme: result.latency.rme };
  });
}

export function printTable(title: string, rows: Array<Record<string, string | number>>): void {
  console.log(`\n${title}`);
  console.table(rows);
}

export function formatNs(ns: number): string {
  return ns < 10 ? ns.toFixed(2) : ns < 100 ? ns.toFixed(1) : ns.toFixed(0);
}

/** Throws unless `actual` equals `expected`: every bench checks its result before it times anything. */
export function expectEqual<T>(actual: T, expected: T, what: string): void {
  if (actual !== expected) throw new Error(`bench self-check failed: ${what}: got ${String(actual)}, expected ${String(expected)}`);
}
