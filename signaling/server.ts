/**
 * The HTTP + WebSocket server: serves the built page, `/healthz`, `/metrics`, and the signaling
 * endpoint ({@link SIGNALING_PATH}) that relays SDP offers/answers and trickled ICE candidates
 * between the peers of a room. The server stamps `from` itself and relays only inside a room.
 *
 * Hardening, each limit an option with a default from `signaling/config.ts` (env overrides there):
 * - at the upgrade, before any WebSocket exists: the `Origin` check (403), the total socket cap
 *   (503) and the per-address cap (429);
 * - per socket: the frame size (ws `maxPayload`, close 1009), a token-bucket rate limit (close
 *   {@link CloseCode.RATE_LIMITED}), the parser (close 4000–4002), the heartbeat;
 * - nothing lists rooms: `/metrics` only counts them, and a room id is 128+ random bits.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  createServer,
  STATUS_CODES,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { isIP, isIPv6, type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import sirv from 'sirv';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { defaultIceServers, DEFAULTS, parseOrigin } from './config.ts';
import { clientTag, createLogger, type Logger } from './log.ts';
import { createMetrics, type RejectionReason, type SignalingMetrics } from './metrics.ts';
import {
  CloseCode,
  SIGNALING_PATH,
  parseClientMessage,
  type ClientMessage,
  type IceServer,
  type ServerMessage,
} from './protocol.ts';
import { TokenBucket } from './rate-limit.ts';
import { Rooms } from './rooms.ts';
import { turnIceServer, type TurnConfig } from './turn.ts';

/** Defaults of {@link SignalingServerOptions}; the limits are those of `npm start`. */
export const SERVER_DEFAULTS = {
  /** Built page, as `vite build` writes it. */
  staticDir: new URL('../dist/web', import.meta.url).pathname,
  heartbeatIntervalMs: DEFAULTS.HEARTBEAT_INTERVAL_MS,
  roomCapacity: DEFAULTS.ROOM_SIZE,
  maxFrameBytes: DEFAULTS.MAX_FRAME_BYTES,
  rateMessagesPerS: DEFAULTS.RATE_MESSAGES_PER_S,
  rateBurst: DEFAULTS.RATE_BURST,
  maxSockets: DEFAULTS.MAX_SOCKETS,
  maxSocketsPerIp: DEFAULTS.MAX_SOCKETS_PER_IP,
  /**
   * How long a socket we closed may take to answer with its own close frame before it is cut
   * (ws `closeTimeout`), and how long {@link SignalingServer.close} waits for stragglers, ms.
   */
  closeGraceMs: 2 * 1000,
} as const;

/** Options of {@link createSignalingServer}. */
export interface SignalingServerOptions {
  /** First UDP port of our STUN responder (it answers on the next too), for defaults; 0 = none. */
  stunPort: number;
  /** [stunAltAddress=null] Second IP of our STUN responder, for the default ICE servers. */
  stunAltAddress?: string | null;
  /** ICE servers for every page; `null` = our STUN responder ({@link defaultIceServers}). */
  iceServers: IceServer[] | null;
  /**
   * [turn=null] A TURN server, appended to the ICE servers of every `hello` with credentials of
   * that socket's own (minted from the secret, or the static ones). The secret never leaves.
   */
  turn?: TurnConfig | null;
  /** [now=Date.now] Clock for TURN credential expiry, ms since the epoch. */
  now?: () => number;
  /** [staticDir=dist/web] Directory of the built page. */
  staticDir?: string;
  /**
   * [heartbeatIntervalMs=15000] WebSocket ping interval for quiet sockets, ms: a socket silent
   * for half of it is pinged, and dropped if it stays silent, at most 1.5× this after its last
   * frame or pong. A socket that sends frames is not pinged.
   */
  heartbeatIntervalMs?: number;
  /** [roomCapacity=2] People per room; a join beyond gets `room-full` and close 4003. */
  roomCapacity?: number;
  /** [maxFrameBytes=65536] Largest frame a socket may send, bytes; larger ones close it (1009). */
  maxFrameBytes?: number;
  /**
   * [rateMessagesPerS=20] Sustained messages per second per socket, 0 = unlimited. Beyond it
   * and the burst, the socket is closed with {@link CloseCode.RATE_LIMITED}.
   */
  rateMessagesPerS?: number;
  /** [rateBurst=100] Messages a socket may send at once before the sustained rate applies. */
  rateBurst?: number;
  /** [maxSockets=20000] Open sockets in all, 0 = unlimited; an upgrade beyond gets HTTP 503. */
  maxSockets?: number;
  /**
   * [maxSocketsPerIp=32] Open sockets per client address (IPv6: per /64 prefix, what one
   * subscriber gets), 0 = unlimited; an upgrade beyond gets HTTP 429.
   */
  maxSocketsPerIp?: number;
  /**
   * [allowedOrigins=null] Origins whose pages may open a socket (as `URL.origin` gives them),
   * `['*']` for any. `null`: only a page from the host the request is addressed to (`Origin`'s
   * host:port equals `Host`). Others get HTTP 403. A request without `Origin` is not from a
   * browser and passes: the check keeps other web pages from using the server through their
   * visitors' browsers; any other program can set the header to anything.
   */
  allowedOrigins?: readonly string[] | null;
  /**
   * [trustProxy=false] Take the client address from the last `X-Forwarded-For` entry (the one
   * our reverse proxy appended) rather than the TCP peer. Only behind exactly one proxy that sets
   * it: otherwise any client could claim any address and escape `maxSocketsPerIp`.
   */
  trustProxy?: boolean;
  /** [closeGraceMs=2000] See {@link SERVER_DEFAULTS.closeGraceMs}. */
  closeGraceMs?: number;
  /** [logger=createLogger('info')] Structured log; `signaling/log.ts` says what goes in it. */
  logger?: Logger;
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
 * so that each socket is visited twice per interval. A socket silent (no frame, no pong) for half
 * an interval gets a WebSocket ping; one still silent at the next visit is dropped. So a dead
 * socket goes at most 1.5 intervals after its last sign of life, an idle live one is pinged once
 * per interval, and one that sends frames needs no ping at all (under relay load, none does).
 * Slices, not one loop: pinging 10,000 sockets in one go blocked the event loop for 220–350 ms,
 * and 20 slices of 500 still stalled it 20–40 ms; a 50 ms tick makes a slice ~33 sockets there.
 */
const HEARTBEAT_TICK_MS = 50;

interface Peer {
  /** Random until the socket joins with a resume token, then derived from it. */
  id: string;
  readonly socket: WebSocket;
  /** What {@link clientKey} made of the address: the unit of `maxSocketsPerIp`. */
  readonly client: string;
  /** `null` when rate limiting is off. */
  readonly bucket: TokenBucket | null;
  /** `performance.now()` of its last frame or pong, ms. */
  heardAtMs: number;
  /** It was pinged at the last heartbeat visit and has sent nothing since. */
  awaitingPong: boolean;
  /** The heartbeat slice (see {@link HEARTBEAT_TICK_MS}) this socket is in, until it closes. */
  readonly heartbeatSlice: Set<Peer>;
  /** A newer socket took over this peer id; this one's close must not touch the room. */
  replaced: boolean;
  /** Set once we decided to close the socket: frames still arriving are ignored. */
  closedFor: RejectionReason | 'shutdown' | 'replaced' | null;
}

/**
 * The peer id for a resume token: a hash, so the same person gets the same id after a reconnect,
 * a page reload or a server restart (nothing to remember server-side), and an id seen by others
 * does not reveal the token that claims it.
 */
export function peerIdForResumeToken(token: string): string {
  const digest = createHash('sha256').update(`holepunch-chat resume v1:${token}`).digest('hex');
  return `p${digest.slice(0, 16)}`;
}

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
  const rooms = new Rooms(options.roomCapacity ?? SERVER_DEFAULTS.roomCapacity);
  const metrics: SignalingMetrics = createMetrics();
  /** Every open socket, including replaced ones that are on their way out. */
  const live = new Set<Peer>();
  /** Sockets by peer id: the ones that can be reached. */
  const peers = new Map<string, Peer>();
  /** Open sockets per {@link clientKey}. */
  const perClient = new Map<string, number>();
  let closing: Promise<void> | null = null;

  // sirv lists the directory when it is created and throws if it is missing, so without a built
  // page there is no static handler at all: signaling still works, pages get a 503 saying why.
  // `single`: every unknown path (a room link, /r/<id>) gets index.html, the app routes itself.
  const serveStatic = existsSync(staticDir)
    ? sirv(staticDir, { single: true, etag: true, gzip: false })
    : null;
  if (!serveStatic) logger.warn({ staticDir }, 'no built page; run `npm run build`');

  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = req.url?.split('?')[0];
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
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
  });

  const wssOptions = {
    noServer: true,
    clientTracking: false, // `live` tracks them
    maxPayload: options.maxFrameBytes ?? SERVER_DEFAULTS.maxFrameBytes,
    // A ws option (websocket-server.js) that @types/ws does not list yet; default 30 s.
    closeTimeout: closeGraceMs,
  };
  const wss = new WebSocketServer(wssOptions);

  /** Answers an upgrade request with a plain HTTP error and no WebSocket. */
  function refuseUpgrade(socket: Duplex, status: number, reason: RejectionReason | null): void {
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
    const path = req.url?.split('?')[0];
    if (path !== SIGNALING_PATH) return refuseUpgrade(socket, 404, null);
    if (closing) return refuseUpgrade(socket, 503, null);
    const address = clientAddress(req, trustProxy);
    if (address === undefined) return void socket.destroy(); // already gone
    const client = clientKey(address);
    const refused = (status: number, reason: RejectionReason) => {
      logger.info({ client: clientTag(client), status, reason }, 'upgrade refused');
      refuseUpgrade(socket, status, reason);
    };
    if (!isOriginAllowed(req.headers.origin, req.headers.host, allowedOrigins)) {
      return refused(403, 'origin');
    }
    if (maxSockets > 0 && live.size >= maxSockets) return refused(503, 'too-many-sockets');
    if (maxSocketsPerIp > 0 && (perClient.get(client) ?? 0) >= maxSocketsPerIp) {
      return refused(429, 'too-many-from-ip');
    }
    // Without `verifyClient` or compression, ws completes the handshake synchronously, so the
    // counts checked above cannot be overtaken by another upgrade before `accept` counts this one.
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, req, client));
  });

  function send(peer: Peer, message: ServerMessage): void {
    if (peer.socket.readyState === WebSocket.OPEN) peer.socket.send(JSON.stringify(message));
  }

  function leaveRoom(peer: Peer): void {
    const left = rooms.leave(peer.id);
    if (!left) return;
    metrics.rooms.set(rooms.size);
    for (const id of left.others) {
      const other = peers.get(id);
      if (other) send(other, { type: 'peer-left', id: peer.id });
    }
  }

  /** Closes `peer` with an app close code; it was told why in the reason. Counted and logged. */
  function reject(peer: Peer, reason: RejectionReason, code: CloseCode, text: string): void {
    if (peer.closedFor !== null) return;
    peer.closedFor = reason;
    metrics.rejections.inc({ reason });
    logger.info({ peer: peer.id, code, reason }, 'closing socket');
    peer.socket.close(code, text);
  }

  function dispatch(peer: Peer, message: ClientMessage): void {
    switch (message.type) {
      case 'join': {
        if (rooms.roomOf(peer.id) !== undefined) {
          reject(peer, 'out-of-order', CloseCode.OUT_OF_ORDER, 'already in a room');
          return;
        }
        if (message.resume !== undefined)
          claimResumedId(peer, peerIdForResumeToken(message.resume));
        const joined = rooms.join(message.room, peer.id);
        if (joined.ok) {
          metrics.rooms.set(rooms.size);
          send(peer, { type: 'joined', room: message.room, id: peer.id, peers: joined.others });
          for (const id of joined.others) {
            const other = peers.get(id);
            if (other) send(other, { type: 'peer-joined', id: peer.id });
          }
        } else if (joined.reason === 'full') {
          const text = 'This room is full: two people are already talking in it.';
          send(peer, { type: 'error', code: 'room-full', message: text });
          reject(peer, 'room-full', CloseCode.ROOM_FULL, 'room is full');
        } else {
          reject(peer, 'out-of-order', CloseCode.OUT_OF_ORDER, 'already in a room');
        }
        return;
      }
      case 'signal': {
        if (rooms.roomOf(peer.id) === undefined) {
          reject(peer, 'out-of-order', CloseCode.OUT_OF_ORDER, 'signal before join');
          return;
        }
        const target = rooms.together(peer.id, message.to) ? peers.get(message.to) : undefined;
        if (!target) {
          // Not fatal: the other person may have left a moment ago. The same answer for an id
          // that never existed and one in another room, so it reveals nothing about others.
          metrics.rejections.inc({ reason: 'unknown-peer' });
          send(peer, { type: 'error', code: 'unknown-peer', message: 'no such peer in this room' });
          return;
        }
        metrics.framesRelayed.inc();
        send(target, { type: 'signal', from: peer.id, data: message.data });
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
   * Gives `peer` the id its resume token derives. A socket still holding that id is the same
   * person's previous connection (not yet found dead by the heartbeat): it leaves its room
   * silently, since the person is coming straight back, and is closed with REPLACED.
   */
  function claimResumedId(peer: Peer, id: string): void {
    if (id === peer.id) return;
    const previous = peers.get(id);
    if (previous) {
      previous.replaced = true;
      rooms.leave(id);
      previous.closedFor = 'replaced';
      logger.info({ peer: id, code: CloseCode.REPLACED }, 'replaced by a newer socket');
      previous.socket.close(CloseCode.REPLACED, 'replaced by a newer connection');
    }
    peers.delete(peer.id);
    peer.id = id;
    peers.set(id, peer);
  }

  function onMessage(peer: Peer, data: RawData, isBinary: boolean): void {
    if (peer.closedFor !== null) return;
    const nowMs = performance.now();
    peer.heardAtMs = nowMs;
    peer.awaitingPong = false;
    if (peer.bucket && !peer.bucket.take(nowMs)) {
      reject(peer, 'rate-limited', CloseCode.RATE_LIMITED, 'rate limited');
      return;
    }
    if (isBinary) {
      reject(peer, 'binary', CloseCode.BINARY, 'binary frames are not part of the protocol');
      return;
    }
    const text = data.toString();
    const message = parseClientMessage(text);
    if (debug) {
      const kind = message?.type === 'signal' ? message.data.type : undefined;
      logger.debug({ peer: peer.id, type: message?.type, kind, bytes: text.length }, 'frame');
    }
    if (!message) {
      reject(peer, 'malformed', CloseCode.MALFORMED, 'malformed frame');
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
      heardAtMs: performance.now(),
      awaitingPong: false,
      heartbeatSlice: heartbeatSlices[nextHeartbeatSlice++ % heartbeatSlices.length]!,
      replaced: false,
      closedFor: null,
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
    perClient.set(client, (perClient.get(client) ?? 0) + 1);
    metrics.sockets.set(live.size);
    logger.info({ peer: peer.id, client: clientTag(client) }, 'socket opened');
    socket.on('pong', () => {
      peer.heardAtMs = performance.now();
      peer.awaitingPong = false;
    });
    socket.on('message', (data: RawData, isBinary: boolean) => onMessage(peer, data, isBinary));
    socket.on('close', (code: number) => {
      live.delete(peer);
      peer.heartbeatSlice.delete(peer);
      const left = (perClient.get(client) ?? 1) - 1;
      if (left === 0) perClient.delete(client);
      else perClient.set(client, left);
      metrics.sockets.set(live.size);
      logger.info({ peer: peer.id, code, reason: peer.closedFor ?? undefined }, 'socket closed');
      if (peer.replaced) return;
      peers.delete(peer.id);
      leaveRoom(peer);
    });
    // A fresh array: the TURN entry below must not pile up in the shared `options.iceServers`.
    const iceServers = [
      ...(options.iceServers ??
        defaultIceServers(req.headers.host, options.stunPort, options.stunAltAddress ?? null)),
    ];
    // TURN last, per socket: each page gets credentials of its own, tagged with its peer id.
    if (turn) iceServers.push(turnIceServer(turn, peer.id, now()));
    send(peer, { type: 'hello', id: peer.id, iceServers });
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
        peer.socket.ping();
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
    await stopped;
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
