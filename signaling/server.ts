/**
 * The HTTP + WebSocket server: serves the built page, `/healthz`, and the signaling endpoint
 * ({@link SIGNALING_PATH}) that relays SDP offers/answers and trickled ICE candidates between the
 * two peers of a room. The server stamps `from` itself and relays only inside a room.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import sirv from 'sirv';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { defaultIceServers } from './config.ts';
import {
  CloseCode,
  MAX_FRAME_BYTES,
  ROOM_CAPACITY,
  SIGNALING_PATH,
  parseClientMessage,
  type ClientMessage,
  type IceServer,
  type ServerMessage,
} from './protocol.ts';
import { Rooms } from './rooms.ts';
import { turnIceServer, type TurnConfig } from './turn.ts';

/** Defaults of {@link SignalingServerOptions}. */
export const SERVER_DEFAULTS = {
  /** Built page, as `vite build` writes it. */
  staticDir: new URL('../dist/web', import.meta.url).pathname,
  /** A socket that misses one ping round is dropped within 2× this (ws heartbeat pattern). */
  heartbeatIntervalMs: 30 * 1000,
  roomCapacity: ROOM_CAPACITY,
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
  /** [heartbeatIntervalMs=30000] Ping interval, ms. */
  heartbeatIntervalMs?: number;
  /** [roomCapacity=2] People per room. */
  roomCapacity?: number;
  /** [log=console.log] Where one-line operational events go. Never SDP, candidates or chat. */
  log?: (line: string) => void;
}

/** A running server; {@link SignalingServer.listen} once, {@link SignalingServer.close} once. */
export interface SignalingServer {
  /** The underlying HTTP server (for tests and for adding routes). */
  readonly http: Server;
  /** Binds; resolves with the bound address (useful with port 0). Rejects on EADDRINUSE etc. */
  listen(port: number, host: string): Promise<AddressInfo>;
  /** Closes every socket with 1001 (going away) and stops listening. */
  close(): Promise<void>;
}

interface Peer {
  /** Random until the socket joins with a resume token, then derived from it. */
  id: string;
  readonly socket: WebSocket;
  alive: boolean;
  /** A newer socket took over this peer id; this one's close must not touch the room. */
  replaced: boolean;
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
 * Builds the server; nothing listens until {@link SignalingServer.listen}.
 * @throws {RangeError} if `turn` cannot mint credentials (see `turnIceServer`); checked here so
 *   that greeting a socket never throws.
 */
export function createSignalingServer(options: SignalingServerOptions): SignalingServer {
  const now = options.now ?? Date.now;
  const turn = options.turn ?? null;
  if (turn) turnIceServer(turn, 'startup-check', now());
  const staticDir = options.staticDir ?? SERVER_DEFAULTS.staticDir;
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? SERVER_DEFAULTS.heartbeatIntervalMs;
  const log = options.log ?? ((line: string) => console.log(line));
  const rooms = new Rooms(options.roomCapacity ?? SERVER_DEFAULTS.roomCapacity);
  const peers = new Map<string, Peer>();

  const pageBuilt = existsSync(staticDir);
  if (!pageBuilt) log(`warning: no built page in ${staticDir}; run \`npm run build\``);
  // `single`: every unknown path (a room link, /r/<id>) gets index.html, the app routes itself.
  const serveStatic = sirv(staticDir, { single: true, etag: true, gzip: false });

  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (!pageBuilt) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('page not built: npm run build\n');
      return;
    }
    serveStatic(req, res, () => {
      res.writeHead(404).end();
    });
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });

  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const path = req.url?.split('?')[0];
    if (path !== SIGNALING_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, req));
  });

  function send(peer: Peer, message: ServerMessage): void {
    if (peer.socket.readyState === WebSocket.OPEN) peer.socket.send(JSON.stringify(message));
  }

  function leaveRoom(peer: Peer): void {
    const left = rooms.leave(peer.id);
    if (!left) return;
    for (const id of left.others) {
      const other = peers.get(id);
      if (other) send(other, { type: 'peer-left', id: peer.id });
    }
  }

  function reject(peer: Peer, code: CloseCode, reason: string): void {
    log(`peer ${peer.id} closed ${code}: ${reason}`);
    peer.socket.close(code, reason);
  }

  function dispatch(peer: Peer, message: ClientMessage): void {
    switch (message.type) {
      case 'join': {
        if (rooms.roomOf(peer.id) !== undefined) {
          reject(peer, CloseCode.OUT_OF_ORDER, 'already in a room');
          return;
        }
        if (message.resume !== undefined)
          claimResumedId(peer, peerIdForResumeToken(message.resume));
        const joined = rooms.join(message.room, peer.id);
        if (joined.ok) {
          send(peer, { type: 'joined', room: message.room, id: peer.id, peers: joined.others });
          for (const id of joined.others) {
            const other = peers.get(id);
            if (other) send(other, { type: 'peer-joined', id: peer.id });
          }
        } else if (joined.reason === 'full') {
          const text = 'This room is full: two people are already talking in it.';
          send(peer, { type: 'error', code: 'room-full', message: text });
          reject(peer, CloseCode.ROOM_FULL, 'room is full');
        } else {
          reject(peer, CloseCode.OUT_OF_ORDER, 'already in a room');
        }
        return;
      }
      case 'signal': {
        if (rooms.roomOf(peer.id) === undefined) {
          reject(peer, CloseCode.OUT_OF_ORDER, 'signal before join');
          return;
        }
        const target = rooms.together(peer.id, message.to) ? peers.get(message.to) : undefined;
        if (!target) {
          // Not fatal: the other person may have left a moment ago.
          send(peer, { type: 'error', code: 'unknown-peer', message: 'no such peer in this room' });
          return;
        }
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
      reject(previous, CloseCode.REPLACED, 'replaced by a newer connection');
    }
    peers.delete(peer.id);
    peer.id = id;
    peers.set(id, peer);
  }

  function accept(socket: WebSocket, req: IncomingMessage): void {
    const id = `p${randomBytes(8).toString('hex')}`;
    const peer: Peer = { id, socket, alive: true, replaced: false };
    // First, so that no socket error can ever go unhandled and crash the process.
    socket.on('error', (error) => log(`peer ${peer.id} socket error: ${error.message}`));
    peers.set(peer.id, peer);
    socket.on('pong', () => {
      peer.alive = true;
    });
    socket.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) {
        reject(peer, CloseCode.BINARY, 'binary frames are not part of the protocol');
        return;
      }
      const message = parseClientMessage(data.toString());
      if (!message) {
        reject(peer, CloseCode.MALFORMED, 'malformed frame');
        return;
      }
      dispatch(peer, message);
    });
    socket.on('close', () => {
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

  const heartbeat = setInterval(() => {
    for (const peer of peers.values()) {
      if (!peer.alive) {
        log(`peer ${peer.id} missed a heartbeat; dropped`);
        peer.socket.terminate();
        continue;
      }
      peer.alive = false;
      peer.socket.ping();
    }
  }, heartbeatIntervalMs);
  heartbeat.unref();

  return {
    http,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        http.once('error', reject);
        http.listen(port, host, () => {
          http.off('error', reject);
          resolve(http.address() as AddressInfo);
        });
      });
    },
    close() {
      clearInterval(heartbeat);
      for (const peer of peers.values()) peer.socket.close(1001, 'server shutting down');
      return new Promise((resolve) => {
        wss.close();
        http.close(() => resolve());
        http.closeAllConnections();
      });
    },
  };
}
