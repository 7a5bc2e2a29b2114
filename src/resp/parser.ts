/**
 * A resumable RESP2 request parser: arrays of bulk strings (`*N\r\n$len\r\n…\r\n`) and inline commands (one line
 * of words, see inline.ts), pipelined, in chunks of any size.
 *
 * push(chunk) hands it a read; next() parses one command and returns PARSE_COMMAND, PARSE_NEED_MORE (the chunk
 * is used up) or PARSE_ERROR (`error` holds the Redis-worded message; the parser is then dead). After
 * PARSE_COMMAND the parser itself is the RespArgs: argument i is bufs[i][offs[i], offs[i] + lens[i]), valid until
 * the next call to next(). No allocation per command: arguments are views into the read chunk; the argument
 * arrays are reused. Only a bulk string cut by the end of a chunk is copied, into a buffer of exactly its
 * length allocated after the length passed its limit; an inline line cut by a chunk end is gathered into a
 * reused line buffer. Arguments finished in an earlier chunk stay views into it, which is safe as long as the read
 * is a buffer of its own; when reads land in a buffer the listener shares (net/shared-reads.ts), the session calls
 * detach() after each read and what the parser keeps of it is copied.
 *
 * Limits, all checked on the digits as they arrive, before anything is allocated:
 *   - array length ≤ maxArgs (default 128 Ki = 131,072 arguments: Redis caps a multibulk at 1024 × 1024, but a
 *     cache's MGET/MSET rarely needs more than tens of thousands, and each argument costs a slot);
 *   - bulk length ≤ maxBulkBytes (the server passes max value size + slack, so a slightly oversized value gets
 *     a -ERR from the store and the connection stays open);
 *   - the bytes a command declares ≤ maxRequestBytes (Redis's client-query-buffer-limit, in spirit; the server's
 *     default is max(64 MiB, 2 × the bulk limit));
 *   - an inline line ≤ maxInlineBytes (64 KiB, PROTO_INLINE_MAX_SIZE).
 * heldBytes: the input kept alive (reported to the node-wide input budget, src/net/held-memory.ts).
 * Stricter than Redis, on purpose: a length line must be canonical digits (a stray byte fails at once, so a
 * desync flood such as `*\x00…` is rejected at its second byte); only `*-1` and `*0` are accepted (and
 * ignored, as Redis does) among non-positive counts; a bulk must be followed by CRLF (Redis skips 2 bytes unseen).
 */
import { splitInline } from './inline';
import { parseWhole } from './parse-whole';
import type { RespArgs } from './backend';

export const PARSE_NEED_MORE = 0;
export const PARSE_COMMAND = 1;
export const PARSE_ERROR = -1;

export interface ParserLimits {
  maxArgs: number;
  maxBulkBytes: number;
  maxRequestBytes: number;
  maxInlineBytes: number;
}

/** 128 Ki arguments per command (see the header). */
export const DEFAULT_MAX_ARGS = 128 * 1024;
export const DEFAULT_MAX_INLINE_BYTES = 64 * 1024;
/** Counted per argument on top of its bytes: the bookkeeping an argument costs even when empty (parse-whole.ts has a copy). */
const ARG_OVERHEAD = 16;
/** Argument slots kept between commands; more are dropped once the command that needed them is done. */
const KEEP_ARG_SLOTS = 1024;

const EMPTY = Buffer.alloc(0);

const S_START = 0;
const S_COUNT = 1;
const S_COUNT_LF = 2;
const S_BULK_START = 3;
const S_BULK_LEN = 4;
const S_BULK_LEN_LF = 5;
const S_BULK_DATA = 6;
const S_BULK_CR = 7;
const S_BULK_LF = 8;
const S_INLINE = 9;
const S_DEAD = 10;

const ERR_MULTIBULK = 'Protocol error: invalid multibulk length';
const ERR_BULK = 'Protocol error: invalid bulk length';

export class RespParser implements RespArgs {
  argc = 0;
  readonly bufs: Buffer[] = [];
  readonly offs: number[] = [];
  readonly lens: number[] = [];
  /** After PARSE_ERROR: the error reply's text without the leading "ERR " (e.g. "Protocol error: …"). */
  error = '';
  /** True when the last command came as an inline line (for tests and stats). */
  inline = false;

  private chunk: Buffer = EMPTY;
  private pos = 0;
  private state = S_START;
  private expected = 0;
  private num = 0;
  private digits = 0;
  private negative = false;
  private requestBytes = 0;
  /** The bulk being gathered across chunks and how much of it has arrived. */
  private partial: Buffer = EMPTY;
  private partialFill = 0;
  private lineBuf: Buffer = EMPTY;
  private lineLen = 0;
  /** The last command holds a buffer of its own (a bulk gathered across chunks): let go of it once done. */
  private ownsArgs = false;
  /** Bytes of the buffers the current command's finished arguments are views into (each counted once, whole). */
  private argChunkBytes = 0;
  /** The last buffer counted in argChunkBytes (arguments of one read come one after another). */
  private argChunk: Buffer = EMPTY;

  constructor(private readonly limits: ParserLimits) {
    for (let i = 0; i < 8; i++) {
      this.bufs.push(EMPTY);
      this.offs.push(0);
      this.lens.push(0);
    }
  }

  /** True while a command is half received. */
  get hasPartialCommand(): boolean {
    return this.state !== S_START && this.state !== S_DEAD;
  }

  /** Bytes of the current chunk not parsed yet (a paused connection holds them). */
  get buffered(): number {
    return this.chunk.length - this.pos;
  }

  /**
   * Bytes of input this parser keeps alive and has not run: the read holding unparsed bytes (whole: a view
   * keeps its Buffer alive), and while a command is half received, the reads its finished arguments are views
   * into, the buffer allocated for a bulk cut by a read's end (at its declared length) and the inline line
   * gathered so far. 0 between commands with nothing buffered.
   */
  get heldBytes(): number {
    const chunk = this.chunk;
    const state = this.state;
    const unparsed = this.pos < chunk.length ? chunk.length : 0;
    if (state === S_START || state === S_DEAD) return unparsed;
    // A half-received command has used up its read (next() let go of it), unless it is running through it now.
    const reads = chunk === this.argChunk ? this.argChunkBytes : unparsed + this.argChunkBytes;
    return reads + this.partial.length + (state === S_INLINE ? this.lineBuf.length : 0);
  }

  push(chunk: Buffer): void {
    if (this.pos < this.chunk.length) {
      // Only if a read arrives while the previous one is unparsed (the connection pauses the socket first).
      chunk = Buffer.concat([this.chunk.subarray(this.pos), chunk]);
    }
    this.chunk = chunk;
    this.pos = 0;
  }

  /**
   * The last read was a view of `shared`, a buffer the next read overwrites (net/shared-reads.ts): copy what
   * this parser keeps of it, the unparsed rest of the read (a paused connection) and the finished arguments of
   * a half-received command, into buffers of its own.
   */
  detach(shared: ArrayBufferLike): void {
    if (this.pos < this.chunk.length && this.chunk.buffer === shared) {
      this.chunk = Buffer.from(this.chunk.subarray(this.pos));
      this.pos = 0;
    }
    if (this.state === S_START || this.state === S_DEAD || this.argChunk.buffer !== shared) return;
    const { bufs, offs, lens } = this;
    let total = 0;
    for (let i = 0; i < this.argc; i++) if (bufs[i]!.buffer === shared) total += lens[i]!;
    const own = Buffer.allocUnsafe(total);
    let at = 0;
    for (let i = 0; i < this.argc; i++) {
      if (bufs[i]!.buffer !== shared) continue;
      bufs[i]!.copy(own, at, offs[i]!, offs[i]! + lens[i]!);
      bufs[i] = own;
      offs[i] = at;
      at += lens[i]!;
    }
    this.argChunkBytes += total - this.argChunk.length;
    this.argChunk = own;
    this.ownsArgs = true;
  }

  /** Stops for good (connection closing); later calls return PARSE_NEED_MORE. */
  destroy(): void {
    this.state = S_DEAD;
    this.chunk = EMPTY;
    this.pos = 0;
    this.partial = EMPTY;
    this.lineBuf = EMPTY;
    this.argChunk = EMPTY;
    this.argChunkBytes = 0;
  }

  next(): number {
    if (this.ownsArgs && this.state === S_START) this.releaseArgs();
    const buf = this.chunk;
    const end = buf.length;
    let p = this.pos;
    for (;;) {
      switch (this.state) {
        case S_START: {
          if (p >= end) return this.needMore();
          this.argc = 0;
          this.requestBytes = 0;
          this.argChunkBytes = 0;
          this.argChunk = EMPTY;
          if (this.bufs.length > KEEP_ARG_SLOTS) this.shrink();
          if (buf[p] === 0x2a) {
            // An array that lies whole in the read is parsed in one pass (parse-whole.ts); else byte by byte.
            const after = parseWhole(this, buf, p, end, this.limits);
            if (after > 0) {
              this.argChunk = buf;
              this.argChunkBytes = buf.length;
              this.inline = false;
              this.pos = after;
              return PARSE_COMMAND;
            }
            p++;
            this.num = 0;
            this.digits = 0;
            this.negative = false;
            this.state = S_COUNT;
          } else {
            this.lineLen = 0;
            this.state = S_INLINE;
          }
          break;
        }
        case S_COUNT: {
          let num = this.num;
          let digits = this.digits;
          while (p < end) {
            const c = buf[p++]!;
            const d = c - 0x30;
            if (d >= 0 && d <= 9) {
              // No leading zeros (string2ll), and stop as soon as the count passes its limit.
              if (digits > 0 && num === 0) return this.fail(ERR_MULTIBULK);
              num = num * 10 + d;
              digits++;
              // A negative count is read as Redis's string2ll reads it (an int64), then ignored.
              if (this.negative ? digits > 19 : num > this.limits.maxArgs) return this.fail(ERR_MULTIBULK);
            } else if (c === 0x0d) {
              this.state = S_COUNT_LF;
              break;
            } else if (c === 0x2d && digits === 0 && !this.negative) {
              this.negative = true;
            } else {
              return this.fail(ERR_MULTIBULK);
            }
          }
          this.num = num;
          this.digits = digits;
          if (this.state === S_COUNT) return this.needMore();
          break;
        }
        case S_COUNT_LF: {
          if (p >= end) return this.needMore();
          if (buf[p++] !== 0x0a || this.digits === 0) return this.fail(ERR_MULTIBULK);
          if (this.negative) {
            // "-0" is no integer to string2ll.
            if (this.num === 0) return this.fail(ERR_MULTIBULK);
            this.state = S_START; // *-1 (a null array), *-10: ignored as Redis 7.0 ignores a count below 1
          } else if (this.num === 0) {
            this.state = S_START; // *0: ignored
          } else {
            this.expected = this.num;
            this.inline = false;
            this.state = S_BULK_START;
          }
          break;
        }
        case S_BULK_START: {
          if (p >= end) return this.needMore();
          const c = buf[p++]!;
          if (c !== 0x24) return this.fail(`Protocol error: expected '$', got '${String.fromCharCode(c)}'`);
          this.num = 0;
          this.digits = 0;
          this.state = S_BULK_LEN;
          break;
        }
        case S_BULK_LEN: {
          let num = this.num;
          let digits = this.digits;
          const max = this.limits.maxBulkBytes;
          while (p < end) {
            const c = buf[p++]!;
            const d = c - 0x30;
            if (d >= 0 && d <= 9) {
              if (digits > 0 && num === 0) return this.fail(ERR_BULK);
              num = num * 10 + d;
              digits++;
              if (num > max) return this.fail(ERR_BULK);
            } else if (c === 0x0d) {
              this.state = S_BULK_LEN_LF;
              break;
            } else {
              return this.fail(ERR_BULK);
            }
          }
          this.num = num;
          this.digits = digits;
          if (this.state === S_BULK_LEN) return this.needMore();
          break;
        }
        case S_BULK_LEN_LF: {
          if (p >= end) return this.needMore();
          if (buf[p++] !== 0x0a || this.digits === 0) return this.fail(ERR_BULK);
          const len = this.num;
          this.requestBytes += len + ARG_OVERHEAD;
          if (this.requestBytes > this.limits.maxRequestBytes) {
            return this.fail(`Protocol error: request larger than ${this.limits.maxRequestBytes} bytes`);
          }
          const i = this.argc;
          if (end - p >= len) {
            this.setArg(i, buf, p, len);
            if (buf !== this.argChunk) {
              this.argChunk = buf;
              this.argChunkBytes += buf.length;
            }
            p += len;
            this.state = S_BULK_CR;
          } else {
            const part = Buffer.allocUnsafe(len);
            buf.copy(part, 0, p, end);
            this.partial = part;
            this.partialFill = end - p;
            p = end;
            this.state = S_BULK_DATA;
          }
          break;
        }
        case S_BULK_DATA: {
          const part = this.partial;
          const want = part.length - this.partialFill;
          const n = Math.min(want, end - p);
          buf.copy(part, this.partialFill, p, p + n);
          this.partialFill += n;
          p += n;
          if (this.partialFill < part.length) return this.needMore();
          this.setArg(this.argc, part, 0, part.length);
          this.argChunkBytes += part.length;
          this.ownsArgs = true;
          this.partial = EMPTY;
          this.state = S_BULK_CR;
          break;
        }
        case S_BULK_CR: {
          if (p >= end) return this.needMore();
          if (buf[p++] !== 0x0d) return this.fail("Protocol error: expected '\\r\\n' after bulk data");
          this.state = S_BULK_LF;
          break;
        }
        case S_BULK_LF: {
          if (p >= end) return this.needMore();
          if (buf[p++] !== 0x0a) return this.fail("Protocol error: expected '\\r\\n' after bulk data");
          if (++this.argc === this.expected) {
            this.state = S_START;
            this.pos = p;
            return PARSE_COMMAND;
          }
          this.state = S_BULK_START;
          break;
        }
        case S_INLINE: {
          const r = this.inlineLine(buf, p);
          if (r === PARSE_NEED_MORE) return this.needMore();
          if (r === PARSE_ERROR) return r;
          p = r - 1;
          this.state = S_START;
          if (this.argc > 0) {
            this.inline = true;
            this.pos = p;
            return PARSE_COMMAND;
          }
          break; // an empty line: nothing to run
        }
        default:
          return this.needMore();
      }
    }
  }

  /**
   * Gathers the inline line starting at p; when it is complete, splits it into the arguments. Returns the
   * offset after its '\n' + 1 (so never 0 or -1), PARSE_NEED_MORE or PARSE_ERROR.
   */
  private inlineLine(buf: Buffer, p: number): number {
    const end = buf.length;
    const max = this.limits.maxInlineBytes;
    const nl = buf.indexOf(0x0a, p);
    const stop = nl < 0 ? end : nl;
    let line: Buffer;
    let lineStart: number;
    let lineEnd: number;
    if (this.lineLen === 0 && nl >= 0) {
      line = buf;
      lineStart = p;
      lineEnd = nl;
    } else {
      // The line spans chunks: gather it (at most max + 1 bytes, the +1 for a '\r' before a '\n' to come).
      const n = stop - p;
      if (this.lineLen + n > max + 1) return this.fail('Protocol error: too big inline request');
      if (this.lineBuf.length < this.lineLen + n) {
        const grown = Buffer.allocUnsafe(Math.min(max + 1, Math.max(1024, 2 * (this.lineLen + n))));
        this.lineBuf.copy(grown, 0, 0, this.lineLen);
        this.lineBuf = grown;
      }
      buf.copy(this.lineBuf, this.lineLen, p, stop);
      this.lineLen += n;
      if (nl < 0) return PARSE_NEED_MORE;
      line = this.lineBuf;
      lineStart = 0;
      lineEnd = this.lineLen;
      this.lineLen = 0;
      // An idle connection should not pin up to 64 KiB: a big line buffer goes with the command using it.
      if (line.length > 4096) {
        this.lineBuf = EMPTY;
        this.ownsArgs = true;
      }
    }
    if (lineEnd > lineStart && line[lineEnd - 1] === 0x0d) lineEnd--;
    if (lineEnd - lineStart > max) return this.fail('Protocol error: too big inline request');
    const count = splitInline(line, lineStart, lineEnd, this, 0, this.limits.maxArgs);
    if (count === -1) return this.fail('Protocol error: unbalanced quotes in request');
    if (count < 0) return this.fail(ERR_MULTIBULK);
    this.argc = count;
    return nl + 2;
  }

  /**
   * The read is used up: let go of it (the next push() replaces it anyway), so a read copied whole into a bulk's
   * own buffer is not kept alive until the next one arrives. Arguments that are views into it keep it alive.
   */
  private needMore(): number {
    this.chunk = EMPTY;
    this.pos = 0;
    return PARSE_NEED_MORE;
  }

  /** Drops the previous command's argument references (so an idle connection keeps no big buffer alive). */
  private releaseArgs(): void {
    this.ownsArgs = false;
    for (let i = 0; i < this.argc; i++) this.bufs[i] = EMPTY;
  }

  /** After a huge command: let go of its argument slots (and the chunks they reference). */
  private shrink(): void {
    this.bufs.length = KEEP_ARG_SLOTS;
    this.offs.length = KEEP_ARG_SLOTS;
    this.lens.length = KEEP_ARG_SLOTS;
  }

  private setArg(i: number, buf: Buffer, off: number, len: number): void {
    if (i < this.bufs.length) {
      this.bufs[i] = buf;
      this.offs[i] = off;
      this.lens[i] = len;
    } else {
      this.bufs.push(buf);
      this.offs.push(off);
      this.lens.push(len);
    }
  }

  private fail(message: string): number {
    this.error = message;
    this.destroy();
    return PARSE_ERROR;
  }
}
