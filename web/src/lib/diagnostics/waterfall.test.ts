import { describe, expect, it } from 'vitest';
import type { TimelineEntry } from './timeline.ts';
import { waterfall } from './waterfall.ts';

const at = (label: string, atMs: number): TimelineEntry => ({ label, atMs });

/** Bob's side of a set-up: he answers Alice's offer. */
const answerer = [
  at('Page opened', 0),
  at('Signaling connected', 120),
  at('NAT classified', 400),
  at('Other person in the room', 130),
  at('Offer received', 180),
  at('First local host candidate', 190),
  at('Answer sent', 200),
  at('ICE checking', 210),
  at('ICE connected', 3900),
  at('DTLS connected', 3950),
  at('Data channel open', 3990),
];

describe('waterfall', () => {
  it('draws one bar per finished phase, from its first step to the step that ends it', () => {
    const { bars, spanMs } = waterfall(answerer);
    expect(bars.map((bar) => [bar.name, bar.startMs, bar.endMs])).toEqual([
      ['Signaling', 0, 120],
      ['NAT test', 120, 400],
      ['Waiting for them', 120, 130],
      ['Offer → answer', 180, 200],
      ['Gathering', 180, 190],
      ['Connectivity checks', 210, 3900],
      ['DTLS', 3900, 3950],
      ['Data channel', 3950, 3990],
    ]);
    expect(spanMs).toBe(3990);
  });

  it('starts the NAT test at its own start when the page marked one (issue #13)', () => {
    const deferred = [...answerer, at('NAT test started', 3995), at('NAT classified', 4300)].filter(
      (entry) => !(entry.label === 'NAT classified' && entry.atMs === 400),
    );
    const bar = waterfall(deferred).bars.find((b) => b.name === 'NAT test');
    expect([bar?.startMs, bar?.endMs]).toEqual([3995, 4300]);
  });

  it('marks phases over budget and names the slowest step that does not wait on a person', () => {
    const result = waterfall(answerer);
    expect(result.bars.filter((bar) => bar.slow).map((bar) => bar.name)).toEqual([
      'Connectivity checks',
    ]);
    expect(result.slowest?.name).toBe('Connectivity checks');
    expect(result.text).toBe(
      'Slowest step: Connectivity checks, 3,690 ms; over budget: Connectivity checks.',
    );
  });

  it('never calls a person’s wait the slowest step', () => {
    const result = waterfall([
      at('Page opened', 0),
      at('Signaling connected', 50),
      at('Other person in the room', 60_000),
      at('Data channel open', 61_000),
      at('First message', 90_000),
    ]);
    expect(result.slowest?.name).toBe('Signaling');
    expect(result.text).toBe('Slowest step: Signaling, 50 ms; none over budget.');
  });

  it('leaves out phases that have not ended, and says when none has', () => {
    expect(waterfall([at('Page opened', 0)]).text).toBe('No phase has finished yet.');
    const waiting = waterfall([
      at('Page opened', 0),
      at('Signaling connected', 80),
      at('ICE checking', 500),
    ]);
    expect(waiting.bars.map((bar) => bar.name)).toEqual(['Signaling']);
  });

  it('measures the first set-up: a rebuild’s later steps do not stretch its bars', () => {
    const rebuilt = [
      ...answerer,
      at('Reconnecting peer connection', 9000),
      at('ICE checking', 9100),
    ];
    const bar = waterfall(rebuilt).bars.find((b) => b.name === 'Connectivity checks');
    expect([bar?.startMs, bar?.endMs]).toEqual([210, 3900]);
  });
});
