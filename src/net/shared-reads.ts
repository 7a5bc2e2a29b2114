/**
 * Accepting connections whose reads all land in one buffer the server owns, instead of a fresh 64 KiB
 * allocation per read.
 *
 * Why: by default Node gives every socket read its own 64 KiB backing store (malloc, an ArrayBuffer, external
 * memory the GC has to account for, and page faults when the allocator hands memory back). For a node taking
 * 64 KiB values that is one allocation per request. Node's documented remedy is the `onread` socket option,
 * which reads into a caller's buffer, but net.Server does not offer it for the sockets it accepts. So this
 * module takes over the listening handle's `onconnection` callback (the one net.Server installs) and creates
 * each accepted socket itself with `onread`. A larger buffer than libuv's 64 KiB also means a 64 KiB value
 * more often arrives whole in one read, so the decoder hands the store a view instead of reassembling it.
 *
 * The buffer is shared by every connection of the server: a read is decoded and answered synchronously, and
 * the decoder copies whatever must outlive the read (a cut header or body, input held while paused). Nothing
 * that consumes a frame may keep a view of it after onFrame returns (decoder.ts says so for every Frame).
 *
 * `onconnection`, the accepted handle and Socket's `handle` option are Node internals (stable since Node 0.x,
 * and the way Node's own cluster module hands over sockets). When they are not as expected, nothing is
 * changed and the server keeps Node's own accept path: installSharedReads returns false.
 */
import * as net from 'node:net';
import { getSystemErrorName } from 'node:util';

/** Receives one read: a view of the shared buffer, valid only until it returns. */
export type ReadSink = (chunk: Buffer) => void;

/** Called for each accepted socket; returns where its reads go (undefined: the socket was refused). */
export type SharedReadAccept = (socket: net.Socket) => ReadSink | undefined;

interface ClientHandle {
  useUserBuffer?: unknown;
  close(): void;
}

interface ListenHandle {
  onconnection?: unknown;
}

/**
 * Makes `server` (listening) create its sockets with reads into `buffer` and hand each to `accept` instead
 * of emitting 'connection'. Returns false, changing nothing, where this Node does not have the internals.
 */
export function installSharedReads(server: net.Server, buffer: Buffer, accept: SharedReadAccept): boolean {
  const handle = (server as unknown as { _handle?: ListenHandle | null })._handle;
  if (handle === null || handle === undefined || typeof handle.onconnection !== 'function') return false;
  handle.onconnection = (status: number, clientHandle: ClientHandle | undefined): void => {
    if (status < 0 || clientHandle === undefined) {
      const error = Object.assign(new Error(`accept ${getSystemErrorName(status)}`), {
        code: getSystemErrorName(status),
        syscall: 'accept',
      });
      server.emit('error', error);
      return;
    }
    if (typeof clientHandle.useUserBuffer !== 'function') {
      // Not a stream handle this module knows: refuse it rather than read it wrongly.
      clientHandle.close();
      return;
    }
    let sink: ReadSink | undefined;
    const socket = new net.Socket({
      handle: clientHandle,
      readable: true,
      writable: true,
      onread: {
        buffer,
        callback: (bytesRead: number, into: Uint8Array): boolean => {
          sink?.((into as Buffer).subarray(0, bytesRead));
          return true;
        },
      },
    } as net.SocketConstructorOpts);
    sink = accept(socket);
  };
  return true;
}
