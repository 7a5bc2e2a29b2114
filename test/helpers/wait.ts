/** The one way tests wait for a condition: look again until it holds, fail with what was awaited after a deadline. */

/**
 * Resolves with the milliseconds waited once `check` holds (it may be async), looking again every `everyMs`
 * (0: on every event-loop turn); rejects after `timeoutMs` with `what` in the message.
 */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000, everyMs = 10): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((resolve) => (everyMs === 0 ? setImmediate(resolve) : setTimeout(resolve, everyMs)));
  }
  return Date.now() - started;
}
