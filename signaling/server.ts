/**
 * The HTTP + WebSocket server: serves the built page, `/healthz`, `/metrics`, and the signaling
 * endpoint ({@link SIGNALING_PATH}) that relays SDP offers/answers and trickled ICE candidates
 * between the peers of a room. The server stamps `from` itself and relays only inside a room.
 *
 * Hardening, each limit an option with a default from `signaling/config.ts` (env overrides there):
 * - every HTTP response: security headers (helmet: a CSP that fits the page, no framing, nosniff,
 *   no referrer; and a Permissions-Policy); per-address cap on open HTTP connections and tight
 *   header/request timeouts (slowloris);
 * - at the upgrade, before any WebSocket exists: the `Origin` check (403), the total socket cap
 *   (503) and the per-address cap (429);
 * - per socket: the frame size (ws `maxPayload`, close 1009), token-bucket rate limits on
 *   messages and on bytes (close {@link CloseCode.RATE_LIMITED}), the structural JSON bounds and
 *   the parser (close 4000–4002), a bound on what may be queued for it (close
 *   {@link CloseCode.SLOW_READER}), the heartbeat (liveness is a pong: what it reads);
 * - no input can throw out of a handler: each is wrapped, and a failure closes only that socket
 *   with 1011 (Internal Error); `last-resort.ts` catches anything else for the process;
 * - TURN credentials only for a socket that has joined a room;
 * - nothing lists rooms: `/metrics` only counts them, and a room id is 128+ random bits.
 */
import { createHash, randomBytes } from 'node:crypto';
import helmet from 'helmet';
import {
  createServer,
  STATUS_CODES,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerOptions,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { isIP, isIPv6, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import {
  defaultIceServers,
  parseOrigin,
  SERVER_SETTING_DEFAULTS,
  type ServerSettings,
} from './config.ts';
import { clientTag, createLogger, type Logger } from './log.ts';
import { createMetrics, type RejectionReason, type SignalingMetrics } from './metrics.ts';
import {
  CloseCode,
  SIGNALING_PATH,
  TRY_AGAIN_LATER,
  parseClientFrame,
  roomFullText,
  type ClientMessage,
  type FrameError,
  type IceServer,
  type ServerLimits,
  type ServerMessage,
} from './protocol.ts';
import { TokenBucket } from './rate-limit.ts';
import { MemoryRoomStore, type DirectoryFactory, type JoinResult } from './rooms.ts';
import { serveStaticFiles } from './static-files.ts';
import { turnIceServer } from './turn.ts';

/**
 * Defaults of {@link SignalingServerOptions}: those of `npm start` for the settings it shares with
 * it (the rows of `SETTINGS` in config.ts with `server: true`), then the server's own.
 */
export const SERVER_DEFAULTS = {
  ...SERVER_SETTING_DEFAULTS,
  /** Built page, as `vite build` writes it. */
  staticDir: new URL('../dist/web', import.meta.url).pathname,
  /**
   * Longest a client may take to send a request's headers, and the whole request, ms (Node's
   * `headersTimeout`, `requestTimeout`; defaults 60 s and 300 s). A browser sends its GET at once;
   * a slowloris client dribbling headers is cut after this. With `tls`, the TLS handshake must
   * also be done within `headersTimeoutMs` (Node's `handshakeTimeout`, default 120 s).
   */
  headersTimeoutMs: 10 * 1000,
  requestTimeoutMs: 15 * 1000,
  /**
   * How long a socket we closed may take to answer with its own close frame before it is cut
   * (ws `closeTimeout`), and how long {@link SignalingServer.close} waits for stragglers, ms.
   */
  closeGraceMs: 2 * 1000,
} as const;

/**
 * Options of {@link createSignalingServer}. Each setting it shares with `npm start` (a row of
 * `SETTINGS` in config.ts with `server: true`: the limits, ICE and TURN, origins, the proxy) is
 * an option under the row's name, of the type `loadConfig` gives it, defaulting to
 * {@link SERVER_DEFAULTS}; the row says its variable, unit, range and meaning. The rest are the
 * server's own.
 */
export interface SignalingServerOptions extends Partial<ServerSettings> {
  /** First UDP port of our STUN responder (it answers on the next too), for defaults; 0 = none. */
  stunPort: number;
  /** ICE servers for every page; `null` = our STUN responder ({@link defaultIceServers}). */
  iceServers: IceServer[] | null;
  /**
   * [stunAddresses=[]] More IP literals (no brackets) our STUN responder answers on, offered to
   * a page when of the family its page host is not (see {@link defaultIceServers}); unused with
   * `iceServers`. `npm start` passes `STUN_ADDRESSES`, or what it found on the interfaces and
   * could bind (`planStunAddresses`, `offerableAfterBinding` in stun-addresses.ts).
   */
  stunAddresses?: readonly string[];
  /**
   * [tls=null] PEM certificate chain (leaf first) and private key: serve HTTPS, and so `wss://`,
   * instead of plain HTTP, on the same port with the same limits and timeouts. `npm start` reads
   * them from `TLS_CERT`/`TLS_KEY` (`readTlsCredentials` in config.ts, which checks them first).
   */
  tls?: { cert: string | Buffer; key: string | Buffer } | null;
  /** [now=Date.now] Clock for TURN credential expiry, ms since the epoch. */
  now?: () => number;
  /** [staticDir=dist/web] Directory of the built page. */
  staticDir?: string;
  /** [headersTimeoutMs=10000] See {@link SERVER_DEFAULTS.headersTimeoutMs}. */
  headersTimeoutMs?: number;
  /** [requestTimeoutMs=15000] See {@link SERVER_DEFAULTS.headersTimeoutMs}. */
  requestTimeoutMs?: number;
  /** [closeGraceMs=2000] See {@link SERVER_DEFAULTS.closeGraceMs}. */
  closeGraceMs?: number;
  /** [logger=createLogger('info')] Structured log; `signaling/log.ts` says what goes in it. */
  logger?: Logger;
  /**
   * [directory=rooms in this process] Where rooms live (issue #12): `npm start` passes the Redis
   * directory (`createRedisDirectory`) when `REDIS_URL` is set. Its capacity should be
   * `roomCapacity`, which `hello` announces. The server closes it after its sockets.
   */
  directory?: DirectoryFactory;
}

/**
 * `node:http`'s `createServer`, or with `tls` `node:https`'s (node:http over TLS sockets) with
 * the same options and listener, the TLS handshake held to the header deadline rather than
 * Node's 120 s (a handshake dribbled byte by byte is a slowloris too).
 */
function createWebServer(
  tls: SignalingServerOptions['tls'] | null,
  options: ServerOptions,
  listener: RequestListener,
): Server {
  if (!tls) return createServer(options, listener);
  const { cert, key } = tls;
  return createHttpsServer(
    { ...options, cert, key, handshakeTimeout: options.headersTimeout },
    listener,
  );
}

/** A running server; {@link SignalingServer.listen} once, {@link SignalingServer.close} once. */
export interface SignalingServer {
  /** The underlying HTTP server (for tests and for adding routes). */
  readonly http: Server;
  /** Binds; resolves with the bound address (useful with port 0). Rejects on EADDRINUSE etc. */
  listen(port: number, host: string): Promise<AddressInfo>;
  /**
   * Stops accepting, closes every socket with 1001 (Going Away), waits until each has closed
   * (cutting those still open after `closeGraceMs`), then stops listening. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * The heartbeat visits one slice of the sockets per tick, a tick about every `HEARTBEAT_TICK_MS`,
 * so that each socket is visited twice per interval. A socket whose last pong is half an interval
 * old gets a WebSocket ping; one that has not answered by the next visit is dropped. So every
 * socket is pinged once per interval, and a dead one goes at most 1.5 intervals after its last
 * pong. Frames it sends do not count as life (issue #9): only a pong shows that it reads what we
 * send, and one that sends but never reads would otherwise keep the server queueing for it.
 * Slices, not one loop: pinging 10,000 sockets in one go blocked the event loop for 220–350 ms,
 * and 20 slices of 500 still stalled it 20–40 ms; a 50 ms tick makes a slice ~33 sockets there.
 */
const HEARTBEAT_TICK_MS = 50;

interface Peer {
  /** Random until the socket joins with a resume token, then derived from it and the room. */
  id: string;
  readonly socket: WebSocket;
  /** What {@link clientKey} made of the address: the unit of `maxSocketsPerIp`. */
  readonly client: string;
  /** Messages; `null` when that limit is off. */
  readonly bucket: TokenBucket | null;
  /** Bytes; `null` when that limit is off. */
  readonly byteBucket: TokenBucket | null;
  /** The STUN servers it was greeted with; `joined` adds TURN to them. */
  readonly stunServers: readonly IceServer[];
  /**
   * `performance.now()` of its last pong (or of its opening), ms. Frames it sends do not count:
   * a socket that sends but does not read would otherwise stay "alive" while what we send it
   * piles up (issue #9).
   */
  heardAtMs: number;
  /** It was pinged at the last heartbeat visit and has sent nothing since. */
  awaitingPong: boolean;
  /** The heartbeat slice (see {@link HEARTBEAT_TICK_MS}) this socket is in, until it closes. */
  readonly heartbeatSlice: Set<Peer>;
  /** A newer socket took over this peer id; this one's close must not touch the room. */
  replaced: boolean;
  /** Set once we decided to close the socket: frames still arriving are ignored. */
  closedFor: RejectionReason | 'shutdown' | 'replaced' | null;
  /**
   * While its join waits for the directory (Redis answers asynchronously): the frames that came
   * after it, dispatched in order once the join is settled. `null` otherwise.
   */
  waiting: { text: string; isBinary: boolean; bytes: number }[] | null;
}

/** Frames the parser refused, by why: the metric label and the close reason (all close 4000). */
const REFUSED_FRAMES = {
  'too-deep': { reason: 'too-complex', text: 'frame nested too deep' },
  'too-many-items': { reason: 'too-complex', text: 'frame has too many items' },
  'not-json': { reason: 'malformed', text: 'malformed frame' },
  'off-protocol': { reason: 'malformed', text: 'malformed frame' },
} as const satisfies Record<FrameError, { reason: RejectionReason; text: string }>;

/**
 * The peer id for a resume token in a room: a hash, so the same person gets the same id after a
 * reconnect, a page reload or a server restart (nothing to remember server-side), and an id seen
 * by others does not reveal the token that claims it. Bound to the room (issue #9): the same
 * token in another room is another person, so it can never take over (and leave as a ghost) a
 * seat elsewhere.
 */
export function peerIdForResumeToken(room: string, token: string): string {
  const digest = createHash('sha256')
    .update(`holepunch-chat resume v2:${room}:${token}`)
    .digest('hex');
  return `p${digest.slice(0, 16)}`;
}

/**
 * The Content-Security-Policy of every response: the page's scripts and styles come from this
 * origin only (Vite emits no inline ones), its one connection is the signaling WebSocket on the
 * same origin (CSP 3 `'self'` matches `ws:`/`wss:` of the page's host), and no other site may
 * frame it: the "Codes match" button must not be overlaid (clickjacking).
 */
export const CONTENT_SECURITY_POLICY = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:', 'blob:'],
  'connect-src': ["'self'"],
  'font-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
  'frame-ancestors': ["'none'"],
} as const;

/**
 * Browser features the page does not use, denied to it and to anything it might embed. WebRTC
 * and the data channel need no permission; file download needs none either.
 */
export const PERMISSIONS_POLICY =
  'camera=(), microphone=(), geolocation=(), display-capture=(), payment=(), usb=(), ' +
  'serial=(), hid=(), bluetooth=(), midi=(), accelerometer=(), gyroscope=(), magnetometer=(), ' +
  'interest-cohort=(), browsing-topics=()';

/**
 * Whether a page from `origin` may open a socket on a request with `Host: host`; see
 * {@link SignalingServerOptions.allowedOrigins}. The comparison is on normalised origins, so
 * `https://Chat.Example.org:443` equals `https://chat.example.org`.
 */
export function isOriginAllowed(
  origin: string | undefined,
  host: string | undefined,
  allowedOrigins: ReadonlySet<string> | null,
): boolean {
  if (origin === undefined) return true;
  if (allowedOrigins?.has('*')) return true;
  const page = parseOrigin(origin);
  if (page === null) return false; // `null` (sandboxed frames, file:), or junk
  if (allowedOrigins !== null) return allowedOrigins.has(page);
  if (host === undefined) return false;
  const scheme = page.slice(0, page.indexOf('//'));
  try {
    // Parsed with the page's scheme, so a default port written out (`Host: x:80`) drops too.
    return new URL(`${scheme}//${host}`).host === new URL(page).host;
  } catch {
    return false;
  }
}

/**
 * The unit of the per-address socket cap for an IP address: an IPv4 address (IPv4-mapped IPv6
 * unwrapped), or an IPv6 /64 prefix, since one subscriber is routinely given a whole /64
 * (RFC 6177 §3) and could otherwise open sockets from 2^64 addresses.
 */
export function clientKey(address: string): string {
  const plain = address.split('%')[0] ?? address; // drop an IPv6 zone id
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(plain);
  if (mapped?.[1] !== undefined) return mapped[1];
  if (!isIPv6(plain)) return plain;
  const groups = (part: string | undefined) =>
    part ? part.split(':').flatMap((group) => (group.includes('.') ? ['0', '0'] : [group])) : [];
  const [head, tail] = plain.split('::');
  const left = groups(head);
  const right = groups(tail);
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${all
    .slice(0, 4)
    .map((group) => parseInt(group, 16).toString(16))
    .join(':')}::/64`;
}

/** Open connections per {@link clientKey}: the count behind each per-address cap. */
class ClientCounts {
  readonly #counts = new Map<string, number>();

  /** Open connections of `client` now. */
  get(client: string): number {
    return this.#counts.get(client) ?? 0;
  }

  add(client: string): void {
    this.#counts.set(client, this.get(client) + 1);
  }

  /** One of `client`'s connections closed; a client with none left is forgotten. */
  remove(client: string): void {
    const left = this.get(client) - 1;
    if (left <= 0) this.#counts.delete(client);
    else this.#counts.set(client, left);
  }
}

/** The client's address: the TCP peer, or with `trustProxy` the proxy's `X-Forwarded-For`. */
function clientAddress(req: IncomingMessage, trustProxy: boolean): string | undefined {
  const direct = req.socket.remoteAddress;
  if (!trustProxy) return direct;
  const header = req.headers['x-forwarded-for'];
  const forwarded = (Array.isArray(header) ? header.join(',') : header)?.split(',').at(-1)?.trim();
  return forwarded !== undefined && isIP(forwarded) !== 0 ? forwarded : direct;
}

/** Reason label for a ws `error` event: ws closes the socket itself (1009, 1002, 1007). */
function wsErrorReason(error: Error): RejectionReason | null {
  const code: unknown = Reflect.get(error, 'code');
  if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') return 'too-large';
  return typeof code === 'string' && code.startsWith('WS_ERR_') ? 'protocol-error' : null;
}

/**
 * Builds the server; nothing listens until {@link SignalingServer.listen}.
 * @throws {RangeError} if `turn` cannot mint credentials (see `turnIceServer`) or a limit is out
 *   of range; checked here so that greeting a socket never throws.
 */
export function createSignalingServer(options: SignalingServerOptions): SignalingServer {
  const now = options.now ?? Date.now;
  const turn = options.turn ?? null;
  if (turn) turnIceServer(turn, 'startup-check', now());
  const staticDir = options.staticDir ?? SERVER_DEFAULTS.staticDir;
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? SERVER_DEFAULTS.heartbeatIntervalMs;
  const heartbeatSlices = Array.from(
    { length: Math.max(1, Math.round(heartbeatIntervalMs / 2 / HEARTBEAT_TICK_MS)) },
    () => new Set<Peer>(),
  );
  let nextHeartbeatSlice = 0;
  const rateMessagesPerS = options.rateMessagesPerS ?? SERVER_DEFAULTS.rateMessagesPerS;
  const rateBurst = options.rateBurst ?? SERVER_DEFAULTS.rateBurst;
  const rateBytesPerS = options.rateBytesPerS ?? SERVER_DEFAULTS.rateBytesPerS;
  const rateBytesBurst = options.rateBytesBurst ?? SERVER_DEFAULTS.rateBytesBurst;
  const maxFrameBytes = options.maxFrameBytes ?? SERVER_DEFAULTS.maxFrameBytes;
  const maxBufferedBytes = options.maxBufferedBytes ?? SERVER_DEFAULTS.maxBufferedBytes;
  const maxHttpConnectionsPerIp =
    options.maxHttpConnectionsPerIp ?? SERVER_DEFAULTS.maxHttpConnectionsPerIp;
  const maxSockets = options.maxSockets ?? SERVER_DEFAULTS.maxSockets;
  const maxSocketsPerIp = options.maxSocketsPerIp ?? SERVER_DEFAULTS.maxSocketsPerIp;
  const closeGraceMs = options.closeGraceMs ?? SERVER_DEFAULTS.closeGraceMs;
  const allowedOrigins = options.allowedOrigins ? new Set(options.allowedOrigins) : null;
  const trustProxy = options.trustProxy ?? false;
  const logger = options.logger ?? createLogger();
  // Frames are many; the check is made once. Debug logs types and sizes, never content.
  const debug = logger.isLevelEnabled('debug');
  // Throws RangeError now on a nonsense rate, rather than at the first socket.
  if (rateMessagesPerS > 0) new TokenBucket(rateMessagesPerS, rateBurst, 0);
  if (rateBytesPerS > 0) new TokenBucket(rateBytesPerS, rateBytesBurst, 0);
  if (rateBytesPerS > 0 && rateBytesBurst < maxFrameBytes) {
    throw new RangeError(
      `rateBytesBurst ${rateBytesBurst} is below maxFrameBytes ${maxFrameBytes}`,
    );
  }
  if (maxBufferedBytes < maxFrameBytes) {
    throw new RangeError(
      `maxBufferedBytes ${maxBufferedBytes} is below maxFrameBytes ${maxFrameBytes}`,
    );
  }
  const roomCapacity = options.roomCapacity ?? SERVER_DEFAULTS.roomCapacity;
  const directory = (
    options.directory ?? ((hooks) => new MemoryRoomStore(roomCapacity).directory(hooks))
  )({
    deliver(id, message) {
      const peer = peers.get(id);
      if (peer) send(peer, message);
    },
    evict(id) {
      const peer = peers.get(id);
      if (peer) replace(peer);
    },
  });
  /** What every `hello` tells the page it may send (issue #10). */
  const limits: ServerLimits = {
    maxFrameBytes,
    roomSize: roomCapacity,
    rateMessagesPerS,
    rateBurst,
    rateBytesPerS,
    rateBytesBurst,
    maxFileBytes: options.maxFileBytes ?? SERVER_DEFAULTS.maxFileBytes,
  };
  const metrics: SignalingMetrics = createMetrics();
  /** Every open socket, including replaced ones that are on their way out. */
  const live = new Set<Peer>();
  /** Sockets by peer id: the ones that can be reached. */
  const peers = new Map<string, Peer>();
  /** Open sockets per {@link clientKey}. */
  const perClient = new ClientCounts();
  let closing: Promise<void> | null = null;

  // Without a built page there is no static handler at all: signaling still works, pages get a
  // 503 saying why.
  const serveStatic = serveStaticFiles(staticDir);
  if (!serveStatic) logger.warn({ staticDir }, 'no built page; run `npm run build`');

  const securityHeaders = helmet({
    contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY },
    // The link is the room's secret: it must not leave in a Referer (issue #9).
    referrerPolicy: { policy: 'no-referrer' },
    xFrameOptions: { action: 'deny' },
    // HSTS belongs to whoever terminates TLS (the reverse proxy, or `https` here once set up): sent
    // by a plain-http deployment it is ignored, and a wrong one locks people out for a year.
    strictTransportSecurity: false,
  });

  /** The request handler proper; {@link createServer}'s callback wraps it so it cannot throw. */
  function handleRequest(req: IncomingMessage, res: ServerResponse): void {
    const path = req.url?.split('?')[0];
    if (path === '/healthz') {
      // A load balancer takes a process out while its room store is unreachable (issue #12).
      const trouble = directory.health();
      if (trouble === null) res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      else res.writeHead(503, { 'content-type': 'text/plain' }).end(`${trouble}\n`);
      return;
    }
    if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (error: unknown) => {
          logger.error({ err: error }, 'metrics failed');
          res.writeHead(500).end();
        },
      );
      return;
    }
    if (!serveStatic) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('page not built: npm run build\n');
      return;
    }
    serveStatic(req, res, () => {
      res.writeHead(404).end();
    });
  }

  const http = createWebServer(
    options.tls ?? null,
    {
      headersTimeout: options.headersTimeoutMs ?? SERVER_DEFAULTS.headersTimeoutMs,
      requestTimeout: options.requestTimeoutMs ?? SERVER_DEFAULTS.requestTimeoutMs,
      // Node checks both timeouts only this often (default 30 s); a slowloris connection would
      // otherwise live up to 30 s past its deadline.
      connectionsCheckingInterval: 1000,
    },
    (req: IncomingMessage, res: ServerResponse) => {
      try {
        res.setHeader('permissions-policy', PERMISSIONS_POLICY);
        // helmet only sets headers and calls on synchronously; its error path is ours too.
        securityHeaders(req, res, (error?: unknown) => {
          if (error) throw error;
          handleRequest(req, res);
        });
      } catch (error) {
        logger.error({ err: error }, 'request handler failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end();
      }
    },
  );

  /** Open HTTP connections per {@link clientKey} that have not become WebSockets. */
  const httpPerClient = new ClientCounts();
  /** Connections counted in {@link httpPerClient}, with their key, until they close or upgrade. */
  const httpCounted = new WeakMap<Socket, string>();
  function uncountHttp(socket: Socket): void {
    const client = httpCounted.get(socket);
    if (client === undefined) return;
    httpCounted.delete(socket);
    httpPerClient.remove(client);
  }
  if (maxHttpConnectionsPerIp > 0 && !trustProxy) {
    // Over TLS, count the TLS socket (the one the upgrade and `close` see), and only once its
    // handshake is done, so that a 429 is written inside TLS where the client can read it.
    http.on(options.tls ? 'secureConnection' : 'connection', (socket: Socket) => {
      const address = socket.remoteAddress;
      if (address === undefined) return void socket.destroy(); // already gone
      const client = clientKey(address);
      if (httpPerClient.get(client) >= maxHttpConnectionsPerIp) {
        refuseRaw(socket, 429, 'too-many-connections');
        return;
      }
      httpPerClient.add(client);
      httpCounted.set(socket, client);
      socket.once('close', () => uncountHttp(socket));
    });
  }
  // A malformed request, or one past the timeouts: Node answers 400/408/431 and we log nothing
  // per connection (a flood of them must not flood the log either).

  const wssOptions = {
    noServer: true,
    clientTracking: false, // `live` tracks them
    maxPayload: options.maxFrameBytes ?? SERVER_DEFAULTS.maxFrameBytes,
    // A ws option (websocket-server.js) that @types/ws does not list yet; default 30 s.
    closeTimeout: closeGraceMs,
  };
  const wss = new WebSocketServer(wssOptions);

  /** Answers a raw connection (an upgrade, or one over the HTTP cap) with a plain HTTP error. */
  function refuseRaw(socket: Duplex, status: number, reason: RejectionReason | null): void {
    if (reason !== null) metrics.rejections.inc({ reason });
    const text = STATUS_CODES[status] ?? 'Error';
    socket.end(
      `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
        `Content-Length: ${Buffer.byteLength(text) + 1}\r\n\r\n${text}\n`,
    );
  }

  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // First: an unhandled error on a raw socket would crash the process.
    socket.on('error', () => socket.destroy());
    // From here on it is a WebSocket (or refused): `maxSocketsPerIp` counts it, not the HTTP cap.
    uncountHttp(socket as Socket);
    try {
      upgrade(req, socket, head);
    } catch (error) {
      logger.error({ err: error }, 'upgrade handler failed');
      socket.destroy();
    }
  });

  function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = req.url?.split('?')[0];
    if (path !== SIGNALING_PATH) return refuseRaw(socket, 404, null);
    if (closing) return refuseRaw(socket, 503, null);
    const address = clientAddress(req, trustProxy);
    if (address === undefined) return void socket.destroy(); // already gone
    const client = clientKey(address);
    const refused = (status: number, reason: RejectionReason) => {
      logger.info({ client: clientTag(client), status, reason }, 'upgrade refused');
      refuseRaw(socket, status, reason);
    };
    if (!isOriginAllowed(req.headers.origin, req.headers.host, allowedOrigins)) {
      return refused(403, 'origin');
    }
    if (maxSockets > 0 && live.size >= maxSockets) return refused(503, 'too-many-sockets');
    if (maxSocketsPerIp > 0 && perClient.get(client) >= maxSocketsPerIp) {
      return refused(429, 'too-many-from-ip');
    }
    // Without `verifyClient` or compression, ws completes the handshake synchronously, so the
    // counts checked above cannot be overtaken by another upgrade before `accept` counts this one.
    wss.handleUpgrade(req, socket, head, (ws) => {
      try {
        accept(ws, req, client);
      } catch (error) {
        logger.error({ err: error }, 'accepting a socket failed');
        ws.terminate();
      }
    });
  }

  /**
   * Sends `message` to `peer`, unless what is already queued for it passed `maxBufferedBytes`:
   * then the socket has stopped reading, and it is closed with {@link CloseCode.SLOW_READER}
   * instead of growing our memory (issue #9). ws cuts it after `closeGraceMs` if even the close
   * frame cannot get through.
   */
  function send(peer: Peer, message: ServerMessage): void {
    if (peer.socket.readyState !== WebSocket.OPEN) return;
    if (peer.socket.bufferedAmount > maxBufferedBytes) {
      reject(peer, 'slow-reader', CloseCode.SLOW_READER, 'not reading');
      return;
    }
    peer.socket.send(JSON.stringify(message));
  }

  /** The socket's handler threw (a bug of ours): close only this socket, with 1011. */
  function fail(peer: Peer, error: unknown): void {
    logger.error({ peer: peer.id, err: error }, 'frame handler failed; closing the socket');
    if (peer.closedFor !== null) return;
    peer.closedFor = 'internal-error';
    metrics.rejections.inc({ reason: 'internal-error' });
    peer.socket.close(1011, 'internal error');
  }

  /** Takes `peer` out of its room; the directory tells the others. */
  function leaveRoom(peer: Peer): void {
    directory.leave(peer.id);
    metrics.rooms.set(directory.size);
  }

  /** Closes `peer` with an app close code; it was told why in the reason. Counted and logged. */
  function reject(
    peer: Peer,
    reason: RejectionReason,
    code: CloseCode | typeof TRY_AGAIN_LATER,
    text: string,
  ): void {
    if (peer.closedFor !== null) return;
    peer.closedFor = reason;
    metrics.rejections.inc({ reason });
    logger.info({ peer: peer.id, code, reason }, 'closing socket');
    peer.socket.close(code, text);
  }

  function dispatch(peer: Peer, message: ClientMessage): void {
    switch (message.type) {
      case 'join': {
        if (directory.roomOf(peer.id) !== undefined) {
          reject(peer, 'out-of-order', CloseCode.OUT_OF_ORDER, 'already in a room');
          return;
        }
        const id =
          message.resume === undefined
            ? peer.id
            : peerIdForResumeToken(message.room, message.resume);
        // Minted before anything changes, so that a failure here leaves no half-made member.
        // TURN last, per joined peer: credentials of its own, tagged with its id (issue #9: a
        // socket that never joins a room never gets a relay).
        const iceServers = [...peer.stunServers];
        if (turn) iceServers.push(turnIceServer(turn, id, now()));
        peer.waiting = [];
        directory.join(message.room, id).then(
          (result) => settleJoin(peer, message.room, id, iceServers, result),
          (error: unknown) => fail(peer, error),
        );
        return;
      }
      case 'signal': {
        if (directory.roomOf(peer.id) === undefined) {
          reject(peer, 'out-of-order', CloseCode.OUT_OF_ORDER, 'signal before join');
          return;
        }
        if (!directory.relay(peer.id, message.to, message.data)) {
          // Not fatal: the other person may have left a moment ago. The same answer for an id
          // that never existed and one in another room, so it reveals nothing about others.
          metrics.rejections.inc({ reason: 'unknown-peer' });
          send(peer, { type: 'error', code: 'unknown-peer', message: 'no such peer in this room' });
          return;
        }
        metrics.framesRelayed.inc();
        return;
      }
      case 'leave':
        leaveRoom(peer);
        return;
      case 'ping':
        send(peer, { type: 'pong' });
        return;
    }
  }

  /**
   * The directory answered `peer`'s join (as peer id `id`): seat it, or say why not; then
   * dispatch the frames that arrived meanwhile. A socket that closed while it waited gives its
   * seat straight back, unless a newer socket of the same person holds it by now.
   */
  function settleJoin(
    peer: Peer,
    room: string,
    id: string,
    iceServers: IceServer[],
    result: JoinResult,
  ): void {
    const waiting = peer.waiting ?? [];
    peer.waiting = null;
    if (peer.closedFor !== null || !live.has(peer)) {
      if (result.ok && !peers.has(id)) directory.leave(id);
      return;
    }
    if (result.ok) joined(peer, room, id, iceServers, result);
    else if (result.reason === 'full') {
      send(peer, { type: 'error', code: 'room-full', message: roomFullText(roomCapacity) });
      reject(peer, 'room-full', CloseCode.ROOM_FULL, 'room is full');
    } else if (result.reason === 'unavailable') {
      reject(peer, 'unavailable', TRY_AGAIN_LATER, 'rooms unavailable; try again');
    } else {
      reject(peer, 'out-of-order', CloseCode.OUT_OF_ORDER, 'already in a room');
    }
    for (const [i, frame] of waiting.entries()) {
      if (peer.closedFor !== null) return;
      try {
        handleFrame(peer, frame.text, frame.isBinary, frame.bytes);
      } catch (error) {
        fail(peer, error);
      }
      // It left and joined again: the rest waits for that join, ahead of anything newer.
      const again = peer.waiting as Peer['waiting']; // `handleFrame` may have set it
      if (again) return void again.push(...waiting.slice(i + 1));
    }
  }

  /** `peer` holds seat `id` in `room`: it takes the id and is told who is there. */
  function joined(
    peer: Peer,
    room: string,
    id: string,
    iceServers: IceServer[],
    result: Extract<JoinResult, { ok: true }>,
  ): void {
    const previous = id === peer.id ? undefined : peers.get(id);
    // Only now that the join succeeded does the stale socket go.
    if (previous) replace(previous);
    takeId(peer, id);
    metrics.rooms.set(directory.size);
    send(peer, { type: 'joined', room, id: peer.id, peers: result.others, iceServers });
  }

  /**
   * Closes the same person's previous socket, which a newer one with the same resume token (and
   * room) is taking over: REPLACED, and its close does not touch the room, whose seat the newer
   * socket keeps.
   */
  function replace(previous: Peer): void {
    previous.replaced = true;
    previous.closedFor = 'replaced';
    peers.delete(previous.id);
    logger.info({ peer: previous.id, code: CloseCode.REPLACED }, 'replaced by a newer socket');
    previous.socket.close(CloseCode.REPLACED, 'replaced by a newer connection');
  }

  /** Moves `peer` to peer id `id` (the one its resume token derives in its room). */
  function takeId(peer: Peer, id: string): void {
    if (id === peer.id) return;
    peers.delete(peer.id);
    peer.id = id;
    peers.set(id, peer);
  }

  function onMessage(peer: Peer, data: RawData, isBinary: boolean): void {
    if (peer.closedFor !== null) return;
    const nowMs = performance.now();
    const bytes = Array.isArray(data)
      ? data.reduce((sum, chunk) => sum + chunk.length, 0)
      : data.byteLength;
    if (
      (peer.bucket && !peer.bucket.take(nowMs)) ||
      (peer.byteBucket && !peer.byteBucket.take(nowMs, bytes))
    ) {
      reject(peer, 'rate-limited', CloseCode.RATE_LIMITED, 'rate limited');
      return;
    }
    const text = data.toString();
    if (peer.waiting)
      peer.waiting.push({ text, isBinary, bytes }); // its join is with the directory
    else handleFrame(peer, text, isBinary, bytes);
  }

  /** A frame within the rate limits: refused, or parsed and dispatched. */
  function handleFrame(peer: Peer, text: string, isBinary: boolean, bytes: number): void {
    if (isBinary) {
      reject(peer, 'binary', CloseCode.BINARY, 'binary frames are not part of the protocol');
      return;
    }
    const message = parseClientFrame(text);
    if (debug) {
      const type = typeof message === 'string' ? message : message.type;
      const kind =
        typeof message !== 'string' && message.type === 'signal' ? message.data.type : undefined;
      logger.debug({ peer: peer.id, type, kind, bytes }, 'frame');
    }
    if (typeof message === 'string') {
      const refused = REFUSED_FRAMES[message];
      reject(peer, refused.reason, CloseCode.MALFORMED, refused.text);
      return;
    }
    dispatch(peer, message);
  }

  function accept(socket: WebSocket, req: IncomingMessage, client: string): void {
    const peer: Peer = {
      id: `p${randomBytes(8).toString('hex')}`,
      socket,
      client,
      bucket:
        rateMessagesPerS > 0
          ? new TokenBucket(rateMessagesPerS, rateBurst, performance.now())
          : null,
      byteBucket:
        rateBytesPerS > 0
          ? new TokenBucket(rateBytesPerS, rateBytesBurst, performance.now())
          : null,
      // A fresh array per socket.
      stunServers: [
        ...(options.iceServers ??
          defaultIceServers(
            req.headers.host,
            options.stunPort,
            options.stunAltAddress ?? null,
            options.stunAddresses,
          )),
      ],
      heardAtMs: performance.now(),
      awaitingPong: false,
      heartbeatSlice: heartbeatSlices[nextHeartbeatSlice++ % heartbeatSlices.length]!,
      replaced: false,
      closedFor: null,
      waiting: null,
    };
    // First, so that no socket error can ever go unhandled and crash the process. ws closes the
    // socket itself after a protocol error (1009 too big, 1007 not UTF-8, 1002 otherwise).
    socket.on('error', (error) => {
      const reason = wsErrorReason(error);
      if (reason !== null && peer.closedFor === null) {
        peer.closedFor = reason;
        metrics.rejections.inc({ reason });
      }
      logger.info({ peer: peer.id, reason, err: error.message }, 'socket error');
    });
    live.add(peer);
    peer.heartbeatSlice.add(peer);
    peers.set(peer.id, peer);
    perClient.add(client);
    metrics.sockets.set(live.size);
    logger.info({ peer: peer.id, client: clientTag(client) }, 'socket opened');
    socket.on('pong', () => {
      peer.heardAtMs = performance.now();
      peer.awaitingPong = false;
    });
    socket.on('message', (data: RawData, isBinary: boolean) => {
      try {
        onMessage(peer, data, isBinary);
      } catch (error) {
        fail(peer, error);
      }
    });
    socket.on('close', (code: number) => {
      try {
        closed(peer, code);
      } catch (error) {
        logger.error({ peer: peer.id, err: error }, 'close handler failed');
      }
    });
    send(peer, { type: 'hello', id: peer.id, iceServers: [...peer.stunServers], limits });
  }

  /** A socket closed: forget it, and tell its room unless a newer socket took its seat. */
  function closed(peer: Peer, code: number): void {
    const { client } = peer;
    live.delete(peer);
    peer.heartbeatSlice.delete(peer);
    perClient.remove(client);
    metrics.sockets.set(live.size);
    logger.info({ peer: peer.id, code, reason: peer.closedFor ?? undefined }, 'socket closed');
    if (peer.replaced) return;
    peers.delete(peer.id);
    leaveRoom(peer);
  }

  let heartbeatTick = 0;
  const heartbeat = setInterval(
    () => {
      const nowMs = performance.now();
      const slice = heartbeatSlices[heartbeatTick++ % heartbeatSlices.length]!;
      for (const peer of slice) {
        if (peer.awaitingPong) {
          if (peer.closedFor === null) {
            peer.closedFor = 'heartbeat';
            metrics.rejections.inc({ reason: 'heartbeat' });
          }
          logger.info({ peer: peer.id }, 'missed a heartbeat; dropped');
          peer.socket.terminate();
          continue;
        }
        if (nowMs - peer.heardAtMs < heartbeatIntervalMs / 2) continue;
        peer.awaitingPong = true;
        try {
          peer.socket.ping();
        } catch (error) {
          fail(peer, error); // one socket's fault must not stop the slice
        }
      }
    },
    heartbeatIntervalMs / 2 / heartbeatSlices.length,
  );
  heartbeat.unref();

  async function shutDown(): Promise<void> {
    clearInterval(heartbeat);
    // Stop listening first; upgrades already under way get 503 (`closing` is set).
    const stopped = new Promise<void>((resolve) => http.close(() => resolve()));
    const closed = [...live].map(
      (peer) => new Promise<void>((resolve) => peer.socket.once('close', () => resolve())),
    );
    logger.info({ sockets: live.size }, 'shutting down');
    for (const peer of live) {
      peer.closedFor ??= 'shutdown';
      peer.socket.close(1001, 'server shutting down');
    }
    // ws cuts a socket that does not answer the close within `closeGraceMs`; this catches one
    // whose close frame could not even be written (a peer that stopped reading).
    const stragglers = setTimeout(() => {
      for (const peer of live) peer.socket.terminate();
    }, closeGraceMs + 100);
    await Promise.all(closed);
    clearTimeout(stragglers);
    wss.close();
    http.closeAllConnections();
    await Promise.all([stopped, directory.close()]);
  }

  return {
    http,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        http.once('error', reject);
        http.listen(port, host, () => {
          http.off('error', reject);
          const address = http.address() as AddressInfo;
          logger.info({ address: address.address, port: address.port }, 'listening');
          resolve(address);
        });
      });
    },
    close() {
      closing ??= shutDown();
      return closing;
    },
  };
}
