import { describe, expect, it } from 'vitest';
import { decomposePriority, isIceCandidateType, parseIceCandidate } from './ice-candidate.ts';

// Lines as Chromium and Firefox put them in `RTCIceCandidate.candidate` and in SDP.
const CHROME_MDNS_HOST =
  'candidate:2984135468 1 udp 2122260223 4f2b8a1c-6d3e-4b7a-9c1d-2e5f8a9b0c3d.local 54400 typ host generation 0 network-cost 999';
const CHROME_SRFLX =
  'candidate:842163049 1 udp 1686052607 203.0.113.7 54321 typ srflx raddr 0.0.0.0 rport 0 generation 0 ufrag Wv2p network-id 1 network-cost 10';
const CHROME_RELAY =
  'candidate:3829871650 1 udp 41885439 198.51.100.20 61234 typ relay raddr 203.0.113.7 rport 54321 generation 0 ufrag Wv2p network-id 1 network-cost 10';
const CHROME_TCP_ACTIVE =
  'candidate:1458963712 1 tcp 1518280447 192.168.1.23 9 typ host tcptype active generation 0 ufrag Wv2p network-id 1';
const CHROME_IPV6_HOST =
  'candidate:3122683415 1 udp 2122262783 2001:db8:85a3::8a2e:370:7334 50412 typ host generation 0 ufrag Wv2p network-id 2';
const FIREFOX_HOST =
  'candidate:0 1 UDP 2122252543 e3d0a1b2-7c4f-4e8a-9b6d-1f2a3c4d5e6f.local 59876 typ host';

describe('parseIceCandidate', () => {
  it('reads a Chromium mDNS host candidate and keeps only the typed fields', () => {
    expect(parseIceCandidate(CHROME_MDNS_HOST)).toStrictEqual({
      foundation: '2984135468',
      component: 1,
      protocol: 'udp',
      priority: 2122260223,
      address: '4f2b8a1c-6d3e-4b7a-9c1d-2e5f8a9b0c3d.local',
      port: 54400,
      type: 'host',
    });
  });

  it('reads raddr and rport of a server-reflexive candidate', () => {
    expect(parseIceCandidate(CHROME_SRFLX)).toStrictEqual({
      foundation: '842163049',
      component: 1,
      protocol: 'udp',
      priority: 1686052607,
      address: '203.0.113.7',
      port: 54321,
      type: 'srflx',
      relatedAddress: '0.0.0.0',
      relatedPort: 0,
    });
  });

  it('reads a relay candidate', () => {
    expect(parseIceCandidate(CHROME_RELAY)).toMatchObject({
      type: 'relay',
      address: '198.51.100.20',
      relatedAddress: '203.0.113.7',
      relatedPort: 54321,
    });
  });

  it('reads a TCP candidate with its tcptype (RFC 6544)', () => {
    expect(parseIceCandidate(CHROME_TCP_ACTIVE)).toStrictEqual({
      foundation: '1458963712',
      component: 1,
      protocol: 'tcp',
      priority: 1518280447,
      address: '192.168.1.23',
      port: 9,
      type: 'host',
      tcpType: 'active',
    });
  });

  it('reads an IPv6 address', () => {
    expect(parseIceCandidate(CHROME_IPV6_HOST)).toMatchObject({
      address: '2001:db8:85a3::8a2e:370:7334',
      port: 50412,
    });
  });

  it("lower-cases Firefox's upper-case transport", () => {
    expect(parseIceCandidate(FIREFOX_HOST)).toMatchObject({ protocol: 'udp', foundation: '0' });
  });

  it('reads a peer-reflexive candidate', () => {
    const line = 'candidate:1853824767 1 udp 1853824767 198.51.100.44 61000 typ prflx';
    expect(parseIceCandidate(line)?.type).toBe('prflx');
  });

  it.each([
    ['an SDP attribute line with CRLF', `a=${CHROME_SRFLX}\r\n`],
    ['the bare attribute value', CHROME_SRFLX.slice('candidate:'.length)],
    ['surrounding whitespace', `  ${CHROME_SRFLX}  `],
  ])('accepts %s', (_name, line) => {
    expect(parseIceCandidate(line)).toStrictEqual(parseIceCandidate(CHROME_SRFLX));
  });

  it('reads raddr/rport/tcptype in any order and skips unknown extensions', () => {
    const line =
      'candidate:7 2 TCP 1518280446 10.0.0.5 50000 typ srflx generation 3 tcptype passive rport 9 raddr 10.0.0.4';
    expect(parseIceCandidate(line)).toMatchObject({
      component: 2,
      relatedAddress: '10.0.0.4',
      relatedPort: 9,
      tcpType: 'passive',
    });
  });

  it('tolerates a trailing extension name without a value', () => {
    expect(parseIceCandidate(`${CHROME_MDNS_HOST} network-id`)).toStrictEqual(
      parseIceCandidate(CHROME_MDNS_HOST),
    );
  });

  it.each([
    ['the end-of-candidates empty string', ''],
    ['only the prefix', 'candidate:'],
    ['a truncated line', 'candidate:842163049 1 udp 1686052607 203.0.113.7 54321 typ'],
    ['no typ keyword', 'candidate:1 1 udp 2122260223 192.168.1.23 54400 type host'],
    ['an unknown candidate type', 'candidate:1 1 udp 2122260223 192.168.1.23 54400 typ nat'],
    ['an unknown transport', 'candidate:1 1 sctp 2122260223 192.168.1.23 54400 typ host'],
    ['component 0', 'candidate:1 0 udp 2122260223 192.168.1.23 54400 typ host'],
    ['component 257', 'candidate:1 257 udp 2122260223 192.168.1.23 54400 typ host'],
    ['priority 0', 'candidate:1 1 udp 0 192.168.1.23 54400 typ host'],
    ['priority 2^31', 'candidate:1 1 udp 2147483648 192.168.1.23 54400 typ host'],
    ['a negative priority', 'candidate:1 1 udp -5 192.168.1.23 54400 typ host'],
    ['a fractional port', 'candidate:1 1 udp 2122260223 192.168.1.23 544.5 typ host'],
    ['port 65536', 'candidate:1 1 udp 2122260223 192.168.1.23 65536 typ host'],
    ['a 33-character foundation', `candidate:${'a'.repeat(33)} 1 udp 1 192.168.1.23 1 typ host`],
    ['a foundation outside ice-char', 'candidate:ab!c 1 udp 1 192.168.1.23 1 typ host'],
    ['markup for an address', 'candidate:1 1 udp 1 <img> 1 typ host'],
    ['a bad raddr', 'candidate:1 1 udp 1 203.0.113.7 1 typ srflx raddr <x> rport 0'],
    ['a bad rport', 'candidate:1 1 udp 1 203.0.113.7 1 typ srflx raddr 10.0.0.1 rport x'],
    ['a bad tcptype', 'candidate:1 1 tcp 1 10.0.0.1 9 typ host tcptype sideways'],
  ])('returns null for %s', (_name, line) => {
    expect(parseIceCandidate(line)).toBeNull();
  });

  it('returns null, not a throw, for a non-string from untyped JSON', () => {
    expect(parseIceCandidate(undefined as unknown as string)).toBeNull();
    expect(parseIceCandidate({ candidate: CHROME_SRFLX } as unknown as string)).toBeNull();
  });
});

describe('decomposePriority', () => {
  it.each([
    // Chromium's preferences: host 126, srflx 100, relay over UDP 2 (RFC 8445 §5.1.2.2).
    [2122260223, { typePreference: 126, localPreference: 32542, componentId: 1 }],
    [1686052607, { typePreference: 100, localPreference: 32542, componentId: 1 }],
    [41885439, { typePreference: 2, localPreference: 32542, componentId: 1 }],
    [2122260222, { typePreference: 126, localPreference: 32542, componentId: 2 }],
    [1, { typePreference: 0, localPreference: 0, componentId: 255 }],
    [2 ** 31 - 1, { typePreference: 127, localPreference: 65535, componentId: 1 }],
    [
      2 ** 24 * 110 + 256 * 65535,
      { typePreference: 110, localPreference: 65535, componentId: 256 },
    ],
  ])('splits %i', (priority, parts) => {
    expect(decomposePriority(priority)).toStrictEqual(parts);
  });

  it('inverts the RFC 8445 §5.1.2.1 formula', () => {
    const compose = (type: number, local: number, component: number) =>
      2 ** 24 * type + 2 ** 8 * local + (256 - component);
    for (const [type, local, component] of [
      [126, 65535, 1],
      [100, 0, 256],
      [0, 1234, 2],
    ] as const) {
      expect(decomposePriority(compose(type, local, component))).toStrictEqual({
        typePreference: type,
        localPreference: local,
        componentId: component,
      });
    }
  });

  it.each([0, -1, 1.5, 2 ** 31, Number.NaN, Number.POSITIVE_INFINITY])(
    'returns null for %d',
    (priority) => {
      expect(decomposePriority(priority)).toBeNull();
    },
  );
});

describe('isIceCandidateType', () => {
  it('accepts the four RFC 8445 types only', () => {
    expect(['host', 'srflx', 'prflx', 'relay'].every(isIceCandidateType)).toBe(true);
    expect([undefined, null, 'HOST', 'serverreflexive', 1].some(isIceCandidateType)).toBe(false);
  });
});
