import { describe, expect, it } from 'vitest';
import { ConfigError, defaultIceServers, loadConfig, parseOrigin } from './config.ts';

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
      maxFrameBytes: 65536,
      rateMessagesPerS: 20,
      rateBurst: 200,
      rateBytesPerS: 32768,
      rateBytesBurst: 262144,
      maxBufferedBytes: 262144,
      maxHttpConnectionsPerIp: 32,
      maxSocketsPerIp: 32,
      maxSockets: 20000,
      roomCapacity: 8,
      maxFileBytes: 2 * 1024 * 1024 * 1024,
      allowedOrigins: null,
      heartbeatIntervalMs: 15000,
      logLevel: 'info',
      trustProxy: false,
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
      MAX_FRAME_BYTES: '16384',
      RATE_MESSAGES_PER_S: '5',
      RATE_BURST: '50',
      RATE_BYTES_PER_S: '8192',
      RATE_BYTES_BURST: '16384',
      MAX_BUFFERED_BYTES: '65536',
      MAX_HTTP_CONNECTIONS_PER_IP: '8',
      MAX_SOCKETS_PER_IP: '0',
      MAX_SOCKETS: '100000',
      ROOM_SIZE: '3',
      MAX_FILE_BYTES: '1048576',
      ALLOWED_ORIGINS: 'https://Chat.Example.org/, http://localhost:5173',
      HEARTBEAT_INTERVAL_MS: '5000',
      LOG_LEVEL: 'DEBUG',
      TRUST_PROXY: '1',
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
      maxFrameBytes: 16384,
      rateMessagesPerS: 5,
      rateBurst: 50,
      rateBytesPerS: 8192,
      rateBytesBurst: 16384,
      maxBufferedBytes: 65536,
      maxHttpConnectionsPerIp: 8,
      maxSocketsPerIp: 0,
      maxSockets: 100000,
      roomCapacity: 3,
      maxFileBytes: 1048576,
      allowedOrigins: ['https://chat.example.org', 'http://localhost:5173'],
      heartbeatIntervalMs: 5000,
      logLevel: 'debug',
      trustProxy: true,
    });
  });

  it('takes ALLOWED_ORIGINS=* as any origin, and 0 as "no limit" for rate and socket caps', () => {
    expect(loadConfig({ ALLOWED_ORIGINS: ' * ' }).allowedOrigins).toEqual(['*']);
    const unlimited = loadConfig({ RATE_MESSAGES_PER_S: '0', MAX_SOCKETS: '0' });
    expect([unlimited.rateMessagesPerS, unlimited.maxSockets]).toEqual([0, 0]);
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

  it('takes TURN over TLS and bracketed IPv6 literals in TURN_URLS, as written', () => {
    const urls = ['turns:turn.example.org:443?transport=tcp', 'turn:[2001:db8::1]:3478'];
    expect(loadConfig({ TURN_URLS: urls.join(','), TURN_SECRET: SECRET }).turn?.urls).toEqual(urls);
  });

  it.each([
    'stun:203.0.113.20:3478',
    'stuns:203.0.113.20',
    'TURN:203.0.113.20',
    'turn:2001:db8::1:3478',
    'turn:[fe80::1%eth0]:3478',
    'turns:turn.example.org?transport=udp',
  ])('refuses TURN_URLS=%s as no TURN URL, credentials or not', (url) => {
    expect(() => loadConfig({ TURN_URLS: url, TURN_SECRET: SECRET })).toThrow(
      /^TURN_URLS: ".*" is not a TURN URL/,
    );
  });

  it('refuses an ICE_SERVERS scheme in the wrong case, which browsers refuse too', () => {
    expect(() => loadConfig({ ICE_SERVERS: '[{"urls":"STUN:stun.example.org"}]' })).toThrow(
      /^ICE_SERVERS: "STUN:stun.example.org" is not a stun:, stuns:, turn: or turns: URL$/,
    );
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
    ['MAX_FRAME_BYTES', '64k'],
    ['MAX_FRAME_BYTES', '100'], // the page's frames would not fit
    ['RATE_MESSAGES_PER_S', '2.5'],
    ['RATE_MESSAGES_PER_S', '-1'],
    ['RATE_BURST', '0'],
    ['RATE_BYTES_PER_S', '1.5'],
    ['RATE_BYTES_BURST', '32768'], // below MAX_FRAME_BYTES: the largest frame could never pass
    ['MAX_BUFFERED_BYTES', '1000'],
    ['MAX_BUFFERED_BYTES', '32768'], // below MAX_FRAME_BYTES: one frame could not be queued
    ['MAX_HTTP_CONNECTIONS_PER_IP', '-1'],
    ['MAX_SOCKETS_PER_IP', 'many'],
    ['MAX_SOCKETS', '1e4'],
    ['ROOM_SIZE', '1'],
    ['ROOM_SIZE', '17'],
    ['MAX_FILE_BYTES', '0'],
    ['MAX_FILE_BYTES', '2GiB'],
    ['HEARTBEAT_INTERVAL_MS', '999'],
    ['HEARTBEAT_INTERVAL_MS', '15s'],
    ['ALLOWED_ORIGINS', 'chat.example.org'],
    ['ALLOWED_ORIGINS', 'https://chat.example.org/app'],
    ['ALLOWED_ORIGINS', 'ftp://chat.example.org'],
    ['ALLOWED_ORIGINS', 'https://user@chat.example.org'],
    ['ALLOWED_ORIGINS', '*, https://chat.example.org'],
    ['ALLOWED_ORIGINS', ' , '],
    ['LOG_LEVEL', 'verbose'],
    ['TRUST_PROXY', 'yes'],
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

describe('parseOrigin', () => {
  it('normalises an origin as browsers send it in the Origin header', () => {
    expect(parseOrigin('https://Chat.Example.org')).toBe('https://chat.example.org');
    expect(parseOrigin('https://chat.example.org:443/')).toBe('https://chat.example.org');
    expect(parseOrigin('http://[::1]:8080')).toBe('http://[::1]:8080');
  });

  it('refuses anything but scheme://host[:port]', () => {
    for (const value of [
      'null',
      '',
      'chat.example.org',
      'https://a.example/.',
      'https://a.example?x',
      'file:///x',
    ]) {
      expect(parseOrigin(value)).toBeNull();
    }
  });
});
