/**
 * The body of REPLICATE, the owner's writes sent to a key's replicas (docs/PROTOCOL.md, "Replicas"). Each item
 * is the key's state after the write: its value, absolute expiry and version, or a removal at a version. A body
 * that does not parse exactly is refused whole (TransferFormatError) and nothing of it is applied.
 *
 *   REPLICATE   u8 format (1) · u32 item count · items
 *   item        u8 kind (0 value, 1 removal) · u16 key length · u32 value length · f64 expiry (ms, 0 none) ·
 *               f64 version · i32 member tag · key bytes · value bytes (none for a removal)
 */
import type { CopyVisitor, ItemCopy } from '../cache/store-copies';
import { TransferFormatError } from './copy-codec';

const FORMAT = 1;
const HEADER_BYTES = 5;
const ITEM_HEADER_BYTES = 27;
const VALUE = 0;
const REMOVAL = 1;

/** Builds one REPLICATE body: items are written in as they come, straight from the store's pages. */
export class ReplicaBatch {
  private at = HEADER_BYTES;
  count = 0;

  /** `buffer`: where to build it (grown as needed; the writer reuses the buffers of batches sent). */
  constructor(private buffer: Buffer = Buffer.allocUnsafe(1024)) {}

  /** The buffer the body was built in, for reuse once the body has been copied out (buffer() of encode). */
  get space(): Buffer {
    return this.buffer;
  }

  /** A CopyVisitor (store.visitItem): the item whose key and value lie at page[keyOffset, …) goes in. */
  readonly addItem: CopyVisitor = (page, keyOffset, keyLength, valueLength, expireAt, version, tag) => {
    const at = this.item(VALUE, keyLength, valueLength, expireAt, version, tag);
    page.copy(this.buffer, at, keyOffset, keyOffset + keyLength + valueLength);
    return true;
  };

  addCopy(key: Uint8Array, copy: ItemCopy): void {
    const at = this.item(VALUE, key.length, copy.value.length, copy.expireAt, copy.version, copy.tag);
    this.buffer.set(key, at);
    copy.value.copy(this.buffer, at + key.length);
  }

  addRemoval(kb: Uint8Array, ko: number, kl: number, version: number, tag: number): void {
    const at = this.item(REMOVAL, kl, 0, 0, version, tag);
    this.buffer.set(kb.subarray(ko, ko + kl), at);
  }

  encode(): Buffer {
    this.buffer.writeUInt8(FORMAT, 0);
    this.buffer.writeUInt32BE(this.count, 1);
    return this.buffer.subarray(0, this.at);
  }

  /** Writes an item's header and returns where its key goes (its value follows the key). */
  private item(kind: number, keyLength: number, valueLength: number, expireAt: number, version: number, tag: number): number {
    const size = ITEM_HEADER_BYTES + keyLength + valueLength;
    if (this.at + size > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.at + size, this.buffer.length * 2));
      this.buffer.copy(grown, 0, 0, this.at);
      this.buffer = grown;
    }
    const b = this.buffer;
    const at = this.at;
    b.writeUInt8(kind, at);
    b.writeUInt16BE(keyLength, at + 1);
    b.writeUInt32BE(valueLength, at + 3);
    b.writeDoubleBE(expireAt, at + 7);
    b.writeDoubleBE(version, at + 15);
    b.writeInt32BE(tag | 0, at + 23);
    this.at = at + size;
    this.count++;
    return at + ITEM_HEADER_BYTES;
  }
}

/** Sees one item of a checked REPLICATE body: key at body[keyOffset, +keyLength), value right after it (null: a removal). */
export type ReplicaVisitor = (
  body: Buffer,
  keyOffset: number,
  keyLength: number,
  valueLength: number,
  removal: boolean,
  expireAt: number,
  version: number,
  tag: number,
) => void;

/**
 * Checks a whole REPLICATE body (every length against the body and the receiver's limits) and only then shows
 * `visit` each item in order, as views into the body: nothing of a malformed body is applied. Returns the count.
 */
export function forEachReplicaItem(body: Buffer, maxKeyBytes: number, maxValueBytes: number, visit: ReplicaVisitor): number {
  const count = checkReplicaBatch(body, maxKeyBytes, maxValueBytes);
  let at = HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    const keyLength = body.readUInt16BE(at + 1);
    const valueLength = body.readUInt32BE(at + 3);
    const keyOffset = at + ITEM_HEADER_BYTES;
    visit(
      body,
      keyOffset,
      keyLength,
      valueLength,
      body[at] === REMOVAL,
      body.readDoubleBE(at + 7),
      body.readDoubleBE(at + 15),
      body.readInt32BE(at + 23),
    );
    at = keyOffset + keyLength + valueLength;
  }
  return count;
}

/** The item count of a well-formed REPLICATE body; a TransferFormatError naming the first problem otherwise. */
function checkReplicaBatch(body: Buffer, maxKeyBytes: number, maxValueBytes: number): number {
  if (body.length < HEADER_BYTES) throw new TransferFormatError('replica batch shorter than its header');
  if (body.readUInt8(0) !== FORMAT) throw new TransferFormatError(`unknown replica batch format ${body.readUInt8(0)}`);
  const count = body.readUInt32BE(1);
  if (count === 0 || count > (body.length - HEADER_BYTES) / ITEM_HEADER_BYTES) {
    throw new TransferFormatError(`item count ${count} does not fit the body`);
  }
  let at = HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    if (at + ITEM_HEADER_BYTES > body.length) throw new TransferFormatError('item header past the end');
    const kind = body.readUInt8(at);
    const keyLength = body.readUInt16BE(at + 1);
    const valueLength = body.readUInt32BE(at + 3);
    const expireAt = body.readDoubleBE(at + 7);
    const version = body.readDoubleBE(at + 15);
    if (kind !== VALUE && kind !== REMOVAL) throw new TransferFormatError(`unknown item kind ${kind}`);
    if (keyLength === 0 || keyLength > maxKeyBytes) throw new TransferFormatError(`key length ${keyLength}`);
    if (valueLength > maxValueBytes) throw new TransferFormatError(`value length ${valueLength} over this node's limit`);
    if (kind === REMOVAL && (valueLength !== 0 || expireAt !== 0)) throw new TransferFormatError('a removal carries no value');
    if (!(Number.isSafeInteger(expireAt) && expireAt >= 0)) throw new TransferFormatError('bad expiry time');
    if (!(Number.isSafeInteger(version) && version > 0)) throw new TransferFormatError('bad version');
    at += ITEM_HEADER_BYTES;
    if (at + keyLength + valueLength > body.length) throw new TransferFormatError('item past the end');
    at += keyLength + valueLength;
  }
  if (at !== body.length) throw new TransferFormatError('bytes after the last item');
  return count;
}
