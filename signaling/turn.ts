/**
 * TURN for the page: the credentials each page gets for the configured relay URLs (which URLs we
 * accept is `parseStrictIceUrl` in common/ice-url.ts, RFC 7065). Pure functions; the caller
 * passes the clock (`nowMs`), so tests need no fake timers.
 *
 * Two ways to authenticate, the two coturn offers for long-term credentials (RFC 8489 §9.2):
 * - a shared secret (coturn `use-auth-secret` + `static-auth-secret`): we mint a fresh,
 *   time-limited username/credential pair for every signaling socket, the "TURN REST API"
 *   (draft-uberti-behave-turn-rest-00 §2.2). The secret stays on this server; a leaked credential
 *   stops working at its expiry;
 * - a static username/credential (coturn `user=name:password`), handed to every page as is.
 */
import { createHmac } from 'node:crypto';
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
  /** `turn:`/`turns:` URLs, each accepted by `parseStrictIceUrl`; at least one. */
  urls: string[];
  auth: TurnAuth;
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
