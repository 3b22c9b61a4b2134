/**
 * The page's side of the signaling WebSocket: validated messages in, typed and validated messages
 * out, paced against the server's limits, and a connection that heals itself. A dropped socket is
 * reopened with backoff and jitter; an app-level ping finds a dead TCP path (a laptop that changed
 * networks) that the browser itself would notice only minutes later.
 */
import {
  FINAL_CLOSE_CODES,
  SIGNALING_PATH,
  parseClientFrame,
  parseServerMessage,
  type ClientMessage,
  type ServerLimits,
  type ServerMessage,
} from '../../../../signaling/protocol.ts';
import { backoffDelayMs } from './backoff.ts';
import { PRE_HELLO_LIMITS, SendPacer } from './send-pacer.ts';

/** How often the page pings the server, ms. */
export const SIGNALING_PING_INTERVAL_MS = 5 * 1000;
/** A socket with no `pong` (or any message) for this long is taken as dead and reopened, ms. */
export const SIGNALING_DEAD_AFTER_MS = 2 * SIGNALING_PING_INTERVAL_MS;

/** Callbacks of {@link SignalingClient}. */
export interface SignalingEvents {
  /** A socket opened (the first, or a reconnect). */
  open(): void;
  message(message: ServerMessage): void;
  /**
   * The socket closed. `retryInMs` is when the next attempt starts, or `null` when the client
   * gave up because the server refused on purpose (`code` is one of `FINAL_CLOSE_CODES`).
   */
  closed(code: number, reason: string, retryInMs: number | null): void;
}

/** What the room session uses of a signaling connection (node tests pass a fake). */
export interface Signaling {
  /**
   * Sends one message, paced. `false` (nothing sent or queued) when no socket is open, or when
   * the message would not pass the server's own parser or size limit.
   */
  send(message: ClientMessage): boolean;
  /** Closes for good: no more reconnects. */
  close(): void;
}

/** Options of {@link SignalingClient}. */
export interface SignalingClientOptions {
  /** [WebSocket=globalThis.WebSocket] The WebSocket class. */
  WebSocket?: typeof WebSocket;
  /** [now=performance.now] Monotonic clock, ms. */
  now?: () => number;
}

/** The signaling endpoint on the origin the page came from: ws:// for http, wss:// for https. */
export function signalingUrl(location: { protocol: string; host: string }): string {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${SIGNALING_PATH}`;
}

const encoder = new TextEncoder();

/** A self-reconnecting, self-pacing signaling connection. Frames the server should never send are dropped. */
export class SignalingClient implements Signaling {
  readonly #url: string;
  readonly #events: SignalingEvents;
  readonly #WebSocket: typeof WebSocket;
  readonly #now: () => number;
  #socket: WebSocket | null = null;
  #attempt = 0;
  #stopped = false;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #pingTimer: ReturnType<typeof setInterval> | undefined;
  #drainTimer: ReturnType<typeof setTimeout> | undefined;
  #lastHeardAt = 0;
  #pacer: SendPacer;

  constructor(url: string, events: SignalingEvents, options: SignalingClientOptions = {}) {
    this.#url = url;
    this.#events = events;
    this.#WebSocket = options.WebSocket ?? globalThis.WebSocket;
    this.#now = options.now ?? (() => performance.now());
    this.#pacer = new SendPacer(PRE_HELLO_LIMITS, this.#now());
    this.#open();
  }

  /** The server's limits from its latest `hello` (conservative ones before the first). */
  get limits(): ServerLimits {
    return this.#pacer.limits;
  }

  send(message: ClientMessage): boolean {
    if (this.#socket?.readyState !== this.#WebSocket.OPEN) return false;
    const text = JSON.stringify(message);
    // The same parser the server runs (issue #10): a page bug shows here, named, instead of as
    // a 4000 close that takes the whole room down with it.
    const checked = parseClientFrame(text);
    if (typeof checked === 'string') {
      console.error(
        `signaling: not sending a ${message.type} frame the server would refuse (${checked})`,
      );
      return false;
    }
    const refused = this.#pacer.enqueue(text, encoder.encode(text).length);
    if (refused) {
      console.error(`signaling: not sending a ${message.type} frame (${refused})`);
      return false;
    }
    this.#drain();
    return true;
  }

  close(): void {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#drainTimer);
    clearInterval(this.#pingTimer);
    this.#socket?.close(1000, 'page closed');
  }

  #drain(): void {
    if (this.#drainTimer !== undefined) return;
    const socket = this.#socket;
    if (socket?.readyState !== this.#WebSocket.OPEN) return;
    const { ready, waitMs } = this.#pacer.drain(this.#now());
    for (const text of ready) socket.send(text);
    if (waitMs !== null) {
      this.#drainTimer = setTimeout(() => {
        this.#drainTimer = undefined;
        this.#drain();
      }, waitMs);
    }
  }

  #open(): void {
    const socket = new this.#WebSocket(this.#url);
    this.#socket = socket;
    this.#pacer = new SendPacer(this.#pacer.limits, this.#now());
    socket.addEventListener('open', () => {
      this.#attempt = 0;
      this.#lastHeardAt = this.#now();
      this.#pingTimer = setInterval(() => this.#heartbeat(socket), SIGNALING_PING_INTERVAL_MS);
      this.#events.open();
    });
    socket.addEventListener('message', (event: MessageEvent) => {
      if (socket !== this.#socket) return;
      this.#lastHeardAt = this.#now();
      const message = typeof event.data === 'string' ? parseServerMessage(event.data) : null;
      if (!message) {
        console.warn('signaling: dropped an off-protocol frame from the server');
        return;
      }
      if (message.type === 'hello') {
        this.#pacer.setLimits(message.limits, this.#now());
        this.#drain();
      }
      if (message.type !== 'pong') this.#events.message(message);
    });
    socket.addEventListener('close', (event: CloseEvent) => {
      if (socket !== this.#socket) return;
      this.#lost();
      if (this.#stopped) return;
      if (FINAL_CLOSE_CODES.has(event.code)) {
        this.#events.closed(event.code, event.reason, null);
        return;
      }
      this.#retry(event.code, event.reason);
    });
  }

  /** The socket is gone: its timers and whatever waited to go on it. */
  #lost(): void {
    clearInterval(this.#pingTimer);
    clearTimeout(this.#drainTimer);
    this.#drainTimer = undefined;
    this.#pacer.clear();
  }

  #retry(code: number, reason: string): void {
    const delay = backoffDelayMs(this.#attempt++);
    this.#events.closed(code, reason, delay);
    this.#retryTimer = setTimeout(() => this.#open(), delay);
  }

  #heartbeat(socket: WebSocket): void {
    if (this.#now() - this.#lastHeardAt > SIGNALING_DEAD_AFTER_MS) {
      // The close event of a dead TCP path may take minutes; stop waiting for it.
      this.#socket = null;
      this.#lost();
      socket.close(1000, 'heartbeat timeout'); // not a protocol error: 4000 is the server's MALFORMED
      this.#retry(1006, 'heartbeat timeout');
      return;
    }
    if (socket.readyState === this.#WebSocket.OPEN) this.send({ type: 'ping' });
  }
}
