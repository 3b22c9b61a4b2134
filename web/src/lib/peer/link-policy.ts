/**
 * When to (re)build the peer connection, and who makes the offer. Pure. One rule everywhere:
 * the peer with the smaller id is the offerer for every connection attempt, first or not, so the
 * two sides never offer at once ("glare", RFC 8829 §4.1.8.1) and never both wait.
 */

/** ICE `disconnected` for this long means the path is gone: rebuild, ms. Chromium declares
 * `disconnected` after ~2.5 s without STUN consent responses (RFC 7675 §5.1) and `failed` only
 * after ~30 s; a person should not wait that long. */
export const DISCONNECTED_GRACE_MS = 3 * 1000;

/** A connection attempt that has not opened the data channel by then is retried, ms. */
export const ATTEMPT_TIMEOUT_MS = 20 * 1000;

/** Least time between two rebuilds by the offerer, ms (a restart request can repeat). */
export const MIN_REBUILD_INTERVAL_MS = 1500;

/** True when `selfId` makes the offer to `remoteId` (the smaller id offers). */
export function isOfferer(selfId: string, remoteId: string): boolean {
  return selfId < remoteId;
}

/** Inputs of {@link linkHealth}. */
export interface LinkSnapshot {
  /** The data channel is open. */
  open: boolean;
  iceConnectionState: RTCIceConnectionState | null;
  /** Time since the attempt started, ms. */
  ageMs: number;
  /** Time since ICE last entered `disconnected`, ms; `null` when it is not disconnected. */
  disconnectedForMs: number | null;
  /** The link closed or failed (simple-peer `close`/`error`). */
  ended: boolean;
}

/** `healthy`: leave it; `broken`: rebuild (offerer) or ask the offerer to (answerer). */
export type LinkHealth = 'healthy' | 'broken';

/** Judges one connection attempt from its state. */
export function linkHealth(link: LinkSnapshot): LinkHealth {
  if (link.ended || link.iceConnectionState === 'failed') return 'broken';
  if (link.disconnectedForMs !== null && link.disconnectedForMs >= DISCONNECTED_GRACE_MS) {
    return 'broken';
  }
  if (!link.open && link.ageMs >= ATTEMPT_TIMEOUT_MS) return 'broken';
  return 'healthy';
}
