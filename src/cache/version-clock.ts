/**
 * Item versions (docs/ARCHITECTURE.md, "Versions"): a hybrid logical clock. A version is one integer,
 * milliseconds × 1024 + a counter, exact in a double until the year 2248. The owner that accepts a write stamps
 * it with next(), which is above the wall clock and above every version this node has issued or seen
 * (observe()), so a write made after a copy arrived here always wins over that copy. Ties between members are
 * broken by a 32-bit tag of the member's id.
 *
 * A version from another member that is implausibly far ahead of the wall clock (a broken clock) is not
 * adopted: following it would stamp every later local write with a future time.
 */

/** Versions per millisecond: the counter's range before the clock part moves on. */
export const VERSIONS_PER_MS = 1024;
/** How far ahead of this node's wall clock a peer's version may be and still move this clock. */
const MAX_AHEAD_MS = 60_000;

export class VersionClock {
  private last = 0;
  /** Versions from peers that were too far ahead to adopt. */
  rejectedAhead = 0;

  constructor(
    /** Breaks ties between two members' equal versions: xxh32 of the member id, 0 on a single node. */
    private tag = 0,
    private readonly now: () => number = Date.now,
  ) {}

  get nodeTag(): number {
    return this.tag;
  }

  /** Sets the member tag once the node knows its id (versions issued before keep theirs). */
  retag(tag: number): void {
    this.tag = tag | 0;
  }

  /** A version above every one issued or observed so far. */
  next(): number {
    const wall = this.now() * VERSIONS_PER_MS;
    this.last = wall > this.last ? wall : this.last + 1;
    return this.last;
  }

  /** Moves the clock past a version another member issued (a copy applied here). */
  observe(version: number): void {
    if (version <= this.last) return;
    if (version > (this.now() + MAX_AHEAD_MS) * VERSIONS_PER_MS) {
      this.rejectedAhead++;
      return;
    }
    this.last = version;
  }

  /** The latest version issued or observed (0 before any). */
  get current(): number {
    return this.last;
  }
}

/** True when (version, tag) is newer than (otherVersion, otherTag): the version first, then the member tag. */
export function isNewer(version: number, tag: number, otherVersion: number, otherTag: number): boolean {
  return version > otherVersion || (version === otherVersion && tag >>> 0 > otherTag >>> 0);
}

/** A version's wall-clock milliseconds (for logs and tests). */
export function versionMs(version: number): number {
  return Math.floor(version / VERSIONS_PER_MS);
}
