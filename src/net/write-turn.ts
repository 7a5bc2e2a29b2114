/**
 * One event-loop turn of writes, shared by every connection of a listener (connection-core.ts; docs/ARCHITECTURE.md,
 * "Connections", Turns). Under load (more than one connection wrote in the turn before) every write of a turn is
 * corked and leaves at the turn's end, after the poll phase has run every read that was ready, so the replies
 * leave back to back and wake a sleeping client once; a lone client's first write of a turn leaves at once, so
 * one request at a time waits for no end of turn. A connection's later writes in a turn are always corked. One
 * setImmediate per turn serves every connection, instead of one per connection and read.
 */

/** A connection corked in this turn: told when the turn ends. */
export interface TurnCorked {
  endTurn(): void;
}

export class WriteTurn {
  /** Changes when a turn ends: a connection that wrote in turn N and writes again in turn N corks. */
  private current = 0;
  private scheduled = false;
  /** Connections that wrote in this turn, and in the turn before. */
  private writers = 0;
  private lastWriters = 0;
  private readonly corked: TurnCorked[] = [];
  private readonly endFn = (): void => {
    this.scheduled = false;
    this.current++;
    this.lastWriters = this.writers;
    this.writers = 0;
    const corked = this.corked;
    // A connection that corks again while this loop runs is appended to the list and uncorked by this loop too.
    for (let i = 0; i < corked.length; i++) corked[i]!.endTurn();
    corked.length = 0;
  };

  /** The turn a write happens in (the end of it is scheduled with the first write). */
  enter(): number {
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.endFn);
    }
    return this.current;
  }

  /**
   * A connection's first write in the current turn (after enter()): true when it may leave at once, the first
   * writer of a turn after a turn with at most one; false when it is to be corked until the turn ends.
   */
  firstWrite(): boolean {
    return this.writers++ === 0 && this.lastWriters <= 1;
  }

  /** `connection` corked its socket in this turn: endTurn() is called when the turn ends. */
  hold(connection: TurnCorked): void {
    this.corked.push(connection);
  }
}
