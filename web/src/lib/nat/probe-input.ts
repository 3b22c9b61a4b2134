/**
 * What the NAT test gathers (`rtc/nat-probe.ts` builds it, `nat-classifier.ts` reads it), kept
 * apart from the classifier so the page can gather before the classifier's code has loaded
 * (issue #13: the analysis is loaded after the room view is up, the gathering is not).
 */
import { parseIceUrl } from '../../../../common/ice-url.ts';
import { parseIceCandidate, type ParsedIceCandidate } from '../ice/ice-candidate.ts';
import type { IceServer } from '../../../../signaling/protocol.ts';

/** A candidate the probe gathered: the parsed line, plus what the browser said beside it. */
export interface GatheredCandidate extends ParsedIceCandidate {
  /** `RTCIceCandidate.url` (Chromium): the STUN/TURN server that produced a srflx/relay one. */
  url?: string;
  /** Chromium's `network-id` extension: which network interface the socket belongs to. */
  networkId?: number;
  /** Time from the probe's start, ms. */
  atMs?: number;
}

/** One `icecandidateerror` (webrtc-pc §4.8.2); structurally a superset of `rtc/peer.ts`'s. */
export interface ProbeError {
  /** The STUN/TURN server, as the browser writes it, e.g. `stun:203.0.113.10:3479`. */
  url: string;
  /** STUN error code (RFC 8489 §14.8), or 701 when the server could not be reached at all. */
  errorCode: number;
  errorText: string;
  /**
   * Local address of the socket that failed, if the browser tells (Chromium redacts the last
   * part, e.g. `10.0.1.x`, or leaves it out). Only its IP family is used.
   */
  address?: string | null;
  /** Time from the probe's start, ms. */
  atMs?: number;
}

/** How gathering ended: finished, cut off by the probe's timeout, or never started. */
export type GatheringEnd = 'complete' | 'timed-out' | 'failed';

/** Everything the classifier reads; `rtc/nat-probe.ts` builds it. */
export interface NatProbeInput {
  /** STUN URLs the peer connection was given (`stun:` only; see {@link stunOnly}). */
  servers: string[];
  candidates: GatheredCandidate[];
  errors: ProbeError[];
  gathering: GatheringEnd;
  /** Time from start to the end of gathering (or to the timeout), ms. */
  elapsedMs: number;
  /** Why gathering could not start (`gathering: 'failed'`), e.g. the constructor threw. */
  setupError?: string;
}

/**
 * The ICE servers a NAT probe should use: `stun:` URLs only, each entry without credentials.
 * TURN entries are left out on purpose: Chromium also sends STUN Binding requests to every UDP
 * TURN server (destinations the classifier would not know about) and would allocate relays.
 * Never throws; entries with no `stun:` URL are dropped.
 */
export function stunOnly(iceServers: readonly IceServer[]): IceServer[] {
  const servers: IceServer[] = [];
  for (const server of iceServers) {
    const urls = (Array.isArray(server.urls) ? server.urls : [server.urls]).filter(
      (url) => typeof url === 'string' && parseIceUrl(url)?.scheme === 'stun',
    );
    if (urls.length > 0) servers.push({ urls });
  }
  return servers;
}

/** Every URL of `iceServers`, flattened, in order. */
export function iceServerUrls(iceServers: readonly IceServer[]): string[] {
  return iceServers.flatMap((server) => (Array.isArray(server.urls) ? server.urls : [server.urls]));
}

/**
 * Builds a {@link GatheredCandidate} from an `RTCIceCandidate.candidate` line. Reads Chromium's
 * `network-id` extension, which {@link parseIceCandidate} skips. Never throws; `null` for an
 * empty or off-grammar line.
 * @param url `RTCIceCandidate.url` or `RTCPeerConnectionIceEvent.url`; empty or null is dropped.
 * @param atMs time from the probe's start, ms.
 */
export function gatheredCandidate(
  line: string,
  url?: string | null,
  atMs?: number,
): GatheredCandidate | null {
  const parsed = parseIceCandidate(line);
  if (parsed === null) return null;
  const candidate: GatheredCandidate = { ...parsed };
  if (typeof url === 'string' && url !== '') candidate.url = url;
  const networkId = /\snetwork-id\s+(\d{1,9})(?:\s|$)/.exec(line);
  if (networkId?.[1] !== undefined) candidate.networkId = Number(networkId[1]);
  if (typeof atMs === 'number' && Number.isFinite(atMs)) candidate.atMs = atMs;
  return candidate;
}
