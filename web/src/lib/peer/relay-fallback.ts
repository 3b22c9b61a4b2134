/**
 * When to give up on a direct path and retry through the relay (TURN), and the time bounds the
 * failure explanation (diagnostics/failure.ts) shares. Kept apart from that explanation because
 * the session needs this before the diagnostics' analysis has loaded (issue #13); the reasoning
 * behind the bounds is written down in failure.ts.
 */
import type { TurnConfig } from '../nat/turn-config.ts';

/**
 * How long a direct path gets before the session, if TURN is configured, retries with
 * `iceTransportPolicy: 'relay'`, ms: several times the 2–3 s a working direct path takes, to
 * allow for slow signaling, mobile round trips and the odd lost check.
 */
export const DIRECT_TIMEOUT_MS = 8 * 1000;

/**
 * How long any one attempt (direct, or the relay-only retry) may make no connection before the
 * panel says it failed and why, ms. Roughly half Chromium's own ~30 s to ICE `failed`, and more
 * than {@link DIRECT_TIMEOUT_MS} so the relay fallback gets its turn first.
 */
export const ICE_PROGRESS_TIMEOUT_MS = 15 * 1000;

/** Inputs of {@link shouldFallBackToRelay}. */
export interface FallbackInput {
  iceConnectionState: RTCIceConnectionState;
  connectionState: RTCPeerConnectionState;
  /** Time since this attempt's peer connection was created, ms. */
  elapsedMs: number;
  /** This attempt is the relay-only retry. */
  relayOnly: boolean;
  /** From `turnConfig(iceServers)`. */
  turn: TurnConfig;
}

/** The panel's line when the session retries through the relay. */
export const FALLBACK_NOTICE = `No direct path after ${DIRECT_TIMEOUT_MS / 1000} s: retrying through the relay (TURN) only.`;

/**
 * True when the session should drop this attempt and retry with `iceTransportPolicy: 'relay'`:
 * TURN is configured, this is not already the relay attempt, nothing is connected, and ICE failed
 * or {@link DIRECT_TIMEOUT_MS} has passed. Never throws.
 */
export function shouldFallBackToRelay(input: FallbackInput): boolean {
  if (!input.turn.configured || input.relayOnly) return false;
  if (isUp(input) || isClosed(input)) return false;
  return isFailed(input) || input.elapsedMs >= DIRECT_TIMEOUT_MS;
}

/** ICE or the peer connection is connected. */
export function isUp({ iceConnectionState, connectionState }: FallbackInput): boolean {
  return (
    iceConnectionState === 'connected' ||
    iceConnectionState === 'completed' ||
    connectionState === 'connected'
  );
}

/** ICE or the peer connection is closed. */
export function isClosed({ iceConnectionState, connectionState }: FallbackInput): boolean {
  return iceConnectionState === 'closed' || connectionState === 'closed';
}

/** ICE or the peer connection failed. */
export function isFailed({ iceConnectionState, connectionState }: FallbackInput): boolean {
  return iceConnectionState === 'failed' || connectionState === 'failed';
}
