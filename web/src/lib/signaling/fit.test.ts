import { describe, expect, it } from 'vitest';
import { fitPeerInfo } from './fit.ts';

const nat = { ipv4: { mapping: 'endpoint-independent' } };
const rows = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ id: `c${i}`, address: '203.0.113.2', port: 40000 + i }));

describe('fitPeerInfo', () => {
  it('sends a view that fits in half a frame whole', () => {
    const info = { nat, view: { verdict: 'Direct', pairs: rows(3) } };
    expect(fitPeerInfo(info, 64 * 1024)).toEqual(info);
  });

  it('drops the bulkiest parts first, the NAT report last', () => {
    const info = {
      nat,
      view: { verdict: 'Direct', pairs: rows(1000), localCandidates: rows(10), timeline: [] },
    };
    const fitted = fitPeerInfo(info, 64 * 1024);
    expect(fitted?.view).toMatchObject({ verdict: 'Direct', pairs: [], localCandidates: rows(10) });
    const tight = fitPeerInfo(
      { nat, view: { verdict: 'Direct', pairs: [], localCandidates: rows(200) } },
      8 * 1024,
    );
    expect(tight?.view).toMatchObject({ verdict: 'Direct', localCandidates: [] });
    expect(fitPeerInfo({ nat, view: { blob: 'x'.repeat(5000) } }, 8 * 1024)).toEqual({
      nat,
      view: null,
    });
    expect(fitPeerInfo({ nat: { blob: 'x'.repeat(5000) }, view: null }, 8 * 1024)).toBeNull();
  });

  it('stays inside the structural bounds the server checks', () => {
    const wide = { nat, view: { pairs: Array.from({ length: 3000 }, () => 0) } };
    expect(fitPeerInfo(wide, 1024 * 1024)?.view).toEqual({ pairs: [] });
  });
});
