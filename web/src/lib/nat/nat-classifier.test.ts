import { describe, expect, it } from 'vitest';
import { behaviourLabel, classifyNat, isSymmetric, parseNatReport } from './nat-classifier.ts';
import {
  gatheredCandidate,
  stunOnly,
  type GatheredCandidate,
  type NatProbeInput,
  type ProbeError,
} from './probe-input.ts';

// The NAT lab's addresses (e2e/lab/nat-lab.ts): host A 10.0.1.2 behind router 203.0.113.2, the
// server's STUN responder on 203.0.113.10, ports 3478 and 3479; a second server IP .20.
const STUN_A = 'stun:203.0.113.10:3478';
const STUN_B = 'stun:203.0.113.10:3479';
const STUN_OTHER_IP = 'stun:203.0.113.20:3478';

// Chromium without media permission: host IPs hidden behind mDNS, one socket per family bound
// to the default route, so no `network-id`; unknown network cost 999; srflx `raddr 0.0.0.0`.
const MDNS_HOST_V4 =
  'candidate:3028361052 1 udp 2113937151 f1b3c2d4-0a1b-4c2d-8e3f-5a6b7c8d9e0f.local 54400 typ host generation 0 ufrag 4Rz3 network-cost 999';
const MDNS_HOST_V6 =
  'candidate:1142203473 1 udp 2113939711 0c2d7e1f-3a4b-4c5d-9e6f-7a8b9c0d1e2f.local 54401 typ host generation 0 ufrag 4Rz3 network-cost 999';
const MDNS_TCP_HOST =
  'candidate:4023144548 1 tcp 1509957375 f1b3c2d4-0a1b-4c2d-8e3f-5a6b7c8d9e0f.local 9 typ host tcptype active generation 0 ufrag 4Rz3 network-cost 999';
const srflxLine = (address: string, port: number, foundation = '1840965416') =>
  `candidate:${foundation} 1 udp 1677729535 ${address} ${port} typ srflx raddr 0.0.0.0 rport 0 generation 0 ufrag 4Rz3 network-cost 999`;
// Chromium with host IPs visible (media permission granted): real raddr and network-id.
const VISIBLE_HOST =
  'candidate:1467250027 1 udp 2122260223 10.0.1.2 54400 typ host generation 0 ufrag 4Rz3 network-id 1 network-cost 10';
const VISIBLE_SRFLX =
  'candidate:842163049 1 udp 1686052607 203.0.113.2 54400 typ srflx raddr 10.0.1.2 rport 54400 generation 0 ufrag 4Rz3 network-id 1 network-cost 10';
const PUBLIC_HOST =
  'candidate:1467250027 1 udp 2122260223 198.51.100.7 50000 typ host generation 0 ufrag 4Rz3 network-id 1 network-cost 10';
// Firefox: upper-case transport, no url on candidates, no network-id.
const FIREFOX_HOST = 'candidate:0 1 UDP 2122252543 198.51.100.7 50000 typ host';
const FIREFOX_SRFLX_SAME =
  'candidate:1 1 UDP 1686052863 198.51.100.7 50000 typ srflx raddr 198.51.100.7 rport 50000';

function candidate(line: string, url?: string): GatheredCandidate {
  const parsed = gatheredCandidate(line, url);
  if (!parsed) throw new Error(`fixture does not parse: ${line}`);
  return parsed;
}

function error(url: string, errorText = 'STUN binding request timed out.', code = 701): ProbeError {
  return { url, errorCode: code, errorText, address: null };
}

function probe(overrides: Partial<NatProbeInput>): NatProbeInput {
  return {
    servers: [STUN_A, STUN_B],
    candidates: [],
    errors: [],
    gathering: 'complete',
    elapsedMs: 350,
    ...overrides,
  };
}

describe('classifyNat: IPv4 mapping behaviour', () => {
  it('calls one srflx from two answering servers a cone (Chromium reports a mapping once)', () => {
    const report = classifyNat(
      probe({
        candidates: [
          candidate(MDNS_HOST_V4),
          candidate(MDNS_TCP_HOST),
          candidate(srflxLine('203.0.113.2', 54400), STUN_A),
        ],
      }),
    );
    expect(report.ipv4.behaviour).toBe('endpoint-independent');
    expect(report.ipv4.mappedAddresses).toEqual([
      { address: '203.0.113.2', port: 54400, url: STUN_A },
    ]);
    expect(report.ipv4.reason).toContain('203.0.113.2:54400');
    expect(report.ipv4.reason).toContain(`${STUN_B} answered without a new one`);
    // One server IP: address-dependent mapping would look the same; say so.
    expect(report.ipv4.limits.join(' ')).toMatch(/differ only in port/);
    expect(report.ipv4.limits.join(' ')).toMatch(/Filtering/);
    expect(report.ipv6.behaviour).toBe('unavailable');
    expect(behaviourLabel(report.ipv6)).toBe('no IPv6');
  });

  it('calls two srflx with different ports from one server IP address-and-port-dependent', () => {
    const report = classifyNat(
      probe({
        candidates: [
          candidate(MDNS_HOST_V4),
          candidate(srflxLine('203.0.113.2', 40001, '1840965416'), STUN_A),
          candidate(srflxLine('203.0.113.2', 52344, '2999745851'), STUN_B),
        ],
      }),
    );
    expect(report.ipv4.behaviour).toBe('address-and-port-dependent');
    expect(isSymmetric(report.ipv4.behaviour)).toBe(true);
    expect(behaviourLabel(report.ipv4)).toBe('varies by destination (symmetric)');
    expect(report.ipv4.mappedAddresses.map((m) => m.port)).toEqual([40001, 52344]);
    expect(report.ipv4.reason).toContain(`203.0.113.2:40001 from ${STUN_A}`);
    // One default-route socket: two interfaces cannot explain the two mappings.
    expect(report.ipv4.limits.join(' ')).not.toMatch(/two interfaces/);
  });

  it('says symmetric even before gathering completes: two mappings are proof enough', () => {
    const report = classifyNat(
      probe({
        gathering: 'timed-out',
        candidates: [
          candidate(srflxLine('203.0.113.2', 40001), STUN_A),
          candidate(srflxLine('203.0.113.2', 52344), STUN_B),
        ],
      }),
    );
    expect(report.ipv4.behaviour).toBe('address-and-port-dependent');
  });

  it('says only "varies by destination" when the destinations differed in address', () => {
    const report = classifyNat(
      probe({
        servers: [STUN_A, STUN_OTHER_IP],
        candidates: [
          candidate(srflxLine('203.0.113.2', 40001), STUN_A),
          candidate(srflxLine('203.0.113.2', 52344), STUN_OTHER_IP),
        ],
      }),
    );
    expect(report.ipv4.behaviour).toBe('destination-dependent');
    expect(report.ipv4.limits.join(' ')).toMatch(/not measured/);
  });

  it('infers address-dependent mapping when a same-IP server answered without a new mapping', () => {
    const report = classifyNat(
      probe({
        servers: [STUN_A, STUN_B, STUN_OTHER_IP],
        candidates: [
          candidate(srflxLine('203.0.113.2', 40001), STUN_A),
          candidate(srflxLine('203.0.113.2', 52344), STUN_OTHER_IP),
        ],
      }),
    );
    expect(report.ipv4.behaviour).toBe('address-dependent');
    expect(report.ipv4.reason).toContain(STUN_B);
  });

  it('keeps "varies by destination" when the third server may not have answered yet', () => {
    const report = classifyNat(
      probe({
        servers: [STUN_A, STUN_B, STUN_OTHER_IP],
        gathering: 'timed-out',
        candidates: [
          candidate(srflxLine('203.0.113.2', 40001), STUN_A),
          candidate(srflxLine('203.0.113.2', 52344), STUN_OTHER_IP),
        ],
      }),
    );
    expect(report.ipv4.behaviour).toBe('destination-dependent');
  });

  it('calls host-only gathering with 701 errors for both servers udp-blocked', () => {
    const report = classifyNat(
      probe({
        elapsedMs: 39_800,
        candidates: [candidate(MDNS_HOST_V4), candidate(MDNS_TCP_HOST)],
        errors: [error(STUN_A), error(STUN_B)],
      }),
    );
    expect(report.ipv4.behaviour).toBe('udp-blocked');
    expect(report.ipv4.mappedAddresses).toEqual([]);
    expect(report.ipv4.reason).toContain('error 701 (server not reachable)');
    expect(report.ipv4.reason).toMatch(/blocks UDP or the STUN server cannot be reached/);
    expect(report.ipv4.limits.join(' ')).toMatch(/Cannot tell/);
  });

  it('calls silence until the probe timeout udp-blocked, naming the wait', () => {
    const report = classifyNat(
      probe({
        gathering: 'timed-out',
        elapsedMs: 10_000,
        candidates: [candidate(MDNS_HOST_V4)],
      }),
    );
    expect(report.ipv4.behaviour).toBe('udp-blocked');
    expect(report.ipv4.reason).toContain('within 10 s');
  });

  it('calls a visible public host with no srflx and no errors no-nat (Chromium drops srflx = host)', () => {
    const report = classifyNat(probe({ candidates: [candidate(PUBLIC_HOST)] }));
    expect(report.ipv4.behaviour).toBe('no-nat');
    expect(report.ipv4.reason).toContain('198.51.100.7:50000');
    expect(report.ipv4.limits.join(' ')).toMatch(/firewall/);
  });

  it('calls a srflx equal to its base no-nat (Firefox reports it)', () => {
    const report = classifyNat(
      probe({ candidates: [candidate(FIREFOX_HOST), candidate(FIREFOX_SRFLX_SAME)] }),
    );
    expect(report.ipv4.behaviour).toBe('no-nat');
  });

  it('does not call a public host no-nat while a server is still silent', () => {
    const report = classifyNat(
      probe({ gathering: 'timed-out', candidates: [candidate(PUBLIC_HOST)] }),
    );
    expect(report.ipv4.behaviour).not.toBe('no-nat');
  });

  it('notes a private no-nat result says nothing about the internet side', () => {
    const report = classifyNat(probe({ candidates: [candidate(VISIBLE_HOST)] }));
    expect(report.ipv4.behaviour).toBe('no-nat');
    expect(report.ipv4.limits[0]).toMatch(/private address/);
  });

  it('reads visible hosts: a srflx with a real raddr is a cone mapping, not no-nat', () => {
    const report = classifyNat(
      probe({ candidates: [candidate(VISIBLE_HOST), candidate(VISIBLE_SRFLX, STUN_B)] }),
    );
    expect(report.ipv4.behaviour).toBe('endpoint-independent');
    expect(report.ipv4.reason).toContain(`${STUN_A} answered without a new one`);
  });

  it('says unknown when the second server may simply not have answered yet', () => {
    const report = classifyNat(
      probe({
        gathering: 'timed-out',
        elapsedMs: 10_000,
        candidates: [candidate(MDNS_HOST_V4), candidate(srflxLine('203.0.113.2', 54400), STUN_A)],
      }),
    );
    expect(report.ipv4.behaviour).toBe('unknown');
    expect(report.ipv4.reason).toContain(STUN_B);
    expect(report.ipv4.reason).toMatch(/still gathering/);
    expect(report.ipv4.mappedAddresses).toHaveLength(1);
  });

  it('says unknown when the second server failed: nothing to compare', () => {
    const report = classifyNat(
      probe({
        candidates: [candidate(srflxLine('203.0.113.2', 54400), STUN_A)],
        errors: [error(STUN_B)],
      }),
    );
    expect(report.ipv4.behaviour).toBe('unknown');
    expect(report.ipv4.reason).toContain('error 701');
    expect(report.ipv4.limits.join(' ')).toMatch(/first STUN port/);
  });

  it('says unknown with a single STUN destination, and why', () => {
    const report = classifyNat(
      probe({
        servers: [STUN_A],
        candidates: [candidate(srflxLine('203.0.113.2', 54400), STUN_A)],
      }),
    );
    expect(report.ipv4.behaviour).toBe('unknown');
    expect(report.ipv4.reason).toMatch(/only one STUN destination/);
  });

  it('still calls a cone when a third server failed but two answered', () => {
    const report = classifyNat(
      probe({
        servers: [STUN_A, STUN_B, STUN_OTHER_IP],
        candidates: [candidate(srflxLine('203.0.113.2', 54400), STUN_A)],
        errors: [error(STUN_OTHER_IP)],
      }),
    );
    expect(report.ipv4.behaviour).toBe('endpoint-independent');
    expect(report.ipv4.limits.join(' ')).toContain(`${STUN_OTHER_IP} did not answer`);
  });

  it('counts servers without a url (Firefox) once gathering completes', () => {
    const report = classifyNat(
      probe({
        candidates: [
          candidate('candidate:0 1 UDP 2122252543 10.0.1.2 50000 typ host'),
          candidate(
            'candidate:1 1 UDP 1686052863 203.0.113.2 50000 typ srflx raddr 10.0.1.2 rport 50000',
          ),
        ],
      }),
    );
    expect(report.ipv4.behaviour).toBe('endpoint-independent');
  });

  it('treats two interfaces with one mapping each as a cone, not as symmetric', () => {
    const report = classifyNat(
      probe({
        candidates: [
          candidate(
            srflxLine('203.0.113.2', 54400).replace('network-cost 999', 'network-id 1'),
            STUN_A,
          ),
          candidate(
            srflxLine('198.51.100.9', 61000).replace('network-cost 999', 'network-id 2'),
            STUN_A,
          ),
        ],
      }),
    );
    expect(report.ipv4.behaviour).toBe('endpoint-independent');
    expect(report.ipv4.mappedAddresses).toHaveLength(2);
  });

  it('says unknown when two interfaces disagree', () => {
    const report = classifyNat(
      probe({
        candidates: [
          candidate(
            srflxLine('203.0.113.2', 40001).replace('network-cost 999', 'network-id 1'),
            STUN_A,
          ),
          candidate(
            srflxLine('203.0.113.2', 52344).replace('network-cost 999', 'network-id 1'),
            STUN_B,
          ),
          candidate(
            srflxLine('198.51.100.9', 61000).replace('network-cost 999', 'network-id 2'),
            STUN_A,
          ),
        ],
      }),
    );
    expect(report.ipv4.behaviour).toBe('unknown');
    expect(report.ipv4.reason).toMatch(/interfaces behave differently/);
  });

  it('warns that two mappings may be two interfaces when the sockets cannot be told apart', () => {
    const report = classifyNat(
      probe({
        candidates: [
          candidate(MDNS_HOST_V4),
          candidate(MDNS_HOST_V4.replace('54400', '54402').replace('f1b3c2d4', 'aaaaaaaa')),
          candidate(srflxLine('203.0.113.2', 40001), STUN_A),
          candidate(srflxLine('203.0.113.2', 52344), STUN_B),
        ],
      }),
    );
    expect(report.ipv4.behaviour).toBe('address-and-port-dependent');
    expect(report.ipv4.limits.join(' ')).toMatch(/two interfaces/);
  });

  it('adds the private-address limit when STUN sits on the same private network', () => {
    const report = classifyNat(
      probe({
        servers: ['stun:192.168.1.10:3478', 'stun:192.168.1.10:3479'],
        candidates: [candidate(srflxLine('192.168.1.23', 54400), 'stun:192.168.1.10:3478')],
      }),
    );
    expect(report.ipv4.behaviour).toBe('endpoint-independent');
    expect(report.ipv4.limits[0]).toMatch(/private address/);
  });
});

describe('classifyNat: IPv6 and families', () => {
  const V6_A = 'stun:[2001:db8::10]:3478';
  const V6_B = 'stun:[2001:db8::10]:3479';
  const v6Srflx = (port: number) =>
    `candidate:2999745851 1 udp 1677731071 2001:db8:1::2 ${port} typ srflx raddr :: rport 0 generation 0 ufrag 4Rz3 network-cost 999`;

  it('ignores the "incompatible" errors an IPv6 socket reports for IPv4 servers', () => {
    const incompatible = 'STUN server address is incompatible.';
    const report = classifyNat(
      probe({
        candidates: [
          candidate(MDNS_HOST_V4),
          candidate(MDNS_HOST_V6),
          candidate(srflxLine('203.0.113.2', 54400), STUN_A),
        ],
        errors: [error(STUN_A, incompatible), error(STUN_B, incompatible)],
      }),
    );
    expect(report.ipv4.behaviour).toBe('endpoint-independent');
    // An IPv6 socket exists (libwebrtc's priority says so), but no IPv6 server was offered.
    expect(report.ipv6.behaviour).toBe('not-tested');
    expect(report.ipv6.reason).toMatch(/No STUN server reachable over IPv6/);
  });

  it('matches the unbracketed IPv6 url libwebrtc writes on srflx candidates', () => {
    const report = classifyNat(
      probe({
        servers: [STUN_A, STUN_B, V6_A, V6_B],
        candidates: [
          candidate(MDNS_HOST_V4),
          candidate(MDNS_HOST_V6),
          candidate(srflxLine('203.0.113.2', 54400), STUN_A),
          // A NAT66 that changed the port (on the host's own port it would read as no NAT).
          candidate(v6Srflx(61001), 'stun:2001:db8::10:3478'),
        ],
      }),
    );
    expect(report.ipv6.behaviour).toBe('endpoint-independent');
    expect(report.ipv6.reason).toContain(`${V6_B} answered without a new one`);
    expect(report.ipv6.reason).toContain('[2001:db8:1::2]:61001');
    expect(report.ipv4.behaviour).toBe('endpoint-independent');
  });

  it('says udp-blocked for IPv6 only when an IPv6 socket shows up', () => {
    const report = classifyNat(
      probe({
        servers: [STUN_A, STUN_B, V6_A, V6_B],
        errors: [
          { ...error('stun:[2001:db8::10]:3478'), address: '[2001:db8:1:x:x:x:x:x]' },
          { ...error('stun:[2001:db8::10]:3479'), address: '[2001:db8:1:x:x:x:x:x]' },
        ],
        candidates: [candidate(MDNS_HOST_V4), candidate(srflxLine('203.0.113.2', 54400), STUN_A)],
      }),
    );
    expect(report.ipv6.behaviour).toBe('udp-blocked');
    expect(report.ipv4.behaviour).toBe('endpoint-independent');
  });

  it('cannot tell "no IPv6" from "no answer" when hosts are hidden and time ran out', () => {
    const firefoxHidden =
      'candidate:0 1 UDP 2122252543 e3d0a1b2-7c4f-4e8a-9b6d-1f2a3c4d5e6f.local 59876 typ host';
    const report = classifyNat(
      probe({
        servers: [STUN_A, STUN_B, V6_A, V6_B],
        gathering: 'timed-out',
        candidates: [candidate(firefoxHidden)],
      }),
    );
    expect(report.ipv6.behaviour).toBe('unknown');
    expect(report.ipv6.reason).toMatch(/cannot tell whether it has no IPv6 address/);
  });

  it('reads a DNS-named server per family: a lookup failure is not UDP being blocked', () => {
    const name3478 = 'stun:chat.example.org:3478';
    const name3479 = 'stun:chat.example.org:3479';
    const lookup = 'STUN host lookup received error.';
    const report = classifyNat(
      probe({
        servers: [name3478, name3479],
        candidates: [
          candidate(MDNS_HOST_V4),
          candidate(MDNS_HOST_V6),
          candidate(srflxLine('203.0.113.2', 54400), name3478),
        ],
        errors: [error(name3478, lookup), error(name3479, lookup)],
      }),
    );
    expect(report.ipv4.behaviour).toBe('endpoint-independent');
    expect(report.ipv6.behaviour).toBe('not-tested');
    expect(report.ipv6.reason).toMatch(/did not resolve to an IPv6 address/);
  });
});

describe('classifyNat: IPv6 measured as IPv4 is (issue #14)', () => {
  const V6_A = 'stun:[2001:db8::10]:3478';
  const V6_B = 'stun:[2001:db8::10]:3479';
  const DUAL = [STUN_A, STUN_B, V6_A, V6_B];
  /** Chromium's unbracketed spelling of the IPv6 server on a srflx candidate. */
  const V6_A_AS_WRITTEN = 'stun:2001:db8::10:3478';
  const V6_B_AS_WRITTEN = 'stun:2001:db8::10:3479';
  const v6Srflx = (address: string, port: number, raddr = ':: rport 0', extra = '') =>
    `candidate:2999745851 1 udp 1677731071 ${address} ${port} typ srflx raddr ${raddr} generation 0 ufrag 4Rz3${extra} network-cost 999`;
  // Chromium with host IPs visible: an IPv6 host on network 2.
  const VISIBLE_HOST_V6 =
    'candidate:2387710041 1 udp 2122262783 2001:db8:1::2 54401 typ host generation 0 ufrag 4Rz3 network-id 2 network-cost 10';
  const v4Cone = () => [
    candidate(MDNS_HOST_V4),
    candidate(srflxLine('203.0.113.2', 54400), STUN_A),
  ];

  it('calls a visible global IPv6 host with no srflx and every server answering "no NAT (firewall only)"', () => {
    // Chromium without mDNS hiding drops a srflx equal to the host address (see the module doc).
    const report = classifyNat(probe({ servers: DUAL, candidates: [candidate(VISIBLE_HOST_V6)] }));
    expect(report.ipv6.behaviour).toBe('no-nat');
    expect(behaviourLabel(report.ipv6)).toBe('no NAT (firewall only)');
    expect(report.ipv6.reason).toContain('[2001:db8:1::2]:54401');
    expect(report.ipv6.limits.join(' ')).toMatch(/stateful firewall \(RFC 6092 §3\)/);
    // IPv4's label stays as it was.
    expect(behaviourLabel({ family: 'IPv4', behaviour: 'no-nat' })).toBe('no NAT');
  });

  it('calls a srflx equal to its visible IPv6 base no NAT (Firefox reports it)', () => {
    const report = classifyNat(
      probe({
        servers: [V6_A, V6_B],
        candidates: [
          candidate('candidate:0 1 UDP 2122252543 2001:db8:1::2 50000 typ host'),
          candidate(
            'candidate:1 1 UDP 1686052863 2001:db8:1::2 50000 typ srflx raddr 2001:db8:1::2 rport 50000',
          ),
        ],
      }),
    );
    expect(report.ipv6.behaviour).toBe('no-nat');
  });

  it('reads "no NAT" under mDNS hiding from the host port equal to the mapped port, and says what else looks the same', () => {
    const report = classifyNat(
      probe({
        servers: DUAL,
        candidates: [
          ...v4Cone(),
          candidate(MDNS_HOST_V6),
          candidate(v6Srflx('2001:db8:1::2', 54401), V6_A_AS_WRITTEN),
        ],
      }),
    );
    expect(report.ipv6.behaviour).toBe('no-nat');
    expect(behaviourLabel(report.ipv6)).toBe('no NAT (firewall only)');
    expect(report.ipv6.mappedAddresses).toEqual([
      { address: '2001:db8:1::2', port: 54401, url: V6_A_AS_WRITTEN },
    ]);
    expect(report.ipv6.reason).toMatch(/hides this device's own IPv6 address/);
    expect(report.ipv6.reason).toContain('[2001:db8:1::2]:54401');
    expect(report.ipv6.limits.join(' ')).toMatch(/NPTv6, RFC 6296/);
    expect(report.ipv6.limits.join(' ')).toMatch(/NAT66 that keeps ports/);
    // The same ports over IPv4 are a port-preserving NAT, as ever.
    expect(report.ipv4.behaviour).toBe('endpoint-independent');
  });

  it('matches the port on the same network only, and says so when the host family is unknown', () => {
    const withId = (line: string, id: number) =>
      line.replace('network-cost', `network-id ${id} network-cost`);
    const other = classifyNat(
      probe({
        servers: [V6_A, V6_B],
        candidates: [
          candidate(withId(MDNS_HOST_V6, 1)),
          candidate(withId(v6Srflx('2001:db8:1::2', 54401), 2), V6_A_AS_WRITTEN),
        ],
      }),
    );
    expect(other.ipv6.behaviour).toBe('endpoint-independent');

    // Firefox-style priority: no family in it, so the port alone, and a sentence about it.
    const unknownFamily =
      'candidate:0 1 UDP 2122252543 e3d0a1b2-7c4f-4e8a-9b6d-1f2a3c4d5e6f.local 54401 typ host';
    const report = classifyNat(
      probe({
        servers: [V6_A, V6_B],
        candidates: [
          candidate(unknownFamily),
          candidate(v6Srflx('2001:db8:1::2', 54401, '0.0.0.0 rport 0')),
        ],
      }),
    );
    expect(report.ipv6.behaviour).toBe('no-nat');
    expect(report.ipv6.reason).toMatch(/did not say which family/);
  });

  it('calls a NAT66 that shows a different address a cone, not "no NAT"', () => {
    const report = classifyNat(
      probe({
        servers: [V6_A, V6_B],
        candidates: [
          candidate(VISIBLE_HOST_V6.replace('2001:db8:1::2', 'fd00:1::2')),
          candidate(
            v6Srflx('2001:db8:ffff::2', 54401, 'fd00:1::2 rport 54401', ' network-id 2'),
            V6_A_AS_WRITTEN,
          ),
        ],
      }),
    );
    expect(report.ipv6.behaviour).toBe('endpoint-independent');
    expect(behaviourLabel(report.ipv6)).toBe('one mapping for every destination (cone)');
    expect(report.ipv6.reason).toContain(`${V6_B} answered without a new one`);
  });

  it('calls a NAT66 with a new mapping per destination symmetric', () => {
    const report = classifyNat(
      probe({
        servers: DUAL,
        candidates: [
          ...v4Cone(),
          candidate(MDNS_HOST_V6),
          candidate(v6Srflx('2001:db8:ffff::2', 40001), V6_A_AS_WRITTEN),
          candidate(v6Srflx('2001:db8:ffff::2', 52344), V6_B_AS_WRITTEN),
        ],
      }),
    );
    expect(report.ipv6.behaviour).toBe('address-and-port-dependent');
    expect(behaviourLabel(report.ipv6)).toBe('varies by destination (symmetric)');
  });

  it('says "no STUN answer" when IPv6 is filtered: an IPv6 socket, IPv6 servers offered, both failed', () => {
    const report = classifyNat(
      probe({
        servers: DUAL,
        elapsedMs: 39_800,
        candidates: [...v4Cone(), candidate(MDNS_HOST_V6)],
        errors: [error(V6_A), error(V6_B)],
      }),
    );
    expect(report.ipv6.behaviour).toBe('udp-blocked');
    expect(behaviourLabel(report.ipv6)).toBe('no STUN answer (UDP blocked or server unreachable)');
    expect(report.ipv6.reason).toMatch(/^No STUN server answered over UDP on IPv6 /);
    expect(report.ipv6.reason).toContain('error 701 (server not reachable)');
    expect(report.ipv6.limits.join(' ')).toMatch(/RFC 4193/);
    expect(report.ipv4.behaviour).toBe('endpoint-independent');
  });

  it('says "not tested" when no STUN server reachable over IPv6 was offered', () => {
    const report = classifyNat(probe({ candidates: [...v4Cone(), candidate(MDNS_HOST_V6)] }));
    expect(report.ipv6.behaviour).toBe('not-tested');
    expect(behaviourLabel(report.ipv6)).toBe('not tested');
  });

  it('says "no IPv6" when the device shows no IPv6 host, even with IPv6 servers offered', () => {
    const report = classifyNat(probe({ servers: DUAL, candidates: v4Cone() }));
    expect(report.ipv6.behaviour).toBe('unavailable');
    expect(behaviourLabel(report.ipv6)).toBe('no IPv6');
  });
});

describe('classifyNat: odd input', () => {
  it('names the setup error when gathering never started', () => {
    const report = classifyNat(
      probe({ gathering: 'failed', setupError: 'RTCPeerConnection is not defined' }),
    );
    expect(report.ipv4).toMatchObject({ behaviour: 'unknown' });
    expect(report.ipv4.reason).toContain('RTCPeerConnection is not defined');
    expect(report.ipv6.behaviour).toBe('unknown');
  });

  it('says not-tested with no STUN server at all', () => {
    const report = classifyNat(probe({ servers: [], candidates: [candidate(MDNS_HOST_V4)] }));
    expect(report.ipv4.behaviour).toBe('not-tested');
  });

  it('never throws on junk', () => {
    const junk = { servers: null, candidates: 'x', errors: [null, 3], gathering: 'complete' };
    expect(() => classifyNat(junk as unknown as NatProbeInput)).not.toThrow();
  });
});

describe('gatheredCandidate', () => {
  it('keeps the url and reads network-id', () => {
    expect(gatheredCandidate(VISIBLE_SRFLX, STUN_A, 12.5)).toMatchObject({
      type: 'srflx',
      relatedAddress: '10.0.1.2',
      url: STUN_A,
      networkId: 1,
      atMs: 12.5,
    });
  });

  it('drops an empty url and the end-of-candidates line', () => {
    expect(gatheredCandidate(MDNS_HOST_V4, '')).not.toHaveProperty('url');
    expect(gatheredCandidate(MDNS_HOST_V4, null)).not.toHaveProperty('networkId');
    expect(gatheredCandidate('')).toBeNull();
  });
});

describe('stunOnly', () => {
  it('keeps stun: URLs, drops TURN entries and credentials', () => {
    expect(
      stunOnly([
        { urls: [STUN_A, 'turn:203.0.113.20:3478'], username: 'u', credential: 'c' },
        { urls: STUN_B },
        { urls: 'turns:turn.example.org:443', username: 'u', credential: 'c' },
      ]),
    ).toEqual([{ urls: [STUN_A] }, { urls: [STUN_B] }]);
  });
});

describe('parseNatReport', () => {
  const report = classifyNat(
    probe({
      candidates: [candidate(MDNS_HOST_V4), candidate(srflxLine('203.0.113.2', 54400), STUN_A)],
    }),
  );

  it('accepts a report that went through JSON, as a fresh copy', () => {
    const wire = JSON.parse(JSON.stringify({ ...report, extra: 1 })) as unknown;
    const parsed = parseNatReport(wire);
    expect(parsed).toEqual(report);
    expect(parsed).not.toBe(wire);
  });

  it('refuses off-shape or oversized reports', () => {
    const bad = [
      null,
      { ipv4: report.ipv4 },
      { ...report, ipv4: { ...report.ipv4, behaviour: 'cone' } },
      { ...report, ipv4: { ...report.ipv4, family: 'IPv6' } },
      { ...report, ipv4: { ...report.ipv4, reason: 'x'.repeat(1001) } },
      { ...report, ipv4: { ...report.ipv4, limits: new Array(9).fill('x') } },
      { ...report, ipv4: { ...report.ipv4, mappedAddresses: [{ address: 'evil', port: 1 }] } },
      { ...report, ipv4: { ...report.ipv4, mappedAddresses: [{ address: '1.2.3.4', port: -1 }] } },
    ];
    for (const value of bad) expect(parseNatReport(value)).toBeNull();
  });
});
