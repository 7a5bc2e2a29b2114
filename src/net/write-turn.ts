/**
 * One event-loop turn of writes, shared by every connection of a listener (connection-core.ts; docs/ARCHITECTURE.md,
 * "Connections", Turns): a connection's writes in a turn are corked and leave in one writev when the turn ends,
 * after the poll phase has run every read that was ready. One setImmediate per turn serves every connection,
 * instead of one per connection and read.
 */

/** A connection corked in this turn: told when the turn ends. */
export interface TurnCorked {
  endTurn(): void;
}

export class WriteTurn {
  private scheduled = false;
  private readonly corked: TurnCorked[] = [];
  private readonly endFn = (): void => {
    this.scheduled = false;
    const corked = this.corked;
    // A connection that corks again while this loop runs is appended to the list and uncorked by this loop too.
    for (let i = 0; i < corked.length; i++) corked[i]!.endTurn();
    corked.length = 0;
  };

  /** `connection` corked its socket in this turn: endTurn() is called when the turn ends. */
  hold(connection: TurnCorked): void {
    this.corked.push(connection);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.endFn);
    }
  }
}
