import { describe, expect, it } from 'vitest';
import { BACKOFF_BASE_MS, BACKOFF_CAP_MS, backoffDelayMs } from './backoff.ts';

describe('backoffDelayMs', () => {
  it('doubles the window each attempt, up to the cap', () => {
    const top = () => 0.999999;
    expect(backoffDelayMs(0, top)).toBe(BACKOFF_BASE_MS - 1);
    expect(backoffDelayMs(1, top)).toBe(2 * BACKOFF_BASE_MS - 1);
    expect(backoffDelayMs(30, top)).toBe(BACKOFF_CAP_MS - 1);
  });

  it('spreads retries over the whole window (full jitter)', () => {
    expect(backoffDelayMs(3, () => 0)).toBe(0);
    expect(backoffDelayMs(3, () => 0.5)).toBe(4 * BACKOFF_BASE_MS);
  });
});
