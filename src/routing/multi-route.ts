/**
 * Multi-key requests (MGET, MSET, DEL and EXISTS of many keys) split per owner (docs/ARCHITECTURE.md, "How a
 * request flows"). Keys this node owns are served now, synchronously (their bytes are valid only now); the
 * others go to their owners marked FORWARDED, in parts cut by the one chunking rule the client uses too
 * (multiPartEnds: at most MULTI_SLACK_BYTES of body, which every node accepts, and for MGET at most as many
 * keys as a peer connection can take the answer of). The answer is joined in key order once every part is back.
 *
 * MSET is checked whole before anything is stored, but its owners apply their parts independently: an owner
 * that fails leaves the other parts stored. A local store error (OUT_OF_MEMORY) is raised before anything goes
 * to the owners. DEL and EXISTS send one request per remote key (there is no multi-key DELETE opcode).
 */
import type { PeerRequester } from './peer-answers';
import { isNativeAccelerationEnabled } from '../consistent/native';
import type { HashRing } from '../consistent/ring';
import { DEFAULT_MAX_RESPONSE_BYTES } from '../client/connection';
import { mgetKeysPerFrame } from '../client/multi-plan';
import { ServerError } from '../errors';
import { MULTI_SLACK_BYTES, Opcode, Status } from '../protocol/constants';
import { MultiKeyCursor, multiPartEnds } from '../protocol/multi';
import type { LocalKeys } from './local-keys';
import { foundOrNot, pttlOf, type RawResponse } from './peer-answers';
import { keyView, KeyOp, type KeyList, type KeyRequest } from './request';
import type { ReplySink } from './sink';

/**
 * Keys from which a multi-key request is routed with one native batch call (measured: bench/route-multi.bench.ts,
 * docs/PERFORMANCE.md): below it the call's own cost loses to a TypeScript lookup per key.
 */
export const BATCH_ROUTING_MIN_KEYS = 32;

/** What the splitter needs of the router. */
export interface MultiRouter {
  readonly local: LocalKeys;
  /** KeyRouter.send: one keyed request to its owner, marked FORWARDED (the PeerRequester signature). */
  send: PeerRequester['request'];
  barrierOf(kb: Buffer, ko: number, kl: number): Promise<void> | undefined;
  afterBarriers(waits: Array<Promise<void>>, r: KeyRequest, sink: ReplySink): void;
  selfIndexOf(): number;
  /** KeyRouter.serveLocal: runs a request here, answered once its writes reached the keys' replicas. */
  serveLocal(r: KeyRequest, sink: ReplySink): void;
  /** KeyRouter.replicatedWrite: runs local writes; settles once their replicas acknowledged (null: none). */
  replicatedWrite(write: () => void): Promise<void> | null;
  /** KeyRouter.replicaValue: a key's value from a replica, its owner having not answered. */
  replicaValue(owner: string, key: Buffer): Promise<Uint8Array | null>;
  /** Copies of each key (--replicas). */
  readonly replicas: number;
}

interface PartAnswer {
  owner: string;
  indexes: number[];
  response?: RawResponse;
  error?: unknown;
  /** Read from the keys' replicas instead, the owner having not answered (MGET). */
  values?: Array<Uint8Array | null>;
}

export class MultiRoute {
  /** Keys per MGET part: the owner's answer (count × (4 + maxValueBytes)) must fit the peer connection's limit. */
  private readonly mgetKeysPerPart: number;

  constructor(
    private readonly router: MultiRouter,
    private readonly ring: Pick<HashRing, 'lookupIndex' | 'lookupBatch' | 'nodeAt'>,
  ) {
    const peerLimit = DEFAULT_MAX_RESPONSE_BYTES - 64 * 1024;
    this.mgetKeysPerPart = mgetKeysPerFrame({ maxValueBytes: router.local.maxValueBytes, maxResponseBytes: peerLimit }, peerLimit);
  }

  /** Routes a multi-key request whose keys were checked, on a node that has its quorum. */
  route(r: KeyRequest, sink: ReplySink): void {
    const keys = r.keys!;
    const count = keys.count;
    const owners = this.ownersOf(keys);
    const self = this.router.selfIndexOf();
    let remote: Uint8Array | null = null;
    const byOwner = new Map<number, number[]>();
    for (let j = 0; j < count; j++) {
      const owner = owners[j]!;
      if (owner < 0 || owner === self) continue;
      (remote ??= new Uint8Array(count))[j] = 1;
      const list = byOwner.get(owner);
      if (list === undefined) byOwner.set(owner, [j]);
      else list.push(j);
    }
    if (remote === null) {
      this.router.serveLocal(r, sink);
      return;
    }
    const waits = r.ordered || r.fetched ? [] : this.barriersOf(keys, remote);
    if (waits.length > 0) {
      this.router.afterBarriers(waits, r, sink);
      return;
    }
    const parts = new Map<string, number[]>();
    for (const [owner, indexes] of byOwner) parts.set(this.ring.nodeAt(owner)!, indexes);
    try {
      switch (r.op) {
        case KeyOp.MGET:
          this.mget(keys, remote, parts, sink);
          return;
        case KeyOp.MSET:
          this.mset(keys, remote, parts, r.ttlMs, sink);
          return;
        default:
          this.count(keys, remote, parts, r.op === KeyOp.DEL, sink);
      }
    } catch (error) {
      sink.error(error);
    }
  }

  /** The owner index of each key. From BATCH_ROUTING_MIN_KEYS keys in one buffer up, one native batch call. */
  private ownersOf(keys: KeyList): Int32Array {
    const { bufs, offs, lens, first, step, count } = keys;
    const owners = new Int32Array(count);
    const buffer = bufs[first]!;
    let oneBuffer = count >= BATCH_ROUTING_MIN_KEYS && isNativeAccelerationEnabled;
    for (let j = 0; oneBuffer && j < count; j++) oneBuffer = bufs[first + step * j] === buffer;
    if (oneBuffer) {
      const spans = new Uint32Array(2 * count);
      for (let j = 0; j < count; j++) {
        spans[2 * j] = offs[first + step * j]!;
        spans[2 * j + 1] = lens[first + step * j]!;
      }
      this.ring.lookupBatch(buffer, spans, count, owners);
    } else {
      for (let j = 0; j < count; j++) {
        const i = first + step * j;
        owners[j] = this.ring.lookupIndex(bufs[i]!, offs[i]!, lens[i]!);
      }
    }
    return owners;
  }

  private barriersOf(keys: KeyList, remote: Uint8Array): Array<Promise<void>> {
    const waits: Array<Promise<void>> = [];
    for (let j = 0; j < keys.count; j++) {
      if (remote[j] === 0) continue;
      const i = keys.first + keys.step * j;
      const wait = this.router.barrierOf(keys.bufs[i]!, keys.offs[i]!, keys.lens[i]!);
      if (wait !== undefined) waits.push(wait);
    }
    return waits;
  }

  private mget(keys: KeyList, remote: Uint8Array, parts: Map<string, number[]>, sink: ReplySink): void {
    const local = this.router.local;
    const sizer = sink.sizer;
    const count = keys.count;
    // The local part is sized (remote keys as absent) before anything is copied or forwarded.
    if (sink.mayRefuse(sizer.header(count) + count * sizer.item(local.maxValueBytes))) {
      if (sink.refused(local.localReplyBytes(keys, remote, sink))) return;
    }
    const values = new Array<Uint8Array | null>(count).fill(null);
    local.copyValues(keys, remote, values);
    // The keys are views into the request: copied now for the parts that may have to be read from replicas later.
    const copies = this.router.replicas > 1 ? Array.from({ length: count }, (_, j) => Buffer.from(keyView(keys, j))) : null;
    const sent = this.sendParts(keys, parts, Opcode.MGET, 0, this.mgetKeysPerPart).map((part) =>
      copies === null ? part : this.orFromReplicas(part, copies),
    );
    const late = sink.later();
    void Promise.all(sent).then((answers) => {
      for (const answer of answers) {
        if (answer.values !== undefined) {
          answer.indexes.forEach((j, k) => (values[j] = answer.values![k]!));
          continue;
        }
        if (!this.answered(answer, late)) return;
        if (!spreadMgetValues(answer.response!.value, answer.indexes, values)) {
          late.error(new ServerError(`malformed MGET answer from ${answer.owner}`));
          return;
        }
      }
      late.values(values);
    });
  }

  private mset(keys: KeyList, remote: Uint8Array, parts: Map<string, number[]>, ttlMs: number, sink: ReplySink): void {
    const replicated = this.router.replicatedWrite(() => this.router.local.mset(keys, remote, ttlMs));
    const sent = this.sendParts(keys, parts, Opcode.MSET, ttlMs, Number.POSITIVE_INFINITY);
    const late = sink.later();
    void Promise.all([Promise.all(sent), replicated]).then(
      ([answers]) => {
        for (const answer of answers) if (!this.answered(answer, late)) return;
        late.ok();
      },
      (error: unknown) => late.error(error),
    );
  }

  /**
   * A part of a split MGET whose owner did not answer is read key by key from the keys' replicas (with copies
   * of each key); its values come back in `values`. Else the part as it is.
   */
  private async orFromReplicas(part: Promise<PartAnswer>, keys: readonly Buffer[]): Promise<PartAnswer> {
    const answer = await part;
    if (answer.response !== undefined) return answer;
    try {
      const values = await Promise.all(answer.indexes.map((j) => this.router.replicaValue(answer.owner, keys[j]!)));
      return { ...answer, values };
    } catch {
      return answer;
    }
  }

  /** False (and the sink answered) when a part failed: unreachable, or the owner's error status. */
  private answered(answer: PartAnswer, sink: ReplySink): boolean {
    if (answer.response === undefined) {
      sink.error(answer.error);
      return false;
    }
    if (answer.response.status !== Status.OK) {
      sink.relay(answer.response, answer.owner);
      return false;
    }
    return true;
  }

  /** DEL or EXISTS: local keys counted now, one request per remote key; the sum. */
  private count(keys: KeyList, remote: Uint8Array, parts: Map<string, number[]>, remove: boolean, sink: ReplySink): void {
    let n = 0;
    const replicated = remove
      ? this.router.replicatedWrite(() => (n = this.router.local.count(keys, remote, true)))
      : ((n = this.router.local.count(keys, remote, false)), null);
    const counts: Array<Promise<number>> = [];
    if (replicated !== null) counts.push(replicated.then(() => 0));
    for (const [owner, indexes] of parts) {
      for (const j of indexes) {
        const sent = this.router.send(owner, remove ? Opcode.DELETE : Opcode.TTL, 0, keyView(keys, j), null, 0);
        counts.push(sent.then((r) => ((remove ? foundOrNot(owner, r) : pttlOf(owner, r) !== -2) ? 1 : 0)));
      }
    }
    const late = sink.later();
    Promise.all(counts).then(
      (each) => late.number(each.reduce((sum, c) => sum + c, n)),
      (error: unknown) => late.error(error),
    );
  }

  /** Sends each owner's keys (and values, for MSET) in parts; every promise resolves, failures included. */
  private sendParts(
    keys: KeyList,
    parts: Map<string, number[]>,
    opcode: number,
    extras: number,
    maxKeys: number,
  ): Array<Promise<PartAnswer>> {
    const withValues = opcode === Opcode.MSET;
    const sent: Array<Promise<PartAnswer>> = [];
    for (const [owner, indexes] of parts) {
      const sizes = indexes.map((j) => entryBytes(keys, j, withValues));
      let start = 0;
      for (const end of multiPartEnds(sizes, MULTI_SLACK_BYTES, maxKeys)) {
        const chunk = indexes.slice(start, end);
        start = end;
        const body = encodeBody(keys, chunk, withValues);
        sent.push(
          this.router.send(owner, opcode, 0, null, body, extras).then(
            (response): PartAnswer => ({ owner, indexes: chunk, response }),
            (error: unknown): PartAnswer => ({ owner, indexes: chunk, error }),
          ),
        );
      }
    }
    return sent;
  }
}

/** Body bytes of key j: u16 length + key for MGET; u16 + u32 lengths, key and value for MSET. */
function entryBytes(keys: KeyList, j: number, withValue: boolean): number {
  const i = keys.first + keys.step * j;
  return withValue ? 6 + keys.lens[i]! + keys.lens[i + 1]! : 2 + keys.lens[i]!;
}

function encodeBody(keys: KeyList, indexes: readonly number[], withValues: boolean): Buffer {
  let length = 4;
  for (const j of indexes) length += entryBytes(keys, j, withValues);
  const body = Buffer.allocUnsafe(length);
  body.writeUInt32BE(indexes.length, 0);
  let at = 4;
  for (const j of indexes) {
    const i = keys.first + keys.step * j;
    const kl = keys.lens[i]!;
    body.writeUInt16BE(kl, at);
    at += 2;
    if (withValues) {
      body.writeUInt32BE(keys.lens[i + 1]!, at);
      at += 4;
    }
    keys.bufs[i]!.copy(body, at, keys.offs[i]!, keys.offs[i]! + kl);
    at += kl;
    if (withValues) {
      const vl = keys.lens[i + 1]!;
      keys.bufs[i + 1]!.copy(body, at, keys.offs[i + 1]!, keys.offs[i + 1]! + vl);
      at += vl;
    }
  }
  return body;
}

/** Puts an owner's MGET answer into the slots of its keys; false when the answer is malformed. */
function spreadMgetValues(body: Buffer, indexes: readonly number[], values: Array<Uint8Array | null>): boolean {
  const cursor = new MultiKeyCursor();
  if (cursor.begin(body, 0, body.length) !== indexes.length) return false;
  let k = 0;
  while (cursor.nextItem()) {
    values[indexes[k++]!] = cursor.valueLength < 0 ? null : body.subarray(cursor.valueOffset, cursor.valueOffset + cursor.valueLength);
  }
  return cursor.complete;
}
