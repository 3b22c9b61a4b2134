import { describe, expect, it } from 'vitest';
import { gatheredCandidate, type GatheredCandidate } from './probe-input.ts';
import { checkTurn, type TurnCheckInput } from './turn-check.ts';
import { turnConfig } from './turn-config.ts';

const TURN_UDP = 'turn:203.0.113.20:3478';
const TURN_TCP = 'turn:203.0.113.20:3478?transport=tcp';
const TURNS = 'turns:turn.example.org:443';
// libwebrtc rewrites the URL it reports: explicit transport (`turn_port.cc` ReconstructedServerUrl).
const REPORTED_UDP = 'turn:203.0.113.20:3478?transport=udp';
const RELAY_LINE =
  'candidate:3829871650 1 udp 41885439 203.0.113.20 61234 typ relay raddr 0.0.0.0 rport 0 generation 0 ufrag 4Rz3 network-cost 999';

function relay(url?: string): GatheredCandidate {
  const candidate = gatheredCandidate(RELAY_LINE, url);
  if (!candidate) throw new Error('fixture');
  return candidate;
}

function input(overrides: Partial<TurnCheckInput>): TurnCheckInput {
  return {
    urls: [TURN_UDP],
    candidates: [],
    errors: [],
    gathering: 'complete',
    elapsedMs: 420,
    ...overrides,
  };
}

describe('turnConfig', () => {
  it('keeps TURN URLs with their credentials and drops STUN ones', () => {
    const config = turnConfig([
      { urls: 'stun:203.0.113.10:3478' },
      { urls: ['stun:203.0.113.10:3479', TURN_UDP, TURN_TCP], username: 'u', credential: 'p' },
      { urls: TURNS, username: 'u2', credential: 'p2' },
    ]);
    expect(config.servers).toEqual([
      { urls: [TURN_UDP, TURN_TCP], username: 'u', credential: 'p' },
      { urls: [TURNS], username: 'u2', credential: 'p2' },
    ]);
    expect(config).toMatchObject({ configured: true, udp: true, tcp: true, tls: true });
    expect(config.urls).toEqual([TURN_UDP, TURN_TCP, TURNS]);
  });

  it('says not configured for STUN only', () => {
    expect(turnConfig([{ urls: 'stun:203.0.113.10:3478' }])).toMatchObject({
      configured: false,
      servers: [],
      urls: [],
      udp: false,
    });
  });
});

describe('checkTurn', () => {
  it('reports the relay address, matching the URL libwebrtc rewrites', () => {
    const result = checkTurn(input({ candidates: [relay(REPORTED_UDP)] }));
    expect(result.status).toBe('ok');
    expect(result.relays).toEqual([{ address: '203.0.113.20', port: 61234, url: TURN_UDP }]);
    expect(result.text).toBe(`TURN works: ${TURN_UDP} gave the relay address 203.0.113.20:61234.`);
  });

  it('counts a relay without url (Firefox) for the only URL', () => {
    expect(checkTurn(input({ candidates: [relay()] })).status).toBe('ok');
  });

  it('reads error 401 as refused credentials', () => {
    const result = checkTurn(
      input({
        errors: [{ url: REPORTED_UDP, errorCode: 401, errorText: 'Unauthorized', address: null }],
      }),
    );
    expect(result.status).toBe('auth-failed');
    expect(result.text).toMatch(/refused our credentials \(error 401\)/);
    expect(result.servers[0]).toMatchObject({ status: 'auth-failed', errorCode: 401 });
  });

  it('reads error 701 as not reachable', () => {
    const result = checkTurn(
      input({
        errors: [
          {
            url: REPORTED_UDP,
            errorCode: 701,
            errorText: 'TURN allocate request timed out.',
            address: null,
          },
        ],
      }),
    );
    expect(result.status).toBe('unreachable');
    expect(result.servers[0]?.text).toMatch(/could not be reached \(error 701/);
  });

  it('reads silence until the timeout as not reachable, naming the wait', () => {
    const result = checkTurn(input({ gathering: 'timed-out', elapsedMs: 10_000 }));
    expect(result.status).toBe('unreachable');
    expect(result.text).toMatch(/no relay address within 10 s/);
  });

  it('reads other TURN errors as a refusal', () => {
    const result = checkTurn(
      input({
        errors: [{ url: REPORTED_UDP, errorCode: 486, errorText: 'Quota', address: null }],
      }),
    );
    expect(result.status).toBe('refused');
    expect(result.servers[0]?.text).toMatch(/allocation quota reached/);
  });

  it('ignores the wrong-family error an IPv6 socket reports', () => {
    const result = checkTurn(
      input({
        candidates: [relay(REPORTED_UDP)],
        errors: [
          {
            url: REPORTED_UDP,
            errorCode: 600,
            errorText: 'IP address family does not match.',
            address: null,
          },
        ],
      }),
    );
    expect(result.servers[0]?.status).toBe('ok');
  });

  it('is ok when one of several URLs works, and names the others', () => {
    const result = checkTurn(
      input({
        urls: [TURN_UDP, TURNS],
        candidates: [relay(REPORTED_UDP)],
        errors: [
          {
            url: 'turns:turn.example.org:443?transport=tcp',
            errorCode: 701,
            errorText: 'x',
            address: null,
          },
        ],
      }),
    );
    expect(result.status).toBe('ok');
    expect(result.text).toMatch(`Not working: ${TURNS}.`);
    expect(result.servers.map((s) => s.status)).toEqual(['ok', 'unreachable']);
  });

  it('prefers the auth failure over the unreachable one when nothing works', () => {
    const result = checkTurn(
      input({
        urls: [TURN_UDP, TURN_TCP],
        errors: [
          { url: REPORTED_UDP, errorCode: 701, errorText: 'x', address: null },
          { url: TURN_TCP, errorCode: 401, errorText: 'x', address: null },
        ],
      }),
    );
    expect(result.status).toBe('auth-failed');
  });

  it('says not configured, and config error when the browser refused the servers', () => {
    expect(checkTurn(input({ urls: [] })).status).toBe('not-configured');
    expect(checkTurn(input({ urls: [] })).text).toMatch(/TURN_URLS/);
    const refused = checkTurn(
      input({ gathering: 'failed', setupError: 'InvalidAccessError: credential missing' }),
    );
    expect(refused.status).toBe('config-error');
    expect(refused.text).toContain('credential missing');
  });
});
