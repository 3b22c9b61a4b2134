/**
 * The browser half of the NAT test: one throwaway RTCPeerConnection gathers candidates against
 * the STUN servers, then is closed. Its output is `classifyNat`'s input (nat-classifier.ts).
 * `gather` is shared with the TURN test (turn-test.ts).
 *
 * One peer connection, not one per server: the mapping behaviour is a property of one local
 * socket talking to several destinations (RFC 4787 §4.1), and libwebrtc sends every STUN server's
 * Binding request from the same socket per network interface and family.
 */
import type { IceServer } from '../../../../signaling/protocol.ts';
import {
  gatheredCandidate,
  iceServerUrls,
  stunOnly,
  type GatheredCandidate,
  type GatheringEnd,
  type NatProbeInput,
  type ProbeError,
} from '../nat/probe-input.ts';

/**
 * Upper bound on the NAT test, ms. Healthy STUN answers take one round trip, and gathering
 * usually completes well under a second; libwebrtc only gives up on a silent server after its
 * STUN retransmissions end (~40 s). Past this bound the classifier works with what it has and
 * says what it could not tell (e.g. "udp-blocked" for silence, "unknown" for a half answer).
 */
export const NAT_PROBE_TIMEOUT_MS = 10 * 1000;

/** What one bounded gathering collected. */
export interface GatherResult {
  candidates: GatheredCandidate[];
  errors: ProbeError[];
  gathering: GatheringEnd;
  /** Time from start to the end of gathering, the timeout or the abort, ms. */
  elapsedMs: number;
  /** Why gathering could not start (`gathering: 'failed'`), or `'aborted'`. */
  setupError?: string;
}

/** Options of {@link gather} and {@link probeNat}. */
export interface GatherOptions {
  /** [timeoutMs=NAT_PROBE_TIMEOUT_MS] Bound on gathering, ms. */
  timeoutMs?: number;
  /** Aborting closes the peer connection at once; the result then has `gathering: 'failed'`. */
  signal?: AbortSignal;
}

/**
 * Gathers ICE candidates once with `config`: a data channel to have something to negotiate,
 * `createOffer` + `setLocalDescription` to start gathering, then every `icecandidate` and
 * `icecandidateerror` until gathering completes, the timeout, or the abort. The peer connection
 * is always closed before the promise resolves. Never rejects: a constructor or SDP error gives
 * `gathering: 'failed'` with `setupError`.
 */
export function gather(
  config: RTCConfiguration,
  options: GatherOptions = {},
): Promise<GatherResult> {
  const { timeoutMs = NAT_PROBE_TIMEOUT_MS, signal } = options;
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  const candidates: GatheredCandidate[] = [];
  const errors: ProbeError[] = [];
  const failedEarly = (setupError: string): GatherResult => ({
    candidates,
    errors,
    gathering: 'failed',
    elapsedMs: elapsed(),
    setupError,
  });
  if (signal?.aborted) return Promise.resolve(failedEarly('aborted'));

  let pc: RTCPeerConnection;
  try {
    pc = new RTCPeerConnection(config);
  } catch (error) {
    return Promise.resolve(failedEarly(messageOf(error)));
  }

  return new Promise<GatherResult>((resolve) => {
    let done = false;
    const finish = (gathering: GatheringEnd, setupError?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      pc.close();
      const result: GatherResult = { candidates, errors, gathering, elapsedMs: elapsed() };
      if (setupError !== undefined) result.setupError = setupError;
      resolve(result);
    };
    const onAbort = () => finish('failed', 'aborted');
    const timer = setTimeout(() => finish('timed-out'), timeoutMs);
    signal?.addEventListener('abort', onAbort);

    pc.addEventListener('icecandidate', (event: RTCPeerConnectionIceEvent) => {
      const { candidate } = event;
      if (done) return;
      if (candidate === null) return finish('complete'); // end of gathering (webrtc-pc §4.8.1)
      // Chromium exposes the server on the candidate (webrtc-pc `RTCIceCandidate.url`) and, older,
      // on the event; neither is in every browser's typings.
      const url =
        (candidate as RTCIceCandidate & { url?: string | null }).url ??
        (event as RTCPeerConnectionIceEvent & { url?: string | null }).url;
      const parsed = gatheredCandidate(candidate.candidate, url, elapsed());
      if (parsed) candidates.push(parsed);
    });
    pc.addEventListener('icecandidateerror', (event: RTCPeerConnectionIceErrorEvent) => {
      // libwebrtc reports 701 for every TURN port still allocating when the connection closes;
      // those are ours, not the server's, and must not reach a result already handed out.
      if (done) return;
      errors.push({
        url: event.url,
        errorCode: event.errorCode,
        errorText: event.errorText,
        address: event.address,
        atMs: elapsed(),
      });
    });
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') finish('complete');
    });

    pc.createDataChannel('probe');
    pc.createOffer()
      .then((offer) => pc.setLocalDescription(offer))
      .catch((error: unknown) => finish('failed', messageOf(error)));
  });
}

/**
 * Runs the NAT test against the `stun:` servers of `iceServers` (TURN entries are left out, see
 * `stunOnly`). Resolves with `classifyNat`'s input within `timeoutMs` (plus the close); never
 * rejects. With no STUN server at all, it resolves at once with `servers: []` and no gathering,
 * which the classifier reports as `not-tested`.
 *
 * Usage: `classifyNat(await probeNat(iceServers))`.
 */
export async function probeNat(
  iceServers: readonly IceServer[],
  options: GatherOptions = {},
): Promise<NatProbeInput> {
  const servers = stunOnly(iceServers);
  const urls = iceServerUrls(servers);
  if (urls.length === 0) {
    return { servers: [], candidates: [], errors: [], gathering: 'complete', elapsedMs: 0 };
  }
  const result = await gather({ iceServers: servers, iceCandidatePoolSize: 0 }, options);
  return { servers: urls, ...result };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
