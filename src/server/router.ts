/**
 * Cluster routing (docs/ARCHITECTURE.md, Decisions, "Routing"): a key request whose owner on this node's ring is another member is
 * forwarded once to that owner, marked FORWARDED; a forwarded request is always served where it lands, so
 * requests never loop and no deadlock arises while views differ. MGET and MSET are split per owner and joined.
 * An owner that cannot be reached yields UNAVAILABLE within the forward timeout, never a hang.
 * Membership messages and TOPOLOGY are answered here; everything else goes to the local command handler.
 */
import { isNativeAccelerationEnabled } from '../consistent/native';
import type { HashRing } from '../consistent/ring';
import { decodeMessage, encodeMessage, type MembershipMessage } from '../discovery/messages';
import { Flag, MEMBERSHIP_OPCODE_FIRST, MEMBERSHIP_OPCODE_LAST, MGET_MISSING, Opcode, Status } from '../protocol/constants';
import { readTtlMs, type Frame } from '../protocol/decoder';
import { MultiKeyCursor, mgetResponseBodyLength, writeMgetResponseCount } from '../protocol/multi';
import type { OutputBatch } from '../protocol/output-batch';
import { validateRequest, type RequestLimits } from '../protocol/validate';
import { HEADER_SIZE } from '../protocol/constants';
import { writeResponseHeader } from '../protocol/encoder';
import type { LocalCommandHandler } from './commands';
import type { AsyncReplies, RequestHandler } from './connection';

/** What a peer answered, copied out of its read buffer. */
export interface RawResponse {
  status: number;
  extrasHigh: number;
  extrasLow: number;
  value: Buffer;
}

/** Sends requests to other members (pooled, pipelined connections). Rejects when the peer is unreachable. */
export interface PeerRequester {
  request(
    peerId: string,
    opcode: number,
    flags: number,
    key: Uint8Array | null,
    value: Uint8Array | null,
    extras: number | bigint,
  ): Promise<RawResponse>;
  requestMulti(peerId: string, opcode: typeof Opcode.MGET | typeof Opcode.MSET, body: Buffer, extras: number): Promise<RawResponse>;
}

/** Answers membership messages and describes the topology. */
export interface ClusterView {
  readonly selfId: string;
  /** False while this node is cut off from the majority: it then refuses key requests (UNAVAILABLE). */
  readonly hasQuorum: boolean;
  readonly staleGuard: { refusedWithoutQuorum: number };
  /** senderId: the member the connection authenticated as (the message's `from` was checked against it). */
  handleMembership(opcode: number, message: MembershipMessage, senderId: string): Promise<MembershipMessage>;
  topology(): Record<string, unknown>;
}

/** Keys from which a multi-key request is routed with one native batch call (measured: bench/route-multi.bench.ts). */
const BATCH_ROUTING_MIN_KEYS = 32;
const KEY_OPCODES = new Set<number>([Opcode.GET, Opcode.SET, Opcode.DELETE, Opcode.TOUCH, Opcode.TTL, Opcode.INCR]);
const KEYED_OPCODES = new Set<number>([...KEY_OPCODES, Opcode.MGET, Opcode.MSET]);
const CUT_OFF = 'this node is cut off from the majority of the cluster and serves no keys until it rejoins; retry on another node';

export class ClusterRouter implements RequestHandler {
  /** Requests this node forwarded, and those whose owner could not be reached. */
  readonly counters = {
    forwarded: 0,
    forwardFailures: 0,
    servedForPeers: 0,
    membershipMessages: 0,
    rejectedMembershipMessages: 0,
    spoofedSenders: 0,
  };
  private readonly cursor = new MultiKeyCursor();
  private readonly limits: RequestLimits;
  /** The limits TOPOLOGY tells clients, so they split multi-key requests to fit (docs/PROTOCOL.md, Topology). */
  private readonly advertisedLimits: Record<string, number>;

  constructor(
    private readonly local: LocalCommandHandler,
    private readonly ring: HashRing,
    private readonly peers: PeerRequester,
    private readonly cluster: ClusterView,
    limits: RequestLimits,
  ) {
    this.limits = { maxKeyBytes: limits.maxKeyBytes, maxValueBytes: limits.maxValueBytes };
    this.advertisedLimits = { ...this.limits, maxResponseBytes: local.responseCap.maxResponseBytes };
  }

  handle(frame: Frame, out: OutputBatch, replies: AsyncReplies): void {
    const opcode = frame.opcode;
    if (opcode >= MEMBERSHIP_OPCODE_FIRST && opcode <= MEMBERSHIP_OPCODE_LAST) {
      this.membership(frame, out, replies);
      return;
    }
    if (opcode === Opcode.TOPOLOGY) {
      const topology = { ...this.cluster.topology(), limits: this.advertisedLimits };
      out.appendResponseString(opcode, Status.OK, frame.requestId, this.local.epoch, JSON.stringify(topology));
      return;
    }
    if (!this.cluster.hasQuorum && KEYED_OPCODES.has(opcode)) {
      this.cluster.staleGuard.refusedWithoutQuorum++;
      out.appendResponseString(opcode, Status.UNAVAILABLE, frame.requestId, this.local.epoch, CUT_OFF);
      return;
    }
    if ((frame.flags & Flag.FORWARDED) !== 0) {
      this.counters.servedForPeers++;
      this.local.handle(frame, out);
      return;
    }
    if (KEY_OPCODES.has(opcode)) {
      const owner = this.ownerOf(frame.buffer, frame.keyOffset, frame.keyLength);
      if (owner === undefined || this.local.draining || validateRequest(frame, this.limits) !== null) {
        this.local.handle(frame, out);
      } else {
        this.forward(owner, frame, replies);
      }
      return;
    }
    if ((opcode === Opcode.MGET || opcode === Opcode.MSET) && !this.local.draining && validateRequest(frame, this.limits) === null) {
      this.splitMulti(frame, out, replies);
      return;
    }
    this.local.handle(frame, out);
  }

  /** The owner's id when it is another member; undefined when this node owns the key (or the ring is empty). */
  private ownerOf(buffer: Uint8Array, offset: number, length: number): string | undefined {
    const index = this.ring.lookupIndex(buffer, offset, length);
    if (index < 0) return undefined;
    const owner = this.ring.nodeAt(index)!;
    return owner === this.cluster.selfId ? undefined : owner;
  }

  /**
   * The owner index of each key of a multi-key request. From BATCH_ROUTING_MIN_KEYS keys up, one native batch
   * call (where the addon loaded) beats a TypeScript lookup per key; below it the call's own cost loses
   * (bench/route-multi.bench.ts, docs/PERFORMANCE.md).
   */
  private ownersOf(buffer: Buffer, spans: ReadonlyArray<readonly [number, number, number, number]>): Int32Array {
    const count = spans.length;
    const owners = new Int32Array(count);
    if (count >= BATCH_ROUTING_MIN_KEYS && isNativeAccelerationEnabled) {
      const flat = new Uint32Array(2 * count);
      for (let i = 0; i < count; i++) {
        flat[2 * i] = spans[i]![0];
        flat[2 * i + 1] = spans[i]![1];
      }
      this.ring.lookupBatch(buffer, flat, count, owners);
    } else {
      for (let i = 0; i < count; i++) owners[i] = this.ring.lookupIndex(buffer, spans[i]![0], spans[i]![1]);
    }
    return owners;
  }

  private forward(owner: string, frame: Frame, replies: AsyncReplies): void {
    this.counters.forwarded++;
    const { opcode, requestId } = frame;
    const key = frame.buffer.subarray(frame.keyOffset, frame.keyOffset + frame.keyLength);
    const value = frame.valueLength === 0 ? null : frame.buffer.subarray(frame.valueOffset, frame.valueOffset + frame.valueLength);
    const extras = frame.extrasHigh === 0 && frame.extrasLow === 0 ? 0 : (BigInt(frame.extrasHigh) << 32n) | BigInt(frame.extrasLow);
    // The request is encoded into the peer connection synchronously: the views above are not kept.
    const pending = this.peers.request(owner, opcode, frame.flags | Flag.FORWARDED, key, value, extras);
    const reply = replies.begin();
    pending.then(
      (response) => reply.send((out) => this.relay(out, opcode, requestId, response)),
      (error: unknown) => {
        this.counters.forwardFailures++;
        reply.send((out) => out.appendResponseString(opcode, Status.UNAVAILABLE, requestId, this.local.epoch, unavailable(owner, error)));
      },
    );
  }

  private relay(out: OutputBatch, opcode: number, requestId: number, response: RawResponse): void {
    const extras =
      response.extrasHigh === 0 && response.extrasLow === 0
        ? 0
        : BigInt.asUintN(64, (BigInt(response.extrasHigh) << 32n) | BigInt(response.extrasLow));
    out.appendResponse(opcode, response.status, requestId, this.local.epoch, extras, response.value);
  }

  /**
   * MGET/MSET: keys this node owns are served from the store now; the rest go to their owners, one request per
   * owner, and the response is assembled in the request's key order once every part is back.
   */
  private splitMulti(frame: Frame, out: OutputBatch, replies: AsyncReplies): void {
    const isMset = frame.opcode === Opcode.MSET;
    const cursor = this.cursor;
    cursor.begin(frame.buffer, frame.valueOffset, frame.valueLength);
    const remote = new Map<string, number[]>();
    const spans: Array<[number, number, number, number]> = [];
    while (isMset ? cursor.nextEntry() : cursor.nextKey()) {
      spans.push([cursor.keyOffset, cursor.keyLength, cursor.valueOffset, cursor.valueLength]);
    }
    cursor.release();
    const owners = this.ownersOf(frame.buffer, spans);
    const selfId = this.cluster.selfId;
    for (let index = 0; index < spans.length; index++) {
      const ownerIndex = owners[index]!;
      const owner = ownerIndex < 0 ? undefined : this.ring.nodeAt(ownerIndex);
      if (owner === undefined || owner === selfId) continue;
      const list = remote.get(owner) ?? [];
      list.push(index);
      remote.set(owner, list);
    }
    if (remote.size === 0) {
      this.local.handle(frame, out);
      return;
    }
    this.counters.forwarded += remote.size;
    const { opcode, requestId } = frame;
    const buffer = frame.buffer;
    const ttlMs = readTtlMs(frame);
    const isRemote = new Uint8Array(spans.length);
    for (const list of remote.values()) for (const index of list) isRemote[index] = 1;
    // Local part first, synchronously (the frame's bytes are only valid now): values are copied out, once
    // their total is known to fit in a response.
    const values: Array<Buffer | null> = new Array(spans.length).fill(null);
    const store = this.local.store;
    if (!isMset) {
      let size = 4 + 4 * spans.length;
      for (let i = 0; i < spans.length; i++) {
        if (isRemote[i]) continue;
        const item = store.lookup(buffer, spans[i]![0], spans[i]![1]);
        if (item >= 0) size += store.valueLength(item);
      }
      const refusal = this.local.responseCap.refusal(size);
      if (refusal !== null) {
        out.appendResponseString(opcode, Status.RESPONSE_TOO_LARGE, requestId, this.local.epoch, refusal);
        return;
      }
    }
    let localError: string | undefined;
    for (let i = 0; i < spans.length; i++) {
      if (isRemote[i]) continue;
      const [keyOffset, keyLength, valueOffset, valueLength] = spans[i]!;
      try {
        if (isMset) store.setFrom(buffer, keyOffset, keyLength, buffer, valueOffset, valueLength, ttlMs, 0);
        else values[i] = store.getCopy(buffer, keyOffset, keyLength);
      } catch (error) {
        localError ??= error instanceof Error ? error.message : String(error);
      }
    }
    const parts = [...remote].map(([owner, indexes]) => {
      const body = isMset ? msetBody(buffer, spans, indexes) : mgetBody(buffer, spans, indexes);
      return this.peers.requestMulti(owner, isMset ? Opcode.MSET : Opcode.MGET, body, isMset ? ttlMs : 0).then(
        (response) => ({ owner, indexes, response }),
        (error: unknown) => ({ owner, indexes, error }),
      );
    });
    const reply = replies.begin();
    void Promise.all(parts).then((results) => {
      reply.send((out) => {
        for (const result of results) {
          if ('error' in result) {
            this.counters.forwardFailures++;
            out.appendResponseString(opcode, Status.UNAVAILABLE, requestId, this.local.epoch, unavailable(result.owner, result.error));
            return;
          }
          if (result.response.status !== Status.OK) {
            out.appendResponse(opcode, result.response.status, requestId, this.local.epoch, 0, result.response.value);
            return;
          }
          if (!isMset && !spreadMgetValues(result.response.value, result.indexes, values)) {
            out.appendResponseString(
              opcode,
              Status.INTERNAL_ERROR,
              requestId,
              this.local.epoch,
              `malformed MGET answer from ${result.owner}`,
            );
            return;
          }
        }
        const refusal = isMset ? null : this.local.responseCap.refusal(mgetResponseBodyLength(values));
        if (localError !== undefined) {
          out.appendResponseString(opcode, Status.INTERNAL_ERROR, requestId, this.local.epoch, localError);
        } else if (refusal !== null) {
          out.appendResponseString(opcode, Status.RESPONSE_TOO_LARGE, requestId, this.local.epoch, refusal);
        } else if (isMset) {
          out.appendResponseHeader(opcode, Status.OK, requestId, this.local.epoch, 0);
        } else {
          appendMgetResponse(out, opcode, requestId, this.local.epoch, values);
        }
      });
    });
  }

  private membership(frame: Frame, out: OutputBatch, replies: AsyncReplies): void {
    this.counters.membershipMessages++;
    const message = decodeMessage(frame.value());
    const { opcode, requestId } = frame;
    if (message === undefined) {
      this.counters.rejectedMembershipMessages++;
      out.appendResponseString(opcode, Status.BAD_ARGUMENT, requestId, this.local.epoch, 'malformed membership message');
      return;
    }
    const sender = replies.memberId;
    if (sender === undefined || message.from !== sender) {
      // The connection's handshake proved who is speaking: a message in another member's name is a lie.
      this.counters.rejectedMembershipMessages++;
      this.counters.spoofedSenders++;
      replies.forbid(
        opcode,
        requestId,
        `membership message from ${message.from} on the connection of member ${sender ?? '(none)'}: a member speaks only for itself`,
      );
      return;
    }
    const reply = replies.begin();
    this.cluster.handleMembership(opcode, message, sender).then(
      (answer) => reply.send((o) => o.appendResponse(opcode, Status.OK, requestId, this.local.epoch, 0, encodeMessage(answer))),
      (error: unknown) =>
        reply.send((o) => o.appendResponseString(opcode, Status.INTERNAL_ERROR, requestId, this.local.epoch, String(error))),
    );
  }
}

function unavailable(owner: string, error: unknown): string {
  return `the key's owner ${owner} is unreachable: ${error instanceof Error ? error.message : String(error)}`;
}

function mgetBody(buffer: Buffer, spans: Array<[number, number, number, number]>, indexes: number[]): Buffer {
  let length = 4;
  for (const index of indexes) length += 2 + spans[index]![1];
  const body = Buffer.allocUnsafe(length);
  body.writeUInt32BE(indexes.length, 0);
  let at = 4;
  for (const index of indexes) {
    const [keyOffset, keyLength] = spans[index]!;
    body.writeUInt16BE(keyLength, at);
    buffer.copy(body, at + 2, keyOffset, keyOffset + keyLength);
    at += 2 + keyLength;
  }
  return body;
}

function msetBody(buffer: Buffer, spans: Array<[number, number, number, number]>, indexes: number[]): Buffer {
  let length = 4;
  for (const index of indexes) length += 6 + spans[index]![1] + spans[index]![3];
  const body = Buffer.allocUnsafe(length);
  body.writeUInt32BE(indexes.length, 0);
  let at = 4;
  for (const index of indexes) {
    const [keyOffset, keyLength, valueOffset, valueLength] = spans[index]!;
    body.writeUInt16BE(keyLength, at);
    body.writeUInt32BE(valueLength, at + 2);
    buffer.copy(body, at + 6, keyOffset, keyOffset + keyLength);
    buffer.copy(body, at + 6 + keyLength, valueOffset, valueOffset + valueLength);
    at += 6 + keyLength + valueLength;
  }
  return body;
}

/** Puts an owner's MGET answer into the slots of its keys; false when the answer is malformed. */
function spreadMgetValues(body: Buffer, indexes: number[], values: Array<Buffer | null>): boolean {
  const cursor = new MultiKeyCursor();
  if (cursor.begin(body, 0, body.length) !== indexes.length) return false;
  let i = 0;
  while (cursor.nextItem()) {
    values[indexes[i++]!] = cursor.valueLength < 0 ? null : body.subarray(cursor.valueOffset, cursor.valueOffset + cursor.valueLength);
  }
  return cursor.complete;
}

function appendMgetResponse(out: OutputBatch, opcode: number, requestId: number, epoch: number, values: Array<Buffer | null>): void {
  let length = 4;
  for (const value of values) length += 4 + (value === null ? 0 : value.length);
  const at = out.reserve(HEADER_SIZE + length);
  const buffer = out.buffer;
  writeResponseHeader(buffer, at, opcode, Status.OK, requestId, epoch, length, 0);
  let p = writeMgetResponseCount(buffer, at + HEADER_SIZE, values.length);
  for (const value of values) {
    if (value === null) {
      p = writeMgetResponseCount(buffer, p, MGET_MISSING);
    } else {
      p = writeMgetResponseCount(buffer, p, value.length);
      value.copy(buffer, p);
      p += value.length;
    }
  }
  out.commit(p);
}
