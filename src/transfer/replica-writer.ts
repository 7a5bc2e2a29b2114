/**
 * The owner's side of synchronous replicas (docs/ARCHITECTURE.md, "Replicas"): after a write ran here, each
 * written key's state (its item, or a removal at a fresh version) goes to the key's other holders in this
 * node's ring, one REPLICATE per member on the member's forwarding connection (in order with everything else
 * sent to it). The write is acknowledged once every holder answered OK. A holder that does not answer (closed,
 * refused, timed out) is never skipped: it is reported to membership, which probes it at once, and the write is
 * held and sent again (the keys' state then, to their holders in the ring then) until every holder answers. A
 * dead replica is declared dead and leaves the ring, its place taken by the next member, which gets the write
 * too; a write no holder set acknowledged within the hold time fails with UNAVAILABLE (applied here only).
 */
import type { Store } from '../cache/store';
import { MAX_REPLICAS } from '../consistent/ring';
import { UnavailableError } from '../errors';
import { Opcode, Status, statusName } from '../protocol/constants';
import { messageOf } from '../routing/peer-answers';
import type { Replication } from '../routing/replication';
import type { RawResponse } from '../routing/sink';
import type { MovementView } from './movement-types';
import { ReplicaBatch } from './replica-codec';

export interface ReplicaPeers {
  request(
    peerId: string,
    opcode: number,
    flags: number,
    key: Uint8Array | null,
    value: Uint8Array | null,
    extras: number,
  ): Promise<RawResponse>;
}

/** Pauses between tries of a held write, growing to the last. */
const RETRY_PAUSES_MS = [25, 50, 100, 200];

/** Upper bounds (ms) of the acknowledgement-latency buckets; the last bucket is everything above. */
const LATENCY_BOUNDS_MS = [0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048];

export class ReplicaWriter implements Replication {
  readonly counters = {
    /** Keys sent to replicas (one per key and replica). */
    replicaWrites: 0,
    replicaBatches: 0,
    replicaAcks: 0,
    /** Batches a replica did not acknowledge (the write is held and sent again). */
    replicaFailures: 0,
    /** Writes held because a replica did not acknowledge, and those of them that failed after the hold. */
    writesHeld: 0,
    writesFailedAfterHold: 0,
  };
  private readonly latency = new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0);
  private latencyMaxMs = 0;
  private readonly holders = new Int32Array(MAX_REPLICAS);

  constructor(
    private readonly view: MovementView,
    private readonly store: Store,
    private readonly peers: ReplicaPeers,
    /** A holder did not acknowledge: membership probes it now. */
    private readonly unanswered: (peerId: string) => void,
    /** Longest a write is held for a holder that does not acknowledge (membership's detection time and more). */
    private readonly holdMs: number,
  ) {}

  get active(): boolean {
    return this.view.replicas > 1 && this.view.ring.size > 1;
  }

  replicate(keys: readonly Buffer[]): Promise<void> | null {
    const first = this.sendAll(keys);
    if (first === null) return null;
    const started = performance.now();
    return first.then(
      () => this.record(performance.now() - started),
      (error: unknown) => this.hold(keys, started, error),
    );
  }

  /** Sends the keys again until every holder in the ring of the moment acknowledges, or the hold time is over. */
  private async hold(keys: readonly Buffer[], started: number, error: unknown): Promise<void> {
    this.counters.writesHeld++;
    let last = error;
    for (let attempt = 0; performance.now() - started < this.holdMs && !this.store.isClosed; attempt++) {
      await delay(RETRY_PAUSES_MS[Math.min(attempt, RETRY_PAUSES_MS.length - 1)]!);
      const again = this.sendAll(keys);
      try {
        await again;
        this.record(performance.now() - started);
        return;
      } catch (next) {
        last = next;
      }
    }
    this.counters.writesFailedAfterHold++;
    throw last;
  }

  /** One try: each key's state now to its other holders in the ring now; null when there are none. */
  private sendAll(keys: readonly Buffer[]): Promise<void> | null {
    const ring = this.view.ring;
    const nodes = ring.nodes;
    const self = nodes.indexOf(this.view.selfId);
    const batches = new Map<number, ReplicaBatch>();
    const versions = this.store.versions;
    for (const key of keys) {
      const count = ring.holdersOf(key, 0, key.length, this.view.replicas, this.holders);
      let copy: ReturnType<Store['copyOf']> | undefined;
      let removal = 0;
      for (let i = 0; i < count; i++) {
        const holder = this.holders[i]!;
        if (holder === self) continue;
        // Read once per key, after the write: what every replica gets is what this store holds now.
        if (copy === undefined) {
          copy = key.length === 0 || key.length > this.store.maxKeyBytes ? null : this.store.copyOf(key, 0, key.length);
          if (copy === null) removal = versions.next();
        }
        let batch = batches.get(holder);
        if (batch === undefined) batches.set(holder, (batch = new ReplicaBatch()));
        if (copy !== null) batch.addCopy(key, copy);
        else batch.addRemoval(key, removal, versions.nodeTag);
      }
    }
    if (batches.size === 0) return null;
    const sent: Array<Promise<void>> = [];
    for (const [holder, batch] of batches) sent.push(this.send(nodes[holder]!, batch));
    return Promise.all(sent).then(() => undefined);
  }

  stats(): Record<string, unknown> {
    const total = this.latency.reduce((sum, n) => sum + n, 0);
    return {
      replicas: this.view.replicas,
      ...this.counters,
      replicaAckP50Ms: this.quantile(total, 0.5),
      replicaAckP99Ms: this.quantile(total, 0.99),
      replicaAckMaxMs: Math.round(this.latencyMaxMs * 1000) / 1000,
    };
  }

  private async send(peer: string, batch: ReplicaBatch): Promise<void> {
    this.counters.replicaBatches++;
    this.counters.replicaWrites += batch.count;
    let answer: RawResponse;
    try {
      answer = await this.peers.request(peer, Opcode.REPLICATE, 0, null, batch.encode(), 0);
    } catch (error) {
      this.counters.replicaFailures++;
      this.unanswered(peer);
      throw new UnavailableError(`replica ${peer} did not acknowledge the write (${messageOf(error)}); it is applied on the owner only`);
    }
    if (answer.status !== Status.OK) {
      this.counters.replicaFailures++;
      throw new UnavailableError(
        `replica ${peer} refused the write: ${statusName(answer.status)} ${answer.value.toString('utf8')}; it is applied on the owner only`,
      );
    }
    this.counters.replicaAcks++;
  }

  private record(ms: number): void {
    let bucket = 0;
    while (bucket < LATENCY_BOUNDS_MS.length && ms > LATENCY_BOUNDS_MS[bucket]!) bucket++;
    this.latency[bucket]!++;
    if (ms > this.latencyMaxMs) this.latencyMaxMs = ms;
  }

  /** The bucket bound at or below which `q` of the writes were acknowledged (0 before any). */
  private quantile(total: number, q: number): number {
    if (total === 0) return 0;
    let seen = 0;
    for (let bucket = 0; bucket < this.latency.length; bucket++) {
      seen += this.latency[bucket]!;
      if (seen >= total * q) return LATENCY_BOUNDS_MS[bucket] ?? Math.round(this.latencyMaxMs);
    }
    return Math.round(this.latencyMaxMs);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
