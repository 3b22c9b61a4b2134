/**
 * The signaling socket of a room link, opened by the page's first script (web/src/connect.ts,
 * loaded `async` ahead of the app) while the app's own script is still on its way and compiling
 * (issue #13). The socket's TCP and WebSocket handshakes, the server's `hello` and the room's
 * `joined` then overlap the page load instead of following it: the first script also sends the
 * join, with the tab's resume token, as the app would. What the socket says meanwhile is recorded;
 * the app's SignalingClient takes the socket over and replays it (signaling-client.ts
 * `takeEarlySocket`), and does not join a second time.
 *
 * Only the first script imports this module at run time, and it imports nothing: the build then
 * shares no chunk between the first script and the app (the first script would wait for it).
 * Hence the constants below are spelled out here; early-socket.test.ts holds them equal to the
 * app's.
 */

/** Path prefix of a room link (room-id.ts `ROOM_PATH_PREFIX`). */
export const EARLY_ROOM_PATH_PREFIX = '/r/';

/** The signaling endpoint's path (signaling/protocol.ts `SIGNALING_PATH`). */
export const EARLY_SIGNALING_PATH = '/ws';

/** Room ids and resume tokens (signaling/protocol.ts `ROOM_ID_PATTERN`, `RESUME_TOKEN_PATTERN`). */
export const EARLY_ID_PATTERN = /^[A-Za-z0-9_-]{22,64}$/;

/** Where a tab keeps its resume token of a room (room-session.svelte.ts `RESUME_KEY_PREFIX`). */
export const EARLY_RESUME_KEY_PREFIX = 'holepunch-chat:resume:';

/** Random bytes of a new resume token (room-id.ts `ROOM_ID_BITS` / 8, as `newRoomId` makes it). */
export const EARLY_TOKEN_BYTES = 16;

/** The events a SignalingClient listens to. */
export const EARLY_EVENT_TYPES = ['open', 'message', 'close'] as const;

/** The join the first script sent. */
export interface EarlyJoin {
  room: string;
  resume: string;
}

/** A socket opened before the app, with what it said so far, oldest first. */
export interface EarlySocket {
  readonly socket: WebSocket;
  /** Events dispatched so far; recording stops with {@link EarlySocket.stopRecording}. */
  readonly events: readonly Event[];
  /** The join sent on this socket once it opened; `null` until then, or when it cannot join. */
  readonly join: EarlyJoin | null;
  stopRecording(): void;
}

declare global {
  /**
   * The page's early socket until the app takes it (signaling-client.ts `takeEarlySocket`), then
   * `'taken'`; `undefined` before either script has run.
   */
  var holepunchEarlySocket: EarlySocket | 'taken' | undefined;
}

/** The signaling URL of the page at `location`, as signaling-client.ts `signalingUrl` builds it. */
export function earlySignalingUrl(location: { protocol: string; host: string }): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}${EARLY_SIGNALING_PATH}`;
}

/** What {@link openEarlySocket} uses of the page. */
export interface EarlyPage {
  location: { pathname: string; protocol: string; host: string };
  /** Tab storage (sessionStorage); `null` where unavailable: then the app joins itself. */
  tabStorage: Pick<Storage, 'getItem' | 'setItem'> | null;
  WebSocket: typeof WebSocket;
  random: Pick<Crypto, 'getRandomValues'>;
}

/**
 * The tab's resume token of `room`, made and stored as room-session.svelte.ts does; `null` when
 * the storage refuses, since the app would then use a token of its own.
 */
function resumeToken(room: string, page: EarlyPage): string | null {
  const key = `${EARLY_RESUME_KEY_PREFIX}${room}`;
  try {
    const stored = page.tabStorage?.getItem(key);
    if (stored) return stored;
    let binary = '';
    for (const byte of page.random.getRandomValues(new Uint8Array(EARLY_TOKEN_BYTES))) {
      binary += String.fromCharCode(byte);
    }
    const token = btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    page.tabStorage?.setItem(key, token);
    return page.tabStorage?.getItem(key) === token ? token : null;
  } catch {
    return null;
  }
}

/**
 * On a room link, opens the signaling socket, joins the room once it opens, and records what the
 * socket says, for the app to take over; elsewhere (the landing page, a bad link) nothing, and
 * nothing either once the app has started: an `async` script may run after the app's, e.g. when
 * both come from the HTTP cache on a reload, and a second join with the tab's token would take
 * the room over from the app's own socket (the server closes the older one, REPLACED).
 */
export function openEarlySocket(page: EarlyPage): EarlySocket | null {
  if (globalThis.holepunchEarlySocket !== undefined) return null;
  const { pathname } = page.location;
  if (!pathname.startsWith(EARLY_ROOM_PATH_PREFIX)) return null;
  const room = pathname.slice(EARLY_ROOM_PATH_PREFIX.length).replace(/\/$/, '');
  if (!EARLY_ID_PATTERN.test(room)) return null;
  const resume = resumeToken(room, page);
  const socket = new page.WebSocket(earlySignalingUrl(page.location));
  const events: Event[] = [];
  let join: EarlyJoin | null = null;
  const record = (event: Event) => {
    if (event.type === 'open' && resume !== null) {
      socket.send(JSON.stringify({ type: 'join', room, resume }));
      join = { room, resume };
    }
    events.push(event);
  };
  for (const type of EARLY_EVENT_TYPES) socket.addEventListener(type, record);
  const early: EarlySocket = {
    socket,
    events,
    get join() {
      return join;
    },
    stopRecording: () => {
      for (const type of EARLY_EVENT_TYPES) socket.removeEventListener(type, record);
    },
  };
  globalThis.holepunchEarlySocket = early;
  return early;
}
