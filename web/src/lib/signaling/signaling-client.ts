/**
 * The page's side of the signaling WebSocket: validated messages in, typed messages out, and a
 * connection that heals itself. A dropped socket is reopened with backoff and jitter; an
 * app-level ping finds a dead TCP path (a laptop that changed networks) that the browser itself
 * would notice only minutes later.
 */
import {
  CloseCode,
  SIGNALING_PATH,
  parseServerMessage,
  type ClientMessage,
  type ServerMessage,
} from '../../../../signaling/protocol.ts';
import { backoffDelayMs } from './backoff.ts';

/** How often the page pings the server, ms. */
export const SIGNALING_PING_INTERVAL_MS = 5 * 1000;
/** A socket with no `pong` (or any message) for this long is taken as dead and reopened, ms. */
export const SIGNALING_DEAD_AFTER_MS = 2 * SIGNALING_PING_INTERVAL_MS;

/** Close codes after which reconnecting cannot help: the server said no on purpose. */
const FINAL_CLOSE_CODES: ReadonlySet<number> = new Set([
  CloseCode.MALFORMED,
  CloseCode.BINARY,
  CloseCode.OUT_OF_ORDER,
  CloseCode.ROOM_FULL,
  CloseCode.REPLACED,
]);

/** Callbacks of {@link SignalingClient}. */
export interface SignalingEvents {
  /** A socket opened (the first, or a reconnect). */
  open(): void;
  message(message: ServerMessage): void;
  /**
   * The socket closed. `retryInMs` is when the next attempt starts, or `null` when the client
   * gave up because the server refused on purpose (`code` is one of the protocol's close codes).
   */
  closed(code: number, reason: string, retryInMs: number | null): void;
}

/** The signaling endpoint on the origin the page came from: ws:// for http, wss:// for https. */
export function signalingUrl(location: { protocol: string; host: string }): string {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${SIGNALING_PATH}`;
}

/** A self-reconnecting signaling connection. Frames the server should never send are dropped. */
export class SignalingClient {
  readonly #url: string;
  readonly #events: SignalingEvents;
  #socket: WebSocket | null = null;
  #attempt = 0;
  #stopped = false;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #pingTimer: ReturnType<typeof setInterval> | undefined;
  #lastHeardAt = 0;

  constructor(url: string, events: SignalingEvents) {
    this.#url = url;
    this.#events = events;
    this.#open();
  }

  /** Sends one message; returns `false` (and sends nothing) when no socket is open. */
  send(message: ClientMessage): boolean {
    if (this.#socket?.readyState !== WebSocket.OPEN) return false;
    this.#socket.send(JSON.stringify(message));
    return true;
  }

  /** Closes for good: no more reconnects. */
  close(): void {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#pingTimer);
    this.#socket?.close(1000, 'page closed');
  }

  #open(): void {
    const socket = new WebSocket(this.#url);
    this.#socket = socket;
    socket.addEventListener('open', () => {
      this.#attempt = 0;
      this.#lastHeardAt = performance.now();
      this.#pingTimer = setInterval(() => this.#heartbeat(socket), SIGNALING_PING_INTERVAL_MS);
      this.#events.open();
    });
    socket.addEventListener('message', (event: MessageEvent) => {
      this.#lastHeardAt = performance.now();
      const message = typeof event.data === 'string' ? parseServerMessage(event.data) : null;
      if (!message) console.warn('signaling: dropped an off-protocol frame from the server');
      else if (message.type !== 'pong') this.#events.message(message);
    });
    socket.addEventListener('close', (event: CloseEvent) => {
      if (socket !== this.#socket) return;
      clearInterval(this.#pingTimer);
      if (this.#stopped) return;
      if (FINAL_CLOSE_CODES.has(event.code)) {
        this.#events.closed(event.code, event.reason, null);
        return;
      }
      const delay = backoffDelayMs(this.#attempt++);
      this.#events.closed(event.code, event.reason, delay);
      this.#retryTimer = setTimeout(() => this.#open(), delay);
    });
  }

  #heartbeat(socket: WebSocket): void {
    if (performance.now() - this.#lastHeardAt > SIGNALING_DEAD_AFTER_MS) {
      // The close event of a dead TCP path may take minutes; stop waiting for it.
      this.#socket = null;
      clearInterval(this.#pingTimer);
      socket.close(1000, 'heartbeat timeout'); // not a protocol error: 4000 is the server's MALFORMED
      const delay = backoffDelayMs(this.#attempt++);
      this.#events.closed(1006, 'heartbeat timeout', delay);
      this.#retryTimer = setTimeout(() => this.#open(), delay);
      return;
    }
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: 'ping' }));
  }
}
