/**
 * The page's room sessions, started as early as the page allows (issue #13). A page opened on a
 * room link starts that room's session in main.ts, before it mounts: the signaling socket's
 * handshake, `hello` and the join then overlap the mount instead of following it. The room view
 * claims that session when it mounts; any other room view (a room created in this tab, or a
 * room reached through history) starts its own when it claims one.
 */
import { browserRoomDeps } from './browser-deps.ts';
import { RoomSession } from './room-session.svelte.ts';

/** A started session and its teardown. */
export interface StartedSession {
  session: RoomSession;
  /** Stops the session for good (signaling closed, links destroyed). */
  stop: () => void;
}

/** The session started for the page's first room link, until a room view claims it. */
let early: StartedSession | null = null;

function startSession(roomId: string): StartedSession {
  const session = new RoomSession(roomId, browserRoomDeps());
  return { session, stop: session.start() };
}

/** Starts the session of room `roomId` before the page mounts (main.ts, for a room link). */
export function startEarlySession(roomId: string): void {
  early?.stop();
  early = startSession(roomId);
}

/**
 * The started session of room `roomId` for a room view: the early one, once, when it is that
 * room's, else a new one. An early session of another room is stopped: no view will show it.
 */
export function claimRoomSession(roomId: string): StartedSession {
  const started = early;
  early = null;
  if (started?.session.roomId === roomId) return started;
  started?.stop();
  return startSession(roomId);
}
