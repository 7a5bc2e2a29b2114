/**
 * What a synchronous copy of every write costs, from a run with the replicated systems (replicas.ts): the
 * 3-node cluster at --replicas 2 ('dcache-3r2') as ratios to the same cluster without copies ('dcache-3') and to
 * redis-server with one replica driven with SET+WAIT 1 0 ('redis-wait'), per workload, next to the targets
 * (docs/PERFORMANCE.md, "Replicas"). The targets are printed, not judged into the MET/MISSED list (report.ts
 * verdicts): they compare two of our own rows, whose figures on a shared 2-core machine carry the noise of both.
 */
import type { Phase } from './messages';
import { type Row, type SystemId, fmtOps, fmtRatio, fmtUs, modeName, sizeName } from './report';

/** The R=2 ops/s ÷ R=1 ops/s aimed at: writes may pay for the copy, reads should not. */
export const REPLICA_TARGETS: Record<Phase, number> = { set: 0.6, get: 0.95 };

export interface ReplicaSummary {
  /** What the lines compare and the targets; empty when the run has no 'dcache-3r2' row to compare. */
  heading: string;
  lines: string[];
}

/** ops/s of a ÷ b round by round (rounds are paired by number: the same machine state, roughly). */
function perRoundSpread(a: Row, b: Row): string {
  const ratios = a.opsPerRound.map((ops, i) => ops / (b.opsPerRound[i] ?? NaN)).filter(Number.isFinite);
  return ratios.length > 1 ? `; per round ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}×` : '';
}

export function replicaSummary(rows: Row[]): ReplicaSummary {
  const find = (system: SystemId, like: Row) =>
    rows.find(
      (r) => r.system === system && r.valueBytes === like.valueBytes && r.concurrency === like.concurrency && r.phase === like.phase,
    );
  const lines: string[] = [];
  // rows are in report order (in flight before one at a time, size, SET before GET), so the lines are too.
  for (const r2 of rows.filter((r) => r.system === 'dcache-3r2')) {
    const r1 = find('dcache-3', r2);
    const wait = find('redis-wait', r2);
    if (r1 === undefined && wait === undefined) continue;
    const parts: string[] = [];
    if (r1 !== undefined) {
      const ratio = r2.opsPerSec / r1.opsPerSec;
      const target = REPLICA_TARGETS[r2.phase];
      parts.push(
        `R=2 ÷ R=1: ops/s ${fmtRatio(ratio)} (${fmtOps(r2.opsPerSec)} vs ${fmtOps(r1.opsPerSec)}${perRoundSpread(r2, r1)}; ` +
          `target ≥ ${target.toFixed(2)}×: ${ratio >= target ? 'met' : 'below'}), ` +
          `p99 ${fmtUs(r2.p99)} vs ${fmtUs(r1.p99)} (${fmtRatio(r2.p99 / r1.p99)})`,
      );
    }
    if (wait !== undefined) {
      parts.push(
        `R=2 ÷ redis+WAIT: ops/s ${fmtRatio(r2.opsPerSec / wait.opsPerSec)} (${fmtOps(r2.opsPerSec)} vs ${fmtOps(wait.opsPerSec)}), ` +
          `p99 ${fmtRatio(r2.p99 / wait.p99)} (${fmtUs(r2.p99)} vs ${fmtUs(wait.p99)})`,
      );
    }
    lines.push(`${`${r2.phase.toUpperCase()} ${sizeName(r2.valueBytes)}, ${modeName(r2.concurrency)}`.padEnd(30)} ${parts.join(' · ')}`);
  }
  if (lines.length === 0) return { heading: '', lines };
  return {
    heading:
      'Replicas: the 3-node cluster with 2 copies of each key (R=2) ÷ the same cluster without (R=1), and ÷ redis-server + 1 replica ' +
      'with SET+WAIT 1 0 (GETs plain, from the primary); medians. Targets (printed, not asserted): SET at R=2 ≥ ' +
      `${REPLICA_TARGETS.set}× R=1, GET ≥ ${REPLICA_TARGETS.get}×, p99 reported; R=2 vs redis with WAIT reported`,
    lines,
  };
}

/** The summary for bench/results/*.md: the heading, then one bullet per workload; nothing without lines. */
export function replicaMarkdown(summary: ReplicaSummary): string[] {
  if (summary.lines.length === 0) return [];
  return [`${summary.heading}.`, '', summary.lines.map((line) => `- ${line.replace(/ {2,}/g, ' ')}`).join('\n'), ''];
}
