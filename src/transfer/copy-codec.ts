/**
 * The bodies of the data-movement messages between members (docs/PROTOCOL.md, "Data movement"). Everything a
 * peer sends is range-checked before use: a body that does not parse exactly is refused as a whole with a
 * TransferFormatError, and nothing of it is applied.
 *
 *   PULL request    JSON {"checksum": ring checksum, "cursor": slot to resume at, "maxBytes": batch limit,
 *                   "arcs": [lo, hi, lo, hi, …] the hash ranges asked for (sorted, disjoint; absent: all)}
 *   PULL response   u8 format (1) · u8 flags (bit 0: the scan is complete) · f64 next cursor · u32 item count ·
 *                   items
 *   item            u16 key length · u32 value length · f64 expiry (ms, 0 none) · f64 version · i32 member tag ·
 *                   key bytes · value bytes
 *   FETCH response  u8 format (1) · f64 expiry · f64 version · i32 tag · value bytes (NOT_FOUND when absent)
 *   PULL_DONE       JSON {"checksum": ring checksum}
 */
import type { CopyVisitor, ItemCopy } from '../cache/store-copies';

export const COPY_FORMAT = 1;
export const BATCH_HEADER_BYTES = 14;
export const ITEM_HEADER_BYTES = 26;
const FETCH_HEADER_BYTES = 21;
const DONE = 1;
/** Largest batch a member asks for or sends. */
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;
const MAX_CURSOR = 2 ** 32;

export class TransferFormatError extends Error {
  readonly code = 'ERR_TRANSFER_FORMAT';
  constructor(message: string) {
    super(`malformed transfer message: ${message}`);
    this.name = 'TransferFormatError';
  }
}

export interface PullRequest {
  checksum: number;
  cursor: number;
  maxBytes: number;
  /** The hash ranges asked for, as sorted disjoint (lo, hi) pairs, inclusive; null: every key the asker holds. */
  arcs: Uint32Array | null;
}

/** At most this many ranges in one PULL: far above what rings of MAX_REPLICAS × 4096 points cut. */
const MAX_ARCS = 1 << 14;

export function encodePullRequest(request: PullRequest): Buffer {
  const { arcs, ...rest } = request;
  // More ranges than a request may carry (only with extreme vnode counts): ask for every key the asker holds.
  const listed = arcs !== null && arcs.length <= 2 * MAX_ARCS;
  return Buffer.from(JSON.stringify(listed ? { ...rest, arcs: Array.from(arcs) } : rest), 'utf8');
}

export function decodePullRequest(body: Buffer): PullRequest {
  // Room for the fields and every arc bound written out in full.
  const raw = parseJson(body, 256 + 2 * MAX_ARCS * 11);
  const { checksum, cursor, maxBytes } = raw;
  if (!isUint32(checksum)) throw new TransferFormatError('checksum must be a uint32');
  if (!(Number.isSafeInteger(cursor) && (cursor as number) >= 0 && (cursor as number) <= MAX_CURSOR)) {
    throw new TransferFormatError('cursor must be a slot number');
  }
  if (!(Number.isSafeInteger(maxBytes) && (maxBytes as number) >= 1024 && (maxBytes as number) <= MAX_BATCH_BYTES)) {
    throw new TransferFormatError(`maxBytes must be from 1024 to ${MAX_BATCH_BYTES}`);
  }
  return { checksum: checksum as number, cursor: cursor as number, maxBytes: maxBytes as number, arcs: decodeArcs(raw.arcs) };
}

function decodeArcs(raw: unknown): Uint32Array | null {
  if (raw === undefined) return null;
  if (!Array.isArray(raw) || raw.length % 2 !== 0 || raw.length > 2 * MAX_ARCS) {
    throw new TransferFormatError(`arcs must be an array of at most ${MAX_ARCS} (lo, hi) pairs`);
  }
  const arcs = new Uint32Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const value: unknown = raw[i];
    if (!isUint32(value)) throw new TransferFormatError('each arc bound must be a uint32');
    arcs[i] = value as number;
    if (i % 2 === 1 ? arcs[i]! < arcs[i - 1]! : i > 0 && arcs[i]! <= arcs[i - 1]!) {
      throw new TransferFormatError('arcs must be sorted, disjoint (lo, hi) pairs with lo <= hi');
    }
  }
  return arcs;
}

export function encodeChecksum(checksum: number): Buffer {
  return Buffer.from(JSON.stringify({ checksum }), 'utf8');
}

export function decodeChecksum(body: Buffer): number {
  const { checksum } = parseJson(body);
  if (!isUint32(checksum)) throw new TransferFormatError('checksum must be a uint32');
  return checksum as number;
}

/**
 * Builds one PULL response: items go in while they fit in `maxBytes` (the first one always does, so an item
 * larger than a batch still travels alone).
 */
export class BatchWriter {
  private buffer: Buffer;
  private at = BATCH_HEADER_BYTES;
  count = 0;
  /** An item was turned away for want of room: the batch is as full as it gets. */
  full = false;

  constructor(private readonly maxBytes: number) {
    this.buffer = Buffer.allocUnsafe(Math.min(maxBytes, 64 * 1024));
  }

  /** A CopyVisitor: false when the item does not fit (the scan resumes at it next time). */
  readonly add: CopyVisitor = (page, keyOffset, keyLength, valueLength, expireAt, version, tag) => {
    const size = ITEM_HEADER_BYTES + keyLength + valueLength;
    if (this.count > 0 && this.at + size > this.maxBytes) {
      this.full = true;
      return false;
    }
    this.reserve(size);
    const b = this.buffer;
    let at = this.at;
    b.writeUInt16BE(keyLength, at);
    b.writeUInt32BE(valueLength, at + 2);
    b.writeDoubleBE(expireAt, at + 6);
    b.writeDoubleBE(version, at + 14);
    b.writeInt32BE(tag | 0, at + 22);
    at += ITEM_HEADER_BYTES;
    page.copy(b, at, keyOffset, keyOffset + keyLength + valueLength);
    this.at = at + keyLength + valueLength;
    this.count++;
    return true;
  };

  get bytes(): number {
    return this.at;
  }

  /** The finished body; `next` is the cursor to resume at, -1 when the scan is complete. */
  finish(next: number): Buffer {
    const b = this.buffer;
    b.writeUInt8(COPY_FORMAT, 0);
    b.writeUInt8(next < 0 ? DONE : 0, 1);
    b.writeDoubleBE(next < 0 ? 0 : next, 2);
    b.writeUInt32BE(this.count, 10);
    return b.subarray(0, this.at);
  }

  private reserve(size: number): void {
    if (this.at + size <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.at + size, Math.min(this.buffer.length * 2, this.maxBytes + size)));
    this.buffer.copy(grown, 0, 0, this.at);
    this.buffer = grown;
  }
}

/** One item of a decoded batch: key and value are views into the batch body. */
export interface BatchItem {
  key: Buffer;
  value: Buffer;
  expireAt: number;
  version: number;
  tag: number;
}

export interface DecodedBatch {
  done: boolean;
  next: number;
  items: BatchItem[];
  bytes: number;
}

/** Parses a whole PULL response, checking every length against the body and the receiver's limits first. */
export function decodeBatch(body: Buffer, maxKeyBytes: number, maxValueBytes: number): DecodedBatch {
  if (body.length < BATCH_HEADER_BYTES) throw new TransferFormatError('batch shorter than its header');
  if (body.readUInt8(0) !== COPY_FORMAT) throw new TransferFormatError(`unknown batch format ${body.readUInt8(0)}`);
  const flags = body.readUInt8(1);
  if ((flags & ~DONE) !== 0) throw new TransferFormatError('unknown batch flags');
  const next = body.readDoubleBE(2);
  if (!(Number.isSafeInteger(next) && next >= 0 && next <= MAX_CURSOR)) throw new TransferFormatError('bad cursor');
  const count = body.readUInt32BE(10);
  if (count > (body.length - BATCH_HEADER_BYTES) / ITEM_HEADER_BYTES) throw new TransferFormatError('item count over the body');
  const items: BatchItem[] = [];
  let at = BATCH_HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    if (at + ITEM_HEADER_BYTES > body.length) throw new TransferFormatError('item header past the end');
    const keyLength = body.readUInt16BE(at);
    const valueLength = body.readUInt32BE(at + 2);
    if (keyLength === 0 || keyLength > maxKeyBytes) throw new TransferFormatError(`key length ${keyLength}`);
    if (valueLength > maxValueBytes) throw new TransferFormatError(`value length ${valueLength} over this node's limit`);
    const meta = readMeta(body, at + 6);
    at += ITEM_HEADER_BYTES;
    if (at + keyLength + valueLength > body.length) throw new TransferFormatError('item past the end');
    items.push({ key: body.subarray(at, at + keyLength), value: body.subarray(at + keyLength, at + keyLength + valueLength), ...meta });
    at += keyLength + valueLength;
  }
  if (at !== body.length) throw new TransferFormatError('bytes after the last item');
  return { done: (flags & DONE) !== 0, next, items, bytes: body.length };
}

export function encodeFetchAnswer(copy: ItemCopy): Buffer {
  const b = Buffer.allocUnsafe(FETCH_HEADER_BYTES + copy.value.length);
  b.writeUInt8(COPY_FORMAT, 0);
  b.writeDoubleBE(copy.expireAt, 1);
  b.writeDoubleBE(copy.version, 9);
  b.writeInt32BE(copy.tag | 0, 17);
  copy.value.copy(b, FETCH_HEADER_BYTES);
  return b;
}

export function decodeFetchAnswer(body: Buffer, maxValueBytes: number): ItemCopy {
  if (body.length < FETCH_HEADER_BYTES || body.readUInt8(0) !== COPY_FORMAT) throw new TransferFormatError('bad fetch answer');
  if (body.length - FETCH_HEADER_BYTES > maxValueBytes) throw new TransferFormatError("value over this node's limit");
  const meta = readMeta(body, 1);
  return { value: body.subarray(FETCH_HEADER_BYTES), ...meta };
}

function readMeta(body: Buffer, at: number): { expireAt: number; version: number; tag: number } {
  const expireAt = body.readDoubleBE(at);
  const version = body.readDoubleBE(at + 8);
  if (!(Number.isSafeInteger(expireAt) && expireAt >= 0)) throw new TransferFormatError('bad expiry time');
  if (!(Number.isSafeInteger(version) && version > 0)) throw new TransferFormatError('bad version');
  return { expireAt, version, tag: body.readInt32BE(at + 16) };
}

function parseJson(body: Buffer, maxBytes = 1024): Record<string, unknown> {
  if (body.length > maxBytes) throw new TransferFormatError('request body too long');
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch {
    throw new TransferFormatError('not JSON');
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new TransferFormatError('not an object');
  return raw as Record<string, unknown>;
}

function isUint32(value: unknown): boolean {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 0xffffffff;
}
