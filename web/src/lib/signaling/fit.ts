/**
 * Sizes a diagnostics view to the signaling server's limits before it leaves the page (issue #10:
 * "the page sizes what it sends in bytes against them"). A view that does not fit loses its
 * bulkiest parts first; the NAT report, which the other side's forecast needs, goes last.
 */
import { scanJson } from '../../../../signaling/bounded-json.ts';
import { JSON_LIMITS, type PeerInfo } from '../../../../signaling/protocol.ts';

/**
 * Bounds for our diagnostics view inside a `peer-info` frame: half the frame's items, and the
 * frame's depth less the levels that wrap the view (frame → data → info → view).
 */
const VIEW_JSON_LIMITS = { maxDepth: JSON_LIMITS.maxDepth - 4, maxItems: JSON_LIMITS.maxItems / 2 };

/** Room left in a frame for what wraps the info (`{"type":"signal","to":…,"data":…}`), bytes. */
const ENVELOPE_BYTES = 256;

const encoder = new TextEncoder();

function fits(info: PeerInfo, maxBytes: number): boolean {
  const text = JSON.stringify(info);
  return encoder.encode(text).length <= maxBytes && scanJson(text, VIEW_JSON_LIMITS) === null;
}

/**
 * `info` as it may be sent in a frame of at most `maxFrameBytes` (the server's, from `hello`):
 * whole if it fits in half a frame, else without the view's pair grid, then without its
 * candidate tables and pair history, then without the view. `null` when not even the NAT report
 * fits (it never does not: a report is ~2 KiB). Returns fresh objects; `info` is not changed.
 */
export function fitPeerInfo(info: PeerInfo, maxFrameBytes: number): PeerInfo | null {
  const budget = Math.max(0, Math.floor(maxFrameBytes / 2) - ENVELOPE_BYTES);
  const view = info.view;
  const tries: PeerInfo[] = [info];
  if (view) {
    tries.push({ ...info, view: { ...view, pairs: [] } });
    tries.push({
      ...info,
      view: {
        ...view,
        pairs: [],
        pairHistory: [],
        localCandidates: [],
        remoteCandidates: [],
        timeline: [],
      },
    });
    tries.push({ ...info, view: null });
  }
  return tries.find((candidate) => fits(candidate, budget)) ?? null;
}
