/**
 * Write coalescing per event-loop turn: the first write of a turn goes out at once; later ones in the same turn
 * (libuv delivers up to 32 reads of a busy socket per turn, and with large values each read completes about
 * one request) are corked until the turn ends (setImmediate) and leave in one writev.
 */
import type * as net from 'node:net';

export class TurnCork {
  /** A write happened in this turn; `corked` is the socket corked since. */
  private wroteThisTurn = false;
  private corked: net.Socket | null = null;
  private readonly endTurnFn = (): void => {
    this.wroteThisTurn = false;
    const socket = this.corked;
    this.corked = null;
    if (socket !== null && !socket.destroyed) socket.uncork();
  };

  /** Call right before writing to `socket`. */
  beforeWrite(socket: net.Socket): void {
    if (!this.wroteThisTurn) {
      this.wroteThisTurn = true;
      setImmediate(this.endTurnFn);
    } else if (this.corked === null) {
      this.corked = socket;
      socket.cork();
    }
  }
}
