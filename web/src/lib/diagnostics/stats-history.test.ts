import { describe, expect, it } from 'vitest';
import { addReading, EMPTY_HISTORY, recentRtts, type StatsReading } from './stats-history.ts';

const reading = (atMs: number, extra: Partial<StatsReading> = {}): StatsReading => ({
  atMs,
  pairId: 'CP1',
  ...extra,
});

describe('stats history', () => {
  it('turns byte counters into bytes per second each way, from the second reading on', () => {
    let history = addReading(
      EMPTY_HISTORY,
      reading(1000, { rttMs: 20, bytesSent: 0, bytesReceived: 0 }),
    );
    history = addReading(
      history,
      reading(2000, { rttMs: 22, bytesSent: 5000, bytesReceived: 1000 }),
    );
    history = addReading(
      history,
      reading(2500, { rttMs: 21, bytesSent: 6000, bytesReceived: 1000 }),
    );
    expect(history.points).toEqual([
      { atMs: 1000, rttMs: 20, sentBytesPerS: null, receivedBytesPerS: null },
      { atMs: 2000, rttMs: 22, sentBytesPerS: 5000, receivedBytesPerS: 1000 },
      { atMs: 2500, rttMs: 21, sentBytesPerS: 2000, receivedBytesPerS: 0 },
    ]);
  });

  it('gives no rate across a change of selected pair, nor when counters go back', () => {
    let history = addReading(
      EMPTY_HISTORY,
      reading(1000, { bytesSent: 9000, bytesReceived: 9000 }),
    );
    history = addReading(
      history,
      reading(2000, { pairId: 'CP2', bytesSent: 100, bytesReceived: 100 }),
    );
    history = addReading(
      history,
      reading(3000, { pairId: 'CP2', bytesSent: 50, bytesReceived: 300 }),
    );
    expect(history.points.map((p) => [p.sentBytesPerS, p.receivedBytesPerS])).toEqual([
      [null, null],
      [null, null],
      [null, 200],
    ]);
  });

  it('draws a gap while no pair is selected', () => {
    const history = addReading(EMPTY_HISTORY, reading(1000, { pairId: null, rttMs: 5 }));
    expect(history.points[0]?.rttMs).toBeNull();
  });

  it('keeps only the window, and ignores a reading that is not newer', () => {
    let history = EMPTY_HISTORY;
    for (let t = 0; t <= 10_000; t += 1000)
      history = addReading(history, reading(t, { rttMs: t }), 5000);
    expect(history.points.map((p) => p.atMs)).toEqual([5000, 6000, 7000, 8000, 9000, 10_000]);
    expect(addReading(history, reading(10_000, { rttMs: 1 }), 5000)).toBe(history);
    expect(recentRtts(history, 3)).toEqual([8000, 9000, 10_000]);
  });
});
