import { describe, expect, it } from 'vitest';
import { TokenBucket } from './rate-limit.ts';

describe('TokenBucket', () => {
  it('lets a burst through, then the steady rate', () => {
    const bucket = new TokenBucket(10, 5, 0);
    const burst = Array.from({ length: 6 }, () => bucket.take(0));
    expect(burst).toEqual([true, true, true, true, true, false]);
    expect(bucket.take(99)).toBe(false);
    expect(bucket.take(100)).toBe(true); // 10/s refills one token per 100 ms
  });

  it('never banks more than the burst', () => {
    const bucket = new TokenBucket(10, 2, 0);
    expect([bucket.take(60_000), bucket.take(60_000), bucket.take(60_000)]).toEqual([
      true,
      true,
      false,
    ]);
  });

  it('says how long until a cost can pass, taking nothing', () => {
    const bucket = new TokenBucket(10, 5, 0);
    expect(bucket.waitMs(0, 5)).toBe(0);
    expect(bucket.take(0, 5)).toBe(true);
    expect(bucket.waitMs(0)).toBe(100);
    expect(bucket.waitMs(0, 3)).toBe(300);
    expect(bucket.waitMs(250, 3)).toBe(50);
    expect(bucket.take(299, 3)).toBe(false);
    expect(bucket.take(300, 3)).toBe(true);
    expect(bucket.waitMs(300, 6)).toBe(Infinity);
  });

  it('rejects nonsense settings', () => {
    expect(() => new TokenBucket(0, 5, 0)).toThrow(RangeError);
    expect(() => new TokenBucket(5, 0, 0)).toThrow(RangeError);
  });
});
