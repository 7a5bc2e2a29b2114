/**
 * The receiving side of data movement (docs/ARCHITECTURE.md, "Data movement"). When the ring gives this node
 * ranges another member owned before, it pulls them from that member (the source) in batches, and until a
 * source's pull is complete:
 *   - a key of those ranges is pending: a request that needs its current value and misses here reads it
 *     through from the source first (KeyRouter, via the ReadThrough interface);
 *   - removing such a key leaves a tombstone (store.keepTombstonesFor), so a late copy cannot resurrect it.
 *
 * One pull runs per source. A ring change restarts every running pull from the first slot under the new ring
 * (the source answers only when its ring is the same, and sends the keys this node owns in it); copies already
 * applied stay, since a copy is applied only if newer. A pull that cannot finish within the deadline, or whose
 * source is gone, is abandoned: its keys are then simply misses, never stale values.
 */
import type { Store } from '../cache/store';
import { CopyResult } from '../cache/store-copies';
import type { HashRing } from '../consistent/ring';
import type { Logger } from '../logger';
import { Opcode, Status, statusName } from '../protocol/constants';
import { decodeBatch, decodeFetchAnswer, encodeChecksum, encodePullRequest, TransferFormatError, type BatchItem } from './copy-codec';
import { xxh32 } from '../consistent/xxhash32';
import { arcsOf, inArcs, ringMoves } from './ring-moves';
import type { Sweeper } from './sweeper';
import type { MovementOptions, MovementView, TransferPeers } from './movement-types';

type PullState = 'pulling' | 'done' | 'abandoned';

interface SourcePull {
  readonly id: string;
  state: PullState;
  readonly startedAt: number;
  /** This node's version clock when the pull began: what it wrote since wins over the source's copies. */
  readonly since: number;
  retries: number;
  items: number;
  bytes: number;
}

interface Handoff {
  /** Each source's pull, and the arcs this node gained from it at this change (sorted lo, hi pairs). */
  readonly sources: Map<string, SourcePull>;
  readonly arcs: Map<string, Uint32Array>;
}

/** At most this many ring changes with pulls still running are remembered; older ones are abandoned. */
const MAX_HANDOFFS = 8;
const MAX_BACKOFF_MS = 2000;
/** Longest pause between two batches of a paced pull. */
const MAX_PACE_MS = 200;

export class Inbound {
  private handoffs: Handoff[] = [];
  private readonly pulls = new Map<string, SourcePull>();
  /** Bumps on every ring change: running pulls restart under the new ring. */
  private generation = 0;
  private closed = false;
  private indexEpoch = -1;
  private indexOfSelf = -1;
  readonly counters = {
    pulls: 0,
    pullsCompleted: 0,
    pullsAbandoned: 0,
    pullRetries: 0,
    malformedBatches: 0,
    itemsIn: 0,
    bytesIn: 0,
    itemsApplied: 0,
    itemsNotNewer: 0,
    applyFailures: 0,
    readThroughs: 0,
    readThroughHits: 0,
    readThroughFailures: 0,
  };

  constructor(
    private readonly view: MovementView,
    private readonly store: Store,
    private readonly peers: TransferPeers,
    private readonly sweeper: Sweeper,
    private readonly options: MovementOptions,
    private readonly logger: Logger,
  ) {}

  /** True while some range this node owns has not been pulled from its previous owner yet. */
  get active(): boolean {
    return this.handoffs.length > 0;
  }

  /** The ring changed from `before`: pull what this node gained from each member that had it. */
  begin(before: HashRing): void {
    this.generation++;
    const self = this.view.selfId;
    const gained = new Map<string, Array<{ lo: number; hi: number }>>();
    for (const move of ringMoves(before, this.view.ring, this.view.replicas)) {
      if (move.to !== self || move.from === self) continue;
      const list = gained.get(move.from);
      if (list === undefined) gained.set(move.from, [move]);
      else list.push(move);
    }
    const sources = [...gained.keys()];
    if (sources.length > 0) {
      const handoff: Handoff = { sources: new Map(), arcs: new Map() };
      for (const [id, moves] of gained) handoff.arcs.set(id, arcsOf(moves));
      for (const id of sources) {
        let pull = this.pulls.get(id);
        if (pull === undefined) {
          pull = { id, state: 'pulling', startedAt: Date.now(), since: this.store.versions.next(), retries: 0, items: 0, bytes: 0 };
          this.pulls.set(id, pull);
          this.counters.pulls++;
          void this.run(pull);
        }
        handoff.sources.set(id, pull);
      }
      this.handoffs.push(handoff);
      this.logger.info(`pulling the ranges this node gained from ${sources.join(', ')}`);
    }
    // Every other member that may be holding copies for this node until it confirms, and that it pulls nothing
    // from, hears at once that it needs nothing from it under this ring (members' views of an earlier ring may
    // differ: a fresh member, for one, believes it gave away ranges it never held for the others).
    // Leaving members too: they are outside the ring, but one may wait for this node's word before it goes.
    const checksum = encodeChecksum(this.view.ring.checksum);
    for (const id of new Set([...this.view.ring.nodes, ...this.view.leaving()])) {
      if (id !== self && !this.pulls.has(id)) this.peers.transfer(id, Opcode.PULL_DONE, null, checksum).catch(() => undefined);
    }
    while (this.handoffs.length > MAX_HANDOFFS)
      for (const pull of this.handoffs.shift()!.sources.values()) this.abandon(pull, 'too many ring changes at once');
    this.retire();
  }

  /**
   * The member a key of kb[ko, ko + kl) must be read through from: this node holds it (owner or replica), and
   * the member it gained the key's range from has not finished sending it. Undefined otherwise.
   */
  sourceOf(kb: Uint8Array, ko: number, kl: number): string | undefined {
    if (this.handoffs.length === 0) return undefined;
    const ring = this.view.ring;
    const hash = xxh32(kb, ko, kl, 0);
    if (!ring.holdsHash(hash, this.view.replicas, this.selfIndex())) return undefined;
    for (let i = this.handoffs.length - 1; i >= 0; i--) {
      for (const [id, arcs] of this.handoffs[i]!.arcs) {
        if (!inArcs(arcs, hash)) continue;
        const pull = this.handoffs[i]!.sources.get(id)!;
        if (pull.state === 'pulling') return pull.id;
      }
    }
    return undefined;
  }

  /** Arcs this node still pulls (ranges it holds fewer copies of than the ring says), for STATS. */
  get rangesPending(): number {
    let count = 0;
    for (const handoff of this.handoffs) {
      for (const [id, arcs] of handoff.arcs) if (handoff.sources.get(id)!.state === 'pulling') count += arcs.length >>> 1;
    }
    return count;
  }

  /** Every arc any running handoff gained from `source`, merged: what a pull from it asks for. */
  private arcsFrom(source: string): Uint32Array {
    const moves: Array<{ lo: number; hi: number }> = [];
    for (const handoff of this.handoffs) {
      const arcs = handoff.arcs.get(source);
      if (arcs === undefined) continue;
      for (let i = 0; i < arcs.length; i += 2) moves.push({ lo: arcs[i]!, hi: arcs[i + 1]! });
    }
    return arcsOf(moves);
  }

  private selfIndex(): number {
    const ring = this.view.ring;
    if (ring.epoch !== this.indexEpoch) {
      this.indexEpoch = ring.epoch;
      this.indexOfSelf = ring.nodes.indexOf(this.view.selfId);
    }
    return this.indexOfSelf;
  }

  /** Reads one key through from `source` and applies its copy here; a failure leaves the key as it was. */
  async fill(source: string, key: Buffer): Promise<void> {
    this.counters.readThroughs++;
    try {
      const answer = await this.peers.transfer(source, Opcode.FETCH, key, null);
      if (answer.status === Status.NOT_FOUND) return;
      if (answer.status !== Status.OK) throw new Error(`${statusName(answer.status)}: ${answer.value.toString('utf8')}`);
      const copy = decodeFetchAnswer(answer.value, this.store.maxValueBytes);
      // Applied once a running sweep is through, as pulled copies are: the store judges old items on access
      // while one runs, and this copy keeps its previous owner's (older) version.
      await this.sweeper.idle();
      if (this.store.isClosed) return;
      const since = this.pulls.get(source)?.since ?? 0;
      this.store.applyCopy(key, 0, key.length, copy.value, 0, copy.value.length, copy.expireAt, copy.version, copy.tag, since);
      this.counters.readThroughHits++;
    } catch {
      // The key stays a miss here: never a wrong value.
      this.counters.readThroughFailures++;
    }
  }

  /** Pulls in progress, for STATS and `distributed-cache status`. */
  progress(): Array<{ from: string; items: number; bytes: number; retries: number; ms: number }> {
    const now = Date.now();
    return [...this.pulls.values()].map((pull) => ({
      from: pull.id,
      items: pull.items,
      bytes: pull.bytes,
      retries: pull.retries,
      ms: now - pull.startedAt,
    }));
  }

  close(): void {
    this.closed = true;
    for (const pull of this.pulls.values()) pull.state = 'abandoned';
    this.pulls.clear();
    this.handoffs = [];
    if (!this.store.isClosed) this.store.keepTombstonesFor(null);
  }

  private async run(pull: SourcePull): Promise<void> {
    let generation = -1;
    let cursor = 0;
    let failuresInARow = 0;
    while (pull.state === 'pulling' && !this.closed) {
      if (Date.now() - pull.startedAt > this.options.pullDeadlineMs) {
        this.abandon(pull, `not complete after ${this.options.pullDeadlineMs} ms`);
        break;
      }
      if (!this.view.reachable(pull.id)) {
        this.abandon(pull, 'the member is gone');
        break;
      }
      if (generation !== this.generation) {
        generation = this.generation;
        cursor = 0;
      }
      // Copies of moved ranges are applied only once the ring change's sweep is through (sweeper.ts).
      await this.sweeper.idle();
      if (generation !== this.generation || this.closed) continue;
      const checksum = this.view.ring.checksum;
      const batchStarted = performance.now();
      const opsBefore = this.store.requestOps;
      let items: BatchItem[];
      let next: number;
      let done: boolean;
      try {
        const body = encodePullRequest({ checksum, cursor, maxBytes: this.options.batchBytes, arcs: this.arcsFrom(pull.id) });
        const answer = await this.peers.transfer(pull.id, Opcode.PULL, null, body);
        if (answer.status !== Status.OK) throw new Error(`${statusName(answer.status)}: ${answer.value.toString('utf8')}`);
        const batch = decodeBatch(answer.value, this.store.maxKeyBytes, this.store.maxValueBytes);
        ({ items, next, done } = batch);
        pull.bytes += batch.bytes;
        this.counters.bytesIn += batch.bytes;
      } catch (error) {
        if (error instanceof TransferFormatError) this.counters.malformedBatches++;
        pull.retries++;
        failuresInARow++;
        this.counters.pullRetries++;
        await delay(Math.min(MAX_BACKOFF_MS, 25 * 2 ** Math.min(failuresInARow, 7)));
        continue;
      }
      // The backoff grows with failures in a row only: one batch served means the source answers again.
      failuresInARow = 0;
      if (generation !== this.generation || this.closed) continue;
      await this.apply(items, pull.since);
      pull.items += items.length;
      // The ring may have moved while the batch was applied: then the scan is not complete for the new ring.
      if (generation !== this.generation) continue;
      if (done) {
        pull.state = 'done';
        this.counters.pullsCompleted++;
        this.logger.info(`pulled ${pull.items} items from ${pull.id}`);
        // The source drops its copies once every new owner confirmed; a lost confirmation only delays that.
        this.peers.transfer(pull.id, Opcode.PULL_DONE, null, encodeChecksum(checksum)).catch(() => undefined);
      } else {
        cursor = next;
        await this.pace(batchStarted, opsBefore);
      }
    }
    if (this.pulls.get(pull.id) === pull) this.pulls.delete(pull.id);
    this.retire();
  }

  /** Applies a batch in slices of about sliceMs, so requests are served in between. */
  private async apply(items: BatchItem[], since: number): Promise<void> {
    const store = this.store;
    let i = 0;
    while (i < items.length) {
      if (store.isClosed) return;
      const deadline = performance.now() + this.options.sliceMs;
      for (; i < items.length; i++) {
        if ((i & 31) === 0 && performance.now() > deadline) break;
        const item = items[i]!;
        this.counters.itemsIn++;
        try {
          const k = item.key;
          const v = item.value;
          const result = store.applyCopy(k, 0, k.length, v, 0, v.length, item.expireAt, item.version, item.tag, since);
          if (result === CopyResult.APPLIED) this.counters.itemsApplied++;
          else this.counters.itemsNotNewer++;
        } catch {
          this.counters.applyFailures++;
        }
      }
      if (i < items.length) await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /**
   * While clients are served (requests were made during the batch), waits so that the batch took at most
   * busyShare of the time since it started: on two busy cores a pull at full speed takes the CPU requests need.
   */
  private async pace(batchStarted: number, opsBefore: number): Promise<void> {
    const share = this.options.busyShare;
    if (share >= 1 || this.store.requestOps === opsBefore) return;
    const busy = performance.now() - batchStarted;
    await delay(Math.min(MAX_PACE_MS, (busy * (1 - share)) / share));
  }

  private abandon(pull: SourcePull, why: string): void {
    if (pull.state !== 'pulling') return;
    pull.state = 'abandoned';
    this.counters.pullsAbandoned++;
    this.logger.warn(`gave up pulling from ${pull.id} (${why}) after ${pull.items} items; its other keys will be misses`);
  }

  /** Forgets ring changes whose pulls are all over, and records tombstones only while some are not. */
  private retire(): void {
    this.handoffs = this.handoffs.filter((handoff) => [...handoff.sources.values()].some((pull) => pull.state === 'pulling'));
    if (this.store.isClosed) return;
    this.store.keepTombstonesFor(
      this.handoffs.length === 0 ? null : (page, offset, length) => this.sourceOf(page, offset, length) !== undefined,
    );
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
