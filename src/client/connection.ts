/**
 * One pipelined connection to one node. It knows nothing about keys or routing: the Client (and later the
 * cluster topology) decides which node a request goes to; this class sends it and matches the answer.
 *
 * Hot path, per request: encode into the connection's OutputBatch, add a Pending to the id table, return a
 * promise. No timer, no closure, no clock read per request:
 *  - Every request issued in one tick leaves in ONE socket.write, flushed from process.nextTick (after the
 *    microtasks of that tick have run, so the continuations resolved by one read chunk share a write); later
 *    flushes of the same event-loop turn leave in one writev (turn-cork.ts), as the node does with its answers.
 *  - The clock is read once per batch; deadline = batch time + timeoutMs. One interval timer per connection
 *    expires requests from the oldest (deadline-sweep.ts).
 *  - Responses are read into a per-connection buffer (socket.ts), decoded in place (FrameDecoder views) and
 *    matched by id; only the value bytes the caller receives are copied.
 *  - Bounds: maxPending requests tracked, and maxQueuedBytes unsent in the socket (a node that stops reading);
 *    past either, a request fails at once with QueueFullError and is not sent.
 *
 * States: idle → connecting → ready; a lost connection or a failed attempt → backoff → connecting …
 *  - connecting: requests queue in the output batch (bounded by maxPending and their deadlines) and leave when
 *    the connection is up; the attempt is bounded by connectTimeoutMs.
 *  - backoff (the last attempt failed): the node is known down; requests fail fast with ConnectionError so
 *    the caller can fail over or fall back to the source of truth instead of waiting.
 *  - A ready connection that is lost fails its outstanding requests with ConnectionError and reconnects at once
 *    if it had been answering, else after a backoff (reconnect-backoff.ts). It never resends them itself; it
 *    marks which ones were written to the socket (they may have run) and which were not (request-fate.ts), so
 *    the smart client can decide (docs/ARCHITECTURE.md, "Decisions", "Client retries").
 *  - retire(): the member left the topology: no new requests; the ones in flight get their answers (a leaving
 *    node drains them), then the connection closes.
 */
import * as net from 'node:net';
import { ClientClosedError, ConnectionError, QueueFullError } from '../errors';
import { HEADER_SIZE, Opcode, Status, closesConnection } from '../protocol/constants';
import { FrameDecoder } from '../protocol/decoder';
import type { Frame } from '../protocol/frame';
import { writeRequest, writeRequestHead, writeRequestHeader } from '../protocol/encoder';
import { type MsetEntry, writeMgetBody, writeMsetBody } from '../protocol/multi';
import type { OutputBatch } from '../protocol/output-batch';
import { LARGE_VALUE_BYTES, callerKeepsValue, outgoingBatch } from './outgoing';
import type { NodeAddress } from './node-address';
import { type Bytes, roomFor } from './arg-checks';
import { Pending, PendingTable, promiseFor } from './pending';
import { type ClientOpcode, type OpcodeResults, type RawResponse, rawResponseOf, resultOf } from './results';
import { openSocket } from './socket';
import { closedByNodeError, congestedError, nodeDownError, notSentError, socketClosedError, timeoutError } from './connection-errors';
import { DEFAULT_MAX_RESPONSE_BYTES, MAX_QUEUED_BYTES, type ConnectionState, type NodeConnectionOptions } from './connection-options';
import { DeadlineSweep } from './deadline-sweep';
import { Handshake } from './handshake';
import { markClosed } from './request-fate';
import { ReconnectBackoff } from './reconnect-backoff';
import { TurnCork } from './turn-cork';

// The default response limit is the connection's: importable with it.
export { DEFAULT_MAX_RESPONSE_BYTES };

/**
 * Module-local aliases for what the per-request path calls. tsx (the test and bench runner) compiles each
 * `import { x }` use into getter calls, which cost several percent of the client's CPU; tsc output does not.
 */
const hot = {
  HEADER_SIZE,
  LARGE_VALUE_BYTES,
  Pending,
  closesConnection,
  promiseFor,
  rawResponseOf,
  resultOf,
  roomFor,
  writeRequest,
  writeRequestHead,
};
const SHUTTING_DOWN = Status.SHUTTING_DOWN;

export class NodeConnection {
  readonly address: NodeAddress;
  state: ConnectionState = 'idle';
  /** Ring epoch of the latest response (0 until a node in a cluster answers). */
  lastEpoch = 0;
  /** Highest ring epoch any response on this connection has carried. */
  highestEpoch = 0;
  /** The node answered SHUTTING_DOWN on the current socket: it is draining, prefer another node. */
  draining = false;
  /** Why the last connection or attempt ended. */
  lastError: Error | null = null;
  readonly timeoutMs: number;
  readonly maxPending: number;
  private readonly connectTimeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly maxQueuedBytes: number;
  private readonly hooks: NodeConnectionOptions;
  private readonly table: PendingTable;
  /** Expires requests past their deadline (deadline-sweep.ts). */
  private readonly deadlines: DeadlineSweep;
  /** Requests not yet written (outgoing.ts). */
  private readonly out: OutputBatch;
  private readonly readBuffer = Buffer.allocUnsafe(64 * 1024);
  private socket: net.Socket | null = null;
  private decoder: FrameDecoder | null = null;
  private closeCause: Error | null = null;
  /** The current socket answered at least one request: a loss is worth an immediate reconnect. */
  private healthy = false;
  /** Failed attempts in a row and the scheduled retry (reconnect-backoff.ts). */
  private readonly backoff: ReconnectBackoff;
  private flushScheduled = false;
  private readonly cork = new TurnCork();
  /** The socket holds more than maxQueuedBytes: refuse new requests until 'drain'. */
  private congested = false;
  /** performance.now() read once for the batch being filled. */
  private batchTime = 0;
  private closedWaiters: Array<() => void> = [];
  /** Send order of the requests issued (Pending.seq) and of the last one written to a socket. */
  private issuedSeq = 0;
  private sentSeq = 0;
  /** Set by retire(): close once no request is in flight, and do not reconnect. */
  private retiring = false;
  /** What requests made after close() fail with. */
  private closedError: Error | null = null;
  /** AUTH or MEMBER_HELLO, first on every socket (handshake.ts). */
  private readonly handshake: Handshake;
  private readonly flushFn = (): void => this.flush();
  private readonly frameFn = (frame: Frame): void => this.onFrame(frame);
  private readonly decodeErrorFn = (error: Error): void => this.abort(error);
  private readonly registerFn = (opcode: number): number => this.register(opcode);

  constructor(address: NodeAddress, options: NodeConnectionOptions) {
    this.address = address;
    this.hooks = options;
    this.timeoutMs = options.timeoutMs;
    this.connectTimeoutMs = options.connectTimeoutMs;
    this.maxPending = options.maxPending;
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.maxQueuedBytes = options.maxQueuedBytes ?? MAX_QUEUED_BYTES;
    this.out = outgoingBatch(options.bufferPool);
    this.backoff = new ReconnectBackoff(options.backoffBaseMs, options.backoffMaxMs);
    this.table = new PendingTable(options.maxPending);
    this.deadlines = new DeadlineSweep(this.table, options.timeoutMs, (p) => {
      p.reject(timeoutError(p.opcode, this.address.id, this.timeoutMs, this.state === 'connecting'));
      if (this.retiring && this.table.size === 0) void this.close(this.retiredError());
    });
    this.handshake = new Handshake(options.authToken, options.memberHello);
  }

  /**
   * True from when a request in flight had waited over a quarter of the timeout until the node answers anything
   * again (DeadlineSweep.stalled), also after such requests timed out.
   */
  get stalled(): boolean {
    return this.deadlines.stalled;
  }

  /** Requests in flight or queued. */
  get pendingCount(): number {
    return this.table.size;
  }

  /** True when a request would be accepted now (ready, connecting, or idle: it starts connecting). */
  get usable(): boolean {
    const s = this.state;
    return s === 'ready' || s === 'connecting' || s === 'idle';
  }

  /** Starts connecting when idle or backing off (a no-op otherwise). */
  connect(): void {
    if (this.state !== 'idle' && this.state !== 'backoff') return;
    this.backoff.cancel();
    this.open();
  }

  /** Sends a single-key request (or PING/STATS/FLUSH with null key). Resolves with the decoded result. */
  request<O extends ClientOpcode>(
    opcode: O,
    flags: number,
    key: Bytes | null,
    value: Bytes | null,
    extras: number | bigint,
  ): Promise<OpcodeResults[O]> {
    // resultOf decodes each opcode's response into its OpcodeResults type: the one place the type is asserted.
    return this.send(opcode, flags, key, value, extras, false) as Promise<OpcodeResults[O]>;
  }

  /**
   * Sends any request and resolves with the response as it came, whatever its status (errors included):
   * for a node that relays a peer's answer (forwarding sets flags to FORWARDED). Rejects only when no
   * answer comes: timeout, lost connection, full queue, closed connection. Key and value bytes are sent as
   * given (a multi-key body goes in value, with key null).
   */
  requestRaw(opcode: number, flags: number, key: Bytes | null, value: Bytes | null, extras: number | bigint): Promise<RawResponse> {
    return this.send(opcode, flags, key, value, extras, true) as Promise<RawResponse>;
  }

  /** Sends an MGET (keys) or MSET (entries) request whose body is bodyLength bytes. */
  requestMulti<O extends typeof Opcode.MGET | typeof Opcode.MSET>(
    opcode: O,
    items: readonly Bytes[] | readonly MsetEntry[],
    bodyLength: number,
    extras: number,
  ): Promise<OpcodeResults[O]> {
    if (this.state !== 'ready') {
      const refusal = this.refuse();
      if (refusal !== null) return refusal;
    }
    if (this.table.size >= this.maxPending || this.congested) return this.queueFull();
    const out = this.out;
    const at = out.reserve(HEADER_SIZE + bodyLength);
    const p = new Pending();
    p.opcode = opcode;
    p.aux = items.length;
    p.seq = ++this.issuedSeq;
    const id = this.table.add(p);
    const buf = out.buffer;
    const end =
      opcode === Opcode.MGET
        ? writeMgetBody(buf, at + HEADER_SIZE, items as readonly Bytes[])
        : writeMsetBody(buf, at + HEADER_SIZE, items as readonly MsetEntry[]);
    writeRequestHeader(buf, at, opcode, 0, id, 0, end - at - HEADER_SIZE, extras);
    out.commit(end);
    return this.track(p) as Promise<OpcodeResults[O]>;
  }

  /**
   * Closes for good: outstanding requests fail with `error` (ClientClosedError by default), timers stop, the
   * socket is destroyed. Resolves once the socket has closed.
   */
  close(error: Error = new ClientClosedError()): Promise<void> {
    if (this.state !== 'closed') {
      this.state = 'closed';
      this.closedError = error;
      this.deadlines.stop();
      this.backoff.cancel();
      this.out.discard();
      this.failAll(error);
      if (this.decoder !== null) this.decoder.destroy();
      if (this.socket !== null) this.socket.destroy();
    }
    if (this.socket === null) return Promise.resolve();
    return new Promise((resolve) => this.closedWaiters.push(resolve));
  }

  /**
   * Closes once the requests in flight have their answers (or time out): for a member that left the topology,
   * whose in-flight requests a graceful stop still answers. Requests made afterwards fail as never sent.
   * Resolves once the socket has closed.
   */
  retire(): Promise<void> {
    if (this.state === 'closed') return this.close();
    this.retiring = true;
    this.backoff.cancel();
    // Not connected: nothing in flight can be answered; what is queued was never sent.
    if (this.table.size === 0 || this.state !== 'ready') return this.close(this.retiredError());
    return new Promise((resolve) => this.closedWaiters.push(resolve));
  }

  private retiredError(): Error {
    return markClosed(new ConnectionError(`${this.address.id} left the topology; the request was not sent to it`), 'unsent');
  }

  private send(
    opcode: number,
    flags: number,
    key: Bytes | null,
    value: Bytes | null,
    extras: number | bigint,
    raw: boolean,
  ): Promise<unknown> {
    if (this.state !== 'ready') {
      const refusal = this.refuse();
      if (refusal !== null) return refusal;
    }
    if (this.table.size >= this.maxPending || this.congested) return this.queueFull();
    const out = this.out;
    // A caller's own large value leaves by reference (outgoing.ts). Not for raw requests: a node relays views
    // of its read buffers there, which are not its to hold on to.
    const byReference = !raw && value !== null && typeof value !== 'string' && value.length >= hot.LARGE_VALUE_BYTES;
    const at = out.reserve(
      hot.HEADER_SIZE + (key === null ? 0 : hot.roomFor(key)) + (value === null || byReference ? 0 : hot.roomFor(value)),
    );
    const p = new hot.Pending();
    p.opcode = opcode;
    p.raw = raw;
    p.seq = ++this.issuedSeq;
    const id = this.table.add(p);
    if (byReference) {
      out.commit(hot.writeRequestHead(out.buffer, at, opcode, flags, id, key, value as Uint8Array, extras));
      out.appendExternal(value as Uint8Array, callerKeepsValue);
    } else {
      out.commit(hot.writeRequest(out.buffer, at, opcode, flags, id, key, value, extras));
    }
    return this.track(p);
  }

  private queueFull(): Promise<never> {
    return Promise.reject(
      this.congested
        ? congestedError(this.maxPending, this.address.id, this.socket?.writableLength ?? 0, this.maxQueuedBytes)
        : new QueueFullError(this.maxPending),
    );
  }

  /** Null when a request may be queued now (starting a connect if idle), else the rejected promise. */
  private refuse(): Promise<never> | null {
    switch (this.state) {
      case 'connecting':
        return null;
      case 'idle':
        this.open();
        return null;
      case 'closed':
        return Promise.reject(this.closedError ?? new ClientClosedError());
      default:
        return Promise.reject(nodeDownError(this.address.id, this.lastError));
    }
  }

  /** Schedules the batch flush, stamps the deadline and arms the sweep; returns p's promise. */
  private track(p: Pending): Promise<unknown> {
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      this.batchTime = performance.now();
      process.nextTick(this.flushFn);
    }
    p.deadline = this.batchTime + this.timeoutMs;
    this.deadlines.arm();
    return hot.promiseFor(p);
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.state === 'ready' && this.out.length > 0) this.write(this.socket!);
  }

  /** Writes the batch; later writes of the same event-loop turn are corked into one writev (turn-cork.ts). */
  private write(socket: net.Socket): void {
    this.cork.beforeWrite(socket);
    this.out.writeTo(socket);
    // Everything issued so far was in the batch: from here on it may reach the node.
    this.sentSeq = this.issuedSeq;
    if (socket.writableLength > this.maxQueuedBytes) this.congested = true;
  }

  private open(): void {
    this.state = 'connecting';
    this.healthy = false;
    this.draining = false;
    this.congested = false;
    this.closeCause = null;
    this.handshake.reset();
    const decoder = new FrameDecoder({
      kind: 'response',
      maxBodyBytes: this.maxResponseBytes,
      onFrame: this.frameFn,
      onError: this.decodeErrorFn,
    });
    const options = {
      connectTimeoutMs: this.connectTimeoutMs,
      readBuffer: this.readBuffer,
      lookup: this.hooks.lookup,
      localAddress: this.hooks.localAddress,
    };
    const socket: net.Socket = openSocket(this.address, options, {
      onConnect: () => {
        if (this.socket !== socket) return;
        this.state = 'ready';
        this.deadlines.stalled = false;
        // AUTH goes first, ahead of the requests queued while connecting: the node answers in order.
        this.handshake.send(socket, this.registerFn);
        this.hooks.onConnect?.(this);
        if (this.state === 'ready' && this.out.length > 0) this.write(socket);
      },
      onChunk: (chunk) => {
        try {
          decoder.push(chunk);
        } catch (error) {
          this.abort(error instanceof Error ? error : new Error(String(error)));
        }
      },
      onDrain: () => {
        if (this.socket === socket) this.congested = false;
      },
      onClose: (cause) => this.onSocketClose(socket, cause),
    });
    this.socket = socket;
    this.decoder = decoder;
  }

  /** Tracks the handshake's frame as a request (its answer is handled in onFrame); returns its id. */
  private register(opcode: number): number {
    const p = new Pending();
    p.opcode = opcode;
    p.raw = true;
    p.seq = ++this.issuedSeq;
    const id = this.table.add(p);
    // The promise only carries a timeout or a lost connection.
    this.track(p).catch(() => undefined);
    return id;
  }

  private onFrame(frame: Frame): void {
    if (this.handshake.answers(frame)) {
      this.table.take(frame.requestId)?.resolve(null);
      const refused = this.handshake.refusal(frame, this.address.id);
      if (refused !== null) return this.abort(refused);
    }
    const epoch = frame.epoch;
    if (epoch !== this.lastEpoch) {
      const previous = this.lastEpoch;
      this.lastEpoch = epoch;
      if (epoch > this.highestEpoch) this.highestEpoch = epoch;
      this.hooks.onEpoch?.(this, epoch, previous);
    }
    const status = frame.status;
    // The node answers again: no longer stalled.
    this.deadlines.stalled = false;
    const p = this.table.take(frame.requestId);
    if (p !== null) {
      const result = p.raw ? hot.rawResponseOf(frame) : hot.resultOf(p, frame);
      if (result instanceof Error) p.reject(result);
      else p.resolve(result);
    }
    if (status >= 0x80 && hot.closesConnection(status)) {
      const message = frame.buffer.toString('utf8', frame.valueOffset, frame.valueOffset + frame.valueLength);
      this.abort(closedByNodeError(this.address.id, status, message));
    } else {
      if (!this.healthy) {
        this.healthy = true;
        this.backoff.failures = 0;
      }
      if (status === SHUTTING_DOWN) this.draining = true;
    }
    if (this.retiring && this.table.size === 0) void this.close(this.retiredError());
  }

  /** Ends the current socket; its outstanding requests fail with `cause` (see onSocketClose). */
  private abort(cause: Error): void {
    if (this.closeCause === null) this.closeCause = cause;
    if (this.decoder !== null) this.decoder.destroy();
    if (this.socket !== null) this.socket.destroy();
  }

  private onSocketClose(socket: net.Socket, socketCause: Error | null): void {
    if (this.socket !== socket) return;
    this.socket = null;
    this.decoder = null;
    if (this.state === 'closed') {
      this.resolveClosed();
      return;
    }
    const wasReady = this.state === 'ready';
    const aborted = this.closeCause;
    const cause = aborted ?? socketCause;
    this.closeCause = null;
    const error = socketClosedError(this.address.id, cause, wasReady);
    this.lastError = error;
    this.out.discard();
    // Closed by this side for a reason that would recur (a refused token, bytes that are not frames, a status
    // that closes the connection): one error for all, never sent again. Otherwise the network or the node
    // closed it: requests still in the batch never left, the written ones may have run (request-fate.ts).
    if (aborted !== null) this.failAll(error);
    else this.failClosed(markClosed(error, wasReady ? 'maybe-applied' : 'unsent'), cause, wasReady);
    if (wasReady) this.hooks.onDisconnect?.(this, error);
    if ((this.state as ConnectionState) === 'closed') return; // closed from the hook
    if (this.retiring) {
      void this.close(this.retiredError());
      this.resolveClosed();
      return;
    }
    if (wasReady && this.healthy) {
      this.backoff.failures = 0;
      this.open();
    } else {
      this.backoff.failures++;
      this.scheduleReconnect();
    }
  }

  private scheduleReconnect(): void {
    this.state = 'backoff';
    const delay = this.backoff.schedule(() => {
      if (this.state === 'backoff') this.open();
    });
    this.hooks.onBackoff?.(this, delay, this.lastError ?? new ConnectionError('not connected'));
  }

  private failAll(error: Error): void {
    if (this.table.size === 0) return;
    for (const p of this.table.drain()) p.reject(error);
  }

  /** Fails the requests of a socket that closed: `written` for those written to it, a never-sent error for the rest. */
  private failClosed(written: Error, cause: Error | null, wasReady: boolean): void {
    if (this.table.size === 0) return;
    let unsent: Error | null = wasReady ? null : written;
    for (const p of this.table.drain()) {
      if (wasReady && p.seq <= this.sentSeq) p.reject(written);
      else p.reject((unsent ??= markClosed(notSentError(this.address.id, cause), 'unsent')));
    }
  }

  private resolveClosed(): void {
    const waiters = this.closedWaiters;
    this.closedWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
