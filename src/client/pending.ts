/**
 * Requests in flight on one connection, found two ways without a Map:
 *  - by request id: an open-addressed slot array indexed by `id & mask`. Ids are handed out in sequence
 *    (u32, wrapping, never 0: id 0 is the server's "about the connection" id), skipping any id whose slot is
 *    taken, so an id still in flight is never reused and a response's id finds its request in one load.
 *  - in send order: an intrusive doubly linked list. Every request of a connection has the same timeout, so
 *    send order is deadline order and the timeout sweep stops at the first request that has not expired.
 * Load stays at or under one half (the array doubles up to a cap fixed by maxPending), so probing is short.
 */

type Resolve = (value: unknown) => void;
type Reject = (error: Error) => void;

function noop(): void {}

export class Pending {
  id = 0;
  opcode = 0;
  /** Opcode-specific: the key count of an MGET part. */
  aux = 0;
  /** Resolve with the raw response (any status) instead of the decoded result (requestRaw). */
  raw = false;
  /** performance.now() value after which the request times out. */
  deadline = 0;
  /** Its place in the connection's send order: written to the socket once the connection's sentSeq reaches it. */
  seq = 0;
  resolve: Resolve = noop;
  reject: Reject = noop;
  prev: Pending | null = null;
  next: Pending | null = null;
}

// One shared executor: `new Promise(capture)` stores the resolving functions here without allocating a
// closure per request.
let capturedResolve: Resolve = noop;
let capturedReject: Reject = noop;
function capture(resolve: Resolve, reject: Reject): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/** A fresh promise whose resolving functions are stored on p. */
export function promiseFor(p: Pending): Promise<unknown> {
  const promise = new Promise<unknown>(capture);
  p.resolve = capturedResolve;
  p.reject = capturedReject;
  return promise;
}

const INITIAL_SLOTS = 1024;

export class PendingTable {
  /** Requests in flight. */
  size = 0;
  /** Oldest request (first to expire). */
  head: Pending | null = null;
  private tail: Pending | null = null;
  private slots: Array<Pending | null>;
  private mask: number;
  private readonly maxSlots: number;
  private nextId = 1;

  /** maxPending bounds size; the slot array never grows past twice that (rounded to a power of two). */
  constructor(maxPending: number) {
    let max = 16;
    while (max < maxPending * 2) max *= 2;
    this.maxSlots = max;
    const initial = Math.min(INITIAL_SLOTS, max);
    this.slots = new Array<Pending | null>(initial).fill(null);
    this.mask = initial - 1;
  }

  /** Gives p a free id and appends it (newest). The caller keeps size below maxPending. */
  add(p: Pending): number {
    if ((this.size + 1) * 2 > this.slots.length && this.slots.length < this.maxSlots) this.grow();
    const slots = this.slots;
    const mask = this.mask;
    let id = this.nextId;
    for (;;) {
      if (id === 0) id = 1;
      if (slots[id & mask] === null) break;
      id = (id + 1) >>> 0;
    }
    this.nextId = (id + 1) >>> 0;
    slots[id & mask] = p;
    p.id = id;
    p.next = null;
    p.prev = this.tail;
    if (this.tail === null) this.head = p;
    else this.tail.next = p;
    this.tail = p;
    this.size++;
    return id;
  }

  /** Removes and returns the request with this id, or null when none is in flight (late or unknown id). */
  take(id: number): Pending | null {
    const slot = id & this.mask;
    const p = this.slots[slot];
    if (p === null || p === undefined || p.id !== id) return null;
    this.slots[slot] = null;
    this.unlink(p);
    return p;
  }

  /** Removes every request and returns them oldest first (connection lost, client closed). */
  drain(): Pending[] {
    const out: Pending[] = [];
    for (let p = this.head; p !== null; p = p.next) out.push(p);
    for (const p of out) {
      this.slots[p.id & this.mask] = null;
      p.prev = p.next = null;
    }
    this.head = this.tail = null;
    this.size = 0;
    return out;
  }

  private unlink(p: Pending): void {
    const { prev, next } = p;
    if (prev === null) this.head = next;
    else prev.next = next;
    if (next === null) this.tail = prev;
    else next.prev = prev;
    p.prev = p.next = null;
    this.size--;
  }

  private grow(): void {
    const length = this.slots.length * 2;
    const slots = new Array<Pending | null>(length).fill(null);
    const mask = length - 1;
    // No collisions: two ids equal modulo the new length are equal modulo the old one, and the old slots
    // were distinct.
    for (let p = this.head; p !== null; p = p.next) slots[p.id & mask] = p;
    this.slots = slots;
    this.mask = mask;
  }
}
