/**
 * Data movement (docs/ARCHITECTURE.md, "Data movement"): one mechanism, pulls of ring ranges between members,
 * serves a joining node, a leaving node's handoff and a node coming back after a crash. The cluster calls
 * ringChanged() on every ring change with the members before it; the key router reads pending keys through
 * (ReadThrough); the binary port hands member-only FETCH, PULL and PULL_DONE requests to handle().
 */
import type { Store } from '../cache/store';
import type { Logger } from '../logger';
import { Opcode, Status } from '../protocol/constants';
import type { ReadThrough } from '../routing/read-through';
import { Inbound } from './inbound';
import { MOVEMENT_DEFAULTS, type MovementOptions, type MovementView, type TransferPeers } from './movement-types';
import { Outbound, type TransferAnswer } from './outbound';
import { ringOf } from './ring-moves';
import { ReplicaReceiver } from './replica-receiver';
import { ReplicaWriter, type ReplicaPeers } from './replica-writer';
import { Sweeper } from './sweeper';

export type { TransferAnswer };

export interface ReplicaOptions {
  /** A replica did not acknowledge a write: membership probes it now. */
  unanswered: (peerId: string) => void;
  /** Longest a write waits for a replica that does not acknowledge (ReplicaWriter). */
  holdMs: number;
}

export class DataMovement implements ReadThrough {
  private readonly sweeper: Sweeper;
  private readonly inbound: Inbound;
  private readonly outbound: Outbound;
  /** The owner's side of synchronous replicas: what the key router hands written keys to. */
  readonly replicas: ReplicaWriter;
  private readonly replicaIn: ReplicaReceiver;
  /** The version clock at the last ring change (0 before any). */
  private previousChange = 0;

  constructor(
    private readonly view: MovementView,
    private readonly store: Store,
    peers: TransferPeers & ReplicaPeers,
    logger: Logger,
    options: Partial<MovementOptions> = {},
    replicaOptions: ReplicaOptions = { unanswered: () => undefined, holdMs: 0 },
  ) {
    const resolved = { ...MOVEMENT_DEFAULTS, ...options };
    this.sweeper = new Sweeper(store);
    this.inbound = new Inbound(view, store, peers, this.sweeper, resolved, logger);
    this.outbound = new Outbound(view, store, this.sweeper, resolved, logger);
    this.replicas = new ReplicaWriter(view, store, peers, replicaOptions.unanswered, replicaOptions.holdMs);
    this.replicaIn = new ReplicaReceiver(view, store);
  }

  /**
   * The ring was rebuilt; `before` are the members that owned keys in the ring it replaced. `freshSources`, for
   * a node whose store holds only what it received since it started or was emptied: the members whose ring it
   * pulls against instead (nothing in such a store can be a stale leftover of an earlier ownership).
   */
  ringChanged(before: readonly string[], freshSources: readonly string[] | null): void {
    if (this.store.isClosed) return;
    const ring = ringOf(before, this.view.ring);
    // What this node wrote since the previous ring change is kept whatever its range: a write a member forwarded
    // here while views differed is acknowledged data, not a leftover (outbound.ts).
    const since = this.previousChange;
    this.previousChange = this.store.versions.next();
    if (freshSources === null) {
      this.outbound.begin(ring, since);
      this.inbound.begin(ring);
      return;
    }
    // A fresh store has no leftovers to drop (0), but still holds what it took over for whoever gains it now;
    // on its first change (a ring of itself alone before) it took over nothing and hands nothing over.
    const sources = ringOf(freshSources, this.view.ring);
    this.outbound.begin(before.length > 1 ? ring : sources, 0);
    this.inbound.begin(sources);
  }

  get active(): boolean {
    return this.inbound.active;
  }

  sourceOf(kb: Uint8Array, ko: number, kl: number): string | undefined {
    return this.inbound.sourceOf(kb, ko, kl);
  }

  fill(source: string, key: Buffer): Promise<void> {
    return this.inbound.fill(source, key);
  }

  /** Settles once every member that gained ranges from this node has confirmed it holds them (or holdMs passed). */
  handedOff(): Promise<void> {
    return this.outbound.handedOff();
  }

  /** A member-only data-movement request from `from` (its key and value as the frame carried them). */
  async handle(opcode: number, from: string, key: Buffer, value: Buffer): Promise<TransferAnswer> {
    if (this.store.isClosed) return { status: Status.SHUTTING_DOWN, value: Buffer.from('the node is shutting down') };
    switch (opcode) {
      case Opcode.FETCH:
        if (key.length === 0 || key.length > this.store.maxKeyBytes) {
          return { status: Status.BAD_ARGUMENT, value: Buffer.from(`FETCH key length ${key.length}`) };
        }
        return this.outbound.serveFetch(key);
      case Opcode.PULL:
        return this.outbound.servePull(from, value);
      case Opcode.PULL_DONE:
        return this.outbound.serveDone(from, value);
      default:
        return { status: Status.UNKNOWN_OPCODE, value: Buffer.from(`opcode 0x${opcode.toString(16)} is not a data-movement request`) };
    }
  }

  stats(): Record<string, unknown> {
    return {
      ...prefixed('in', this.inbound.counters),
      ...prefixed('out', this.outbound.counters),
      sweeps: this.sweeper.counters.sweeps,
      keysDroppedForMovedRanges: this.sweeper.counters.keysDropped,
      pullsInProgress: this.inbound.progress(),
      awaitingConfirmation: this.outbound.pending,
      versionsRejectedAhead: this.store.versions.rejectedAhead,
    };
  }

  /** A REPLICATE batch from `from` (the body a view: applied before this returns). */
  applyReplicas(from: string, body: Buffer): TransferAnswer {
    if (this.store.isClosed) return { status: Status.SHUTTING_DOWN, value: Buffer.from('the node is shutting down') };
    return this.replicaIn.apply(from, body);
  }

  /** Replica writes sent and received, their acknowledgement latency, and the ranges still being restored. */
  replicationStats(): Record<string, unknown> {
    return { ...this.replicas.stats(), ...this.replicaIn.counters, underReplicatedRanges: this.inbound.rangesPending };
  }

  close(): void {
    this.inbound.close();
    this.outbound.close();
    this.sweeper.stop();
  }
}

function prefixed(prefix: string, counters: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, value] of Object.entries(counters)) out[`${prefix}${name[0]!.toUpperCase()}${name.slice(1)}`] = value;
  return out;
}
