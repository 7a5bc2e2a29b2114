/**
 * A connection's shares of the node-wide budgets (held-memory.ts), which both ports report into.
 *
 * Input: what the connection holds for input not run yet (binary: FrameDecoder.heldInputBytes and the pre-auth
 * guard's stash; RESP: RespParser.heldBytes, the reads a half-received command's arguments are views into, the
 * buffer of a bulk cut by a read's end at its declared length, the inline line gathered so far, a read held
 * unparsed while paused), reported after every read. Past the cap
 * the connections holding the most are closed at once (inputLimitDisconnects).
 *
 * Output: what the socket holds beyond its own writableHighWaterMark (below it Node may not emit 'drain', so a
 * count could go stale; above it, it will), plus the replies held in order behind a pending one, reported
 * after writes, settles and 'drain'. While the node is over its cap every connection stops reading before its
 * next command; those whose output stays above their own high-water mark are closed as slow readers, the
 * largest first (outputLimitDisconnects).
 *
 * A holder's bytes are set, not added, so the next report corrects a stale one; release() on close gives all back.
 */
import type { Socket } from 'node:net';
import type { BudgetHolder, NodeBudgets, OutputHolder } from './held-memory';

export class BudgetShares {
  /** Since when the connection's output has stayed above its high-water mark (0: it has not). */
  blockedSince = 0;
  private readonly input: BudgetHolder;
  private readonly output: OutputHolder;

  constructor(
    private readonly budgets: NodeBudgets,
    private readonly socket: Socket,
    /** The connection's own mark: replies queued (socket and held) above it pause reading. */
    private readonly highWater: number,
    stats: { inputLimitDisconnects: number; outputLimitDisconnects: number },
    /** Closes the connection now; the budget then releases the share. */
    close: () => void,
    private readonly clock: () => number = Date.now,
  ) {
    this.input = {
      held: 0,
      shed: () => {
        stats.inputLimitDisconnects++;
        close();
      },
    };
    this.output = {
      held: 0,
      shed: () => {
        stats.outputLimitDisconnects++;
        close();
      },
      blockedSince: () => this.blockedSince,
    };
  }

  /** True while the node holds more unread output than its cap: no connection runs its next command. */
  get outputOver(): boolean {
    return this.budgets.output.over;
  }

  /** Runs `resume` once the node's output is back under its cap (the same function is queued once). */
  whenOutputUnder(resume: () => void): void {
    this.budgets.output.whenUnder(resume);
  }

  /** The bytes this connection holds for input not run yet; past the cap the largest holders are closed now. */
  reportInput(bytes: number): void {
    if (bytes !== this.input.held) this.budgets.reportInput(this.input, bytes);
  }

  /**
   * Output changed (a write, a settled reply, 'drain'); `held`: replies waiting behind a pending one. Notes
   * since when the output has stayed above the connection's high-water mark, and reports what counts: the
   * bytes the socket holds above its own writableHighWaterMark, plus `held`.
   */
  noteOutput(held: number): void {
    const socket = this.socket;
    const queued = socket.destroyed ? 0 : socket.writableLength;
    if (queued + held > this.highWater) {
      if (this.blockedSince === 0) this.blockedSince = this.clock();
    } else {
      this.blockedSince = 0;
    }
    const bytes = socket.destroyed ? 0 : (queued > socket.writableHighWaterMark ? queued : 0) + held;
    if (bytes !== this.output.held) this.budgets.reportOutput(this.output, bytes);
  }

  /** The connection is gone: nothing it held counts any more. */
  release(): void {
    this.budgets.input.release(this.input);
    this.budgets.output.release(this.output);
  }
}
