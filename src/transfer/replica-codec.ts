/**
 * The body of REPLICATE, the owner's writes sent to a key's replicas (docs/PROTOCOL.md, "Replicas"). Each item
 * is the key's state after the write: its value, absolute expiry and version, or a removal at a version. A body
 * that does not parse exactly is refused whole (TransferFormatError) and nothing of it is applied.
 *
 *   REPLICATE   u8 format (1) · u32 item count · items
 *   item        u8 kind (0 value, 1 removal) · u16 key length · u32 value length · f64 expiry (ms, 0 none) ·
 *               f64 version · i32 member tag · key bytes · value bytes (none for a removal)
 */
import type { ItemCopy } from '../cache/store-copies';
import { TransferFormatError } from './copy-codec';

const FORMAT = 1;
const HEADER_BYTES = 5;
const ITEM_HEADER_BYTES = 27;
const VALUE = 0;
const REMOVAL = 1;

/** One replicated key: a copy of its item, or its removal (value null) at version and tag. */
export interface ReplicaItem {
  key: Buffer;
  value: Buffer | null;
  expireAt: number;
  version: number;
  tag: number;
}

/** Collects the items of one REPLICATE body. */
export class ReplicaBatch {
  private readonly items: ReplicaItem[] = [];
  private bytes = HEADER_BYTES;

  get count(): number {
    return this.items.length;
  }

  addCopy(key: Buffer, copy: ItemCopy): void {
    this.items.push({ key, value: copy.value, expireAt: copy.expireAt, version: copy.version, tag: copy.tag });
    this.bytes += ITEM_HEADER_BYTES + key.length + copy.value.length;
  }

  addRemoval(key: Buffer, version: number, tag: number): void {
    this.items.push({ key, value: null, expireAt: 0, version, tag });
    this.bytes += ITEM_HEADER_BYTES + key.length;
  }

  encode(): Buffer {
    const b = Buffer.allocUnsafe(this.bytes);
    b.writeUInt8(FORMAT, 0);
    b.writeUInt32BE(this.items.length, 1);
    let at = HEADER_BYTES;
    for (const item of this.items) {
      const valueLength = item.value === null ? 0 : item.value.length;
      b.writeUInt8(item.value === null ? REMOVAL : VALUE, at);
      b.writeUInt16BE(item.key.length, at + 1);
      b.writeUInt32BE(valueLength, at + 3);
      b.writeDoubleBE(item.expireAt, at + 7);
      b.writeDoubleBE(item.version, at + 15);
      b.writeInt32BE(item.tag | 0, at + 23);
      at += ITEM_HEADER_BYTES;
      item.key.copy(b, at);
      at += item.key.length;
      if (item.value !== null) at += item.value.copy(b, at);
    }
    return b;
  }
}

/** Parses a whole REPLICATE body, every length checked against the body and the receiver's limits first. */
export function decodeReplicaBatch(body: Buffer, maxKeyBytes: number, maxValueBytes: number): ReplicaItem[] {
  if (body.length < HEADER_BYTES) throw new TransferFormatError('replica batch shorter than its header');
  if (body.readUInt8(0) !== FORMAT) throw new TransferFormatError(`unknown replica batch format ${body.readUInt8(0)}`);
  const count = body.readUInt32BE(1);
  if (count === 0 || count > (body.length - HEADER_BYTES) / ITEM_HEADER_BYTES) {
    throw new TransferFormatError(`item count ${count} does not fit the body`);
  }
  const items: ReplicaItem[] = [];
  let at = HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    if (at + ITEM_HEADER_BYTES > body.length) throw new TransferFormatError('item header past the end');
    const kind = body.readUInt8(at);
    const keyLength = body.readUInt16BE(at + 1);
    const valueLength = body.readUInt32BE(at + 3);
    const expireAt = body.readDoubleBE(at + 7);
    const version = body.readDoubleBE(at + 15);
    const tag = body.readInt32BE(at + 23);
    if (kind !== VALUE && kind !== REMOVAL) throw new TransferFormatError(`unknown item kind ${kind}`);
    if (keyLength === 0 || keyLength > maxKeyBytes) throw new TransferFormatError(`key length ${keyLength}`);
    if (valueLength > maxValueBytes) throw new TransferFormatError(`value length ${valueLength} over this node's limit`);
    if (kind === REMOVAL && (valueLength !== 0 || expireAt !== 0)) throw new TransferFormatError('a removal carries no value');
    if (!(Number.isSafeInteger(expireAt) && expireAt >= 0)) throw new TransferFormatError('bad expiry time');
    if (!(Number.isSafeInteger(version) && version > 0)) throw new TransferFormatError('bad version');
    at += ITEM_HEADER_BYTES;
    if (at + keyLength + valueLength > body.length) throw new TransferFormatError('item past the end');
    const key = body.subarray(at, at + keyLength);
    const value = kind === REMOVAL ? null : body.subarray(at + keyLength, at + keyLength + valueLength);
    items.push({ key, value, expireAt, version, tag });
    at += keyLength + valueLength;
  }
  if (at !== body.length) throw new TransferFormatError('bytes after the last item');
  return items;
}
