import { describe, expect, it } from 'vitest';
import {
  buildIceReport,
  verdict,
  VERDICT_DIRECT,
  VERDICT_RELAYED,
  type CandidateInfo,
} from './ice-report.ts';

type Stats = Record<string, unknown>;

/** RFC 8445 §6.1.2.3 pair priority, as Chromium reports it (a double, so rounded). */
const pairPriority = (controlling: number, controlled: number) =>
  2 ** 32 * Math.min(controlling, controlled) +
  2 * Math.max(controlling, controlled) +
  (controlling > controlled ? 1 : 0);

const T0 = 1718000000123.456;

// What Chromium 120+ emits for a data-channel-only connection (one bundled transport, T01).
// Candidate stats ids are 'I' + candidate id; pair ids are 'CP' + local id + '_' + remote id.
const localSrflx: Stats = {
  id: 'I6hUn3bD+',
  timestamp: T0,
  type: 'local-candidate',
  transportId: 'T01',
  address: '203.0.113.7',
  candidateType: 'srflx',
  foundation: '842163049',
  port: 54321,
  priority: 1686052607,
  protocol: 'udp',
  relatedAddress: '0.0.0.0',
  relatedPort: 0,
  url: 'stun:stun.l.google.com:19302',
  usernameFragment: 'Wv2p',
};
const localRelay: Stats = {
  id: 'IwVq2p0Zr',
  timestamp: T0,
  type: 'local-candidate',
  transportId: 'T01',
  address: '198.51.100.20',
  candidateType: 'relay',
  foundation: '3829871650',
  port: 61234,
  priority: 41885439,
  protocol: 'udp',
  relatedAddress: '203.0.113.7',
  relatedPort: 54321,
  relayProtocol: 'udp',
  url: 'turn:turn.example.org:3478?transport=udp',
  usernameFragment: 'Wv2p',
};
const remoteSrflx: Stats = {
  id: 'ITKTk09Hn',
  timestamp: T0,
  type: 'remote-candidate',
  transportId: 'T01',
  address: '198.51.100.44',
  candidateType: 'srflx',
  foundation: '1424567854',
  port: 62011,
  priority: 1686052607,
  protocol: 'udp',
  relatedAddress: '0.0.0.0',
  relatedPort: 0,
  usernameFragment: 'Hq3x',
};
const remoteRelay: Stats = {
  id: 'IbG7rT2aQ',
  timestamp: T0,
  type: 'remote-candidate',
  transportId: 'T01',
  address: '192.0.2.80',
  candidateType: 'relay',
  foundation: '2231465789',
  port: 50123,
  priority: 41885439,
  protocol: 'udp',
  relatedAddress: '198.51.100.44',
  relatedPort: 62011,
  usernameFragment: 'Hq3x',
};
// A remote mDNS host: Chromium resolves the name but reports no address (feross/simple-peer#572).
const remoteMdnsHost: Stats = {
  id: 'Ik3Zp8vLw',
  timestamp: T0,
  type: 'remote-candidate',
  transportId: 'T01',
  candidateType: 'host',
  foundation: '2984135468',
  port: 54400,
  priority: 2122260223,
  protocol: 'udp',
  usernameFragment: 'Hq3x',
};
// A remote prflx: webrtc-stats forbids exposing its address, so Chromium leaves it out.
const remotePrflx: Stats = {
  id: 'IxJ1c+9Vk',
  timestamp: T0,
  type: 'remote-candidate',
  transportId: 'T01',
  candidateType: 'prflx',
  foundation: '2791055836',
  port: 61000,
  priority: 1853824767,
  protocol: 'udp',
  usernameFragment: 'Hq3x',
};

function pair(id: string, local: Stats, remote: Stats, extra: Stats = {}): Stats {
  return {
    id,
    timestamp: T0,
    type: 'candidate-pair',
    transportId: 'T01',
    localCandidateId: local.id,
    remoteCandidateId: remote.id,
    state: 'waiting',
    priority: pairPriority(local.priority as number, remote.priority as number),
    nominated: false,
    writable: false,
    packetsSent: 0,
    packetsReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    totalRoundTripTime: 0,
    requestsReceived: 0,
    requestsSent: 0,
    responsesReceived: 0,
    responsesSent: 0,
    consentRequestsSent: 0,
    packetsDiscardedOnSend: 0,
    bytesDiscardedOnSend: 0,
    ...extra,
  };
}

const ACTIVE: Stats = {
  state: 'succeeded',
  nominated: true,
  writable: true,
  packetsSent: 35,
  packetsReceived: 33,
  bytesSent: 4321,
  bytesReceived: 5432,
  totalRoundTripTime: 0.084,
  currentRoundTripTime: 0.042,
  availableOutgoingBitrate: 300000,
  requestsReceived: 5,
  requestsSent: 6,
  responsesReceived: 6,
  responsesSent: 5,
  consentRequestsSent: 4,
  lastPacketReceivedTimestamp: T0 - 12,
  lastPacketSentTimestamp: T0 - 9,
};

const srflxPair = pair('CP6hUn3bD+_TKTk09Hn', localSrflx, remoteSrflx, ACTIVE);
const relayPair = pair('CPwVq2p0Zr_TKTk09Hn', localRelay, remoteSrflx, ACTIVE);
const toRemoteRelay = pair('CP6hUn3bD+_bG7rT2aQ', localSrflx, remoteRelay, ACTIVE);
const toMdnsHost = pair('CP6hUn3bD+_k3Zp8vLw', localSrflx, remoteMdnsHost, { state: 'failed' });

function transport(selectedCandidatePairId?: string): Stats {
  return {
    id: 'T01',
    timestamp: T0,
    type: 'transport',
    bytesReceived: 6789,
    bytesSent: 5678,
    dtlsCipher: 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
    dtlsRole: 'client',
    dtlsState: 'connected',
    iceLocalUsernameFragment: 'Wv2p',
    iceRole: 'controlling',
    iceState: 'connected',
    localCertificateId: 'CF5E:1A:9C:0B',
    packetsReceived: 42,
    packetsSent: 40,
    remoteCertificateId: 'CF77:D2:04:3E',
    selectedCandidatePairChanges: 1,
    tlsVersion: 'FEFD',
    ...(selectedCandidatePairId === undefined ? {} : { selectedCandidatePairId }),
  };
}

// Entries the report has no use for; they must not disturb it.
const unrelated: Stats[] = [
  { id: 'P', timestamp: T0, type: 'peer-connection', dataChannelsOpened: 1, dataChannelsClosed: 0 },
  {
    id: 'D1',
    timestamp: T0,
    type: 'data-channel',
    label: 'chat',
    protocol: '',
    dataChannelIdentifier: 1,
    state: 'open',
    messagesSent: 3,
    bytesSent: 42,
    messagesReceived: 2,
    bytesReceived: 17,
  },
  {
    id: 'CF5E:1A:9C:0B',
    timestamp: T0,
    type: 'certificate',
    fingerprint: '5E:1A:9C:0B',
    fingerprintAlgorithm: 'sha-256',
    base64Certificate: 'MIIBFjCBvaADAgECAgkA',
  },
];

/** A Map keyed by id, as `RTCStatsReport` is. */
function report(...entries: Stats[]): Map<string, Stats> {
  return new Map([...unrelated, ...entries].map((entry) => [entry.id as string, entry]));
}

const candidates = [localSrflx, localRelay, remoteSrflx, remoteRelay, remoteMdnsHost];

const srflxLocalInfo: CandidateInfo = {
  id: 'I6hUn3bD+',
  type: 'srflx',
  protocol: 'udp',
  address: '203.0.113.7',
  port: 54321,
  priority: 1686052607,
  url: 'stun:stun.l.google.com:19302',
};
const srflxRemoteInfo: CandidateInfo = {
  id: 'ITKTk09Hn',
  type: 'srflx',
  protocol: 'udp',
  address: '198.51.100.44',
  port: 62011,
  priority: 1686052607,
};

describe('buildIceReport', () => {
  it("finds the selected pair through the transport's selectedCandidatePairId", () => {
    const stats = report(
      transport('CP6hUn3bD+_TKTk09Hn'),
      ...candidates,
      srflxPair,
      relayPair,
      toMdnsHost,
    );
    const { selectedPair, selectedPairSource } = buildIceReport(stats);
    expect(selectedPairSource).toBe('transport');
    expect(selectedPair).toStrictEqual({
      id: 'CP6hUn3bD+_TKTk09Hn',
      state: 'succeeded',
      nominated: true,
      local: srflxLocalInfo,
      remote: srflxRemoteInfo,
      currentRoundTripTimeMs: 42,
      bytesSent: 4321,
      bytesReceived: 5432,
      requestsSent: 6,
      responsesReceived: 6,
    });
    expect(verdict(selectedPair)).toBe('Direct');
  });

  it('trusts the transport over other nominated pairs', () => {
    // relayPair is nominated and succeeded too, as after a renomination.
    const stats = report(transport('CPwVq2p0Zr_TKTk09Hn'), ...candidates, srflxPair, relayPair);
    const { selectedPair } = buildIceReport(stats);
    expect(selectedPair?.id).toBe('CPwVq2p0Zr_TKTk09Hn');
    expect(selectedPair?.local).toStrictEqual({
      id: 'IwVq2p0Zr',
      type: 'relay',
      protocol: 'udp',
      address: '198.51.100.20',
      port: 61234,
      priority: 41885439,
      relayProtocol: 'udp',
      url: 'turn:turn.example.org:3478?transport=udp',
    });
    expect(verdict(selectedPair)).toBe('Relayed (TURN)');
  });

  it('says Relayed when only the remote side is a relay', () => {
    const stats = report(transport('CP6hUn3bD+_bG7rT2aQ'), ...candidates, toRemoteRelay);
    const { selectedPair } = buildIceReport(stats);
    expect(selectedPair?.remote.type).toBe('relay');
    expect(verdict(selectedPair)).toBe(VERDICT_RELAYED);
  });

  it('lists every resolvable pair and both candidate lists in report order', () => {
    const stats = report(transport('CP6hUn3bD+_TKTk09Hn'), ...candidates, srflxPair, toMdnsHost);
    const built = buildIceReport(stats);
    expect(built.pairs.map((p) => [p.id, p.state, p.nominated])).toStrictEqual([
      ['CP6hUn3bD+_TKTk09Hn', 'succeeded', true],
      ['CP6hUn3bD+_k3Zp8vLw', 'failed', false],
    ]);
    expect(built.localCandidates.map((c) => c.id)).toStrictEqual(['I6hUn3bD+', 'IwVq2p0Zr']);
    expect(built.remoteCandidates.map((c) => c.id)).toStrictEqual([
      'ITKTk09Hn',
      'IbG7rT2aQ',
      'Ik3Zp8vLw',
    ]);
    // A pair that never got an answer has no RTT; its zero counters are real measurements.
    expect(built.pairs[1]).not.toHaveProperty('currentRoundTripTimeMs');
    expect(built.pairs[1]?.requestsSent).toBe(0);
  });

  it('leaves out an address the browser hides instead of inventing one', () => {
    const prflxPair = pair('CP6hUn3bD+_xJ1c+9Vk', localSrflx, remotePrflx, ACTIVE);
    const stats = report(transport(prflxPair.id as string), localSrflx, remotePrflx, prflxPair);
    const { selectedPair, remoteCandidates } = buildIceReport(stats);
    expect(remoteCandidates).toStrictEqual([
      { id: 'IxJ1c+9Vk', type: 'prflx', protocol: 'udp', port: 61000, priority: 1853824767 },
    ]);
    expect(selectedPair?.remote).not.toHaveProperty('address');
    expect(verdict(selectedPair)).toBe(VERDICT_DIRECT);
  });

  it('keeps the priority, which tells the family of a hidden address; drops one out of range', () => {
    expect(buildIceReport([remoteMdnsHost]).remoteCandidates[0]?.priority).toBe(2122260223);
    for (const priority of [0, 2 ** 31, 1.5, '2122260223', null]) {
      const odd = { ...remoteMdnsHost, priority };
      expect(buildIceReport([odd]).remoteCandidates[0]).not.toHaveProperty('priority');
    }
  });

  it('reads the legacy `ip` member when `address` is missing', () => {
    const legacy: Stats = { ...remoteSrflx, ip: '198.51.100.44' };
    delete legacy.address;
    expect(buildIceReport([legacy]).remoteCandidates[0]?.address).toBe('198.51.100.44');
  });

  describe('converting currentRoundTripTime (seconds) to milliseconds', () => {
    it.each([
      [0.042, 42],
      [0.0041, 4.1],
      [0, 0],
      [1.5, 1500],
    ])('%d s is %d ms', (seconds, ms) => {
      const active = pair(srflxPair.id as string, localSrflx, remoteSrflx, {
        ...ACTIVE,
        currentRoundTripTime: seconds,
      });
      const stats = report(transport(active.id as string), localSrflx, remoteSrflx, active);
      expect(buildIceReport(stats).selectedPair?.currentRoundTripTimeMs).toBe(ms);
    });

    it.each([undefined, -0.01, Number.NaN, '0.042'])('omits it for %s', (seconds) => {
      const active = pair(srflxPair.id as string, localSrflx, remoteSrflx, {
        ...ACTIVE,
        currentRoundTripTime: seconds,
      });
      const stats = report(transport(active.id as string), localSrflx, remoteSrflx, active);
      expect(buildIceReport(stats).selectedPair).not.toHaveProperty('currentRoundTripTimeMs');
    });
  });

  describe('without a selectedCandidatePairId', () => {
    it("uses Firefox's `selected` flag (Firefox has no transport stats)", () => {
      // Firefox-shaped entries: no transport, `inprogress` spelling, `selected` on the pair.
      const ffLocal = {
        id: 'a1f3c2d4',
        timestamp: T0,
        type: 'local-candidate',
        address: '203.0.113.7',
        candidateType: 'srflx',
        port: 54321,
        priority: 1686052607,
        protocol: 'udp',
        proxied: 'non-proxied',
      };
      const ffRemote = { ...ffLocal, id: 'b7e9a0c1', type: 'remote-candidate', port: 62011 };
      const ffPair = {
        id: 'c3d5e7f9',
        timestamp: T0,
        type: 'candidate-pair',
        localCandidateId: 'a1f3c2d4',
        remoteCandidateId: 'b7e9a0c1',
        state: 'succeeded',
        nominated: true,
        selected: true,
        bytesSent: 100,
        bytesReceived: 200,
        priority: pairPriority(1686052607, 1686052607),
      };
      const checking = {
        ...ffPair,
        id: 'd0e1f2a3',
        state: 'inprogress',
        nominated: false,
        selected: false,
      };
      const built = buildIceReport([ffLocal, ffRemote, checking, ffPair]);
      expect(built.selectedPairSource).toBe('selected-flag');
      expect(built.selectedPair?.id).toBe('c3d5e7f9');
      // Fields Firefox does not report stay absent rather than reading as 0.
      expect(built.selectedPair).not.toHaveProperty('requestsSent');
      expect(built.pairs[0]?.state).toBe('in-progress');
    });

    it('uses the only nominated, succeeded pair when there is no `selected` flag either', () => {
      const checking = pair('CPwVq2p0Zr_TKTk09Hn', localRelay, remoteSrflx, {
        state: 'in-progress',
      });
      const stats = report(transport(), ...candidates, checking, srflxPair);
      const built = buildIceReport(stats);
      expect(built.selectedPairSource).toBe('nominated');
      expect(built.selectedPair?.id).toBe('CP6hUn3bD+_TKTk09Hn');
      expect(verdict(built.selectedPair)).toBe(VERDICT_DIRECT);
    });

    it('gives null when several pairs are nominated and succeeded', () => {
      const stats = report(transport(), ...candidates, srflxPair, relayPair);
      const built = buildIceReport(stats);
      expect(built.selectedPair).toBeNull();
      expect(built.selectedPairSource).toBeNull();
      expect(built.pairs).toHaveLength(2);
      expect(verdict(built.selectedPair)).toBeNull();
    });

    it('gives null while ICE is still checking', () => {
      const checking = pair('CP6hUn3bD+_TKTk09Hn', localSrflx, remoteSrflx, {
        state: 'in-progress',
      });
      expect(buildIceReport(report(transport(), ...candidates, checking)).selectedPair).toBeNull();
    });
  });

  describe('with missing or malformed stats', () => {
    it('gives null, not a throw, when the selected pair has no local-candidate stats', () => {
      const stats = report(transport(srflxPair.id as string), remoteSrflx, srflxPair);
      const built = buildIceReport(stats);
      expect(built.selectedPair).toBeNull();
      expect(built.selectedPairSource).toBeNull();
      expect(built.pairs).toStrictEqual([]);
      expect(verdict(built.selectedPair)).toBeNull();
    });

    it('gives null when the remote candidate is missing', () => {
      const stats = report(transport(srflxPair.id as string), localSrflx, srflxPair);
      expect(buildIceReport(stats).selectedPair).toBeNull();
    });

    it('does not guess when the pair the transport names is missing', () => {
      const stats = report(transport('CPgone_gone'), ...candidates, srflxPair);
      const built = buildIceReport(stats);
      expect(built.selectedPair).toBeNull();
      expect(built.pairs.map((p) => p.id)).toStrictEqual(['CP6hUn3bD+_TKTk09Hn']);
    });

    it('does not take a candidate for a pair when ids collide across types', () => {
      const stats = report(transport('I6hUn3bD+'), ...candidates, srflxPair);
      expect(buildIceReport(stats).selectedPair).toBeNull();
    });

    it('drops candidates with an unknown type, protocol or port, and pairs that use them', () => {
      const broken = [
        { ...localSrflx, id: 'Ibad1', candidateType: 'serverreflexive' },
        { ...localSrflx, id: 'Ibad2', protocol: 'sctp' },
        { ...localSrflx, id: 'Ibad3', port: 70000 },
        { ...localSrflx, id: 'Ibad4', port: '54321' },
      ];
      const brokenPair = pair('CPbad1_TKTk09Hn', broken[0] as Stats, remoteSrflx, ACTIVE);
      const built = buildIceReport(report(...broken, remoteSrflx, brokenPair));
      expect(built.localCandidates).toStrictEqual([]);
      expect(built.pairs).toStrictEqual([]);
      expect(built.selectedPair).toBeNull();
    });

    it('omits counters, state and optional fields it cannot read', () => {
      const odd = pair(srflxPair.id as string, localSrflx, remoteSrflx, {
        state: 'exploded',
        nominated: 'yes',
        bytesSent: -1,
        bytesReceived: Number.POSITIVE_INFINITY,
        requestsSent: null,
        responsesReceived: '6',
      });
      const local = { ...localSrflx, relayProtocol: 'quic', url: '' };
      const built = buildIceReport(report(local, remoteSrflx, odd));
      expect(built.pairs).toStrictEqual([
        {
          id: srflxPair.id,
          nominated: false,
          local: {
            id: 'I6hUn3bD+',
            type: 'srflx',
            protocol: 'udp',
            address: '203.0.113.7',
            port: 54321,
            priority: 1686052607,
          },
          remote: srflxRemoteInfo,
        },
      ]);
    });

    it.each([
      ['null', null],
      ['a number', 42],
      ['an object without values()', {}],
      ['values that is not a function', { values: [] }],
    ])('gives an empty report for %s', (_name, input) => {
      expect(buildIceReport(input as never)).toStrictEqual({
        selectedPair: null,
        selectedPairSource: null,
        pairs: [],
        localCandidates: [],
        remoteCandidates: [],
      });
    });

    it('skips entries that are not stats dictionaries', () => {
      const built = buildIceReport([null, 7, 'x', { type: 'local-candidate' }, localSrflx]);
      expect(built.localCandidates).toStrictEqual([srflxLocalInfo]);
    });
  });

  it('reads an array and an RTCStatsReport-like object the same as a Map', () => {
    const entries = [transport(srflxPair.id as string), ...candidates, srflxPair];
    const fromMap = buildIceReport(report(...entries));
    const fromArray = buildIceReport([...unrelated, ...entries]);
    const statsReportLike = {
      values: () => report(...entries).values(),
      forEach: () => {
        throw new Error('not used');
      },
      [Symbol.iterator]: () => report(...entries).entries(),
    };
    expect(fromArray).toStrictEqual(fromMap);
    expect(buildIceReport(statsReportLike)).toStrictEqual(fromMap);
  });
});

describe('verdict', () => {
  const relay: CandidateInfo = { id: 'r', type: 'relay', protocol: 'udp', port: 1 };
  const host: CandidateInfo = { id: 'h', type: 'host', protocol: 'udp', port: 1 };

  it('uses the exact words the panel shows', () => {
    expect(VERDICT_DIRECT).toBe('Direct');
    expect(VERDICT_RELAYED).toBe('Relayed (TURN)');
  });

  it.each([
    ['host ↔ host', host, host, 'Direct'],
    ['srflx ↔ srflx', srflxLocalInfo, srflxRemoteInfo, 'Direct'],
    ['relay ↔ host', relay, host, 'Relayed (TURN)'],
    ['host ↔ relay', host, relay, 'Relayed (TURN)'],
    ['relay ↔ relay', relay, relay, 'Relayed (TURN)'],
  ])('%s is %s', (_name, local, remote, expected) => {
    expect(verdict({ local, remote })).toBe(expected);
  });

  it('is null without a pair', () => {
    expect(verdict(null)).toBeNull();
  });
});
