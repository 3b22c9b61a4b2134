/**
 * The real world for a {@link RoomSession}: the browser's WebSocket (through SignalingClient),
 * simple-peer links, `performance.now()`, Web Storage, IndexedDB and the RTCPeerConnection-based
 * probes. Node tests build their own {@link RoomDeps} from fakes instead.
 */
import { openOutboxStore } from '../chat/outbox-store.ts';
import { probeNat } from '../rtc/nat-probe.ts';
import { PeerLink } from '../rtc/peer.ts';
import { testTurn } from '../rtc/turn-test.ts';
import { SignalingClient, signalingUrl } from '../signaling/signaling-client.ts';
import type { KeyValueStorage, RoomDeps } from './room-session.svelte.ts';

/** `window[name]`, or `null` where reading it throws (storage disabled) or it is missing. */
function storage(name: 'sessionStorage' | 'localStorage'): KeyValueStorage | null {
  try {
    return globalThis[name] ?? null;
  } catch {
    return null;
  }
}

/** Dependencies of a room session in this page, talking to the server it was loaded from. */
export function browserRoomDeps(): RoomDeps {
  return {
    connectSignaling: (events) => new SignalingClient(signalingUrl(location), events),
    createLink: (options, events) => new PeerLink(options, events),
    now: () => performance.now(),
    wallClock: () => Date.now(),
    tabStorage: storage('sessionStorage'),
    deviceStorage: storage('localStorage'),
    openStore: () => openOutboxStore(),
    probeNat: (iceServers) => probeNat(iceServers),
    testTurn: (iceServers) => testTurn(iceServers),
    userAgent: navigator.userAgent,
    urlFor: (blob) => URL.createObjectURL(blob),
    releaseUrl: (url) => URL.revokeObjectURL(url),
  };
}
