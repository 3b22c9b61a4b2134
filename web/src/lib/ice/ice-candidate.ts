/**
 * ICE candidate lines as the diagnostics panel shows them: parse one `candidate` attribute, split
 * its priority into the three preferences it was built from, and say what kind of address it
 * carries. Pure; no DOM and no WebRTC objects.
 */

/** Candidate types of RFC 8445 §5.1.1; `cand-type` tokens beyond these are not accepted. */
export type IceCandidateType = 'host' | 'srflx' | 'prflx' | 'relay';

/** Transports a browser offers: UDP (RFC 8445) and TCP (RFC 6544); always lower case here. */
export type IceProtocol = 'udp' | 'tcp';

/** Role of a TCP candidate, RFC 6544 §4.5. */
export type IceTcpType = 'active' | 'passive' | 'so';

/** One parsed `candidate` attribute; a fresh object holding only the fields below. */
export interface ParsedIceCandidate {
  /** 1–32 `ice-char`s; candidates sharing it share a base and server (RFC 8445 §5.1.1.3). */
  foundation: string;
  /** 1–256; 1 is RTP (and everything, with rtcp-mux or a data channel), 2 is RTCP. */
  component: number;
  protocol: IceProtocol;
  /** 1 to 2^31 − 1 (RFC 8445 §5.1.2.1); see {@link decomposePriority}. */
  priority: number;
  /** IPv4, IPv6 (no brackets) or a host name such as an mDNS `<uuid>.local`, as written. */
  address: string;
  /** 0–65535; TCP active candidates use 9, the discard port (RFC 6544 §4.5). */
  port: number;
  type: IceCandidateType;
  /** `raddr`: the base of a reflexive candidate, the mapped address of a relay one. */
  relatedAddress?: string;
  /** `rport`, paired with `relatedAddress`. */
  relatedPort?: number;
  /** `tcptype`, present on TCP candidates only. */
  tcpType?: IceTcpType;
}

/** The three inputs of the RFC 8445 §5.1.2.1 priority formula. */
export interface PriorityParts {
  /** 0–126; RFC 8445 §5.1.2.2 recommends host 126, prflx 110, srflx 100, relay 0. */
  typePreference: number;
  /** 0–65535; browsers rank network interfaces (and IP families) with it. */
  localPreference: number;
  /** 1–256. */
  componentId: number;
}

/** Largest priority RFC 8445 §5.1.2.1 allows: a positive 31-bit integer. */
const MAX_PRIORITY = 2 ** 31 - 1;
const MAX_PORT = 2 ** 16 - 1;
const MAX_COMPONENT = 256;

const CANDIDATE_TYPES: readonly IceCandidateType[] = ['host', 'srflx', 'prflx', 'relay'];
const TCP_TYPES: readonly IceTcpType[] = ['active', 'passive', 'so'];

/** `foundation = 1*32ice-char`, `ice-char = ALPHA / DIGIT / "+" / "/"` (RFC 8839 §5.1). */
const FOUNDATION_RE = /^[A-Za-z0-9+/]{1,32}$/;
/**
 * Characters an IPv4, IPv6 or DNS name can hold. The grammar's `connection-address` is wider
 * (RFC 8866), but anything else in a browser's candidate is not an address we can show.
 */
const ADDRESS_RE = /^[A-Za-z0-9.:_-]+$/;
const DIGITS_RE = /^\d+$/;

/**
 * True for the four RFC 8445 §5.1.1 candidate types.
 * @param value Anything, e.g. a `candidateType` read from loosely typed stats.
 */
export function isIceCandidateType(value: unknown): value is IceCandidateType {
  return typeof value === 'string' && (CANDIDATE_TYPES as readonly string[]).includes(value);
}

/**
 * Parses one ICE candidate line (RFC 8839 §5.1 grammar; TCP per RFC 6544 §4.5).
 *
 * Accepts `a=candidate:…`, `candidate:…` (what `RTCIceCandidate.candidate` holds) or the bare
 * attribute value, with surrounding whitespace or CRLF. The transport is matched
 * case-insensitively (RFC says `UDP`, Chromium writes `udp`). `raddr`, `rport` and `tcptype` are
 * read wherever they appear after `typ`; other extensions (`generation`, `ufrag`, `network-id`,
 * `network-cost`, …) are skipped, and a trailing extension name without a value is tolerated.
 *
 * Never throws. Returns `null` when the line is empty (the end-of-candidates `''`) or off-grammar:
 * a bad foundation, a component outside 1–256, a transport other than UDP/TCP, a priority outside
 * 1 to 2^31 − 1, a port outside 0–65535, a candidate type outside the four of RFC 8445, or a
 * malformed `raddr`/`rport`/`tcptype` value.
 */
export function parseIceCandidate(line: string): ParsedIceCandidate | null {
  if (typeof line !== 'string') return null;
  let text = line.trim();
  if (text.startsWith('a=')) text = text.slice(2);
  if (text.startsWith('candidate:')) text = text.slice('candidate:'.length);
  const tokens = text.split(/\s+/).filter((token) => token !== '');

  const [foundation, componentText, transport, priorityText, address, portText, typ, typeText] =
    tokens;
  if (
    foundation === undefined ||
    componentText === undefined ||
    transport === undefined ||
    priorityText === undefined ||
    address === undefined ||
    portText === undefined ||
    typeText === undefined
  ) {
    return null;
  }
  if (!FOUNDATION_RE.test(foundation) || typ !== 'typ') return null;

  const component = parseBoundedInt(componentText, 1, MAX_COMPONENT, 3);
  const priority = parseBoundedInt(priorityText, 1, MAX_PRIORITY, 10);
  const port = parseBoundedInt(portText, 0, MAX_PORT, 5);
  const protocol = transport.toLowerCase();
  if (component === null || priority === null || port === null) return null;
  if (protocol !== 'udp' && protocol !== 'tcp') return null;
  if (!ADDRESS_RE.test(address) || !isIceCandidateType(typeText)) return null;

  const candidate: ParsedIceCandidate = {
    foundation,
    component,
    protocol,
    priority,
    address,
    port,
    type: typeText,
  };

  // Extensions come as name/value pairs after `typ <type>` (RFC 8839 §5.1 `cand-extension`).
  for (let i = 8; i + 1 < tokens.length; i += 2) {
    const name = tokens[i];
    const value = tokens[i + 1];
    if (value === undefined) break;
    if (name === 'raddr') {
      if (!ADDRESS_RE.test(value)) return null;
      candidate.relatedAddress = value;
    } else if (name === 'rport') {
      const relatedPort = parseBoundedInt(value, 0, MAX_PORT, 5);
      if (relatedPort === null) return null;
      candidate.relatedPort = relatedPort;
    } else if (name === 'tcptype') {
      if (!(TCP_TYPES as readonly string[]).includes(value)) return null;
      candidate.tcpType = value as IceTcpType;
    }
  }
  return candidate;
}

/**
 * Splits a candidate priority into the parts of RFC 8445 §5.1.2.1:
 * `priority = 2^24 * typePreference + 2^8 * localPreference + (256 - componentId)`.
 *
 * Never throws; returns `null` unless `priority` is an integer from 1 to 2^31 − 1. The split is
 * exact only if the sender used the formula, which RFC 8445 recommends but does not require.
 */
export function decomposePriority(priority: number): PriorityParts | null {
  if (!Number.isInteger(priority) || priority < 1 || priority > MAX_PRIORITY) return null;
  return {
    typePreference: Math.floor(priority / 2 ** 24),
    localPreference: Math.floor(priority / 2 ** 8) % 2 ** 16,
    componentId: 256 - (priority % 2 ** 8),
  };
}

/**
 * What an address tells a person reading the panel.
 * - `mDNS-hidden`: a `.local` name that stands in for a host IP the browser keeps private.
 * - `unspecified`: `0.0.0.0` or `::`; Chromium writes `raddr 0.0.0.0 rport 0` to hide the base of
 *   a srflx or relay candidate when it hides host IPs, so this is "redacted", not a route.
 * - `private`: reachable only inside a LAN or behind the ISP's NAT.
 * - `public`: anything else.
 */
export type AddressKind = 'mDNS-hidden' | 'unspecified' | 'private' | 'public';

/**
 * Classifies an address for display. Never throws; does not validate (a DNS name that is not
 * `.local`, or text that is no address at all, is `public`).
 *
 * `private` covers RFC 1918 (10/8, 172.16/12, 192.168/16), RFC 6598 shared CGNAT space
 * (100.64/10), loopback (127/8, RFC 1122 §3.2.1.3; `::1`, RFC 4291 §2.5.3), IPv4 link-local
 * (169.254/16, RFC 3927), IPv6 unique local (fc00::/7, RFC 4193) and link-local (fe80::/10,
 * RFC 4291 §2.5.6); an IPv4-mapped IPv6 address (RFC 4291 §2.5.5.2) is judged by its IPv4 part.
 * Other special-purpose blocks of RFC 6890 (documentation, benchmarking, multicast, …) count as
 * `public`: they never appear as real candidates, and the panel only asks "does this address
 * leave the local network?". `.local` names are mDNS (RFC 6762) as used by
 * draft-ietf-mmusic-mdns-ice-candidates.
 */
export function describeAddress(address: string): AddressKind {
  // Brackets and zone ids appear in URLs and logs, not in SDP, but cost nothing to accept.
  let text = address.trim().toLowerCase();
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  const zone = text.indexOf('%');
  if (zone !== -1) text = text.slice(0, zone);

  if (/\.local\.?$/.test(text)) return 'mDNS-hidden';
  const v4 = parseIpv4(text);
  if (v4 !== null) return classifyIpv4(v4);
  const v6 = parseIpv6(text);
  if (v6 !== null) return classifyIpv6(v6);
  return 'public';
}

/** `text` as a non-negative integer within bounds, or `null`; no signs, no exponents. */
function parseBoundedInt(text: string, min: number, max: number, maxDigits: number): number | null {
  if (!DIGITS_RE.test(text) || text.length > maxDigits) return null;
  const value = Number(text);
  return value >= min && value <= max ? value : null;
}

/** Dotted-quad IPv4 to its four octets, or `null`. */
export function parseIpv4(text: string): number[] | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const octets = parts.map((part) => parseBoundedInt(part, 0, 255, 3));
  return octets.every((octet) => octet !== null) ? (octets as number[]) : null;
}

function classifyIpv4([a = 0, b = 0, c = 0, d = 0]: number[]): AddressKind {
  if (a === 0 && b === 0 && c === 0 && d === 0) return 'unspecified';
  if (
    a === 10 ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 100 && b >= 64 && b <= 127) ||
    a === 127 ||
    (a === 169 && b === 254)
  ) {
    return 'private';
  }
  return 'public';
}

/** IPv6 text (RFC 4291 §2.2, with `::` and a dotted IPv4 tail) to eight 16-bit groups, or `null`. */
export function parseIpv6(text: string): number[] | null {
  if (!text.includes(':')) return null;
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const toGroups = (half: string): number[] | null => {
    if (half === '') return [];
    const groups: number[] = [];
    const pieces = half.split(':');
    for (const [index, piece] of pieces.entries()) {
      if (index === pieces.length - 1 && piece.includes('.')) {
        const v4 = parseIpv4(piece);
        if (v4 === null) return null;
        const [a = 0, b = 0, c = 0, d = 0] = v4;
        groups.push(a * 256 + b, c * 256 + d);
      } else if (/^[0-9a-f]{1,4}$/.test(piece)) {
        groups.push(parseInt(piece, 16));
      } else {
        return null;
      }
    }
    return groups;
  };
  const head = toGroups(halves[0] ?? '');
  const tail = halves.length === 2 ? toGroups(halves[1] ?? '') : [];
  if (head === null || tail === null) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const missing = 8 - head.length - tail.length;
  // `::` stands for one or more zero groups (RFC 4291 §2.2), so it cannot fill a full address.
  if (missing < 1) return null;
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}

function classifyIpv6(groups: number[]): AddressKind {
  const first = groups[0] ?? 0;
  const leadingZeros = groups.slice(0, 7).every((group) => group === 0);
  const last = groups[7] ?? 0;
  if (leadingZeros && last === 0) return 'unspecified';
  if (leadingZeros && last === 1) return 'private';
  // ::ffff:a.b.c.d carries an IPv4 address (RFC 4291 §2.5.5.2).
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    const high = groups[6] ?? 0;
    return classifyIpv4([high >> 8, high & 0xff, last >> 8, last & 0xff]);
  }
  if ((first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80) return 'private';
  return 'public';
}
