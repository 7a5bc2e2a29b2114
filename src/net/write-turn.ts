/**
 * One event-loop turn of writes, shared by every connection of a listener (connection-core.ts, "Turns"): a
 * connection's first write in a turn leaves at once, later ones are corked and leave in one writev when the turn
 * ends. One setImmediate per turn serves every connection, instead of one per connection and read.
 */

/** A connection corked in this turn: told when the turn ends. */
export interface TurnCorked {
  endTurn(): void;
}

export class WriteTurn {
  /** Changes when a turn ends: a connection that wrote in turn N and writes again in turn N corks. */
  private current = 0;
  private scheduled = false;
  private readonly corked: TurnCorked[] = [];
  private readonly endFn = (): void => {
    this.scheduled = false;
    this.current++;
    const corked = this.corked;
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

  /** `connection` corked its socket in this turn: endTurn() is called when the turn ends. */
  hold(connection: TurnCorked): void {
    this.corked.push(connection);
  }
}
