/**
 * A value found in the store, as the codecs' reply sinks need it: its length, a copy into an output buffer, a
 * copy of its own, or a pinned view of its chunk (docs/ARCHITECTURE.md, Decisions, "Store": defer reuse). One
 * is reused per handler; it is valid only until the next call that changes the store (the handle rule of
 * store.ts), so a sink uses it before it returns.
 */
import type { PinnedValue, Store } from './store';

/**
 * From this size up a value sent to a client is written from its chunk rather than copied. Below it the copy (a few
 * hundred nanoseconds) costs less than a pin and one more piece in the writev.
 */
export const PINNED_VALUE_MIN_BYTES = 16 * 1024;

export class StoredValue {
  /** Byte length of the value found last. */
  length = 0;
  private handle = -1;

  constructor(private readonly store: Store) {}

  /** Looks the key up (a hit or miss is counted); true when it is there. */
  find(kb: Uint8Array, ko: number, kl: number): boolean {
    const h = this.store.lookup(kb, ko, kl);
    this.handle = h;
    if (h < 0) return false;
    this.length = this.store.valueLength(h);
    return true;
  }

  /** Copies the value into target at `at`. */
  copyTo(target: Uint8Array, at: number): void {
    this.store.copyValue(this.handle, target, at);
  }

  copy(): Buffer {
    const out = Buffer.allocUnsafe(this.length);
    this.store.copyValue(this.handle, out, 0);
    return out;
  }

  /** A view of the value's chunk, pinned until `release`; null when pins already hold their share: copy instead. */
  pin(): PinnedValue | null {
    return this.store.pinValue(this.handle);
  }
}
