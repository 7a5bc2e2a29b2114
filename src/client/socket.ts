/**
 * Opens the TCP socket of a node connection: Nagle off, keep-alive on, the connect attempt bounded by
 * connectTimeoutMs, and reads delivered through `onread` into the connection's own buffer (no Readable
 * stream, no Buffer allocated per read: the chunk is valid only during onChunk).
 */
import * as net from 'node:net';
import { ConnectionError } from '../errors';
import type { NodeAddress } from './node-address';

export interface SocketOptions {
  connectTimeoutMs: number;
  /** Reused for every read; onChunk gets a view of it. */
  readBuffer: Buffer;
  lookup?: net.LookupFunction | undefined;
  /** Source address to connect from (a node binds its peer connections to its own address). */
  localAddress?: string | undefined;
}

export interface SocketHandlers {
  onConnect(): void;
  onChunk(chunk: Buffer): void;
  onDrain(): void;
  /** The socket closed; cause is the connect timeout or the socket's error, null after a clean close. */
  onClose(cause: Error | null): void;
}

export function openSocket(address: NodeAddress, options: SocketOptions, handlers: SocketHandlers): net.Socket {
  const readBuffer = options.readBuffer;
  const socket = net.connect({
    host: address.host,
    port: address.port,
    noDelay: true,
    keepAlive: true,
    lookup: options.lookup,
    ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
    onread: {
      buffer: readBuffer,
      callback: (n: number): boolean => {
        handlers.onChunk(readBuffer.subarray(0, n));
        return true;
      },
    },
  });
  let cause: Error | null = null;
  let connectTimer: NodeJS.Timeout | null = setTimeout(() => {
    connectTimer = null;
    cause = new ConnectionError(`cannot connect to ${address.id}: no answer within ${options.connectTimeoutMs} ms (connectTimeoutMs)`);
    socket.destroy();
  }, options.connectTimeoutMs);
  const stopConnectTimer = (): void => {
    if (connectTimer !== null) clearTimeout(connectTimer);
    connectTimer = null;
  };
  socket.on('connect', () => {
    stopConnectTimer();
    handlers.onConnect();
  });
  socket.on('drain', () => handlers.onDrain());
  socket.on('error', (error: Error) => {
    if (cause === null) cause = error;
  });
  socket.on('close', () => {
    stopConnectTimer();
    handlers.onClose(cause);
  });
  return socket;
}
