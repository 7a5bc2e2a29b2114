/**
 * The binary codec's side of the local node: checks each request (validateRequest, and SHUTTING_DOWN while the
 * node drains), translates keyed frames into the request model (KeyRequest: views into the read buffer, no
 * copy) for the key router, and serves what only the binary port has: PING, STATS, FLUSH. Keyed requests it
 * serves itself (before the router exists) go to the one local command handler, LocalKeys, through the
 * binary reply sink (binary-sink.ts: large values leave as pinned views of the store).
 */
import { Flag, Opcode, PONG, Status, setModeOf } from '../protocol/constants';
import { readDelta, readTtlMs, type Frame } from '../protocol/decoder';
import { MultiKeyCursor } from '../protocol/multi';
import type { OutputBatch } from '../protocol/output-batch';
import { validateRequest, type RequestLimits } from '../protocol/validate';
import type { Store } from '../cache/store';
import { LocalKeys } from '../routing/local-keys';
import { KeyOp, KeyRequest, type KeyList } from '../routing/request';
import type { AsyncReplies, RequestHandler } from './request-handler';
import { ResponseCap, UNCAPPED } from '../net/response-cap';
import { BinaryReplySink, statusOf } from './binary-sink';
import type { ServerStats } from './server-stats';

export { statusOf };

/** Extra facts STATS reports beside the server's counters and the store's (the cluster adds its own). */
export type StatsSource = () => Record<string, unknown>;

/** The op of each keyed opcode (0: not keyed). */
const KEY_OP_OF = ((): Uint8Array => {
  const ops = new Uint8Array(256);
  ops[Opcode.GET] = KeyOp.GET;
  ops[Opcode.SET] = KeyOp.SET;
  ops[Opcode.DELETE] = KeyOp.DELETE;
  ops[Opcode.TOUCH] = KeyOp.TOUCH;
  ops[Opcode.TTL] = KeyOp.TTL;
  ops[Opcode.INCR] = KeyOp.INCR;
  ops[Opcode.MGET] = KeyOp.MGET;
  ops[Opcode.MSET] = KeyOp.MSET;
  return ops;
})();

/** True for the opcodes the key router serves. */
export function isKeyed(opcode: number): boolean {
  return KEY_OP_OF[opcode] !== 0;
}

export class LocalCommandHandler implements RequestHandler {
  /** Set while the node drains for shutdown: requests get SHUTTING_DOWN so clients retry elsewhere. */
  draining = false;
  /** The ring epoch every response carries (0 on a node outside a cluster). */
  epoch = 0;
  /** The one local command handler for keyed requests, shared by both ports. */
  readonly keys: LocalKeys;
  private readonly request = new KeyRequest();
  private readonly sink: BinaryReplySink;
  private readonly cursor = new MultiKeyCursor();
  private readonly limits: RequestLimits;

  constructor(
    private readonly store: Store,
    private readonly stats: ServerStats,
    limits: RequestLimits,
    private readonly extraStats: StatsSource = () => ({}),
    readonly responseCap: ResponseCap = UNCAPPED,
  ) {
    this.limits = { maxKeyBytes: limits.maxKeyBytes, maxValueBytes: limits.maxValueBytes };
    this.keys = new LocalKeys(store);
    this.sink = new BinaryReplySink(this, stats, responseCap);
  }

  handle(frame: Frame, out: OutputBatch): void {
    if (!this.admits(frame, out)) return;
    if (isKeyed(frame.opcode)) this.keys.serve(this.requestOf(frame), this.sinkFor(frame, out, null));
    else this.run(frame, out);
  }

  /** Checks a request; false (and the error appended) when it is malformed or the node is draining. */
  admits(frame: Frame, out: OutputBatch): boolean {
    const problem = validateRequest(frame, this.limits);
    if (problem !== null) {
      this.error(out, frame, problem.status, problem.message);
      return false;
    }
    if (this.draining && frame.opcode !== Opcode.PING && frame.opcode !== Opcode.STATS) {
      this.error(out, frame, Status.SHUTTING_DOWN, 'the node is shutting down; retry on another node');
      return false;
    }
    return true;
  }

  /** The binary port's sink, pointed at this frame's answer (`replies` null: answered now). */
  sinkFor(frame: Frame, out: OutputBatch, replies: AsyncReplies | null): BinaryReplySink {
    return this.sink.reset(out, frame.opcode, frame.requestId, replies);
  }

  /** A keyed frame (validated) in the request model: views into the frame's buffer, valid during the call. */
  requestOf(frame: Frame): KeyRequest {
    const r = this.request;
    const op = KEY_OP_OF[frame.opcode]! as KeyOp;
    if (op === KeyOp.MGET || op === KeyOp.MSET) {
      r.multi(op, this.keyListOf(frame, op === KeyOp.MSET));
      if (op === KeyOp.MSET) r.ttlMs = readTtlMs(frame);
    } else {
      r.single(op, frame.buffer, frame.keyOffset, frame.keyLength);
      if (op === KeyOp.SET) {
        r.value(frame.buffer, frame.valueOffset, frame.valueLength);
        r.ttlMs = readTtlMs(frame);
        r.mode = setModeOf(frame.flags);
      } else if (op === KeyOp.TOUCH) {
        r.ttlMs = readTtlMs(frame);
      } else if (op === KeyOp.INCR) {
        r.delta = readDelta(frame);
      }
    }
    r.forwarded = (frame.flags & Flag.FORWARDED) !== 0;
    r.rerouted = (frame.flags & Flag.REROUTED) !== 0;
    r.replicaRead = (frame.flags & Flag.REPLICA_READ) !== 0;
    r.validated = true;
    return r;
  }

  statsSnapshot(): Record<string, unknown> {
    return { server: this.stats.snapshot(), store: this.store.stats(), ...this.extraStats() };
  }

  /** An MGET/MSET body's keys (and values) as a list of views into the frame's buffer. */
  private keyListOf(frame: Frame, withValues: boolean): KeyList {
    const cursor = this.cursor;
    const buffer = frame.buffer;
    cursor.begin(buffer, frame.valueOffset, frame.valueLength);
    const bufs: Buffer[] = [];
    const offs: number[] = [];
    const lens: number[] = [];
    while (withValues ? cursor.nextEntry() : cursor.nextKey()) {
      bufs.push(buffer);
      offs.push(cursor.keyOffset);
      lens.push(cursor.keyLength);
      if (withValues) {
        bufs.push(buffer);
        offs.push(cursor.valueOffset);
        lens.push(cursor.valueLength);
      }
    }
    cursor.release();
    return { bufs, offs, lens, first: 0, count: withValues ? lens.length / 2 : lens.length, step: withValues ? 2 : 1 };
  }

  private run(frame: Frame, out: OutputBatch): void {
    switch (frame.opcode) {
      case Opcode.PING:
        if (frame.valueLength === 0) out.appendResponse(frame.opcode, Status.OK, frame.requestId, this.epoch, 0, PONG);
        else
          out.appendResponse(frame.opcode, Status.OK, frame.requestId, this.epoch, 0, frame.buffer, frame.valueOffset, frame.valueLength);
        return;
      case Opcode.STATS:
        out.appendResponseString(frame.opcode, Status.OK, frame.requestId, this.epoch, JSON.stringify(this.statsSnapshot()));
        return;
      case Opcode.FLUSH:
        try {
          this.keys.flush();
          out.appendResponseHeader(frame.opcode, Status.OK, frame.requestId, this.epoch, 0);
        } catch (error) {
          const [status, message] = statusOf(error);
          this.error(out, frame, status, message);
        }
        return;
      default:
        this.error(out, frame, Status.UNKNOWN_OPCODE, `opcode 0x${frame.opcode.toString(16)} is not served here`);
    }
  }

  private error(out: OutputBatch, frame: Frame, status: number, message: string): void {
    this.stats.errorResponses++;
    out.appendResponseString(frame.opcode, status, frame.requestId, this.epoch, message);
  }
}
