/**
 * Listen and connect addresses. `:PORT` means 127.0.0.1:PORT (DESIGN decision 9: loopback unless asked
 * otherwise); `HOST:PORT` and `[IPv6]:PORT` otherwise.
 */
import { ConfigError } from '../errors';

export interface HostPort {
  host: string;
  port: number;
}

export const DEFAULT_HOST = '127.0.0.1';

export function parseHostPort(text: string, what = 'address'): HostPort {
  if (typeof text !== 'string' || text.length === 0) throw new ConfigError(`${what} must be HOST:PORT or :PORT, got ${JSON.stringify(text)}`);
  const colon = text.lastIndexOf(':');
  if (colon < 0) throw new ConfigError(`${what} ${JSON.stringify(text)} has no port: write HOST:PORT or :PORT`);
  let host = text.slice(0, colon);
  const portText = text.slice(colon + 1);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host === '') host = DEFAULT_HOST;
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    throw new ConfigError(`${what} ${JSON.stringify(text)} has a bad port: use 0-65535`);
  }
  return { host, port: Number(portText) };
}

export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
