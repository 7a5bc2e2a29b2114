/**
 * The replica's side of synchronous replicas (docs/ARCHITECTURE.md, "Replicas"): applies the owner's REPLICATE
 * batches by version, in the order they arrive (they are applied before anything else on the connection is
 * read, so a key's writes land in the order the owner made them). Refused whole: a body that does not parse, and
 * a batch from a member this node does not hold alive (one it declared dead may still believe it owns keys; its
 * writes must not land here). An item this store cannot take (it closed meanwhile) fails the batch: the owner
 * then does not acknowledge the write.
 */
import type { Store } from '../cache/store';
import { CopyResult } from '../cache/store-copies';
import { Status } from '../protocol/constants';
import { TransferFormatError } from './copy-codec';
import type { MovementView } from './movement-types';
import type { TransferAnswer } from './outbound';
import { forEachReplicaItem, type ReplicaVisitor } from './replica-codec';

const OK = Buffer.alloc(0);

export class ReplicaReceiver {
  readonly counters = {
    /** Keys applied from owners' REPLICATE batches (a value or a removal). */
    replicaItemsApplied: 0,
    /** Keys this store already held as new or newer (a pull got there first). */
    replicaItemsNotNewer: 0,
    /** Batches refused: malformed, or from a member not alive in this node's view. */
    replicaBatchesRefused: 0,
  };

  constructor(
    private readonly view: MovementView,
    private readonly store: Store,
  ) {}

  apply(from: string, body: Buffer): TransferAnswer {
    if (!this.view.reachable(from)) {
      this.counters.replicaBatchesRefused++;
      return { status: Status.UNAVAILABLE, value: Buffer.from(`${from} is not a live member in this node's view; not applied`) };
    }
    try {
      forEachReplicaItem(body, this.store.maxKeyBytes, this.store.maxValueBytes, this.applyItem);
    } catch (error) {
      this.counters.replicaBatchesRefused++;
      if (error instanceof TransferFormatError) return { status: Status.BAD_ARGUMENT, value: Buffer.from(error.message) };
      // The store refused an item (it closed meanwhile): the owner does not acknowledge the write.
      return { status: Status.INTERNAL_ERROR, value: Buffer.from(`replica write not applied: ${String(error)}`) };
    }
    return { status: Status.OK, value: OK };
  }

  private readonly applyItem: ReplicaVisitor = (body, keyOffset, keyLength, valueLength, removal, expireAt, version, tag) => {
    const store = this.store;
    const result = removal
      ? store.applyRemoval(body, keyOffset, keyLength, version, tag)
      : store.applyCopy(body, keyOffset, keyLength, body, keyOffset + keyLength, valueLength, expireAt, version, tag);
    if (result === CopyResult.OLDER || result === CopyResult.BURIED) this.counters.replicaItemsNotNewer++;
    else this.counters.replicaItemsApplied++;
  };
}
