import { beforeEach, describe, expect, it } from 'vitest';
import {
  parseClientFrame,
  RESUME_TOKEN_PATTERN,
  ROOM_ID_PATTERN,
  SIGNALING_PATH,
} from '../../../../signaling/protocol.ts';
import { ROOM_ID_BITS, ROOM_PATH_PREFIX } from '../room/room-id.ts';
import { RESUME_KEY_PREFIX } from '../room/room-session.svelte.ts';
import {
  EARLY_ID_PATTERN,
  EARLY_RESUME_KEY_PREFIX,
  EARLY_ROOM_PATH_PREFIX,
  EARLY_SIGNALING_PATH,
  EARLY_TOKEN_BYTES,
  earlySignalingUrl,
  openEarlySocket,
  type EarlyPage,
} from './early-socket.ts';
import { FakeSocket } from './fake-socket.ts';
import { signalingUrl } from './signaling-client.ts';

const ROOM = 'abcdefghijklmnopqrstuv';

class MemoryStorage {
  readonly map = new Map<string, string>();
  getItem(key: string): string | null {
    return this.map.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.map.set(key, value);
  }
}

function page(pathname: string, tabStorage: EarlyPage['tabStorage'] = new MemoryStorage()) {
  return {
    location: { pathname, protocol: 'http:', host: '203.0.113.10:8080' },
    tabStorage,
    WebSocket: FakeSocket as unknown as typeof WebSocket,
    random: globalThis.crypto,
  } satisfies EarlyPage;
}

describe('the early socket spells out what it may not import', () => {
  it('as the app has it', () => {
    expect(EARLY_ROOM_PATH_PREFIX).toBe(ROOM_PATH_PREFIX);
    expect(EARLY_SIGNALING_PATH).toBe(SIGNALING_PATH);
    expect(EARLY_ID_PATTERN.source).toBe(ROOM_ID_PATTERN.source);
    expect(EARLY_ID_PATTERN.source).toBe(RESUME_TOKEN_PATTERN.source);
    expect(EARLY_RESUME_KEY_PREFIX).toBe(RESUME_KEY_PREFIX);
    expect(EARLY_TOKEN_BYTES).toBe(ROOM_ID_BITS / 8);
    for (const protocol of ['http:', 'https:']) {
      const location = { protocol, host: '[2001:db8::10]:8443' };
      expect(earlySignalingUrl(location)).toBe(signalingUrl(location));
    }
  });
});

describe('openEarlySocket', () => {
  beforeEach(() => {
    globalThis.holepunchEarlySocket = undefined;
    FakeSocket.instances.length = 0;
  });

  it('does nothing on the landing page or a bad link', () => {
    expect(openEarlySocket(page('/'))).toBeNull();
    expect(openEarlySocket(page('/r/short'))).toBeNull();
    expect(FakeSocket.instances).toHaveLength(0);
  });

  it("joins once open with the tab's stored token, and records what the socket says", () => {
    const storage = new MemoryStorage();
    storage.setItem(`${RESUME_KEY_PREFIX}${ROOM}`, 'T'.repeat(22));
    const early = openEarlySocket(page(`/r/${ROOM}`, storage));
    const socket = FakeSocket.instances.at(-1) as FakeSocket;
    expect(early?.socket).toBe(socket);
    expect(globalThis.holepunchEarlySocket).toBe(early);
    expect(socket.url).toBe('ws://203.0.113.10:8080/ws');
    expect(early?.join).toBeNull();
    socket.open();
    socket.dispatchEvent(new MessageEvent('message', { data: '{"type":"hello"}' }));
    expect(socket.sent).toEqual([
      JSON.stringify({ type: 'join', room: ROOM, resume: 'T'.repeat(22) }),
    ]);
    expect(early?.join).toEqual({ room: ROOM, resume: 'T'.repeat(22) });
    expect(early?.events.map((event) => event.type)).toEqual(['open', 'message']);
    early?.stopRecording();
    socket.dispatchEvent(new MessageEvent('message', { data: '{}' }));
    expect(early?.events).toHaveLength(2);
  });

  it('opens nothing once the app has started (a cached reload may run it after the app)', () => {
    globalThis.holepunchEarlySocket = 'taken';
    const sockets = FakeSocket.instances.length;
    expect(openEarlySocket(page(`/r/${ROOM}`))).toBeNull();
    expect(FakeSocket.instances).toHaveLength(sockets);
    expect(globalThis.holepunchEarlySocket).toBe('taken');
  });

  it('makes and stores a token the server takes, where the tab has none', () => {
    const storage = new MemoryStorage();
    openEarlySocket(page(`/r/${ROOM}`, storage));
    const socket = FakeSocket.instances.at(-1) as FakeSocket;
    socket.open();
    const join = parseClientFrame(socket.sent[0] ?? '');
    expect(join).toMatchObject({ type: 'join', room: ROOM });
    const resume = typeof join === 'object' && join?.type === 'join' ? join.resume : undefined;
    expect(resume).toMatch(RESUME_TOKEN_PATTERN);
    expect(storage.getItem(`${RESUME_KEY_PREFIX}${ROOM}`)).toBe(resume);
  });

  it('leaves the join to the app where the tab cannot keep a token', () => {
    const refusing = {
      getItem: () => null,
      setItem: () => {
        throw new Error('QuotaExceededError');
      },
    };
    for (const tabStorage of [refusing, null]) {
      globalThis.holepunchEarlySocket = undefined;
      const early = openEarlySocket(page(`/r/${ROOM}`, tabStorage));
      const socket = FakeSocket.instances.at(-1) as FakeSocket;
      socket.open();
      expect(socket.sent).toEqual([]);
      expect(early?.join).toBeNull();
    }
  });
});
