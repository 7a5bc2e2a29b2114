/**
 * The owner's side of synchronous replicas (docs/ARCHITECTURE.md, "Replicas"): after a write ran here, each
 * written key's state (its item, or a removal at a fresh version) goes to the key's other holders in this
 * node's ring. The writes of one run of synchronous code (every request of a socket read) share one REPLICATE
 * per member, sent on the member's forwarding connection (in order with everything else sent to it) once that
 * code is done; each write is acknowledged once every batch it went into was answered OK.
 *
 * A holder that does not answer (closed, refused, timed out) is never skipped: it is reported to membership,
 * which probes it at once, and the write is held and sent again (the keys' state then, to their holders in the
 * ring then) until every holder answers. A dead replica is declared dead and leaves the ring, its place taken by
 * the next member, which gets the write too; a write no holder set acknowledged within the hold time fails with
 * UNAVAILABLE (applied here only).
 */
import type { Store } from '../cache/store';
import { MAX_REPLICAS } from '../consistent/ring';
import { UnavailableError } from '../errors';
import { Opcode, Status, statusName } from '../protocol/constants';
import { messageOf, type PeerRequester } from '../routing/peer-answers';
import { WrittenKeys, type Replication } from '../routing/replication';
import type { RawResponse } from '../routing/sink';
import type { MovementView } from './movement-types';
import { ReplicaBatch } from './replica-codec';

/** The peer pool: a request copies its key and value into the connection before it returns. */
export type ReplicaPeers = Pick<PeerRequester, 'request'>;

/** The written key is live here: its item goes to the replicas (not a removal version: those are positive). */
const PRESENT = -1;
/** REPLICATE batches to one member unanswered at a time; writes meanwhile fill the next batch. */
const MAX_IN_FLIGHT = 64;
/** Batch buffers kept for reuse, and the largest kept. */
const MAX_SPARES = 8;
const MAX_SPARE_BYTES = 256 * 1024;
/** Pauses between tries of a held write, growing to the last. */
const RETRY_PAUSES_MS = [25, 50, 100, 200];

/** Upper bounds (ms) of the acknowledgement-latency buckets; the last bucket is everything above. */
const LATENCY_BOUNDS_MS = [0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048];

/** The batch being filled for one member, and its answer. */
interface OpenBatch {
  readonly peer: string;
  readonly batch: ReplicaBatch;
  readonly acknowledged: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

export class ReplicaWriter implements Replication {
  readonly counters = {
    /** Keys sent to replicas (one per key and replica). */
    replicaWrites: 0,
    replicaBatches: 0,
    replicaAcks: 0,
    /** Batches a replica did not acknowledge (the writes in them are held and sent again). */
    replicaFailures: 0,
    /** Writes held because a replica did not acknowledge, and those of them that failed after the hold. */
    writesHeld: 0,
    writesFailedAfterHold: 0,
  };
  private readonly latency = new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0);
  private latencyMaxMs = 0;
  private readonly holders = new Int32Array(MAX_REPLICAS);
  /** Batches being filled, by member id; sent once the current turn is over and the member has room. */
  private open = new Map<string, OpenBatch>();
  /** REPLICATE batches sent to each member and not answered yet. */
  private readonly inFlight = new Map<string, number>();
  private flushQueued = false;
  /** Buffers of batches sent (requests copy their body), reused for the next batches. */
  private readonly spare: Buffer[] = [];
  private readonly flush = (): void => this.sendOpen();

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

  replicate(keys: WrittenKeys): Promise<void> | null {
    const first = this.enqueue(keys);
    if (first === null) return null;
    const started = performance.now();
    // The keys outlive the request only if a holder fails to answer: copied now, while the views are valid.
    const saved = new WrittenKeys();
    for (let i = 0; i < keys.count; i++) {
      const key = Buffer.allocUnsafe(keys.lens[i]!);
      key.set(keys.bufs[i]!.subarray(keys.offs[i]!, keys.offs[i]! + keys.lens[i]!));
      saved.add(key, 0, key.length);
    }
    return first.then(
      () => this.record(performance.now() - started),
      (error: unknown) => this.hold(saved, started, error),
    );
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

  /** Sends the keys again until every holder in the ring of the moment acknowledges, or the hold time is over. */
  private async hold(keys: WrittenKeys, started: number, error: unknown): Promise<void> {
    this.counters.writesHeld++;
    let last = error;
    for (let attempt = 0; performance.now() - started < this.holdMs && !this.store.isClosed; attempt++) {
      await delay(RETRY_PAUSES_MS[Math.min(attempt, RETRY_PAUSES_MS.length - 1)]!);
      try {
        await this.enqueue(keys);
        this.record(performance.now() - started);
        return;
      } catch (next) {
        last = next;
      }
    }
    this.counters.writesFailedAfterHold++;
    throw last;
  }

  /**
   * Adds each key's state now to the open batch of each of its other holders in the ring now; the promise of
   * every batch it went into (null when there are none). The batches leave once this run of code is over.
   */
  private enqueue(keys: WrittenKeys): Promise<void> | null {
    const ring = this.view.ring;
    const nodes = ring.nodes;
    const self = nodes.indexOf(this.view.selfId);
    const versions = this.store.versions;
    let one: OpenBatch | undefined;
    let more: Set<OpenBatch> | undefined;
    for (let k = 0; k < keys.count; k++) {
      const kb = keys.bufs[k]!;
      const ko = keys.offs[k]!;
      const kl = keys.lens[k]!;
      if (kl === 0 || kl > this.store.maxKeyBytes) continue;
      const count = ring.holdersOf(kb, ko, kl, this.view.replicas, this.holders);
      // 0: not looked at yet; PRESENT: the item goes to each replica; else the removal's version.
      let state = 0;
      for (let i = 0; i < count; i++) {
        const holder = this.holders[i]!;
        if (holder === self) continue;
        const open = this.openFor(nodes[holder]!);
        // What every replica gets is what this store holds now, copied from its pages into the batch.
        if (state === 0) state = this.store.visitItem(kb, ko, kl, open.batch.addItem) ? PRESENT : versions.next();
        else if (state === PRESENT) this.store.visitItem(kb, ko, kl, open.batch.addItem);
        if (state !== PRESENT) open.batch.addRemoval(kb, ko, kl, state, versions.nodeTag);
        this.counters.replicaWrites++;
        if (one === undefined) one = open;
        else if (open !== one) (more ??= new Set([one])).add(open);
      }
    }
    if (one === undefined) return null;
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(this.flush);
    }
    return more === undefined ? one.acknowledged : Promise.all([...more].map((open) => open.acknowledged)).then(() => undefined);
  }

  private openFor(peer: string): OpenBatch {
    let open = this.open.get(peer);
    if (open === undefined) {
      let resolve!: () => void;
      let reject!: (error: unknown) => void;
      const acknowledged = new Promise<void>((ok, fail) => {
        resolve = ok;
        reject = fail;
      });
      // A batch whose every write was acknowledged elsewhere already must not raise an unhandled rejection.
      acknowledged.catch(() => undefined);
      open = { peer, batch: new ReplicaBatch(this.spare.pop()), acknowledged, resolve, reject };
      this.open.set(peer, open);
    }
    return open;
  }

  /**
   * Sends each open batch whose member has fewer than MAX_IN_FLIGHT batches unanswered; the others keep filling
   * until an answer comes (group commit: under load a batch carries every write made during the round trip
   * before it, so the writes per message grow with the load instead of the messages).
   */
  private sendOpen(): void {
    this.flushQueued = false;
    for (const [peer, open] of this.open) {
      if ((this.inFlight.get(peer) ?? 0) >= MAX_IN_FLIGHT) continue;
      this.open.delete(peer);
      void this.send(open);
    }
  }

  private async send(open: OpenBatch): Promise<void> {
    this.counters.replicaBatches++;
    const peer = open.peer;
    this.inFlight.set(peer, (this.inFlight.get(peer) ?? 0) + 1);
    try {
      await this.sendNow(open);
    } finally {
      const left = this.inFlight.get(peer)! - 1;
      if (left === 0) this.inFlight.delete(peer);
      else this.inFlight.set(peer, left);
      const waiting = this.open.get(peer);
      if (waiting !== undefined && left < MAX_IN_FLIGHT) {
        this.open.delete(peer);
        void this.send(waiting);
      }
    }
  }

  private async sendNow(open: OpenBatch): Promise<void> {
    let answer: RawResponse;
    try {
      const sent = this.peers.request(open.peer, Opcode.REPLICATE, 0, null, open.batch.encode(), 0);
      // The request was copied into the connection's output: the batch's buffer serves the next batch.
      if (open.batch.space.length <= MAX_SPARE_BYTES && this.spare.length < MAX_SPARES) this.spare.push(open.batch.space);
      answer = await sent;
    } catch (error) {
      this.counters.replicaFailures++;
      this.unanswered(open.peer);
      open.reject(
        new UnavailableError(`replica ${open.peer} did not acknowledge the write (${messageOf(error)}); it is applied on the owner only`),
      );
      return;
    }
    if (answer.status !== Status.OK) {
      this.counters.replicaFailures++;
      open.reject(
        new UnavailableError(
          `replica ${open.peer} refused the write: ${statusName(answer.status)} ${answer.value.toString('utf8')}; it is applied on the owner only`,
        ),
      );
      return;
    }
    this.counters.replicaAcks++;
    open.resolve();
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
