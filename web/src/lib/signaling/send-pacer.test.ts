import { EXAMPLE_LIMITS } from '../../../../signaling/testing/limits.ts';
import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../../../signaling/rate-limit.ts';
import { MAX_QUEUED_FRAMES, PACING_MARGIN, SendPacer } from './send-pacer.ts';

const LIMITS = EXAMPLE_LIMITS;

describe('SendPacer', () => {
  it('lets a burst through at once, then paces, never overdrawing the server', () => {
    const pacer = new SendPacer(LIMITS, 0);
    // What the server's own buckets (signaling/rate-limit.ts) would say, frame by frame.
    const messages = new TokenBucket(LIMITS.rateMessagesPerS, LIMITS.rateBurst, 0);
    const bytes = new TokenBucket(LIMITS.rateBytesPerS, LIMITS.rateBytesBurst, 0);
    for (let i = 0; i < 400; i++) pacer.enqueue(`frame ${i}`, 500);
    let now = 0;
    let sent = 0;
    const first = pacer.drain(now);
    expect(first.ready).toHaveLength(Math.floor(LIMITS.rateBurst * PACING_MARGIN));
    let step = first;
    for (;;) {
      for (const text of step.ready) {
        expect(messages.take(now), text).toBe(true);
        expect(bytes.take(now, 500), text).toBe(true);
        sent++;
      }
      if (step.waitMs === null) break;
      now += step.waitMs;
      step = pacer.drain(now);
    }
    expect(sent).toBe(400);
    // 240 paced frames at 80 % of 20/s: ~15 s, in order.
    expect(now).toBeGreaterThan(14_000);
    expect(now).toBeLessThan(16_000);
  });

  it('paces on bytes as well as on messages', () => {
    const pacer = new SendPacer({ ...LIMITS, rateBytesBurst: 65536 }, 0);
    for (let i = 0; i < 4; i++) pacer.enqueue(`big ${i}`, 30_000);
    const step = pacer.drain(0);
    expect(step.ready).toEqual(['big 0', 'big 1']);
    expect(step.waitMs).toBeGreaterThan(0);
  });

  it('refuses what the server would close the socket for, and a runaway queue', () => {
    const pacer = new SendPacer(LIMITS, 0);
    expect(pacer.enqueue('x', LIMITS.maxFrameBytes + 1)).toBe('too-big');
    for (let i = 0; i < MAX_QUEUED_FRAMES; i++) pacer.enqueue('x', 1);
    expect(pacer.enqueue('x', 1)).toBe('queue-full');
    pacer.clear();
    expect(pacer.queued).toBe(0);
  });

  it('sends without pacing when the server has no rate limit', () => {
    const pacer = new SendPacer({ ...LIMITS, rateMessagesPerS: 0, rateBytesPerS: 0 }, 0);
    for (let i = 0; i < 1000; i++) pacer.enqueue('x', 10);
    expect(pacer.drain(0)).toEqual({ ready: Array(1000).fill('x'), waitMs: null });
  });
});
