/**
 * How often a listener looks for connections to close: half-sent frames or commands, idle connections, slow
 * readers. A stalled frame closes within its timeout plus this.
 */
const SWEEP_INTERVAL_MS = 250;

/** The sweep runs often enough for the shortest timeout to be kept within a quarter of itself. */
export function sweepIntervalFor(...timeoutsMs: number[]): number {
  let interval = SWEEP_INTERVAL_MS;
  for (const timeout of timeoutsMs) if (timeout > 0) interval = Math.min(interval, Math.max(10, Math.floor(timeout / 4)));
  return interval;
}
