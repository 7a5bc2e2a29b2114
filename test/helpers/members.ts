/**
 * Helpers for the principal and limit tests: a raw socket that completed the member handshake as a real member
 * (so a test can send what a lying member would), keys seeded and checked back, and a canary client whose
 * every request must succeed while an attack runs.
 */
import { Client } from '../../src/client/client';
import { Opcode, Status } from '../../src/protocol/constants';
import { encodeRequest } from '../../src/protocol/encoder';
import type { CacheNode } from '../../src/node/cache-node';
import { nodeInternals } from '../../src/node/internals';
import { RawPeer } from './raw-socket';

/** A connection to `target` authenticated as the member `as` (its own hello, so the call-back confirms it). */
export async function memberSocket(as: CacheNode, target: CacheNode, track: RawPeer[], clusterToken?: string): Promise<RawPeer> {
  const peer = await RawPeer.connect(target.port);
  track.push(peer);
  const hello = nodeInternals(as).cluster.peers.sentHellos.create(
    as.address,
    target.address,
    clusterToken === undefined ? undefined : Buffer.from(clusterToken),
  );
  peer.write(encodeRequest({ opcode: Opcode.MEMBER_HELLO, requestId: 1, value: hello }));
  const [answer] = await peer.waitForResponses(1);
  if (answer!.status !== Status.OK) throw new Error(`member handshake refused: ${answer!.value.toString()}`);
  return peer;
}

export async function seedKeys(client: Client, count: number): Promise<string[]> {
  const keys = Array.from({ length: count }, (_, i) => `seed:${i}`);
  await Promise.all(keys.map((key) => client.set(key, `value-of-${key}`)));
  return keys;
}

/** The keys that do not read back as seedKeys wrote them. */
export async function unreadableKeys(client: Client, keys: string[]): Promise<string[]> {
  const values = await Promise.all(keys.map((key) => client.get(key)));
  return keys.filter((key, i) => values[i]?.toString() !== `value-of-${key}`);
}

export interface Canary {
  /** Resolves once the canary has completed `operations` more requests (each a SET then a GET checked). */
  runFor(operations: number): Promise<void>;
  stop(): Promise<{ ok: number; errors: number; firstError: string }>;
}

/**
 * A client doing SET/GET round trips one at a time on its own keys until stopped (at most 200,000 requests),
 * counting failures and wrong values.
 */
export function runCanary(client: Client, track: Client[]): Canary {
  track.push(client);
  let ok = 0;
  let errors = 0;
  let firstError = '';
  let stopped = false;
  const waiters: Array<{ at: number; resolve: () => void }> = [];
  const loop = (async () => {
    for (let i = 0; !stopped && i < 100_000; i++) {
      const key = `canary:${i % 64}`;
      try {
        await client.set(key, `c${i}`);
        const value = await client.get(key);
        if (value?.toString() !== `c${i}`) throw new Error(`canary read ${String(value)} for c${i}`);
        ok++;
      } catch (error) {
        errors++;
        firstError ||= error instanceof Error ? `${(error as { code?: string }).code ?? ''} ${error.message}` : String(error);
      }
      for (const waiter of waiters.splice(0)) {
        if (ok + errors >= waiter.at) waiter.resolve();
        else waiters.push(waiter);
      }
    }
    for (const waiter of waiters.splice(0)) waiter.resolve();
  })();
  return {
    runFor: (operations) => new Promise((resolve) => waiters.push({ at: ok + errors + operations, resolve })),
    async stop() {
      stopped = true;
      await loop;
      return { ok, errors, firstError };
    },
  };
}
