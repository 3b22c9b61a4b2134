/**
 * NAT mapping behaviour, measured in the page before anyone joins: one RTCPeerConnection gathers
 * against two or more STUN destinations, and the server-reflexive (srflx) candidates it reports
 * say whether the NAT kept one public mapping for every destination or made one per destination
 * (RFC 4787 §4.1; the test of RFC 5780 §4.3, done with the browser's own STUN client). Pure: the
 * browser part is `rtc/nat-probe.ts`, which returns this module's {@link NatProbeInput}.
 *
 * How Chromium (libwebrtc `p2p/base/stun_port.cc`, `UDPPort`) gathers, which the reasoning below
 * relies on:
 * - One UDP socket per network interface and IP family sends a Binding request to every STUN
 *   server. So several mappings seen by one socket are the NAT's doing, not the browser's.
 * - A srflx candidate is emitted only for a mapped address that socket has not reported yet
 *   (`HasStunCandidateWithAddress`), with the `url` of the server whose answer came first. A cone
 *   NAT therefore yields ONE srflx from two servers; a symmetric one yields two.
 * - Without mDNS host hiding, a mapped address equal to the socket's own address is not emitted
 *   at all (there is no NAT, and the host candidate already says it).
 * - A server that fails (timeout, DNS lookup, wrong IP family) fires `icecandidateerror` (701).
 *   The socket is done only when every server has either answered or failed, and gathering is
 *   `complete` only when every socket is done. Hence: gathering complete + no error for a server
 *   + no srflx carrying its url = that server answered with a mapping already reported.
 * - A socket of one family cannot use a server of the other: it reports error 701 with the text
 *   "STUN server address is incompatible." That is not a failure of the server, so it is ignored.
 *
 * Firefox reports no `url` on candidates; the classifier then falls back to counting servers
 * that did not fail, which needs gathering to complete.
 */
import { parseIceUrl, type IceUrl } from '../../../../common/ice-url.ts';
import {
  canonicalHost,
  describeAddress,
  formatHostPort,
  parseIpAddress,
  type IpFamily,
} from '../../../../common/ip-address.ts';
import { priorityFamily } from '../ice/candidate-family.ts';
import type { ParsedIceCandidate } from '../ice/ice-candidate.ts';

// IP family of a result; each is classified on its own (an IPv6 socket has its own path).
export type { IpFamily };
// Re-exported for diagnostics/failure.ts, which reads the scheme of error URLs.
export { parseIceUrl };
import type { GatheredCandidate, NatProbeInput, ProbeError } from './probe-input.ts';

/**
 * What the probe found for one IP family.
 * - `no-nat`: the public address is the device's own; needs a visible (not mDNS-hidden) host IP,
 *   or, for IPv6 only, a hidden host whose port is the mapped one (see `samePortHost`).
 * - `endpoint-independent`: one mapping for every destination tested (RFC 4787 §4.1), a "cone".
 * - `address-dependent`: the mapping follows the destination IP only (RFC 4787 §4.1).
 * - `address-and-port-dependent`: a new mapping when only the destination port changes.
 * - `destination-dependent`: the mapping varies by destination, but the destinations differed in
 *   address, so which of the two kinds above it is stays open. The last three are "symmetric".
 * - `udp-blocked`: no STUN answer at all: UDP blocked, or the STUN server unreachable.
 * - `unavailable`: this device has no address of the family (typically "no IPv6").
 * - `not-tested`: no STUN server of the family was offered.
 * - `unknown`: the data does not settle it; `reason` says why.
 */
export type NatBehaviour =
  | 'no-nat'
  | 'endpoint-independent'
  | 'address-dependent'
  | 'address-and-port-dependent'
  | 'destination-dependent'
  | 'udp-blocked'
  | 'unavailable'
  | 'not-tested'
  | 'unknown';

/** Every {@link NatBehaviour}, for validation. */
export const NAT_BEHAVIOURS: readonly NatBehaviour[] = [
  'no-nat',
  'endpoint-independent',
  'address-dependent',
  'address-and-port-dependent',
  'destination-dependent',
  'udp-blocked',
  'unavailable',
  'not-tested',
  'unknown',
];

/** A public address a STUN server saw. */
export interface MappedAddress {
  address: string;
  /** 0–65535. */
  port: number;
  /** The server that reported it first, as the browser wrote it. */
  url?: string;
}

/** The verdict for one IP family. */
export interface FamilyNatResult {
  family: IpFamily;
  behaviour: NatBehaviour;
  /** Distinct srflx addresses of this family, in the order they were gathered. */
  mappedAddresses: MappedAddress[];
  /** Plain words: what was seen and what it means. */
  reason: string;
  /** What this measurement cannot tell; each one sentence. */
  limits: string[];
}

/** Both families; what the page shows and sends to the other peer. */
export interface NatReport {
  ipv4: FamilyNatResult;
  ipv6: FamilyNatResult;
}

/** Labels for the panel, e.g. "IPv4: varies by destination (symmetric)". */
export const BEHAVIOUR_LABELS: Readonly<Record<NatBehaviour, string>> = {
  'no-nat': 'no NAT',
  'endpoint-independent': 'one mapping for every destination (cone)',
  'address-dependent': 'varies by destination address (symmetric)',
  'address-and-port-dependent': 'varies by destination (symmetric)',
  'destination-dependent': 'varies by destination (symmetric)',
  'udp-blocked': 'no STUN answer (UDP blocked or server unreachable)',
  unavailable: 'no address of this family',
  'not-tested': 'not tested',
  unknown: 'could not tell',
};

/** Caps on a report received from the other peer ({@link parseNatReport}). */
export const NAT_REPORT_LIMITS = {
  mappedAddresses: 8,
  limits: 8,
  textChars: 1000,
  urlChars: 256,
  addressChars: 64,
} as const;

/**
 * True for the three mapping behaviours a peer cannot predict from STUN ("symmetric" NAT):
 * the address STUN saw is not the one the other peer would reach (RFC 4787 §4.1, RFC 5128 §3.3).
 */
export function isSymmetric(behaviour: NatBehaviour): boolean {
  return (
    behaviour === 'address-dependent' ||
    behaviour === 'address-and-port-dependent' ||
    behaviour === 'destination-dependent'
  );
}

/**
 * IPv6's `no-nat` label (issue #14). Without NAT, what stands between an IPv6 device and the
 * internet is the router's stateful firewall, which RFC 6092 §3 recommends for every IPv6 home
 * router; the label names it ("only", since it is all there is to pass, not a measurement).
 */
export const IPV6_NO_NAT_LABEL = 'no NAT (firewall only)';

/**
 * The panel's short label: {@link BEHAVIOUR_LABELS}, with "no IPv6" / "no IPv4" spelled out, and
 * {@link IPV6_NO_NAT_LABEL} for IPv6 without NAT. IPv4's labels are as in the table.
 */
export function behaviourLabel(result: Pick<FamilyNatResult, 'family' | 'behaviour'>): string {
  if (result.behaviour === 'unavailable') return `no ${result.family}`;
  if (result.behaviour === 'no-nat' && result.family === 'IPv6') return IPV6_NO_NAT_LABEL;
  return BEHAVIOUR_LABELS[result.behaviour];
}

/**
 * Classifies the NAT in front of this device, once per IP family, from one gathering.
 *
 * Per family, the srflx candidates are grouped by the socket that produced them (its base,
 * `raddr rport`, when visible; else Chromium's `network-id`), and each socket's mappings are
 * compared across the STUN destinations:
 * - two destinations, two different mappings → a symmetric kind. Same server IP, different port
 *   → `address-and-port-dependent` by definition; different IPs only → `destination-dependent`,
 *   unless a third destination shows which (see the code);
 * - one mapping, and a second destination known to have answered (its own srflx with the same
 *   address, as Firefox may report, or gathering complete without an error for it: Chromium's
 *   dedup) → `endpoint-independent`;
 * - the mapping equals the socket's own address, or (Chromium without mDNS hiding) a public host
 *   address with no srflx at all while every server answered → `no-nat`; for IPv6 with the host
 *   hidden, the same port on a global address counts too (a heuristic, see `samePortHost`);
 * - no srflx and every destination failed, or nothing by the timeout → `udp-blocked`.
 *
 * Never throws. With `gathering: 'failed'`, both families are `unknown` and name `setupError`.
 */
export function classifyNat(input: NatProbeInput): NatReport {
  return {
    ipv4: classifyFamily('IPv4', input),
    ipv6: classifyFamily('IPv6', input),
  };
}

/**
 * Validates a {@link NatReport} received from the other peer through signaling: checks every
 * field, caps lengths ({@link NAT_REPORT_LIMITS}) and rebuilds a fresh object (unknown keys drop).
 * Never throws; `null` when any part is off-shape.
 */
export function parseNatReport(value: unknown): NatReport | null {
  if (!isRecord(value)) return null;
  const ipv4 = parseFamilyResult(value.ipv4, 'IPv4');
  const ipv6 = parseFamilyResult(value.ipv6, 'IPv6');
  return ipv4 && ipv6 ? { ipv4, ipv6 } : null;
}

// ---------------------------------------------------------------------------------------------
// Classification

interface Server {
  /** As given to the browser. */
  url: string;
  parsed: IceUrl;
  /** Canonical `host:port` for matching against the URLs the browser writes. */
  key: string;
}

interface FamilyContext {
  family: IpFamily;
  /** Servers a socket of this family can use: IP literals of the family, and DNS names. */
  servers: Server[];
  /** UDP srflx candidates of this family. */
  srflx: GatheredCandidate[];
  /** UDP host candidates with a visible IP of this family. */
  visibleHosts: GatheredCandidate[];
  /** UDP host candidates hidden behind mDNS names (any family). */
  hiddenHosts: GatheredCandidate[];
  /** Errors that count against (this family, server key). */
  failures: Map<string, ProbeError[]>;
  /** Something shows a socket of this family exists. */
  familySeen: boolean;
  complete: boolean;
  elapsedMs: number;
}

/** What one socket's srflx candidates say. */
interface Verdict {
  behaviour: NatBehaviour;
  reason: string;
  limits: string[];
}

const FILTERING_LIMIT =
  'Filtering (which incoming packets the NAT lets through, RFC 4787 §5) is not measured.';
const PRIVATE_LIMIT =
  'The STUN server saw a private address, so it sits on the same private network (or behind the same carrier NAT); the NAT toward the internet was not measured.';
const INTERFACE_LIMIT =
  'The browser did not say which network interface each mapping came from; on a device with two interfaces of this family, two mappings can also mean two NATs.';

function classifyFamily(family: IpFamily, input: NatProbeInput): FamilyNatResult {
  const result = (verdict: Verdict, mapped: MappedAddress[] = []): FamilyNatResult => ({
    family,
    behaviour: verdict.behaviour,
    mappedAddresses: mapped,
    reason: verdict.reason,
    limits: verdict.limits,
  });
  if (input.gathering === 'failed') {
    const why = input.setupError ? `: ${input.setupError}` : '';
    return result({
      behaviour: 'unknown',
      reason: `The NAT test could not start${why}.`,
      limits: [],
    });
  }
  const ctx = buildContext(family, input);
  const mapped = mappedAddresses(ctx.srflx);
  if (ctx.srflx.length === 0) return result(classifyWithoutMapping(ctx));

  const sockets = groupBySocket(ctx.srflx);
  const verdicts = [...sockets.values()].map((srflx) => classifySocket(ctx, srflx));
  const verdict = combine(verdicts);
  // Chromium without media permission binds one socket per family to the default route (no
  // `network-id`, one host candidate per family); only more hosts than that leave doubt.
  const hostsOfFamily =
    ctx.visibleHosts.length +
    ctx.hiddenHosts.filter((host) => hiddenHostFamily(host) !== otherFamily(family)).length;
  if (sockets.has(UNKNOWN_SOCKET) && mapped.length > 1 && hostsOfFamily !== 1) {
    verdict.limits.push(INTERFACE_LIMIT);
  }
  const privateOnly = mapped.every((m) => describeAddress(m.address) !== 'public');
  if (privateOnly && !verdict.limits.includes(PRIVATE_LIMIT)) verdict.limits.unshift(PRIVATE_LIMIT);
  return result(verdict, mapped);
}

function buildContext(family: IpFamily, input: NatProbeInput): FamilyContext {
  const servers: Server[] = [];
  for (const url of Array.isArray(input.servers) ? input.servers : []) {
    const parsed = parseIceUrl(url);
    if (parsed === null || parsed.scheme !== 'stun' || parsed.transport !== 'udp') continue;
    if (parsed.family !== null && parsed.family !== family) continue;
    const key = endpointKey(parsed.host, parsed.port);
    if (!servers.some((server) => server.key === key)) servers.push({ url, parsed, key });
  }

  const candidates = Array.isArray(input.candidates) ? input.candidates : [];
  const udp = candidates.filter((candidate) => candidate.protocol === 'udp');
  const srflx = udp.filter(
    (candidate) => candidate.type === 'srflx' && ipFamily(candidate.address) === family,
  );
  const hosts = udp.filter((candidate) => candidate.type === 'host');
  const visibleHosts = hosts.filter((candidate) => ipFamily(candidate.address) === family);
  const hiddenHosts = hosts.filter(
    (candidate) => describeAddress(candidate.address) === 'mDNS-hidden',
  );

  const failures = new Map<string, ProbeError[]>();
  let familyErrorSeen = false;
  for (const error of Array.isArray(input.errors) ? input.errors : []) {
    if (!isRecord(error) || typeof error.url !== 'string') continue;
    const localFamily = addressFamily(error.address);
    if (localFamily === family) familyErrorSeen = true;
    const parsed = parseIceUrl(error.url);
    const server = parsed && servers.find((s) => s.key === endpointKey(parsed.host, parsed.port));
    if (!server || !errorCounts(error, localFamily, server, family, srflx)) continue;
    failures.set(server.key, [...(failures.get(server.key) ?? []), error]);
  }

  return {
    family,
    servers,
    srflx,
    visibleHosts,
    hiddenHosts,
    failures,
    familySeen:
      srflx.length > 0 ||
      visibleHosts.length > 0 ||
      familyErrorSeen ||
      hiddenHosts.some((candidate) => hiddenHostFamily(candidate) === family),
    complete: input.gathering === 'complete',
    elapsedMs: Number.isFinite(input.elapsedMs) ? input.elapsedMs : 0,
  };
}

/**
 * Whether an error means "this server failed for a socket of `family`". libwebrtc reports a
 * server the socket's family cannot use as 701 "STUN server address is incompatible." (and TURN
 * as 600 "IP address family does not match."): a fact about the socket, not the server, so it
 * never counts. Otherwise the socket's own address decides when the browser gives it; failing
 * that, an IP-literal server belongs to its own family. A DNS-named server can be tried by both
 * families; its "host lookup" failure does not count against a family in which a srflx came from
 * the same name (the name did resolve there), since a lookup failure is per family.
 */
function errorCounts(
  error: ProbeError,
  localFamily: IpFamily | null,
  server: Server,
  family: IpFamily,
  srflx: readonly GatheredCandidate[],
): boolean {
  const text = typeof error.errorText === 'string' ? error.errorText : '';
  if (/incompatible|family does not match/i.test(text)) return false;
  if (localFamily !== null) return localFamily === family;
  if (server.parsed.family !== null) return server.parsed.family === family;
  if (!/lookup/i.test(text)) return true;
  return !srflx.some((candidate) => parseIceUrl(candidate.url ?? '')?.host === server.parsed.host);
}

/** No srflx of this family: no NAT, no such address, UDP blocked, or not tested. */
function classifyWithoutMapping(ctx: FamilyContext): Verdict {
  const { family, servers, complete } = ctx;
  const failed = servers.filter((server) => ctx.failures.has(server.key));
  const waited = `${seconds(ctx.elapsedMs)} s`;

  if (!ctx.familySeen) {
    // A socket of this family would have reported a mapping or an error before gathering could
    // complete; when host addresses are visible (or libwebrtc's priority names every hidden
    // one's family), their absence says the same directly.
    if (complete || ctx.hiddenHosts.every((host) => hiddenHostFamily(host) !== null)) {
      return {
        behaviour: 'unavailable',
        reason: `This device showed no ${family} address, so there is nothing to test over ${family}.`,
        limits: [],
      };
    }
    return {
      behaviour: 'unknown',
      reason: `No sign of ${family} within ${waited}. The browser hides this device's own addresses, so the page cannot tell whether it has no ${family} address or ${family} traffic gets no answer.`,
      limits: [],
    };
  }
  if (servers.length === 0) {
    return {
      behaviour: 'not-tested',
      reason: `No STUN server reachable over ${family} was offered, so the ${family} NAT was not tested.`,
      limits: [],
    };
  }

  const host = ctx.visibleHosts[0];
  if (host && complete && failed.length === 0) {
    // Every server answered (complete, no error) yet no srflx: with host IPs visible, Chromium
    // drops a mapped address equal to the socket's own, so each server saw the host address.
    return noNat(family, host.address, host.port);
  }

  const names = list(servers.map((server) => server.url));
  const errorNote = failureNote(ctx, servers);
  const lookupOnly = [...ctx.failures.values()].flat().every((e) => /lookup/i.test(e.errorText));
  if (failed.length === servers.length && lookupOnly) {
    return {
      behaviour: 'not-tested',
      reason: `The STUN server's name did not resolve to an ${family} address (${names}), so the ${family} NAT was not tested.`,
      limits: [],
    };
  }
  if (failed.length === servers.length || !complete) {
    const when = failed.length === servers.length ? '' : ` within ${waited}`;
    const limits = [
      'Cannot tell "UDP blocked" from "STUN server down or filtered": both give silence.',
      "The browser's errors (code 701: server not reachable) name the server that stayed silent, not the reason.",
    ];
    if (family === 'IPv6') {
      // An IPv6 socket exists (familySeen), yet nothing came back over IPv6: a firewall that
      // drops outgoing UDP, or an address with no working route out, look alike from here.
      return {
        behaviour: 'udp-blocked',
        reason: `No STUN server answered over UDP on IPv6${when} (${names}).${errorNote} Either this network blocks UDP over IPv6, or its IPv6 has no working route to the server (an address for the local network only, or a broken uplink), or the server cannot be reached; from inside the page these look the same.`,
        limits: [
          ...limits,
          "A device with IPv6 inside its own network only (a unique local address, RFC 4193) gives the same silence; then the other person's IPv6 cannot reach it either.",
        ],
      };
    }
    return {
      behaviour: 'udp-blocked',
      reason: `No STUN server answered over UDP${when} (${names}).${errorNote} Either this network blocks UDP or the STUN server cannot be reached; from inside the page the two look the same.`,
      limits,
    };
  }
  return {
    behaviour: 'unknown',
    reason: `Gathering finished without a ${family} mapping, yet not every STUN server failed (${names}).${errorNote} That should not happen, so no verdict.`,
    limits: [],
  };
}

const UNKNOWN_SOCKET = 'unknown';

/**
 * srflx candidates per socket. The base (`raddr rport`) names the socket when the browser shows
 * it; with mDNS hiding Chromium writes `raddr 0.0.0.0 rport 0` but keeps `network-id`.
 */
function groupBySocket(srflx: readonly GatheredCandidate[]): Map<string, GatheredCandidate[]> {
  const sockets = new Map<string, GatheredCandidate[]>();
  for (const candidate of srflx) {
    const base = candidate.relatedAddress ?? '';
    let key = UNKNOWN_SOCKET;
    if (ipFamily(base) !== null && describeAddress(base) !== 'unspecified') {
      key = `base ${canonicalHost(base)} ${candidate.relatedPort ?? 0}`;
    } else if (candidate.networkId !== undefined) {
      key = `network ${candidate.networkId}`;
    }
    sockets.set(key, [...(sockets.get(key) ?? []), candidate]);
  }
  return sockets;
}

function classifySocket(ctx: FamilyContext, srflx: readonly GatheredCandidate[]): Verdict {
  const mappings = mappedAddresses(srflx);
  const first = srflx[0];
  const firstMapping = mappings[0];
  if (first === undefined || firstMapping === undefined) {
    return { behaviour: 'unknown', reason: 'No mapping.', limits: [] };
  }

  // The mapping equals the socket's own address: no translation. Only visible when the browser
  // shows the base; Chromium without mDNS hiding drops such a srflx (see classifyWithoutMapping).
  if (
    mappings.length === 1 &&
    first.relatedAddress !== undefined &&
    sameIp(first.relatedAddress, firstMapping.address) &&
    first.relatedPort === firstMapping.port
  ) {
    return noNat(ctx.family, firstMapping.address, firstMapping.port);
  }
  const host = mappings.length === 1 ? samePortHost(ctx, first, firstMapping) : undefined;
  if (host) return noNatByPort(firstMapping, host);

  const byServer = new Map<string, { server: Server; mapping: string }>();
  for (const candidate of srflx) {
    const server = serverOf(ctx, candidate.url);
    if (server && !byServer.has(server.key)) {
      byServer.set(server.key, { server, mapping: endpointKey(candidate.address, candidate.port) });
    }
  }
  // Answered without a srflx of their own: only knowable once gathering is complete.
  const silent = ctx.complete
    ? ctx.servers.filter((s) => !byServer.has(s.key) && !ctx.failures.has(s.key))
    : [];

  return mappings.length > 1
    ? classifyVarying(ctx, mappings, byServer, silent)
    : classifySingle(ctx, firstMapping, byServer, silent);
}

function noNat(family: IpFamily, address: string, port: number): Verdict {
  const limits = [
    family === 'IPv6'
      ? IPV6_FIREWALL_LIMIT
      : 'A firewall without NAT may still drop incoming packets; filtering is not measured.',
  ];
  if (describeAddress(address) !== 'public') limits.unshift(PRIVATE_LIMIT);
  return {
    behaviour: 'no-nat',
    reason: `The STUN servers saw this device's own address ${formatHostPort(address, port)}: no NAT between them.`,
    limits,
  };
}

const IPV6_FIREWALL_LIMIT =
  "Filtering is not measured. IPv6 routers without NAT normally keep a stateful firewall (RFC 6092 §3): it drops packets nobody inside asked for and lets in the answers to what this device sent, which is what ICE's checks from both ends rely on (RFC 8445 §2.2).";

/**
 * The hidden host candidate of an IPv6 socket whose port is the one STUN saw, if any: the sign
 * of "no NAT" when the browser hides the device's own address.
 *
 * Chromium with mDNS hiding writes the host as `<uuid>.local` and the srflx's base as `raddr ::
 * rport 0`, and emits the srflx even when it equals the host address (libwebrtc does so whenever
 * an mDNS responder hides the host, since the peer could not learn the address otherwise). So
 * the addresses cannot be compared, but the ports can: a host candidate of the same socket (same
 * `network-id`, or none on either, as with one socket per family; IPv6 by libwebrtc's priority,
 * or of unknown family) on the mapped port, and a global mapped address.
 *
 * IPv6 only, and a heuristic. An IPv4 NAT keeps the source port whenever it is free (port
 * preservation, RFC 4787 §4.2.1; Linux MASQUERADE does), so equal ports say nothing there. IPv6
 * home and carrier routers normally route without translation, behind a stateful firewall
 * (RFC 6092), so
 * equal ports most likely mean no NAT; but a prefix translator (NPTv6, RFC 6296: it rewrites the
 * prefix and leaves ports alone) or a NAT66 that keeps ports looks the same, as the verdict's
 * limits say. NPTv6 is stateless and maps every destination alike, so for a direct path it is as
 * good as no NAT; a port-keeping NAT66 that maps per destination would show a second mapping.
 */
function samePortHost(
  ctx: FamilyContext,
  srflx: GatheredCandidate,
  mapping: MappedAddress,
): GatheredCandidate | undefined {
  if (ctx.family !== 'IPv6' || describeAddress(mapping.address) !== 'public') return undefined;
  const base = srflx.relatedAddress;
  if (base !== undefined && ipFamily(base) !== null && describeAddress(base) !== 'unspecified') {
    return undefined; // the base is shown: compared directly, and it differed
  }
  return ctx.hiddenHosts.find(
    (host) =>
      host.port === mapping.port &&
      host.networkId === srflx.networkId &&
      hiddenHostFamily(host) !== 'IPv4',
  );
}

function noNatByPort(mapping: MappedAddress, host: GatheredCandidate): Verdict {
  const seen = formatHostPort(mapping.address, mapping.port);
  const guess =
    hiddenHostFamily(host) === 'IPv6'
      ? ''
      : ' The browser did not say which family that host candidate is; a port shared with an IPv4 socket by chance would look the same.';
  return {
    behaviour: 'no-nat',
    reason: `The browser hides this device's own IPv6 address, but the STUN servers saw ${seen}, a global address, on the very port of this device's IPv6 socket (${mapping.port}): most likely no address translation, only a firewall.${guess}`,
    limits: [
      'Judged by the port alone: a prefix translator (NPTv6, RFC 6296), which rewrites the address and keeps the port, or a NAT66 that keeps ports looks the same. NPTv6 maps every destination alike, so a direct path works as without NAT.',
      IPV6_FIREWALL_LIMIT,
    ],
  };
}

/** One mapping from this socket: a cone if a second destination is known to have answered. */
function classifySingle(
  ctx: FamilyContext,
  mapping: MappedAddress,
  byServer: ReadonlyMap<string, { server: Server }>,
  silent: readonly Server[],
): Verdict {
  const seen = formatHostPort(mapping.address, mapping.port);
  const answered = [...[...byServer.values()].map(({ server }) => server), ...silent];
  if (ctx.servers.length < 2) {
    return {
      behaviour: 'unknown',
      reason: `The STUN server saw this device as ${seen}, but there was only one STUN destination; telling the mapping behaviour takes two to compare.`,
      limits: ['The server needs a second STUN port (STUN_PORT + 1) or a second address.'],
    };
  }
  if (answered.length >= 2) {
    const limits = [FILTERING_LIMIT];
    if (new Set(answered.map((server) => server.parsed.host)).size === 1) {
      limits.unshift(
        'Both destinations share one IP address and differ only in port. A NAT that keeps one mapping per destination address (RFC 4787 address-dependent mapping) looks the same; only a second server address tells them apart (RFC 5780 §4.3).',
      );
    }
    const failed = ctx.servers.filter((server) => ctx.failures.has(server.key));
    if (failed.length > 0) {
      limits.push(`${list(failed.map((s) => s.url))} did not answer.${failureNote(ctx, failed)}`);
    }
    const how =
      silent.length === 0
        ? ''
        : ` The browser reports a mapping once; ${list(silent.map((s) => s.url))} answered without a new one (gathering finished with no error for it).`;
    const who = answered.length === 2 ? 'Both STUN destinations' : 'All STUN destinations';
    return {
      behaviour: 'endpoint-independent',
      reason: `${who}, ${list(answered.map((s) => s.url))}, saw this device as ${seen}: one public mapping for every destination, an endpoint-independent ("cone") NAT (RFC 4787 §4.1).${how}`,
      limits,
    };
  }

  const producer = answered[0] ? `The STUN server ${answered[0].url}` : 'One STUN server';
  const others = ctx.servers.filter((server) => server.url !== answered[0]?.url);
  const failed = others.filter((server) => ctx.failures.has(server.key));
  if (failed.length === others.length) {
    return {
      behaviour: 'unknown',
      reason: `${producer} saw this device as ${seen}, but ${list(failed.map((s) => s.url))} did not answer${failureNote(ctx, failed, true)}, so there is no second mapping to compare with.`,
      limits: ['A firewall that lets through only the first STUN port gives this result.'],
    };
  }
  return {
    behaviour: 'unknown',
    reason: `${producer} saw this device as ${seen}. After ${seconds(ctx.elapsedMs)} s the browser had reported neither a mapping nor an error for ${list(others.filter((s) => !failed.includes(s)).map((s) => s.url))} and was still gathering, so the page cannot tell whether it saw the same mapping (the browser reports a mapping once) or never answered.`,
    limits: [
      'Another network interface that is slow to give up can keep gathering from finishing.',
    ],
  };
}

/** Several mappings from one socket: the NAT maps per destination ("symmetric"). */
function classifyVarying(
  ctx: FamilyContext,
  mappings: readonly MappedAddress[],
  byServer: ReadonlyMap<string, { server: Server; mapping: string }>,
  silent: readonly Server[],
): Verdict {
  const pairs = [...byServer.values()];
  const seen = list(
    mappings.map((m) => `${formatHostPort(m.address, m.port)}${m.url ? ` from ${m.url}` : ''}`),
  );
  const opening = `The STUN destinations saw this device at different public addresses: ${seen}.`;

  const portOnly = pairs.some((a) =>
    pairs.some(
      (b) =>
        a.server.parsed.host === b.server.parsed.host &&
        a.server.parsed.port !== b.server.parsed.port &&
        a.mapping !== b.mapping,
    ),
  );
  if (portOnly) {
    return {
      behaviour: 'address-and-port-dependent',
      reason: `${opening} The NAT made a new mapping when only the destination port changed: its mapping varies by destination, address-and-port-dependent ("symmetric", RFC 4787 §4.1). The address STUN saw is not the one a peer would reach.`,
      limits: [
        'Two destinations on one server were compared; the behaviour toward other addresses is inferred from the definition, not seen.',
      ],
    };
  }

  // Destinations that differ in IP got different mappings. A server that answered without a
  // mapping of its own (silent, gathering complete) reused one already reported; if it shares
  // an IP with a server that reported one, the NAT reused the mapping for the same destination
  // address across ports. That is address-dependent mapping; address-and-port-dependent would
  // have given it a fresh mapping, endpoint-independent only one mapping in all.
  const acrossAddresses = pairs.some((a) =>
    pairs.some((b) => a.server.parsed.host !== b.server.parsed.host && a.mapping !== b.mapping),
  );
  const reuse = silent.find((s) => pairs.some((p) => p.server.parsed.host === s.parsed.host));
  if (acrossAddresses && reuse) {
    return {
      behaviour: 'address-dependent',
      reason: `${opening} ${reuse.url} answered without a new mapping, so the NAT reused the one it made for the same server address: its mapping follows the destination address (address-dependent, "symmetric", RFC 4787 §4.1).`,
      limits: [
        'Inferred from a server that answered without a new mapping: the browser reports each mapping once and does not say which one that server saw.',
      ],
    };
  }
  return {
    behaviour: 'destination-dependent',
    reason: `${opening} The NAT's mapping varies by destination ("symmetric", RFC 4787 §4.1). The address STUN saw is not the one a peer would reach.`,
    limits: [
      'The destinations that differed also differed in address, so whether the NAT keys its mappings on address alone or on address and port was not measured.',
    ],
  };
}

/**
 * One family's verdict from its sockets' verdicts. Agreement wins; a definite verdict beats
 * `unknown` sockets (noted as a limit); two different definite verdicts give `unknown`.
 */
function combine(verdicts: readonly Verdict[]): Verdict {
  const definite = verdicts.filter((v) => v.behaviour !== 'unknown');
  const first = definite[0] ?? verdicts[0];
  if (first === undefined) return { behaviour: 'unknown', reason: 'No mapping.', limits: [] };
  if (definite.length === 0 || verdicts.length === 1) return first;
  if (definite.every((v) => v.behaviour === first.behaviour)) {
    const limits = [...new Set(verdicts.flatMap((v) => v.limits))];
    if (definite.length < verdicts.length) {
      limits.push('Another network interface gave no verdict.');
    }
    return { behaviour: first.behaviour, reason: first.reason, limits };
  }
  return {
    behaviour: 'unknown',
    reason: `This device's network interfaces behave differently: ${verdicts.map((v) => BEHAVIOUR_LABELS[v.behaviour]).join('; ')}. Which one a connection will use is up to the browser.`,
    limits: [...new Set(verdicts.flatMap((v) => v.limits))],
  };
}

function serverOf(ctx: FamilyContext, url: string | undefined): Server | undefined {
  const parsed = url === undefined ? null : parseIceUrl(url);
  if (parsed === null) return undefined;
  const key = endpointKey(parsed.host, parsed.port);
  return ctx.servers.find((server) => server.key === key);
}

function mappedAddresses(srflx: readonly GatheredCandidate[]): MappedAddress[] {
  const seen = new Map<string, MappedAddress>();
  for (const candidate of srflx) {
    const key = endpointKey(candidate.address, candidate.port);
    if (seen.has(key)) continue;
    const mapped: MappedAddress = { address: candidate.address, port: candidate.port };
    if (candidate.url !== undefined) mapped.url = candidate.url;
    seen.set(key, mapped);
  }
  return [...seen.values()];
}

/** " The browser reported error 701 (…) for …" for the servers given, or `''`. */
function failureNote(ctx: FamilyContext, servers: readonly Server[], inline = false): string {
  const byCode = new Map<string, string[]>();
  for (const server of servers) {
    const errors = ctx.failures.get(server.key) ?? [];
    for (const code of new Set(errors.map((e) => describeErrorCode(e.errorCode)))) {
      byCode.set(code, [...(byCode.get(code) ?? []), server.url]);
    }
  }
  const parts = [...byCode].map(([code, urls]) => `${code} for ${list(urls)}`);
  if (parts.length === 0) return '';
  return inline
    ? ` (the browser reported ${list(parts)})`
    : ` The browser reported ${list(parts)}.`;
}

/** `error 701 (server not reachable)`, and the like, for STUN/TURN error codes. */
export function describeErrorCode(code: number): string {
  const meaning: Record<number, string> = {
    300: 'try another server',
    400: 'bad request',
    401: 'unauthorized: wrong or missing credentials',
    403: 'forbidden',
    420: 'unknown attribute',
    437: 'allocation mismatch',
    438: 'stale nonce',
    441: 'wrong credentials',
    486: 'allocation quota reached',
    500: 'server error',
    508: 'insufficient capacity',
    600: 'global failure',
    701: 'server not reachable',
  };
  const words = meaning[code];
  return words ? `error ${code} (${words})` : `error ${code}`;
}

// ---------------------------------------------------------------------------------------------
// Addresses

/**
 * Family hint for an mDNS-hidden host candidate, from libwebrtc's priority formula
 * (`priorityFamily` in ice/candidate-family.ts, which the panel uses too). Other browsers use
 * other formulas and give `null`, so this is a hint: used to tell "no IPv6 here" from "no
 * answer", and to pick the IPv6 host for `samePortHost`.
 */
function hiddenHostFamily(candidate: ParsedIceCandidate): IpFamily | null {
  return priorityFamily(candidate.priority);
}

/** Family of an error's local address, which Chromium may redact (`10.0.1.x`, `2001:db8:x`). */
function addressFamily(address: unknown): IpFamily | null {
  if (typeof address !== 'string' || address === '') return null;
  if (address.includes(':')) return 'IPv6';
  return /^\d{1,3}\.\d{1,3}\.\d{1,3}\.(?:\d{1,3}|x)$/i.test(address) ? 'IPv4' : null;
}

function otherFamily(family: IpFamily): IpFamily {
  return family === 'IPv4' ? 'IPv6' : 'IPv4';
}

/** Both are IP literals, and the same address however spelt. */
function sameIp(a: string, b: string): boolean {
  return parseIpAddress(a) !== null && canonicalHost(a) === canonicalHost(b);
}

/** The family of an IP literal; `null` for anything else, `.local` names included. */
function ipFamily(text: string): IpFamily | null {
  return parseIpAddress(text)?.family ?? null;
}

function endpointKey(host: string, port: number): string {
  return `${canonicalHost(host)} ${port}`;
}

// ---------------------------------------------------------------------------------------------
// Words

function seconds(ms: number): string {
  return String(Math.round(ms / 100) / 10);
}

/** "a", "a and b", "a, b and c". */
function list(items: readonly string[]): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

// ---------------------------------------------------------------------------------------------
// Parsing a peer's report

type Dict = Readonly<Record<string, unknown>>;

function isRecord(value: unknown): value is Dict {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function boundedString(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length <= max;
}

function parseFamilyResult(value: unknown, family: IpFamily): FamilyNatResult | null {
  if (!isRecord(value) || value.family !== family) return null;
  const { behaviour, mappedAddresses: mapped, reason, limits } = value;
  if (!(NAT_BEHAVIOURS as readonly unknown[]).includes(behaviour)) return null;
  if (!boundedString(reason, NAT_REPORT_LIMITS.textChars)) return null;
  if (!Array.isArray(limits) || limits.length > NAT_REPORT_LIMITS.limits) return null;
  if (!limits.every((limit) => boundedString(limit, NAT_REPORT_LIMITS.textChars))) return null;
  if (!Array.isArray(mapped) || mapped.length > NAT_REPORT_LIMITS.mappedAddresses) return null;
  const addresses: MappedAddress[] = [];
  for (const entry of mapped) {
    if (!isRecord(entry)) return null;
    const { address, port, url } = entry;
    if (!boundedString(address, NAT_REPORT_LIMITS.addressChars) || ipFamily(address) === null) {
      return null;
    }
    if (!Number.isInteger(port) || (port as number) < 0 || (port as number) > 65535) return null;
    const parsed: MappedAddress = { address, port: port as number };
    if (url !== undefined) {
      if (!boundedString(url, NAT_REPORT_LIMITS.urlChars)) return null;
      parsed.url = url;
    }
    addresses.push(parsed);
  }
  return {
    family,
    behaviour: behaviour as NatBehaviour,
    mappedAddresses: addresses,
    reason,
    limits: [...(limits as string[])],
  };
}
