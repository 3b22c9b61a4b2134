/**
 * ICE candidate lines as the diagnostics panel shows them: parse one `candidate` attribute and
 * split its priority into the three preferences it was built from. What kind of address it
 * carries is `describeAddress` in common/ip-address.ts. Pure; no DOM and no WebRTC objects.
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

/** `text` as a non-negative integer within bounds, or `null`; no signs, no exponents. */
function parseBoundedInt(text: string, min: number, max: number, maxDigits: number): number | null {
  if (!DIGITS_RE.test(text) || text.length > maxDigits) return null;
  const value = Number(text);
  return value >= min && value <= max ? value : null;
}
