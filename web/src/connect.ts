/**
 * The page's first script, loaded `async` so that it runs as soon as it arrives, before the app's
 * script has arrived and been compiled, and without waiting for the stylesheet: on a room link it
 * opens the signaling socket and joins the room (issue #13; lib/signaling/early-socket.ts).
 */
import { openEarlySocket } from './lib/signaling/early-socket.ts';

/** `sessionStorage`, or `null` where reading it throws (storage disabled). */
function tabStorage(): Storage | null {
  try {
    return globalThis.sessionStorage ?? null;
  } catch {
    return null;
  }
}

openEarlySocket({ location, tabStorage: tabStorage(), WebSocket, random: crypto });
