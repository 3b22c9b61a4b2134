/**
 * When a connection attempt fails or stalls: say so within a bounded time, name the likeliest
 * cause in plain words, and the remedy. Also when to give up on a direct path and retry through
 * the relay. Pure: the session passes the peer connection's states and what the panel has
 * gathered, and re-evaluates on every change (a clock tick included), so nothing spins forever.
 *
 * Time bounds. RFC 8445 §14.2 paces new checks every Ta = 50 ms; a data-channel session has a few
 * dozen candidate pairs at most, so every pair's first check leaves within a second or two of the
 * candidates arriving, and a pair that works answers within a round trip (checks are retransmitted
 * from an RTO of 500 ms or more, §14.3). Gathering srflx candidates takes one STUN round trip. When
 * a direct path exists it is normally up within 2–3 s. Chromium itself declares ICE `failed` only
 * after ~30 s of unanswered checks (libwebrtc's connection timeouts); the panel speaks much earlier.
 */
import { analysePath, type Blame, type ForecastBasis } from '../nat/forecast.ts';
import type { CandidatePairState } from '../ice/ice-report.ts';
import {
  describeErrorCode,
  parseIceUrl,
  type IpFamily,
  type NatReport,
} from '../nat/nat-classifier.ts';
import {
  DIRECT_TIMEOUT_MS,
  ICE_PROGRESS_TIMEOUT_MS,
  isClosed,
  isFailed,
  isUp,
  type FallbackInput,
} from '../peer/relay-fallback.ts';

/** Candidate pairs by connectivity-check state (RFC 8445 §6.1.2.6). */
export interface PairCounts {
  total: number;
  succeeded: number;
  failed: number;
  /** `in-progress`, `waiting` and `frozen`: checks still to come or under way. */
  pending: number;
}

/** A candidate error as `rtc/peer.ts` reports it (any object with these fields). */
export interface FailureCandidateError {
  url: string;
  errorCode: number;
  errorText: string;
}

/** Everything {@link explainFailure} reads: the fallback's inputs, and what the panel gathered. */
export interface FailureInput extends FallbackInput {
  /** This page's NAT report; `null` if the probe has not finished. */
  local: NatReport | null;
  /** The other person's NAT report; `null` if it has not arrived. */
  remote: NatReport | null;
  /** A local relay candidate was gathered in this attempt. */
  relayGathered: boolean;
  /** Candidates received from the other person in this attempt. */
  remoteCandidateCount: number;
  /** This attempt's `icecandidateerror` events. */
  candidateErrors: readonly FailureCandidateError[];
  /** From the latest stats, see {@link countPairs}. */
  pairs: PairCounts;
}

/** What the panel shows when an attempt failed or stalled. */
export interface Failure {
  /** e.g. 'Connection failed', 'No connection after 15 s'. */
  title: string;
  /** Plain words naming the cause. */
  cause: string;
  /** What to do about it, naming the setting when there is one (`TURN_URLS`). */
  remedy: string;
}

/** What to check when the TURN server refuses the credentials (401). */
const AUTH_REMEDY =
  'Check TURN_SECRET against the TURN server’s shared secret (coturn static-auth-secret), or TURN_USERNAME and TURN_CREDENTIAL against its user list. Time-limited credentials also fail when the two servers’ clocks disagree. The Test TURN button checks them on their own.';

/** Counts pairs by state; pairs without a known state count toward `total` only. */
export function countPairs(pairs: readonly { state?: CandidatePairState }[]): PairCounts {
  const counts: PairCounts = { total: 0, succeeded: 0, failed: 0, pending: 0 };
  for (const { state } of pairs) {
    counts.total += 1;
    if (state === 'succeeded') counts.succeeded += 1;
    else if (state === 'failed' || state === 'cancelled') counts.failed += 1;
    else if (state === 'in-progress' || state === 'waiting' || state === 'frozen')
      counts.pending += 1;
  }
  return counts;
}

/**
 * `null` while the attempt is connected, closed, or still within its time bound; otherwise the
 * failure in words. The bound is {@link ICE_PROGRESS_TIMEOUT_MS}, shortened to
 * {@link DIRECT_TIMEOUT_MS} when no TURN server is configured and the NAT reports already say a
 * relay is needed (nothing else will happen after that). ICE or DTLS `failed` is reported at once.
 * Returns a value for the same input every time (no clock inside); a non-finite `elapsedMs`
 * counts as "not yet". Never throws.
 *
 * Causes, first match wins: DTLS failed over a working ICE path; TURN credentials refused; TURN
 * unreachable; nothing arrived from the other side; no pair could be formed; the NAT reports
 * (UDP blocked, symmetric NATs, same network); a relay that was allocated but did not carry the
 * connection; otherwise "no clear cause" with the generic remedy.
 */
export function explainFailure(input: FailureInput): Failure | null {
  if (isClosed(input)) return null;
  const iceUp =
    input.iceConnectionState === 'connected' || input.iceConnectionState === 'completed';
  if (iceUp && input.connectionState === 'failed') {
    return {
      title: 'Connection failed',
      cause:
        'A network path was found, but the encrypted handshake over it (DTLS) failed: something on the path drops or alters the larger handshake packets.',
      remedy: 'Reload both pages. If it keeps failing, try another network or a relay (TURN).',
    };
  }
  if (isUp(input)) return null;

  const path = analysePath(input.local, input.remote);
  const failed = isFailed(input);
  const relayForecast = path.basis === 'symmetric' || path.basis === 'udp-blocked';
  const deadline =
    !input.turn.configured && relayForecast ? DIRECT_TIMEOUT_MS : ICE_PROGRESS_TIMEOUT_MS;
  if (!failed && !(input.elapsedMs >= deadline)) return null;

  const attempt = input.relayOnly ? 'The relay connection' : 'Connection';
  const title = failed ? `${attempt} failed` : `No connection after ${deadline / 1000} s`;
  return { title, ...diagnose(input, path.basis, path.blame, path.family) };
}

function diagnose(
  input: FailureInput,
  basis: ForecastBasis,
  blame: Blame | null,
  family: IpFamily | null,
): Pick<Failure, 'cause' | 'remedy'> {
  const { turn } = input;
  const turnErrors = input.candidateErrors.filter((error) => {
    const scheme = parseIceUrl(error.url)?.scheme;
    return (
      (scheme === 'turn' || scheme === 'turns') &&
      !/family does not match|incompatible/i.test(error.errorText)
    );
  });

  if (turn.configured && !input.relayGathered) {
    const auth = turnErrors.find((error) => error.errorCode === 401 || error.errorCode === 441);
    if (auth) {
      return {
        cause: `The relay server (TURN) refused our credentials (${describeErrorCode(auth.errorCode)} from ${auth.url}), so no relay was available.`,
        remedy: AUTH_REMEDY,
      };
    }
    const other = turnErrors[0];
    return {
      cause: other
        ? `The relay server (TURN) could not be used (${describeErrorCode(other.errorCode)} from ${other.url}), so no relay was available.`
        : 'The relay server (TURN) gave no relay address, so no relay was available.',
      remedy: `Check that the TURN server in TURN_URLS is running and that its port is open from this network. Networks that block UDP need a TCP or TLS URL (turn:host:3478?transport=tcp, turns:host:443?transport=tcp).`,
    };
  }

  if (input.remoteCandidateCount === 0) {
    return input.relayOnly
      ? {
          cause:
            'No relay address arrived from the other person: their browser could not get one from the TURN server (their panel says why).',
          remedy:
            'Run Test TURN on both sides; the TURN server must be reachable from both networks.',
        }
      : {
          cause:
            "Nothing arrived from the other person's browser: no network addresses (ICE candidates) came through the chat server.",
          remedy:
            'Reload both pages. If it keeps happening, the connection to the chat server is dropping messages; check the server log.',
        };
  }
  if (input.pairs.total === 0) {
    return {
      cause:
        "None of the other person's addresses could be paired with ours: they are hidden local names (.local) from another network, or of an IP family this device does not have.",
      remedy: turn.configured
        ? 'Check that the other person’s browser got a relay address (their panel).'
        : 'Set TURN_URLS on the server so the app can relay the connection.',
    };
  }

  const whose =
    blame === 'both' ? 'Both NATs' : blame === 'local' ? 'Your NAT' : "The other person's NAT";
  const noTurnRemedy = 'Set TURN_URLS on the server so the app can relay the connection.';
  switch (basis) {
    case 'udp-blocked': {
      const where =
        blame === 'both'
          ? 'both networks'
          : blame === 'local'
            ? 'your network'
            : "the other person's network";
      const remedy =
        turn.tcp || turn.tls
          ? 'The configured TURN server over TCP or TLS should carry it; check it with Test TURN.'
          : turn.configured
            ? 'Add a TURN URL over TCP or TLS to TURN_URLS (turn:host:3478?transport=tcp or turns:host:443?transport=tcp): TURN over UDP cannot leave a network that blocks UDP.'
            : 'Set TURN_URLS to a TURN server reachable over TCP or TLS (turn:host:3478?transport=tcp or turns:host:443?transport=tcp).';
      if (!input.relayGathered || !turn.configured) {
        return {
          cause: `UDP seems blocked on ${where}: no STUN answer came back, so no direct path can form${turn.configured ? '' : ', and no TURN server is configured'}.`,
          remedy,
        };
      }
      break;
    }
    case 'symmetric':
      if (!turn.configured) {
        const verb = blame === 'both' ? 'map' : 'maps';
        return {
          cause: `${whose} ${verb} each destination to its own port (symmetric), so the addresses STUN saw are useless to the other side, and no TURN server is configured.`,
          remedy: noTurnRemedy,
        };
      }
      break;
    case 'same-network':
      if (!turn.configured || !input.relayGathered) {
        return {
          cause:
            'You both seem to be on the same network, yet the local path failed: the browsers hide local addresses behind .local names that did not resolve here, or the network keeps its devices apart (guest Wi-Fi, client isolation).',
          remedy: turn.configured
            ? 'Try another network, or check the relay with Test TURN.'
            : noTurnRemedy,
        };
      }
      break;
    case 'direct':
      if (!turn.configured) {
        return {
          // Only IPv6 allowed a direct path (IPv4 symmetric or blocked): say which family failed.
          cause:
            family === 'IPv6'
              ? 'Over IPv6 both sides looked open to a direct path (no NAT, or a cone), yet none came up: a firewall may drop incoming UDP even in answer to what was sent (stricter than RFC 6092 recommends), or IPv6 does not get through between your networks. Over IPv4 the NATs ruled a direct path out.'
              : 'Both NATs looked suitable for a direct path, yet none came up: a firewall may drop incoming UDP, or a NAT behaved differently toward the other person than toward the STUN server.',
          remedy: noTurnRemedy,
        };
      }
      break;
    case 'unknown':
    case 'missing-report':
      break;
  }

  if (turn.configured && input.relayGathered) {
    return {
      cause:
        'A relay address was allocated, but no connection came up through it: the TURN server may refuse to relay to the other person’s address, or the other side could not reach it.',
      remedy:
        'Check the TURN server’s log and its peer rules (e.g. coturn’s denied-peer-ip / allowed-peer-ip), and run Test TURN on both sides.',
    };
  }
  const missing =
    basis === 'missing-report'
      ? blame === 'local'
        ? ' (your NAT test has not finished)'
        : blame === 'remote'
          ? " (the other person's NAT test did not arrive)"
          : ' (neither NAT test is available)'
      : '';
  return {
    cause: `No path was found between your networks, and the NAT tests do not say why${missing}.`,
    remedy: turn.configured
      ? 'Reload both pages and compare both diagnostics panels.'
      : 'Set TURN_URLS on the server so the app can relay when a direct path fails.',
  };
}
