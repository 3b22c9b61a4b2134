/**
 * How far a file has got, in words a person reads (issue #11: "the bytes, percent, rate in MB/s
 * and time left"). Pure: times are parameters. Sizes are decimal (1 MB = 10^6 bytes), as file
 * managers and network tools show them.
 */

import type { TransferState } from './transfer.ts';

/** How far back a rate looks, ms: long enough to smooth SCTP's bursts, short enough to follow a change. */
export const RATE_WINDOW_MS = 3000;

/** `1536` → "1.5 kB", `20_000_000` → "20.0 MB". */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** `65_000` ms → "1 min 5 s"; `4_200` → "5 s" (rounded up: never promise less than is left). */
export function formatDuration(ms: number): string {
  const seconds = Math.ceil(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** Transfer rate over the last {@link RATE_WINDOW_MS}, from samples of bytes done. */
export class RateMeter {
  #samples: { atMs: number; bytes: number }[] = [];

  /** `bytes` were done at `atMs` (monotonic ms); bytes never go down except on a restart. */
  add(atMs: number, bytes: number): void {
    const last = this.#samples.at(-1);
    if (last && bytes < last.bytes) this.#samples = [];
    this.#samples.push({ atMs, bytes });
    while (this.#samples.length > 2 && this.#samples[1]!.atMs < atMs - RATE_WINDOW_MS) {
      this.#samples.shift();
    }
  }

  /** bytes/s, or `null` with less than 250 ms of samples (too little to say). */
  rate(atMs: number): number | null {
    const first = this.#samples[0];
    const last = this.#samples.at(-1);
    if (!first || !last) return null;
    const spanMs = Math.max(last.atMs, atMs) - first.atMs;
    if (spanMs < 250) return null;
    return ((last.bytes - first.bytes) * 1000) / spanMs;
  }
}

/**
 * "3.2 MB of 20.0 MB · 16% · 4.1 MB/s · 5 s left"; without a rate (just started, or stalled at
 * 0 B/s) the last two parts are left out rather than guessed.
 */
export function describeProgress(
  bytes: number,
  size: number,
  rateBytesPerS: number | null,
): string {
  const percent = size === 0 ? 100 : Math.floor((bytes / size) * 100);
  const parts = [`${formatBytes(bytes)} of ${formatBytes(size)}`, `${percent}%`];
  if (rateBytesPerS !== null && rateBytesPerS > 0 && bytes < size) {
    parts.push(`${(rateBytesPerS / 1e6).toFixed(1)} MB/s`);
    parts.push(`${formatDuration(((size - bytes) / rateBytesPerS) * 1000)} left`);
  }
  return parts.join(' · ');
}

/** What a file line says about one recipient's (or my received) copy, once it is not moving. */
export function describeOutcome(
  direction: 'out' | 'in',
  row: {
    name: string;
    state: TransferState;
    error: string | null;
    paused: boolean;
    resentBytes?: number;
  },
): string {
  const mine = direction === 'out';
  switch (row.state) {
    case 'offered':
      return mine ? `Waiting for ${row.name} to accept.` : 'Accept to receive it.';
    case 'sending':
    case 'checking':
      return row.paused ? 'Waiting for the connection to come back.' : '';
    case 'verified':
      if (!mine) return 'Arrived intact: its SHA-256 matches the sender’s.';
      return row.resentBytes
        ? `Delivered to ${row.name}: their copy matches (SHA-256). The connection dropped on the way: ${formatBytes(row.resentBytes)} went twice.`
        : `Delivered to ${row.name}: their copy matches (SHA-256).`;
    case 'corrupt':
      return mine
        ? `Arrived corrupted at ${row.name}: the SHA-256 did not match.`
        : 'The file was corrupted on the way: its SHA-256 does not match the sender’s, so it cannot be saved.';
    case 'declined':
      return mine
        ? `${row.name} declined${row.error ? `: ${row.error}` : '.'}`
        : `Declined${row.error ? `: ${row.error}` : '.'}`;
    case 'cancelled':
      return `Cancelled: ${row.error ?? ''}`.trim();
    case 'failed':
      return `Failed: ${row.error ?? 'the transfer broke the file protocol.'}`;
  }
}
