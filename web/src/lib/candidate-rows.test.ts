import { describe, expect, it } from 'vitest';
import { attachServerUrls, type CandidateRow } from './candidate-rows.ts';
import { parseIceCandidate } from './ice-candidate.ts';

const srflx: CandidateRow = {
  ...parseIceCandidate(
    'candidate:842163049 1 udp 1677729535 203.0.113.2 40000 typ srflx raddr 0.0.0.0 rport 0',
  )!,
  atMs: 12,
};

describe('attachServerUrls', () => {
  it('names the STUN server that produced a srflx candidate', () => {
    const rows = attachServerUrls(
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

  it('returns the same rows when stats add nothing', () => {
    const rows = [srflx];
    expect(attachServerUrls(rows, [])).toBe(rows);
  });
});
