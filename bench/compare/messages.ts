/**
 * What bench/compare.ts (the conductor) and bench/compare/loadgen.ts (one load generator per system, a child
 * process pinned to the load-generator CPU) say to each other over the IPC channel. One request at a time: the
 * conductor waits for each reply, so exactly one load generator is busy at any moment.
 */

export type SystemKind = 'redis' | 'memcached' | 'dcache';
export type Phase = 'set' | 'get';

export interface ConnectRequest {
  op: 'connect';
  kind: SystemKind;
  /** "host:port" of every server of the system (the cluster: all three nodes). */
  nodes: string[];
  /** dcache only: ask for routing 'smart', falling back to 'proxy' when the client refuses it. */
  smart: boolean;
  /** redis only: ioredis's enableAutoPipelining (commands of one tick leave in one write). */
  autoPipelining?: boolean;
  /**
   * redis only: every SET is followed at once by WAIT waitReplicas 0 on the same connection (one round trip),
   * and counts as one operation once WAIT has answered: Redis's way to have a write copied before it is answered.
   */
  waitReplicas?: number;
}

export interface PrepareRequest {
  op: 'prepare';
  valueBytes: number;
  keyCount: number;
  concurrency: number;
  /** Untimed warm-up per phase, after the keys are stored and read back. */
  warmupMs: number;
}

export interface RunRequest {
  op: 'run';
  phase: Phase;
  valueBytes: number;
  keyCount: number;
  concurrency: number;
  maxOps: number;
  maxMs: number;
}

export interface LoadRequest {
  op: 'load';
  count: number;
  valueBytes: number;
  /** Requests in flight while loading. */
  window: number;
  maxMs: number;
}

export interface AccountingRequest {
  op: 'accounting';
}

export interface CloseRequest {
  op: 'close';
}

export type Request = ConnectRequest | PrepareRequest | RunRequest | LoadRequest | AccountingRequest | CloseRequest;

export interface RunResult {
  ops: number;
  errors: number;
  /** GETs whose value was missing or not the one stored. */
  wrong: number;
  elapsedMs: number;
  opsPerSec: number;
  /** Latency percentiles in microseconds (hdr-histogram, 3 significant digits). */
  p50: number;
  p99: number;
  p999: number;
  max: number;
  /** CPU time of the load generator over the phase, as a share of one CPU (1 = 100%). */
  cpu: number;
  /** The load generator's garbage collections during the phase: how many of each kind, and their pause time. */
  gc: { minor: number; major: number; pauseMs: number };
}

export interface ConnectResult {
  /** What the client really does ("smart", "proxy", or the system's own client name). */
  routing: string;
  note?: string;
}

export interface LoadResult {
  loaded: number;
  errors: number;
  elapsedMs: number;
}

export type Reply = { ok: true; value: ConnectResult | RunResult | LoadResult | number | null } | { ok: false; error: string };

/** 16-byte keys: "key:" and 12 digits. The same bytes for every system. */
export const KEY_BYTES = 16;

export function keyName(i: number): string {
  return `key:${String(i).padStart(KEY_BYTES - 4, '0')}`;
}
