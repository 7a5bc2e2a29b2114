/**
 * A bounded load through our Client: `inFlight` requests kept outstanding (1 = one at a time) for `durationMs`
 * or `maxOps`, whichever ends first; latency per request in a hdr histogram (µs). Values are checked first.
 */
import * as hdr from 'hdr-histogram-js';
import type { Client } from '../../src/client/client';

export interface LoadResult {
  opsPerSecond: number;
  p50: number;
  p99: number;
  p999: number;
}

export async function runLoad(
  client: Client,
  op: 'set' | 'get',
  inFlight: number,
  durationMs: number,
  maxOps = 2_000_000,
): Promise<LoadResult> {
  const keys = Array.from({ length: 10_000 }, (_, i) => `bench:${String(i).padStart(10, '0')}`);
  const value = Buffer.alloc(100, 0x61);
  if (op === 'get') {
    await Promise.all(keys.map((key) => client.set(key, value)));
    const check = await client.get(keys[0]!);
    if (!check || !check.equals(value)) throw new Error('bench self-check failed: GET did not return what was SET');
  }
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const started = performance.now();
  const deadline = started + durationMs;
  let done = 0;
  let next = 0;
  const worker = async () => {
    while (performance.now() < deadline && next < maxOps) {
      const key = keys[next++ % keys.length]!;
      const t0 = performance.now();
      if (op === 'set') await client.set(key, value);
      else await client.get(key);
      histogram.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
      done++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const seconds = (performance.now() - started) / 1000;
  const result = {
    opsPerSecond: done / seconds,
    p50: histogram.getValueAtPercentile(50),
    p99: histogram.getValueAtPercentile(99),
    p999: histogram.getValueAtPercentile(99.9),
  };
  histogram.destroy();
  return result;
}

export function formatRow(name: string, result: LoadResult, baseline?: LoadResult): Record<string, string> {
  return {
    system: name,
    'ops/s': `${(result.opsPerSecond / 1000).toFixed(1)}k`,
    ...(baseline ? { 'vs baseline': `${(result.opsPerSecond / baseline.opsPerSecond).toFixed(2)}×` } : {}),
    'p50 µs': String(result.p50),
    'p99 µs': String(result.p99),
    'p99.9 µs': String(result.p999),
  };
}
