/**
 * From per-round samples to what a person reads: medians over rounds, ratios to redis-server measured in the
 * same run, the console table, the Markdown table for the README, and the target verdicts (docs/PERFORMANCE.md).
 * With `--baseline DIR` (an A/B run) our rows are also given as ratios to their twins, the same systems started
 * from another checkout's build ('dcache-1-base', 'dcache-3-base').
 */
import type { Phase, RunResult } from './messages';

export type SystemId =
  'redis' | 'redis-ap' | 'redis-wait' | 'memcached' | 'dcache-1' | 'dcache-3' | 'dcache-3r2' | 'dcache-1-base' | 'dcache-3-base';

export const SYSTEM_LABELS: Record<SystemId, string> = {
  redis: 'ioredis → redis-server',
  'redis-ap': 'ioredis (auto-pipelining) → redis-server',
  'redis-wait': 'ioredis → redis + 1 replica, SET+WAIT 1 0',
  memcached: 'memjs → memcached',
  'dcache-1': 'Client → dcache (1 node)',
  'dcache-3': 'Client → dcache (3 nodes)',
  'dcache-3r2': 'Client → dcache (3 nodes, 2 copies)',
  'dcache-1-base': 'Client → dcache (1 node), baseline',
  'dcache-3-base': 'Client → dcache (3 nodes), baseline',
};

/** Our systems that an A/B run (--baseline) pairs with a twin started from the baseline's build. */
export type OursId = 'dcache-1' | 'dcache-3';
export type BaselineId = 'dcache-1-base' | 'dcache-3-base';
export const BASELINE_TWIN: Record<OursId, BaselineId> = { 'dcache-1': 'dcache-1-base', 'dcache-3': 'dcache-3-base' };

export function isBaseline(system: SystemId): system is BaselineId {
  return system === 'dcache-1-base' || system === 'dcache-3-base';
}

/** The twin of one of our systems in an A/B run, null for any other system. */
export function twinOf(system: SystemId): BaselineId | null {
  return system === 'dcache-1' || system === 'dcache-3' ? BASELINE_TWIN[system] : null;
}

export interface Sample extends RunResult {
  system: SystemId;
  valueBytes: number;
  concurrency: number;
  phase: Phase;
  round: number;
  /** CPU time of the system's server process(es) over the phase, as a share of one CPU. */
  serverCpu: number;
  /** CPU used meanwhile by processes not started by the comparison (the machine is shared). */
  otherCpu: number;
  /** Times this phase was run again because other processes were busy. */
  retries: number;
}

export interface Row {
  system: SystemId;
  label: string;
  valueBytes: number;
  concurrency: number;
  phase: Phase;
  rounds: number;
  opsPerSec: number;
  p50: number;
  p99: number;
  p999: number;
  /** Medians of the load generator's and the server's CPU use (1 = one CPU busy all the time). */
  loadgenCpu: number;
  serverCpu: number;
  /** Medians of the load generator's full (mark-compact) collections per second and GC pause per second of phase. */
  loadgenMajorGcPerSec: number;
  loadgenGcMsPerSec: number;
  /** Largest share of a CPU other processes used during one of this row's phases. */
  otherCpuMax: number;
  errors: number;
  wrong: number;
  /** Per-round ops/s, in round order, so the spread is visible. */
  opsPerRound: number[];
  /** ops/s ÷ redis-server's, and p99 ÷ redis-server's (≤ 1 is no worse); null without a redis row. */
  opsRatio: number | null;
  p99Ratio: number | null;
  p50Ratio: number | null;
  /**
   * A/B runs (--baseline), our rows only: ops/s ÷ the baseline twin's (> 1 is faster) and p99 ÷ the twin's
   * (< 1 is better); null without a twin row.
   */
  baseOpsRatio: number | null;
  baseP99Ratio: number | null;
}

export interface MemoryRow {
  system: SystemId;
  label: string;
  keys: number;
  valueBytes: number;
  /** Server's own accounting, delta over the load ÷ keys. */
  accountingPerKey: number;
  accountingName: string;
  /** VmRSS delta over the load ÷ keys. */
  rssPerKey: number;
  rssBefore: number;
  rssAfter: number;
  loadSeconds: number;
  errors: number;
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function aggregate(samples: Sample[], order: SystemId[]): Row[] {
  const groups = new Map<string, Sample[]>();
  for (const s of samples) {
    const key = `${s.valueBytes}|${s.concurrency}|${s.phase}|${s.system}`;
    const list = groups.get(key) ?? [];
    list.push(s);
    groups.set(key, list);
  }
  const rows: Row[] = [];
  for (const list of groups.values()) {
    const first = list[0]!;
    rows.push({
      system: first.system,
      label: SYSTEM_LABELS[first.system],
      valueBytes: first.valueBytes,
      concurrency: first.concurrency,
      phase: first.phase,
      rounds: list.length,
      opsPerSec: median(list.map((s) => s.opsPerSec)),
      p50: median(list.map((s) => s.p50)),
      p99: median(list.map((s) => s.p99)),
      p999: median(list.map((s) => s.p999)),
      loadgenCpu: median(list.map((s) => s.cpu)),
      serverCpu: median(list.map((s) => s.serverCpu)),
      loadgenMajorGcPerSec: median(list.map((s) => (s.gc.major * 1000) / s.elapsedMs)),
      loadgenGcMsPerSec: median(list.map((s) => (s.gc.pauseMs * 1000) / s.elapsedMs)),
      otherCpuMax: Math.max(...list.map((s) => s.otherCpu)),
      errors: list.reduce((n, s) => n + s.errors, 0),
      wrong: list.reduce((n, s) => n + s.wrong, 0),
      opsPerRound: list.sort((a, b) => a.round - b.round).map((s) => s.opsPerSec),
      opsRatio: null,
      p99Ratio: null,
      p50Ratio: null,
      baseOpsRatio: null,
      baseP99Ratio: null,
    });
  }
  for (const row of rows) {
    const base = rows.find(
      (r) => r.system === 'redis' && r.valueBytes === row.valueBytes && r.concurrency === row.concurrency && r.phase === row.phase,
    );
    if (base !== undefined) {
      row.opsRatio = row.opsPerSec / base.opsPerSec;
      row.p99Ratio = row.p99 / base.p99;
      row.p50Ratio = row.p50 / base.p50;
    }
    const twin = twinOf(row.system);
    const twinRow =
      twin === null
        ? undefined
        : rows.find(
            (r) => r.system === twin && r.valueBytes === row.valueBytes && r.concurrency === row.concurrency && r.phase === row.phase,
          );
    if (twinRow !== undefined) {
      row.baseOpsRatio = row.opsPerSec / twinRow.opsPerSec;
      row.baseP99Ratio = row.p99 / twinRow.p99;
    }
  }
  const rank = (r: Row) => [r.concurrency === 1 ? 1 : 0, r.valueBytes, r.phase === 'set' ? 0 : 1, order.indexOf(r.system)];
  return rows.sort((a, b) => {
    const ra = rank(a);
    const rb = rank(b);
    for (let i = 0; i < ra.length; i++) if (ra[i] !== rb[i]) return ra[i]! - rb[i]!;
    return 0;
  });
}

export function sizeName(bytes: number): string {
  return bytes >= 1024 ? `${bytes / 1024} KiB` : `${bytes} B`;
}

export function modeName(concurrency: number): string {
  return concurrency === 1 ? 'one at a time' : `${concurrency} in flight`;
}

export function fmtOps(n: number): string {
  return n >= 10_000 ? `${(n / 1000).toFixed(1)}k` : n.toFixed(0);
}

export function fmtUs(n: number): string {
  return n >= 10_000 ? `${(n / 1000).toFixed(1)} ms` : `${n.toFixed(0)} µs`;
}

export function fmtRatio(r: number | null): string {
  return r === null || !Number.isFinite(r) ? '–' : `${r.toFixed(2)}×`;
}

/** The "vs base" cell of a row: the ratio for our rows, "base" for a twin, "–" for the others. */
function fmtBase(r: Row, ratio: number | null): string {
  return isBaseline(r.system) ? 'base' : fmtRatio(ratio);
}

function abRun(rows: Row[]): boolean {
  return rows.some((r) => isBaseline(r.system));
}

export function consoleRows(rows: Row[]): Array<Record<string, string>> {
  const ab = abRun(rows);
  return rows.map((r) => ({
    workload: `${r.phase.toUpperCase()} ${sizeName(r.valueBytes)}, ${modeName(r.concurrency)}`,
    system: r.label,
    'ops/s': fmtOps(r.opsPerSec),
    'vs redis': fmtRatio(r.opsRatio),
    p50: fmtUs(r.p50),
    p99: fmtUs(r.p99),
    'p99.9': fmtUs(r.p999),
    'p99 vs redis': fmtRatio(r.p99Ratio),
    'cpu lg/srv': `${Math.round(r.loadgenCpu * 100)}%/${Math.round(r.serverCpu * 100)}%`,
    ...(ab ? { 'vs base': fmtBase(r, r.baseOpsRatio), 'p99 vs base': fmtBase(r, r.baseP99Ratio) } : {}),
    ...(r.errors + r.wrong > 0 ? { errors: `${r.errors} err, ${r.wrong} wrong` } : {}),
  }));
}

export function markdownTable(rows: Row[]): string {
  const ab = abRun(rows);
  const lines = [
    '| workload | system | ops/s | ops/s vs redis | p50 | p99 | p99.9 | p99 vs redis | CPU load gen / server | load gen GC: full/s, pause ms/s |' +
      (ab ? ' ops/s vs base | p99 vs base |' : ''),
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|' + (ab ? '---:|---:|' : ''),
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.phase.toUpperCase()} ${sizeName(r.valueBytes)}, ${modeName(r.concurrency)} | ${r.label} | ${fmtOps(r.opsPerSec)} | ${fmtRatio(r.opsRatio)} | ${fmtUs(r.p50)} | ${fmtUs(r.p99)} | ${fmtUs(r.p999)} | ${fmtRatio(r.p99Ratio)} | ${Math.round(r.loadgenCpu * 100)}% / ${Math.round(r.serverCpu * 100)}% | ${r.loadgenMajorGcPerSec.toFixed(1)}, ${r.loadgenGcMsPerSec.toFixed(1)} |` +
        (ab ? ` ${fmtBase(r, r.baseOpsRatio)} | ${fmtBase(r, r.baseP99Ratio)} |` : ''),
    );
  }
  return lines.join('\n');
}

/**
 * An A/B run's summary, one line per workload and system of ours: the ratios to the baseline twin, and the same
 * ratio round by round (ours and its twin run back to back in every round, so a round's pair saw the same
 * machine), then the geometric mean over the workloads. Empty when the run has no twin rows.
 */
export function abSummary(rows: Row[]): string[] {
  const lines: string[] = [];
  const bySystem = new Map<SystemId, number[]>();
  for (const r of rows) {
    const twin = twinOf(r.system);
    if (twin === null || r.baseOpsRatio === null || r.baseP99Ratio === null) continue;
    const t = rows.find(
      (x) => x.system === twin && x.valueBytes === r.valueBytes && x.concurrency === r.concurrency && x.phase === r.phase,
    );
    if (t === undefined) continue;
    const perRound = r.opsPerRound.map((ops, i) => ops / (t.opsPerRound[i] ?? NaN)).filter(Number.isFinite);
    const spread = perRound.length > 1 ? `; per round ${Math.min(...perRound).toFixed(2)}-${Math.max(...perRound).toFixed(2)}×` : '';
    lines.push(
      `${`${r.phase.toUpperCase()} ${sizeName(r.valueBytes)}, ${modeName(r.concurrency)}`.padEnd(30)} ${r.label.padEnd(26)} ` +
        `ops/s ${fmtRatio(r.baseOpsRatio)} (${fmtOps(r.opsPerSec)} vs ${fmtOps(t.opsPerSec)}), p99 ${fmtRatio(r.baseP99Ratio)} (${fmtUs(r.p99)} vs ${fmtUs(t.p99)})${spread}`,
    );
    const list = bySystem.get(r.system) ?? [];
    list.push(r.baseOpsRatio);
    bySystem.set(r.system, list);
  }
  for (const [system, ratios] of bySystem) {
    if (ratios.length < 2) continue;
    const geomean = Math.exp(ratios.reduce((sum, x) => sum + Math.log(x), 0) / ratios.length);
    lines.push(`${SYSTEM_LABELS[system]}: geometric mean of ops/s vs base over ${ratios.length} workloads ${fmtRatio(geomean)}`);
  }
  return lines;
}

export function memoryMarkdown(rows: MemoryRow[]): string {
  const lines = ['| system | keys | own accounting per key | RSS per key |', '|---|---:|---:|---:|'];
  for (const m of rows) {
    lines.push(
      `| ${m.label} | ${m.keys.toLocaleString('en-US')} | ${m.accountingPerKey.toFixed(0)} B (${m.accountingName}) | ${m.rssPerKey.toFixed(0)} B |`,
    );
  }
  return lines.join('\n');
}

export interface Verdict {
  target: string;
  met: boolean | null;
  detail: string;
}

/** The comparison's targets, judged on this run's medians. null = not measurable in this run. */
export function verdicts(rows: Row[], memory: MemoryRow[]): Verdict[] {
  const out: Verdict[] = [];
  const find = (system: SystemId, size: number, conc: number, phase: Phase) =>
    rows.find((r) => r.system === system && r.valueBytes === size && r.concurrency === conc && r.phase === phase);
  const sizes = [...new Set(rows.map((r) => r.valueBytes))].sort((a, b) => a - b);
  const inflight = [...new Set(rows.map((r) => r.concurrency))].filter((c) => c > 1);
  for (const size of sizes) {
    for (const conc of inflight) {
      for (const phase of ['set', 'get'] as const) {
        const ours = find('dcache-1', size, conc, phase);
        if (ours === undefined || ours.opsRatio === null || ours.p99Ratio === null) continue;
        const ap = find('redis-ap', size, conc, phase);
        out.push({
          target: `${phase.toUpperCase()} ${sizeName(size)}, ${conc} in flight: ≥ 1.5× redis ops/s, p99 no worse`,
          met: ours.opsRatio >= 1.5 && ours.p99Ratio <= 1,
          detail:
            `${fmtRatio(ours.opsRatio)} ops/s, p99 ${fmtRatio(ours.p99Ratio)} (${fmtUs(ours.p99)} vs ${fmtUs(ours.p99 / ours.p99Ratio)})` +
            (ap === undefined
              ? ''
              : `; against auto-pipelining ioredis: ${fmtRatio(ours.opsPerSec / ap.opsPerSec)} ops/s, p99 ${fmtRatio(ours.p99 / ap.p99)}`),
        });
      }
    }
    for (const phase of ['set', 'get'] as const) {
      const ours = find('dcache-1', size, 1, phase);
      if (ours === undefined || ours.p50Ratio === null || ours.p99Ratio === null) continue;
      out.push({
        target: `${phase.toUpperCase()} ${sizeName(size)}, one at a time: p50 and p99 no worse than redis`,
        met: ours.p50Ratio <= 1 && ours.p99Ratio <= 1,
        detail: `p50 ${fmtUs(ours.p50)} (${fmtRatio(ours.p50Ratio)}), p99 ${fmtUs(ours.p99)} (${fmtRatio(ours.p99Ratio)})`,
      });
    }
    for (const conc of inflight) {
      for (const phase of ['set', 'get'] as const) {
        const one = find('dcache-1', size, conc, phase);
        const three = find('dcache-3', size, conc, phase);
        if (one === undefined || three === undefined) continue;
        const ratio = three.opsPerSec / one.opsPerSec;
        // The load generator's CPU is the limit when it is busy nearly all the time; the three nodes share the
        // servers' CPU, so when they keep it busy the cluster has no more CPU than one node had.
        const limits = [
          three.loadgenCpu >= 0.9 ? 'the load generator' : null,
          three.serverCpu >= 0.9 ? "the servers' one CPU (all three nodes share it)" : null,
        ].filter((x) => x !== null);
        out.push({
          target: `${phase.toUpperCase()} ${sizeName(size)}, ${conc} in flight: 3-node cluster ≥ 1.5× one node`,
          met: ratio >= 1.5 ? true : limits.length > 0 ? null : false,
          detail:
            `${fmtRatio(ratio)} (${fmtOps(three.opsPerSec)} vs ${fmtOps(one.opsPerSec)} ops/s); CPU: load generator ${Math.round(three.loadgenCpu * 100)}%, ` +
            `3 nodes together ${Math.round(three.serverCpu * 100)}% (one node alone: ${Math.round(one.loadgenCpu * 100)}% / ${Math.round(one.serverCpu * 100)}%)` +
            (limits.length > 0 ? `; limit: ${limits.join(' and ')}` : ''),
        });
      }
    }
  }
  const ours = memory.find((m) => m.system === 'dcache-1');
  const mc = memory.find((m) => m.system === 'memcached');
  if (ours !== undefined && mc !== undefined) {
    out.push({
      target: 'memory per key below memcached (RSS)',
      met: ours.rssPerKey < mc.rssPerKey,
      detail: `${ours.rssPerKey.toFixed(0)} B vs ${mc.rssPerKey.toFixed(0)} B RSS per key; own accounting ${ours.accountingPerKey.toFixed(0)} B vs ${mc.accountingPerKey.toFixed(0)} B`,
    });
  }
  return out;
}
