import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  defaultIceServers,
  loadConfig,
  parseOrigin,
  readTlsCredentials,
  serverSettings,
  type TlsFiles,
} from './config.ts';
import { planStunAddresses } from './stun-addresses.ts';

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
      stunAddresses: null,
      iceServers: null,
      turn: null,
      maxFrameBytes: 65536,
      rateMessagesPerS: 20,
      rateBurst: 200,
      rateBytesPerS: 32768,
      rateBytesBurst: 262144,
      maxBufferedBytes: 262144,
      maxHttpConnectionsPerIp: 128,
      maxSocketsPerIp: 32,
      maxSockets: 20000,
      roomCapacity: 8,
      maxFileBytes: 2 * 1024 * 1024 * 1024,
      allowedOrigins: null,
      heartbeatIntervalMs: 15000,
      logLevel: 'info',
      trustProxy: false,
      tlsFiles: null,
      redisUrl: null,
    });
  });

  it('reads every variable', () => {
    const config = loadConfig({
      HOST: '127.0.0.1',
      PORT: '9000',
      STUN_PORT: '13478',
      STUN_ALT_ADDRESS: '127.0.0.2',
      STUN_ADDRESSES: ' 2001:DB8:0::10 ,, 203.0.113.10 ',
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
      TLS_CERT: '/etc/chat/cert.pem',
      TLS_KEY: '/etc/chat/key.pem',
      REDIS_URL: ' redis://chat:pw@redis.internal:6380/2 ',
    });
    expect(config).toEqual({
      host: '127.0.0.1',
      port: 9000,
      stunPort: 13478,
      stunAltAddress: '127.0.0.2',
      stunAddresses: ['2001:db8::10', '203.0.113.10'],
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
      tlsFiles: { certPath: '/etc/chat/cert.pem', keyPath: '/etc/chat/key.pem' },
      redisUrl: 'redis://chat:pw@redis.internal:6380/2',
    });
  });

  it('hands createSignalingServer its settings and nothing that is only for main.ts', () => {
    const options = serverSettings(loadConfig({ MAX_SOCKETS: '7', TRUST_PROXY: '1' }));
    expect(options).toMatchObject({ maxSockets: 7, trustProxy: true, stunPort: 3478 });
    for (const own of ['host', 'port', 'logLevel', 'tlsFiles', 'redisUrl']) {
      expect(options).not.toHaveProperty(own);
    }
  });

  it.each([
    'redis://localhost',
    'redis://localhost:6379/0',
    'rediss://default:s3cret@redis.example.org:6380',
    'redis://[::1]:6379',
  ])('takes REDIS_URL=%s as written', (url) => {
    expect(loadConfig({ REDIS_URL: url }).redisUrl).toBe(url);
  });

  it.each([
    'localhost:6379',
    'http://user:hunter2@redis.example.org',
    'redis://user:hunter2@',
    'redis://user:hunter2@redis.example.org/zero',
    'redis://user:hunter2@redis.example.org:port',
  ])('rejects REDIS_URL=%s without quoting it', (url) => {
    const error = configError({ REDIS_URL: url });
    expect(error.variable).toBe('REDIS_URL');
    expect(error.message).toMatch(/^REDIS_URL: .*expected redis:\/\//);
    expect(error.message).not.toContain('hunter2');
    expect(error.message).not.toContain(url);
  });

  it('takes TLS_CERT and TLS_KEY together only, naming the one missing', () => {
    expect(configError({ TLS_CERT: '/etc/chat/cert.pem' }).message).toBe(
      'TLS_KEY: missing (TLS_CERT is set)',
    );
    expect(configError({ TLS_KEY: '/etc/chat/key.pem' }).message).toBe(
      'TLS_CERT: missing (TLS_KEY is set)',
    );
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

  it('takes STUN_ADDRESSES in one spelling, up to two per family, and says what is wrong', () => {
    expect(
      loadConfig({ STUN_ADDRESSES: '2001:DB8::1,10.0.0.5,fd00::2,203.0.113.10' }),
    ).toMatchObject({
      stunAddresses: ['2001:db8::1', '10.0.0.5', 'fd00::2', '203.0.113.10'],
    });
    expect(loadConfig({ STUN_ADDRESSES: ' ' }).stunAddresses).toBeNull();
    expect(configError({ STUN_ADDRESSES: '203.0.113.10:3478' }).message).toBe(
      'STUN_ADDRESSES: "203.0.113.10:3478" is not an IP address; expected IP addresses of this host without brackets or port, e.g. 203.0.113.10,2001:db8::10',
    );
    expect(configError({ STUN_ADDRESSES: 'fe80::1' }).message).toBe(
      'STUN_ADDRESSES: "fe80::1" is link-local (fe80::/10): a stun: URL cannot carry the zone it needs',
    );
    expect(configError({ STUN_ADDRESSES: '2001:db8::10,2001:DB8:0::10' }).message).toBe(
      'STUN_ADDRESSES: lists 2001:db8::10 twice',
    );
    expect(configError({ STUN_ADDRESSES: '2001:db8::1,2001:db8::2,2001:db8::3' }).message).toBe(
      'STUN_ADDRESSES: lists 3 IPv6 addresses; at most 2 per family, so that pages do not probe a dozen STUN servers',
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
    ['STUN_ADDRESSES', ' , '],
    ['STUN_ADDRESSES', 'stun.example.org'],
    ['STUN_ADDRESSES', '203.0.113.10:3478'],
    ['STUN_ADDRESSES', '[2001:db8::10]'],
    ['STUN_ADDRESSES', '2001:db8::/64'],
    ['STUN_ADDRESSES', '203.0.113.10 2001:db8::10'], // a space is not a separator
    ['STUN_ADDRESSES', '0.0.0.0'],
    ['STUN_ADDRESSES', '::'],
    ['STUN_ADDRESSES', '224.0.0.1'],
    ['STUN_ADDRESSES', 'ff02::1'],
    ['STUN_ADDRESSES', '::ffff:203.0.113.10'],
    ['STUN_ADDRESSES', 'fe80::1'],
    ['STUN_ADDRESSES', 'fe80::1%eth0'],
    ['STUN_ADDRESSES', '2001:db8::10,2001:DB8::10'],
    ['STUN_ADDRESSES', '2001:db8::1,2001:db8::2,2001:db8::3'],
    ['STUN_ADDRESSES', '203.0.113.1,203.0.113.2,203.0.113.3'],
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
    ['STUN_ADDRESSES', { STUN_PORT: '0', STUN_ADDRESSES: '2001:db8::10' }],
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

  describe('with more addresses of this host (issue #14: both families)', () => {
    /** A dual-stack host: what `planStunAddresses` offers on a wildcard HOST. */
    const DUAL = planStunAddresses('0.0.0.0', null, {
      eth0: [{ address: '198.51.100.7' }, { address: '2001:db8::7' }, { address: 'fe80::7' }],
    }).offer;
    const both = (host: string) => [{ urls: `stun:${host}:3478` }, { urls: `stun:${host}:3479` }];

    it('offers a page loaded over IPv4 the IPv6 addresses, and only those', () => {
      expect(DUAL).toEqual(['2001:db8::7', '198.51.100.7']);
      expect(defaultIceServers('203.0.113.10:8080', 3478, null, DUAL)).toEqual([
        ...both('203.0.113.10'),
        ...both('[2001:db8::7]'),
      ]);
    });

    it('offers a page loaded over IPv6 the IPv4 addresses, and only those', () => {
      expect(defaultIceServers('[2001:db8::10]:8080', 3478, null, DUAL)).toEqual([
        ...both('[2001:db8::10]'),
        ...both('198.51.100.7'),
      ]);
    });

    it('offers a page loaded by a name both families, since its DNS is not ours to look up', () => {
      expect(defaultIceServers('chat.example.org', 3478, null, DUAL)).toEqual([
        ...both('chat.example.org'),
        ...both('[2001:db8::7]'),
        ...both('198.51.100.7'),
      ]);
      expect(defaultIceServers(undefined, 3478, null, DUAL)).toEqual([
        ...both('[2001:db8::7]'),
        ...both('198.51.100.7'),
      ]);
    });

    it('offers no IPv6 from a host without a global one', () => {
      const offer = planStunAddresses('0.0.0.0', null, {
        eth0: [{ address: '198.51.100.7' }, { address: 'fd00::7' }, { address: 'fe80::7' }],
      }).offer;
      expect(defaultIceServers('198.51.100.7', 3478, null, offer)).toEqual(both('198.51.100.7'));
    });

    it('offers what STUN_ADDRESSES lists instead of what the interfaces have', () => {
      const { stunAddresses } = loadConfig({ STUN_ADDRESSES: 'FD00::2,192.168.1.5' });
      const offer = planStunAddresses('0.0.0.0', stunAddresses, {
        eth0: [{ address: '2001:db8::7' }],
      }).offer;
      expect(defaultIceServers('192.168.1.5:8080', 3478, null, offer)).toEqual([
        ...both('192.168.1.5'),
        ...both('[fd00::2]'),
      ]);
      expect(defaultIceServers('[fd00::2]', 3478, null, offer)).toEqual([
        ...both('[fd00::2]'),
        ...both('192.168.1.5'),
      ]);
    });

    it('lists a host once, in whichever spelling it comes', () => {
      expect(defaultIceServers('[2001:DB8::7]', 3478, '2001:db8:0::7', DUAL)).toEqual([
        ...both('[2001:db8::7]'),
        ...both('198.51.100.7'),
      ]);
      expect(defaultIceServers('chat.example.org', 3478, '2001:db8::7', DUAL)).toEqual([
        ...both('chat.example.org'),
        ...both('[2001:db8::7]'),
        ...both('198.51.100.7'),
      ]);
      expect(defaultIceServers('203.0.113.11', 3478, '203.0.113.11')).toEqual(both('203.0.113.11'));
    });

    it('stays within two addresses per family however many the host has', () => {
      const many = planStunAddresses('::', null, {
        eth0: ['1', '2', '3', '4'].map((n) => ({ address: `2001:db8::${n}` })),
      }).offer;
      expect(defaultIceServers('203.0.113.10', 3478, null, many)).toEqual([
        ...both('203.0.113.10'),
        ...both('[2001:db8::1]'),
        ...both('[2001:db8::2]'),
      ]);
    });

    it('offers none of them when STUN is off', () => {
      expect(defaultIceServers('203.0.113.10', 0, null, DUAL)).toEqual([]);
    });
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

/** A self-signed certificate and its key, made by openssl, as TLS_CERT/TLS_KEY would name them. */
function makeCertificate(dir: string, name: string): TlsFiles {
  const files = { certPath: join(dir, `${name}-cert.pem`), keyPath: join(dir, `${name}-key.pem`) };
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
      .concat(['-days', '1', '-subj', '/CN=localhost'])
      .concat(['-keyout', files.keyPath, '-out', files.certPath]),
    { stdio: 'ignore' },
  );
  return files;
}

/** The ConfigError `readTlsCredentials(files)` throws; fails the test if it throws nothing. */
function tlsError(files: TlsFiles): ConfigError {
  try {
    readTlsCredentials(files);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`readTlsCredentials accepted ${JSON.stringify(files)}`);
}

describe('readTlsCredentials', () => {
  let dir: string;
  let good: TlsFiles;
  let other: TlsFiles;
  let junk: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tls-config-'));
    good = makeCertificate(dir, 'good');
    other = makeCertificate(dir, 'other');
    junk = join(dir, 'junk.pem');
    writeFileSync(junk, 'not a PEM file\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('gives nothing without TLS files', () => {
    expect(readTlsCredentials(null)).toBeNull();
  });

  it('reads a certificate and its key', () => {
    expect(readTlsCredentials(good)).toEqual({
      cert: readFileSync(good.certPath),
      key: readFileSync(good.keyPath),
    });
  });

  it('reads through the reader it is given', () => {
    const read: string[] = [];
    const readFile = (path: string) => (read.push(path), readFileSync(path));
    expect(readTlsCredentials(good, readFile)).not.toBeNull();
    expect(read).toEqual([good.certPath, good.keyPath]);
  });

  it('names TLS_CERT for a certificate it cannot read or use', () => {
    const missing = join(dir, 'missing.pem');
    expect(tlsError({ ...good, certPath: missing }).message).toBe(
      `TLS_CERT: cannot read ${JSON.stringify(missing)} (ENOENT)`,
    );
    expect(tlsError({ ...good, certPath: dir }).message).toMatch(/^TLS_CERT: cannot read .*EISDIR/);
    expect(tlsError({ ...good, certPath: junk }).message).toMatch(
      /^TLS_CERT: ".*junk\.pem" is not a PEM certificate \(.*\)$/,
    );
    // The key file where the certificate should be: not a certificate.
    expect(tlsError({ ...good, certPath: good.keyPath }).variable).toBe('TLS_CERT');
  });

  it('names TLS_KEY for a key it cannot read or use, never quoting the key', () => {
    const key = readFileSync(good.keyPath, 'utf8');
    const errors = [
      tlsError({ ...good, keyPath: join(dir, 'missing.pem') }),
      tlsError({ ...good, keyPath: junk }),
      tlsError({ ...good, keyPath: good.certPath }), // the certificate where the key should be
      tlsError({ ...good, keyPath: other.keyPath }), // someone else's key
    ];
    expect(errors.map((error) => error.variable)).toEqual(Array(4).fill('TLS_KEY'));
    expect(errors[1]?.message).toMatch(/is not an unencrypted PEM private key/);
    expect(errors[3]?.message).toMatch(
      /^TLS_KEY: is not the private key of the certificate in TLS_CERT \(.*key values mismatch\)$/,
    );
    const body = key.split('\n').find((line) => line.length > 20) ?? key;
    for (const error of errors) expect(error.message).not.toContain(body);
  });
});
