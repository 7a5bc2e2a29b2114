/**
 * One client connection: decode every complete frame of a read, run each, and answer the whole read with one
 * socket write. Backpressure: once queued output (the batch being built plus what the socket holds) passes the
 * high-water mark, decoding pauses mid-read (the rest of the read is held, at most one chunk) and the socket
 * stops being read until it drains; past the hard limit the connection is closed. So a client that never reads
 * holds at most about high-water + one response + one read of server memory. A framing error (bad magic,
 * oversized frame) is answered once and the connection closed.
 */
import type { Socket } from 'node:net';
import { Status } from '../protocol/constants';
import { FrameDecoder, type DecodeFailure, type Frame } from '../protocol/decoder';
import type { OutputBatch } from '../protocol/output-batch';
import type { ServerStats } from './stats';

/**
 * Runs one decoded request and appends its response to the batch, or, for work that completes later (a
 * request forwarded to its owner, a membership probe), takes a reply slot with replies.begin() and fills it
 * when the answer is there. Responses carry request ids, so later answers may overtake earlier ones.
 */
export interface RequestHandler {
  handle(frame: Frame, out: OutputBatch, replies: AsyncReplies): void;
}

export interface AsyncReply {
  /** Appends the response (once) and writes it; dropped when the connection has closed meanwhile. */
  send(write: (out: OutputBatch) => void): void;
}

export interface AsyncReplies {
  begin(): AsyncReply;
}

export interface ConnectionLimits {
  maxBodyBytes: number;
  outputHighWaterBytes: number;
  outputHardLimitBytes: number;
}

/** How long a connection closed for bad input may take to flush its last error frame. */
const CLOSE_GRACE_MS = 500;

export class ServerConnection implements AsyncReplies {
  /** Set when a frame is half received; the server's sweep closes connections stuck that way too long. */
  partialFrameSince = 0;
  /** Replies begun and not yet sent: a graceful shutdown waits for them. */
  pendingReplies = 0;
  private readonly decoder: FrameDecoder;
  private paused = false;
  private closing = false;

  constructor(
    readonly socket: Socket,
    private readonly handler: RequestHandler,
    private readonly batch: OutputBatch,
    private readonly stats: ServerStats,
    private readonly limits: ConnectionLimits,
    private readonly clock: () => number,
  ) {
    this.decoder = new FrameDecoder({
      kind: 'request',
      maxBodyBytes: limits.maxBodyBytes,
      onFrame: (frame) => this.onFrame(frame),
      onError: (_error, failure) => this.onDecodeFailure(failure),
    });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.onDrain());
    // Errors (ECONNRESET and the like) end this connection only; 'close' does the bookkeeping.
    socket.on('error', () => undefined);
  }

  /** True while reading is stopped because the client is not reading its responses. */
  get isPaused(): boolean {
    return this.paused;
  }

  get hasPendingOutput(): boolean {
    return this.socket.writableLength > 0 || this.pendingReplies > 0;
  }

  begin(): AsyncReply {
    this.pendingReplies++;
    let sent = false;
    return {
      send: (write) => {
        if (sent) return;
        sent = true;
        this.pendingReplies--;
        if (this.socket.destroyed) return;
        // Outside a read the shared batch is empty (every read takes what it appended), so this reply
        // cannot mix with another connection's bytes.
        write(this.batch);
        this.flush();
      },
    };
  }

  /** Closes after queued output is flushed (graceful shutdown, bad input), destroying it if that takes too long. */
  closeGracefully(graceMs = CLOSE_GRACE_MS): void {
    if (this.closing) return;
    this.closing = true;
    this.decoder.destroy();
    this.socket.end();
    setTimeout(() => this.socket.destroy(), graceMs).unref();
  }

  destroy(): void {
    this.closing = true;
    this.decoder.destroy();
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.stats.bytesIn += chunk.length;
    this.decoder.push(chunk);
    this.flush();
    this.partialFrameSince = this.decoder.hasPartialFrame ? this.partialFrameSince || this.clock() : 0;
  }

  private onFrame(frame: Frame): void {
    this.stats.commands++;
    this.stats.commandsByOpcode[frame.opcode]!++;
    this.handler.handle(frame, this.batch, this);
    // Responses of one read accumulate before the write; a read full of GETs for large values must not
    // build an unbounded batch: stop after this frame and continue once the socket drains.
    if (this.batch.length + this.socket.writableLength > this.limits.outputHighWaterBytes) this.decoder.pause();
  }

  private onDecodeFailure(failure: DecodeFailure): void {
    this.stats.protocolErrors++;
    this.stats.errorResponses++;
    const requestId = failure.requestId < 0 ? 0 : failure.requestId;
    const opcode = failure.opcode < 0 ? 0 : failure.opcode;
    this.batch.appendResponseString(opcode, failure.status, requestId, 0, failure.error.message);
    this.flush();
    this.closeGracefully();
  }

  private onOutputLimit(): void {
    this.stats.outputLimitDisconnects++;
    this.batch.discard();
    this.destroy();
  }

  private flush(): void {
    const out = this.batch.take();
    if (this.socket.destroyed) return;
    if (out.length > 0) {
      this.stats.bytesOut += out.length;
      this.socket.write(out);
    }
    const queued = this.socket.writableLength;
    if (queued > this.limits.outputHardLimitBytes) {
      this.onOutputLimit();
    } else if ((queued > this.limits.outputHighWaterBytes || this.decoder.isPaused) && !this.paused) {
      this.paused = true;
      this.stats.backpressurePauses++;
      this.socket.pause();
      // A paused decoder with nothing queued would never see 'drain': resume on the next turn instead.
      if (queued === 0) setImmediate(() => this.onDrain());
    }
  }

  private onDrain(): void {
    if (!this.paused || this.closing) return;
    this.paused = false;
    this.decoder.resume();
    this.flush();
    if (!this.paused) this.socket.resume();
  }
}

/** The frame a connection over the limit gets before it is closed. */
export function writeTooManyConnections(batch: OutputBatch, limit: number): Buffer {
  batch.appendResponseString(0, Status.TOO_MANY_CONNECTIONS, 0, 0, `too many connections (limit ${limit}, --max-connections)`);
  return batch.take();
}
