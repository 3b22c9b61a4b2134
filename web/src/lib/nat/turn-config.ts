/**
 * Which TURN servers the page was given: what the session needs up front (the relay fallback,
 * issue #5) without the TURN test's analysis (turn-check.ts), which is loaded after the room view
 * is up (issue #13).
 */
import { iceUrlScheme, isTurnScheme, parseIceUrl } from '../../../../common/ice-url.ts';
import type { IceServer } from '../../../../signaling/protocol.ts';

/**
 * How long the TURN test waits for a relay address, ms. A working TURN server answers within two
 * round trips (the 401 challenge, then the authenticated Allocate, RFC 8656 §7.2), plus a TCP and
 * TLS handshake for `?transport=tcp` / `turns:`: well under a second on a sane network. libwebrtc
 * itself gives up on an unanswered Allocate only after its STUN retransmissions end (~40 s), far
 * too long for a button; silence past this bound is reported as "not reachable".
 */
export const TURN_TEST_TIMEOUT_MS = 10 * 1000;

/** The TURN part of the page's ICE servers. */
export interface TurnConfig {
  /** Entries with their `turn:`/`turns:` URLs only, credentials kept; `[]` when none. */
  servers: IceServer[];
  /** Every TURN URL, flattened. */
  urls: string[];
  /** At least one TURN URL. */
  configured: boolean;
  /** A `turn:` URL over UDP (the default transport). */
  udp: boolean;
  /** A `turn:…?transport=tcp` URL (RFC 6062). */
  tcp: boolean;
  /** A `turns:` URL: TURN over TLS, which passes most web-only firewalls on port 443. */
  tls: boolean;
}

/**
 * Picks the TURN servers out of the page's ICE servers. STUN URLs in a mixed entry are dropped,
 * so a relay-only peer connection built from `servers` talks to TURN servers only. Never throws.
 */
export function turnConfig(iceServers: readonly IceServer[]): TurnConfig {
  const servers: IceServer[] = [];
  const given: readonly IceServer[] = Array.isArray(iceServers) ? iceServers : [];
  for (const server of given) {
    const urls = (Array.isArray(server.urls) ? server.urls : [server.urls]).filter(
      // Leniently, as parseIceUrl reads them: the page did not choose these URLs.
      (url) => typeof url === 'string' && isTurnScheme(iceUrlScheme(url.trim().toLowerCase())),
    );
    if (urls.length === 0) continue;
    const entry: IceServer = { urls };
    if (server.username !== undefined) entry.username = server.username;
    if (server.credential !== undefined) entry.credential = server.credential;
    servers.push(entry);
  }
  const urls = servers.flatMap((server) => server.urls as string[]);
  const parsed = urls.map(parseIceUrl);
  return {
    servers,
    urls,
    configured: urls.length > 0,
    udp: parsed.some((url) => url?.scheme === 'turn' && url.transport === 'udp'),
    tcp: parsed.some((url) => url?.scheme === 'turn' && url.transport === 'tcp'),
    tls: parsed.some((url) => url?.scheme === 'turns'),
  };
}
