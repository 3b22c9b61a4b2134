import { describe, expect, it } from 'vitest';
import { annotateTimeline } from './timeline.ts';

describe('annotateTimeline', () => {
  it('measures each phase from the step it waits on and marks slow ones', () => {
    const rows = annotateTimeline([
      { label: 'Page opened', atMs: 0 },
      { label: 'Signaling connected', atMs: 120 },
      { label: 'ICE checking', atMs: 400 },
      { label: 'ICE connected', atMs: 5400 },
      { label: 'DTLS connected', atMs: 5450 },
    ]);
    expect(rows[1]).toMatchObject({ after: 'Page opened', phaseMs: 120, slow: false });
    expect(rows[3]).toMatchObject({
      after: 'ICE checking',
      phaseMs: 5000,
      budgetMs: 3000,
      slow: true,
    });
    expect(rows[4]).toMatchObject({ phaseMs: 50, slow: false });
  });

  it('leaves steps without a known start unmarked', () => {
    const rows = annotateTimeline([{ label: 'DTLS connected', atMs: 900 }]);
    expect(rows).toEqual([{ label: 'DTLS connected', atMs: 900, slow: false }]);
  });
});
