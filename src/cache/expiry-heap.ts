/**
 * Expiry times: a binary min-heap in two parallel typed arrays (Float64 absolute expiry time, Int32 slot), plus
 * each slot's heap position in its record's HEAP field (-1: no expiry). The position array makes every change exact and
 * in place: a new TTL moves the entry up or down, a deleted item's entry is removed at once. So the heap never
 * holds a stale entry, and nothing has to recognise one later: the top is always a live item's true expiry.
 *
 * Only items with a TTL cost heap space (12 bytes each). Arrays grow by doubling, never past the slot capacity.
 */

import { SLOT, type Slots } from './slots';

const { STRIDE, HEAP } = SLOT;

export const HEAP_ENTRY_BYTES = 12;
/** The arrays never shrink below this many entries. */
export const MIN_ENTRIES = 64;

export class ExpiryHeap {
  private times = new Float64Array(MIN_ENTRIES);
  private heapSlots = new Int32Array(MIN_ENTRIES);
  size = 0;

  constructor(private readonly slots: Slots) {}

  /** Earliest expiry time, or Infinity when empty. */
  topTime(): number {
    return this.size > 0 ? this.times[0]! : Infinity;
  }

  topSlot(): number {
    return this.size > 0 ? this.heapSlots[0]! : -1;
  }

  /** The expiry time of slot `s`, or 0 if it has none. */
  timeOf(s: number): number {
    const pos = this.slots.meta[s * STRIDE + HEAP]!;
    return pos < 0 ? 0 : this.times[pos]!;
  }

  /** Set (t > 0) or clear (t = 0) the expiry of slot `s`. */
  set(s: number, t: number): void {
    const pos = this.slots.meta[s * STRIDE + HEAP]!;
    if (t === 0) {
      if (pos >= 0) this.removeAt(pos);
      return;
    }
    if (pos < 0) {
      this.push(s, t);
      return;
    }
    const old = this.times[pos]!;
    this.times[pos] = t;
    if (t < old) this.siftUp(pos);
    else if (t > old) this.siftDown(pos);
  }

  /** Remove slot `s`'s entry, if it has one. */
  remove(s: number): void {
    const pos = this.slots.meta[s * STRIDE + HEAP]!;
    if (pos >= 0) this.removeAt(pos);
  }

  /** Drop every entry (flush, close: the slot arrays are reset too). */
  reset(): void {
    this.times = new Float64Array(MIN_ENTRIES);
    this.heapSlots = new Int32Array(MIN_ENTRIES);
    this.size = 0;
  }

  get allocatedBytes(): number {
    return this.times.byteLength + this.heapSlots.byteLength;
  }

  private push(s: number, t: number): void {
    if (this.size === this.times.length) {
      const cap = Math.min(Math.max(MIN_ENTRIES, this.times.length * 2), Math.max(this.slots.capacity, this.size + 1));
      const times = new Float64Array(cap);
      times.set(this.times);
      const heapSlots = new Int32Array(cap);
      heapSlots.set(this.heapSlots);
      this.times = times;
      this.heapSlots = heapSlots;
    }
    const pos = this.size++;
    this.times[pos] = t;
    this.heapSlots[pos] = s;
    this.slots.meta[s * STRIDE + HEAP] = pos;
    this.siftUp(pos);
  }

  private removeAt(pos: number): void {
    const meta = this.slots.meta;
    meta[this.heapSlots[pos]! * STRIDE + HEAP] = -1;
    const last = --this.size;
    if (pos === last) return;
    const t = this.times[last]!;
    const s = this.heapSlots[last]!;
    const old = this.times[pos]!;
    this.times[pos] = t;
    this.heapSlots[pos] = s;
    meta[s * STRIDE + HEAP] = pos;
    if (t < old) this.siftUp(pos);
    else this.siftDown(pos);
  }

  private siftUp(pos: number): void {
    const times = this.times;
    const heapSlots = this.heapSlots;
    const meta = this.slots.meta;
    const t = times[pos]!;
    const s = heapSlots[pos]!;
    while (pos > 0) {
      const parent = (pos - 1) >> 1;
      const pt = times[parent]!;
      if (pt <= t) break;
      times[pos] = pt;
      const ps = heapSlots[parent]!;
      heapSlots[pos] = ps;
      meta[ps * STRIDE + HEAP] = pos;
      pos = parent;
    }
    times[pos] = t;
    heapSlots[pos] = s;
    meta[s * STRIDE + HEAP] = pos;
  }

  private siftDown(pos: number): void {
    const times = this.times;
    const heapSlots = this.heapSlots;
    const meta = this.slots.meta;
    const size = this.size;
    const t = times[pos]!;
    const s = heapSlots[pos]!;
    for (;;) {
      let child = 2 * pos + 1;
      if (child >= size) break;
      if (child + 1 < size && times[child + 1]! < times[child]!) child++;
      const ct = times[child]!;
      if (ct >= t) break;
      times[pos] = ct;
      const cs = heapSlots[child]!;
      heapSlots[pos] = cs;
      meta[cs * STRIDE + HEAP] = pos;
      pos = child;
    }
    times[pos] = t;
    heapSlots[pos] = s;
    meta[s * STRIDE + HEAP] = pos;
  }
}
