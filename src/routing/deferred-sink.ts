/**
 * A reply sink for an answer that comes in a later turn: it hands each answer to `deliver`, which runs it
 * against a synchronous sink of the codec once the connection can take it (the binary port's reply slot, the
 * RESP port's promise). Values found in the store are copied (a store handle does not outlive the turn); an
 * MGET served whole from the store is collected and delivered as one joined answer, whose size the codec's
 * sink checks then.
 */
import type { StoredValue } from '../cache/stored-value';
import type { RawResponse, ReplySink, ValuesSizer } from './sink';

export type Deliver = (write: (sink: ReplySink) => void) => void;

export class DeferredSink implements ReplySink {
  private list: Array<Uint8Array | null> | null = null;

  constructor(
    private readonly deliver: Deliver,
    readonly sizer: ValuesSizer,
  ) {}

  stored(value: StoredValue): void {
    const copy = value.copy();
    if (this.list !== null) this.list.push(copy);
    else this.deliver((s) => s.value(copy));
  }

  value(bytes: Uint8Array | null): void {
    this.deliver((s) => s.value(bytes));
  }

  flag(done: boolean): void {
    this.deliver((s) => s.flag(done));
  }

  number(n: number): void {
    this.deliver((s) => s.number(n));
  }

  bigint(n: bigint): void {
    this.deliver((s) => s.bigint(n));
  }

  ok(): void {
    this.deliver((s) => s.ok());
  }

  beginValues(): void {
    this.list = [];
  }

  missing(): void {
    this.list?.push(null);
  }

  endValues(): void {
    const list = this.list ?? [];
    this.list = null;
    this.values(list);
  }

  values(list: ReadonlyArray<Uint8Array | null>): void {
    this.deliver((s) => s.values(list));
  }

  error(error: unknown): void {
    this.deliver((s) => s.error(error));
  }

  relay(response: RawResponse, owner: string): void {
    this.deliver((s) => s.relay(response, owner));
  }

  /** The joined answer is checked on delivery (values): nothing to size ahead here. */
  mayRefuse(): boolean {
    return false;
  }

  refused(): boolean {
    return false;
  }

  later(): ReplySink {
    return this;
  }
}
