/**
 * The smart client's topology fetches: TOPOLOGY from a live node, one fetch at a time. Triggers that arrive
 * during a fetch (an epoch change, a lost connection, a request to try again) are coalesced into one more pass,
 * so whoever asks after a change gets a topology fetched after it.
 */
import { ConnectionError } from '../errors';
import { Opcode, Status, statusName } from '../protocol/constants';
import type { NodeConnection } from './connection';
import { type TopologySnapshot, parseTopology } from './topology';

export class TopologyFetch {
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    /** A live node to ask, or the error saying there is none. */
    private readonly node: () => NodeConnection | Error,
    private readonly apply: (snapshot: TopologySnapshot) => void,
    private readonly closed: () => boolean,
  ) {}

  /** Fetches soon; errors are left for the next trigger. */
  soon(): void {
    if (this.running) this.again = true;
    else void this.fetch().catch(() => undefined);
  }

  /** Resolves once a topology fetched after this call has been applied: a fetch under way is followed by another. */
  fresh(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    return this.fetch();
  }

  /** Asks a live node for TOPOLOGY and applies it (joins the fetch under way, if any). */
  fetch(): Promise<void> {
    if (this.running) return this.running;
    // Cleared from a callback, never from inside the loop: a loop that fails before its first await would
    // clear it before it is set, and leave a rejected fetch in place for good.
    const run = this.loop().finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      const c = this.node();
      if (c instanceof Error) throw c;
      const response = await c.requestRaw(Opcode.TOPOLOGY, 0, null, null, 0);
      if (response.status !== Status.OK) throw new ConnectionError(`${c.address.id} answered TOPOLOGY with ${statusName(response.status)}`);
      this.apply(parseTopology(response.value.toString('utf8')));
    } while (this.again && !this.closed());
  }
}
