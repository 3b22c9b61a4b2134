import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { mintTurnCredential, turnIceServer, type TurnConfig } from './turn.ts';

// Computed outside Node, with OpenSSL:
//   printf %s '1700003600:p0123456789abcdef' | openssl dgst -sha1 -hmac north -binary | base64
const VECTOR = {
  secret: 'north',
  userId: 'p0123456789abcdef',
  nowMs: 1_700_000_000_000,
  ttlS: 3600,
  username: '1700003600:p0123456789abcdef',
  credential: 'iSyBYQyhArt1zJ/88TUd45OQyQg=',
};

describe('mintTurnCredential', () => {
  it('matches an HMAC-SHA1 computed independently with openssl', () => {
    const { secret, userId, nowMs, ttlS } = VECTOR;
    expect(mintTurnCredential(secret, userId, nowMs, ttlS)).toEqual({
      username: VECTOR.username,
      credential: VECTOR.credential,
      expiresAtS: 1_700_003_600,
    });
  });

  it('rests on HMAC-SHA1 as RFC 2202 test case 2 defines it', () => {
    expect(createHmac('sha1', 'Jefe').update('what do ya want for nothing?').digest('hex')).toBe(
      'effcdf6ae5eb2fa2d27416d5f184df9c259a7c79',
    );
  });

  it('puts the expiry in whole unix seconds, now + ttl, flooring the milliseconds', () => {
    const minted = mintTurnCredential('s', 'id', 1_700_000_000_999, 60);
    expect(minted.expiresAtS).toBe(1_700_000_060);
    expect(minted.username).toBe('1700000060:id');
    // Seconds fit coturn's 32-bit time; a millisecond value would not.
    expect(minted.expiresAtS).toBeLessThan(2 ** 32);
  });

  it('gives a different credential per user id and per second, none containing the secret', () => {
    const secret = 'correct horse battery staple';
    const a = mintTurnCredential(secret, 'pa', VECTOR.nowMs, 3600);
    const b = mintTurnCredential(secret, 'pb', VECTOR.nowMs, 3600);
    const later = mintTurnCredential(secret, 'pa', VECTOR.nowMs + 1000, 3600);
    expect(new Set([a.credential, b.credential, later.credential]).size).toBe(3);
    expect(JSON.stringify([a, b, later])).not.toContain(secret);
  });

  it.each([
    ['an empty secret', '', VECTOR.nowMs, 3600],
    ['a clock before the epoch', 's', -1, 3600],
    ['a clock that is not a number', 's', Number.NaN, 3600],
    ['a zero ttl', 's', VECTOR.nowMs, 0],
    ['a fractional ttl', 's', VECTOR.nowMs, 1.5],
  ])('throws RangeError for %s', (_, secret, nowMs, ttlS) => {
    expect(() => mintTurnCredential(secret, 'id', nowMs, ttlS)).toThrow(RangeError);
  });
});

describe('turnIceServer', () => {
  const urls = ['turn:203.0.113.20:3478?transport=udp', 'turn:203.0.113.20:3478?transport=tcp'];

  it('mints for the given user at the given time, with every URL, and without the secret', () => {
    const config: TurnConfig = { urls, auth: { kind: 'secret', secret: 'north', ttlS: 3600 } };
    const server = turnIceServer(config, VECTOR.userId, VECTOR.nowMs);
    expect(server).toEqual({ urls, username: VECTOR.username, credential: VECTOR.credential });
    expect(server.urls).not.toBe(config.urls);
    expect(JSON.stringify(server)).not.toContain('north');
  });

  it('hands out static credentials as they are', () => {
    const config: TurnConfig = {
      urls,
      auth: { kind: 'static', username: 'chat', credential: 'pw' },
    };
    expect(turnIceServer(config, 'anyone', 0)).toEqual({
      urls,
      username: 'chat',
      credential: 'pw',
    });
  });
});
