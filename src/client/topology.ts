/**
 * What a smart client knows of the cluster: the last TOPOLOGY a node gave, and a HashRing built from it exactly
 * as the nodes build theirs (same vnodes, the ids of the members that own keys), so the client sends each key
 * straight to its owner. Anything a node sends is checked before use; a ring whose checksum does not match the
 * node's is not used (the client then proxies through any node rather than guess).
 */
import { HashRing } from '../consistent/ring';
import { ProtocolError } from '../errors';

export interface ClusterMember {
  id: string;
  address: string;
  state: 'alive' | 'suspect' | 'leaving' | 'dead' | 'left';
  incarnation: number;
}

/** The answering node's request limits (absent from nodes that predate them: the client then assumes the defaults). */
export interface NodeLimits {
  maxKeyBytes: number;
  maxValueBytes: number;
  /** The largest response the node sends for one request; an MGET that could exceed it is split. */
  maxResponseBytes: number;
}

export interface TopologySnapshot {
  self: string;
  vnodes: number;
  epoch: number;
  checksum: number;
  members: ClusterMember[];
  limits?: NodeLimits;
  /** The answering node is still joining: its member list is partial, not a ring to route by. */
  joining?: boolean;
  /** Copies of each key (the node's --replicas): a key's owner and the next distinct members hold it. 1 when absent. */
  replicas: number;
}

const STATES = new Set(['alive', 'suspect', 'leaving', 'dead', 'left']);
const MAX_MEMBERS = 10_000;

/** Parses and range-checks a TOPOLOGY answer. */
export function parseTopology(text: string): TopologySnapshot {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ProtocolError('TOPOLOGY answer is not JSON');
  }
  const t = raw as Partial<Record<keyof TopologySnapshot, unknown>>;
  const bad = (what: string) => new ProtocolError(`TOPOLOGY answer has a bad ${what}`);
  if (raw === null || typeof raw !== 'object') throw bad('body');
  if (typeof t.self !== 'string') throw bad('self');
  if (typeof t.vnodes !== 'number' || !Number.isInteger(t.vnodes) || t.vnodes < 1 || t.vnodes > 4096) throw bad('vnodes');
  if (typeof t.epoch !== 'number' || !Number.isInteger(t.epoch) || t.epoch < 0) throw bad('epoch');
  if (typeof t.checksum !== 'number' || !Number.isInteger(t.checksum) || t.checksum < 0 || t.checksum > 0xffffffff) throw bad('checksum');
  if (!Array.isArray(t.members) || t.members.length === 0 || t.members.length > MAX_MEMBERS) throw bad('member list');
  const members = t.members.map((m: unknown): ClusterMember => {
    const member = m as Partial<Record<keyof ClusterMember, unknown>>;
    if (m === null || typeof m !== 'object') throw bad('member');
    if (typeof member.id !== 'string' || !/^[^\s]+:\d{1,5}$/.test(member.id)) throw bad('member id');
    if (typeof member.state !== 'string' || !STATES.has(member.state)) throw bad('member state');
    if (typeof member.incarnation !== 'number' || !Number.isSafeInteger(member.incarnation)) throw bad('incarnation');
    return {
      id: member.id,
      address: typeof member.address === 'string' ? member.address : member.id,
      state: member.state as ClusterMember['state'],
      incarnation: member.incarnation,
    };
  });
  const replicas = t.replicas ?? 1;
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 1 || replicas > 5) throw bad('replica count');
  const snapshot: TopologySnapshot = { self: t.self, vnodes: t.vnodes, epoch: t.epoch, checksum: t.checksum, members, replicas };
  if (t.limits !== undefined) snapshot.limits = parseLimits(t.limits, bad);
  if (t.joining !== undefined) {
    if (typeof t.joining !== 'boolean') throw bad('joining flag');
    if (t.joining) snapshot.joining = true;
  }
  return snapshot;
}

function parseLimits(raw: unknown, bad: (what: string) => Error): NodeLimits {
  if (raw === null || typeof raw !== 'object') throw bad('limits');
  const l = raw as Partial<Record<keyof NodeLimits, unknown>>;
  const positive = (value: unknown, name: string): number => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw bad(`limits.${name}`);
    return value;
  };
  return {
    maxKeyBytes: positive(l.maxKeyBytes, 'maxKeyBytes'),
    maxValueBytes: positive(l.maxValueBytes, 'maxValueBytes'),
    maxResponseBytes: positive(l.maxResponseBytes, 'maxResponseBytes'),
  };
}

/** The ring a topology describes, or undefined when it would not match the node's (then: proxy). */
export function ringOf(snapshot: TopologySnapshot): HashRing | undefined {
  const ring = new HashRing({ vnodes: snapshot.vnodes });
  ring.setNodes(snapshot.members.filter((member) => member.state === 'alive' || member.state === 'suspect').map((member) => member.id));
  return ring.checksum === snapshot.checksum && ring.size > 0 ? ring : undefined;
}
