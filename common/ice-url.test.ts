import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ICE_DEFAULT_PORT,
  ICE_DEFAULT_TLS_PORT,
  iceUrlScheme,
  isTurnScheme,
  parseIceUrl,
  parseStrictIceUrl,
  type IceUrl,
} from './ice-url.ts';

/** URLs both parsers accept, with what they read. */
const WELL_FORMED: readonly [string, IceUrl][] = [
  [
    'turn:203.0.113.20',
    { scheme: 'turn', host: '203.0.113.20', family: 'IPv4', port: 3478, transport: 'udp' },
  ],
  [
    'turn:203.0.113.20:3478?transport=udp',
    { scheme: 'turn', host: '203.0.113.20', family: 'IPv4', port: 3478, transport: 'udp' },
  ],
  [
    'turn:turn.example.org:3478?transport=tcp',
    { scheme: 'turn', host: 'turn.example.org', family: null, port: 3478, transport: 'tcp' },
  ],
  [
    'turn:turn.example.org:443?transport=tcp',
    { scheme: 'turn', host: 'turn.example.org', family: null, port: 443, transport: 'tcp' },
  ],
  [
    'turns:turn.example.org:443?transport=tcp',
    { scheme: 'turns', host: 'turn.example.org', family: null, port: 443, transport: 'tcp' },
  ],
  [
    'turn:[2001:db8::1]:3478',
    { scheme: 'turn', host: '2001:db8::1', family: 'IPv6', port: 3478, transport: 'udp' },
  ],
  [
    'stun:203.0.113.10',
    { scheme: 'stun', host: '203.0.113.10', family: 'IPv4', port: 3478, transport: 'udp' },
  ],
  [
    'stuns:stun.example.org',
    { scheme: 'stuns', host: 'stun.example.org', family: null, port: 5349, transport: 'tcp' },
  ],
  [
    'turns:turn.example.org',
    { scheme: 'turns', host: 'turn.example.org', family: null, port: 5349, transport: 'tcp' },
  ],
  [
    'stun:[2001:DB8::10]:3479',
    { scheme: 'stun', host: '2001:db8::10', family: 'IPv6', port: 3479, transport: 'udp' },
  ],
  [
    'stun:Stun.Example.ORG.:65535',
    { scheme: 'stun', host: 'stun.example.org.', family: null, port: 65535, transport: 'udp' },
  ],
];

/** Refused by both parsers. */
const MALFORMED = [
  'http://203.0.113.10',
  'stun:',
  'turn:',
  'stun:host:0',
  'stun:host:70000',
  'turn:203.0.113.20:0',
  'turn:203.0.113.20:65536',
  'stun:host?foo=bar',
  'turn:203.0.113.20:3478?transport=sctp',
  'turn:203.0.113.20:3478?transport=udp&x=1',
  'turns:host?transport=udp',
  'turns:turn.example.org?transport=udp',
  'stuns:host?transport=udp',
  'stun:[203.0.113.10]:3478',
  'turn:[not-ipv6]:3478',
  'turn:[2001:db8::1',
  'turn:[2001:db8::1]x',
  // A zone names an interface of whoever wrote it; RFC 3986 IP-literals have none.
  'turn:[fe80::1%eth0]:3478',
  'stun:fe80::1%eth0:3478',
  'stun:ho st',
  'stun:999.1.1.1',
  'turn:203.0.113.999',
  'turn:010.0.0.1',
  'turn://203.0.113.20',
  'turn:user@203.0.113.20',
  'turn:203.0.113.20/path',
  'turn:203.0.113.20#x',
  // An unbracketed IPv6 literal without a port: its last group would be read as the port.
  'stun:2001:db8::10',
];

describe('iceUrlScheme and isTurnScheme', () => {
  it('reads the four schemes, case-sensitively (RFC 7064 §3.1, RFC 7065 §3.1)', () => {
    expect(['stun:x', 'stuns:x', 'turn:x', 'turns:x'].map(iceUrlScheme)).toEqual([
      'stun',
      'stuns',
      'turn',
      'turns',
    ]);
    for (const text of ['http://stun.example.org', 'STUN:x', ' stun:x', 'stun', '']) {
      expect(iceUrlScheme(text), text).toBeNull();
    }
  });

  it('tells TURN from STUN', () => {
    const schemes = ['stun', 'stuns', 'turn', 'turns', null] as const;
    expect(schemes.map((scheme) => isTurnScheme(scheme))).toEqual([
      false,
      false,
      true,
      true,
      false,
    ]);
  });
});

describe('parseStrictIceUrl', () => {
  it.each(WELL_FORMED)('accepts %s', (url, expected) => {
    expect(parseStrictIceUrl(url)).toEqual(expected);
  });

  it('fills in the default ports', () => {
    expect(parseStrictIceUrl('turn:t.example.org')?.port).toBe(ICE_DEFAULT_PORT);
    expect(parseStrictIceUrl('turns:t.example.org')?.port).toBe(ICE_DEFAULT_TLS_PORT);
  });

  it.each([
    ...MALFORMED,
    // What only browsers write, or only browsers tolerate (see parseIceUrl).
    'TURN:203.0.113.20',
    'turn:203.0.113.20?TRANSPORT=UDP',
    'turn: 203.0.113.20',
    ' turn:203.0.113.20',
    'stun:2001:db8::10:3478',
    'turn:-bad-.example.org',
    'turn:my_host',
    'stun:203.0.113.10?transport=udp',
  ])('rejects %s', (url) => {
    expect(parseStrictIceUrl(url)).toBeNull();
  });
});

describe('parseIceUrl', () => {
  it.each(WELL_FORMED)('accepts %s as the strict parser does', (url, expected) => {
    expect(parseIceUrl(url)).toEqual(expected);
  });

  it("reads libwebrtc's unbracketed IPv6 with a port, and its turns transport", () => {
    expect(parseIceUrl('stun:2001:db8::10:3478')).toMatchObject({
      host: '2001:db8::10',
      family: 'IPv6',
      port: 3478,
    });
    expect(parseIceUrl('turns:turn.example.org:5349?transport=tcp')).toMatchObject({
      scheme: 'turns',
    });
  });

  it('tolerates case, whitespace, reg-names and a transport on stun:', () => {
    expect(parseIceUrl(' TURN:Turn.Example.ORG:443?Transport=TCP ')).toEqual({
      scheme: 'turn',
      host: 'turn.example.org',
      family: null,
      port: 443,
      transport: 'tcp',
    });
    expect(parseIceUrl('stun:my_host')).toMatchObject({ host: 'my_host', family: null });
    expect(parseIceUrl('stun:203.0.113.10?transport=tcp')).toMatchObject({ transport: 'tcp' });
  });

  it.each(MALFORMED)('refuses %s', (url) => {
    expect(parseIceUrl(url)).toBeNull();
  });

  it('accepts everything the strict parser accepts, with the same reading', () => {
    const url = fc
      .tuple(
        fc.constantFrom('stun', 'stuns', 'turn', 'turns'),
        fc.constantFrom(
          '203.0.113.7',
          '[2001:db8::7]',
          '[::ffff:192.0.2.1]',
          'turn.example.org',
          'a-b.c',
          'x',
        ),
        fc.option(fc.integer({ min: 0, max: 70000 }), { nil: undefined }),
        fc.option(fc.constantFrom('udp', 'tcp', 'sctp'), { nil: undefined }),
      )
      .map(([scheme, host, port, transport]) => {
        const portPart = port === undefined ? '' : `:${port}`;
        const query = transport === undefined ? '' : `?transport=${transport}`;
        return `${scheme}:${host}${portPart}${query}`;
      });
    fc.assert(
      fc.property(url, (text) => {
        const strict = parseStrictIceUrl(text);
        if (strict !== null) expect(parseIceUrl(text)).toEqual(strict);
      }),
      { numRuns: 500 },
    );
  });

  it('never throws, whatever it is given', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.anything()), (value) => {
        parseIceUrl(value as string);
        parseStrictIceUrl(value as string);
        iceUrlScheme(value as string);
      }),
      { numRuns: 500 },
    );
  });
});
