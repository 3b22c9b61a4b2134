/**
 * Reconnect delays: exponential backoff with full jitter ("Exponential Backoff And Jitter", AWS
 * Architecture Blog, 2015): after a server restart every page retries at a random point in the
 * window instead of all at once. Pure: the random source is a parameter.
 */

/** First retry window, ms. */
export const BACKOFF_BASE_MS = 500;
/** Largest retry window, ms: a person waits at most this long after the server is back. */
export const BACKOFF_CAP_MS = 10 * 1000;

/**
 * Delay before reconnect attempt `attempt` (0 for the first retry), ms: uniform in
 * [0, min(cap, base × 2^attempt)). `random` returns [0, 1), like `Math.random`.
 */
export function backoffDelayMs(attempt: number, random: () => number = Math.random): number {
  const window = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempt));
  return Math.floor(random() * window);
}
