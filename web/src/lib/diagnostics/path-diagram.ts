/**
 * The path diagram of one connection (issue #13), as data: which boxes to draw (this device, its
 * NAT, the TURN server(s) in use, the internet, their NAT, their device), which of them the
 * packets of the selected candidate pair pass, on which transport and with which round trip, how
 * many other pairs failed, and one sentence that says the same for screen readers and tests.
 * A pure function of the diagnostics state; `components/PathDiagram.svelte` draws it.
 *
 * Where an address is drawn follows where it lives (RFC 8445 §5.1.1): a host candidate's address
 * is the device's own, a server-reflexive or peer-reflexive one is the NAT's public mapping, a
 * relayed one is an address of the TURN server. An address the browser hides (a remote prflx
 * candidate, webrtc-stats §RTCIceCandidateStats) is "(hidden)", as in the tables.
 *
 * The family of the path is the pair's (RFC 8445 §6.1.2.2: both candidates share it), read from
 * whichever address is shown, else inferred from the candidates' priority, and then said to be
 * inferred (`ice/candidate-family.ts`). The NAT boxes describe that family's NAT result: an IPv6
 * path passes the IPv6 router, which usually translates nothing (issue #14).
 */
import { formatHostPort, type IpFamily } from '../../../../common/ip-address.ts';
import { pairFamily, type CandidateFamily } from '../ice/candidate-family.ts';
import type { CandidateInfo, CandidatePairInfo, IceReport } from '../ice/ice-report.ts';
import type { FamilyNatResult, NatBehaviour, NatReport } from '../nat/nat-classifier.ts';
import { formatRttMs } from './stats-history.ts';

/** The boxes, in the order drawn from this device to theirs. */
export type DiagramNodeId =
  | 'local-device'
  | 'local-nat'
  | 'local-turn'
  | 'internet'
  | 'remote-turn'
  | 'remote-nat'
  | 'remote-device';

/** One box. */
export interface DiagramNode {
  id: DiagramNodeId;
  /** e.g. "This device", "Your NAT", "Bob’s NAT", "TURN server (yours)". */
  label: string;
  /** Short lines under the label: behaviour, addresses. */
  lines: string[];
}

/** How the packets of the selected pair go: straight between the NATs, or through a relay. */
export type Route = 'direct' | 'relay' | 'none';

/** The selected pair, drawn as the way the packets go. */
export interface DiagramPath {
  /** The boxes the packets pass, this device first. */
  via: DiagramNodeId[];
  /** Transport between the two candidates' endpoints: "UDP", or "TCP" (RFC 6544). */
  protocol: 'UDP' | 'TCP';
  /** Transport from this device to its TURN server when it relays: "UDP", "TCP" or "TLS". */
  relayProtocol: 'UDP' | 'TCP' | 'TLS' | null;
  /** IP family of the pair; `null` when neither address nor priority tells. */
  family: IpFamily | null;
  /** How {@link family} was read: from an address, or inferred from a priority. */
  familyFrom: CandidateFamily['from'] | null;
  /** Latest STUN round trip on the pair, ms; `null` until measured. */
  rttMs: number | null;
  /** What the line is labelled with, e.g. "UDP · IPv4 · 23 ms". */
  label: string;
}

/** The whole picture of one connection. */
export interface PathDiagram {
  nodes: DiagramNode[];
  route: Route;
  selected: DiagramPath | null;
  /** Pairs whose checks failed (RFC 8445 §6.1.2.6 state `failed`), drawn dashed, per route. */
  failed: { direct: number; relay: number };
  /** One sentence that says what the picture shows. */
  text: string;
}

/** What {@link pathDiagram} reads. */
export interface PathDiagramInput {
  /** The other person's name as shown, e.g. "Bob". */
  remoteName: string;
  /** This device's NAT report; `null` until probed. */
  localNat: NatReport | null;
  /** Theirs, as their page sent it; `null` until it arrives. */
  remoteNat: NatReport | null;
  /** The latest getStats() reading of this connection; `null` before the first. */
  report: Pick<IceReport, 'selectedPair' | 'pairs'> | null;
}

/** A NAT behaviour in the diagram's few words (issue #13: cone / varies by destination / …). */
const SHORT_BEHAVIOUR: Readonly<Record<NatBehaviour, string>> = {
  'no-nat': 'no NAT (firewall only)',
  'endpoint-independent': 'cone: one mapping for every destination',
  'address-dependent': 'varies by destination (symmetric)',
  'address-and-port-dependent': 'varies by destination (symmetric)',
  'destination-dependent': 'varies by destination (symmetric)',
  'udp-blocked': 'UDP blocked (no STUN answer)',
  unavailable: 'no address of this family',
  'not-tested': 'not tested',
  unknown: 'could not tell',
};

/** The address of a candidate as the tables show it. */
function endpoint(candidate: CandidateInfo): string {
  return candidate.address === undefined
    ? `(hidden):${candidate.port}`
    : formatHostPort(candidate.address, candidate.port);
}

/**
 * Characters that fit on one line of a box: the drawing is 320 units wide, its text 10 units
 * high, and a box leaves about 265 units for text, some 45 hex digits and colons.
 */
const MAX_LINE_CHARS = 44;

/**
 * `line` when it fits in a box, else `split`: a global IPv6 endpoint alone takes up to 47
 * characters (`[2a02:…:9abc]:54321`), so it gets a line of its own.
 */
function fitted(line: string, split: string[]): string[] {
  return line.length <= MAX_LINE_CHARS ? [line] : split;
}

/** "this path: <endpoint> (<type>)", on two lines when the endpoint is long. */
function thisPath(candidate: CandidateInfo): string[] {
  const at = endpoint(candidate);
  return fitted(`this path: ${at} (${candidate.type})`, [`this path (${candidate.type}):`, at]);
}

/** The family result a NAT box describes: the selected pair's family, else IPv4's. */
function natResult(report: NatReport | null, family: IpFamily | null): FamilyNatResult | null {
  if (report === null) return null;
  return family === 'IPv6' ? report.ipv6 : report.ipv4;
}

function natLines(
  result: FamilyNatResult | null,
  candidate: CandidateInfo | null,
  pending: string,
): string[] {
  const lines: string[] = [];
  if (result === null) lines.push(pending);
  else {
    lines.push(`${result.family}: ${SHORT_BEHAVIOUR[result.behaviour]}`);
    const seen = result.mappedAddresses[0];
    if (seen) {
      const at = formatHostPort(seen.address, seen.port);
      lines.push(...fitted(`STUN saw ${at}`, ['STUN saw', at]));
    }
  }
  if (candidate && (candidate.type === 'srflx' || candidate.type === 'prflx')) {
    lines.push(...thisPath(candidate));
  }
  return lines;
}

function deviceLines(candidate: CandidateInfo | null): string[] {
  return candidate?.type === 'host' ? thisPath(candidate) : [];
}

/** A relay box's lines: the relayed address, and the server's URL when known. */
function relayLines(candidate: CandidateInfo): string[] {
  const at = endpoint(candidate);
  const lines = fitted(`relay ${at}`, ['relay', at]);
  if (candidate.url) lines.push(...urlLines(candidate.url));
  return lines;
}

/**
 * A TURN URL in lines that fit: with an IPv6 literal it is long too, so it breaks after the
 * scheme and before the query (`turn:` / `[2a02:…]:3478` / `?transport=udp`), as few as fit.
 */
function urlLines(url: string): string[] {
  const lines: string[] = [];
  for (const piece of url.split(/(?<=^[a-z]+:)|(?=\?)/i)) {
    const last = lines.length - 1;
    const joined = `${lines[last] ?? ''}${piece}`;
    if (last >= 0 && joined.length <= MAX_LINE_CHARS) lines[last] = joined;
    else lines.push(piece);
  }
  return lines;
}

function relayProtocolOf(candidate: CandidateInfo): DiagramPath['relayProtocol'] {
  if (candidate.type !== 'relay') return null;
  return candidate.relayProtocol === 'tls'
    ? 'TLS'
    : candidate.relayProtocol === 'tcp'
      ? 'TCP'
      : 'UDP';
}

/** Whether a pair goes through a relay on either side. */
function isRelayed(pair: Pick<CandidatePairInfo, 'local' | 'remote'>): boolean {
  return pair.local.type === 'relay' || pair.remote.type === 'relay';
}

/** Pairs whose checks succeeded (a pair can succeed and still not be the selected one). */
function succeeded(pairs: readonly Pick<CandidatePairInfo, 'state'>[]): number {
  return pairs.filter((candidatePair) => candidatePair.state === 'succeeded').length;
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

/**
 * The boxes the packets of a pair pass. A host candidate sends from the device itself (no NAT
 * mapping in between: the two are on one network, or the device has a public address); a
 * server- or peer-reflexive one through its NAT's mapping; a relayed one through its NAT to the
 * TURN server (RFC 8656 §2). Two host candidates meet on the local network, not the internet.
 */
function pathVia(local: CandidateInfo, remote: CandidateInfo): DiagramNodeId[] {
  const side = (candidate: CandidateInfo, nat: DiagramNodeId, turn: DiagramNodeId) =>
    candidate.type === 'host' ? [] : candidate.type === 'relay' ? [nat, turn] : [nat];
  const mine = side(local, 'local-nat', 'local-turn');
  const theirs = side(remote, 'remote-nat', 'remote-turn').reverse();
  const middle: DiagramNodeId[] =
    local.type === 'host' && remote.type === 'host' ? [] : ['internet'];
  return ['local-device', ...mine, ...middle, ...theirs, 'remote-device'];
}

/**
 * The diagram of one connection. Never throws; missing pieces (no NAT report yet, no pair yet)
 * become boxes that say so and a sentence that says what is known.
 */
export function pathDiagram(input: PathDiagramInput): PathDiagram {
  const pair = input.report?.selectedPair ?? null;
  const local = pair?.local ?? null;
  const remote = pair?.remote ?? null;
  const familyRead = pairFamily(pair);
  const family = familyRead?.family ?? null;
  const them = input.remoteName;

  const nodes: DiagramNode[] = [
    { id: 'local-device', label: 'This device', lines: deviceLines(local) },
    {
      id: 'local-nat',
      label: 'Your NAT',
      lines: natLines(natResult(input.localNat, family), local, 'not tested yet'),
    },
  ];
  if (local?.type === 'relay') {
    nodes.push({
      id: 'local-turn',
      label: 'TURN server (yours)',
      lines: relayLines(local),
    });
  }
  nodes.push({ id: 'internet', label: 'The internet', lines: [] });
  if (remote?.type === 'relay') {
    nodes.push({
      id: 'remote-turn',
      label: 'TURN server (theirs)',
      lines: relayLines(remote),
    });
  }
  nodes.push(
    {
      id: 'remote-nat',
      label: `${them}’s NAT`,
      lines: natLines(natResult(input.remoteNat, family), remote, 'not known yet'),
    },
    { id: 'remote-device', label: `${them}’s device`, lines: deviceLines(remote) },
  );

  const failed = { direct: 0, relay: 0 };
  for (const candidatePair of input.report?.pairs ?? []) {
    if (candidatePair.state !== 'failed') continue;
    failed[isRelayed(candidatePair) ? 'relay' : 'direct'] += 1;
  }
  const failedTotal = failed.direct + failed.relay;
  const failedText = failedTotal === 0 ? '' : `; ${plural(failedTotal, 'other pair')} failed`;

  if (pair === null || local === null || remote === null) {
    const total = input.report?.pairs.length ?? 0;
    const checking = total - failedTotal - succeeded(input.report?.pairs ?? []);
    const parts = [
      failedTotal > 0 ? `${failedTotal} failed` : null,
      checking > 0 ? `${checking} still being checked` : null,
    ].filter((part) => part !== null);
    return {
      nodes,
      route: 'none',
      selected: null,
      failed,
      text:
        total === 0
          ? `No path to ${them} yet: no candidate pairs to check yet.`
          : `No path to ${them}${checking > 0 ? ' yet' : ''}: none of ${plural(total, 'candidate pair')} has succeeded${parts.length > 0 ? ` (${parts.join(', ')})` : ''}.`,
    };
  }

  const route: Route = isRelayed(pair) ? 'relay' : 'direct';
  const protocol = local.protocol === 'tcp' ? 'TCP' : 'UDP';
  const relayProtocol = relayProtocolOf(local);
  const rttMs = pair.currentRoundTripTimeMs ?? null;
  const rtt = rttMs === null ? null : `${formatRttMs(rttMs)} ms`;
  const inferred = familyRead?.from === 'priority';
  const familyText = family && (inferred ? `${family} by priority` : family);
  const label = [relayProtocol ? `${relayProtocol} to TURN` : protocol, familyText, rtt]
    .filter((part) => part !== null)
    .join(' · ');
  const via = pathVia(local, remote);
  const familyNote = family
    ? ` (${family}${inferred ? ', judged by the candidates’ priority' : ''})`
    : '';
  const over = `over ${relayProtocol ? `${relayProtocol} to the TURN server` : protocol}${familyNote}`;
  const ends = `this device (${local.type} ${endpoint(local)}) ↔ ${them} (${remote.type} ${endpoint(remote)})`;
  const through =
    route === 'direct'
      ? via.includes('internet')
        ? 'Direct'
        : 'Direct on the local network'
      : `Relayed through ${[
          local.type === 'relay' ? 'your' : null,
          remote.type === 'relay' ? 'their' : null,
        ]
          .filter((who) => who !== null)
          .join(' and ')} TURN server`;
  return {
    nodes,
    route,
    selected: {
      via,
      protocol,
      relayProtocol,
      family,
      familyFrom: familyRead?.from ?? null,
      rttMs,
      label,
    },
    failed,
    text: `${through} ${over}: ${ends}${rtt ? `, round trip ${rtt}` : ''}${failedText}.`,
  };
}
