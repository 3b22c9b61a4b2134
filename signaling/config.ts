/**
 * Server configuration from environment variables. Bad values stop start-up with a
 * {@link ConfigError} that names the variable, instead of running with a half-understood setting.
 */
import { parseIceServers, type IceServer } from './protocol.ts';

/** Defaults for every variable (see README "Configuration"). */
export const DEFAULTS = {
  HOST: '0.0.0.0',
  PORT: 8080,
  /** UDP port of the built-in STUN responder; 3478 is STUN's registered port (RFC 8489 §18.6). */
  STUN_PORT: 3478,
} as const;

/** Everything `signaling/main.ts` needs to start. */
export interface ServerConfig {
  /** Address the HTTP/WebSocket server and the STUN responder bind to. */
  host: string;
  /** TCP port for the page and the signaling WebSocket (0 = ephemeral). */
  port: number;
  /** UDP port of the STUN responder; 0 turns the responder off. */
  stunPort: number;
  /**
   * ICE servers handed to every page, from `ICE_SERVERS`; `null` means the default, a STUN URL on
   * the host the page was loaded from ({@link defaultIceServers}).
   */
  iceServers: IceServer[] | null;
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

function readPort(env: Env, name: 'PORT' | 'STUN_PORT'): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return DEFAULTS[name];
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65535) {
    throw new ConfigError(name, `expected a port number 0–65535, got ${JSON.stringify(raw)}`);
  }
  return port;
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
  return servers;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads `HOST`, `PORT`, `STUN_PORT` and `ICE_SERVERS`. Unset or empty variables take
 * {@link DEFAULTS}. Throws {@link ConfigError} on a malformed value.
 */
export function loadConfig(env: Env): ServerConfig {
  return {
    host: env.HOST?.trim() || DEFAULTS.HOST,
    port: readPort(env, 'PORT'),
    stunPort: readPort(env, 'STUN_PORT'),
    iceServers: readIceServers(env),
  };
}

/**
 * The default ICE servers for a page: our own STUN responder, addressed by the host name the page
 * was loaded from (its HTTP `Host`), so whatever address reached the page also reaches STUN.
 *
 * @param pageHost the `Host` header, e.g. `chat.example.org:8080`, `203.0.113.10`, `[::1]:8080`.
 * @param stunPort UDP port of the responder; 0 (off) gives no servers (host candidates only).
 * @returns `[]` when there is no responder or `pageHost` is not a valid host.
 */
export function defaultIceServers(pageHost: string | undefined, stunPort: number): IceServer[] {
  if (stunPort === 0 || !pageHost) return [];
  let url: URL;
  try {
    url = new URL(`http://${pageHost}`);
  } catch {
    return [];
  }
  // Anything beyond host[:port] (a path, a query, userinfo) means this is not a plain Host value.
  if (url.pathname !== '/' || url.search || url.hash || url.username || url.password) return [];
  const { hostname } = url; // IPv6 stays bracketed, as RFC 7064 §3.1 wants
  return [{ urls: `stun:${hostname}:${stunPort}` }];
}
