/**
 * The one key router behind both ports (docs/ARCHITECTURE.md, "How a request flows"; Decisions, "Routing"). For
 * a KeyRequest from either codec it refuses keys while this node is cut off from the majority, looks up the
 * key's owner on the ring, serves keys this node owns through LocalKeys, forwards the others to their owner
 * marked FORWARDED (a forwarded request for a key this node does not own goes on once more, marked REROUTED,
 * and a rerouted one is served where it lands: views that differ never loop), composes what has no binary
 * opcode from ones that do (remote-compose.ts), and splits multi-key requests per owner (multi-route.ts).
 *
 * Order: a command composed of two round trips (SET … KEEPTTL, EXPIRE with a condition) holds a per-key
 * barrier until it is done; any later request on that key through this router waits for it, so a client's
 * pipeline still applies in order.
 *
 * Without a cluster (a single RESP server) every key is local and everything answers synchronously.
 */
import { Flag, Opcode, SET_MODE_SHIFT } from '../protocol/constants';
import type { HashRing } from '../consistent/ring';
import { UnavailableError } from '../errors';
import type { LocalKeys } from './local-keys';
import { messageOf, type PeerRequester } from './peer-answers';
import { ReplicaReads } from './replica-reads';
import { MultiRoute } from './multi-route';
import { isBlindWrite, type ReadThrough } from './read-through';
import { RemoteComposer } from './remote-compose';
import { copyRequest, KeyOp, keyView, SetFlag, type KeyList, type KeyRequest } from './request';
import type { RawResponse, ReplySink } from './sink';
import { DeferredSink } from './deferred-sink';
import { mayWrite, WrittenKeys, type Replication } from './replication';

/** What the router needs of the node's Cluster (src/server/cluster.ts satisfies it). */
export interface RoutingCluster {
  readonly selfId: string;
  readonly ring: Pick<HashRing, 'lookupIndex' | 'lookupBatch' | 'nodeAt' | 'nodes' | 'epoch' | 'holdersOf' | 'holdsKey'>;
  /** Copies of each key (--replicas): the owner and the next distinct members in ring order hold it. */
  readonly replicas: number;
  /** True while membership suspects the member: a read of its keys goes to a replica at once. */
  isSuspect(id: string): boolean;
  /** False while this node is cut off from the majority: it then refuses key requests. */
  readonly hasQuorum: boolean;
  readonly staleGuard: { refusedWithoutQuorum: number };
  /**
   * True while this node joins through its seeds and has not met every member yet: its ring is partial, so a
   * key it seems to own may be a member's it has not heard of. Clients' requests are refused meanwhile;
   * requests members forward are served (their rings are whole, and a joining node's share of a partial ring
   * only shrinks as it meets the others).
   */
  readonly joining: boolean;
}

export const CUT_OFF = 'this node is cut off from the majority of the cluster and serves no keys until it rejoins; retry on another node';
export const JOINING = 'this node is joining the cluster and serves no keys until it has met every member; retry on another node';

/** Binary opcode of each op that has one. */
const OPCODE_OF: Record<number, number> = {
  [KeyOp.GET]: Opcode.GET,
  [KeyOp.SET]: Opcode.SET,
  [KeyOp.DELETE]: Opcode.DELETE,
  [KeyOp.TOUCH]: Opcode.TOUCH,
  [KeyOp.TTL]: Opcode.TTL,
  [KeyOp.INCR]: Opcode.INCR,
};
const noop = (): void => undefined;

export class KeyRouter {
  /** Requests sent to owners, those that got no answer, requests served for peers, commands of two round trips. */
  readonly counters = {
    forwarded: 0,
    forwardFailures: 0,
    servedForPeers: 0,
    composed: 0,
    refusedWhileJoining: 0,
    /** Reads of a key whose owner did not answer (or is suspect), served from a replica's copy. */
    failoverReads: 0,
    /** Replica reads asked of this node for a key it holds no copy of in its view. */
    replicaReadsRefused: 0,
  };
  /** The keys the request being run wrote (views, reused: replicatedWrite hands them over before returning). */
  private readonly written = new WrittenKeys();
  /** Keys with a two-round-trip command in flight (latin1 of the key bytes) → settles when it is done. */
  private readonly barriers = new Map<string, Promise<void>>();
  private readonly composer: RemoteComposer;
  private readonly multiRoute: MultiRoute | undefined;
  /** Reads of keys whose owner does not answer, from their replicas (replica-reads.ts). */
  private readonly replicaReads: ReplicaReads | undefined;
  private selfEpoch = -1;
  /** Flags added to what send() sends: REROUTED while a forwarded request goes on to the owner this node sees. */
  private sendFlags = 0;
  private selfIndex = -1;

  constructor(
    readonly local: LocalKeys,
    private readonly cluster?: RoutingCluster,
    private readonly peers?: PeerRequester,
    private readonly readThrough?: ReadThrough,
    private readonly replication?: Replication,
  ) {
    this.composer = new RemoteComposer(this);
    this.multiRoute = cluster === undefined ? undefined : new MultiRoute(this, cluster.ring);
    this.replicaReads = cluster === undefined ? undefined : new ReplicaReads(this, cluster, (r, sink) => this.serveHere(r, sink));
  }

  /** A key's value from a replica, its owner having not answered (a part of a split MGET). */
  replicaValue(owner: string, key: Buffer): Promise<Uint8Array | null> {
    return this.replicaReads!.value(owner, key);
  }

  /** Copies of each key (1 without a cluster). */
  get replicas(): number {
    return this.cluster?.replicas ?? 1;
  }

  /** True while keyed requests are refused (cut off from the majority). */
  get cutOff(): boolean {
    return this.cluster !== undefined && !this.cluster.hasQuorum;
  }

  /** Answers a keyed request with the cut-off refusal. */
  refuse(sink: ReplySink): void {
    this.cluster!.staleGuard.refusedWithoutQuorum++;
    sink.error(new UnavailableError(CUT_OFF));
  }

  /** True when a client's request must wait for the join to complete (RoutingCluster.joining). */
  private refusedWhileJoining(r: KeyRequest, sink: ReplySink): boolean {
    if (r.forwarded || this.cluster === undefined || !this.cluster.joining) return false;
    this.counters.refusedWhileJoining++;
    sink.error(new UnavailableError(JOINING));
    return true;
  }

  route(r: KeyRequest, sink: ReplySink): void {
    if (r.forwarded && !r.fetched && !r.ordered) this.counters.servedForPeers++;
    if (this.refusedWhileJoining(r, sink)) return;
    if (r.keys !== null) {
      this.routeMulti(r, sink);
      return;
    }
    const cluster = this.cluster;
    if (cluster === undefined) {
      this.local.serve(r, sink);
      return;
    }
    if (!cluster.hasQuorum) {
      this.refuse(sink);
      return;
    }
    if (r.replicaRead && r.forwarded) {
      this.replicaReads!.serve(r, sink);
      return;
    }
    const owner = this.ownerOf(r.keyBuf, r.keyOff, r.keyLen);
    // A rerouted request is served where it lands, except on a member that has left the ring (leaving): it
    // sends it on to the owner it sees, which serves it (REROUTED kept), so nothing lands where it gets dropped.
    if (r.forwarded && (owner === undefined || (r.rerouted && this.selfIndexOf() >= 0))) {
      this.serveHere(r, sink);
      return;
    }
    if (owner === undefined) this.serveHere(r, sink);
    else this.remote(owner, r, sink);
  }

  /**
   * Serves a key this node owns: after any command of two round trips on it, and after reading it through
   * from its previous owner when its range is still being pulled and the request needs its current state.
   */
  private serveHere(r: KeyRequest, sink: ReplySink): void {
    if (!r.fetched && !r.ordered && this.barriers.size !== 0) {
      const wait = this.barrierOf(r.keyBuf, r.keyOff, r.keyLen);
      if (wait !== undefined) {
        this.afterBarriers([wait], r, sink);
        return;
      }
    }
    const through = this.readThrough;
    if (through !== undefined && through.active && !r.fetched && !isBlindWrite(r)) {
      const source = through.sourceOf(r.keyBuf, r.keyOff, r.keyLen);
      if (source !== undefined && !this.local.has(r.keyBuf, r.keyOff, r.keyLen)) {
        const copy = copyRequest(r);
        copy.fetched = true;
        const { late, done } = this.completion(sink);
        const key = copy.keyBuf.subarray(0, copy.keyLen);
        void through.fill(source, key).then(() => this.route(copy, late));
        // Later requests on the key wait until this one is answered, so a pipeline still applies in order.
        this.hold(copy.keyBuf, 0, copy.keyLen, done);
        return;
      }
    }
    this.serveLocal(r, sink);
  }

  /**
   * Runs a request on this node's store. A write whose keys other members hold copies of (--replicas) is
   * answered only once every one of them has acknowledged the keys' new state (docs/ARCHITECTURE.md, "Replicas").
   */
  serveLocal(r: KeyRequest, sink: ReplySink): void {
    const replication = this.replication;
    if (replication === undefined || !replication.active || !mayWrite(r)) {
      this.local.serve(r, sink);
      return;
    }
    let answer: ((sink: ReplySink) => void) | undefined;
    const held = new DeferredSink((write) => (answer = write), sink.sizer);
    const acknowledged = this.replicatedWrite(() => this.local.serve(r, held));
    if (acknowledged === null) {
      answer!(sink);
      return;
    }
    const late = sink.later();
    acknowledged.then(
      () => answer!(late),
      (error: unknown) => late.error(error),
    );
  }

  /**
   * Runs `write` (LocalKeys calls) and sends what it wrote to the keys' replicas; the promise settles once all
   * acknowledged. Null when nothing needs acknowledging (one copy per key, or no other holder).
   */
  replicatedWrite(write: () => void): Promise<void> | null {
    const replication = this.replication;
    if (replication === undefined || !replication.active) {
      write();
      return null;
    }
    const written = this.written;
    written.clear();
    this.local.writes = written;
    try {
      write();
    } finally {
      this.local.writes = null;
    }
    return written.count === 0 ? null : replication.replicate(written);
  }

  /** Reads through the pending keys of a multi-key read or delete that miss here; false when there are none. */
  private readThroughMany(r: KeyRequest, sink: ReplySink): boolean {
    const through = this.readThrough!;
    const keys = r.keys!;
    const fills: Array<Promise<void>> = [];
    for (let j = 0; j < keys.count; j++) {
      const i = keys.first + keys.step * j;
      const source = through.sourceOf(keys.bufs[i]!, keys.offs[i]!, keys.lens[i]!);
      if (source !== undefined && !this.local.has(keys.bufs[i]!, keys.offs[i]!, keys.lens[i]!)) {
        fills.push(through.fill(source, Buffer.from(keyView(keys, j))));
      }
    }
    if (fills.length === 0) return false;
    const copy = copyRequest(r);
    copy.fetched = true;
    const { late, done } = this.completion(sink);
    void Promise.all(fills).then(() => this.route(copy, late));
    // Every key of the request waits, not only those read through: a later command on any of them, here or
    // at its owner, must not overtake this one.
    this.holdAll(copy, done);
    return true;
  }

  private routeMulti(r: KeyRequest, sink: ReplySink): void {
    if (!r.validated) {
      try {
        this.local.checkKeys(r.keys!, r.op === KeyOp.MSET);
      } catch (error) {
        sink.error(error);
        return;
      }
      r.validated = true;
    }
    if (!r.fetched && !r.ordered && this.barriers.size !== 0) {
      const waits = this.barriersOf(r.keys!);
      if (waits.length > 0) {
        this.afterBarriers(waits, r, sink);
        return;
      }
    }
    const through = this.readThrough;
    if (this.multiRoute === undefined) {
      this.serveLocal(r, sink);
    } else if (this.cutOff) {
      this.refuse(sink);
    } else if (through !== undefined && through.active && !r.fetched && r.op !== KeyOp.MSET && this.readThroughMany(r, sink)) {
      // Routed again once the pending keys are here.
    } else if (r.rerouted && this.selfIndexOf() >= 0) {
      this.serveLocal(r, sink);
    } else if (r.forwarded) {
      // The sender's view may differ from this node's: keys this node does not own go on to their owners, once.
      this.sendFlags = Flag.REROUTED;
      try {
        this.multiRoute.route(r, sink);
      } finally {
        this.sendFlags = 0;
      }
    } else {
      this.multiRoute.route(r, sink);
    }
  }

  /** The owner's id when another member owns the key; undefined when this node serves it (an invalid key too). */
  ownerOf(kb: Uint8Array, ko: number, kl: number): string | undefined {
    // An invalid key is served locally: the store raises exactly the error a single node raises.
    if (kl === 0 || kl > this.local.maxKeyBytes) return undefined;
    const ring = this.cluster!.ring;
    const index = ring.lookupIndex(kb, ko, kl);
    if (index < 0 || index === this.selfIndexOf()) return undefined;
    return ring.nodeAt(index);
  }

  /** This node's index among the ring's owners (cached per ring epoch). */
  selfIndexOf(): number {
    const ring = this.cluster!.ring;
    if (ring.epoch !== this.selfEpoch) {
      this.selfEpoch = ring.epoch;
      this.selfIndex = ring.nodes.indexOf(this.cluster!.selfId);
    }
    return this.selfIndex;
  }

  private remote(owner: string, r: KeyRequest, sink: ReplySink): void {
    const op = r.op;
    if (!r.validated && (op === KeyOp.SET || op === KeyOp.SET_GET) && r.valueLen > this.local.maxValueBytes) {
      try {
        this.local.checkValue(r.valueLen);
      } catch (error) {
        sink.error(error);
      }
      return;
    }
    // A request that waited for its turn, or read its key through (it holds the key's barrier itself, and the
    // ring moved the key away meanwhile), goes on now: waiting for its own barrier would never end.
    const wait = r.ordered || r.fetched ? undefined : this.barrierOf(r.keyBuf, r.keyOff, r.keyLen);
    if (wait !== undefined) {
      this.afterBarriers([wait], r, sink);
      return;
    }
    const plain = OPCODE_OF[op] !== undefined && (op !== KeyOp.SET || (r.ttlMs >= 0 && (r.flags & SetFlag.KEEPTTL) === 0));
    if (!plain) {
      this.composer.run(owner, r, sink);
      return;
    }
    const key = r.keyBuf.subarray(r.keyOff, r.keyOff + r.keyLen);
    if ((op === KeyOp.GET || op === KeyOp.TTL) && this.cluster!.replicas > 1) {
      this.replicaReads!.read(owner, op, key, sink);
      return;
    }
    const isSet = op === KeyOp.SET;
    const value = isSet && r.valueLen > 0 ? r.valueBuf.subarray(r.valueOff, r.valueOff + r.valueLen) : null;
    const extras = op === KeyOp.INCR ? r.delta : isSet || op === KeyOp.TOUCH ? r.ttlMs : 0;
    // The request is encoded into the peer connection now: the views above are not kept.
    const flags = (isSet ? r.mode << SET_MODE_SHIFT : 0) | (r.forwarded ? Flag.REROUTED : 0);
    const pending = this.send(owner, OPCODE_OF[op]!, flags, key, value, extras);
    const late = sink.later();
    pending.then(
      (response) => late.relay(response, owner),
      (error: unknown) => late.error(error),
    );
  }

  /** Copies the request, and routes the copy again once every barrier settled. */
  afterBarriers(waits: Array<Promise<void>>, r: KeyRequest, sink: ReplySink): void {
    const copy = copyRequest(r);
    copy.ordered = true;
    const { late, done } = this.completion(sink);
    void Promise.all(waits).then(() => this.route(copy, late));
    // It takes its place in the order of each of its keys: later requests on them wait until it is answered.
    this.holdAll(copy, done);
  }

  /** A sink for an answer that comes later, and a promise that settles once that answer is given. */
  private completion(sink: ReplySink): { late: ReplySink; done: Promise<void> } {
    const target = sink.later();
    let answered!: () => void;
    const done = new Promise<void>((resolve) => (answered = resolve));
    const late = new DeferredSink((write) => {
      write(target);
      answered();
    }, target.sizer);
    return { late, done };
  }

  /** Holds every key of a request (copied: it owns its bytes) until `done`. */
  private holdAll(r: KeyRequest, done: Promise<unknown>): void {
    const keys = r.keys;
    if (keys === null) {
      this.hold(r.keyBuf, r.keyOff, r.keyLen, done);
      return;
    }
    for (let j = 0; j < keys.count; j++) {
      const i = keys.first + keys.step * j;
      this.hold(keys.bufs[i]!, keys.offs[i]!, keys.lens[i]!, done);
    }
  }

  /**
   * Sends one keyed request to its owner, marked FORWARDED so the owner serves it itself. A missing answer
   * rejects with an UnavailableError naming the owner.
   */
  send(
    owner: string,
    opcode: number,
    flags: number,
    key: Uint8Array | null,
    value: Uint8Array | null,
    extras: number | bigint,
  ): Promise<RawResponse> {
    this.counters.forwarded++;
    let pending: Promise<RawResponse>;
    try {
      pending = this.peers!.request(owner, opcode, flags | Flag.FORWARDED | this.sendFlags, key, value, extras);
    } catch (error) {
      pending = Promise.reject(error);
    }
    return pending.catch((error: unknown) => {
      this.counters.forwardFailures++;
      throw new UnavailableError(`the key's owner ${owner} is unreachable: ${messageOf(error)}`);
    });
  }

  /** The barriers held on any key of the list. */
  private barriersOf(keys: KeyList): Array<Promise<void>> {
    const waits: Array<Promise<void>> = [];
    for (let j = 0; j < keys.count; j++) {
      const i = keys.first + keys.step * j;
      const wait = this.barrierOf(keys.bufs[i]!, keys.offs[i]!, keys.lens[i]!);
      if (wait !== undefined) waits.push(wait);
    }
    return waits;
  }

  /** Keys whose later requests wait for an earlier one to be answered (read-throughs, two-step commands). */
  get keysHeldInOrder(): number {
    return this.barriers.size;
  }

  barrierOf(kb: Buffer, ko: number, kl: number): Promise<void> | undefined {
    return this.barriers.size === 0 ? undefined : this.barriers.get(kb.toString('latin1', ko, ko + kl));
  }

  /** Later requests on this key wait until `done` settles (their callbacks run in arrival order). */
  hold(kb: Buffer, ko: number, kl: number, done: Promise<unknown>): void {
    const id = kb.toString('latin1', ko, ko + kl);
    const previous = this.barriers.get(id);
    const settled = done.then(noop, noop);
    // Chained: a later hold on the key settles only once every earlier one has.
    const barrier: Promise<void> = (previous === undefined ? settled : Promise.all([previous, settled])).then(() => {
      if (this.barriers.get(id) === barrier) this.barriers.delete(id);
    });
    this.barriers.set(id, barrier);
  }
}
