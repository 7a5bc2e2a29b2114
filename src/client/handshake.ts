/**
 * The first frame of a connection: AUTH with the client token, or a member's MEMBER_HELLO. It is written straight
 * to the socket, ahead of the requests queued while connecting (the node answers in order); a refusal closes the
 * connection with AuthError.
 */
import type * as net from 'node:net';
import { HEADER_SIZE, Opcode, Status } from '../protocol/constants';
import { writeRequest } from '../protocol/encoder';
import type { Frame } from '../protocol/frame';
import { authFailedError } from './connection-errors';

export class Handshake {
  /** Request id of the frame sent on the current socket while its answer is awaited (-1: none). */
  private id = -1;
  private opcode: number = Opcode.AUTH;
  private readonly token: Buffer | null;

  constructor(
    authToken: string | undefined,
    private readonly memberHello: (() => Buffer) | undefined,
  ) {
    this.token = authToken === undefined ? null : Buffer.from(authToken, 'utf8');
  }

  /** A new socket: nothing sent on it yet. */
  reset(): void {
    this.id = -1;
  }

  /** Writes the opening frame, if this connection has one; `register` tracks it as a request and returns its id. */
  send(socket: net.Socket, register: (opcode: number) => number): void {
    const hello = this.memberHello;
    const opcode = hello !== undefined ? Opcode.MEMBER_HELLO : Opcode.AUTH;
    const token = hello !== undefined ? hello() : this.token;
    if (token === null) return;
    this.opcode = opcode;
    this.id = register(opcode);
    const frame = Buffer.allocUnsafe(HEADER_SIZE + token.length);
    writeRequest(frame, 0, opcode, 0, this.id, null, token, 0);
    socket.write(frame);
  }

  /** True for the answer to the opening frame (which the connection then takes out of its table). */
  answers(frame: Frame): boolean {
    return frame.requestId === this.id && frame.opcode === this.opcode;
  }

  /** For that answer: null when accepted, else the error the connection closes with. */
  refusal(frame: Frame, nodeId: string): Error | null {
    this.id = -1;
    if (frame.status === Status.OK) return null;
    const message = frame.buffer.toString('utf8', frame.valueOffset, frame.valueOffset + frame.valueLength);
    return authFailedError(nodeId, this.opcode, message, frame.status);
  }
}
