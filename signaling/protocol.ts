/**
 * The signaling protocol: every frame either side may send, its validation, the limits and the
 * close codes. Imported by the server (`signaling/server.ts`) and by the page
 * (`web/src/lib/signaling/signaling-client.ts`), so both sides agree by construction.
 *
 * Frames are UTF-8 JSON text, one message each, within the structural bounds of
 * `bounded-json.ts` ({@link JSON_LIMITS}: depth and item count, checked before parsing). Parsers
 * never throw: anything off-protocol gives `null`, and every accepted message is rebuilt as a
 * fresh object so unknown keys drop.
 */
import { checkJsonValue, parseBoundedJson, type JsonShapeError } from './bounded-json.ts';

export { JSON_LIMITS } from './bounded-json.ts';

/** Path of the WebSocket endpoint on the server's HTTP port. */
export const SIGNALING_PATH = '/ws';

/** Largest signaling frame, bytes; the server enforces it through ws `maxPayload` (close 1009). */
export const MAX_FRAME_BYTES = 64 * 1024;

/** Largest SDP we relay, characters. An SDP offer for one data channel is ~1 KiB. */
export const MAX_SDP_CHARS = 32 * 1024;

/** Largest candidate line we relay, characters (RFC 8839 §5.1 lines are < 256 in practice). */
export const MAX_CANDIDATE_CHARS = 1024;

/**
 * People per room by default (`ROOM_SIZE`). Issue #10: a room is a group whose members all connect
 * to each other (full mesh), so each page runs `ROOM_CAPACITY - 1` peer connections.
 */
export const ROOM_CAPACITY = 8;

/**
 * Bounds of a room's size, inclusive. Two is a conversation; past 16 a full mesh means 15 peer
 * connections per page and 15 copies of every message on the uplink, which is where SFUs take
 * over from meshes.
 */
export const ROOM_SIZE_RANGE = [2, 16] as const;

/**
 * Largest file a page sends or accepts by default, bytes (`MAX_FILE_BYTES`; issue #11: "a
 * configurable maximum file size (default 2 GiB)"). Files travel peer to peer; the server only
 * tells pages the limit in `hello`.
 */
export const MAX_FILE_BYTES = 2 * 1024 * 1024 * 1024;

/**
 * What the server will accept from one socket, sent in `hello` so that the page sizes and paces
 * what it sends against the server it is actually talking to (issue #10) instead of being closed
 * with {@link CloseCode.RATE_LIMITED} or 1009. A rate of 0 means no limit.
 */
export interface ServerLimits {
  /** Largest frame, bytes (UTF-8). */
  maxFrameBytes: number;
  /** People per room, within {@link ROOM_SIZE_RANGE}. */
  roomSize: number;
  /** Sustained messages per second; 0 = unlimited. */
  rateMessagesPerS: number;
  /** Messages that may be sent at once before the sustained rate applies. */
  rateBurst: number;
  /** Sustained bytes per second; 0 = unlimited. */
  rateBytesPerS: number;
  /** Bytes that may be sent at once, ≥ `maxFrameBytes`. */
  rateBytesBurst: number;
  /** Largest file pages of this deployment send or accept, bytes (≥ 1; an older server: {@link MAX_FILE_BYTES}). */
  maxFileBytes: number;
}

/**
 * Room ids: URL-safe base64 of at least 128 random bits (22 characters), at most 64 characters.
 * The page makes them (`web/src/lib/room/room-id.ts`); the server accepts any id of this shape.
 */
export const ROOM_ID_PATTERN = /^[A-Za-z0-9_-]{22,64}$/;

/** Peer ids are assigned by the server (`p` + 16 hex digits); clients never choose them. */
export const PEER_ID_PATTERN = /^p[0-9a-f]{16}$/;

/**
 * Resume tokens: a secret the page keeps for the room (≥ 128 random bits, URL-safe base64). The
 * server derives the peer id from it by hashing, so a page that reconnects or reloads rejoins as
 * the same peer and no ghost or duplicate appears; knowing an id does not reveal the token.
 */
export const RESUME_TOKEN_PATTERN = /^[A-Za-z0-9_-]{22,64}$/;

/**
 * Close codes the server uses (application range 4000–4999, RFC 6455 §7.4.2). A socket closed with
 * one of these was told why in the close reason; other sockets and rooms are never affected.
 * Frames over the server's size limit ({@link MAX_FRAME_BYTES} by default) are closed by ws itself
 * with 1009 (Message Too Big), text frames that are not UTF-8 with 1007, and a server shutting down
 * closes every socket with 1001 (Going Away).
 */
export const CloseCode = {
  /**
   * Frame is not JSON, not one of {@link ClientMessage}'s shapes, or past the structural bounds
   * ({@link JSON_LIMITS}: nested too deep, or too many items).
   */
  MALFORMED: 4000,
  /** Binary frame; the protocol is text only. */
  BINARY: 4001,
  /** Valid message at the wrong time: `signal` before `join`, or a second `join`. */
  OUT_OF_ORDER: 4002,
  /** The room already holds {@link ROOM_CAPACITY} people. */
  ROOM_FULL: 4003,
  /** A newer socket joined with the same resume token (the same person reconnected). */
  REPLACED: 4004,
  /**
   * More messages than the server's rate limit allows (a steady rate per socket with a burst
   * allowance; `RATE_MESSAGES_PER_S`, `RATE_BURST`). Not final: reconnecting later is fine.
   * 4008 mirrors 1008 (Policy Violation, RFC 6455 §7.4.1).
   */
  RATE_LIMITED: 4008,
  /**
   * The socket stopped reading: what the server had queued for it passed the server's bound
   * (`MAX_BUFFERED_BYTES`). Not final: a page that reads again can reconnect.
   */
  SLOW_READER: 4009,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/**
 * 1013 (Try Again Later, in the RFC 6455 §11.7 registry): the server cannot seat anyone now,
 * because the Redis its processes share rooms through is unreachable (issue #12). Not final: the
 * page reconnects with its backoff. A registered code, not one of ours, so not in {@link CloseCode}.
 */
export const TRY_AGAIN_LATER = 1013;

/**
 * Close codes after which reconnecting cannot help: the server said no on purpose, and the same
 * page would be refused again. The page stops retrying and says why ({@link describeClose}).
 * {@link CloseCode.RATE_LIMITED} and {@link CloseCode.SLOW_READER} are not final: a page that
 * slows down or reads again is welcome back.
 */
export const FINAL_CLOSE_CODES: ReadonlySet<number> = new Set([
  CloseCode.MALFORMED,
  CloseCode.BINARY,
  CloseCode.OUT_OF_ORDER,
  CloseCode.ROOM_FULL,
  CloseCode.REPLACED,
]);

/**
 * What a close code means for the person, in words for the page's status line (issue #10: each
 * final close has its own words instead of "Reconnecting…" forever). `roomSize` is the server's
 * (from `hello`) for {@link CloseCode.ROOM_FULL}. `null` for codes that are not ours, or that
 * the page handles as a plain lost connection (1001, 1006, …).
 */
export function describeClose(code: number, roomSize: number): string | null {
  switch (code) {
    case CloseCode.MALFORMED:
    case CloseCode.BINARY:
    case CloseCode.OUT_OF_ORDER:
      return 'The chat server refused a message from this page, so it stopped talking to it. Reload the page; if it happens again, this page and the server are different versions.';
    case CloseCode.ROOM_FULL:
      return roomFullText(roomSize);
    case CloseCode.REPLACED:
      return 'This room is open in another tab or window of this browser, which took over the conversation. Use that one, or reload this page to take it back.';
    case TRY_AGAIN_LATER:
      return 'The chat server cannot reach its room store just now. Reconnecting…';
    case CloseCode.RATE_LIMITED:
      return 'The chat server is slowing this page down (too many messages at once). Reconnecting…';
    case CloseCode.SLOW_READER:
      return 'This page fell behind reading from the chat server. Reconnecting…';
    default:
      return null;
  }
}

/**
 * What one page tells the other about its side of the connection: the classification of its NAT
 * (issue #3; the page validates it field by field with `parseNatReport` in
 * web/src/lib/nat/nat-classifier.ts before showing it), and its diagnostics view (only ever exported
 * as JSON, never rendered). Both are JSON objects to the server, bounded by the frame size.
 */
export interface PeerInfo {
  nat: Record<string, unknown> | null;
  view: Record<string, unknown> | null;
}

/**
 * The payloads we relay between the two peers of a room: an SDP offer/answer (RFC 8829) or one
 * trickled candidate (RFC 8838), as simple-peer emits them with trickle ICE, or our own
 * {@link PeerInfo}. The server checks the shape and size; it does not interpret SDP.
 */
export type SignalData =
  | { type: 'offer' | 'answer'; sdp: string }
  | {
      type: 'candidate';
      candidate: { candidate: string; sdpMLineIndex: number | null; sdpMid: string | null };
    }
  | { type: 'peer-info'; info: PeerInfo }
  /** "Send me your current {@link PeerInfo}" (an export is being made; issue #10). */
  | { type: 'peer-info-request' }
  /** "My connection to you is down: offer again" (sent by the answering side; issue #4). */
  | { type: 'restart' };

/** An ICE server as handed to the page (the subset of `RTCIceServer` we use). */
export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

/** Messages a page sends to the server. */
export type ClientMessage =
  | { type: 'join'; room: string; resume?: string }
  | { type: 'signal'; to: string; data: SignalData }
  | { type: 'leave' }
  /** App-level heartbeat: browsers cannot see WebSocket pings, so a page asks for a `pong`. */
  | { type: 'ping' };

/** Non-fatal error codes in {@link ServerMessage} `error` (fatal ones close with a {@link CloseCode}). */
export type ServerErrorCode = 'unknown-peer' | 'room-full';

/** Messages the server sends to a page. `from` is always stamped by the server. */
export type ServerMessage =
  /** `iceServers`: STUN only; TURN comes with `joined`. `limits`: what this server accepts. */
  | { type: 'hello'; id: string; iceServers: IceServer[]; limits: ServerLimits }
  /** `id` is this peer's id in the room: derived from the resume token when one was given. */
  /**
   * `iceServers` replaces the `hello` list: the same STUN servers, then TURN with credentials
   * minted for this joined peer id (issue #9: only a socket in a room gets a relay).
   */
  | { type: 'joined'; room: string; id: string; peers: string[]; iceServers: IceServer[] }
  | { type: 'peer-joined'; id: string }
  | { type: 'peer-left'; id: string }
  | { type: 'signal'; from: string; data: SignalData }
  | { type: 'error'; code: ServerErrorCode; message: string }
  | { type: 'pong' };

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Why {@link parseClientFrame} refused a frame. */
export type FrameError = JsonShapeError | 'not-json' | 'off-protocol';

function parseJsonObject(text: string): Json | FrameError {
  const parsed = parseBoundedJson(text);
  if (!parsed.ok) return parsed.error;
  return isObject(parsed.value) ? parsed.value : 'off-protocol';
}

function isPeerId(value: unknown): value is string {
  return typeof value === 'string' && PEER_ID_PATTERN.test(value);
}

/** True for a string of the room id shape ({@link ROOM_ID_PATTERN}). */
export function isRoomId(value: unknown): value is string {
  return typeof value === 'string' && ROOM_ID_PATTERN.test(value);
}

/**
 * `nat` and `view` are opaque JSON objects: checked to be plain JSON within {@link JSON_LIMITS}
 * first (without recursion), so that the copy below, and serialising them again to relay them,
 * cannot overflow the stack (issue #9).
 */
function parsePeerInfo(value: unknown): PeerInfo | null {
  if (!isObject(value)) return null;
  const { nat, view } = value;
  if ((nat !== null && !isObject(nat)) || (view !== null && !isObject(view))) return null;
  if (checkJsonValue({ nat, view }) !== null) return null;
  // Fresh deep copies: a JSON round-trip of plain JSON data within the bounds.
  const copy = (object: Json | null) =>
    object === null ? null : (JSON.parse(JSON.stringify(object)) as Json);
  return { nat: copy(nat), view: copy(view) };
}

/** Validates a relayed payload; returns a fresh copy, or `null` when it is off-shape. */
export function parseSignalData(value: unknown): SignalData | null {
  if (!isObject(value)) return null;
  if (value.type === 'restart' || value.type === 'peer-info-request') return { type: value.type };
  if (value.type === 'peer-info') {
    const info = parsePeerInfo(value.info);
    return info ? { type: 'peer-info', info } : null;
  }
  if (value.type === 'offer' || value.type === 'answer') {
    const { sdp } = value;
    if (typeof sdp !== 'string' || sdp.length === 0 || sdp.length > MAX_SDP_CHARS) return null;
    return { type: value.type, sdp };
  }
  if (value.type === 'candidate' && isObject(value.candidate)) {
    const { candidate, sdpMLineIndex, sdpMid } = value.candidate;
    // An empty candidate string is the end-of-candidates marker (RFC 8838 §8.2).
    if (typeof candidate !== 'string' || candidate.length > MAX_CANDIDATE_CHARS) return null;
    const index = sdpMLineIndex ?? null;
    const mid = sdpMid ?? null;
    if (index !== null && !(Number.isInteger(index) && (index as number) >= 0)) return null;
    if (mid !== null && (typeof mid !== 'string' || mid.length > 64)) return null;
    return {
      type: 'candidate',
      candidate: { candidate, sdpMLineIndex: index as number | null, sdpMid: mid as string | null },
    };
  }
  return null;
}

/** Parses one text frame from a page. Never throws: off-protocol input gives `null`. */
export function parseClientMessage(text: string): ClientMessage | null {
  const message = parseClientFrame(text);
  return typeof message === 'string' ? null : message;
}

/**
 * {@link parseClientMessage} that says why a frame was refused: past a structural bound (checked
 * on the text before anything is parsed), not JSON, or JSON of no known shape. Never throws.
 */
export function parseClientFrame(text: string): ClientMessage | FrameError {
  const message = parseJsonObject(text);
  if (typeof message === 'string') return message;
  return readClientMessage(message) ?? 'off-protocol';
}

function readClientMessage(message: Json): ClientMessage | null {
  switch (message.type) {
    case 'join': {
      const { room, resume } = message;
      if (!isRoomId(room)) return null;
      if (resume === undefined) return { type: 'join', room };
      return typeof resume === 'string' && RESUME_TOKEN_PATTERN.test(resume)
        ? { type: 'join', room, resume }
        : null;
    }
    case 'signal': {
      const data = parseSignalData(message.data);
      return isPeerId(message.to) && data ? { type: 'signal', to: message.to, data } : null;
    }
    case 'leave':
    case 'ping':
      return { type: message.type };
    default:
      return null;
  }
}

function parseIceServer(value: unknown): IceServer | null {
  if (!isObject(value)) return null;
  const { urls, username, credential } = value;
  const validUrls =
    typeof urls === 'string' ||
    (Array.isArray(urls) && urls.length > 0 && urls.every((url) => typeof url === 'string'));
  if (!validUrls) return null;
  if (username !== undefined && typeof username !== 'string') return null;
  if (credential !== undefined && typeof credential !== 'string') return null;
  const server: IceServer = { urls: Array.isArray(urls) ? [...(urls as string[])] : urls };
  if (username !== undefined) server.username = username;
  if (credential !== undefined) server.credential = credential;
  return server;
}

/**
 * Validates a list of ICE servers (`RTCIceServer[]` as JSON): each needs `urls` (a string or a
 * non-empty string array) and may have string `username`/`credential`. Returns a fresh copy, or
 * `null` if any entry is off-shape. URL schemes are not checked here; the browser rejects bad ones.
 */
export function parseIceServers(value: unknown): IceServer[] | null {
  if (!Array.isArray(value)) return null;
  const servers = value.map(parseIceServer);
  return servers.every((server) => server !== null) ? (servers as IceServer[]) : null;
}

/**
 * Validates the `limits` of a `hello`: every field a safe non-negative integer, the room size
 * within {@link ROOM_SIZE_RANGE}, frames of at least 1 KiB and bursts of at least one message
 * and one frame. Returns a fresh object, or `null`.
 */
export function parseServerLimits(value: unknown): ServerLimits | null {
  if (!isObject(value)) return null;
  const count = (key: keyof ServerLimits): number | null => {
    const field = value[key];
    return typeof field === 'number' && Number.isSafeInteger(field) && field >= 0 ? field : null;
  };
  const maxFrameBytes = count('maxFrameBytes');
  const roomSize = count('roomSize');
  const rateMessagesPerS = count('rateMessagesPerS');
  const rateBurst = count('rateBurst');
  const rateBytesPerS = count('rateBytesPerS');
  const rateBytesBurst = count('rateBytesBurst');
  // Servers from before issue #11 do not say; their pages used the default.
  const maxFileBytes = value.maxFileBytes === undefined ? MAX_FILE_BYTES : count('maxFileBytes');
  if (maxFrameBytes === null || maxFrameBytes < 1024) return null;
  if (roomSize === null || roomSize < ROOM_SIZE_RANGE[0] || roomSize > ROOM_SIZE_RANGE[1]) {
    return null;
  }
  if (rateMessagesPerS === null || rateBurst === null || rateBurst < 1) return null;
  if (rateBytesPerS === null || rateBytesBurst === null || rateBytesBurst < maxFrameBytes) {
    return null;
  }
  if (maxFileBytes === null || maxFileBytes < 1) return null;
  return {
    maxFrameBytes,
    roomSize,
    rateMessagesPerS,
    rateBurst,
    rateBytesPerS,
    rateBytesBurst,
    maxFileBytes,
  };
}

/**
 * The words for a room that is full, from its real capacity (the server's `room-full` error and
 * the page's status line say the same thing).
 */
export function roomFullText(roomSize: number): string {
  return roomSize === 2
    ? 'This room is full: two people are already talking in it.'
    : `This room is full: it holds ${roomSize} people and all ${roomSize} are here.`;
}

/** Parses one text frame from the server. Never throws: off-protocol input gives `null`. */
export function parseServerMessage(text: string): ServerMessage | null {
  const message = parseJsonObject(text);
  if (typeof message === 'string') return null;
  switch (message.type) {
    case 'hello': {
      const iceServers = parseIceServers(message.iceServers);
      const limits = parseServerLimits(message.limits);
      return isPeerId(message.id) && iceServers && limits
        ? { type: 'hello', id: message.id, iceServers, limits }
        : null;
    }
    case 'joined': {
      const { room, id, peers } = message;
      if (!isRoomId(room) || !isPeerId(id)) return null;
      if (!Array.isArray(peers) || !peers.every(isPeerId)) return null;
      const iceServers = parseIceServers(message.iceServers);
      return iceServers ? { type: 'joined', room, id, peers: [...peers], iceServers } : null;
    }
    case 'pong':
      return { type: 'pong' };
    case 'peer-joined':
    case 'peer-left':
      return isPeerId(message.id) ? { type: message.type, id: message.id } : null;
    case 'signal': {
      const data = parseSignalData(message.data);
      return isPeerId(message.from) && data ? { type: 'signal', from: message.from, data } : null;
    }
    case 'error': {
      const { code, message: text } = message;
      if ((code !== 'unknown-peer' && code !== 'room-full') || typeof text !== 'string')
        return null;
      return { type: 'error', code, message: text };
    }
    default:
      return null;
  }
}
