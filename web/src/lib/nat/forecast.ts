/**
 * The forecast: from both people's NAT reports (exchanged through signaling), will a direct path
 * come up, or will it take a relay? And once the connection settles, did the forecast hold? Pure.
 *
 * The reasoning is RFC 5128 §3.3 (UDP hole punching) over RFC 4787's behaviours: each side learns
 * the public address STUN saw for the other, and ICE (RFC 8445) sends checks from both ends at
 * once, so each NAT's filter opens for the other. That works when the address STUN saw is the one
 * the NAT will also use toward the peer, i.e. endpoint-independent mapping ("cone", §4.1).
 *
 * One side symmetric: its address toward the peer is a fresh, unknown mapping. A check from it
 * still gets through if the other side's NAT accepts packets from any address (endpoint-independent
 * filtering, §5). Filtering is not measured here, and in our NAT lab a port-preserving MASQUERADE
 * cone against a `--random-fully` symmetric NAT does not hole-punch (Linux conntrack filters by
 * address and port), so ANY symmetric side forecasts a relay. UDP blocked on either side: only
 * TURN over TCP or TLS gets through (RFC 6062, RFC 8656).
 *
 * Both families count (issue #14). ICE pairs IPv4 candidates with IPv4 ones and IPv6 with IPv6
 * (RFC 8445 §6.1.2.2) and checks both, so one family where both sides are cone or NAT-free is
 * enough: the common case is a carrier-grade, per-destination IPv4 NAT beside native IPv6 behind
 * a stateful firewall (RFC 6092 §3), where IPv4 needs a relay and IPv6 goes direct. When both
 * families would work, ICE may pick either (browsers rank IPv6 first); the forecast does not
 * say which, and {@link forecastHeld} accepts either.
 */
import { pairFamily, type FamilySource } from '../ice/candidate-family.ts';
import type { Verdict } from '../ice/ice-report.ts';
import {
  BEHAVIOUR_LABELS,
  behaviourLabel,
  isSymmetric,
  type FamilyNatResult,
  type IpFamily,
  type NatBehaviour,
  type NatReport,
} from './nat-classifier.ts';
import type { TurnConfig } from './turn-config.ts';

/** The one-word forecast. */
export type ForecastOutcome = 'direct-likely' | 'relay-needed' | 'unknown';

/**
 * What the forecast rests on.
 * - `same-network`: both sides share a public address, so most likely one LAN.
 * - `direct`: both sides are cone or have no NAT, in `family`.
 * - `symmetric`: at least one side maps per destination.
 * - `udp-blocked`: at least one side got no STUN answer over UDP.
 * - `unknown`: a side's behaviour is unknown, or no family was tested by both.
 * - `missing-report`: a report has not arrived (yet).
 */
export type ForecastBasis =
  'same-network' | 'direct' | 'symmetric' | 'udp-blocked' | 'unknown' | 'missing-report';

/** Which side a problem lies on. */
export type Blame = 'local' | 'remote' | 'both';

/** {@link analysePath}'s answer: the basis, the family it is about, and whose NAT is at fault. */
export interface PathAnalysis {
  basis: ForecastBasis;
  /** The IP family the basis is about; `null` for `missing-report` or no common family. */
  family: IpFamily | null;
  /** For `symmetric`, `udp-blocked` and `unknown`: whose result causes it. */
  blame: Blame | null;
}

/** The forecast the panel shows. */
export interface Forecast {
  outcome: ForecastOutcome;
  /**
   * Short: 'a direct path is likely', 'a direct path over IPv6 is likely' (IPv6 only), 'a relay
   * (TURN) will be needed', …
   */
  text: string;
  /** Plain words: why, naming both sides' NAT behaviour. */
  reason: string;
  basis: ForecastBasis;
  /** The family {@link basis} is about (see {@link PathAnalysis}). */
  family: IpFamily | null;
  /**
   * The families in which both reports allow a direct path (each side cone or without NAT),
   * IPv4 first; empty when none does or a report is missing.
   */
  directFamilies: IpFamily[];
}

/** Inputs of {@link forecast}. */
export interface ForecastInput {
  /** This page's report; `null` until the probe is done. */
  local: NatReport | null;
  /** The other person's report, validated with `parseNatReport`; `null` until it arrives. */
  remote: NatReport | null;
  /** From `turnConfig(iceServers)`; only changes the wording about the relay. */
  turn: TurnConfig;
}

/** How the connection settled, for {@link forecastHeld}. */
export interface ActualOutcome {
  /** The selected pair's verdict once connected (ice-report.ts), else `null`. */
  verdict: Verdict | null;
  /** The attempt ended (or was given up) without a connection. */
  failed: boolean;
  /**
   * The selected pair once connected (ice-report.ts), for its IP family (`pairFamily`,
   * ice/candidate-family.ts). The pair and not its family, so that the session, in the page's
   * first script, needs no code for it (issue #13). Absent, `null` or of unknown family: the
   * check names no family on the connection's side.
   */
  pair?: { local: FamilySource; remote: FamilySource } | null;
}

/** Whether the forecast held, in words. */
export interface ForecastCheck {
  held: boolean;
  text: string;
}

type Side = 'open' | 'cone' | 'symmetric' | 'blocked' | 'absent' | 'unknown';

function sideOf(behaviour: NatBehaviour): Side {
  if (behaviour === 'no-nat') return 'open';
  if (behaviour === 'endpoint-independent') return 'cone';
  if (isSymmetric(behaviour)) return 'symmetric';
  if (behaviour === 'udp-blocked') return 'blocked';
  if (behaviour === 'unavailable' || behaviour === 'not-tested') return 'absent';
  return 'unknown';
}

function blame(local: boolean, remote: boolean): Blame | null {
  if (local && remote) return 'both';
  if (local) return 'local';
  return remote ? 'remote' : null;
}

/** One family's basis, or `null` when a side has no such family (or did not test it). */
function familyBasis(local: FamilyNatResult, remote: FamilyNatResult): PathAnalysis | null {
  const a = sideOf(local.behaviour);
  const b = sideOf(remote.behaviour);
  const family = local.family;
  if (a === 'absent' || b === 'absent') return null;
  for (const [side, basis] of [
    ['blocked', 'udp-blocked'],
    ['symmetric', 'symmetric'],
    ['unknown', 'unknown'],
  ] as const) {
    if (a === side || b === side) return { basis, family, blame: blame(a === side, b === side) };
  }
  return { basis: 'direct', family, blame: null };
}

/** The first IPv4 address both sides were seen from, or `undefined`. */
function sharedPublicAddress(local: NatReport, remote: NatReport): string | undefined {
  const theirs = new Set(remote.ipv4.mappedAddresses.map((m) => m.address));
  return local.ipv4.mappedAddresses.find((m) => theirs.has(m.address))?.address;
}

/**
 * The structural half of {@link forecast}, also used by `failure.ts`. Order: missing report;
 * same public IPv4 address (same network, whatever the NAT); a family in which both sides are
 * cone or NAT-free (IPv4 first; IPv6 counts, since ICE tries IPv6 pairs too); else IPv4's basis,
 * or IPv6's when IPv4 was not usable on both sides. Never throws.
 */
export function analysePath(local: NatReport | null, remote: NatReport | null): PathAnalysis {
  if (local === null || remote === null) {
    return { basis: 'missing-report', family: null, blame: blame(!local, !remote) };
  }
  if (sharedPublicAddress(local, remote) !== undefined) {
    return { basis: 'same-network', family: 'IPv4', blame: null };
  }
  const v4 = familyBasis(local.ipv4, remote.ipv4);
  const v6 = familyBasis(local.ipv6, remote.ipv6);
  if (v4?.basis === 'direct') return v4;
  if (v6?.basis === 'direct') return v6;
  return v4 ?? v6 ?? { basis: 'unknown', family: null, blame: null };
}

/** The families in which both sides are cone or NAT-free, IPv4 first. */
function directFamiliesOf(local: NatReport, remote: NatReport): IpFamily[] {
  return [familyBasis(local.ipv4, remote.ipv4), familyBasis(local.ipv6, remote.ipv6)].flatMap(
    (path) => (path?.basis === 'direct' && path.family ? [path.family] : []),
  );
}

/**
 * Forecasts the path from both NAT reports. Never throws. A missing report gives `unknown` with
 * text 'no forecast until both NAT tests are done'. A direct path that only IPv6 allows is
 * 'a direct path over IPv6 is likely'.
 *
 * Limits, also in `reason` where they apply: filtering is not measured (see the module comment);
 * a shared public address also happens to strangers behind one carrier-grade NAT, and then a
 * direct path needs that NAT to hairpin (RFC 4787 §6); a NAT may behave differently under load.
 */
export function forecast({ local, remote, turn }: ForecastInput): Forecast {
  const path = analysePath(local, remote);
  const { basis, family } = path;
  if (local === null || remote === null) {
    const waiting =
      !local && !remote
        ? 'both NAT tests'
        : local
          ? "the other person's NAT test"
          : 'your NAT test';
    return {
      outcome: 'unknown',
      text: 'no forecast until both NAT tests are done',
      reason: `Waiting for ${waiting}.`,
      basis,
      family,
      directFamilies: [],
    };
  }
  const directFamilies = directFamiliesOf(local, remote);
  const result = (outcome: ForecastOutcome, text: string, reason: string): Forecast => ({
    outcome,
    text,
    reason,
    basis,
    family,
    directFamilies,
  });
  const lf = family === 'IPv6' ? local.ipv6 : local.ipv4;
  const rf = family === 'IPv6' ? remote.ipv6 : remote.ipv4;

  switch (basis) {
    case 'same-network': {
      const shared = sharedPublicAddress(local, remote) ?? '';
      return result(
        'direct-likely',
        'same network: a direct (host) path is likely',
        `You both reach the internet from the same public address, ${shared}, so you are most likely on the same network, where the browsers connect over local addresses. Strangers behind one carrier-grade NAT share an address too; then a direct path needs that NAT to loop packets back (hairpinning, RFC 4787 §6).`,
      );
    }
    case 'direct': {
      if (family === 'IPv6') {
        return result(
          'direct-likely',
          'a direct path over IPv6 is likely',
          `${cap(describeSide(lf, 'local'))} and ${describeSide(rf, 'remote')} over IPv6 (IPv4: ${ipv4Summary(local, remote)}). ICE pairs IPv6 addresses with IPv6 ones and checks them too (RFC 8445 §6.1.2.2). Without translation (or through a cone NAT66) the address STUN saw is the one the other side will reach, and ICE sends checks from both ends at once, so each side's stateful firewall lets in the answer to what its own side sent (RFC 6092 §3, RFC 5128 §3.3). Filtering is not measured; a firewall that drops all incoming UDP, answers too, would still stop it.`,
        );
      }
      const both = directFamilies.includes('IPv6')
        ? ' Over IPv6 a direct path looks possible too; ICE may take either family.'
        : '';
      return result(
        'direct-likely',
        'a direct path is likely',
        `${cap(describeSide(lf, 'local'))} and ${describeSide(rf, 'remote')}. So each side can reach the address STUN saw for the other, and ICE sends checks from both ends at once, which opens each NAT for the other (hole punching, RFC 5128 §3.3). Filtering is not measured; a firewall that drops all incoming UDP would still stop it.${both}`,
      );
    }
    case 'symmetric':
      return result(
        'relay-needed',
        relayText(turn, false),
        `${symmetricReason(path.blame, lf, rf)}${ipv6Note(local, remote, family)}`,
      );
    case 'udp-blocked': {
      const where =
        path.blame === 'both'
          ? 'either network'
          : path.blame === 'local'
            ? 'your network'
            : "the other person's network";
      return result(
        'relay-needed',
        relayText(turn, true),
        `No STUN answer came back over UDP from ${where}, so UDP looks blocked there (or the STUN server is unreachable from it). A direct path runs over UDP, so only a relay reached over TCP or TLS (TURN, RFC 6062) gets through.${ipv6Note(local, remote, family)}`,
      );
    }
    case 'unknown':
    case 'missing-report': {
      if (family === null) {
        return result(
          'unknown',
          'no forecast: no network type both of you could test',
          'Neither IPv4 nor IPv6 was tested on both sides, so there is nothing to compare.',
        );
      }
      const reason =
        path.blame === 'both'
          ? `The NAT tests could not tell how either NAT behaves. Yours: ${lf.reason} Theirs: ${rf.reason}`
          : path.blame === 'remote'
            ? `The NAT test could not tell how the other person's NAT behaves: ${rf.reason}`
            : `The NAT test could not tell how your NAT behaves: ${lf.reason}`;
      return result('unknown', 'no forecast: a NAT test was inconclusive', reason);
    }
  }
}

/**
 * Compares the forecast with how the connection settled. `null` when there is nothing to compare:
 * an `unknown` forecast, or no verdict and no failure yet. A verdict wins over `failed` (the
 * connection did come up). Never throws.
 *
 * With the selected pair's family known (`actual.pair`), the check names it and holds the
 * forecast to it: a direct path in a family the reports did not allow one in (say IPv4 between
 * symmetric NATs, when the forecast counted on IPv6) is a miss in part, since the reasoning that
 * led to the forecast was wrong, even though a direct path came up. A same-network forecast
 * holds for a direct path over either family (host addresses of both are on the LAN).
 */
export function forecastHeld(prediction: Forecast, actual: ActualOutcome): ForecastCheck | null {
  if (prediction.outcome === 'unknown') return null;
  const direct = prediction.outcome === 'direct-likely';
  const family = pairFamily(actual.pair ?? null)?.family ?? null;
  const over = family ? ` over ${family}` : '';
  // What the forecast said, in its own words: it named IPv6 when only IPv6 allowed it.
  const expected =
    prediction.basis === 'direct' && prediction.family === 'IPv6'
      ? 'a direct path over IPv6'
      : 'a direct path';
  if (actual.verdict === 'Direct') {
    if (!direct) {
      return {
        held: false,
        text: `The forecast missed: a relay was expected, but a direct path came up${over}. A NAT let in more than assumed (endpoint-independent filtering, or a port kept by chance).`,
      };
    }
    const allowed =
      family === null ||
      prediction.basis === 'same-network' ||
      prediction.directFamilies.includes(family);
    return allowed
      ? { held: true, text: `The forecast held: the connection is direct${over}.` }
      : {
          held: false,
          text: `The forecast missed in part: it expected ${expected}, and the connection is direct, but${over}, where the NAT tests expected none. A NAT let in more than assumed (endpoint-independent filtering, or a port kept by chance).`,
        };
  }
  if (actual.verdict === 'Relayed (TURN)') {
    return direct
      ? {
          held: false,
          text: `The forecast missed: ${expected} was expected, but the connection goes through the relay (TURN)${over}. No direct pair answered in time; a firewall may filter more than the NAT test can see.`,
        }
      : {
          held: true,
          text: `The forecast held: the connection goes through the relay (TURN)${over}.`,
        };
  }
  if (!actual.failed) return null;
  return direct
    ? {
        held: false,
        text: `The forecast missed: ${expected} was expected, but no connection came up.`,
      }
    : {
        held: true,
        text: 'The forecast held: no direct path came up, as expected without a working relay.',
      };
}

function relayText(turn: TurnConfig, needsTcp: boolean): string {
  if (!needsTcp) {
    return turn.configured
      ? 'a relay (TURN) will be needed'
      : 'a relay (TURN) will be needed, but none is configured';
  }
  if (turn.tcp || turn.tls) return 'a relay (TURN over TCP or TLS) will be needed';
  return turn.configured
    ? 'a relay (TURN over TCP or TLS) will be needed, but only TURN over UDP is configured'
    : 'a relay (TURN over TCP or TLS) will be needed, but none is configured';
}

function symmetricReason(
  who: Blame | null,
  local: FamilyNatResult,
  remote: FamilyNatResult,
): string {
  if (who === 'both') {
    return "Both NATs give each destination its own mapping (symmetric), so the address STUN saw for each side is not the one the other would have to reach, and neither can guess the other's next port. Only a relay (TURN) connects you (RFC 4787 §4.1, RFC 5128 §3.3).";
  }
  const [symmetric, other, otherResult] =
    who === 'local'
      ? (['Your NAT', "the other person's", remote] as const)
      : (["The other person's NAT", 'your', local] as const);
  const otherSide =
    sideOf(otherResult.behaviour) === 'open'
      ? `${other} side has no NAT, but a direct path would still need nothing there to filter incoming packets`
      : `${other} NAT is a cone, but a direct path would need it to let in packets from any address (endpoint-independent filtering)`;
  return `${symmetric} gives each destination its own mapping (symmetric), so the address STUN saw is not the one a peer would reach. ${cap(otherSide)}, which this test does not measure; NATs that filter by address and port, like the port-preserving cone NAT in our lab, drop them (RFC 4787 §5, RFC 5128 §3.3). So plan on a relay.`;
}

function describeSide(result: FamilyNatResult, who: 'local' | 'remote'): string {
  const subject = who === 'local' ? 'you' : 'the other person';
  const possessive = who === 'local' ? 'your' : "the other person's";
  if (result.behaviour === 'no-nat') return `${subject} ${who === 'local' ? 'have' : 'has'} no NAT`;
  return `${possessive} NAT keeps ${BEHAVIOUR_LABELS[result.behaviour]}`;
}

function ipv4Summary(local: NatReport, remote: NatReport): string {
  return `you: ${behaviourLabel(local.ipv4)}; the other person: ${behaviourLabel(remote.ipv4)}`;
}

/**
 * For a relay forecast made over IPv4: why IPv6 does not help, once either side measured it.
 * `''` when neither side has a measured IPv6 result (no IPv6, or not tested), or when the
 * forecast is about IPv6 itself.
 */
function ipv6Note(local: NatReport, remote: NatReport, family: IpFamily | null): string {
  if (family !== 'IPv4') return '';
  const measured = (result: FamilyNatResult) => sideOf(result.behaviour) !== 'absent';
  if (!measured(local.ipv6) && !measured(remote.ipv6)) return '';
  return ` IPv6 does not help here (you: ${behaviourLabel(local.ipv6)}; the other person: ${behaviourLabel(remote.ipv6)}): a direct IPv6 path needs IPv6 on both sides, each without NAT or behind a cone.`;
}

function cap(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
