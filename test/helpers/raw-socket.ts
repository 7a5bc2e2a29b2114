/**
 * A raw TCP peer for server tests: writes arbitrary bytes and collects decoded response frames (copied, so
 * they outlive the decoder callback), and reports when the server closes the connection.
 */
import * as net from 'node:net';
import { once } from 'node:events';
import { FrameDecoder } from '../../src/protocol/decoder';

export interface ResponseRecord {
  opcode: number;
  status: number;
  requestId: number;
  epoch: number;
  extrasHigh: number;
  extrasLow: number;
  value: Buffer;
}

export class RawPeer {
  readonly responses: ResponseRecord[] = [];
  readonly closed: Promise<void>;
  private waiters: Array<{ count: number; resolve: () => void }> = [];
  private decodeFailed = false;

  private constructor(readonly socket: net.Socket) {
    const decoder = new FrameDecoder({
      kind: 'response',
      maxBodyBytes: 256 * 1024 * 1024,
      onFrame: (frame) => {
        this.responses.push({
          opcode: frame.opcode,
          status: frame.status,
          requestId: frame.requestId,
          epoch: frame.epoch,
          extrasHigh: frame.extrasHigh,
          extrasLow: frame.extrasLow,
          value: Buffer.from(frame.value()),
        });
        this.waiters = this.waiters.filter((waiter) => {
          if (this.responses.length < waiter.count) return true;
          waiter.resolve();
          return false;
        });
      },
      onError: () => {
        // Garbage from the server: end the connection, so whoever waits for responses fails instead of hanging.
        this.decodeFailed = true;
        socket.destroy();
      },
    });
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
    socket.on('error', () => undefined);
    this.closed = once(socket, 'close').then(() => undefined);
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<RawPeer> {
    const socket = net.connect({ port, host });
    await once(socket, 'connect');
    return new RawPeer(socket);
  }

  get responseDecodeFailed(): boolean {
    return this.decodeFailed;
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Resolves once `count` responses arrived; rejects if the connection closes first. */
  async waitForResponses(count: number): Promise<ResponseRecord[]> {
    if (this.responses.length < count) {
      await Promise.race([
        new Promise<void>((resolve) => this.waiters.push({ count, resolve })),
        this.closed.then(() => {
          if (this.responses.length < count) throw new Error(`connection closed after ${this.responses.length} of ${count} responses`);
        }),
      ]);
    }
    return this.responses;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
