/**
 * The server's structured log: pino, one JSON object per line on stdout.
 *
 * What goes in, by level (the server keeps to it; see `signaling/server.ts`):
 * - `info`: listening, shutting down, each socket opened and closed (peer id, close code, our
 *   reason when we closed it), each refusal with its reason. Never a message's content: no SDP,
 *   no ICE candidates, no peer-info, no chat (chat never reaches the server anyway).
 * - `debug`: additionally the type and size in bytes of every frame a socket sends. Still no
 *   content.
 *
 * Client IP addresses are personal data (GDPR Recital 30): no level logs them. Where telling
 * clients apart matters (refusals, opened sockets) the log has `client`, a keyed hash of the
 * address ({@link clientTag}).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { pino, type Logger } from 'pino';

export type { Logger };

/** Levels `LOG_LEVEL` accepts, most to least severe; `silent` logs nothing. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** True for one of {@link LOG_LEVELS}. */
export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

/** A logger writing JSON lines to stdout at `level` and above. */
export function createLogger(level: LogLevel = 'info'): Logger {
  return pino({ level });
}

/**
 * Key of {@link clientTag}: random per process, so that tags cannot be linked across restarts
 * and cannot be reversed by hashing all 2^32 IPv4 addresses (which an unkeyed hash allows).
 */
const TAG_KEY = randomBytes(32);

/**
 * A stand-in for a client address in logs: 12 hex digits of HMAC-SHA256 under a per-process
 * random key. The same address gives the same tag for the life of the process (enough to see
 * that one client is being refused over and over) and reveals nothing about the address.
 */
export function clientTag(address: string): string {
  return createHmac('sha256', TAG_KEY).update(address).digest('hex').slice(0, 12);
}
