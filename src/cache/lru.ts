/**
 * One doubly linked LRU list per size class, threaded through the slot records (PREV / NEXT, -1 ends a list).
 * Head = newest, tail = the next eviction candidate of the class.
 *
 * A hit does not relink anything: it sets the item's REFERENCED flag, one write to the record the lookup has
 * just read. The move to the head happens lazily: when eviction finds a referenced item at the tail, it clears
 * the flag and moves the item to the head (a second chance, as in CLOCK) and looks at the next tail. So an item
 * read since it last reached the tail is never evicted before an unread one; a hit costs no neighbour's cache
 * lines (memcached throttles its bumps by time instead; this stays deterministic, which the tests rely on).
 */

import { SLOT, type Slots } from './slots';

const { STRIDE, PREV, NEXT, KEY, REFERENCED } = SLOT;

export class LruLists {
  readonly head: Int32Array;
  readonly tail: Int32Array;
  /** Live items per class. */
  readonly items: Int32Array;

  constructor(
    private readonly slots: Slots,
    classCount: number,
  ) {
    this.head = new Int32Array(classCount).fill(-1);
    this.tail = new Int32Array(classCount).fill(-1);
    this.items = new Int32Array(classCount);
  }

  /** Link a new item at the head, unreferenced. */
  pushHead(c: number, s: number): void {
    const meta = this.slots.meta;
    const b = s * STRIDE;
    const h = this.head[c]!;
    meta[b + KEY] = meta[b + KEY]! & ~REFERENCED;
    meta[b + PREV] = -1;
    meta[b + NEXT] = h;
    if (h >= 0) meta[h * STRIDE + PREV] = s;
    else this.tail[c] = s;
    this.head[c] = s;
    this.items[c]!++;
  }

  unlink(c: number, s: number): void {
    const meta = this.slots.meta;
    const b = s * STRIDE;
    const p = meta[b + PREV]!;
    const n = meta[b + NEXT]!;
    if (p >= 0) meta[p * STRIDE + NEXT] = n;
    else this.head[c] = n;
    if (n >= 0) meta[n * STRIDE + PREV] = p;
    else this.tail[c] = p;
    this.items[c]!--;
  }

  /** The item is being used (a hit, an overwrite, a touch). */
  mark(s: number): void {
    const meta = this.slots.meta;
    const i = s * STRIDE + KEY;
    meta[i] = meta[i]! | REFERENCED;
  }

  /**
   * The least recently used unreferenced item of class `c` (-1 if the class is empty): referenced items met at
   * the tail get their second chance first. Each step clears a flag, so this ends within items[c] + 1 steps.
   */
  victim(c: number): number {
    const meta = this.slots.meta;
    for (;;) {
      const s = this.tail[c]!;
      if (s < 0) return -1;
      const i = s * STRIDE + KEY;
      const key = meta[i]!;
      if ((key & REFERENCED) === 0) return s;
      this.unlink(c, s);
      this.pushHead(c, s);
    }
  }

  clear(): void {
    this.head.fill(-1);
    this.tail.fill(-1);
    this.items.fill(0);
  }

  get overheadBytes(): number {
    return this.head.byteLength * 3;
  }
}
