import { describe, expect, it } from 'vitest';
import { analysePath, forecast, forecastHeld, type Forecast } from './forecast.ts';
import type { IpFamily, NatBehaviour, NatReport } from './nat-classifier.ts';
import { turnConfig } from './turn-check.ts';

const NO_TURN = turnConfig([{ urls: 'stun:203.0.113.10:3478' }]);
const UDP_TURN = turnConfig([{ urls: 'turn:203.0.113.20:3478', username: 'u', credential: 'p' }]);
const TCP_TURN = turnConfig([
  { urls: 'turn:203.0.113.20:3478?transport=tcp', username: 'u', credential: 'p' },
]);

function result(family: IpFamily, behaviour: NatBehaviour, addresses: string[] = []) {
  return {
    family,
    behaviour,
    mappedAddresses: addresses.map((address, i) => ({ address, port: 40000 + i })),
    reason: `${family} ${behaviour} (test).`,
    limits: [],
  };
}

/** A report with IPv4 `v4` (mapped from `address`) and IPv6 `v6`. */
function report(
  v4: NatBehaviour,
  address = '203.0.113.2',
  v6: NatBehaviour = 'unavailable',
): NatReport {
  const mapped = ['udp-blocked', 'unavailable', 'not-tested'].includes(v4) ? [] : [address];
  return { ipv4: result('IPv4', v4, mapped), ipv6: result('IPv6', v6) };
}

const cone = (address = '203.0.113.2') => report('endpoint-independent', address);
const symmetric = (address = '203.0.113.3') => report('address-and-port-dependent', address);

describe('forecast', () => {
  it('forecasts a direct path between two cone NATs', () => {
    const f = forecast({ local: cone('203.0.113.2'), remote: cone('203.0.113.3'), turn: NO_TURN });
    expect(f).toMatchObject({
      outcome: 'direct-likely',
      text: 'a direct path is likely',
      basis: 'direct',
      family: 'IPv4',
    });
    expect(f.reason).toMatch(/^Your NAT keeps one mapping for every destination \(cone\)/);
    expect(f.reason).toMatch(/RFC 5128 §3.3/);
  });

  it('forecasts direct between no NAT and a cone', () => {
    const f = forecast({
      local: report('no-nat', '198.51.100.7'),
      remote: cone('203.0.113.3'),
      turn: NO_TURN,
    });
    expect(f.outcome).toBe('direct-likely');
    expect(f.reason).toMatch(/^You have no NAT/);
  });

  it('forecasts a relay for any symmetric side, and says filtering is the reason', () => {
    const f = forecast({ local: cone('203.0.113.2'), remote: symmetric(), turn: UDP_TURN });
    expect(f).toMatchObject({
      outcome: 'relay-needed',
      text: 'a relay (TURN) will be needed',
      basis: 'symmetric',
    });
    expect(f.reason).toMatch(/^The other person's NAT gives each destination its own mapping/);
    expect(f.reason).toMatch(/endpoint-independent filtering/);
    expect(f.reason).toMatch(/in our lab/);
  });

  it('names both sides when both are symmetric, and the missing TURN', () => {
    const f = forecast({ local: symmetric('203.0.113.2'), remote: symmetric(), turn: NO_TURN });
    expect(f.text).toBe('a relay (TURN) will be needed, but none is configured');
    expect(f.reason).toMatch(/^Both NATs/);
  });

  it('forecasts TURN over TCP or TLS when UDP is blocked', () => {
    const blocked = report('udp-blocked');
    expect(forecast({ local: blocked, remote: cone(), turn: TCP_TURN })).toMatchObject({
      outcome: 'relay-needed',
      basis: 'udp-blocked',
      text: 'a relay (TURN over TCP or TLS) will be needed',
    });
    expect(forecast({ local: blocked, remote: cone(), turn: UDP_TURN }).text).toBe(
      'a relay (TURN over TCP or TLS) will be needed, but only TURN over UDP is configured',
    );
    const f = forecast({ local: cone(), remote: blocked, turn: NO_TURN });
    expect(f.text).toMatch(/but none is configured$/);
    expect(f.reason).toMatch(/the other person's network/);
  });

  it('puts UDP blocked before symmetric', () => {
    expect(analysePath(report('udp-blocked'), symmetric()).basis).toBe('udp-blocked');
  });

  it('says same network when both share a public address, whatever the NAT', () => {
    const f = forecast({
      local: symmetric('203.0.113.2'),
      remote: symmetric('203.0.113.2'),
      turn: NO_TURN,
    });
    expect(f).toMatchObject({
      outcome: 'direct-likely',
      text: 'same network: a direct (host) path is likely',
      basis: 'same-network',
    });
    expect(f.reason).toMatch(/203\.0\.113\.2/);
    expect(f.reason).toMatch(/carrier-grade NAT/);
  });

  it('uses IPv6 when both sides can go direct there', () => {
    const local = report('address-and-port-dependent', '203.0.113.2', 'no-nat');
    const remote = report('endpoint-independent', '203.0.113.3', 'endpoint-independent');
    const f = forecast({ local, remote, turn: NO_TURN });
    expect(f).toMatchObject({ outcome: 'direct-likely', family: 'IPv6' });
    expect(f.reason).toMatch(/over IPv6 \(IPv4: you: varies by destination/);
  });

  it('falls back to IPv6 when IPv4 was not usable on both sides', () => {
    const local = report('unavailable', '', 'address-and-port-dependent');
    const remote = report('endpoint-independent', '203.0.113.3', 'endpoint-independent');
    expect(analysePath(local, remote)).toMatchObject({ basis: 'symmetric', family: 'IPv6' });
  });

  it('has no forecast until both reports arrive', () => {
    const f = forecast({ local: cone(), remote: null, turn: NO_TURN });
    expect(f).toMatchObject({ outcome: 'unknown', basis: 'missing-report' });
    expect(f.text).toBe('no forecast until both NAT tests are done');
    expect(f.reason).toBe("Waiting for the other person's NAT test.");
  });

  it('passes on the reason when a NAT test was inconclusive', () => {
    const f = forecast({ local: cone(), remote: report('unknown', '203.0.113.3'), turn: NO_TURN });
    expect(f).toMatchObject({ outcome: 'unknown', basis: 'unknown' });
    expect(f.reason).toBe(
      "The NAT test could not tell how the other person's NAT behaves: IPv4 unknown (test).",
    );
  });

  it('says there is nothing to compare without a common tested family', () => {
    const f = forecast({
      local: report('not-tested'),
      remote: report('unavailable'),
      turn: NO_TURN,
    });
    expect(f).toMatchObject({ outcome: 'unknown', family: null });
  });
});

describe('forecastHeld', () => {
  const direct = forecast({
    local: cone('203.0.113.2'),
    remote: cone('203.0.113.3'),
    turn: NO_TURN,
  });
  const relay = forecast({
    local: symmetric('203.0.113.2'),
    remote: cone('203.0.113.3'),
    turn: UDP_TURN,
  });

  it('holds when the path matches', () => {
    expect(forecastHeld(direct, { verdict: 'Direct', failed: false })).toEqual({
      held: true,
      text: 'The forecast held: the connection is direct.',
    });
    expect(forecastHeld(relay, { verdict: 'Relayed (TURN)', failed: false })?.held).toBe(true);
    expect(forecastHeld(relay, { verdict: null, failed: true })?.held).toBe(true);
  });

  it('misses, and says how, when the path differs', () => {
    expect(forecastHeld(direct, { verdict: 'Relayed (TURN)', failed: false })).toMatchObject({
      held: false,
      text: expect.stringMatching(/direct path was expected, but .* relay/) as unknown,
    });
    expect(forecastHeld(relay, { verdict: 'Direct', failed: false })?.held).toBe(false);
    expect(forecastHeld(direct, { verdict: null, failed: true })?.held).toBe(false);
  });

  it('says nothing before the connection settles or for an unknown forecast', () => {
    expect(forecastHeld(direct, { verdict: null, failed: false })).toBeNull();
    const unknown: Forecast = { ...direct, outcome: 'unknown' };
    expect(forecastHeld(unknown, { verdict: 'Direct', failed: false })).toBeNull();
  });
});
