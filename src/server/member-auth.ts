/**
 * Members and clients are different principals (docs/ARCHITECTURE.md, "Principals"). A client authenticates
 * with AUTH and the client token; it may read and write keys. Member-only traffic (membership messages,
 * forwarded requests) is served only on a connection that completed the member handshake:
 *
 *   1. the connecting member sends MEMBER_HELLO {id, to, nonce, proof}: its own member id, the id of the node
 *      it believes it reached, a fresh random nonce, and (when the cluster has a key) an HMAC-SHA256 of the
 *      three under the cluster key, so the key itself never crosses the wire;
 *   2. the receiver checks the proof, that `to` is itself and that the nonce is new, then calls `id` back at
 *      its address (MEMBER_VERIFY {nonce, to}) and asks whether it sent that hello. Only a process that
 *      listens at the id and sent the hello says yes;
 *   3. then the connection is the member `id` for its lifetime, and every membership message on it must have
 *      `from` = `id`.
 *
 * The cluster key is --cluster-token when given, else the client token (then any client holding that token can
 * still become a member by running a node, which the README says), else none: on a loopback node without a
 * token the call-back alone proves the id. A made-up id (nothing listens there) or a real member's id (which did
 * not send that nonce) never passes.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export interface MemberHello {
  readonly id: string;
  readonly to: string;
  readonly nonce: string;
  readonly proof?: string;
}

/** A hello or verify body larger than this is refused before it is parsed. */
export const MEMBER_HANDSHAKE_MAX_BYTES = 2048;
/** Hellos this node sent are remembered this long for the receiver's call-back. */
const SENT_HELLO_TTL_MS = 30_000;
const MAX_SENT_HELLOS = 4096;
/** Nonces of accepted hellos are remembered (a replayed hello is refused); oldest forgotten first past this. */
const MAX_SEEN_NONCES = 8192;
/** Call-backs run at once; more hellos wait for none but are refused, so clients cannot make the node dial out at will. */
const MAX_CONCURRENT_VERIFIES = 16;
/** An id whose call-back found nothing listening is not called again this soon. */
const FAILED_ID_COOLDOWN_MS = 5000;

const NONCE_PATTERN = /^[0-9a-f]{32}$/;
const PROOF_PATTERN = /^[0-9a-f]{64}$/;
const ID_PATTERN = /^[^\s]{1,300}$/;

function proofOf(key: Buffer, id: string, to: string, nonce: string): Buffer {
  return createHmac('sha256', key).update(`dcache-member-hello\n${id}\n${to}\n${nonce}`).digest();
}

/** Parses a hello; undefined for anything that is not exactly one. */
export function parseHello(bytes: Uint8Array): MemberHello | undefined {
  const raw = parseSmallJson(bytes);
  if (raw === undefined) return undefined;
  const { id, to, nonce, proof } = raw;
  if (typeof id !== 'string' || !ID_PATTERN.test(id) || typeof to !== 'string' || !ID_PATTERN.test(to)) return undefined;
  if (typeof nonce !== 'string' || !NONCE_PATTERN.test(nonce)) return undefined;
  if (proof !== undefined && (typeof proof !== 'string' || !PROOF_PATTERN.test(proof))) return undefined;
  return proof === undefined ? { id, to, nonce } : { id, to, nonce, proof };
}

/** Parses a verify request {nonce, to}. */
export function parseVerify(bytes: Uint8Array): { nonce: string; to: string } | undefined {
  const raw = parseSmallJson(bytes);
  if (raw === undefined) return undefined;
  const { nonce, to } = raw;
  if (typeof nonce !== 'string' || !NONCE_PATTERN.test(nonce) || typeof to !== 'string' || !ID_PATTERN.test(to)) return undefined;
  return { nonce, to };
}

function parseSmallJson(bytes: Uint8Array): Record<string, unknown> | undefined {
  if (bytes.length === 0 || bytes.length > MEMBER_HANDSHAKE_MAX_BYTES) return undefined;
  try {
    const raw: unknown = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'));
    return raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The hellos this node sent: what a receiver's MEMBER_VERIFY asks about. */
export class SentHellos {
  private readonly sent = new Map<string, { to: string; at: number }>();

  constructor(private readonly clock: () => number = Date.now) {}

  /** A fresh hello from `selfId` to `to`, remembered for the receiver's call-back. */
  create(selfId: string, to: string, key: Buffer | undefined): Buffer {
    const nonce = randomBytes(16).toString('hex');
    this.expire();
    if (this.sent.size >= MAX_SENT_HELLOS) this.sent.delete(this.sent.keys().next().value!);
    this.sent.set(nonce, { to, at: this.clock() });
    const hello: MemberHello =
      key === undefined ? { id: selfId, to, nonce } : { id: selfId, to, nonce, proof: proofOf(key, selfId, to, nonce).toString('hex') };
    return Buffer.from(JSON.stringify(hello), 'utf8');
  }

  /** True when this node sent the hello with this nonce to `to` (and not too long ago). */
  confirm(value: Uint8Array): boolean {
    const ask = parseVerify(value);
    if (ask === undefined) return false;
    const entry = this.sent.get(ask.nonce);
    return entry !== undefined && entry.to === ask.to && this.clock() - entry.at <= SENT_HELLO_TTL_MS;
  }

  private expire(): void {
    const before = this.clock() - SENT_HELLO_TTL_MS;
    for (const [nonce, entry] of this.sent) {
      if (entry.at >= before) break;
      this.sent.delete(nonce);
    }
  }
}

/** What the call-back found: the id confirmed the hello, answered that it did not send it, or did not answer. */
export type CallBackAnswer = 'confirmed' | 'denied' | 'unreachable';

/** Calls the named member back and asks whether it sent the hello with this nonce to us. */
export type HelloCallback = (id: string, nonce: string, to: string) => Promise<CallBackAnswer>;

/** Why a hello was refused, for the FORBIDDEN answer and the log. */
export class HelloRefused extends Error {}

/** Checks the hellos this node receives (the receiver's half of the handshake). */
export class MemberGate {
  private readonly seenNonces = new Set<string>();
  /** Ids that did not answer their call-back, and when: not called again for a while. */
  private readonly unreachableIds = new Map<string, number>();
  private verifying = 0;

  constructor(
    private readonly selfId: string,
    private readonly key: Buffer | undefined,
    private readonly callBack: HelloCallback,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Resolves with the member id the connection may act as; rejects with HelloRefused and the reason. */
  async admit(value: Uint8Array): Promise<string> {
    const hello = parseHello(value);
    if (hello === undefined) throw new HelloRefused('malformed member hello');
    if (hello.to !== this.selfId) throw new HelloRefused(`the hello is addressed to ${hello.to}, this node is ${this.selfId}`);
    if (hello.id === this.selfId) throw new HelloRefused("a hello in this node's own name");
    if (this.key !== undefined) {
      const expected = proofOf(this.key, hello.id, hello.to, hello.nonce);
      const given = hello.proof === undefined ? Buffer.alloc(expected.length) : Buffer.from(hello.proof, 'hex');
      if (!timingSafeEqual(expected, given)) throw new HelloRefused('wrong cluster key: start every member with the same --cluster-token');
    }
    if (this.seenNonces.has(hello.nonce)) throw new HelloRefused('a replayed hello');
    const failedAt = this.unreachableIds.get(hello.id);
    if (failedAt !== undefined && this.clock() - failedAt < FAILED_ID_COOLDOWN_MS)
      throw new HelloRefused(`${hello.id} could not be reached moments ago`);
    if (this.verifying >= MAX_CONCURRENT_VERIFIES) throw new HelloRefused('too many member handshakes under way; retry');
    this.remember(hello.nonce);
    this.verifying++;
    let answer: CallBackAnswer = 'unreachable';
    try {
      answer = await this.callBack(hello.id, hello.nonce, hello.to);
    } catch {
      answer = 'unreachable';
    } finally {
      this.verifying--;
    }
    if (answer === 'unreachable') {
      // Only an id nothing answers at is put on hold: one that answered "not my hello" is a real member that a
      // forged hello named, and holding it would let anyone keep it out of the cluster.
      if (this.unreachableIds.size > 1024) this.unreachableIds.clear();
      this.unreachableIds.set(hello.id, this.clock());
      throw new HelloRefused(`${hello.id} could not be reached: a member must listen at its id`);
    }
    this.unreachableIds.delete(hello.id);
    if (answer === 'denied') throw new HelloRefused(`${hello.id} did not send this hello`);
    return hello.id;
  }

  private remember(nonce: string): void {
    if (this.seenNonces.size >= MAX_SEEN_NONCES) this.seenNonces.delete(this.seenNonces.values().next().value!);
    this.seenNonces.add(nonce);
  }
}

/** The cluster key from the tokens: --cluster-token, else the client token, else none. */
export function clusterKeyOf(clusterToken: string | undefined, authToken: string | undefined): Buffer | undefined {
  const token = clusterToken ?? authToken;
  return token === undefined ? undefined : Buffer.from(token, 'utf8');
}
