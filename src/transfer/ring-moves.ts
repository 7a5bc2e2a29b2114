/**
 * Which hash ranges changed owner between two rings (docs/ARCHITECTURE.md, "Data movement"). Both rings' points
 * cut the hash space into arcs on which neither ring changes owner; an arc (previous point, point] belongs in
 * each ring to the owner of that ring's first point at or after the arc's end, and the arc that wraps past
 * 2^32 − 1 to each ring's first point. Arcs whose owners differ are moves.
 */
import { HashRing } from '../consistent/ring';

export interface RingMove {
  /** First and last hash of the arc (inclusive); an arc that wraps is reported as two. */
  lo: number;
  hi: number;
  from: string;
  to: string;
}

/** The arcs whose owner differs between `before` and `after` (none when either ring is empty). */
export function ringMoves(before: HashRing, after: HashRing): RingMove[] {
  const a = before.snapshot().points;
  const b = after.snapshot().points;
  if (a.length === 0 || b.length === 0) return [];
  const cuts = new Uint32Array(a.length + b.length);
  cuts.set(a);
  cuts.set(b, a.length);
  cuts.sort();
  const beforeIds = before.nodes;
  const afterIds = after.nodes;
  const moves: RingMove[] = [];
  const add = (lo: number, hi: number, at: number): void => {
    const from = beforeIds[before.ownerOfHash(at)]!;
    const to = afterIds[after.ownerOfHash(at)]!;
    if (from === to) return;
    const last = moves[moves.length - 1];
    if (last !== undefined && last.hi + 1 === lo && last.from === from && last.to === to) last.hi = hi;
    else moves.push({ lo, hi, from, to });
  };
  let previous = -1;
  for (let i = 0; i < cuts.length; i++) {
    const cut = cuts[i]!;
    if (cut === previous) continue;
    add(previous + 1, cut, cut);
    previous = cut;
  }
  // Past the last cut the hash wraps: those hashes belong to each ring's first point.
  if (previous < 0xffffffff) add(previous + 1, 0xffffffff, 0);
  return moves;
}

/** A ring over `members` with the same virtual nodes as `like` (TS lookups: it answers few of them). */
export function ringOf(members: Iterable<string>, like: HashRing): HashRing {
  const ring = new HashRing({ vnodes: like.vnodes, native: false });
  ring.setNodes(members);
  return ring;
}
