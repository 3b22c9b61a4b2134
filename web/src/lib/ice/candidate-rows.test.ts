import { describe, expect, it } from 'vitest';
import { attachCandidateStats, type CandidateRow } from './candidate-rows.ts';
import { parseIceCandidate } from './ice-candidate.ts';

const srflx: CandidateRow = {
  ...parseIceCandidate(
    'candidate:842163049 1 udp 1677729535 203.0.113.2 40000 typ srflx raddr 0.0.0.0 rport 0',
  )!,
  atMs: 12,
};

describe('attachCandidateStats', () => {
  it('names the STUN server that produced a srflx candidate', () => {
    const rows = attachCandidateStats(
      [srflx],
      [
        {
          id: 'I1',
          type: 'srflx',
          protocol: 'udp',
          address: '203.0.113.2',
          port: 40000,
          url: 'stun:203.0.113.10:3478',
        },
      ],
    );
    expect(rows[0]?.url).toBe('stun:203.0.113.10:3478');
  });

  it('says how a relay candidate reached its TURN server', () => {
    const relay: CandidateRow = {
      ...parseIceCandidate(
        'candidate:9 1 udp 16785407 203.0.113.20 50000 typ relay raddr 203.0.113.2 rport 40000',
      )!,
      atMs: 80,
    };
    const [row] = attachCandidateStats(
      [relay],
      [
        {
          id: 'I9',
          type: 'relay',
          protocol: 'udp',
          address: '203.0.113.20',
          port: 50000,
          url: 'turn:203.0.113.20:3478?transport=tcp',
          relayProtocol: 'tcp',
        },
      ],
    );
    expect(row).toMatchObject({
      relayProtocol: 'tcp',
      url: 'turn:203.0.113.20:3478?transport=tcp',
    });
  });

  it('returns the same rows when stats add nothing', () => {
    const rows = [srflx];
    expect(attachCandidateStats(rows, [])).toBe(rows);
  });
});
