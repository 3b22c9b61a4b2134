import fc from 'fast-check';
import { isIPv4, isIPv6 } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  canonicalHost,
  describeAddress,
  formatHostPort,
  formatIpAddress,
  formatIpv6,
  isIpv4Mapped,
  parseIpAddress,
  parseIpv4,
  parseIpv6,
} from './ip-address.ts';

/** Runs per property; each run is microseconds. */
const RUNS = { numRuns: 1000 };

/** 16 bytes from eight 16-bit groups. */
function groups(...values: number[]): Uint8Array {
  const bytes = new Uint8Array(16);
  values.forEach((value, i) => new DataView(bytes.buffer).setUint16(i * 2, value));
  return bytes;
}

// Strings made of what IP literals are made of, so that random ones are often near misses.
const ipish = fc.string({
  unit: fc.constantFrom(...'0123456789abcdefABCDEF:.'.split('')),
  maxLength: 45,
});
/** Dotted text of three to five parts, some out of range, padded or not numbers at all. */
const ipv4ish = fc
  .array(
    fc.oneof(
      fc.integer({ min: 0, max: 300 }).map(String),
      fc.integer({ min: 0, max: 99 }).map((n) => String(n).padStart(3, '0')),
      fc.constantFrom('', '-1', 'x', '1e1'),
    ),
    { minLength: 3, maxLength: 5 },
  )
  .map((parts) => parts.join('.'));
/** Up to nine hex pieces (some too long or not hex), maybe a `::` anywhere, maybe an IPv4 tail. */
const ipv6ish = fc
  .tuple(
    fc.array(
      fc.oneof(
        { arbitrary: fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16)), weight: 8 },
        { arbitrary: fc.constantFrom('', 'g', '10000', 'FFFF', '0ffff'), weight: 1 },
      ),
      { maxLength: 9 },
    ),
    fc.option(fc.nat(9)),
    fc.option(fc.oneof(ipv4ish, fc.constant('192.0.2.1'))),
  )
  .map(([hex, gap, ipv4]) => {
    const pieces = ipv4 === null ? hex : [...hex, ipv4];
    if (gap === null) return pieces.join(':');
    return `${pieces.slice(0, gap).join(':')}::${pieces.slice(gap).join(':')}`;
  });
const ipv4Text = fc
  .array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 })
  .map((octets) => octets.join('.'));
/** IPv6 text in every spelling: full, compressed, with leading zeros, upper case, IPv4 tail. */
const ipv6Text = fc
  .tuple(
    fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }),
    fc.integer({ min: 0, max: 8 }),
    fc.integer({ min: 0, max: 8 }),
    fc.boolean(),
    fc.boolean(),
    fc.boolean(),
  )
  .map(([values, start, length, padded, upper, ipv4Tail]) => {
    const hex = values.map((v) => {
      const text = v.toString(16);
      return padded ? text.padStart(4, '0') : text;
    });
    if (ipv4Tail) {
      const [, , , , , , g6 = 0, g7 = 0] = values;
      hex.splice(6, 2, `${g6 >> 8}.${g6 & 0xff}.${g7 >> 8}.${g7 & 0xff}`);
    }
    const pieces = hex.length;
    const run = Math.min(length, pieces - Math.min(start, pieces));
    const text =
      run === 0
        ? hex.join(':')
        : `${hex.slice(0, start).join(':')}::${hex.slice(start + run).join(':')}`;
    return upper ? text.toUpperCase() : text;
  });

describe('parseIpv4', () => {
  it.each([
    ['0.0.0.0', [0, 0, 0, 0]],
    ['192.0.2.1', [192, 0, 2, 1]],
    ['255.255.255.255', [255, 255, 255, 255]],
  ])('reads %s', (text, octets) => {
    expect(parseIpv4(text)).toEqual(Uint8Array.from(octets));
  });

  it.each([
    '',
    '1.2.3',
    '1.2.3.4.5',
    '256.1.1.1',
    '1.2.3.-4',
    '+1.2.3.4',
    ' 1.2.3.4',
    '1.2.3.4 ',
    '1..3.4',
    '0x7f.0.0.1',
    '1e2.0.0.1',
    // RFC 3986 `dec-octet` has no leading zeros, and inet_aton would read 010 as octal 8.
    '010.0.0.1',
    '1.2.3.04',
  ])('refuses %j', (text) => {
    expect(parseIpv4(text)).toBeNull();
  });

  it("accepts exactly what Node's isIPv4 accepts", () => {
    fc.assert(
      fc.property(fc.oneof(ipish, ipv4ish, ipv4Text), (text) => {
        expect(parseIpv4(text) !== null).toBe(isIPv4(text));
      }),
      RUNS,
    );
  });
});

describe('parseIpv6', () => {
  it.each([
    ['::', groups()],
    ['::1', groups(0, 0, 0, 0, 0, 0, 0, 1)],
    ['2001:db8::1', groups(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)],
    ['2001:DB8:0:0:8:800:200C:417A', groups(0x2001, 0xdb8, 0, 0, 8, 0x800, 0x200c, 0x417a)],
    ['1:2:3:4:5:6:7::', groups(1, 2, 3, 4, 5, 6, 7, 0)],
    ['::ffff:1.2.3.4', groups(0, 0, 0, 0, 0, 0xffff, 0x102, 0x304)],
    ['1::5.6.7.8', groups(1, 0, 0, 0, 0, 0, 0x506, 0x708)],
    ['1:2:3:4:5:6:1.2.3.4', groups(1, 2, 3, 4, 5, 6, 0x102, 0x304)],
    // RFC 4291 §2.2 examples.
    ['FF01:0:0:0:0:0:0:101', groups(0xff01, 0, 0, 0, 0, 0, 0, 0x101)],
    ['::13.1.68.3', groups(0, 0, 0, 0, 0, 0, 0x0d01, 0x4403)],
  ])('reads %s', (text, bytes) => {
    expect(parseIpv6(text)).toEqual(bytes);
  });

  it('ignores a zone (RFC 4007 §11)', () => {
    expect(parseIpv6('fe80::1%eth0')).toEqual(groups(0xfe80, 0, 0, 0, 0, 0, 0, 1));
    expect(parseIpv6('fe80::1%')).toEqual(groups(0xfe80, 0, 0, 0, 0, 0, 0, 1));
  });

  it.each([
    '',
    ':',
    ':::',
    '1::2::3',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7:8::',
    '::1:2:3:4:5:6:7:8',
    // `::` stands for at least one group, so it cannot sit beside a full address.
    '1:2:3:4:5:6::1.2.3.4',
    '12345::',
    ':1::2',
    '1::2:',
    '1.2.3.4::1',
    '::1.2.3',
    '::1.2.3.04',
    '[::1]',
    '1.2.3.4',
    'g::1',
  ])('refuses %j', (text) => {
    expect(parseIpv6(text)).toBeNull();
  });

  it("accepts exactly what Node's isIPv6 accepts", () => {
    fc.assert(
      fc.property(fc.oneof(ipish, ipv6ish, ipv6Text), (text) => {
        expect(parseIpv6(text) !== null).toBe(isIPv6(text));
      }),
      RUNS,
    );
  });
});

describe('formatIpv6', () => {
  it.each([
    // RFC 5952 §4.1 leading zeros, §4.2.1 longest run, §4.2.2 one group not compressed,
    // §4.2.3 the first of equal runs, §4.3 lower case, §5 IPv4-mapped.
    ['2001:0db8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:DB8::ABCD', '2001:db8::abcd'],
    ['0:0:0:0:0:ffff:c000:0201', '::ffff:192.0.2.1'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['1::5.6.7.8', '1::506:708'],
  ])('writes %s as %s', (text, expected) => {
    expect(formatIpv6(parseIpv6(text) as Uint8Array)).toBe(expected);
  });

  it('spells every address as the WHATWG URL serializer does (RFC 5952), IPv4-mapped aside', () => {
    fc.assert(
      fc.property(ipv6Text, (text) => {
        const bytes = parseIpv6(text);
        expect(bytes).not.toBeNull();
        if (bytes === null || isIpv4Mapped(bytes)) return;
        expect(formatIpv6(bytes)).toBe(new URL(`http://[${text}]/`).hostname.slice(1, -1));
        expect(parseIpv6(formatIpv6(bytes))).toEqual(bytes);
      }),
      RUNS,
    );
  });
});

describe('isIpv4Mapped', () => {
  it('is true for ::ffff:0:0/96 only (RFC 4291 §2.5.5.2)', () => {
    expect(isIpv4Mapped(parseIpv6('::ffff:1.2.3.4') as Uint8Array)).toBe(true);
    expect(isIpv4Mapped(parseIpv6('::fffe:1.2.3.4') as Uint8Array)).toBe(false);
    expect(isIpv4Mapped(parseIpv6('1::ffff:1.2.3.4') as Uint8Array)).toBe(false);
    expect(isIpv4Mapped(Uint8Array.from([0, 0, 0, 0]))).toBe(false);
  });
});

describe('parseIpAddress', () => {
  it('reads either family, with brackets, a zone or whitespace around', () => {
    expect(parseIpAddress(' 192.0.2.1 ')).toEqual({
      family: 'IPv4',
      bytes: parseIpv4('192.0.2.1'),
    });
    expect(parseIpAddress('[2001:db8::1]')).toEqual({
      family: 'IPv6',
      bytes: parseIpv6('2001:db8::1'),
    });
    expect(parseIpAddress('FE80::1%en0')?.family).toBe('IPv6');
  });

  it('refuses host names, mDNS names and unbalanced brackets', () => {
    for (const text of ['turn.example.org', 'abc.local', '[::1', '::1]', '[[::1]]', '']) {
      expect(parseIpAddress(text), text).toBeNull();
    }
  });
});

describe('canonicalHost and formatIpAddress', () => {
  it('gives every spelling of one address the same text', () => {
    expect(canonicalHost('[2001:DB8:0::10]')).toBe('2001:db8::10');
    expect(canonicalHost('2001:db8:0:0:0:0:0:10%eth0')).toBe('2001:db8::10');
    expect(canonicalHost(' 203.0.113.10')).toBe('203.0.113.10');
    expect(canonicalHost('Turn.Example.ORG ')).toBe('turn.example.org');
    // An IPv4-mapped address stays IPv6: a different endpoint to a socket of the other family.
    expect(canonicalHost('::ffff:203.0.113.10')).not.toBe(canonicalHost('203.0.113.10'));
  });

  it('writes IPv4 dotted and IPv6 in RFC 5952 form', () => {
    expect(formatIpAddress({ family: 'IPv4', bytes: Uint8Array.from([192, 0, 2, 1]) })).toBe(
      '192.0.2.1',
    );
    expect(
      formatIpAddress({ family: 'IPv6', bytes: groups(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1) }),
    ).toBe('2001:db8::1');
  });
});

describe('formatHostPort', () => {
  it('brackets IPv6 literals only (RFC 3986 §3.2.2)', () => {
    expect(formatHostPort('203.0.113.2', 4000)).toBe('203.0.113.2:4000');
    expect(formatHostPort('2001:db8::2', 4000)).toBe('[2001:db8::2]:4000');
    expect(formatHostPort('turn.example.org', 3478)).toBe('turn.example.org:3478');
  });
});

describe('describeAddress', () => {
  it.each([
    ['4f2b8a1c-6d3e-4b7a-9c1d-2e5f8a9b0c3d.local', 'mDNS-hidden'],
    ['E3D0A1B2-7C4F-4E8A-9B6D-1F2A3C4D5E6F.LOCAL.', 'mDNS-hidden'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.254', 'private'],
    ['192.168.1.23', 'private'],
    ['100.64.0.1', 'private'],
    ['100.127.255.254', 'private'],
    ['127.0.0.1', 'private'],
    ['169.254.10.20', 'private'],
    ['::1', 'private'],
    ['[::1]', 'private'],
    ['fd12:3456:789a::1', 'private'],
    ['fc00::1', 'private'],
    ['fe80::1c2b:3dff:fe4e:5f60%en0', 'private'],
    ['FE80::1', 'private'],
    ['febf::1', 'private'],
    ['::ffff:192.168.1.23', 'private'],
    ['::ffff:c0a8:117', 'private'],
    ['172.15.0.1', 'public'],
    ['172.32.0.1', 'public'],
    ['100.63.255.255', 'public'],
    ['100.128.0.0', 'public'],
    ['203.0.113.7', 'public'],
    ['8.8.8.8', 'public'],
    ['2001:db8:85a3::8a2e:370:7334', 'public'],
    ['fec0::1', 'public'],
    ['::ffff:8.8.8.8', 'public'],
    ['::2', 'public'],
    ['turn.example.org', 'public'],
    // Not an IPv4 literal (leading zero, see parseIpv4), so not known to be private.
    ['010.1.2.3', 'public'],
  ])('%s is %s', (address, kind) => {
    expect(describeAddress(address)).toBe(kind);
  });
});
