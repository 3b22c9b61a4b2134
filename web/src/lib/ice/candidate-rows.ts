/**
 * Candidate rows of the panel's tables: a trickled candidate line, when it was seen, and the
 * server that produced it. Pure.
 */
import type { ParsedIceCandidate } from './ice-candidate.ts';
import type { CandidateInfo, RelayProtocol } from './ice-report.ts';

/** A candidate as the panel lists it. */
export interface CandidateRow extends ParsedIceCandidate {
  /** Time from the start of ICE gathering to the candidate being seen, ms. */
  atMs: number;
  /** The STUN/TURN server URL that produced it (local srflx/relay, from `getStats()`). */
  url?: string;
  /** Local relay candidates: how the browser reached the TURN server (from `getStats()`). */
  relayProtocol?: RelayProtocol;
}

function key(candidate: { type: string; address?: string; port: number }): string {
  return `${candidate.type} ${candidate.address ?? ''} ${candidate.port}`;
}

/**
 * Fills in `url` and `relayProtocol` from `getStats()` local candidates: trickled lines name
 * neither, but `RTCIceCandidateStats` does (webrtc-stats §7.14). Matches on type, address and
 * port. Returns the same array when nothing changes, so reactive state is not replaced for nothing.
 */
export function attachCandidateStats(
  rows: readonly CandidateRow[],
  stats: readonly CandidateInfo[],
): readonly CandidateRow[] {
  const byKey = new Map<string, CandidateInfo>();
  for (const candidate of stats) if (candidate.url) byKey.set(key(candidate), candidate);
  const missing = (row: CandidateRow) => row.url === undefined && byKey.has(key(row));
  if (!rows.some(missing)) return rows;
  return rows.map((row) => {
    const found = missing(row) ? byKey.get(key(row)) : undefined;
    if (!found) return row;
    const filled: CandidateRow = { ...row, url: found.url };
    if (found.relayProtocol) filled.relayProtocol = found.relayProtocol;
    return filled;
  });
}
