/**
 * Server configuration from environment variables. Bad values stop start-up with a
 * {@link ConfigError} that names the variable, instead of running with a half-understood setting.
 * No error message ever quotes `TURN_SECRET` or `TURN_CREDENTIAL`.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { iceUrlScheme, isTurnScheme, parseStrictIceUrl } from '../common/ice-url.ts';
import { isLogLevel, LOG_LEVELS, type LogLevel } from './log.ts';
import {
  MAX_FRAME_BYTES,
  MAX_FILE_BYTES,
  ROOM_CAPACITY,
  ROOM_SIZE_RANGE,
  parseIceServers,
  type IceServer,
} from './protocol.ts';
import { STUN_SECOND_PORT_OFFSET } from './stun.ts';
import { MAX_TURN_TTL_S, MIN_TURN_TTL_S, type TurnConfig } from './turn.ts';

/** Defaults for every variable (see README "Configuration"). Unset ones not listed are off. */
export const DEFAULTS = {
  HOST: '0.0.0.0',
  PORT: 8080,
  /** UDP port of the built-in STUN responder; 3478 is STUN's registered port (RFC 8489 §18.6). */
  STUN_PORT: 3478,
  /**
   * Lifetime of each minted TURN credential, seconds. It must cover the wait between a page's
   * `hello` and its first TURN Allocate, i.e. until the other person opens the link.
   */
  TURN_TTL_S: 60 * 60,
  /** Largest frame a socket may send, bytes; larger ones close the socket with 1009. */
  MAX_FRAME_BYTES,
  /**
   * Sustained messages per second per socket. A page sends a few per minute once connected (an
   * app-level ping every 5 s), so 20 leaves ample room; 0 turns the limit off.
   */
  RATE_MESSAGES_PER_S: 20,
  /**
   * Messages a socket may send at once before the sustained rate applies. A page joining a full
   * room sends, to each of the others, its SDP, 10–20 trickled candidates and its NAT report
   * (issue #10): 25 per peer, plus as many again for an ICE restart on top. The page paces
   * itself against this (it is in `hello`), so a larger room only takes longer, never a close.
   */
  RATE_BURST: 25 * ROOM_CAPACITY,
  /**
   * Sustained bytes per second per socket, 0 = off. Parsing costs per byte, not per message, so
   * this is the CPU budget (issue #9). An honest page's steadiest traffic is its diagnostics view,
   * at most half a frame every 2 s (`SHARE_INTERVAL_MS`), ~16 KiB/s: 32 KiB/s is twice that.
   */
  RATE_BYTES_PER_S: 32 * 1024,
  /**
   * Bytes a socket may send at once. A join into a full room brings, per other person, an SDP
   * (~1.5 KiB), candidates (~3 KiB) and a NAT report (~2 KiB): ~45 KiB for seven; four largest
   * frames leave room for diagnostics views asked for at once. At least `MAX_FRAME_BYTES`.
   */
  RATE_BYTES_BURST: 4 * MAX_FRAME_BYTES,
  /**
   * Bytes the server may hold queued for one socket (ws `bufferedAmount`). A page reads what it
   * is sent at once; a socket past this has stopped reading and is closed with 4009, rather than
   * growing the server's memory. Four largest frames; at least `MAX_FRAME_BYTES`.
   */
  MAX_BUFFERED_BYTES: 4 * MAX_FRAME_BYTES,
  /**
   * Open HTTP connections per client address that are not WebSockets, 0 = unlimited (off with
   * TRUST_PROXY: every connection then comes from the proxy). A browser opens at most 6 per host;
   * this leaves room for a few people behind one NAT loading the page at once.
   */
  MAX_HTTP_CONNECTIONS_PER_IP: 32,
  /**
   * Open sockets per client address (IPv6: per /64), 0 = unlimited. One person has one socket
   * per open tab; a household or an office shares one address behind its NAT.
   */
  MAX_SOCKETS_PER_IP: 32,
  /** Open sockets in all, 0 = unlimited: ~10,000 two-person rooms with headroom. */
  MAX_SOCKETS: 20_000,
  /** People per room. */
  ROOM_SIZE: ROOM_CAPACITY,
  /** Largest file a page sends or accepts, bytes (told to pages in `hello`). */
  MAX_FILE_BYTES,
  /** WebSocket ping interval, ms; a socket that stops answering is dropped within 1.5× this. */
  HEARTBEAT_INTERVAL_MS: 15 * 1000,
  /** pino level (`signaling/log.ts` says what each level logs). */
  LOG_LEVEL: 'info',
} as const;

/** Bounds of the numeric limits, inclusive. */
const LIMIT_RANGES = {
  /** The page's largest frame is its diagnostics view, up to half of the protocol's 64 KiB. */
  MAX_FRAME_BYTES: [1024, 1024 * 1024],
  RATE_MESSAGES_PER_S: [0, 1_000_000],
  RATE_BURST: [1, 1_000_000],
  RATE_BYTES_PER_S: [0, 1024 * 1024 * 1024],
  RATE_BYTES_BURST: [1024, 1024 * 1024 * 1024],
  MAX_BUFFERED_BYTES: [1024, 1024 * 1024 * 1024],
  MAX_HTTP_CONNECTIONS_PER_IP: [0, 1_000_000],
  MAX_SOCKETS_PER_IP: [0, 1_000_000],
  MAX_SOCKETS: [0, 10_000_000],
  /** A full mesh: see `ROOM_SIZE_RANGE` in protocol.ts. */
  ROOM_SIZE: ROOM_SIZE_RANGE,
  /** Up to 1 TiB: receivers keep files outside the JS heap, in Blobs, which the browser spills to disk. */
  MAX_FILE_BYTES: [1, 1024 * 1024 * 1024 * 1024],
  HEARTBEAT_INTERVAL_MS: [1000, 60 * 60 * 1000],
} as const;

/** Everything `signaling/main.ts` needs to start. */
export interface ServerConfig {
  /** Address the HTTP/WebSocket server and the STUN responder bind to. */
  host: string;
  /** TCP port for the page and the signaling WebSocket (0 = ephemeral). */
  port: number;
  /**
   * First UDP port of the STUN responder, which also answers on the next one; 0 turns it off.
   * At most 65534.
   */
  stunPort: number;
  /**
   * `STUN_ALT_ADDRESS`: a second IP literal of this host on which the responder also answers,
   * on both ports; `null` when unset.
   */
  stunAltAddress: string | null;
  /**
   * ICE servers handed to every page, from `ICE_SERVERS`; `null` means the default, our STUN
   * responder on the host the page was loaded from ({@link defaultIceServers}). Either way the
   * TURN entry, when {@link turn} is set, is appended per socket.
   */
  iceServers: IceServer[] | null;
  /** `TURN_URLS` with its credentials; `null` when unset. */
  turn: TurnConfig | null;
  /** `MAX_FRAME_BYTES`: largest frame a socket may send, bytes. */
  maxFrameBytes: number;
  /** `RATE_MESSAGES_PER_S`: sustained messages per second per socket; 0 = unlimited. */
  rateMessagesPerS: number;
  /** `RATE_BURST`: messages a socket may send at once. */
  rateBurst: number;
  /** `RATE_BYTES_PER_S`: sustained bytes per second per socket; 0 = unlimited. */
  rateBytesPerS: number;
  /** `RATE_BYTES_BURST`: bytes a socket may send at once, ≥ `maxFrameBytes`. */
  rateBytesBurst: number;
  /** `MAX_BUFFERED_BYTES`: bytes queued for one socket before it is closed, ≥ `maxFrameBytes`. */
  maxBufferedBytes: number;
  /** `MAX_HTTP_CONNECTIONS_PER_IP`: open non-WebSocket connections per address; 0 = unlimited. */
  maxHttpConnectionsPerIp: number;
  /** `MAX_SOCKETS_PER_IP`: open sockets per client address (IPv6: per /64); 0 = unlimited. */
  maxSocketsPerIp: number;
  /** `MAX_SOCKETS`: open sockets in all; 0 = unlimited. */
  maxSockets: number;
  /** `ROOM_SIZE`: people per room. */
  roomCapacity: number;
  /** `MAX_FILE_BYTES`: largest file pages send or accept, bytes. */
  maxFileBytes: number;
  /**
   * `ALLOWED_ORIGINS`: origins (`scheme://host[:port]`, normalised as `URL.origin`) whose pages
   * may open a signaling socket; `['*']` allows any; `null` (unset) allows only a page of the same
   * host as the request's `Host`. Requests without `Origin` (not from a browser) always pass.
   */
  allowedOrigins: string[] | null;
  /** `HEARTBEAT_INTERVAL_MS`: WebSocket ping interval, ms (server.ts). */
  heartbeatIntervalMs: number;
  /** `LOG_LEVEL`: pino level. */
  logLevel: LogLevel;
  /** `TRUST_PROXY=1`: take the client address from the last `X-Forwarded-For` entry. */
  trustProxy: boolean;
}

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

type Env = Readonly<Record<string, string | undefined>>;

/** The variable's value, or `undefined` when unset or empty (which both mean "default"). */
function read(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw === '' ? undefined : raw;
}

function readPort(env: Env, name: 'PORT' | 'STUN_PORT', max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return DEFAULTS[name];
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > max) {
    throw new ConfigError(name, `expected a port number 0–${max}, got ${JSON.stringify(raw)}`);
  }
  return port;
}

function readStunAltAddress(env: Env, host: string, stunPort: number): string | null {
  const raw = read(env, 'STUN_ALT_ADDRESS')?.trim();
  if (raw === undefined || raw === '') return null;
  const name = 'STUN_ALT_ADDRESS';
  if (!isIPv4(raw) && !isIPv6(raw)) {
    throw new ConfigError(name, `expected an IP address of this host, got ${JSON.stringify(raw)}`);
  }
  if (raw === '0.0.0.0' || raw === '::') {
    throw new ConfigError(name, 'must be one address of this host, not a wildcard');
  }
  if (raw === host) throw new ConfigError(name, 'must differ from HOST');
  if (stunPort === 0) throw new ConfigError(name, 'is set, but STUN_PORT=0 turns STUN off');
  return raw;
}

function readIceServers(env: Env): IceServer[] | null {
  const raw = env.ICE_SERVERS;
  if (raw === undefined || raw.trim() === '') return null;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    throw new ConfigError('ICE_SERVERS', `not valid JSON (${(error as Error).message})`);
  }
  const servers = parseIceServers(value);
  if (!servers) {
    throw new ConfigError(
      'ICE_SERVERS',
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
        'ICE_SERVERS',
        `${JSON.stringify(bad)} is not a stun:, stuns:, turn: or turns: URL`,
      );
    }
    const turn = urls.find((url) => isTurnScheme(iceUrlScheme(url)));
    if (turn !== undefined && (server.username === undefined || server.credential === undefined)) {
      throw new ConfigError('ICE_SERVERS', `${JSON.stringify(turn)} needs username and credential`);
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

function readTurnTtlS(env: Env): number {
  const raw = read(env, 'TURN_TTL_S');
  if (raw === undefined) return DEFAULTS.TURN_TTL_S;
  const ttlS = Number(raw);
  if (!/^\d+$/.test(raw) || ttlS < MIN_TURN_TTL_S || ttlS > MAX_TURN_TTL_S) {
    throw new ConfigError(
      'TURN_TTL_S',
      `expected whole seconds, ${MIN_TURN_TTL_S}–${MAX_TURN_TTL_S}, got ${JSON.stringify(raw)}`,
    );
  }
  return ttlS;
}

type Limit = keyof typeof LIMIT_RANGES;

/** A whole number within {@link LIMIT_RANGES}. */
function readLimit(env: Env, name: Limit): number {
  const raw = read(env, name)?.trim();
  if (raw === undefined) return DEFAULTS[name];
  const [min, max] = LIMIT_RANGES[name];
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    throw new ConfigError(
      name,
      `expected a whole number ${min}–${max}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

/** `ALLOWED_ORIGINS`: comma-separated origins, or `*`. */
function readAllowedOrigins(env: Env): string[] | null {
  const raw = read(env, 'ALLOWED_ORIGINS');
  if (raw === undefined) return null;
  const entries = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0) throw new ConfigError('ALLOWED_ORIGINS', 'lists no origin');
  if (entries.includes('*')) {
    if (entries.length > 1) throw new ConfigError('ALLOWED_ORIGINS', '* stands alone');
    return ['*'];
  }
  return entries.map((entry) => {
    const origin = parseOrigin(entry);
    if (origin === null) {
      throw new ConfigError(
        'ALLOWED_ORIGINS',
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

function readLogLevel(env: Env): LogLevel {
  const raw = read(env, 'LOG_LEVEL')?.trim().toLowerCase();
  if (raw === undefined) return DEFAULTS.LOG_LEVEL;
  if (!isLogLevel(raw)) {
    throw new ConfigError('LOG_LEVEL', `expected one of ${LOG_LEVELS.join(', ')}, got ${raw}`);
  }
  return raw;
}

function readFlag(env: Env, name: 'TRUST_PROXY'): boolean {
  const raw = read(env, name)?.trim();
  if (raw === undefined || raw === '0') return false;
  if (raw === '1') return true;
  throw new ConfigError(name, `expected 1 or 0, got ${JSON.stringify(raw)}`);
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
    return { urls, auth: { kind: 'secret', secret, ttlS: readTurnTtlS(env) } };
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

/**
 * Reads `HOST`, `PORT`, `STUN_PORT`, `STUN_ALT_ADDRESS`, `ICE_SERVERS`, `TURN_URLS`,
 * `TURN_SECRET`, `TURN_TTL_S`, `TURN_USERNAME`, `TURN_CREDENTIAL`, the limits
 * (`MAX_FRAME_BYTES`, `RATE_MESSAGES_PER_S`, `RATE_BURST`, `RATE_BYTES_PER_S`, `RATE_BYTES_BURST`,
 * `MAX_BUFFERED_BYTES`, `MAX_HTTP_CONNECTIONS_PER_IP`, `MAX_SOCKETS_PER_IP`, `MAX_SOCKETS`,
 * `ROOM_SIZE`, `MAX_FILE_BYTES`, `HEARTBEAT_INTERVAL_MS`), `ALLOWED_ORIGINS`, `LOG_LEVEL` and `TRUST_PROXY`.
 * Unset or empty variables
 * take {@link DEFAULTS} (or are off). `ICE_SERVERS` replaces our STUN entries entirely; TURN from
 * `TURN_URLS` is appended to whichever list applies, so a deployment can use someone else's STUN
 * and its own TURN with minted credentials.
 *
 * @throws {ConfigError} on a malformed value or a contradictory combination, naming the variable.
 */
export function loadConfig(env: Env): ServerConfig {
  const host = env.HOST?.trim() || DEFAULTS.HOST;
  // STUN_PORT + 1 is ours too, so the last port cannot be the first of the pair.
  const stunPort = readPort(env, 'STUN_PORT', 65535 - STUN_SECOND_PORT_OFFSET);
  const maxFrameBytes = readLimit(env, 'MAX_FRAME_BYTES');
  // A frame the byte bucket can never admit, or a queue that cannot take one frame, would lock
  // every page out: say so now.
  const atLeastAFrame = (name: 'RATE_BYTES_BURST' | 'MAX_BUFFERED_BYTES') => {
    const value = readLimit(env, name);
    if (value < maxFrameBytes) {
      throw new ConfigError(
        name,
        `must be at least MAX_FRAME_BYTES (${maxFrameBytes}), got ${value}`,
      );
    }
    return value;
  };
  return {
    host,
    port: readPort(env, 'PORT', 65535),
    stunPort,
    stunAltAddress: readStunAltAddress(env, host, stunPort),
    iceServers: readIceServers(env),
    turn: readTurn(env),
    maxFrameBytes,
    rateMessagesPerS: readLimit(env, 'RATE_MESSAGES_PER_S'),
    rateBurst: readLimit(env, 'RATE_BURST'),
    rateBytesPerS: readLimit(env, 'RATE_BYTES_PER_S'),
    rateBytesBurst: atLeastAFrame('RATE_BYTES_BURST'),
    maxBufferedBytes: atLeastAFrame('MAX_BUFFERED_BYTES'),
    maxHttpConnectionsPerIp: readLimit(env, 'MAX_HTTP_CONNECTIONS_PER_IP'),
    maxSocketsPerIp: readLimit(env, 'MAX_SOCKETS_PER_IP'),
    maxSockets: readLimit(env, 'MAX_SOCKETS'),
    roomCapacity: readLimit(env, 'ROOM_SIZE'),
    maxFileBytes: readLimit(env, 'MAX_FILE_BYTES'),
    allowedOrigins: readAllowedOrigins(env),
    heartbeatIntervalMs: readLimit(env, 'HEARTBEAT_INTERVAL_MS'),
    logLevel: readLogLevel(env),
    trustProxy: readFlag(env, 'TRUST_PROXY'),
  };
}

/** `host` as the host part of a URI: IPv6 literals bracketed (RFC 3986 §3.2.2). */
function uriHost(host: string): string {
  return isIPv6(host) ? `[${host}]` : host;
}

/**
 * The default ICE servers for a page: our own STUN responder, one entry per endpoint, so the page
 * can gather against each and compare the mappings (RFC 5780 §4.3):
 * `stun:<page host>:<stunPort>`, `stun:<page host>:<stunPort + 1>`, then the same two ports on
 * `stunAltAddress` when set. The page host is the name the page was loaded from (its HTTP `Host`),
 * so whatever address reached the page also reaches STUN.
 *
 * @param pageHost the `Host` header, e.g. `chat.example.org:8080`, `203.0.113.10`, `[::1]:8080`.
 * @param stunPort first UDP port of the responder; 0 (off) gives no servers (host candidates only).
 * @param stunAltAddress second IP of the responder (`STUN_ALT_ADDRESS`), or `null`.
 * @returns `[]` when there is no responder; no page-host entries when `pageHost` is not a valid
 *   host (the alternate address ones still come).
 */
export function defaultIceServers(
  pageHost: string | undefined,
  stunPort: number,
  stunAltAddress: string | null = null,
): IceServer[] {
  if (stunPort === 0) return [];
  const ports = [stunPort, stunPort + STUN_SECOND_PORT_OFFSET];
  const hosts = [pageHostname(pageHost), stunAltAddress && uriHost(stunAltAddress)];
  return hosts.flatMap((host) =>
    host ? ports.map((port) => ({ urls: `stun:${host}:${port}` })) : [],
  );
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
