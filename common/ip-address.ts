/**
 * IP address literals, shared by the signaling server (the STUN codec writes them as bytes) and
 * the page (the diagnostics panel classifies and compares them). Pure and platform-free: no
 * `node:net`, which the page cannot import, and no DOM.
 *
 * One grammar for both halves: IPv4 is RFC 3986 §3.2.2 `dec-octet` dotted quads (no leading
 * zeros: `010.0.0.1` is not an address here, as for `inet_pton` and Node's `isIPv4`, because
 * `inet_aton` would read it as octal); IPv6 is RFC 4291 §2.2 text, `::` and a dotted IPv4 tail
 * included, hex digits in either case (what Node's `isIPv6` accepts).
 */

/** The two IP families; the spelling of Node's `socket.address().family`. */
export type IpFamily = 'IPv4' | 'IPv6';

/** Size of an IPv4 address, bytes. */
export const IPV4_BYTES = 4;
/** Size of an IPv6 address, bytes. */
export const IPV6_BYTES = 16;
/** Number of 16-bit groups in an IPv6 address. RFC 4291 §2.2 */
const IPV6_GROUPS = IPV6_BYTES / 2;

/** An IP address as bytes, network order: 4 for IPv4, 16 for IPv6. */
export interface IpAddress {
  readonly family: IpFamily;
  readonly bytes: Uint8Array;
}

/** `dec-octet` of RFC 3986 §3.2.2: 0–255 without leading zeros. */
const DEC_OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const IPV4_RE = new RegExp(`^${DEC_OCTET}(?:\\.${DEC_OCTET}){3}$`);
/** `h16` of RFC 3986 §3.2.2: one to four hex digits. */
const H16_RE = /^[0-9a-f]{1,4}$/i;

/**
 * Parses a dotted-quad IPv4 literal (RFC 3986 §3.2.2 `IPv4address`) to its 4 bytes.
 * Never throws; `null` for anything else: leading zeros (`01.2.3.4`), octets above 255, fewer or
 * more than four parts, signs, spaces, or a value that is not a string.
 */
export function parseIpv4(text: string): Uint8Array | null {
  if (typeof text !== 'string' || !IPV4_RE.test(text)) return null;
  return Uint8Array.from(text.split('.'), Number);
}

/**
 * Parses an IPv6 literal (RFC 4291 §2.2: eight groups, `::` for one or more zero groups, an
 * optional dotted IPv4 tail in place of the last two) to its 16 bytes. A zone (`fe80::1%eth0`,
 * RFC 4007 §11), meaning everything from the first `%`, is ignored: it names an interface of the
 * host that wrote it. No brackets (see {@link parseIpAddress}).
 *
 * Never throws; `null` for anything else, e.g. two `::`, a `::` beside eight groups, a group of
 * five digits, or an IPv4 part anywhere but at the end.
 */
export function parseIpv6(text: string): Uint8Array | null {
  if (typeof text !== 'string') return null;
  const zone = text.indexOf('%');
  const literal = zone === -1 ? text : text.slice(0, zone);
  const halves = literal.split('::');
  if (halves.length > 2) return null;
  const [headText = '', tailText] = halves;
  const head = groupsOf(headText, tailText === undefined);
  const tail = tailText === undefined ? [] : groupsOf(tailText, true);
  if (head === null || tail === null) return null;
  const missing = IPV6_GROUPS - head.length - tail.length;
  // Without `::` the groups must be all there; with it, `::` stands for at least one.
  if (tailText === undefined ? missing !== 0 : missing < 1) return null;
  const bytes = new Uint8Array(IPV6_BYTES);
  const view = new DataView(bytes.buffer);
  [...head, ...Array<number>(missing).fill(0), ...tail].forEach((group, i) =>
    view.setUint16(i * 2, group),
  );
  return bytes;
}

/** The 16-bit groups of one side of `::`; a dotted IPv4 may end it when `ipv4Tail` is set. */
function groupsOf(part: string, ipv4Tail: boolean): number[] | null {
  if (part === '') return [];
  const pieces = part.split(':');
  const groups: number[] = [];
  for (const [index, piece] of pieces.entries()) {
    if (ipv4Tail && index === pieces.length - 1 && piece.includes('.')) {
      const v4 = parseIpv4(piece);
      if (v4 === null) return null;
      const [a = 0, b = 0, c = 0, d = 0] = v4;
      groups.push((a << 8) | b, (c << 8) | d);
    } else if (H16_RE.test(piece)) {
      groups.push(parseInt(piece, 16));
    } else {
      return null;
    }
  }
  return groups;
}

/**
 * Parses an IP literal of either family, as it appears in ICE candidates, URLs and logs:
 * surrounding whitespace, one pair of brackets (`[2001:db8::1]`, RFC 3986 §3.2.2) and a zone
 * (`%eth0`) are accepted and dropped. Never throws; `null` for anything that is not an IPv4
 * ({@link parseIpv4}) or IPv6 ({@link parseIpv6}) literal, host names included.
 */
export function parseIpAddress(text: string): IpAddress | null {
  if (typeof text !== 'string') return null;
  const literal = bareHost(text);
  const v4 = parseIpv4(literal);
  if (v4 !== null) return { family: 'IPv4', bytes: v4 };
  const v6 = parseIpv6(literal);
  return v6 === null ? null : { family: 'IPv6', bytes: v6 };
}

/** `text` trimmed, lower case, without one pair of brackets or a zone. */
function bareHost(text: string): string {
  let host = text.trim().toLowerCase();
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const zone = host.indexOf('%');
  return zone === -1 ? host : host.slice(0, zone);
}

/**
 * True for an IPv4-mapped IPv6 address, `::ffff:a.b.c.d` (RFC 4291 §2.5.5.2): what a dual-stack
 * socket reports for an IPv4 peer. `false` for anything but 16 bytes.
 */
export function isIpv4Mapped(bytes: Uint8Array): boolean {
  return (
    bytes.byteLength === IPV6_BYTES &&
    bytes.subarray(0, 10).every((byte) => byte === 0) &&
    bytes[10] === 0xff &&
    bytes[11] === 0xff
  );
}

/** Dotted-quad text of 4 bytes (`192.0.2.1`). Other lengths are the caller's bug: no check. */
export function formatIpv4(bytes: Uint8Array): string {
  return Array.from(bytes).join('.');
}

/**
 * RFC 5952 §4 text of 16 bytes: lower case (§4.3), no leading zeros (§4.1), the longest run of
 * two or more zero groups as `::`, the first one on a tie (§4.2); an IPv4-mapped address as
 * `::ffff:a.b.c.d` (§5). Other lengths are the caller's bug: no check.
 */
export function formatIpv6(bytes: Uint8Array): string {
  if (isIpv4Mapped(bytes)) return `::ffff:${formatIpv4(bytes.subarray(12))}`;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const groups = Array.from({ length: IPV6_GROUPS }, (_, i) => view.getUint16(i * 2));
  let bestStart = -1;
  let bestLength = 1; // RFC 5952 §4.2.2: a single zero group is not compressed.
  for (let start = 0; start < IPV6_GROUPS; start++) {
    let length = 0;
    while (start + length < IPV6_GROUPS && groups[start + length] === 0) length++;
    if (length > bestLength) [bestStart, bestLength] = [start, length];
  }
  const hex = (part: number[]) => part.map((group) => group.toString(16)).join(':');
  if (bestStart === -1) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}

/** {@link formatIpv4} or {@link formatIpv6} by family: one canonical spelling per address. */
export function formatIpAddress(address: IpAddress): string {
  return address.family === 'IPv4' ? formatIpv4(address.bytes) : formatIpv6(address.bytes);
}

/**
 * A host in one comparable spelling: an IP literal canonical ({@link formatIpAddress}; no
 * brackets or zone), anything else trimmed and lower case (DNS names are case-insensitive,
 * RFC 4343). For matching the hosts a browser writes against configured ones. Never throws.
 */
export function canonicalHost(host: string): string {
  const ip = parseIpAddress(host);
  return ip === null ? host.trim().toLowerCase() : formatIpAddress(ip);
}

/**
 * `host:port`, with an IPv6 literal in brackets (`[2001:db8::2]:4000`, RFC 3986 §3.2.2): any
 * host containing `:` is taken for IPv6. `host` is written as given.
 */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
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
 * `.local`, or text that is no address at all, is `public`). Brackets, a zone and surrounding
 * whitespace are accepted as by {@link parseIpAddress}; they appear in URLs and logs, not in SDP.
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
  if (typeof address !== 'string') return 'public';
  if (/\.local\.?$/.test(bareHost(address))) return 'mDNS-hidden';
  const ip = parseIpAddress(address);
  if (ip === null) return 'public';
  return ip.family === 'IPv4' ? classifyIpv4(ip.bytes) : classifyIpv6(ip.bytes);
}

function classifyIpv4(bytes: Uint8Array): AddressKind {
  const [a = 0, b = 0] = bytes;
  if (bytes.every((byte) => byte === 0)) return 'unspecified';
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

function classifyIpv6(bytes: Uint8Array): AddressKind {
  const leadingZeros = bytes.subarray(0, IPV6_BYTES - 1).every((byte) => byte === 0);
  const last = bytes[IPV6_BYTES - 1];
  if (leadingZeros && last === 0) return 'unspecified';
  if (leadingZeros && last === 1) return 'private';
  if (isIpv4Mapped(bytes)) return classifyIpv4(bytes.subarray(12));
  const first = ((bytes[0] ?? 0) << 8) | (bytes[1] ?? 0);
  if ((first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80) return 'private';
  return 'public';
}
