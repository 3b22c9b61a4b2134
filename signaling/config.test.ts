import { describe, expect, it } from 'vitest';
import { ConfigError, defaultIceServers, loadConfig } from './config.ts';

const TURN_URLS = 'turn:203.0.113.20:3478?transport=udp,turn:203.0.113.20:3478?transport=tcp';
const SECRET = 'lab-secret-do-not-leak';

/** The ConfigError `loadConfig(env)` throws; fails the test if it throws nothing or else. */
function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('falls back to the documented defaults', () => {
    expect(loadConfig({})).toEqual({
      host: '0.0.0.0',
      port: 8080,
      stunPort: 3478,
      stunAltAddress: null,
      iceServers: null,
      turn: null,
    });
  });

  it('reads every variable', () => {
    const config = loadConfig({
      HOST: '127.0.0.1',
      PORT: '9000',
      STUN_PORT: '13478',
      STUN_ALT_ADDRESS: '127.0.0.2',
      ICE_SERVERS:
        '[{"urls":["stun:stun.example.org:3478"]},{"urls":"turn:t.example.org","username":"u","credential":"c"}]',
      TURN_URLS: ` ${TURN_URLS.replace(',', ' , ')} `,
      TURN_SECRET: SECRET,
      TURN_TTL_S: '600',
    });
    expect(config).toEqual({
      host: '127.0.0.1',
      port: 9000,
      stunPort: 13478,
      stunAltAddress: '127.0.0.2',
      iceServers: [
        { urls: ['stun:stun.example.org:3478'] },
        { urls: 'turn:t.example.org', username: 'u', credential: 'c' },
      ],
      turn: {
        urls: ['turn:203.0.113.20:3478?transport=udp', 'turn:203.0.113.20:3478?transport=tcp'],
        auth: { kind: 'secret', secret: SECRET, ttlS: 600 },
      },
    });
  });

  it('mints with a one-hour lifetime unless TURN_TTL_S says otherwise', () => {
    expect(loadConfig({ TURN_URLS, TURN_SECRET: SECRET }).turn?.auth).toEqual({
      kind: 'secret',
      secret: SECRET,
      ttlS: 3600,
    });
  });

  it('takes static TURN credentials instead of a secret', () => {
    expect(
      loadConfig({ TURN_URLS, TURN_USERNAME: 'chat', TURN_CREDENTIAL: 'pw' }).turn?.auth,
    ).toEqual({ kind: 'static', username: 'chat', credential: 'pw' });
  });

  it('turns STUN off with STUN_PORT=0 and accepts 65534, whose pair ends at 65535', () => {
    expect(loadConfig({ STUN_PORT: '0' }).stunPort).toBe(0);
    expect(loadConfig({ STUN_PORT: '65534' }).stunPort).toBe(65534);
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['STUN_PORT', '3478.5'],
    ['STUN_PORT', '65535'], // STUN_PORT + 1 would not exist
    ['STUN_ALT_ADDRESS', 'stun.example.org'],
    ['STUN_ALT_ADDRESS', '0.0.0.0'],
    ['ICE_SERVERS', '{not json'],
    ['ICE_SERVERS', '{"urls":"stun:x"}'],
    ['ICE_SERVERS', '[{"url":"stun:x"}]'],
    ['ICE_SERVERS', '[{"urls":"stun:x","credential":5}]'],
    ['ICE_SERVERS', '[{"urls":"http://stun.example.org"}]'],
    ['ICE_SERVERS', '[{"urls":["stun:x","turn:t.example.org"]}]'],
    ['TURN_URLS', 'stun:203.0.113.20:3478'],
    ['TURN_URLS', 'turn:203.0.113.20:3478?transport=sctp'],
    ['TURN_URLS', ' , '],
    ['TURN_URLS', TURN_URLS], // no credentials
  ])('rejects %s=%s naming the variable', (variable, value) => {
    const attempt = () => loadConfig({ [variable]: value });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(new RegExp(`^${variable}: `));
  });

  it.each([
    ['STUN_ALT_ADDRESS', { HOST: '192.0.2.1', STUN_ALT_ADDRESS: '192.0.2.1' }],
    ['STUN_ALT_ADDRESS', { STUN_PORT: '0', STUN_ALT_ADDRESS: '192.0.2.2' }],
    ['TURN_SECRET', { TURN_SECRET: SECRET }],
    ['TURN_USERNAME', { TURN_USERNAME: 'chat', TURN_CREDENTIAL: 'pw' }],
    ['TURN_TTL_S', { TURN_TTL_S: '600' }],
    ['TURN_SECRET', { TURN_URLS, TURN_SECRET: SECRET, TURN_USERNAME: 'chat' }],
    ['TURN_SECRET', { TURN_URLS, TURN_SECRET: `${SECRET}\n` }],
    ['TURN_USERNAME', { TURN_URLS, TURN_CREDENTIAL: 'pw' }],
    ['TURN_CREDENTIAL', { TURN_URLS, TURN_USERNAME: 'chat' }],
    ['TURN_TTL_S', { TURN_URLS, TURN_USERNAME: 'chat', TURN_CREDENTIAL: 'pw', TURN_TTL_S: '60' }],
    ['TURN_TTL_S', { TURN_URLS, TURN_SECRET: SECRET, TURN_TTL_S: '59' }],
    ['TURN_TTL_S', { TURN_URLS, TURN_SECRET: SECRET, TURN_TTL_S: '86401' }],
    ['TURN_TTL_S', { TURN_URLS, TURN_SECRET: SECRET, TURN_TTL_S: '1h' }],
  ])('rejects a contradictory or incomplete setup, naming %s', (variable, env) => {
    expect(configError(env).variable).toBe(variable);
  });

  it('never quotes the TURN secret or credential in an error', () => {
    const errors = [
      configError({ TURN_SECRET: SECRET }),
      configError({ TURN_URLS, TURN_SECRET: ` ${SECRET}` }),
      configError({ TURN_URLS, TURN_SECRET: SECRET, TURN_CREDENTIAL: SECRET }),
      configError({ TURN_URLS, TURN_USERNAME: 'chat', TURN_CREDENTIAL: SECRET, TURN_TTL_S: '9' }),
      configError({ TURN_CREDENTIAL: SECRET }),
    ];
    for (const error of errors) expect(error.message).not.toContain(SECRET);
  });
});

describe('defaultIceServers', () => {
  it('points STUN at both ports on the host the page came from', () => {
    expect(defaultIceServers('203.0.113.10:8080', 3478)).toEqual([
      { urls: 'stun:203.0.113.10:3478' },
      { urls: 'stun:203.0.113.10:3479' },
    ]);
    expect(defaultIceServers('chat.example.org', 3478)).toEqual([
      { urls: 'stun:chat.example.org:3478' },
      { urls: 'stun:chat.example.org:3479' },
    ]);
    expect(defaultIceServers('[::1]:8080', 13478)).toEqual([
      { urls: 'stun:[::1]:13478' },
      { urls: 'stun:[::1]:13479' },
    ]);
  });

  it('adds both ports on the alternate address, after the page host ones', () => {
    expect(defaultIceServers('203.0.113.10:8080', 3478, '203.0.113.11')).toEqual([
      { urls: 'stun:203.0.113.10:3478' },
      { urls: 'stun:203.0.113.10:3479' },
      { urls: 'stun:203.0.113.11:3478' },
      { urls: 'stun:203.0.113.11:3479' },
    ]);
    expect(defaultIceServers(undefined, 3478, '2001:db8::11')).toEqual([
      { urls: 'stun:[2001:db8::11]:3478' },
      { urls: 'stun:[2001:db8::11]:3479' },
    ]);
  });

  it('gives nothing when STUN is off or the Host header is junk', () => {
    expect(defaultIceServers('example.org', 0)).toEqual([]);
    expect(defaultIceServers('example.org', 0, '203.0.113.11')).toEqual([]);
    expect(defaultIceServers(undefined, 3478)).toEqual([]);
    expect(defaultIceServers('evil.org/path?x', 3478)).toEqual([]);
    expect(defaultIceServers('a b', 3478)).toEqual([]);
  });
});
