import { describe, expect, it } from 'vitest';
import { ConfigError, defaultIceServers, loadConfig } from './config.ts';

describe('loadConfig', () => {
  it('falls back to the documented defaults', () => {
    expect(loadConfig({})).toEqual({
      host: '0.0.0.0',
      port: 8080,
      stunPort: 3478,
      iceServers: null,
    });
  });

  it('reads every variable', () => {
    const config = loadConfig({
      HOST: '127.0.0.1',
      PORT: '9000',
      STUN_PORT: '0',
      ICE_SERVERS:
        '[{"urls":["stun:stun.example.org:3478"]},{"urls":"turn:t.example.org","username":"u","credential":"c"}]',
    });
    expect(config).toEqual({
      host: '127.0.0.1',
      port: 9000,
      stunPort: 0,
      iceServers: [
        { urls: ['stun:stun.example.org:3478'] },
        { urls: 'turn:t.example.org', username: 'u', credential: 'c' },
      ],
    });
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['STUN_PORT', '3478.5'],
    ['ICE_SERVERS', '{not json'],
    ['ICE_SERVERS', '{"urls":"stun:x"}'],
    ['ICE_SERVERS', '[{"url":"stun:x"}]'],
    ['ICE_SERVERS', '[{"urls":"stun:x","credential":5}]'],
  ])('rejects %s=%s naming the variable', (variable, value) => {
    const attempt = () => loadConfig({ [variable]: value });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(new RegExp(`^${variable}: `));
  });
});

describe('defaultIceServers', () => {
  it('points STUN at the host the page came from', () => {
    expect(defaultIceServers('203.0.113.10:8080', 3478)).toEqual([
      { urls: 'stun:203.0.113.10:3478' },
    ]);
    expect(defaultIceServers('chat.example.org', 3478)).toEqual([
      { urls: 'stun:chat.example.org:3478' },
    ]);
    expect(defaultIceServers('[::1]:8080', 13478)).toEqual([{ urls: 'stun:[::1]:13478' }]);
  });

  it('gives nothing when STUN is off or the Host header is junk', () => {
    expect(defaultIceServers('example.org', 0)).toEqual([]);
    expect(defaultIceServers(undefined, 3478)).toEqual([]);
    expect(defaultIceServers('evil.org/path?x', 3478)).toEqual([]);
    expect(defaultIceServers('a b', 3478)).toEqual([]);
  });
});
