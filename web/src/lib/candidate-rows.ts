/**
 * Candidate rows of the panel's tables: a trickled candidate line, when it was seen, and the
 * server that produced it. Pure.
 */
import type { ParsedIceCandidate } from './ice-candidate.ts';
import type { CandidateInfo } from './ice-report.ts';

/** A candidate as the panel lists it. */
export interface CandidateRow extends ParsedIceCandidate {
  /** Time from the peer connection's creation to the candidate being seen, ms. */
  atMs: number;
  /** The STUN/TURN server URL that produced it (local srflx/relay, from `getStats()`). */
  url?: string;
}

function key(candidate: { type: string; address?: string; port: number }): string {
  return `${candidate.type} ${candidate.address ?? ''} ${candidate.port}`;
}

/**
 * Fills in `url` from `getStats()` local candidates: trickled lines do not name their server, but
 * `RTCIceCandidateStats.url` does (webrtc-stats §7.14). Matches on type, address and port.
 * Returns the same array when nothing changes, so reactive state is not replaced for nothing.
 */
export function attachServerUrls(
  rows: readonly CandidateRow[],
  stats: readonly CandidateInfo[],
): readonly CandidateRow[] {
  const urls = new Map<string, string>();
  for (const candidate of stats) if (candidate.url) urls.set(key(candidate), candidate.url);
  if (!rows.some((row) => row.url === undefined && urls.has(key(row)))) return rows;
  return rows.map((row) => (row.url === undefined ? { ...row, url: urls.get(key(row)) } : row));
}
