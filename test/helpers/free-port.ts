/** A free loopback port: listen on 0, read it, close (for a server a test starts on a port it must know first). */
import { once } from 'node:events';
import * as net from 'node:net';

export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}
