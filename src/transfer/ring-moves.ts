/**
 * Which hash ranges a member gains between two rings, and from whom (docs/ARCHITECTURE.md, "Data movement" and
 * "Replicas"). Both rings' points cut the hash space into arcs on which neither ring changes a replica set; an
 * arc (previous point, point] is held in each ring by the first `replicas` distinct owners from that ring's
 * first point at or after the arc's end (wrapping). A member in the arc's set after but not before gains it,
 * from one source that every member picks alike: the first member of the set before that still owns keys
 * after (it stays, so it keeps its copy), else the first of the set before (a leaving member hands over).
 */
import { HashRing, MAX_REPLICAS } from '../consistent/ring';

export interface RingMove {
  /** First and last hash of the arc (inclusive); an arc that wraps is reported as two. */
  lo: number;
  hi: number;
  from: string;
  to: string;
}

/** The arcs each member gains between `before` and `after` with `replicas` copies (none when either ring is empty). */
export function ringMoves(before: HashRing, after: HashRing, replicas = 1): RingMove[] {
  const a = before.snapshot().points;
  const b = after.snapshot().points;
  if (a.length === 0 || b.length === 0) return [];
  const cuts = new Uint32Array(a.length + b.length);
  cuts.set(a);
  cuts.set(b, a.length);
  cuts.sort();
  const beforeIds = before.nodes;
  const afterIds = after.nodes;
  const setBefore = new Int32Array(MAX_REPLICAS);
  const setAfter = new Int32Array(MAX_REPLICAS);
  const n = Math.min(replicas, MAX_REPLICAS);
  const moves: RingMove[] = [];
  // The last move per gainer, to merge adjacent arcs with the same source.
  const lastOf = new Map<string, RingMove>();
  const add = (lo: number, hi: number, at: number): void => {
    const countBefore = before.holdersOfHash(at, n, setBefore);
    const countAfter = after.holdersOfHash(at, n, setAfter);
    let from: string | undefined;
    for (let i = 0; i < countAfter; i++) {
      const to = afterIds[setAfter[i]!]!;
      let held = false;
      for (let k = 0; k < countBefore && !held; k++) held = beforeIds[setBefore[k]!] === to;
      if (held) continue;
      from ??= sourceOf(setBefore, countBefore, beforeIds, after);
      const last = lastOf.get(to);
      if (last !== undefined && last.hi + 1 === lo && last.from === from) {
        last.hi = hi;
      } else {
        const move = { lo, hi, from, to };
        moves.push(move);
        lastOf.set(to, move);
      }
    }
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

/** The member a gainer pulls an arc from: the first holder before that still owns keys after, else the first. */
function sourceOf(set: Int32Array, count: number, ids: readonly string[], after: HashRing): string {
  for (let k = 0; k < count; k++) {
    const id = ids[set[k]!]!;
    if (after.has(id)) return id;
  }
  return ids[set[0]!]!;
}

/** A ring over `members` with the same virtual nodes as `like` (TS lookups: it answers few of them). */
export function ringOf(members: Iterable<string>, like: HashRing): HashRing {
  const ring = new HashRing({ vnodes: like.vnodes, native: false });
  ring.setNodes(members);
  return ring;
}

/** True when `hash` lies in one of the sorted, disjoint arcs (lo, hi pairs, inclusive). */
export function inArcs(arcs: Uint32Array, hash: number): boolean {
  let low = 0;
  let high = arcs.length >>> 1;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (arcs[2 * middle + 1]! < hash) low = middle + 1;
    else high = middle;
  }
  return low < arcs.length >>> 1 && arcs[2 * low]! <= hash;
}

/** The arcs of some moves as sorted, merged (lo, hi) pairs. */
export function arcsOf(moves: ReadonlyArray<Pick<RingMove, 'lo' | 'hi'>>): Uint32Array {
  const sorted = [...moves].sort((x, y) => x.lo - y.lo);
  const out: number[] = [];
  for (const { lo, hi } of sorted) {
    const end = out.length - 1;
    if (end > 0 && out[end]! + 1 >= lo) out[end] = Math.max(out[end]!, hi);
    else out.push(lo, hi);
  }
  return Uint32Array.from(out);
}
