/**
 * RESP2 reply encoder writing into an OutputBatch (src/protocol/output-batch.ts), so the replies of a whole
 * read leave in one socket write and one batch can serve every connection (append and take without yielding).
 *
 * Every method writes one complete reply (or, for array(), the header of one) with a single reserve, so a
 * reply is never half written. Strings that came from the wire (command names, arguments quoted in errors)
 * travel as latin1: one char per byte, so the bytes a client sent come back unchanged.
 */
import { copyBytes } from '../protocol/encoder';
import type { OutputBatch } from '../protocol/output-batch';

const CR = 13;
const LF = 10;
/** "$" + 20 digits + CRLF, and the trailing CRLF: the most a bulk header and trailer take. */
const BULK_OVERHEAD = 1 + 20 + 2 + 2;

const OK = Buffer.from('+OK\r\n');
const CRLF = Buffer.from('\r\n');
const NIL = Buffer.from('$-1\r\n');
const NIL_ARRAY = Buffer.from('*-1\r\n');
const EMPTY_ARRAY = Buffer.from('*0\r\n');
const ZERO = Buffer.from(':0\r\n');
const ONE = Buffer.from(':1\r\n');
/** Integer replies for 0..CACHED_INTS-1, preencoded (":N\r\n"). */
const CACHED_INTS = 256;
const INT_REPLIES: Buffer[] = Array.from({ length: CACHED_INTS }, (_, i) => Buffer.from(`:${i}\r\n`));

/** Where the writer counts its error replies (RespStats has the field). */
export interface ErrorCounter {
  errorReplies: number;
}

export class RespWriter {
  constructor(
    readonly batch: OutputBatch,
    private readonly counter: ErrorCounter = { errorReplies: 0 },
  ) {}

  /** The batch's current storage, for writing in place after reserveBulk(). */
  get buffer(): Buffer {
    return this.batch.buffer;
  }

  ok(): void {
    this.raw(OK);
  }

  nil(): void {
    this.raw(NIL);
  }

  nilArray(): void {
    this.raw(NIL_ARRAY);
  }

  emptyArray(): void {
    this.raw(EMPTY_ARRAY);
  }

  /** `+text`: text must hold no CR or LF (our own fixed words: OK, PONG, string...). */
  simple(text: string): void {
    this.line(0x2b, text);
  }

  /**
   * `-text`: text starts with the error code (`ERR ...`, `NOPROTO ...`). CR and LF become spaces, as Redis's
   * addReplyErrorFormat does, so an argument quoted in a message cannot break the framing.
   */
  error(text: string): void {
    this.counter.errorReplies++;
    this.line(0x2d, text, true);
  }

  integer(n: number): void {
    if (n >= 0 && n < CACHED_INTS && (n | 0) === n) {
      this.raw(INT_REPLIES[n]!);
      return;
    }
    const batch = this.batch;
    const at = batch.reserve(1 + 21 + 2);
    const buf = batch.buffer;
    buf[at] = 0x3a;
    let p = writeInteger(buf, at + 1, n);
    buf[p++] = CR;
    buf[p++] = LF;
    batch.commit(p);
  }

  bigint(n: bigint): void {
    if (n >= -9007199254740991n && n <= 9007199254740991n) this.integer(Number(n));
    else this.line(0x3a, n.toString());
  }

  bool(b: boolean): void {
    this.raw(b ? ONE : ZERO);
  }

  /** `$len\r\n` + src[off, off + len) + `\r\n`. */
  bulk(src: Uint8Array, off: number, len: number): void {
    const at = this.reserveBulk(len);
    copyBytes(src, off, len, this.batch.buffer, at);
    this.commitBulk(at + len);
  }

  /** A bulk string, or nil for null. */
  value(v: Uint8Array | null): void {
    if (v === null) this.nil();
    else this.bulk(v, 0, v.length);
  }

  /** A bulk string holding text as UTF-8 (INFO, CLIENT LIST, CONFIG values). */
  bulkString(text: string, encoding: BufferEncoding = 'utf8'): void {
    const n = Buffer.byteLength(text, encoding);
    const at = this.reserveBulk(n);
    this.batch.buffer.write(text, at, n, encoding);
    this.commitBulk(at + n);
  }

  /** `*n\r\n`: the caller writes n replies after it. */
  array(n: number): void {
    const batch = this.batch;
    const at = batch.reserve(1 + 21 + 2);
    const buf = batch.buffer;
    buf[at] = 0x2a;
    let p = writeInteger(buf, at + 1, n);
    buf[p++] = CR;
    buf[p++] = LF;
    batch.commit(p);
  }

  /**
   * Starts a bulk reply of `len` bytes: writes `$len\r\n`, reserves room for the bytes and the trailing CRLF,
   * and returns the offset in `buffer` where the bytes go. Fill exactly len bytes, then commitBulk(offset + len).
   * No other write may come in between (the storage may move on the next reserve).
   */
  reserveBulk(len: number): number {
    const batch = this.batch;
    const at = batch.reserve(len + BULK_OVERHEAD);
    const buf = batch.buffer;
    buf[at] = 0x24;
    let p = writeInteger(buf, at + 1, len);
    buf[p++] = CR;
    buf[p++] = LF;
    return p;
  }

  /**
   * A bulk reply whose bytes the batch does not own (a pinned store value, Store.pinValue): written from where
   * they are when the batch goes out with writeTo(), and `done` runs once the socket has them. Only on a batch
   * built with acceptsExternal.
   */
  externalBulk(view: Uint8Array, done: () => void): void {
    const batch = this.batch;
    const at = batch.reserve(BULK_OVERHEAD);
    const buf = batch.buffer;
    buf[at] = 0x24;
    let p = writeInteger(buf, at + 1, view.length);
    buf[p++] = CR;
    buf[p++] = LF;
    batch.commit(p);
    batch.appendExternal(view, done);
    this.raw(CRLF);
  }

  /** Ends a bulk reply started with reserveBulk(): `end` is the offset just after its bytes. */
  commitBulk(end: number): void {
    const buf = this.batch.buffer;
    buf[end] = CR;
    buf[end + 1] = LF;
    this.batch.commit(end + 2);
  }

  /** Preencoded reply bytes. */
  raw(bytes: Uint8Array): void {
    const batch = this.batch;
    const n = bytes.length;
    const at = batch.reserve(n);
    const buf = batch.buffer;
    if (n <= 8) for (let i = 0; i < n; i++) buf[at + i] = bytes[i]!;
    else buf.set(bytes, at);
    batch.commit(at + n);
  }

  private line(type: number, text: string, sanitize = false): void {
    const batch = this.batch;
    const n = text.length;
    const at = batch.reserve(n + 3);
    const buf = batch.buffer;
    buf[at] = type;
    // latin1: one byte per char; chars above 0xff (only in our own messages) are replaced by '?'.
    for (let i = 0; i < n; i++) {
      let c = text.charCodeAt(i);
      if (c > 0xff) c = 0x3f;
      else if (sanitize && (c === CR || c === LF)) c = 0x20;
      buf[at + 1 + i] = c;
    }
    buf[at + 1 + n] = CR;
    buf[at + 2 + n] = LF;
    batch.commit(at + 3 + n);
  }
}

/** Writes the decimal digits of a safe integer at off; returns the offset after them. */
export function writeInteger(buf: Buffer, off: number, n: number): number {
  if (n < 0) {
    buf[off++] = 0x2d;
    n = -n;
  }
  if (n < 10) {
    buf[off] = 0x30 + n;
    return off + 1;
  }
  let digits = 1;
  for (let t = n; t >= 10; t = Math.floor(t / 10)) digits++;
  let p = off + digits;
  const end = p;
  while (n >= 10) {
    const q = Math.floor(n / 10);
    buf[--p] = 0x30 + (n - q * 10);
    n = q;
  }
  buf[--p] = 0x30 + n;
  return end;
}
