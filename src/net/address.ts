/**
 * Listen and connect addresses. `:PORT` means 127.0.0.1:PORT (docs/ARCHITECTURE.md, Decisions, "Safe defaults": loopback unless asked
 * otherwise); `HOST:PORT` and `[IPv6]:PORT` otherwise.
 */
import { parseNodeAddress } from '../client/node-address';

export interface HostPort {
  host: string;
  port: number;
}

/** A listen address: the same syntax and checks as a client's node address, with port 0 allowed. */
export function parseHostPort(text: string, what = 'address'): HostPort {
  const { host, port } = parseNodeAddress(text, what, true);
  return { host, port };
}

export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
