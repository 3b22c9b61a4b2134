/**
 * Server configuration from environment variables, written once: {@link SETTINGS} has one row per
 * variable (its name, default, range, unit, meaning for operators, and how it is read). From that
 * table come the loader ({@link loadConfig}), the {@link ServerConfig} type, the option types and
 * defaults of `createSignalingServer` (`SERVER_DEFAULTS` in server.ts), and README's
 * "Configuration" table (`npm run readme:config`; `signaling/settings.test.ts` fails while README
 * differs).
 *
 * Bad values stop start-up with a {@link ConfigError} that names the variable, instead of running
 * with a half-understood setting. No error message ever quotes `TURN_SECRET`, `TURN_CREDENTIAL`
 * or `REDIS_URL` (which may hold a password).
 */
import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { iceUrlScheme, isTurnScheme, parseStrictIceUrl } from '../common/ice-url.ts';
import { canonicalHost, isIpv4Mapped, parseIpAddress } from '../common/ip-address.ts';
import { isLogLevel, LOG_LEVELS, type LogLevel } from './log.ts';
import {
  MAX_FRAME_BYTES,
  MAX_FILE_BYTES,
  ROOM_CAPACITY,
  ROOM_SIZE_RANGE,
  parseIceServers,
  type IceServer,
} from './protocol.ts';
import { MAX_STUN_ADDRESSES_PER_FAMILY } from './stun-addresses.ts';
import { STUN_SECOND_PORT_OFFSET } from './stun.ts';
import { MAX_TURN_TTL_S, MIN_TURN_TTL_S, type TurnConfig } from './turn.ts';

/** A configuration variable has a value we will not guess the meaning of. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** @param variable the environment variable at fault, e.g. `PORT`. */
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

/** The environment, e.g. `process.env`. */
export type Env = Readonly<Record<string, string | undefined>>;

/** What every row of {@link SETTINGS} says: what README's "Configuration" table is made of. */
interface SettingBase {
  /** The environment variable: a contract with operators, never renamed. */
  readonly env: string;
  /** The value when unset or empty: README's Default column, unless {@link defaultText}. */
  readonly default: string | number | boolean | null;
  /** README's Default column where `default` does not say it (e.g. `null` standing for ours). */
  readonly defaultText?: string;
  /** Inclusive bounds of a whole number. */
  readonly range?: readonly [min: number, max: number];
  /** Unit of a number, for README; the config field's name carries it too (`…Bytes`, `…Ms`). */
  readonly unit?: string;
  /** What it does, for operators: README's Meaning column (Markdown, one line). */
  readonly meaning: string;
}

/** A row that is a field of {@link ServerConfig}, under the row's name. */
export interface FieldSetting extends SettingBase {
  /**
   * Reads the variable from `env`; {@link loadConfig} passes each row itself as `row`. Method
   * syntax on purpose: each reader declares the shape of row it needs (e.g. one with a `range`).
   * @throws {ConfigError} naming the variable.
   */
  read(env: Env, row: FieldSetting): unknown;
  /** `createSignalingServer` takes it as an option of the same name and type (server.ts). */
  readonly server?: boolean;
  /** A whole number that may not be below the value of this other row (its name). */
  readonly atLeast?: string;
}

/** A variable that the reader of another row reads along with its own (e.g. `TURN_SECRET`). */
export interface PartSetting extends SettingBase {
  /** Name of that row. */
  readonly partOf: string;
}

/** A row of {@link SETTINGS}. */
export type Setting = FieldSetting | PartSetting;

/** The variable's value, or `undefined` when unset or empty (which both mean "default"). */
function read(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw === '' ? undefined : raw;
}

/** A row whose value is a whole number within its range. */
type NumberRow = SettingBase & {
  readonly default: number;
  readonly range: readonly [min: number, max: number];
};

/**
 * A whole number within `row.range`, or `row.default` when unset.
 * @param expected what the message says was expected, before the range: "a whole number".
 * @param trim whether surrounding whitespace is forgiven.
 */
function readWholeNumber(env: Env, row: NumberRow, expected: string, trim: boolean): number {
  const raw = trim ? read(env, row.env)?.trim() : read(env, row.env);
  if (raw === undefined) return row.default;
  const [min, max] = row.range;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    throw new ConfigError(
      row.env,
      `expected ${expected} ${min}–${max}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

/** A limit: a whole number within its range, and at least the row named by `atLeast`. */
function readLimit(env: Env, row: FieldSetting & NumberRow): number {
  const value = readWholeNumber(env, row, 'a whole number', true);
  if (row.atLeast === undefined) return value;
  const floorName = row.atLeast as FieldName;
  const floor = readSetting(env, floorName);
  if (typeof floor !== 'number') throw new TypeError(`atLeast: ${floorName} is not a number`);
  // E.g. a frame the byte bucket can never admit, or a queue that cannot take one frame, would
  // lock every page out: say so now.
  if (value < floor) {
    throw new ConfigError(
      row.env,
      `must be at least ${SETTINGS[floorName].env} (${floor}), got ${value}`,
    );
  }
  return value;
}

function readPort(env: Env, row: FieldSetting & NumberRow): number {
  return readWholeNumber(env, row, 'a port number', false);
}

function readHost(env: Env, row: FieldSetting & { readonly default: string }): string {
  return env[row.env]?.trim() || row.default;
}

function readStunAltAddress(env: Env, row: SettingBase): string | null {
  const raw = read(env, row.env)?.trim();
  if (raw === undefined || raw === '') return null;
  const name = row.env;
  if (!isIPv4(raw) && !isIPv6(raw)) {
    throw new ConfigError(name, `expected an IP address of this host, got ${JSON.stringify(raw)}`);
  }
  if (raw === '0.0.0.0' || raw === '::') {
    throw new ConfigError(name, 'must be one address of this host, not a wildcard');
  }
  if (raw === readSetting(env, 'host')) throw new ConfigError(name, 'must differ from HOST');
  if (readSetting(env, 'stunPort') === 0) {
    throw new ConfigError(name, 'is set, but STUN_PORT=0 turns STUN off');
  }
  return raw;
}

/**
 * `STUN_ADDRESSES`: comma-separated IP literals, canonical (RFC 5952 for IPv6) and checked, or
 * `null` when unset (discover them: `planStunAddresses` in stun-addresses.ts). Refused, naming the
 * entry: anything but an IP literal (names, ports, brackets, CIDR), a wildcard, multicast, an
 * IPv4-mapped IPv6 address (write the IPv4), a zone or an IPv6 link-local address (a `stun:` URI
 * takes an RFC 3986 host, RFC 7064 §3.1, which has no zone; a link-local one needs it), repeats,
 * more than {@link MAX_STUN_ADDRESSES_PER_FAMILY} per family, and any address with `STUN_PORT=0`.
 * Loopback and private addresses are taken: the operator knows who can reach them.
 */
function readStunAddresses(env: Env, row: SettingBase): readonly string[] | null {
  const name = row.env;
  const raw = read(env, name);
  if (raw === undefined || raw.trim() === '') return null;
  const entries = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0) throw new ConfigError(name, 'lists no address');
  if (readSetting(env, 'stunPort') === 0) {
    throw new ConfigError(name, 'is set, but STUN_PORT=0 turns STUN off');
  }
  const addresses: string[] = [];
  for (const entry of entries) {
    const quoted = JSON.stringify(entry);
    const problem = stunAddressProblem(entry);
    if (problem !== null) throw new ConfigError(name, `${quoted} ${problem}`);
    const address = canonicalHost(entry);
    if (addresses.includes(address)) throw new ConfigError(name, `lists ${address} twice`);
    addresses.push(address);
  }
  for (const family of ['IPv4', 'IPv6'] as const) {
    const count = addresses.filter((address) => parseIpAddress(address)?.family === family).length;
    if (count > MAX_STUN_ADDRESSES_PER_FAMILY) {
      throw new ConfigError(
        name,
        `lists ${count} ${family} addresses; at most ${MAX_STUN_ADDRESSES_PER_FAMILY} per family, so that pages do not probe a dozen STUN servers`,
      );
    }
  }
  return addresses;
}

/** Why `entry` cannot be a STUN address of this host (the end of a sentence), or `null`. */
function stunAddressProblem(entry: string): string | null {
  const expected =
    'is not an IP address; expected IP addresses of this host without brackets or port, e.g. 203.0.113.10,2001:db8::10';
  if (entry.includes('%')) return 'has a zone, which a stun: URL cannot carry';
  if (!isIPv4(entry) && !isIPv6(entry)) return expected;
  const ip = parseIpAddress(entry);
  if (ip === null) return expected;
  const [a = 0, b = 0] = ip.bytes;
  if (ip.bytes.every((byte) => byte === 0)) return 'is a wildcard, not one address';
  if (ip.family === 'IPv4') return a >= 224 ? 'is multicast or reserved, not unicast' : null;
  if (isIpv4Mapped(ip.bytes)) return 'is IPv4-mapped; write the IPv4 address';
  if (a === 0xff) return 'is multicast, not unicast';
  if (a === 0xfe && (b & 0xc0) === 0x80) {
    return 'is link-local (fe80::/10): a stun: URL cannot carry the zone it needs';
  }
  return null;
}

function readIceServers(env: Env, row: SettingBase): IceServer[] | null {
  const name = row.env;
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return null;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    throw new ConfigError(name, `not valid JSON (${(error as Error).message})`);
  }
  const servers = parseIceServers(value);
  if (!servers) {
    throw new ConfigError(
      name,
      'expected a JSON array of RTCIceServer, e.g. [{"urls":"stun:stun.example.org:3478"}]',
    );
  }
  // What the browser would refuse: `new RTCPeerConnection` throws on an unknown scheme
  // (SyntaxError) or on a TURN URL without username and credential (InvalidAccessError), and
  // the page could then make no connection at all. Better to say so here, at start-up.
  for (const server of servers) {
    const urls = Array.isArray(server.urls) ? server.urls : [server.urls];
    const bad = urls.find((url) => iceUrlScheme(url) === null);
    if (bad !== undefined) {
      throw new ConfigError(
        name,
        `${JSON.stringify(bad)} is not a stun:, stuns:, turn: or turns: URL`,
      );
    }
    const turn = urls.find((url) => isTurnScheme(iceUrlScheme(url)));
    if (turn !== undefined && (server.username === undefined || server.credential === undefined)) {
      throw new ConfigError(name, `${JSON.stringify(turn)} needs username and credential`);
    }
  }
  return servers;
}

function readTurnUrls(env: Env): string[] | null {
  const raw = read(env, 'TURN_URLS');
  if (raw === undefined) return null;
  const urls = raw
    .split(',')
    .map((url) => url.trim())
    .filter((url) => url !== '');
  if (urls.length === 0) throw new ConfigError('TURN_URLS', 'lists no URL');
  for (const url of urls) {
    if (!isTurnScheme(parseStrictIceUrl(url)?.scheme ?? null)) {
      throw new ConfigError(
        'TURN_URLS',
        `${JSON.stringify(url)} is not a TURN URL; expected turn:host[:port][?transport=udp|tcp] ` +
          'or turns:host[:port][?transport=tcp] (RFC 7065), comma-separated',
      );
    }
  }
  return urls;
}

/**
 * `TURN_URLS` with exactly one kind of credentials: `TURN_SECRET` (+ optional `TURN_TTL_S`), or
 * `TURN_USERNAME` + `TURN_CREDENTIAL`. A browser refuses a TURN server without credentials, and
 * credentials without a server mean a half-done setup: both are errors.
 */
function readTurn(env: Env): TurnConfig | null {
  const urls = readTurnUrls(env);
  const secret = read(env, 'TURN_SECRET');
  const username = read(env, 'TURN_USERNAME');
  const credential = read(env, 'TURN_CREDENTIAL');
  const ttlSet = read(env, 'TURN_TTL_S') !== undefined;

  if (urls === null) {
    const orphan = [
      ['TURN_SECRET', secret],
      ['TURN_USERNAME', username],
      ['TURN_CREDENTIAL', credential],
      ['TURN_TTL_S', ttlSet ? 'set' : undefined],
    ].find(([, value]) => value !== undefined)?.[0];
    if (orphan !== undefined) throw new ConfigError(orphan, 'is set, but TURN_URLS is not');
    return null;
  }
  if (secret !== undefined) {
    if (username !== undefined || credential !== undefined) {
      throw new ConfigError(
        'TURN_SECRET',
        'set either TURN_SECRET (minted credentials) or TURN_USERNAME/TURN_CREDENTIAL, not both',
      );
    }
    // Not echoed. A stray newline from a copy-paste would make every minted credential differ
    // from what coturn computes, and all it would say is 401.
    if (secret.trim() !== secret) {
      throw new ConfigError('TURN_SECRET', 'has leading or trailing whitespace');
    }
    const ttlS = readWholeNumber(env, SETTINGS.turnTtlS, 'whole seconds,', false);
    return { urls, auth: { kind: 'secret', secret, ttlS } };
  }
  if (ttlSet) throw new ConfigError('TURN_TTL_S', 'only applies with TURN_SECRET');
  if (username === undefined && credential === undefined) {
    throw new ConfigError(
      'TURN_URLS',
      'needs credentials: TURN_SECRET, or TURN_USERNAME and TURN_CREDENTIAL',
    );
  }
  if (username === undefined) {
    throw new ConfigError('TURN_USERNAME', 'missing (TURN_CREDENTIAL is set)');
  }
  if (credential === undefined) {
    throw new ConfigError('TURN_CREDENTIAL', 'missing (TURN_USERNAME is set)');
  }
  return { urls, auth: { kind: 'static', username, credential } };
}

/** `ALLOWED_ORIGINS`: comma-separated origins, or `*`. */
function readAllowedOrigins(env: Env, row: SettingBase): readonly string[] | null {
  const name = row.env;
  const raw = read(env, name);
  if (raw === undefined) return null;
  const entries = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0) throw new ConfigError(name, 'lists no origin');
  if (entries.includes('*')) {
    if (entries.length > 1) throw new ConfigError(name, '* stands alone');
    return ['*'];
  }
  return entries.map((entry) => {
    const origin = parseOrigin(entry);
    if (origin === null) {
      throw new ConfigError(
        name,
        `${JSON.stringify(entry)} is not an origin; expected e.g. https://chat.example.org`,
      );
    }
    return origin;
  });
}

/**
 * `value` as a web origin (RFC 6454 §6.1 serialisation, as `URL.origin` gives it: lower-case
 * host, default port dropped), or `null` unless it is exactly `http(s)://host[:port]` with
 * nothing after but an optional `/`.
 */
export function parseOrigin(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (url.username || url.password || url.search || url.hash || url.pathname !== '/') return null;
  // `URL` removes dot segments (`https://a.example/.` has path `/`): refuse any path outright.
  if (/^[a-z]+:\/\/[^/]*\/./i.test(value)) return null;
  return url.origin;
}

function readLogLevel(env: Env, row: FieldSetting & { readonly default: LogLevel }): LogLevel {
  const raw = read(env, row.env)?.trim().toLowerCase();
  if (raw === undefined) return row.default;
  if (!isLogLevel(raw)) {
    throw new ConfigError(row.env, `expected one of ${LOG_LEVELS.join(', ')}, got ${raw}`);
  }
  return raw;
}

/** `1` or `0`; unset is `0`. */
function readFlag(env: Env, row: SettingBase): boolean {
  const raw = read(env, row.env)?.trim();
  if (raw === undefined || raw === '0') return false;
  if (raw === '1') return true;
  throw new ConfigError(row.env, `expected 1 or 0, got ${JSON.stringify(raw)}`);
}

/** Paths of the PEM files `npm start` serves HTTPS with; {@link readTlsCredentials} reads them. */
export interface TlsFiles {
  /** `TLS_CERT`: the certificate chain, leaf first. */
  certPath: string;
  /** `TLS_KEY`: its private key. */
  keyPath: string;
}

/** `TLS_CERT` and `TLS_KEY`, both or neither. Paths are taken as written (spaces are legal). */
function readTlsFiles(env: Env): TlsFiles | null {
  const certPath = read(env, 'TLS_CERT');
  const keyPath = read(env, 'TLS_KEY');
  if (certPath === undefined && keyPath === undefined) return null;
  if (keyPath === undefined) throw new ConfigError('TLS_KEY', 'missing (TLS_CERT is set)');
  if (certPath === undefined) throw new ConfigError('TLS_CERT', 'missing (TLS_KEY is set)');
  return { certPath, keyPath };
}

/**
 * `REDIS_URL` as node-redis reads it (`RedisClient.parseURL`): `redis:` or `rediss:` (TLS), a
 * host, and a path that is at most a database number. The value is never echoed: it may hold a
 * password.
 */
function readRedisUrl(env: Env, row: SettingBase): string | null {
  const name = row.env;
  const raw = read(env, name)?.trim();
  if (raw === undefined || raw === '') return null;
  const expected = 'expected redis://[user:password@]host[:port][/db], or rediss:// for TLS';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, `not a URL; ${expected}`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    // Not even the scheme is echoed: in `pw:…` or `user:pw@…` it may be the password.
    throw new ConfigError(name, `the scheme must be redis: or rediss:; ${expected}`);
  }
  if (url.hostname === '') throw new ConfigError(name, `names no host; ${expected}`);
  if (!/^(\/\d*)?$/.test(url.pathname)) {
    throw new ConfigError(name, `the path must be a database number, e.g. /0; ${expected}`);
  }
  return raw;
}

/**
 * Every setting of `npm start`, one row per environment variable, in README's order (which is
 * also the order they are read and checked in). A row under the name of a {@link ServerConfig}
 * field has `read`; a variable read by another row's reader has `partOf` instead.
 *
 * To add a setting: add a row (env, default, range and unit if a number, meaning, `read`;
 * `server: true` if `createSignalingServer` takes it, which then finds it in its options under
 * the row's name, with its default in `SERVER_DEFAULTS`), then `npm run readme:config`.
 * Put the reason for a default or a bound in the row's JSDoc, and units in names (`…Ms`).
 */
export const SETTINGS = {
  /** Address the HTTP/WebSocket server and the STUN responder bind to. */
  host: {
    env: 'HOST',
    default: '0.0.0.0',
    meaning: 'Address the web server and the STUN responder bind to.',
    read: readHost,
  },
  /** TCP port of the page and the signaling WebSocket; 0 = an ephemeral one (tests). */
  port: {
    env: 'PORT',
    default: 8080,
    range: [0, 65535],
    meaning: 'TCP port of the page and the signaling WebSocket (`/ws`); HTTPS with `TLS_CERT`.',
    read: readPort,
  },
  /**
   * `TLS_CERT` and `TLS_KEY`: the PEM files to serve HTTPS with; `null` = plain HTTP. Read once
   * at start-up by `readTlsCredentials`, which checks them (`npm start` stops on a bad one,
   * naming it); the server keeps what it read, so a renewed certificate needs a restart.
   */
  tlsFiles: {
    env: 'TLS_CERT',
    default: null,
    meaning:
      'PEM file of the certificate (the chain, leaf first): `npm start` then serves the page and `wss://` over HTTPS on `PORT` itself, no proxy needed. Needs `TLS_KEY`. Read at start-up: restart after renewing it.',
    read: readTlsFiles,
  },
  tlsKey: {
    env: 'TLS_KEY',
    default: null,
    meaning: "PEM file of the certificate's private key (not encrypted). Needs `TLS_CERT`.",
    partOf: 'tlsFiles',
  },
  /**
   * First UDP port of the STUN responder, which also answers on the next one; 3478 is STUN's
   * registered port (RFC 8489 §18.6). `STUN_PORT + 1` is ours too, so 65535 cannot be the first.
   */
  stunPort: {
    env: 'STUN_PORT',
    default: 3478,
    range: [0, 65535 - STUN_SECOND_PORT_OFFSET],
    server: true,
    meaning:
      'UDP port of the built-in STUN responder (RFC 8489 Binding). It also answers on `STUN_PORT + 1`, so pages can compare their mappings to two destinations. `0` turns it off.',
    read: readPort,
  },
  /** A second IP literal of this host on which the responder also answers, on both ports. */
  stunAltAddress: {
    env: 'STUN_ALT_ADDRESS',
    default: null,
    server: true,
    meaning:
      'A second IP address of this host; the responder answers there too (both ports), and pages get it as two more STUN servers.',
    read: readStunAltAddress,
  },
  /**
   * More addresses of this host for STUN, so that a page can test the family it did not load
   * the page over (issue #14); `null` (unset) = discover them from the interfaces when `HOST` is
   * a wildcard. `main.ts` resolves it (`planStunAddresses` in stun-addresses.ts, which documents
   * the discovery heuristic and its limits) and hands `createSignalingServer` the result as its
   * own `stunAddresses` option, hence no `server: true` here.
   */
  stunAddresses: {
    env: 'STUN_ADDRESSES',
    default: null,
    defaultText: '(discovered)',
    meaning: `Comma-separated IP addresses of this host (at most ${MAX_STUN_ADDRESSES_PER_FAMILY} per family) that STUN also answers on: a page loaded over IPv4 gets the IPv6 ones, over IPv6 the IPv4 ones, by a name both. Default with \`HOST\` \`0.0.0.0\` or \`::\`: its global IPv6 and public IPv4, not LAN ones.`,
    read: readStunAddresses,
  },
  /**
   * ICE servers handed to every page; `null` means the default, our STUN responder on the host
   * the page was loaded from and on `stunAddresses` ({@link defaultIceServers}). Either way the
   * TURN entry, when `turn` is set, is appended per socket.
   */
  iceServers: {
    env: 'ICE_SERVERS',
    default: null,
    defaultText: '(see right)',
    server: true,
    meaning:
      'JSON array of `RTCIceServer`, replacing the STUN list, e.g. `[{"urls":"stun:stun.example.org:3478"}]`. Default: `stun:<the host the page was loaded from>:<STUN_PORT>` and `:<STUN_PORT + 1>`, then the addresses above. TURN (below) is appended.',
    read: readIceServers,
  },
  /**
   * `TURN_URLS` with its credentials; `null` = no relay. Appended to the ICE servers of every
   * `joined` with
   * credentials of that socket's own (minted from the secret, or the static ones). The secret
   * never leaves the server.
   */
  turn: {
    env: 'TURN_URLS',
    default: null,
    server: true,
    meaning:
      'Comma-separated TURN URLs (RFC 7065), e.g. `turn:turn.example.org:3478?transport=udp,turn:turn.example.org:3478?transport=tcp`. Needs credentials: `TURN_SECRET`, or `TURN_USERNAME` and `TURN_CREDENTIAL`.',
    read: readTurn,
  },
  turnSecret: {
    env: 'TURN_SECRET',
    default: null,
    meaning:
      "coturn's `static-auth-secret`. The server mints each page its own credential (TURN REST API: username `<expiry unix s>:<peer id>`, credential base64(HMAC-SHA1(secret, username))). The secret never reaches a page or a log.",
    partOf: 'turn',
  },
  /**
   * It must cover the wait between a page's `hello` and its first TURN Allocate, i.e. until the
   * other person opens the link; the bounds are turn.ts's.
   */
  turnTtlS: {
    env: 'TURN_TTL_S',
    default: 60 * 60,
    range: [MIN_TURN_TTL_S, MAX_TURN_TTL_S],
    unit: 's',
    meaning: 'Lifetime of a credential minted from `TURN_SECRET`.',
    partOf: 'turn',
  },
  turnUsername: {
    env: 'TURN_USERNAME',
    default: null,
    meaning:
      'Static TURN username instead of a secret, with `TURN_CREDENTIAL` (every page gets the same ones).',
    partOf: 'turn',
  },
  turnCredential: {
    env: 'TURN_CREDENTIAL',
    default: null,
    meaning: 'Password of `TURN_USERNAME`.',
    partOf: 'turn',
  },
  /**
   * Largest frame a socket may send (ws `maxPayload`); larger ones close it with 1009. The
   * page's largest frame is its diagnostics view, up to half of the protocol's 64 KiB.
   */
  maxFrameBytes: {
    env: 'MAX_FRAME_BYTES',
    default: MAX_FRAME_BYTES,
    range: [1024, 1024 * 1024],
    unit: 'bytes',
    server: true,
    meaning: 'Largest signaling frame; a larger one closes the socket with 1009.',
    read: readLimit,
  },
  /**
   * Sustained messages per second per socket, 0 = unlimited; beyond it and the burst, close
   * 4008. A page sends a few per minute once connected (an app-level ping every 5 s), so 20
   * leaves ample room.
   */
  rateMessagesPerS: {
    env: 'RATE_MESSAGES_PER_S',
    default: 20,
    range: [0, 1_000_000],
    unit: 'messages/s',
    server: true,
    meaning:
      'Steady signaling messages per second per socket (`0` = no limit); over it the socket is closed with 4008.',
    read: readLimit,
  },
  /**
   * Messages a socket may send at once before the sustained rate applies. A page joining a full
   * room sends, to each of the others, its SDP, 10–20 trickled candidates
   * and its NAT report (issue #10): 25 per peer, plus as many again for an ICE restart on top.
   * The page paces itself against this (it is in `hello`), so a larger room only takes longer,
   * never a close.
   */
  rateBurst: {
    env: 'RATE_BURST',
    default: 25 * ROOM_CAPACITY,
    range: [1, 1_000_000],
    unit: 'messages',
    server: true,
    meaning:
      'Messages a socket may send at once: a join into a full room of 8 sends SDP, trickled candidates and a NAT report to each of the 7 others. The page reads this (and every limit here) from `hello` and paces itself.',
    read: readLimit,
  },
  /**
   * Sustained bytes per second per socket, 0 = unlimited; beyond it and `rateBytesBurst`, close
   * 4008. Parsing costs per byte, not per message, so this is the CPU budget (issue #9). An honest
   * page's steadiest traffic is its diagnostics view, at most half a frame every 2 s
   * (`SHARE_INTERVAL_MS`), ~16 KiB/s: 32 KiB/s is twice that.
   */
  rateBytesPerS: {
    env: 'RATE_BYTES_PER_S',
    default: 32 * 1024,
    range: [0, 1024 * 1024 * 1024],
    unit: 'bytes/s',
    server: true,
    meaning:
      "Steady signaling bytes per second per socket (`0` = no limit): the CPU budget, since parsing is paid per byte. Over it the socket is closed with 4008. A page's steadiest traffic, its diagnostics view, is ~16 KiB/s.",
    read: readLimit,
  },
  /**
   * Bytes a socket may send at once. A join into a full room brings, per other person, an SDP
   * (~1.5 KiB), candidates (~3 KiB) and
   * a NAT report (~2 KiB): ~45 KiB for seven; four largest frames leave room for diagnostics
   * views asked for at once.
   */
  rateBytesBurst: {
    env: 'RATE_BYTES_BURST',
    default: 4 * MAX_FRAME_BYTES,
    range: [1024, 1024 * 1024 * 1024],
    unit: 'bytes',
    atLeast: 'maxFrameBytes',
    server: true,
    meaning: 'Bytes a socket may send at once.',
    read: readLimit,
  },
  /**
   * Bytes the server may hold queued for one socket (ws `bufferedAmount`); sending to a socket
   * past it closes that socket with 4009. A page reads what it is sent at once;
   * a socket past this has stopped reading and is closed with 4009, rather than growing the
   * server's memory. Four largest frames.
   */
  maxBufferedBytes: {
    env: 'MAX_BUFFERED_BYTES',
    default: 4 * MAX_FRAME_BYTES,
    range: [1024, 1024 * 1024 * 1024],
    unit: 'bytes',
    atLeast: 'maxFrameBytes',
    server: true,
    meaning:
      "Bytes the server may hold queued for one socket; a socket past it has stopped reading and is closed with 4009 instead of growing the server's memory.",
    read: readLimit,
  },
  /**
   * Open HTTP connections per client address that have not become WebSockets, 0 = unlimited; one
   * beyond is answered 429 and closed. A browser opens up to 6 per host and keeps them open
   * between requests (keep-alive, 5 s here); a full room behind one address (an office, a CGNAT:
   * ROOM_SIZE 8 × 6 = 48) loading the page at once must fit, with room for a second room. With 32
   * the seventh person's page of a room behind one NAT got 429 for its script (bench/group-join.ts,
   * 2026-12-07). Off with `trustProxy`: every connection then comes from the proxy.
   */
  maxHttpConnectionsPerIp: {
    env: 'MAX_HTTP_CONNECTIONS_PER_IP',
    default: 128,
    range: [0, 1_000_000],
    unit: 'connections',
    server: true,
    meaning:
      'Open HTTP connections per client address (IPv6: per /64) that are not WebSockets, `0` = unlimited; one more is answered 429 and closed. Off with `TRUST_PROXY` (the proxy should cap them).',
    read: readLimit,
  },
  /**
   * Open sockets per client address (IPv6: per /64), 0 = unlimited; an upgrade beyond gets 429.
   * One person has one socket per open tab; a household or an office shares one address.
   */
  maxSocketsPerIp: {
    env: 'MAX_SOCKETS_PER_IP',
    default: 32,
    range: [0, 1_000_000],
    unit: 'sockets',
    server: true,
    meaning:
      'Open sockets per client address (IPv6: per /64, what one subscriber gets), `0` = unlimited; over it the upgrade gets HTTP 429.',
    read: readLimit,
  },
  /** Open sockets in all, 0 = unlimited; an upgrade beyond gets 503. ~10,000 two-person rooms. */
  maxSockets: {
    env: 'MAX_SOCKETS',
    default: 20_000,
    range: [0, 10_000_000],
    unit: 'sockets',
    server: true,
    meaning: 'Open sockets in total, `0` = unlimited; over it the upgrade gets HTTP 503.',
    read: readLimit,
  },
  /** People per room; a join beyond gets `room-full` and close 4003. A full mesh: see `ROOM_SIZE_RANGE` in protocol.ts. */
  roomCapacity: {
    env: 'ROOM_SIZE',
    default: ROOM_CAPACITY,
    range: ROOM_SIZE_RANGE,
    unit: 'people',
    server: true,
    meaning:
      'People per room. Everyone connects to everyone (full mesh); the next person is told the room is full.',
    read: readLimit,
  },
  /**
   * Largest file pages send or accept, told to them in `hello`. Up to 1 TiB: receivers keep
   * files outside the JS heap, in Blobs, which the browser spills to disk.
   */
  maxFileBytes: {
    env: 'MAX_FILE_BYTES',
    default: MAX_FILE_BYTES,
    range: [1, 1024 * 1024 * 1024 * 1024],
    unit: 'bytes',
    server: true,
    meaning:
      'Largest file a page sends or accepts. Told to every page in `hello`; files themselves never pass through the server.',
    read: readLimit,
  },
  /**
   * Origins (`scheme://host[:port]`, normalised as `URL.origin`) whose pages may open a signaling
   * socket; `['*']` allows any; `null` (unset) allows only a page of the same host as the
   * request's `Host`. Others get HTTP 403. Requests without `Origin` are not from a browser and
   * always pass: the check keeps other web pages from using the server through their visitors'
   * browsers; any other program can set the header to anything.
   */
  allowedOrigins: {
    env: 'ALLOWED_ORIGINS',
    default: null,
    defaultText: '(same origin)',
    server: true,
    meaning:
      "Comma-separated origins allowed to open the WebSocket, or `*`. Default: the `Origin` must be the page's own (`Host`). Clients without an `Origin` (not browsers) are let in: the check stops other web pages, not scripts.",
    read: readAllowedOrigins,
  },
  /**
   * WebSocket ping interval: every socket is pinged once per interval and dropped if it has not
   * answered, at most 1.5× this after its last pong. Frames it sends do not count as life (issue
   * #9): only a pong shows it reads what we send. server.ts spreads the pings over the interval.
   */
  heartbeatIntervalMs: {
    env: 'HEARTBEAT_INTERVAL_MS',
    default: 15 * 1000,
    range: [1000, 60 * 60 * 1000],
    unit: 'ms',
    server: true,
    meaning:
      'WebSocket ping interval: every socket is pinged once per interval, and one that has not answered (pong) is dropped within 1.5× this of its last pong. Frames a socket sends do not count: only a pong shows it reads.',
    read: readLimit,
  },
  /** pino level; `signaling/log.ts` says what each level logs. */
  logLevel: {
    env: 'LOG_LEVEL',
    default: 'info',
    meaning:
      'pino level (`fatal` … `trace`, `silent`). Logs are JSON lines; no level ever logs SDP, candidates, chat or client addresses (a keyed hash tells clients apart).',
    read: readLogLevel,
  },
  /**
   * Take the client address from the last `X-Forwarded-For` entry (the one our reverse proxy
   * appended) rather than the TCP peer. Only behind exactly one proxy that sets it: otherwise any
   * client could claim any address and escape `maxSocketsPerIp`.
   */
  trustProxy: {
    env: 'TRUST_PROXY',
    default: false,
    server: true,
    meaning:
      '`1` takes the client address from the last `X-Forwarded-For` entry; only behind exactly one proxy that sets it.',
    read: readFlag,
  },
  /** Redis that processes share rooms through (issue #12); `null` = rooms in this process only. */
  redisUrl: {
    env: 'REDIS_URL',
    default: null,
    meaning:
      'Redis that several `npm start` processes share rooms through: `redis://[user:password@]host[:port][/db]`, or `rediss://` for TLS. Unset: rooms live in this one process, nothing else to run. Set: run any number of processes behind a load balancer; see "Several servers".',
    read: readRedisUrl,
  },
} as const satisfies Record<string, Setting>;

type Settings = typeof SETTINGS;

/** Names of the rows that are fields of {@link ServerConfig} (those with a reader). */
export type FieldName = {
  [K in keyof Settings]: Settings[K] extends { read: unknown } ? K : never;
}[keyof Settings];

/** What a row's reader gives. */
type ValueOf<Row> = Row extends { read(...args: never[]): infer T } ? T : never;

/**
 * Everything `signaling/main.ts` needs to start: one field per {@link SETTINGS} row that has a
 * reader, under the row's name, typed as its reader returns it. The row has its variable,
 * default, range, unit and meaning.
 */
export type ServerConfig = {
  -readonly [K in keyof Settings as K extends FieldName ? K : never]: ValueOf<Settings[K]>;
};

/** Names of the settings `createSignalingServer` takes as options (`server: true`). */
export type ServerSettingName = {
  [K in FieldName]: Settings[K] extends { server: true } ? K : never;
}[FieldName];

/** The part of {@link ServerConfig} that `createSignalingServer` takes as options. */
export type ServerSettings = Pick<ServerConfig, ServerSettingName>;

/** Table rows as `[name, row]`, typed as the table's names. */
function rows(): [keyof Settings, Setting][] {
  return Object.entries(SETTINGS) as [keyof Settings, Setting][];
}

const SERVER_SETTING_NAMES = rows()
  .filter(
    (entry): entry is [ServerSettingName, FieldSetting] =>
      'server' in entry[1] && entry[1].server === true,
  )
  .map(([name]) => name);

/** The defaults of {@link ServerSettings}: server.ts spreads them into `SERVER_DEFAULTS`. */
export const SERVER_SETTING_DEFAULTS = Object.fromEntries(
  SERVER_SETTING_NAMES.map((name) => [name, SETTINGS[name].default]),
) as { readonly [K in ServerSettingName]: Settings[K]['default'] };

/** The options `createSignalingServer` takes from `config`: the rows with `server: true`. */
export function serverSettings(config: ServerConfig): ServerSettings {
  return Object.fromEntries(
    SERVER_SETTING_NAMES.map((name) => [name, config[name]]),
  ) as unknown as ServerSettings;
}

/** One row's value, read again from `env` (for a reader that depends on an earlier row). */
function readSetting<K extends FieldName>(env: Env, name: K): ServerConfig[K] {
  const row: FieldSetting = SETTINGS[name];
  return row.read(env, row) as ServerConfig[K];
}

/**
 * Reads every variable of {@link SETTINGS}, in its order. Unset or empty variables take the row's
 * default (or are off). `ICE_SERVERS` replaces our STUN entries entirely; TURN from `TURN_URLS`
 * is appended to whichever list applies, so a deployment can use someone else's STUN and its own
 * TURN with minted credentials. Pure over `env`: the TLS files are read by
 * {@link readTlsCredentials}.
 *
 * @throws {ConfigError} on a malformed value or a contradictory combination, naming the variable.
 */
export function loadConfig(env: Env): ServerConfig {
  const config: Record<string, unknown> = {};
  for (const [name, row] of rows()) if ('read' in row) config[name] = row.read(env, row);
  return config as ServerConfig;
}

/** What `createSignalingServer` serves HTTPS with (its `tls` option). */
export interface TlsCredentials {
  /** PEM certificate chain, leaf first. */
  cert: Buffer;
  /** PEM private key of the leaf. */
  key: Buffer;
}

/**
 * Reads `TLS_CERT` and `TLS_KEY` and checks them as the server will use them
 * (`tls.createSecureContext`): each on its own, then the two together, so that a bad file is
 * named before anything listens. Errors quote OpenSSL's reason, never a file's content.
 *
 * @param files from {@link loadConfig}; `null` (no TLS) gives `null`.
 * @param readFile reads a whole file (tests may pass their own).
 * @throws {ConfigError} naming `TLS_CERT` (unreadable, or not a PEM certificate) or `TLS_KEY`
 *   (unreadable, not an unencrypted PEM private key, or not the certificate's key).
 */
export function readTlsCredentials(
  files: TlsFiles | null,
  readFile: (path: string) => Buffer = readFileSync,
): TlsCredentials | null {
  if (files === null) return null;
  const load = (variable: string, path: string): Buffer => {
    try {
      return readFile(path);
    } catch (error) {
      const code: unknown = error instanceof Error ? Reflect.get(error, 'code') : undefined;
      const why = typeof code === 'string' ? code : (error as Error).message;
      throw new ConfigError(variable, `cannot read ${JSON.stringify(path)} (${why})`);
    }
  };
  const check = (variable: string, problem: string, options: SecureContextOptions): void => {
    try {
      createSecureContext(options);
    } catch (error) {
      throw new ConfigError(variable, `${problem} (${(error as Error).message})`);
    }
  };
  const cert = load('TLS_CERT', files.certPath);
  const key = load('TLS_KEY', files.keyPath);
  check('TLS_CERT', `${JSON.stringify(files.certPath)} is not a PEM certificate`, { cert });
  check('TLS_KEY', `${JSON.stringify(files.keyPath)} is not an unencrypted PEM private key`, {
    key,
  });
  check('TLS_KEY', 'is not the private key of the certificate in TLS_CERT', { cert, key });
  return { cert, key };
}

/** `host` as the host part of a URI: IPv6 literals bracketed (RFC 3986 §3.2.2). */
function uriHost(host: string): string {
  return isIPv6(host) ? `[${host}]` : host;
}

/**
 * The default ICE servers for a page: our own STUN responder, one entry per endpoint, so the page
 * can gather against each and compare the mappings (RFC 5780 §4.3):
 * `stun:<page host>:<stunPort>`, `stun:<page host>:<stunPort + 1>`, then the same two ports on
 * `stunAltAddress` when set, then on each of `stunAddresses` of the other family. The page host
 * is the name the page was loaded from (its HTTP `Host`), so whatever address reached the page
 * also reaches STUN; but it is of one family only, and a page loaded over IPv4 would never test
 * IPv6 (issue #14). So a page host that is an IPv4 literal adds the IPv6 ones of
 * `stunAddresses`, an IPv6 literal the IPv4 ones, and a name (or an invalid host) all of them:
 * which families a name has in DNS is not ours to look up per page, and if the name resolves to
 * one of them the page probes that address twice, which costs one probe and tells it nothing
 * false. A host already listed (in any spelling: `[2001:DB8::1]` is `2001:db8::1`) is not listed
 * again.
 *
 * @param pageHost the `Host` header, e.g. `chat.example.org:8080`, `203.0.113.10`, `[::1]:8080`.
 * @param stunPort first UDP port of the responder; 0 (off) gives no servers (host candidates only).
 * @param stunAltAddress second IP of the responder (`STUN_ALT_ADDRESS`), or `null`.
 * @param stunAddresses more IP literals of the responder, without brackets, as `main.ts` gets them
 *   from `STUN_ADDRESSES` or the interfaces (`StunAddressPlan.offer` in stun-addresses.ts).
 * @returns `[]` when there is no responder; no page-host entries when `pageHost` is not a valid
 *   host (the other ones still come).
 */
export function defaultIceServers(
  pageHost: string | undefined,
  stunPort: number,
  stunAltAddress: string | null = null,
  stunAddresses: readonly string[] = [],
): IceServer[] {
  if (stunPort === 0) return [];
  const ports = [stunPort, stunPort + STUN_SECOND_PORT_OFFSET];
  const page = pageHostname(pageHost);
  const pageFamily = page === null ? null : (parseIpAddress(page)?.family ?? null);
  const otherFamily = stunAddresses.filter(
    (address) => pageFamily === null || parseIpAddress(address)?.family !== pageFamily,
  );
  const listed = new Set<string>();
  const hosts: string[] = [];
  for (const host of [
    page,
    stunAltAddress && uriHost(stunAltAddress),
    ...otherFamily.map(uriHost),
  ]) {
    if (!host || listed.has(canonicalHost(host))) continue;
    listed.add(canonicalHost(host));
    hosts.push(host);
  }
  return hosts.flatMap((host) => ports.map((port) => ({ urls: `stun:${host}:${port}` })));
}

/** The host part of a `Host` header, IPv6 still bracketed (RFC 7064 §3.1); `null` if invalid. */
function pageHostname(pageHost: string | undefined): string | null {
  if (!pageHost) return null;
  let url: URL;
  try {
    url = new URL(`http://${pageHost}`);
  } catch {
    return null;
  }
  // Anything beyond host[:port] (a path, a query, userinfo) means this is not a plain Host value.
  if (url.pathname !== '/' || url.search || url.hash || url.username || url.password) return null;
  return url.hostname;
}
