/**
 * STUN and TURN URLs (`RTCIceServer.urls`), shared by the signaling server, which checks the ones
 * an operator configures, and the page, which matches the ones a browser reports back against
 * the configured ones. Pure and platform-free.
 *
 * The grammar is RFC 7064 §3.1 (`stun:`, `stuns:`) and RFC 7065 §3.1 (`turn:`, `turns:`):
 * `scheme ":" host [ ":" port ]`, TURN adding `[ "?transport=" ( "udp" / "tcp" ) ]`, with `host`
 * as in RFC 3986 §3.2.2 (IPv6 in brackets). Two readings of it:
 * - {@link parseStrictIceUrl}: exactly that, in lower case; what we accept in configuration,
 *   because it is what every browser accepts (an ICE server a browser rejects makes
 *   `new RTCPeerConnection` throw on the page).
 * - {@link parseIceUrl}: also what browsers write back in `RTCIceCandidate.url` and
 *   `icecandidateerror.url`, which libwebrtc rewrites (see there).
 */
import { parseIpv4, parseIpv6, type IpFamily } from './ip-address.ts';

/** The four URL schemes of an ICE server, RFC 7064 §3.1 and RFC 7065 §3.1. */
export type IceUrlScheme = 'stun' | 'stuns' | 'turn' | 'turns';

/** Transport to the STUN/TURN server; `stuns`/`turns` are TLS, hence always `tcp`. */
export type IceTransport = 'udp' | 'tcp';

/** Port of `stun:` and `turn:`, when the URL names none. RFC 7064 §3.2, RFC 7065 §3.2 */
export const ICE_DEFAULT_PORT = 3478;
/** Port of `stuns:` and `turns:` (TLS) when the URL names none. RFC 7064 §3.2, RFC 7065 §3.2 */
export const ICE_DEFAULT_TLS_PORT = 5349;
const MAX_PORT = 65535;

/** A STUN or TURN URL taken apart, defaults filled in; a fresh object. */
export interface IceUrl {
  readonly scheme: IceUrlScheme;
  /** Lower case, without brackets: an IP literal as written, or a DNS name. */
  readonly host: string;
  /** Family of an IP literal host; `null` for a DNS name, which is resolved per socket. */
  readonly family: IpFamily | null;
  /** 1–65535; {@link ICE_DEFAULT_PORT} or {@link ICE_DEFAULT_TLS_PORT} when not written. */
  readonly port: number;
  /**
   * `stuns`/`turns` run over TLS, so `tcp`; otherwise `udp` unless `?transport=tcp` (TURN over
   * TCP, RFC 6062): RFC 7065 leaves the default to the client, and browsers pick UDP.
   */
  readonly transport: IceTransport;
}

const SCHEME_RE = /^(stuns?|turns?):/;

/**
 * The scheme a URL starts with, or `null` if it is none of the four. Case-sensitive, as the
 * browsers' parsers are: `STUN:` gives `null`. Only the prefix is read; see
 * {@link parseStrictIceUrl} for the rest.
 */
export function iceUrlScheme(text: string): IceUrlScheme | null {
  if (typeof text !== 'string') return null;
  const scheme = SCHEME_RE.exec(text)?.[1];
  return scheme === undefined ? null : (scheme as IceUrlScheme);
}

/** True for `turn` and `turns`: servers that relay, and need a username and credential. */
export function isTurnScheme(scheme: IceUrlScheme | null): scheme is 'turn' | 'turns' {
  return scheme === 'turn' || scheme === 'turns';
}

// RFC 7064 §3.1 / RFC 7065 §3.1: no userinfo, no path, no query but `transport`, no whitespace.
const STRICT_URL_RE =
  /^(stuns?|turns?):(\[[^\]]*\]|[^:?#/@[\]\s]+)(?::([0-9]{1,5}))?(?:\?transport=(udp|tcp))?$/;
const DNS_LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
/** A DNS name of RFC 1123 §2.1 labels, 253 characters at most, optionally fully qualified. */
const DNS_NAME_RE = new RegExp(`^(?=.{1,253}\\.?$)${DNS_LABEL}(?:\\.${DNS_LABEL})*\\.?$`);

/**
 * Parses a STUN or TURN URL the way we accept it in configuration (`TURN_URLS`), per RFC 7064
 * §3.1 and RFC 7065 §3.1. Never throws; `null` for anything else, namely
 * - another scheme, or a scheme not in lower case (the browser's parser is case-sensitive);
 * - userinfo, a path, whitespace, or a query other than `?transport=udp|tcp`, which only
 *   `turn:`/`turns:` may have (RFC 7064 has no query);
 * - a host that is not a DNS name of RFC 1123 labels, an IPv4 literal, or a bracketed IPv6
 *   literal without zone (RFC 3986 §3.2.2 has none); port 0 or above 65535;
 * - `turns:` with `transport=udp`: TURN over DTLS, which browsers do not implement.
 */
export function parseStrictIceUrl(text: string): IceUrl | null {
  if (typeof text !== 'string') return null;
  const match = STRICT_URL_RE.exec(text);
  if (!match) return null;
  const [, scheme = '', written = '', portText, transport] = match;
  if (transport !== undefined && !isTurnScheme(scheme as IceUrlScheme)) return null;
  let host = written.toLowerCase();
  let family: IpFamily | null = null;
  if (host.startsWith('[')) {
    host = host.slice(1, -1);
    if (ipFamilyOf(host) !== 'IPv6') return null;
    family = 'IPv6';
  } else if (/^[0-9.]+$/.test(host)) {
    if (parseIpv4(host) === null) return null;
    family = 'IPv4';
  } else if (!DNS_NAME_RE.test(host)) {
    return null;
  }
  return withDefaults(scheme as IceUrlScheme, host, family, portText, transport);
}

const LENIENT_URL_RE = /^(stuns?|turns?):([^?#]+)(?:\?transport=(udp|tcp))?$/i;
/** `reg-name` of RFC 3986 §3.2.2 without percent-encoding or sub-delims. */
const REG_NAME_RE = /^[a-z0-9._~-]+$/;

/**
 * Parses a STUN or TURN URL as a browser may write it: what {@link parseStrictIceUrl} accepts,
 * and also
 * - any case (returned in lower case) and surrounding whitespace;
 * - an unbracketed IPv6 literal followed by a port, because libwebrtc writes candidate and error
 *   URLs that way (`stun:2001:db8::10:3478`): the last `:digits` is then the port (an
 *   unbracketed IPv6 literal without a port is refused: its last group would be read as one);
 * - a host of RFC 3986 `reg-name` characters that is not a strict DNS name (`my_host`);
 * - `?transport=` on a `stun:` URL (libwebrtc reads it on every scheme).
 *
 * Never throws; `null` for another scheme, a bad host or port, a zone, a query other than
 * `transport`, or `stuns:`/`turns:` with `transport=udp`.
 */
export function parseIceUrl(text: string): IceUrl | null {
  if (typeof text !== 'string') return null;
  const match = LENIENT_URL_RE.exec(text.trim());
  if (!match) return null;
  const scheme = (match[1] ?? '').toLowerCase() as IceUrlScheme;
  const hostPort = (match[2] ?? '').toLowerCase();
  const transport = match[3]?.toLowerCase();

  let host: string;
  let portText: string | undefined;
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    if (close === -1) return null;
    host = hostPort.slice(1, close);
    const rest = hostPort.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) return null;
    portText = rest === '' ? undefined : rest.slice(1);
    if (ipFamilyOf(host) !== 'IPv6') return null;
  } else {
    const colons = hostPort.split(':').length - 1;
    const cut = colons === 0 ? -1 : hostPort.lastIndexOf(':');
    host = cut === -1 ? hostPort : hostPort.slice(0, cut);
    portText = cut === -1 ? undefined : hostPort.slice(cut + 1);
    if (colons > 1 && ipFamilyOf(host) !== 'IPv6') return null;
  }
  const family = ipFamilyOf(host);
  if (family === null && (!REG_NAME_RE.test(host) || /^[0-9.]+$/.test(host))) return null;
  return withDefaults(scheme, host, family, portText, transport);
}

/** Family of an IP literal without zone (a URL host cannot carry one); `null` otherwise. */
function ipFamilyOf(host: string): IpFamily | null {
  if (host.includes('%')) return null;
  if (parseIpv4(host) !== null) return 'IPv4';
  return parseIpv6(host) === null ? null : 'IPv6';
}

/** The result with the scheme's default port and transport; `null` for a bad port or DTLS. */
function withDefaults(
  scheme: IceUrlScheme,
  host: string,
  family: IpFamily | null,
  portText: string | undefined,
  transport: string | undefined,
): IceUrl | null {
  const secure = scheme === 'stuns' || scheme === 'turns';
  if (secure && transport === 'udp') return null; // TLS runs over TCP; browsers have no DTLS TURN
  let port = secure ? ICE_DEFAULT_TLS_PORT : ICE_DEFAULT_PORT;
  if (portText !== undefined) {
    if (!/^[0-9]{1,5}$/.test(portText)) return null;
    port = Number(portText);
    if (port < 1 || port > MAX_PORT) return null;
  }
  return { scheme, host, family, port, transport: secure || transport === 'tcp' ? 'tcp' : 'udp' };
}
