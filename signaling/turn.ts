/**
 * TURN for the page: which relay URLs we accept (RFC 7065) and the credentials each page gets.
 * Pure functions; the caller passes the clock (`nowMs`), so tests need no fake timers.
 *
 * Two ways to authenticate, the two coturn offers for long-term credentials (RFC 8489 §9.2):
 * - a shared secret (coturn `use-auth-secret` + `static-auth-secret`): we mint a fresh,
 *   time-limited username/credential pair for every signaling socket, the "TURN REST API"
 *   (draft-uberti-behave-turn-rest-00 §2.2). The secret stays on this server; a leaked credential
 *   stops working at its expiry;
 * - a static username/credential (coturn `user=name:password`), handed to every page as is.
 */
import { createHmac } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import type { IceServer } from './protocol.ts';

/**
 * Shortest credential lifetime we accept, seconds. Below a minute, a few seconds of clock skew
 * between this host and the TURN server, or a slow page load, already make the credential stale.
 */
export const MIN_TURN_TTL_S = 60;

/**
 * Longest credential lifetime we accept, seconds: one day, the value that
 * draft-uberti-behave-turn-rest-00 §2.2 recommends. Longer only lengthens the life of a leaked
 * credential: every page gets a new one with each `hello`, i.e. each time it (re)connects.
 */
export const MAX_TURN_TTL_S = 24 * 60 * 60;

/**
 * Separator between expiry and user id in a minted username. coturn's `rest-api-separator`
 * defaults to it; coturn reads the digits before it as the expiry (unix seconds).
 */
export const TURN_REST_SEPARATOR = ':';

/** How the page authenticates to the TURN server. */
export type TurnAuth =
  | {
      /** Mint per-socket credentials from `secret` (coturn `static-auth-secret`). */
      kind: 'secret';
      /** The shared secret. Never sent to a page, never logged. */
      secret: string;
      /** Lifetime of each minted credential, seconds (`TURN_TTL_S`). */
      ttlS: number;
    }
  | {
      /** Hand every page the same long-term credentials (coturn `user=`). */
      kind: 'static';
      username: string;
      credential: string;
    };

/** A TURN server as configured (`TURN_URLS` plus credentials). */
export interface TurnConfig {
  /** `turn:`/`turns:` URLs, each accepted by {@link parseTurnUrl}; at least one. */
  urls: string[];
  auth: TurnAuth;
}

/** A TURN URL taken apart (RFC 7065 §3.1). */
export interface TurnUrl {
  /** `turns` is TURN over TLS. */
  readonly scheme: 'turn' | 'turns';
  /** As written: a DNS name, an IPv4 literal, or an IPv6 literal in brackets. */
  readonly host: string;
  /** 1–65535, or `null` for the scheme's default (3478 for `turn`, 5349 for `turns`, §3). */
  readonly port: number | null;
  /** `null` leaves the choice to the client (UDP for `turn`, TCP for `turns`). */
  readonly transport: 'udp' | 'tcp' | null;
}

/** One time-limited credential pair (draft-uberti-behave-turn-rest-00 §2.2). */
export interface MintedTurnCredential {
  /** `<expiresAtS>:<userId>`. */
  username: string;
  /** base64(HMAC-SHA1(secret, username)). */
  credential: string;
  /** When the TURN server stops accepting it, unix seconds. */
  expiresAtS: number;
}

// RFC 7065 §3.1: scheme ":" host [ ":" port ] [ "?transport=" transport ]. No userinfo, no path.
const TURN_URL_PATTERN =
  /^(turns?):(\[[^\]]*\]|[^:?#/@[\]\s]+)(?::(\d{1,5}))?(?:\?transport=(udp|tcp))?$/;
const DNS_LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const DNS_NAME_PATTERN = new RegExp(`^(?=.{1,253}\\.?$)${DNS_LABEL}(?:\\.${DNS_LABEL})*\\.?$`);
const MAX_PORT = 65535;

/**
 * Parses a `turn:` or `turns:` URL (RFC 7065 §3.1) the way we accept it in `TURN_URLS`. Never
 * throws; returns `null` for anything else, namely
 * - another scheme, or a scheme not in lower case (the browser's parser is case-sensitive, and an
 *   ICE server it rejects makes `new RTCPeerConnection` throw on the page);
 * - userinfo, a path, or a query other than `?transport=udp|tcp` (RFC 7065 has no others);
 * - a host that is not a DNS name, an IPv4 literal, or a bracketed IPv6 literal; port 0 or > 65535;
 * - `turns:` with `transport=udp`: TURN over DTLS, which browsers do not implement.
 */
export function parseTurnUrl(text: string): TurnUrl | null {
  const match = TURN_URL_PATTERN.exec(text);
  if (!match) return null;
  const [, scheme, host = '', portText, transport] = match;
  if (host.startsWith('[')) {
    if (!isIPv6(host.slice(1, -1))) return null;
  } else if (/^[\d.]+$/.test(host) ? !isIPv4(host) : !DNS_NAME_PATTERN.test(host)) {
    return null;
  }
  const port = portText === undefined ? null : Number(portText);
  if (port !== null && (port < 1 || port > MAX_PORT)) return null;
  if (scheme === 'turns' && transport === 'udp') return null;
  return {
    scheme: scheme === 'turns' ? 'turns' : 'turn',
    host,
    port,
    transport: transport === 'udp' || transport === 'tcp' ? transport : null,
  };
}

/**
 * Mints a TURN credential (draft-uberti-behave-turn-rest-00 §2.2, as coturn's `use-auth-secret`
 * checks it): username `<expiry>:<userId>` with expiry = now + `ttlS` in unix seconds, credential
 * base64(HMAC-SHA1(secret, username)). coturn refuses it (401) once its own clock is past the
 * expiry, so the lifetime must cover the wait between `hello` and the page's first Allocate.
 *
 * @param secret the shared secret, as in coturn's `static-auth-secret` (UTF-8).
 * @param userId who it is for, e.g. the signaling peer id; shows up in the TURN server's logs.
 * @param nowMs the current time, ms since the epoch (`Date.now()`).
 * @param ttlS lifetime, seconds.
 * @throws {RangeError} if `secret` is empty, `nowMs` is not a finite number ≥ 0, or `ttlS` is
 *   not a positive integer.
 */
export function mintTurnCredential(
  secret: string,
  userId: string,
  nowMs: number,
  ttlS: number,
): MintedTurnCredential {
  if (secret === '') throw new RangeError('TURN secret must not be empty');
  if (!Number.isFinite(nowMs) || nowMs < 0) throw new RangeError(`bad clock value ${nowMs}`);
  if (!Number.isInteger(ttlS) || ttlS < 1) {
    throw new RangeError(`TTL must be a positive integer of seconds, got ${ttlS}`);
  }
  // Seconds, not ms: coturn compares with time(NULL), and a ms value would overflow its 32 bits.
  const expiresAtS = Math.floor(nowMs / 1000) + ttlS;
  const username = `${expiresAtS}${TURN_REST_SEPARATOR}${userId}`;
  const credential = createHmac('sha1', secret).update(username).digest('base64');
  return { username, credential, expiresAtS };
}

/**
 * The ICE server entry for one page: every configured URL with either freshly minted
 * credentials for `userId` ({@link mintTurnCredential}) or the static ones. The secret itself is
 * never part of it.
 *
 * @param nowMs the current time, ms since the epoch; only used when minting.
 * @throws {RangeError} like {@link mintTurnCredential}; a config from `loadConfig` never does.
 */
export function turnIceServer(config: TurnConfig, userId: string, nowMs: number): IceServer {
  const { auth } = config;
  if (auth.kind === 'static') {
    return { urls: [...config.urls], username: auth.username, credential: auth.credential };
  }
  const { username, credential } = mintTurnCredential(auth.secret, userId, nowMs, auth.ttlS);
  return { urls: [...config.urls], username, credential };
}
