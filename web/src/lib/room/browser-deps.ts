/**
 * The real world for a {@link RoomSession}: the browser's WebSocket (through SignalingClient),
 * simple-peer links, `performance.now()`, Web Storage, IndexedDB and the RTCPeerConnection-based
 * probes. Node tests build their own {@link RoomDeps} from fakes instead.
 */
import { openOutboxStore } from '../chat/outbox-store.ts';
import { PeerLink } from '../rtc/peer.ts';
import { SignalingClient, signalingUrl, takeEarlySocket } from '../signaling/signaling-client.ts';
import type { KeyValueStorage, RoomDeps } from './room-session.svelte.ts';

/** `window[name]`, or `null` where reading it throws (storage disabled) or it is missing. */
function storage(name: 'sessionStorage' | 'localStorage'): KeyValueStorage | null {
  try {
    return globalThis[name] ?? null;
  } catch {
    return null;
  }
}

/**
 * A probe whose code did not load: the NAT test and the TURN test are chunks of their own (issue
 * #13: the NAT test runs once the room has settled, the TURN test on a click), fetched when run.
 */
function notLoaded(error: unknown) {
  return {
    candidates: [],
    errors: [],
    gathering: 'failed' as const,
    elapsedMs: 0,
    setupError: `the page could not load its test code (${String(error)})`,
  };
}

/** Dependencies of a room session in this page, talking to the server it was loaded from. */
export function browserRoomDeps(): RoomDeps {
  return {
    connectSignaling: (events) => {
      const url = signalingUrl(location);
      // A room link's socket is already open, or on its way (web/src/connect.ts).
      return new SignalingClient(url, events, { early: takeEarlySocket(url) });
    },
    createLink: (options, events) => new PeerLink(options, events),
    now: () => performance.now(),
    wallClock: () => Date.now(),
    tabStorage: storage('sessionStorage'),
    deviceStorage: storage('localStorage'),
    openStore: () => openOutboxStore(),
    probeNat: (iceServers) =>
      import('../rtc/nat-probe.ts').then(
        ({ probeNat }) => probeNat(iceServers),
        (error: unknown) => ({ servers: [], ...notLoaded(error) }),
      ),
    testTurn: (iceServers) =>
      import('../rtc/turn-test.ts').then(
        ({ testTurn }) => testTurn(iceServers),
        (error: unknown) => ({ urls: [], ...notLoaded(error) }),
      ),
    userAgent: navigator.userAgent,
    urlFor: (blob) => URL.createObjectURL(blob),
    releaseUrl: (url) => URL.revokeObjectURL(url),
  };
}
