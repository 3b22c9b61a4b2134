/**
 * When the diagnostics panel loads (issue #13: chat first). Its chunk (uPlot, the path diagram,
 * the tables) is evaluated and rendered on the page's one main thread; loaded while the room came
 * up, that ran exactly while the first peer connection was being set up (in the NAT lab ~15 ms
 * to evaluate, ~20–30 ms to render a person's section and lay it out), and so did the rendering
 * of each person's section as they arrived. So the panel waits until the room is no longer
 * `settling` (room-session.svelte.ts), then for an idle moment; a slow or failing connection
 * gets it anyway after {@link PANEL_MAX_DEFER_MS}, and a person can ask for it at any time.
 */

/** Longest the panel waits for the room to settle, ms since the room view mounted. */
export const PANEL_MAX_DEFER_MS = 2000;

/** Longest it then waits for an idle moment (`requestIdleCallback`'s `timeout`), ms. */
export const PANEL_IDLE_TIMEOUT_MS = 500;

/**
 * Runs `run` once the main thread is idle, or after `timeoutMs` at the latest; returns the
 * cancel. Where `requestIdleCallback` is missing (Safari before 18.x), a plain zero-delay timer.
 */
export function whenIdle(run: () => void, timeoutMs: number): () => void {
  if (typeof requestIdleCallback === 'function') {
    const id = requestIdleCallback(() => run(), { timeout: timeoutMs });
    return () => cancelIdleCallback(id);
  }
  const timer = setTimeout(run, 0);
  return () => clearTimeout(timer);
}
