/**
 * Keys travel and hash as bytes: strings as UTF-8. This is the one place a `string | Buffer` key argument is
 * checked and turned into bytes, so every API names the bad argument the same way.
 */

export type Key = string | Buffer;

export function keyToBuffer(key: unknown, argumentName = 'key'): Buffer {
  if (typeof key === 'string') return Buffer.from(key, 'utf8');
  if (Buffer.isBuffer(key)) return key;
  throw new TypeError(`${argumentName} must be a string or a Buffer, got ${describe(key)}`);
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return 'a Uint8Array that is not a Buffer';
  return typeof value;
}
