/**
 * Turns one `RTCPeerConnection.getStats()` snapshot into what the NAT traversal panel shows: the
 * candidate pair in use, every pair, both sides' candidates, and a one-word verdict. Pure; the
 * input is any collection of plain stats dictionaries, so node tests pass literals.
 *
 * Stats are loosely typed and differ between browsers and versions, so every field is checked on
 * read. A field the browser did not report, or reported in a shape we do not know, is left out of
 * the result rather than defaulted: a `0` or `false` we made up would read as a measurement.
 */
import { isIceCandidateType, type IceCandidateType, type IceProtocol } from './ice-candidate.ts';

/** How a TURN client reached its server (webrtc-stats `RTCIceServerTransportProtocol`). */
export type RelayProtocol = 'udp' | 'tcp' | 'tls';

/** One local or remote candidate, read from an `RTCIceCandidateStats` dictionary. */
export interface CandidateInfo {
  /** Stats id, e.g. Chromium's `'I6hUn3bD+'`; pairs refer to candidates by it. */
  id: string;
  type: IceCandidateType;
  protocol: IceProtocol;
  /**
   * IP address or mDNS name (`address`, or the pre-2020 `ip`). Absent when the browser hides it:
   * webrtc-stats §RTCIceCandidateStats forbids exposing a remote address the page was never
   * given, which is every remote peer-reflexive candidate.
   */
  address?: string;
  /** 0–65535. */
  port: number;
  /**
   * RFC 8445 §5.1.2.1 priority. With the address hidden, it may still tell the IP family
   * (`candidate-family.ts`).
   */
  priority?: number;
  /** Local relay candidates only: the transport to the TURN server. */
  relayProtocol?: RelayProtocol;
  /** Local srflx/relay candidates only: the STUN or TURN server URL that produced it. */
  url?: string;
}

/**
 * webrtc-stats `RTCStatsIceCandidatePairState`, plus `'cancelled'`, which Firefox still reports.
 * Firefox's `'inprogress'` is read as `'in-progress'`.
 */
export type CandidatePairState =
  'frozen' | 'waiting' | 'in-progress' | 'failed' | 'succeeded' | 'cancelled';

/** One candidate pair (webrtc-stats §RTCIceCandidatePairStats) with both candidates resolved. */
export interface CandidatePairInfo {
  /** Stats id; Chromium builds it as `'CP' + local + '_' + remote` candidate ids. */
  id: string;
  /** Connectivity-check state (RFC 8445 §6.1.2.6); absent if missing or unknown. */
  state?: CandidatePairState;
  /** The controlling agent nominated this pair; `false` also when the stat is missing. */
  nominated: boolean;
  local: CandidateInfo;
  remote: CandidateInfo;
  /** Latest STUN round trip on this pair, milliseconds (the stat itself is in seconds). */
  currentRoundTripTimeMs?: number;
  /** Payload bytes sent on this pair, excluding headers and STUN. */
  bytesSent?: number;
  /** Payload bytes received on this pair, excluding headers and STUN. */
  bytesReceived?: number;
  /** STUN connectivity-check requests sent. */
  requestsSent?: number;
  /** STUN connectivity-check responses received. */
  responsesReceived?: number;
}

/**
 * How the selected pair was found, strongest first; the panel can say when it is inferred.
 * - `transport`: `RTCTransportStats.selectedCandidatePairId` (webrtc-stats §RTCTransportStats).
 * - `selected-flag`: a pair with `selected: true`. The member was dropped from webrtc-stats, but
 *   Firefox still sets it and emits no `transport` stats at all.
 * - `nominated`: the only pair that is both nominated and `succeeded` (RFC 8445 §8.1.1: one
 *   nominated pair per component), for any other browser without the two above.
 */
export type SelectedPairSource = 'transport' | 'selected-flag' | 'nominated';

/** Everything the panel needs from one stats snapshot. */
export interface IceReport {
  /** The pair carrying the data channel, or `null` when none is known or it cannot be resolved. */
  selectedPair: CandidatePairInfo | null;
  /** Which rule found `selectedPair`; `null` exactly when `selectedPair` is. */
  selectedPairSource: SelectedPairSource | null;
  /** Every pair whose two candidates are in the snapshot, in report order. */
  pairs: CandidatePairInfo[];
  localCandidates: CandidateInfo[];
  remoteCandidates: CandidateInfo[];
}

/**
 * A `getStats()` result or a stand-in: `RTCStatsReport`, a `Map` of id → stats (both iterate
 * values through `values()`), or an array of stats dictionaries.
 */
export type StatsSource = { values(): Iterable<unknown> };

/** Verdict when neither candidate of the selected pair is a TURN relay. */
export const VERDICT_DIRECT = 'Direct';
/** Verdict when either candidate of the selected pair is a TURN relay. */
export const VERDICT_RELAYED = 'Relayed (TURN)';
/** The panel's one-line answer to "did hole punching work?". */
export type Verdict = typeof VERDICT_DIRECT | typeof VERDICT_RELAYED;

const PAIR_STATES: readonly CandidatePairState[] = [
  'frozen',
  'waiting',
  'in-progress',
  'failed',
  'succeeded',
  'cancelled',
];
const RELAY_PROTOCOLS: readonly RelayProtocol[] = ['udp', 'tcp', 'tls'];
const MAX_PORT = 2 ** 16 - 1;
/** RFC 8445 §5.1.2.1: a positive 31-bit integer. */
const MAX_PRIORITY = 2 ** 31 - 1;
const MS_PER_SECOND = 1000;

type StatsDict = Readonly<Record<string, unknown>>;

/**
 * Builds the panel's data from one stats snapshot.
 *
 * The selected pair comes from the first `transport` stats that names one through
 * `selectedCandidatePairId`. If a transport names a pair but the pair or one of its candidates is
 * missing from the snapshot, the result is `null`, not a guess that could contradict the browser.
 * Only when no transport names a pair do the fallbacks of {@link SelectedPairSource} apply; the
 * `nominated` one gives `null` when several pairs qualify, which happens after an ICE restart or
 * with Chromium's renomination, because then nothing in the stats tells which one carries data.
 *
 * Never throws: entries that are not objects with a string `id` and `type` are skipped, and pairs
 * whose candidates are missing or malformed are left out. An input without `values()` gives an
 * empty report.
 */
export function buildIceReport(stats: StatsSource): IceReport {
  const byId = new Map<string, StatsDict>();
  for (const entry of statsValues(stats)) {
    if (isRecord(entry) && typeof entry.id === 'string' && typeof entry.type === 'string') {
      byId.set(entry.id, entry);
    }
  }
  const all = [...byId.values()];

  const localCandidates = readCandidates(all, 'local-candidate');
  const remoteCandidates = readCandidates(all, 'remote-candidate');
  const locals = new Map(localCandidates.map((candidate) => [candidate.id, candidate]));
  const remotes = new Map(remoteCandidates.map((candidate) => [candidate.id, candidate]));
  const resolve = (dict: StatsDict | undefined): CandidatePairInfo | null =>
    dict === undefined ? null : readPair(dict, locals, remotes);

  const pairDicts = all.filter((dict) => dict.type === 'candidate-pair');
  const pairs = pairDicts.map(resolve).filter((pair) => pair !== null);

  let selectedPair: CandidatePairInfo | null = null;
  let selectedPairSource: SelectedPairSource | null = null;
  const claimed = all
    .filter((dict) => dict.type === 'transport')
    .map((dict) => dict.selectedCandidatePairId)
    .find((id) => typeof id === 'string' && id !== '');
  if (typeof claimed === 'string') {
    const dict = byId.get(claimed);
    selectedPair = dict?.type === 'candidate-pair' ? resolve(dict) : null;
    selectedPairSource = 'transport';
  } else {
    const flagged = pairDicts.find((dict) => dict.selected === true);
    const nominated = pairDicts.filter(
      (dict) => dict.nominated === true && dict.state === 'succeeded',
    );
    if (flagged !== undefined) {
      selectedPair = resolve(flagged);
      selectedPairSource = 'selected-flag';
    } else if (nominated.length === 1) {
      selectedPair = resolve(nominated[0]);
      selectedPairSource = 'nominated';
    }
  }

  return {
    selectedPair,
    selectedPairSource: selectedPair === null ? null : selectedPairSource,
    pairs,
    localCandidates,
    remoteCandidates,
  };
}

/**
 * `'Relayed (TURN)'` when either candidate of `pair` is a relay, `'Direct'` otherwise, `null`
 * for no pair. Never throws.
 *
 * Limit: a remote candidate is typed by what this browser knows. If the peer's relay candidate
 * reached us as a STUN check before its signaling message did, it is peer-reflexive (RFC 8445
 * §7.3.1.3); libwebrtc retypes it when the candidate arrives, but until then, or if it never
 * does, a path through the peer's TURN server reads as `'Direct'`. The peer's own panel, whose
 * local candidate is the relay, is always right.
 */
export function verdict(pair: Pick<CandidatePairInfo, 'local' | 'remote'> | null): Verdict | null {
  if (pair === null) return null;
  return pair.local.type === 'relay' || pair.remote.type === 'relay'
    ? VERDICT_RELAYED
    : VERDICT_DIRECT;
}

function statsValues(stats: StatsSource): Iterable<unknown> {
  // `values()` and not iteration: a Map or RTCStatsReport iterates [id, stats] entries.
  if (!isRecord(stats) && !Array.isArray(stats)) return [];
  const values: unknown = (stats as Partial<StatsSource>).values;
  return typeof values === 'function' ? (values.call(stats) as Iterable<unknown>) : [];
}

function isRecord(value: unknown): value is StatsDict {
  return typeof value === 'object' && value !== null;
}

function readCandidates(
  all: readonly StatsDict[],
  type: 'local-candidate' | 'remote-candidate',
): CandidateInfo[] {
  return all
    .filter((dict) => dict.type === type)
    .map(readCandidate)
    .filter((candidate) => candidate !== null);
}

/** A fresh `CandidateInfo`, or `null` when type, protocol or port is missing or malformed. */
function readCandidate(dict: StatsDict): CandidateInfo | null {
  const { id, candidateType, protocol, port, priority, relayProtocol, url } = dict;
  if (typeof id !== 'string' || !isIceCandidateType(candidateType)) return null;
  if (protocol !== 'udp' && protocol !== 'tcp') return null;
  if (!Number.isInteger(port) || (port as number) < 0 || (port as number) > MAX_PORT) return null;

  const candidate: CandidateInfo = { id, type: candidateType, protocol, port: port as number };
  // `ip` is the member's name before webrtc-stats renamed it to `address` (it may be a name).
  const address = nonEmptyString(dict.address) ?? nonEmptyString(dict.ip);
  if (address !== undefined) candidate.address = address;
  if (
    Number.isInteger(priority) &&
    (priority as number) >= 1 &&
    (priority as number) <= MAX_PRIORITY
  ) {
    candidate.priority = priority as number;
  }
  if ((RELAY_PROTOCOLS as readonly unknown[]).includes(relayProtocol)) {
    candidate.relayProtocol = relayProtocol as RelayProtocol;
  }
  const server = nonEmptyString(url);
  if (server !== undefined) candidate.url = server;
  return candidate;
}

/** A fresh `CandidatePairInfo`, or `null` when either candidate is not in the snapshot. */
function readPair(
  dict: StatsDict,
  locals: ReadonlyMap<string, CandidateInfo>,
  remotes: ReadonlyMap<string, CandidateInfo>,
): CandidatePairInfo | null {
  const { id, localCandidateId, remoteCandidateId, state } = dict;
  const local = typeof localCandidateId === 'string' ? locals.get(localCandidateId) : undefined;
  const remote = typeof remoteCandidateId === 'string' ? remotes.get(remoteCandidateId) : undefined;
  if (typeof id !== 'string' || local === undefined || remote === undefined) return null;

  const pair: CandidatePairInfo = { id, nominated: dict.nominated === true, local, remote };
  // Firefox spells the checking state `inprogress`, as early drafts of webrtc-stats did.
  const normalizedState = state === 'inprogress' ? 'in-progress' : state;
  if ((PAIR_STATES as readonly unknown[]).includes(normalizedState)) {
    pair.state = normalizedState as CandidatePairState;
  }
  const rttSeconds = nonNegative(dict.currentRoundTripTime);
  if (rttSeconds !== undefined) {
    // Rounded to microseconds: scaling a decimal fraction of seconds can add float noise
    // (0.0041 * 1000 is 4.1000000000000005), and no browser measures finer than that.
    pair.currentRoundTripTimeMs = Math.round(rttSeconds * MS_PER_SECOND * 1000) / 1000;
  }
  const counters = ['bytesSent', 'bytesReceived', 'requestsSent', 'responsesReceived'] as const;
  for (const key of counters) {
    const value = nonNegative(dict[key]);
    if (value !== undefined) pair[key] = value;
  }
  return pair;
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function nonNegative(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}
