import { networkInterfaces } from 'node:os';
import { describe, expect, it } from 'vitest';
import {
  MAX_STUN_ADDRESSES_PER_FAMILY,
  isOfferedStunAddress,
  offerableAfterBinding,
  planStunAddresses,
  type NetworkInterfaces,
} from './stun-addresses.ts';
import type { TransportAddress } from './stun.ts';

/** `os.networkInterfaces()` of a host with these addresses, loopback first as Linux lists it. */
function host(...addresses: string[]): NetworkInterfaces {
  return {
    lo: [{ address: '127.0.0.1' }, { address: '::1' }],
    eth0: addresses.map((address) => ({ address })),
  };
}

/** A typical dual-stack VPS: a public IPv4, a global IPv6 and its link-local one. */
const VPS = host('203.0.113.10', '2001:db8::10', 'fe80::1');

describe('planStunAddresses', () => {
  it('on a wildcard HOST offers the global IPv6 and public IPv4, and binds nothing more for one each', () => {
    for (const wildcard of ['0.0.0.0', '::']) {
      expect(planStunAddresses(wildcard, null, VPS)).toEqual({
        offer: ['2001:db8::10', '203.0.113.10'],
        bind: [],
        fromEnv: false,
      });
    }
  });

  it('offers no IPv6 on a host without a global one: loopback, link-local and unique local are not', () => {
    const plan = planStunAddresses('0.0.0.0', null, host('203.0.113.10', 'fe80::1', 'fd00::2'));
    expect(plan.offer).toEqual(['203.0.113.10']);
  });

  it('offers no private or shared IPv4 (a cloud VM behind 1:1 NAT holds only such a one)', () => {
    const plan = planStunAddresses(
      '0.0.0.0',
      null,
      host('10.0.0.5', '172.16.0.5', '192.168.1.5', '100.64.0.5', '169.254.1.1', '2001:db8::10'),
    );
    expect(plan.offer).toEqual(['2001:db8::10']);
  });

  it('binds every address of a family that has two or more, offered or not, each once', () => {
    const plan = planStunAddresses('0.0.0.0', null, {
      ...host('203.0.113.10', '10.0.0.5', '2001:db8::10', 'fd00::2', 'fe80::1'),
      docker0: [{ address: '172.17.0.1' }],
      // The same address on a second interface (anycast) is one address.
      eth1: [{ address: '2001:DB8::10' }],
    });
    expect(plan.offer).toEqual(['2001:db8::10', '203.0.113.10']);
    expect(plan.bind).toEqual([
      '2001:db8::10',
      'fd00::2',
      '203.0.113.10',
      '10.0.0.5',
      '172.17.0.1',
    ]);
  });

  it(`offers at most ${MAX_STUN_ADDRESSES_PER_FAMILY} per family, the first listed, and binds them all`, () => {
    const plan = planStunAddresses(
      '::',
      null,
      host(
        '2001:db8::1',
        '2001:db8::2',
        '2001:db8::3',
        '203.0.113.1',
        '203.0.113.2',
        '203.0.113.3',
      ),
    );
    expect(plan.offer).toEqual(['2001:db8::1', '2001:db8::2', '203.0.113.1', '203.0.113.2']);
    expect(plan.bind).toHaveLength(6);
  });

  it('discovers nothing for a HOST that is one address: the operator chose it', () => {
    expect(planStunAddresses('203.0.113.10', null, VPS)).toEqual({
      offer: [],
      bind: [],
      fromEnv: false,
    });
  });

  it('takes STUN_ADDRESSES instead of the interfaces, whatever HOST, offered and bound', () => {
    for (const bindHost of ['0.0.0.0', '127.0.0.1']) {
      expect(planStunAddresses(bindHost, ['192.168.1.5', 'fd00::2'], VPS)).toEqual({
        offer: ['192.168.1.5', 'fd00::2'],
        bind: ['192.168.1.5', 'fd00::2'],
        fromEnv: true,
      });
    }
  });

  it('skips what is not an IP literal, and reads a real os.networkInterfaces()', () => {
    const plan = planStunAddresses('0.0.0.0', null, {
      odd: [{ address: 'not an address' }, { address: '' }],
      eth0: undefined,
    });
    expect(plan).toEqual({ offer: [], bind: [], fromEnv: false });
    const real = planStunAddresses('0.0.0.0', null, networkInterfaces());
    for (const address of real.offer) expect(isOfferedStunAddress(address), address).toBe(true);
  });
});

describe('isOfferedStunAddress', () => {
  it.each([
    ['2001:db8::10', true], // documentation (RFC 3849): the NAT lab's Internet
    ['2a00:1450:4001:82b::200e', true],
    ['3fff:ffff::1', true],
    ['::1', false],
    ['fe80::1', false],
    ['fd00::2', false],
    ['fc00::1', false],
    ['ff02::1', false],
    ['::', false],
    ['::ffff:203.0.113.10', false],
    ['203.0.113.10', true], // TEST-NET-3 (RFC 5737): the lab's public side
    ['8.8.8.8', true],
    ['10.1.2.3', false],
    ['172.31.255.255', false],
    ['192.168.0.1', false],
    ['100.64.0.1', false],
    ['127.0.0.1', false],
    ['169.254.0.1', false],
    ['0.0.0.0', false],
    ['chat.example.org', false],
  ])('%s → %s', (address, offered) => {
    expect(isOfferedStunAddress(address)).toBe(offered);
  });
});

describe('offerableAfterBinding', () => {
  const bound = (...addresses: string[]): TransportAddress[] =>
    addresses.map((address) => ({
      family: address.includes(':') ? 'IPv6' : 'IPv4',
      address,
      port: 3478,
    }));

  it('drops an address that was to have sockets of its own and got none', () => {
    const plan = planStunAddresses('0.0.0.0', null, host('2001:db8::1', '2001:db8::2'));
    expect(plan.bind).toEqual(['2001:db8::1', '2001:db8::2']);
    expect(offerableAfterBinding(plan, bound('0.0.0.0', '::', '2001:db8::2'))).toEqual([
      '2001:db8::2',
    ]);
  });

  it('keeps an address the wildcard answers alone, and compares in one spelling', () => {
    expect(offerableAfterBinding(planStunAddresses('0.0.0.0', null, VPS), bound('::'))).toEqual([
      '2001:db8::10',
      '203.0.113.10',
    ]);
    const plan = planStunAddresses('0.0.0.0', null, host('2001:db8::1', '2001:db8::2'));
    expect(offerableAfterBinding(plan, bound('2001:0db8:0:0::1', '2001:DB8::2'))).toEqual([
      '2001:db8::1',
      '2001:db8::2',
    ]);
  });
});
