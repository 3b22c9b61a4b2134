import { describe, expect, it } from 'vitest';
import type { CandidateInfo, CandidatePairInfo } from '../ice/ice-report.ts';
import type { FamilyNatResult, NatBehaviour, NatReport } from '../nat/nat-classifier.ts';
import { pathDiagram, type PathDiagramInput } from './path-diagram.ts';

let ids = 0;
function candidate(
  type: CandidateInfo['type'],
  address: string | undefined,
  port: number,
  extra: Partial<CandidateInfo> = {},
): CandidateInfo {
  return { id: `C${++ids}`, type, protocol: 'udp', address, port, ...extra };
}

function pair(
  local: CandidateInfo,
  remote: CandidateInfo,
  extra: Partial<CandidatePairInfo> = {},
): CandidatePairInfo {
  return {
    id: `CP${local.id}_${remote.id}`,
    nominated: true,
    state: 'succeeded',
    local,
    remote,
    ...extra,
  };
}

function family(
  name: FamilyNatResult['family'],
  behaviour: NatBehaviour,
  mapped: string[] = [],
): FamilyNatResult {
  return {
    family: name,
    behaviour,
    mappedAddresses: mapped.map((address, i) => ({ address, port: 40000 + i })),
    reason: '',
    limits: [],
  };
}

const coneHome: NatReport = {
  ipv4: family('IPv4', 'endpoint-independent', ['203.0.113.2']),
  ipv6: family('IPv6', 'not-tested'),
};
const symmetricHome: NatReport = {
  ipv4: family('IPv4', 'address-and-port-dependent', ['203.0.113.3', '203.0.113.3']),
  ipv6: family('IPv6', 'no-nat', ['2001:db8:1::2']),
};

function input(
  selected: CandidatePairInfo | null,
  pairs: CandidatePairInfo[] = selected ? [selected] : [],
): PathDiagramInput {
  return {
    remoteName: 'Bob',
    localNat: coneHome,
    remoteNat: symmetricHome,
    report: { selectedPair: selected, pairs },
  };
}

describe('pathDiagram', () => {
  it('draws a hole-punched pair as a direct line through both NATs, with transport, family and RTT', () => {
    const selected = pair(
      candidate('srflx', '203.0.113.2', 40000),
      candidate('prflx', '203.0.113.3', 51234),
      { currentRoundTripTimeMs: 23.4 },
    );
    const diagram = pathDiagram(input(selected));
    expect(diagram.route).toBe('direct');
    expect(diagram.nodes.map((n) => n.id)).toEqual([
      'local-device',
      'local-nat',
      'internet',
      'remote-nat',
      'remote-device',
    ]);
    expect(diagram.selected?.via).toEqual(diagram.nodes.map((n) => n.id));
    expect(diagram.selected?.label).toBe('UDP · IPv4 · 23 ms');
    expect(diagram.nodes[1]?.lines).toEqual([
      'IPv4: cone: one mapping for every destination',
      'STUN saw 203.0.113.2:40000',
      'this path: 203.0.113.2:40000 (srflx)',
    ]);
    expect(diagram.nodes[3]?.label).toBe('Bob’s NAT');
    expect(diagram.nodes[3]?.lines[0]).toBe('IPv4: varies by destination (symmetric)');
    expect(diagram.text).toBe(
      'Direct over UDP (IPv4): this device (srflx 203.0.113.2:40000) ↔ Bob (prflx 203.0.113.3:51234), round trip 23 ms.',
    );
  });

  it('keeps an address the browser hides hidden', () => {
    const selected = pair(
      candidate('srflx', '203.0.113.2', 40000),
      candidate('prflx', undefined, 51234),
    );
    const diagram = pathDiagram(input(selected));
    expect(diagram.text).toContain('Bob (prflx (hidden):51234)');
    expect(diagram.nodes.find((n) => n.id === 'remote-nat')?.lines).toContain(
      'this path: (hidden):51234 (prflx)',
    );
    expect(JSON.stringify(diagram)).not.toMatch(/undefined/);
  });

  it('keeps two host candidates on the local network, off the internet and the NATs', () => {
    const selected = pair(
      candidate('host', '192.168.1.10', 5000),
      candidate('host', '192.168.1.11', 5001),
    );
    const diagram = pathDiagram(input(selected));
    expect(diagram.selected?.via).toEqual(['local-device', 'remote-device']);
    expect(diagram.nodes[0]?.lines).toEqual(['this path: 192.168.1.10:5000 (host)']);
    expect(diagram.text).toMatch(/^Direct on the local network over UDP \(IPv4\): /);
    expect(diagram.text).not.toContain('round trip'); // not measured yet
  });

  it('draws a pair through our TURN server as a path through the relay, naming how we reach it', () => {
    for (const [relayProtocol, shown] of [
      ['udp', 'UDP'],
      ['tcp', 'TCP'],
      ['tls', 'TLS'],
    ] as const) {
      const selected = pair(
        candidate('relay', '198.51.100.1', 50000, { relayProtocol, url: 'turn:198.51.100.1:3478' }),
        candidate('srflx', '203.0.113.3', 51234),
        { currentRoundTripTimeMs: 4.25 },
      );
      const diagram = pathDiagram(input(selected));
      expect(diagram.route).toBe('relay');
      expect(diagram.selected?.via).toEqual([
        'local-device',
        'local-nat',
        'local-turn',
        'internet',
        'remote-nat',
        'remote-device',
      ]);
      expect(diagram.nodes.find((n) => n.id === 'local-turn')?.lines).toEqual([
        'relay 198.51.100.1:50000',
        'turn:198.51.100.1:3478',
      ]);
      expect(diagram.selected?.relayProtocol).toBe(shown);
      expect(diagram.selected?.label).toBe(`${shown} to TURN · IPv4 · 4.3 ms`);
      expect(diagram.text).toMatch(
        new RegExp(
          `^Relayed through your TURN server over ${shown} to the TURN server \\(IPv4\\): `,
        ),
      );
    }
  });

  it('puts their relay on their side, and both when both relay', () => {
    const theirs = pathDiagram(
      input(
        pair(candidate('srflx', '203.0.113.2', 40000), candidate('relay', '198.51.100.9', 60000)),
      ),
    );
    expect(theirs.selected?.via).toEqual([
      'local-device',
      'local-nat',
      'internet',
      'remote-turn',
      'remote-nat',
      'remote-device',
    ]);
    expect(theirs.text).toMatch(/^Relayed through their TURN server over UDP/);
    const both = pathDiagram(
      input(
        pair(candidate('relay', '198.51.100.1', 50000), candidate('relay', '198.51.100.9', 60000)),
      ),
    );
    expect(both.nodes.map((n) => n.id)).toContain('local-turn');
    expect(both.nodes.map((n) => n.id)).toContain('remote-turn');
    expect(both.text).toMatch(/^Relayed through your and their TURN server/);
  });

  it('tells an IPv6 path by its family, with the NAT boxes describing IPv6', () => {
    const selected = pair(
      candidate('srflx', '2001:db8:2::5', 40000),
      candidate('host', '2001:db8:1::2', 50000),
    );
    const diagram = pathDiagram(input(selected));
    expect(diagram.selected?.family).toBe('IPv6');
    expect(diagram.nodes.find((n) => n.id === 'remote-nat')?.lines[0]).toBe(
      'IPv6: no NAT (firewall only)',
    );
    expect(diagram.text).toContain('over UDP (IPv6): this device (srflx [2001:db8:2::5]:40000)');
  });

  it('draws an IPv6 path from a hidden host straight to the internet, the family read from their address', () => {
    // No NAT over IPv6: Chromium pairs the (mDNS-hidden) host, not its equal srflx.
    const selected = pair(
      candidate('host', undefined, 54401, { priority: 2113939711 }),
      candidate('srflx', '2001:db8:1::2', 50000),
      { currentRoundTripTimeMs: 12 },
    );
    const diagram = pathDiagram(input(selected));
    expect(diagram.route).toBe('direct');
    expect(diagram.selected).toMatchObject({ family: 'IPv6', familyFrom: 'address' });
    expect(diagram.selected?.via).toEqual([
      'local-device',
      'internet',
      'remote-nat',
      'remote-device',
    ]);
    expect(diagram.selected?.label).toBe('UDP · IPv6 · 12 ms');
    expect(diagram.nodes[0]?.lines).toEqual(['this path: (hidden):54401 (host)']);
    expect(diagram.text).toBe(
      'Direct over UDP (IPv6): this device (host (hidden):54401) ↔ Bob (srflx [2001:db8:1::2]:50000), round trip 12 ms.',
    );
  });

  it('says when the family is only inferred from the priority (both addresses hidden)', () => {
    const selected = pair(
      candidate('host', undefined, 54401, { priority: 2113939711 }),
      candidate('prflx', undefined, 50000),
    );
    const diagram = pathDiagram(input(selected));
    expect(diagram.selected).toMatchObject({ family: 'IPv6', familyFrom: 'priority' });
    expect(diagram.selected?.label).toBe('UDP · IPv6 by priority');
    expect(diagram.text).toMatch(/^Direct over UDP \(IPv6, judged by the candidates’ priority\): /);
    expect(diagram.nodes.find((n) => n.id === 'remote-nat')?.lines[0]).toBe(
      'IPv6: no NAT (firewall only)',
    );
  });

  it('names no family when nothing tells', () => {
    const selected = pair(candidate('host', undefined, 1), candidate('prflx', undefined, 2));
    const diagram = pathDiagram(input(selected));
    expect(diagram.selected).toMatchObject({ family: null, familyFrom: null, label: 'UDP' });
    expect(diagram.text).toMatch(/^Direct over UDP: /);
  });

  it('gives a long IPv6 endpoint a line of its own, so it stays inside its box', () => {
    const long = '2a02:1234:5678:9abc:def0:1234:5678:9abc';
    const selected = pair(
      candidate('relay', long, 50000, {
        relayProtocol: 'udp',
        url: `turn:[${long}]:3478?transport=udp`,
      }),
      candidate('srflx', long.replace('2a02', '2a03'), 54321),
    );
    const diagram = pathDiagram(input(selected));
    expect(diagram.nodes.find((n) => n.id === 'local-turn')?.lines).toEqual([
      'relay',
      `[${long}]:50000`,
      'turn:',
      `[${long}]:3478`,
      '?transport=udp',
    ]);
    expect(diagram.nodes.find((n) => n.id === 'remote-nat')?.lines.slice(-2)).toEqual([
      'this path (srflx):',
      `[${long.replace('2a02', '2a03')}]:54321`,
    ]);
    for (const node of diagram.nodes) {
      for (const line of node.lines) expect(line.length, line).toBeLessThanOrEqual(47);
    }
    expect(diagram.text).toMatch(
      /^Relayed through your TURN server over UDP to the TURN server \(IPv6\): this device \(relay \[2a02:/,
    );
  });

  it('tells an ICE-TCP pair (RFC 6544) by its transport', () => {
    const selected = pair(
      candidate('host', '192.0.2.10', 9, { protocol: 'tcp' }),
      candidate('srflx', '203.0.113.3', 443, { protocol: 'tcp' }),
    );
    expect(pathDiagram(input(selected)).selected?.protocol).toBe('TCP');
  });

  it('counts failed pairs by route, to draw them dashed, and says so when nothing succeeded', () => {
    const failed = (local: CandidateInfo, remote: CandidateInfo) =>
      pair(local, remote, { state: 'failed', nominated: false });
    const pairs = [
      failed(candidate('host', '10.0.0.2', 1), candidate('srflx', '203.0.113.3', 2)),
      failed(candidate('srflx', '203.0.113.2', 3), candidate('srflx', '203.0.113.3', 4)),
      failed(candidate('relay', '198.51.100.1', 5), candidate('srflx', '203.0.113.3', 6)),
      pair(candidate('srflx', '203.0.113.2', 7), candidate('host', '10.0.1.2', 8), {
        state: 'in-progress',
      }),
    ];
    const diagram = pathDiagram(input(null, pairs));
    expect(diagram.route).toBe('none');
    expect(diagram.selected).toBeNull();
    expect(diagram.failed).toEqual({ direct: 2, relay: 1 });
    expect(diagram.text).toBe(
      'No path to Bob yet: none of 4 candidate pairs has succeeded (3 failed, 1 still being checked).',
    );
    const allFailed = pathDiagram(input(null, pairs.slice(0, 3)));
    expect(allFailed.text).toBe(
      'No path to Bob: none of 3 candidate pairs has succeeded (3 failed).',
    );

    const working = pair(
      candidate('relay', '198.51.100.1', 9),
      candidate('srflx', '203.0.113.3', 10),
    );
    expect(pathDiagram(input(working, [...pairs, working])).text).toMatch(
      /; 3 other pairs failed\.$/,
    );
  });

  it('says what is not known yet, before any reading', () => {
    const diagram = pathDiagram({
      remoteName: 'Bob',
      localNat: null,
      remoteNat: null,
      report: null,
    });
    expect(diagram.text).toBe('No path to Bob yet: no candidate pairs to check yet.');
    expect(diagram.nodes.find((n) => n.id === 'local-nat')?.lines).toEqual(['not tested yet']);
    expect(diagram.nodes.find((n) => n.id === 'remote-nat')?.lines).toEqual(['not known yet']);
    expect(diagram.failed).toEqual({ direct: 0, relay: 0 });
  });
});
