import { describe, expect, it } from 'vitest';
import {
  describeOutcome,
  describeProgress,
  formatBytes,
  formatDuration,
  RateMeter,
  RATE_WINDOW_MS,
} from './progress.ts';

describe('progress words', () => {
  it('sizes in decimal units, as file managers show them', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(1536)).toBe('1.5 kB');
    expect(formatBytes(20_000_000)).toBe('20.0 MB');
    expect(formatBytes(2 * 1024 ** 3)).toBe('2.1 GB');
  });

  it('never promises less time than is left', () => {
    expect(formatDuration(4200)).toBe('5 s');
    expect(formatDuration(65_000)).toBe('1 min 5 s');
    expect(formatDuration(2 * 3600_000 + 60_000)).toBe('2 h 1 min');
  });

  it('gives bytes, percent, rate and time left, and leaves out what it cannot know', () => {
    expect(describeProgress(3_200_000, 20_000_000, 4_100_000)).toBe(
      '3.2 MB of 20.0 MB · 16% · 4.1 MB/s · 5 s left',
    );
    expect(describeProgress(3_200_000, 20_000_000, null)).toBe('3.2 MB of 20.0 MB · 16%');
    expect(describeProgress(0, 20_000_000, 0)).toBe('0 B of 20.0 MB · 0%');
    expect(describeProgress(0, 0, null)).toBe('0 B of 0 B · 100%');
  });

  it('measures the rate over the last few seconds and starts again after a restart', () => {
    const meter = new RateMeter();
    expect(meter.rate(0)).toBeNull();
    meter.add(0, 0);
    meter.add(100, 1_000_000);
    expect(meter.rate(100)).toBeNull(); // 100 ms is too little to say
    meter.add(1000, 10_000_000);
    expect(meter.rate(1000)).toBe(10_000_000);
    // A stall shows as the rate falling, not as the last burst.
    expect(meter.rate(2000)).toBe(5_000_000);
    // Old samples leave the window.
    meter.add(1000 + 2 * RATE_WINDOW_MS, 10_000_000);
    expect(meter.rate(1000 + 2 * RATE_WINDOW_MS)).toBe(0);
    meter.add(10_000, 5); // fewer bytes: a restart from zero
    expect(meter.rate(10_000)).toBeNull();
  });

  it('says how each side ended, naming the other person', () => {
    const row = { name: 'Bob', error: null, paused: false };
    expect(describeOutcome('out', { ...row, state: 'offered' })).toBe('Waiting for Bob to accept.');
    expect(describeOutcome('out', { ...row, state: 'verified' })).toBe(
      'Delivered to Bob: their copy matches (SHA-256).',
    );
    expect(describeOutcome('out', { ...row, state: 'verified', resentBytes: 3_100_000 })).toBe(
      'Delivered to Bob: their copy matches (SHA-256). The connection dropped on the way: 3.1 MB went twice.',
    );
    expect(describeOutcome('in', { ...row, state: 'corrupt' })).toMatch(/cannot be saved/);
    expect(describeOutcome('out', { ...row, state: 'declined', error: 'too big' })).toBe(
      'Bob declined: too big',
    );
    expect(describeOutcome('in', { ...row, state: 'sending', paused: true })).toBe(
      'Waiting for the connection to come back.',
    );
    expect(describeOutcome('in', { ...row, state: 'sending' })).toBe('');
  });
});
