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
import type { EarlyJoin, EarlySocket } from './early-socket.ts';
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
  /**
   * [early=null] A socket to `url` the page opened before the client existed
   * ({@link takeEarlySocket}): the first attempt takes it over, and replays what it said, in a
   * microtask (after the constructor has returned, before any later event of the socket). Where
   * it has joined a room already, the client does not send a join on it again.
   */
  early?: EarlySocket | null;
}

/** The signaling endpoint on the origin the page came from: ws:// for http, wss:// for https. */
export function signalingUrl(location: { protocol: string; host: string }): string {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${SIGNALING_PATH}`;
}

/**
 * The socket to `url` the page's first script opened (early-socket.ts), once: `null` when there
 * is none, or when it is for another URL or has closed already (it is closed then, and the client
 * opens its own). From the first call on, a first script that runs late opens none.
 */
export function takeEarlySocket(url: string): EarlySocket | null {
  const early = globalThis.holepunchEarlySocket;
  globalThis.holepunchEarlySocket = 'taken';
  if (early === undefined || early === 'taken') return null;
  if (early.socket.url === url && early.socket.readyState <= early.socket.OPEN) return early;
  early.stopRecording();
  early.socket.close();
  return null;
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
  /** The join the page's first script sent on the current socket ({@link SignalingClientOptions.early}). */
  #earlyJoin: EarlyJoin | null = null;

  constructor(url: string, events: SignalingEvents, options: SignalingClientOptions = {}) {
    this.#url = url;
    this.#events = events;
    this.#WebSocket = options.WebSocket ?? globalThis.WebSocket;
    this.#now = options.now ?? (() => performance.now());
    this.#pacer = new SendPacer(PRE_HELLO_LIMITS, this.#now());
    this.#open(options.early ?? null);
  }

  /** The server's limits from its latest `hello` (conservative ones before the first). */
  get limits(): ServerLimits {
    return this.#pacer.limits;
  }

  send(message: ClientMessage): boolean {
    if (this.#socket?.readyState !== this.#WebSocket.OPEN) return false;
    const early = this.#earlyJoin;
    if (message.type === 'join' && early) {
      // The page's first script sent it already, on this socket: a second join on one socket is
      // a protocol error the server would close it for. Both take the room from the link and
      // the token from tab storage, so they are the same join.
      this.#earlyJoin = null;
      if (message.room === early.room && message.resume === early.resume) return true;
      console.error('signaling: not joining again on a socket the first script joined on');
      return false;
    }
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

  #open(early: EarlySocket | null = null): void {
    const socket = early?.socket ?? new this.#WebSocket(this.#url);
    this.#socket = socket;
    this.#earlyJoin = null;
    this.#pacer = new SendPacer(this.#pacer.limits, this.#now());
    const onOpen = () => {
      this.#attempt = 0;
      this.#lastHeardAt = this.#now();
      this.#pingTimer = setInterval(() => this.#heartbeat(socket), SIGNALING_PING_INTERVAL_MS);
      this.#events.open();
    };
    const onMessage = (event: MessageEvent) => {
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
    };
    const onClose = (event: CloseEvent) => {
      if (socket !== this.#socket) return;
      this.#lost();
      if (this.#stopped) return;
      if (FINAL_CLOSE_CODES.has(event.code)) {
        this.#events.closed(event.code, event.reason, null);
        return;
      }
      this.#retry(event.code, event.reason);
    };
    socket.addEventListener('open', onOpen);
    socket.addEventListener('message', onMessage);
    socket.addEventListener('close', onClose);
    if (!early) return;
    // Taken over within one task: no event of the socket falls between the recording and these
    // listeners, and the recorded ones are older than any the listeners will get.
    early.stopRecording();
    this.#earlyJoin = early.join;
    const said = [...early.events];
    queueMicrotask(() => {
      for (const event of said) {
        if (socket !== this.#socket || this.#stopped) return;
        if (event.type === 'open') onOpen();
        else if (event.type === 'message') onMessage(event as MessageEvent);
        else if (event.type === 'close') onClose(event as CloseEvent);
      }
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
