/**
 * Connections from this node to the other members: one pooled, pipelined connection per peer for forwarded
 * requests, and a separate one per peer for membership messages, so probes never queue behind a burst of
 * forwarded traffic (a busy link must not look like a dead peer). Every one of them opens with the member
 * handshake (member-auth.ts); the pool also answers the other side's call-back (which hellos it sent) and makes
 * the call-backs for hellos this node receives.
 */
import { parseNodeAddress } from '../client/node-address';
import { NodeConnection } from '../client/connection';
import { ServerError } from '../errors';
import { decodeMessage, encodeMessage, type MembershipMessage } from '../discovery/messages';
import type { MembershipTransport } from '../discovery/membership';
import { Opcode as Op, Status, statusName } from '../protocol/constants';
import { SentHellos, type CallBackAnswer } from './member-auth';
import { MAX_BATCH_BYTES } from '../transfer/copy-codec';
import type { PeerRequester, RawResponse } from './router';

/** A PULL batch may take this long to fill and cross (the sender fills it in slices between its other work). */
const TRANSFER_TIMEOUT_MS = 10_000;
/** Room for the largest batch a pull asks for, plus one maximal item beyond it. */
const TRANSFER_RESPONSE_BYTES = MAX_BATCH_BYTES + 2 * 1024 * 1024;

export interface PeerPoolOptions {
  /** Deadline for a forwarded request: below a client's default timeout, so the client hears UNAVAILABLE. */
  forwardTimeoutMs: number;
  connectTimeoutMs: number;
  maxPendingPerPeer: number;
  /** This node's member id: the hello names it. */
  selfId: string;
  /** The cluster key the hello's proof is made with (member-auth.ts); none on a node without tokens. */
  clusterKey?: Buffer;
  /**
   * This node's own host: peer connections leave from it, so a member's traffic carries its address both ways
   * (what a firewall rule, or a partition test, sees as "this node").
   */
  localAddress?: string;
}

export class PeerPool implements PeerRequester, MembershipTransport {
  private readonly forwarding = new Map<string, NodeConnection>();
  private readonly membership = new Map<string, NodeConnection>();
  /** Data movement (pulls, read-throughs): apart from both others, so a bulk batch delays neither. */
  private readonly transfers = new Map<string, NodeConnection>();
  private closed = false;
  /** The hellos this pool's connections sent, for the receivers' call-backs (MEMBER_VERIFY). */
  readonly sentHellos = new SentHellos();

  constructor(private readonly options: PeerPoolOptions) {}

  /**
   * The call-back half of the handshake: asks the process listening at `id` whether it sent the hello with
   * this nonce to `to`. A fresh connection each time, closed after the answer: ids here are claims from
   * connections not yet trusted, so nothing is pooled for them.
   */
  async confirmHello(id: string, nonce: string, to: string): Promise<CallBackAnswer> {
    let connection: NodeConnection;
    try {
      connection = new NodeConnection(parseNodeAddress(id, 'member id'), {
        timeoutMs: Math.max(this.options.connectTimeoutMs, 100),
        connectTimeoutMs: this.options.connectTimeoutMs,
        maxPending: 2,
        maxResponseBytes: 4096,
        ...(this.options.localAddress === undefined ? {} : { localAddress: this.options.localAddress }),
      });
    } catch {
      return 'unreachable';
    }
    try {
      const answer = await connection.requestRaw(Op.MEMBER_VERIFY, 0, null, Buffer.from(JSON.stringify({ nonce, to }), 'utf8'), 0);
      return answer.status === Status.OK ? 'confirmed' : 'denied';
    } catch {
      return 'unreachable';
    } finally {
      void connection.close();
    }
  }

  request(
    peerId: string,
    opcode: number,
    flags: number,
    key: Uint8Array | null,
    value: Uint8Array | null,
    extras: number | bigint,
  ): Promise<RawResponse> {
    return this.connection(this.forwarding, peerId, this.options.forwardTimeoutMs).requestRaw(opcode, flags, key, value, extras);
  }

  /** A data-movement request (FETCH, PULL, PULL_DONE) on the member's transfer connection. */
  transfer(peerId: string, opcode: number, key: Uint8Array | null, value: Uint8Array | null): Promise<RawResponse> {
    const timeoutMs = Math.max(this.options.forwardTimeoutMs, TRANSFER_TIMEOUT_MS);
    return this.connection(this.transfers, peerId, timeoutMs, TRANSFER_RESPONSE_BYTES).requestRaw(opcode, 0, key, value, 0);
  }

  async send(peerId: string, opcode: number, message: MembershipMessage, timeoutMs: number): Promise<MembershipMessage> {
    const connection = this.connection(this.membership, peerId, Math.max(timeoutMs, 100));
    const response = await connection.requestRaw(opcode, 0, null, encodeMessage(message), 0);
    if (response.status !== Status.OK) {
      throw new ServerError(`${peerId} answered ${statusName(response.status)}: ${response.value.toString('utf8')}`);
    }
    const reply = decodeMessage(response.value);
    if (!reply) throw new ServerError(`${peerId} sent a malformed membership reply`);
    return reply;
  }

  /** Closes the connections to a member that is gone. */
  forget(peerId: string): void {
    for (const pool of [this.forwarding, this.membership, this.transfers]) {
      const connection = pool.get(peerId);
      if (connection) void connection.close();
      pool.delete(peerId);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.forwarding.values(), ...this.membership.values(), ...this.transfers.values()];
    this.forwarding.clear();
    this.membership.clear();
    this.transfers.clear();
    await Promise.all(all.map((connection) => connection.close()));
  }

  private connection(pool: Map<string, NodeConnection>, peerId: string, timeoutMs: number, maxResponseBytes?: number): NodeConnection {
    if (this.closed) throw new ServerError('the peer pool is closed');
    let connection = pool.get(peerId);
    if (!connection) {
      connection = new NodeConnection(parseNodeAddress(peerId, 'member address'), {
        timeoutMs,
        connectTimeoutMs: this.options.connectTimeoutMs,
        maxPending: this.options.maxPendingPerPeer,
        ...(maxResponseBytes === undefined ? {} : { maxResponseBytes }),
        memberHello: () => this.sentHellos.create(this.options.selfId, peerId, this.options.clusterKey),
        ...(this.options.localAddress === undefined ? {} : { localAddress: this.options.localAddress }),
      });
      pool.set(peerId, connection);
    }
    // A peer that failed before may be back (restarted): try again now rather than after the backoff.
    if (connection.state === 'backoff') connection.connect();
    return connection;
  }
}
