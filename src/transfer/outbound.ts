/**
 * The sending side of data movement (docs/ARCHITECTURE.md, "Data movement"): answers the PULLs of members that
 * gained ranges from this node, the FETCHes of their read-throughs, and their PULL_DONE confirmations. It keeps
 * the copies of ranges it gave away until every new owner confirmed it has them (or holdMs passed), then drops
 * them; and at every ring change it drops what it held without owning it before the change, since another member
 * owned those keys meanwhile and may have acknowledged newer writes.
 */
import type { Store } from '../cache/store';
import type { HashRing } from '../consistent/ring';
import type { Logger } from '../logger';
import { Status } from '../protocol/constants';
import { BatchWriter, decodeChecksum, decodePullRequest, encodeFetchAnswer, TransferFormatError } from './copy-codec';
import { xxh32 } from '../consistent/xxhash32';
import { inArcs, ringMoves, ringOf } from './ring-moves';
import type { Sweeper } from './sweeper';
import type { MovementOptions, MovementView } from './movement-types';

export interface TransferAnswer {
  status: number;
  value: Buffer;
}

const EMPTY = Buffer.alloc(0);

export class Outbound {
  /** Members that gained ranges from this node at the last ring change and have not confirmed yet. */
  private readonly awaiting = new Set<string>();
  /**
   * Confirmations that came before this node's own ring reached the checksum they name (members learn of a
   * change at slightly different times): honoured by the next ring change if it is to that checksum.
   */
  private early = new Map<string, number>();
  private holdTimer: NodeJS.Timeout | undefined;
  private waiters: Array<() => void> = [];
  readonly counters = {
    pullsServed: 0,
    pullsRefused: 0,
    malformedRequests: 0,
    itemsOut: 0,
    bytesOut: 0,
    confirmations: 0,
    /** Confirmations from a member this node was waiting for (the others need nothing from it). */
    waitsConfirmed: 0,
    fetchesServed: 0,
    handoffsReleased: 0,
    handoffsTimedOut: 0,
  };

  constructor(
    private readonly view: MovementView,
    private readonly store: Store,
    private readonly sweeper: Sweeper,
    private readonly options: MovementOptions,
    private readonly logger: Logger,
  ) {}

  /**
   * The ring changed from `before`. Items of ranges this node did not own before are leftovers of an earlier
   * ownership and are dropped, unless written from `since` on (the previous ring change): those are writes it
   * accepted while it did not own the key, rerouted to it by a member whose view differed. 0: keep everything
   * (a fresh store has no leftovers). Copies still held for a member whose pull is not confirmed yet are not
   * leftovers either: they stay (unless their range came back here), and that member is still waited for.
   */
  begin(before: HashRing, since: number): void {
    const self = this.view.selfId;
    const ring = ringOf(this.view.ring.nodes, this.view.ring);
    const selfNow = ring.nodes.indexOf(self);
    const selfBefore = before.nodes.indexOf(self);
    const carried = [...this.awaiting].filter((id) => this.view.reachable(id) && ring.nodes.includes(id));
    const holding = carried.length > 0;
    const n = this.view.replicas;
    if (since > 0) {
      this.sweeper.start((page, offset, length, version) => {
        if (version >= since) return true;
        const hash = xxh32(page, offset, length, 0);
        return before.holdsHash(hash, n, selfBefore) || (holding && !ring.holdsHash(hash, n, selfNow));
      });
    }
    this.awaiting.clear();
    for (const id of carried) this.awaiting.add(id);
    for (const move of ringMoves(before, ring, n)) if (move.from === self && move.to !== self) this.awaiting.add(move.to);
    const checksum = this.view.ring.checksum;
    for (const [id, confirmed] of this.early) if (confirmed === checksum && this.awaiting.delete(id)) this.counters.waitsConfirmed++;
    this.early = new Map();
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    if (this.awaiting.size > 0) {
      this.holdTimer = setTimeout(() => {
        this.counters.handoffsTimedOut++;
        this.logger.warn(
          `no confirmation from ${[...this.awaiting].join(', ')} after ${this.options.holdMs} ms; dropping the ranges they gained`,
        );
        this.release();
      }, this.options.holdMs).unref();
    } else {
      this.release();
    }
  }

  /** Members whose confirmation this node still waits for. */
  get pending(): string[] {
    return [...this.awaiting];
  }

  /** Settles when no new owner is left to confirm (at once when none is). */
  handedOff(): Promise<void> {
    if (this.awaiting.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * A batch of the items `from` holds (as owner or replica) in the ring named by the request, of the ranges it
   * asks for, from the request's cursor on.
   */
  async servePull(from: string, body: Buffer): Promise<TransferAnswer> {
    let request;
    try {
      request = decodePullRequest(body);
    } catch (error) {
      this.counters.malformedRequests++;
      return { status: Status.BAD_ARGUMENT, value: Buffer.from(error instanceof TransferFormatError ? error.message : String(error)) };
    }
    const ring = this.view.ring;
    const target = ring.nodes.indexOf(from);
    if (request.checksum !== ring.checksum || target < 0) {
      this.counters.pullsRefused++;
      return { status: Status.UNAVAILABLE, value: Buffer.from(`ring differs (here ${ring.checksum}, epoch ${ring.epoch}); retry`) };
    }
    const writer = new BatchWriter(request.maxBytes);
    const n = this.view.replicas;
    const arcs = request.arcs;
    const keep = (page: Buffer, offset: number, length: number): boolean => {
      const hash = xxh32(page, offset, length, 0);
      return (arcs === null || inArcs(arcs, hash)) && ring.holdsHash(hash, n, target);
    };
    const started = performance.now();
    let cursor = request.cursor;
    for (;;) {
      cursor = this.store.scanCopies(cursor, keep, writer.add, this.options.sliceMs);
      if (cursor < 0 || writer.full || performance.now() - started >= this.options.batchMs) break;
      await new Promise((resolve) => setImmediate(resolve));
      if (ring.checksum !== request.checksum || this.store.isClosed) {
        this.counters.pullsRefused++;
        return { status: Status.UNAVAILABLE, value: Buffer.from('the ring changed during the batch; retry') };
      }
    }
    this.counters.pullsServed++;
    this.counters.itemsOut += writer.count;
    const value = writer.finish(cursor);
    this.counters.bytesOut += value.length;
    return { status: Status.OK, value };
  }

  /** `from` holds everything this node had for it in the ring the checksum names. */
  serveDone(from: string, body: Buffer): TransferAnswer {
    let checksum: number;
    try {
      checksum = decodeChecksum(body);
    } catch (error) {
      this.counters.malformedRequests++;
      return { status: Status.BAD_ARGUMENT, value: Buffer.from(String(error instanceof Error ? error.message : error)) };
    }
    this.counters.confirmations++;
    if (checksum !== this.view.ring.checksum) {
      this.early.set(from, checksum);
    } else if (this.awaiting.delete(from)) {
      this.counters.waitsConfirmed++;
      if (this.awaiting.size === 0) this.release();
    }
    return { status: Status.OK, value: EMPTY };
  }

  /** The copy of one key for a new owner's read-through. */
  serveFetch(key: Buffer): TransferAnswer {
    this.counters.fetchesServed++;
    const copy = this.store.copyOf(key, 0, key.length);
    return copy === null ? { status: Status.NOT_FOUND, value: EMPTY } : { status: Status.OK, value: encodeFetchAnswer(copy) };
  }

  close(): void {
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    this.awaiting.clear();
    this.wake();
  }

  /** Every new owner has its ranges (or the hold ran out): drop what this node no longer owns. */
  private release(): void {
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    this.awaiting.clear();
    this.counters.handoffsReleased++;
    // The ring as it is now, not as it will be: a later change must not make this sweep drop what that change
    // hands over (its own sweep rule judges it). Nor what is written from now on: once a later change gives this
    // node a key the snapshot says it gave away, the key's new writes land here while this sweep still runs.
    const ring = ringOf(this.view.ring.nodes, this.view.ring);
    const self = ring.nodes.indexOf(this.view.selfId);
    const from = this.store.versions.next();
    const n = this.view.replicas;
    this.sweeper.start((page, offset, length, version) => version >= from || ring.holdsKey(page, offset, length, n, self));
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}
