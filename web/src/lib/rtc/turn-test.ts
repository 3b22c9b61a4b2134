/**
 * The browser half of the "Test TURN" button: a throwaway relay-only RTCPeerConnection asks the
 * TURN servers for a relay address, then is closed. Its output is `checkTurn`'s input
 * (turn-check.ts).
 */
import type { IceServer } from '../../../../signaling/protocol.ts';
import type { TurnCheckInput } from '../nat/turn-check.ts';
import { TURN_TEST_TIMEOUT_MS, turnConfig } from '../nat/turn-config.ts';
import { gather, type GatherOptions } from './nat-probe.ts';

/**
 * Gathers with the TURN entries of `iceServers` only and `iceTransportPolicy: 'relay'` (so the
 * browser asks for relay addresses and nothing else; STUN entries would only add noise). Bounded
 * by `timeoutMs` (default {@link TURN_TEST_TIMEOUT_MS}); never rejects. With no TURN server it
 * resolves at once with `urls: []`, which `checkTurn` reports as `not-configured`; when the
 * browser rejects the configuration (Chromium throws for a TURN URL without credentials) the
 * result has `gathering: 'failed'` and `setupError`.
 *
 * Usage: `checkTurn(await testTurn(iceServers))`.
 */
export async function testTurn(
  iceServers: readonly IceServer[],
  options: GatherOptions = {},
): Promise<TurnCheckInput> {
  const turn = turnConfig(iceServers);
  if (!turn.configured) {
    return { urls: [], candidates: [], errors: [], gathering: 'complete', elapsedMs: 0 };
  }
  const result = await gather(
    { iceServers: turn.servers, iceTransportPolicy: 'relay', iceCandidatePoolSize: 0 },
    { timeoutMs: TURN_TEST_TIMEOUT_MS, ...options },
  );
  return { urls: turn.urls, ...result };
}
