import { describe, expect, it } from 'vitest';
import { analysePath, forecast, forecastHeld, type Forecast } from './forecast.ts';
import type { IpFamily, NatBehaviour, NatReport } from './nat-classifier.ts';
import { turnConfig } from './turn-config.ts';

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
    expect(f).toMatchObject({
      outcome: 'direct-likely',
      text: 'a direct path over IPv6 is likely',
      family: 'IPv6',
      directFamilies: ['IPv6'],
    });
    expect(f.reason).toMatch(/over IPv6 \(IPv4: you: varies by destination/);
  });

  it('forecasts direct over IPv6 between two symmetric IPv4 NATs with IPv6 on both sides (issue #14)', () => {
    const local = report('address-and-port-dependent', '203.0.113.2', 'no-nat');
    const remote = report('address-and-port-dependent', '203.0.113.3', 'no-nat');
    const f = forecast({ local, remote, turn: NO_TURN });
    expect(f).toMatchObject({
      outcome: 'direct-likely',
      text: 'a direct path over IPv6 is likely',
      basis: 'direct',
      family: 'IPv6',
    });
    expect(f.reason).toMatch(/^You have no NAT and the other person has no NAT over IPv6/);
    expect(f.reason).toMatch(/RFC 8445 §6.1.2.2/);
    expect(f.reason).toMatch(/stateful firewall .* \(RFC 6092 §3, RFC 5128 §3.3\)/);
    // Same for UDP blocked over IPv4: IPv6's UDP is another path.
    expect(
      forecast({ local: report('udp-blocked', '', 'no-nat'), remote, turn: NO_TURN }).text,
    ).toBe('a direct path over IPv6 is likely');
  });

  it('forecasts direct over IPv6 from an IPv6-only home to a dual-stack one', () => {
    const local = report('unavailable', '', 'no-nat');
    const remote = report('endpoint-independent', '203.0.113.3', 'no-nat');
    const f = forecast({ local, remote, turn: NO_TURN });
    expect(f.text).toBe('a direct path over IPv6 is likely');
    expect(f.reason).toContain('(IPv4: you: no IPv4; the other person: one mapping');
  });

  it('forecasts a relay when IPv4 is symmetric and only one side has IPv6, and says why IPv6 does not help', () => {
    const local = report('address-and-port-dependent', '203.0.113.2', 'no-nat');
    const remote = report('address-and-port-dependent', '203.0.113.3', 'unavailable');
    const f = forecast({ local, remote, turn: UDP_TURN });
    expect(f).toMatchObject({
      outcome: 'relay-needed',
      text: 'a relay (TURN) will be needed',
      family: 'IPv4',
      directFamilies: [],
    });
    expect(f.reason).toMatch(/^Both NATs/);
    expect(f.reason).toContain(
      'IPv6 does not help here (you: no NAT (firewall only); the other person: no IPv6)',
    );
    // Without any IPv6 result the reason stays about IPv4 alone.
    const v4only = forecast({
      local: symmetric('203.0.113.2'),
      remote: symmetric(),
      turn: UDP_TURN,
    });
    expect(v4only.reason).not.toMatch(/IPv6/);
  });

  it('keeps the IPv4 forecast when both families would work, and says ICE may take either', () => {
    const local = report('endpoint-independent', '203.0.113.2', 'no-nat');
    const remote = report('endpoint-independent', '203.0.113.3', 'no-nat');
    const f = forecast({ local, remote, turn: NO_TURN });
    expect(f).toMatchObject({
      text: 'a direct path is likely',
      family: 'IPv4',
      directFamilies: ['IPv4', 'IPv6'],
    });
    expect(f.reason).toMatch(/ICE may take either family\.$/);
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

  describe('with the family of the selected pair', () => {
    /** A selected pair of `family`; hidden local host, visible remote srflx. */
    const over = (family: IpFamily) => ({
      local: { type: 'host' },
      remote: { type: 'srflx', address: family === 'IPv6' ? '2001:db8:2::5' : '203.0.113.3' },
    });
    const viaIpv6 = forecast({
      local: report('address-and-port-dependent', '203.0.113.2', 'no-nat'),
      remote: report('address-and-port-dependent', '203.0.113.3', 'no-nat'),
      turn: NO_TURN,
    });
    const bothFamilies = forecast({
      local: report('endpoint-independent', '203.0.113.2', 'no-nat'),
      remote: report('endpoint-independent', '203.0.113.3', 'endpoint-independent'),
      turn: NO_TURN,
    });

    it('holds a direct IPv6 forecast on a direct IPv6 pair, naming the family', () => {
      expect(
        forecastHeld(viaIpv6, { verdict: 'Direct', failed: false, pair: over('IPv6') }),
      ).toEqual({
        held: true,
        text: 'The forecast held: the connection is direct over IPv6.',
      });
    });

    it('misses in part when the direct pair is of a family the reports ruled out', () => {
      const check = forecastHeld(viaIpv6, { verdict: 'Direct', failed: false, pair: over('IPv4') });
      expect(check).toEqual({
        held: false,
        text: 'The forecast missed in part: it expected a direct path over IPv6, and the connection is direct, but over IPv4, where the NAT tests expected none. A NAT let in more than assumed (endpoint-independent filtering, or a port kept by chance).',
      });
    });

    it('misses, naming both families, when a direct IPv6 forecast ends on the relay', () => {
      expect(
        forecastHeld(viaIpv6, { verdict: 'Relayed (TURN)', failed: false, pair: over('IPv4') })
          ?.text,
      ).toBe(
        'The forecast missed: a direct path over IPv6 was expected, but the connection goes through the relay (TURN) over IPv4. No direct pair answered in time; a firewall may filter more than the NAT test can see.',
      );
      expect(forecastHeld(viaIpv6, { verdict: null, failed: true })?.text).toBe(
        'The forecast missed: a direct path over IPv6 was expected, but no connection came up.',
      );
    });

    it('accepts either family when both allowed a direct path, and any on the same network', () => {
      for (const family of ['IPv4', 'IPv6'] as const) {
        expect(
          forecastHeld(bothFamilies, { verdict: 'Direct', failed: false, pair: over(family) }),
        ).toEqual({
          held: true,
          text: `The forecast held: the connection is direct over ${family}.`,
        });
      }
      const lan = forecast({
        local: symmetric('203.0.113.2'),
        remote: symmetric('203.0.113.2'),
        turn: NO_TURN,
      });
      expect(
        forecastHeld(lan, { verdict: 'Direct', failed: false, pair: over('IPv6') })?.held,
      ).toBe(true);
    });

    it('names no family, and holds as before, when the pair shows none', () => {
      const hidden = { local: { type: 'host' }, remote: { type: 'prflx' } };
      expect(forecastHeld(viaIpv6, { verdict: 'Direct', failed: false, pair: hidden })).toEqual({
        held: true,
        text: 'The forecast held: the connection is direct.',
      });
      // libwebrtc's priority on a hidden host still tells (ice/candidate-family.ts).
      const hinted = { local: { type: 'host', priority: 2113939711 }, remote: { type: 'prflx' } };
      expect(forecastHeld(viaIpv6, { verdict: 'Direct', failed: false, pair: hinted })?.text).toBe(
        'The forecast held: the connection is direct over IPv6.',
      );
    });

    it('names the family of a relayed or unexpected direct pair', () => {
      expect(
        forecastHeld(relay, { verdict: 'Relayed (TURN)', failed: false, pair: over('IPv4') }),
      ).toEqual({
        held: true,
        text: 'The forecast held: the connection goes through the relay (TURN) over IPv4.',
      });
      expect(
        forecastHeld(relay, { verdict: 'Direct', failed: false, pair: over('IPv6') })?.text,
      ).toMatch(
        /^The forecast missed: a relay was expected, but a direct path came up over IPv6\. /,
      );
    });
  });

  it('says nothing before the connection settles or for an unknown forecast', () => {
    expect(forecastHeld(direct, { verdict: null, failed: false })).toBeNull();
    const unknown: Forecast = { ...direct, outcome: 'unknown' };
    expect(forecastHeld(unknown, { verdict: 'Direct', failed: false })).toBeNull();
  });
});
