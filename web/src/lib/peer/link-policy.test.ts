import { describe, expect, it } from 'vitest';
import { ATTEMPT_TIMEOUT_MS, DISCONNECTED_GRACE_MS, isOfferer, linkHealth } from './link-policy.ts';

const fresh = {
  open: false,
  iceConnectionState: 'new' as const,
  ageMs: 0,
  disconnectedForMs: null,
  ended: false,
};

describe('isOfferer', () => {
  it('makes exactly one side the offerer', () => {
    expect(isOfferer('p0000000000000001', 'p0000000000000002')).toBe(true);
    expect(isOfferer('p0000000000000002', 'p0000000000000001')).toBe(false);
  });
});

describe('linkHealth', () => {
  it('gives a new attempt time to connect', () => {
    expect(linkHealth(fresh)).toBe('healthy');
    expect(linkHealth({ ...fresh, ageMs: ATTEMPT_TIMEOUT_MS })).toBe('broken');
  });

  it('rides out a short ICE disconnection but not a long one', () => {
    const open = {
      ...fresh,
      open: true,
      iceConnectionState: 'disconnected' as const,
      ageMs: 60_000,
    };
    expect(linkHealth({ ...open, disconnectedForMs: 1000 })).toBe('healthy');
    expect(linkHealth({ ...open, disconnectedForMs: DISCONNECTED_GRACE_MS })).toBe('broken');
  });

  it('rebuilds what failed or ended', () => {
    expect(linkHealth({ ...fresh, iceConnectionState: 'failed' })).toBe('broken');
    expect(linkHealth({ ...fresh, open: true, ended: true })).toBe('broken');
  });
});
