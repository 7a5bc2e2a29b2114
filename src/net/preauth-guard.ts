/**
 * The binary port's guard before authentication: it reads each frame's header ahead of the decoder and closes
 * the connection on a body over PREAUTH_MAX_REQUEST_BYTES before a byte of it is buffered, so a client that has
 * not authenticated cannot make the node allocate. Input goes to the decoder in pieces that end right after each
 * AUTH or MEMBER_HELLO frame: once one succeeds, the rest of the read is decoded without the guard. While the
 * decoder is paused (an AUTH or a member handshake may be among the frames it holds) later input is stashed.
 */
import { HEADER_SIZE, Opcode } from '../protocol/constants';
import { PREAUTH_MAX_REQUEST_BYTES } from './auth';

/** What the guard feeds and asks. */
export interface GuardedDecoder {
  push(chunk: Buffer): void;
  readonly isPaused: boolean;
}

export interface GuardOwner {
  authenticated(): boolean;
  closing(): boolean;
  /** A frame declared a body over the pre-auth limit: answer and close. */
  tooLarge(requestId: number, opcode: number, bodyBytes: number): void;
}

export class PreauthGuard {
  /** Bytes of the current frame's body still to pass, and whether that frame may authenticate. */
  private bodyLeft = 0;
  private bodyMayAuthenticate = false;
  private readonly header = Buffer.alloc(HEADER_SIZE);
  private headerFill = 0;
  /** Input received while the decoder was paused, not yet guarded and pushed. */
  private stash: Buffer | null = null;

  constructor(
    private readonly decoder: GuardedDecoder,
    private readonly owner: GuardOwner,
  ) {}

  get stashedBytes(): number {
    return this.stash === null ? 0 : this.stash.length;
  }

  get hasStash(): boolean {
    return this.stash !== null;
  }

  /** Hands the stash back (the decoder resumed); null when there is none. */
  takeStash(): Buffer | null {
    const stash = this.stash;
    this.stash = null;
    return stash;
  }

  drop(): void {
    this.stash = null;
  }

  push(chunk: Buffer): void {
    const decoder = this.decoder;
    const owner = this.owner;
    if (this.stash !== null || decoder.isPaused) {
      this.stash = this.stash === null ? Buffer.from(chunk) : Buffer.concat([this.stash, chunk]);
      return;
    }
    let start = 0;
    let pos = 0;
    const length = chunk.length;
    while (pos < length && !owner.authenticated() && !owner.closing()) {
      if (this.bodyLeft > 0) {
        const n = Math.min(this.bodyLeft, length - pos);
        pos += n;
        this.bodyLeft -= n;
        if (this.bodyLeft > 0 || !this.bodyMayAuthenticate) continue;
      } else {
        const n = Math.min(HEADER_SIZE - this.headerFill, length - pos);
        chunk.copy(this.header, this.headerFill, pos, pos + n);
        this.headerFill += n;
        pos += n;
        if (this.headerFill < HEADER_SIZE) break;
        this.headerFill = 0;
        const header = this.header;
        const body = header.readUInt16BE(8) + header.readUInt32BE(12);
        if (body > PREAUTH_MAX_REQUEST_BYTES) {
          // Whatever came before (an AUTH that might succeed) still gets its turn: it cannot, since it is not complete.
          decoder.push(chunk.subarray(start, pos - n));
          owner.tooLarge(header.readUInt32BE(4), header[2]!, body);
          return;
        }
        this.bodyLeft = body;
        this.bodyMayAuthenticate = header[2] === Opcode.AUTH || header[2] === Opcode.MEMBER_HELLO;
        if (body > 0 || !this.bodyMayAuthenticate) continue;
      }
      // A frame that may authenticate ends at pos: let the decoder run up to here, then look again.
      this.bodyMayAuthenticate = false;
      decoder.push(chunk.subarray(start, pos));
      start = pos;
      if (decoder.isPaused && !owner.authenticated() && pos < length) {
        this.stash = Buffer.from(chunk.subarray(pos));
        return;
      }
    }
    if (start < length && !owner.closing()) decoder.push(chunk.subarray(start));
  }
}
