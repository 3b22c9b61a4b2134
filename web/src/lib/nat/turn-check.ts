/**
 * The "Test TURN" button, pure half: which TURN servers the page was given, and what a relay-only
 * gathering against them says. `rtc/turn-test.ts` runs the gathering.
 *
 * Modelled on the webrtc/samples trickle-ICE page, which guesses from candidate types ("a srflx
 * but no relay candidate suggests an auth failure", "neither: not reachable"). That guess needs
 * `iceTransportPolicy: 'all'` and TURN over UDP, because the srflx comes from the TURN server
 * answering STUN. With `'relay'` no srflx is ever reported, so this module reads the browser's
 * `icecandidateerror` events instead, which libwebrtc (`p2p/base/turn_port.cc`) fires with the
 * TURN error code: 401 when the server refuses the credentials after its challenge (or none were
 * given), 701 when the server cannot be reached (allocate timeout, TCP connect or DNS failure).
 */
import { parseIceUrl } from '../../../../common/ice-url.ts';
import { canonicalHost, formatHostPort } from '../../../../common/ip-address.ts';
import { describeErrorCode, type MappedAddress } from './nat-classifier.ts';
import type { GatheredCandidate, GatheringEnd, ProbeError } from './probe-input.ts';

/** What `rtc/turn-test.ts` hands over. */
export interface TurnCheckInput {
  /** The TURN URLs tested, as given to the browser (`turnConfig(...).urls`). */
  urls: string[];
  candidates: GatheredCandidate[];
  errors: ProbeError[];
  gathering: GatheringEnd;
  /** Time from start to the end of gathering (or the timeout), ms. */
  elapsedMs: number;
  /** Why the test could not start, e.g. the browser rejected the configuration. */
  setupError?: string;
}

/**
 * The outcome, overall or per URL.
 * - `ok`: a relay address was allocated.
 * - `auth-failed`: error 401 or 441: the credentials were refused or missing.
 * - `refused`: the server answered with another error (403 forbidden, 486 quota, 508 capacity…).
 * - `unreachable`: error 701, or no relay address before the timeout.
 * - `not-configured`: no TURN URL at all.
 * - `config-error`: the browser refused the configuration (e.g. a TURN URL without credentials).
 */
export type TurnCheckStatus =
  'ok' | 'auth-failed' | 'refused' | 'unreachable' | 'not-configured' | 'config-error';

/** One TURN URL's outcome. */
export interface TurnServerResult {
  url: string;
  status: 'ok' | 'auth-failed' | 'refused' | 'unreachable';
  /** The relay address it allocated (`ok` only). */
  relay?: MappedAddress;
  /** The error code behind a failure, when the browser reported one. */
  errorCode?: number;
  /** Plain words for this URL. */
  text: string;
}

/** The button's answer. */
export interface TurnCheckResult {
  /** `ok` if any URL gave a relay; otherwise the most telling failure (auth > refused > rest). */
  status: TurnCheckStatus;
  /** One sentence for the panel. */
  text: string;
  /** Relay addresses allocated, first per URL. */
  relays: MappedAddress[];
  /** Per URL, in the order configured; `[]` for `not-configured` and `config-error`. */
  servers: TurnServerResult[];
}

/**
 * Classifies one relay-only gathering. Never throws.
 *
 * Relay candidates and errors are matched to URLs by scheme, host, port and transport, because
 * libwebrtc rewrites URLs (`turn:host:port?transport=udp`, IPv6 unbracketed). A relay candidate
 * without a `url` (Firefox) counts for the only URL when there is one. Errors libwebrtc raises for
 * a socket of the wrong IP family (600 "IP address family does not match.") say nothing about the
 * server and are ignored.
 *
 * Limit: the test allocates from this browser only. It proves the server answers and takes the
 * credentials, not that it relays to the other person (its peer permissions, RFC 8656 §9).
 */
export function checkTurn(input: TurnCheckInput): TurnCheckResult {
  const urls = Array.isArray(input.urls) ? input.urls : [];
  if (urls.length === 0) {
    return {
      status: 'not-configured',
      text: 'No TURN server is configured: set TURN_URLS on the server to give the app a relay.',
      relays: [],
      servers: [],
    };
  }
  if (input.gathering === 'failed') {
    return {
      status: 'config-error',
      text: `The browser refused the TURN configuration${input.setupError ? `: ${input.setupError}` : ''}. Check TURN_URLS and that every TURN URL has a username and credential.`,
      relays: [],
      servers: [],
    };
  }

  const relays = (Array.isArray(input.candidates) ? input.candidates : []).filter(
    (candidate) => candidate.type === 'relay',
  );
  const errors = (Array.isArray(input.errors) ? input.errors : []).filter(
    (error) => !/family does not match|incompatible/i.test(error.errorText ?? ''),
  );
  const waited = `${Math.round(input.elapsedMs / 100) / 10} s`;
  const servers = urls.map((url): TurnServerResult => {
    const relay = relays.find((c) => sameServer(c.url, url) || (!c.url && urls.length === 1));
    if (relay) {
      const address: MappedAddress = { address: relay.address, port: relay.port, url };
      return {
        url,
        status: 'ok',
        relay: address,
        text: `${url} gave the relay address ${formatHostPort(relay.address, relay.port)}.`,
      };
    }
    const codes = errors.filter((error) => sameServer(error.url, url)).map((e) => e.errorCode);
    const auth = codes.find((code) => code === 401 || code === 441);
    if (auth !== undefined) {
      return {
        url,
        status: 'auth-failed',
        errorCode: auth,
        text: `${url} refused our credentials (${describeErrorCode(auth)}): check the TURN username and credential.`,
      };
    }
    const refused = codes.find((code) => code >= 300 && code < 700);
    if (refused !== undefined) {
      return {
        url,
        status: 'refused',
        errorCode: refused,
        text: `${url} answered but refused a relay (${describeErrorCode(refused)}).`,
      };
    }
    const unreachable = codes.find((code) => code === 701);
    return {
      url,
      status: 'unreachable',
      ...(unreachable === undefined ? {} : { errorCode: unreachable }),
      text:
        unreachable === undefined
          ? `${url} gave no relay address within ${waited}: the server may be down, or this network blocks its port.`
          : `${url} could not be reached (${describeErrorCode(unreachable)}): the server may be down, or this network blocks its port.`,
    };
  });

  const found = servers.flatMap((server) => (server.relay ? [server.relay] : []));
  const worst = (['auth-failed', 'refused', 'unreachable'] as const).find((status) =>
    servers.some((server) => server.status === status),
  );
  if (found.length > 0 || worst === undefined) {
    const first = servers.find((server) => server.status === 'ok');
    const failing = servers.filter((server) => server.status !== 'ok').map((s) => s.url);
    return {
      status: 'ok',
      text: `TURN works: ${first ? first.text : 'a relay address was allocated.'}${failing.length > 0 ? ` Not working: ${failing.join(', ')}.` : ''}`,
      relays: found,
      servers,
    };
  }
  const text: Record<typeof worst, string> = {
    'auth-failed':
      'TURN refused our credentials (error 401): check TURN_SECRET (or TURN_USERNAME and TURN_CREDENTIAL) against the TURN server, and that both servers’ clocks agree.',
    refused: 'The TURN server answered but refused to allocate a relay; see its log.',
    unreachable: `The TURN server is not reachable: no relay address within ${waited}. It may be down, or this network blocks its port; a TCP or TLS URL (turns:…:443) gets through more firewalls.`,
  };
  return { status: worst, text: text[worst], relays: [], servers };
}

/** Same scheme, host, port and transport; `false` when either does not parse. */
function sameServer(reported: string | undefined, configured: string): boolean {
  const a = reported === undefined ? null : parseIceUrl(reported);
  const b = parseIceUrl(configured);
  if (a === null || b === null) return false;
  return (
    a.scheme === b.scheme &&
    a.port === b.port &&
    a.transport === b.transport &&
    canonicalHost(a.host) === canonicalHost(b.host)
  );
}
