import { describe, expect, it } from 'vitest';
import { countPairs, explainFailure, type FailureInput } from './failure.ts';
import type { NatBehaviour, NatReport } from '../nat/nat-classifier.ts';
import { turnConfig } from '../nat/turn-config.ts';
import {
  DIRECT_TIMEOUT_MS,
  FALLBACK_NOTICE,
  ICE_PROGRESS_TIMEOUT_MS,
  shouldFallBackToRelay,
} from '../peer/relay-fallback.ts';

const NO_TURN = turnConfig([]);
const TURN = turnConfig([{ urls: 'turn:203.0.113.20:3478', username: 'u', credential: 'p' }]);
const TURN_TCP = turnConfig([
  { urls: 'turns:turn.example.org:443', username: 'u', credential: 'p' },
]);

function report(v4: NatBehaviour, address: string): NatReport {
  const mapped = v4 === 'udp-blocked' ? [] : [{ address, port: 40000 }];
  return {
    ipv4: { family: 'IPv4', behaviour: v4, mappedAddresses: mapped, reason: 'x', limits: [] },
    ipv6: {
      family: 'IPv6',
      behaviour: 'unavailable',
      mappedAddresses: [],
      reason: 'x',
      limits: [],
    },
  };
}
const cone = (address: string) => report('endpoint-independent', address);
const symmetric = (address: string) => report('address-and-port-dependent', address);

function input(overrides: Partial<FailureInput>): FailureInput {
  return {
    iceConnectionState: 'checking',
    connectionState: 'connecting',
    elapsedMs: 2000,
    relayOnly: false,
    local: cone('203.0.113.2'),
    remote: cone('203.0.113.3'),
    turn: NO_TURN,
    relayGathered: false,
    remoteCandidateCount: 2,
    candidateErrors: [],
    pairs: { total: 4, succeeded: 0, failed: 0, pending: 4 },
    ...overrides,
  };
}

describe('time bounds', () => {
  it('gives the direct path its turn before the panel speaks', () => {
    expect(DIRECT_TIMEOUT_MS).toBeLessThan(ICE_PROGRESS_TIMEOUT_MS);
    expect(ICE_PROGRESS_TIMEOUT_MS).toBeLessThanOrEqual(15_000);
    expect(FALLBACK_NOTICE).toBe(
      'No direct path after 8 s: retrying through the relay (TURN) only.',
    );
  });
});

describe('explainFailure', () => {
  it('stays quiet while connected, closed, or still within the bound', () => {
    expect(explainFailure(input({ iceConnectionState: 'connected' }))).toBeNull();
    expect(explainFailure(input({ connectionState: 'connected', elapsedMs: 60_000 }))).toBeNull();
    expect(explainFailure(input({ iceConnectionState: 'closed', elapsedMs: 60_000 }))).toBeNull();
    expect(explainFailure(input({ elapsedMs: ICE_PROGRESS_TIMEOUT_MS - 1 }))).toBeNull();
    expect(explainFailure(input({ elapsedMs: Number.NaN }))).toBeNull();
  });

  it('speaks at the progress bound even when ICE keeps checking (never spins forever)', () => {
    const failure = explainFailure(input({ elapsedMs: ICE_PROGRESS_TIMEOUT_MS }));
    expect(failure?.title).toBe('No connection after 15 s');
    expect(failure?.cause).toMatch(/Both NATs looked suitable for a direct path/);
    expect(failure?.remedy).toMatch(/TURN_URLS/);
  });

  it('names IPv6 when only IPv6 looked open to a direct path and none came up (issue #14)', () => {
    const dualStack = (address: string): NatReport => {
      const base = symmetric(address);
      return { ...base, ipv6: { ...base.ipv6, behaviour: 'no-nat' } };
    };
    const failure = explainFailure(
      input({
        local: dualStack('203.0.113.2'),
        remote: dualStack('203.0.113.3'),
        elapsedMs: ICE_PROGRESS_TIMEOUT_MS,
      }),
    );
    expect(failure?.cause).toMatch(/^Over IPv6 both sides looked open to a direct path/);
    expect(failure?.cause).toMatch(/RFC 6092/);
    expect(failure?.remedy).toMatch(/TURN_URLS/);
  });

  it('speaks at once when ICE failed', () => {
    expect(explainFailure(input({ iceConnectionState: 'failed' }))?.title).toBe(
      'Connection failed',
    );
    expect(
      explainFailure(input({ iceConnectionState: 'failed', relayOnly: true, turn: TURN }))?.title,
    ).toBe('The relay connection failed');
  });

  it('names symmetric NATs and the missing TURN server, early', () => {
    const failure = explainFailure(
      input({
        local: symmetric('203.0.113.2'),
        remote: symmetric('203.0.113.3'),
        elapsedMs: DIRECT_TIMEOUT_MS,
      }),
    );
    expect(failure).toEqual({
      title: 'No connection after 8 s',
      cause:
        'Both NATs map each destination to its own port (symmetric), so the addresses STUN saw are useless to the other side, and no TURN server is configured.',
      remedy: 'Set TURN_URLS on the server so the app can relay the connection.',
    });
    const one = explainFailure(
      input({ local: symmetric('203.0.113.2'), iceConnectionState: 'failed' }),
    );
    expect(one?.cause).toMatch(/^Your NAT maps each destination/);
  });

  it('names blocked UDP and asks for TURN over TCP or TLS', () => {
    const failure = explainFailure(
      input({ remote: report('udp-blocked', ''), iceConnectionState: 'failed' }),
    );
    expect(failure?.cause).toMatch(/UDP seems blocked on the other person's network/);
    expect(failure?.remedy).toMatch(/turns:host:443/);
  });

  it('puts refused TURN credentials first', () => {
    const failure = explainFailure(
      input({
        turn: TURN,
        relayOnly: true,
        iceConnectionState: 'failed',
        candidateErrors: [
          {
            url: 'turn:203.0.113.20:3478?transport=udp',
            errorCode: 401,
            errorText: 'Unauthorized',
          },
        ],
      }),
    );
    expect(failure?.cause).toMatch(/refused our credentials \(error 401/);
    expect(failure?.remedy).toMatch(/Test TURN/);
  });

  it('names an unreachable TURN server', () => {
    const failure = explainFailure(
      input({
        turn: TURN,
        iceConnectionState: 'failed',
        candidateErrors: [
          { url: 'turn:203.0.113.20:3478?transport=udp', errorCode: 701, errorText: 'timed out' },
          { url: 'stun:203.0.113.10:3478', errorCode: 701, errorText: 'timed out' },
        ],
      }),
    );
    expect(failure?.cause).toMatch(/could not be used \(error 701/);
    expect(failure?.remedy).toMatch(/TURN_URLS is running/);
  });

  it('says when nothing arrived from the other side', () => {
    const failure = explainFailure(input({ remoteCandidateCount: 0, elapsedMs: 20_000 }));
    expect(failure?.cause).toMatch(/Nothing arrived from the other person's browser/);
    const relayed = explainFailure(
      input({
        remoteCandidateCount: 0,
        relayOnly: true,
        turn: TURN,
        relayGathered: true,
        elapsedMs: 20_000,
      }),
    );
    expect(relayed?.cause).toMatch(/No relay address arrived/);
  });

  it('says when no pair could be formed', () => {
    const failure = explainFailure(input({ pairs: countPairs([]), iceConnectionState: 'failed' }));
    expect(failure?.cause).toMatch(/could be paired/);
  });

  it('blames the relay path when a relay was allocated and still nothing came up', () => {
    const failure = explainFailure(
      input({
        turn: TURN_TCP,
        relayOnly: true,
        relayGathered: true,
        local: symmetric('203.0.113.2'),
        iceConnectionState: 'failed',
      }),
    );
    expect(failure?.cause).toMatch(/relay address was allocated/);
  });

  it('explains a failed same-network path', () => {
    const failure = explainFailure(
      input({
        local: cone('203.0.113.2'),
        remote: cone('203.0.113.2'),
        iceConnectionState: 'failed',
      }),
    );
    expect(failure?.cause).toMatch(/same network/);
  });

  it('names a DTLS failure over a working ICE path', () => {
    const failure = explainFailure(
      input({ iceConnectionState: 'connected', connectionState: 'failed' }),
    );
    expect(failure?.cause).toMatch(/DTLS/);
  });

  it('says when the NAT reports are missing', () => {
    const failure = explainFailure(input({ remote: null, iceConnectionState: 'failed' }));
    expect(failure?.cause).toBe(
      "No path was found between your networks, and the NAT tests do not say why (the other person's NAT test did not arrive).",
    );
  });
});

describe('shouldFallBackToRelay', () => {
  const base = {
    iceConnectionState: 'checking',
    connectionState: 'connecting',
    elapsedMs: DIRECT_TIMEOUT_MS,
    relayOnly: false,
    turn: TURN,
  } as const;

  it('falls back after the direct bound, or at once on failure, when TURN is configured', () => {
    expect(shouldFallBackToRelay(base)).toBe(true);
    expect(shouldFallBackToRelay({ ...base, elapsedMs: 1000 })).toBe(false);
    expect(shouldFallBackToRelay({ ...base, elapsedMs: 1000, iceConnectionState: 'failed' })).toBe(
      true,
    );
  });

  it('never falls back without TURN, twice, or once connected', () => {
    expect(shouldFallBackToRelay({ ...base, turn: NO_TURN })).toBe(false);
    expect(shouldFallBackToRelay({ ...base, relayOnly: true })).toBe(false);
    expect(shouldFallBackToRelay({ ...base, iceConnectionState: 'connected' })).toBe(false);
    expect(shouldFallBackToRelay({ ...base, connectionState: 'closed' })).toBe(false);
  });
});

describe('countPairs', () => {
  it('counts by state, Firefox-style cancelled as failed', () => {
    expect(
      countPairs([
        { state: 'succeeded' },
        { state: 'failed' },
        { state: 'cancelled' },
        { state: 'in-progress' },
        { state: 'frozen' },
        {},
      ]),
    ).toEqual({ total: 6, succeeded: 1, failed: 2, pending: 2 });
  });
});
