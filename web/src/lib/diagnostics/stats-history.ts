/**
 * The last few minutes of one connection's `getStats()` readings, for the live graphs and the
 * RTT sparkline (issue #13): round-trip time and payload bytes per second each way, one point per
 * reading (the room reads stats at 1 Hz, STATS_INTERVAL_MS). Pure: each reading returns a new
 * history.
 *
 * Rates come from the selected candidate pair's `bytesSent`/`bytesReceived` (webrtc-stats
 * §RTCIceCandidatePairStats: payload bytes, no headers or STUN). When the selected pair changes
 * (or a new peer connection starts), its counters start again, so that reading has no rate
 * rather than a negative or inflated one.
 */

/** How much history is kept, ms. */
export const HISTORY_WINDOW_MS = 5 * 60 * 1000;

/** One `getStats()` reading of the selected pair. */
export interface StatsReading {
  /** When it was read, ms (the page's clock). */
  atMs: number;
  /** The selected pair's stats id; `null` when none is selected. */
  pairId: string | null;
  /** Its latest STUN round trip, ms. */
  rttMs?: number;
  bytesSent?: number;
  bytesReceived?: number;
}

/** One point of the graphs. `null` where there is nothing to draw (a gap). */
export interface StatsPoint {
  atMs: number;
  rttMs: number | null;
  /** Payload bytes per second we sent, since the previous reading on the same pair. */
  sentBytesPerS: number | null;
  receivedBytesPerS: number | null;
}

/** The history: points oldest first, and the reading the next rate is computed against. */
export interface StatsHistory {
  points: readonly StatsPoint[];
  last: StatsReading | null;
}

export const EMPTY_HISTORY: StatsHistory = { points: [], last: null };

/** Bytes per second between two counter values, or `null` if there is no honest rate. */
function rate(
  before: number | undefined,
  after: number | undefined,
  seconds: number,
): number | null {
  if (before === undefined || after === undefined || seconds <= 0 || after < before) return null;
  return (after - before) / seconds;
}

/**
 * Adds a reading: a new point (rates against the previous reading when it was on the same pair),
 * and drops points older than `windowMs` before it. A reading older than the last one is ignored.
 */
export function addReading(
  history: StatsHistory,
  reading: StatsReading,
  windowMs = HISTORY_WINDOW_MS,
): StatsHistory {
  const last = history.last;
  if (last !== null && reading.atMs <= last.atMs) return history;
  const samePair = last !== null && reading.pairId !== null && last.pairId === reading.pairId;
  const seconds = last === null ? 0 : (reading.atMs - last.atMs) / 1000;
  const point: StatsPoint = {
    atMs: reading.atMs,
    rttMs: reading.pairId === null ? null : (reading.rttMs ?? null),
    sentBytesPerS: samePair ? rate(last.bytesSent, reading.bytesSent, seconds) : null,
    receivedBytesPerS: samePair ? rate(last.bytesReceived, reading.bytesReceived, seconds) : null,
  };
  const from = reading.atMs - windowMs;
  return {
    points: [...history.points.filter((p) => p.atMs >= from), point],
    last: reading,
  };
}

/**
 * A round-trip time as the panel writes it: one decimal under 10 ms (loopback and LAN paths), whole
 * milliseconds above, without the unit, e.g. "0.4", "23".
 */
export function formatRttMs(ms: number): string {
  return ms < 10 ? ms.toFixed(1) : ms.toFixed(0);
}

/** The RTTs of the last `count` points that have one, oldest first: the sparkline's data. */
export function recentRtts(history: StatsHistory, count: number): number[] {
  const rtts = history.points.map((p) => p.rttMs).filter((ms) => ms !== null);
  return rtts.slice(-count);
}
