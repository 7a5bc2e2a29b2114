/**
 * How big a response a node builds for one request, on both ports (docs/ARCHITECTURE.md, "Limits"):
 * - none over maxResponseBytes (the output hard limit less the high-water mark: reading pauses at the mark, so
 *   one more response of this size still fits under the hard limit; 63 MiB by default);
 * - none over LARGE_RESPONSE_BYTES while the node holds more unread output than its budget (held-memory.ts),
 *   which would otherwise grow by one large response per connection.
 * A refused request gets its error before anything is built or copied, and the connection stays.
 */

/** Responses up to this size are sent even while the node's output budget is full (they cost little). */
export const LARGE_RESPONSE_BYTES = 1024 * 1024;

/** What the cap reads of the node-wide output budget (HeldBytesBudget). */
export interface OutputBudgetView {
  readonly over: boolean;
  readonly limit: number;
}

export class ResponseCap {
  constructor(
    readonly maxResponseBytes: number,
    private readonly output?: OutputBudgetView,
  ) {}

  /** True when a response of at most `worst` bytes could be refused: only then need its exact size be computed. */
  mayRefuse(worst: number): boolean {
    return worst > this.maxResponseBytes || this.busy(worst);
  }

  /** Why a response of `size` bytes may not be sent now (null: it may). */
  refusal(size: number): string | null {
    if (size > this.maxResponseBytes) {
      return `the response would be ${size} bytes; the limit is ${this.maxResponseBytes} bytes (--output-limit less --output-high-water): ask for fewer keys per request`;
    }
    return this.busyRefusal(size);
  }

  /** Why a response of `size` bytes may not be sent while the output budget is full (null: it may). */
  busyRefusal(size: number): string | null {
    if (!this.busy(size)) return null;
    return `the response would be ${size} bytes while the node holds more unread responses than --output-total-limit (${this.output!.limit} bytes); retry shortly`;
  }

  private busy(size: number): boolean {
    return size > LARGE_RESPONSE_BYTES && this.output !== undefined && this.output.over;
  }
}

/** No cap: for a handler that no node configured. */
export const UNCAPPED = new ResponseCap(Number.MAX_SAFE_INTEGER);
