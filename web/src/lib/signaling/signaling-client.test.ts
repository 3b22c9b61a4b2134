import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CloseCode, type ServerLimits } from '../../../../signaling/protocol.ts';
import { openEarlySocket } from './early-socket.ts';
import { FakeSocket } from './fake-socket.ts';
import { SignalingClient, takeEarlySocket, type SignalingEvents } from './signaling-client.ts';

const LIMITS: ServerLimits = {
  maxFrameBytes: 4096,
  roomSize: 8,
  rateMessagesPerS: 20,
  rateBurst: 10,
  rateBytesPerS: 32768,
  rateBytesBurst: 65536,
  maxFileBytes: 1024 * 1024,
};

const events = (): SignalingEvents & { closes: (number | null)[] } => {
  const closes: (number | null)[] = [];
  return {
    closes,
    open: () => {},
    message: () => {},
    closed: (_c, _r, retry) => closes.push(retry),
  };
};

beforeEach(() => {
  vi.useFakeTimers();
  FakeSocket.instances.length = 0;
  globalThis.holepunchEarlySocket = undefined;
});
afterEach(() => {
  vi.useRealTimers();
});

function client(): { c: SignalingClient; socket: FakeSocket; e: ReturnType<typeof events> } {
  const e = events();
  const c = new SignalingClient('ws://test/ws', e, {
    WebSocket: FakeSocket as unknown as typeof WebSocket,
    now: () => Date.now(),
  });
  const socket = FakeSocket.instances[0];
  if (!socket) throw new Error('no socket');
  socket.open();
  socket.receive({ type: 'hello', id: 'p0123456789abcdef', iceServers: [], limits: LIMITS });
  return { c, socket, e };
}

describe('SignalingClient', () => {
  it('refuses, before it leaves the page, a frame the server would refuse', () => {
    const { c, socket } = client();
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(c.send({ type: 'signal', to: 'nobody', data: { type: 'restart' } })).toBe(false);
    expect(c.send({ type: 'join', room: 'short' })).toBe(false);
    // Bigger than the server's frame limit from hello: it would be closed with 1009.
    const sdp = 'x'.repeat(LIMITS.maxFrameBytes);
    expect(c.send({ type: 'signal', to: 'p0123456789abcdef', data: { type: 'offer', sdp } })).toBe(
      false,
    );
    expect(socket.sent).toEqual([]);
    expect(error).toHaveBeenCalledTimes(3);
    expect(c.send({ type: 'signal', to: 'p0123456789abcdef', data: { type: 'restart' } })).toBe(
      true,
    );
    expect(socket.sent).toHaveLength(1);
    error.mockRestore();
  });

  it('paces a burst against the limits in hello instead of getting closed', () => {
    const { c, socket } = client();
    for (let i = 0; i < 20; i++) {
      c.send({ type: 'signal', to: 'p0123456789abcdef', data: { type: 'restart' } });
    }
    expect(socket.sent).toHaveLength(8); // 80 % of a burst of 10
    vi.advanceTimersByTime(1000);
    expect(socket.sent.length).toBeGreaterThan(8);
    vi.advanceTimersByTime(5000);
    // …plus the heartbeat ping that came due meanwhile.
    expect(socket.sent.filter((text) => text.includes('"signal"'))).toHaveLength(20);
  });

  it('stops for good on a final close code and retries on others', () => {
    const { socket, e } = client();
    socket.closeWith(1006);
    expect(e.closes).toHaveLength(1);
    expect(e.closes[0]).not.toBeNull();
    vi.advanceTimersByTime(20_000);
    const second = FakeSocket.instances[1];
    expect(second).toBeDefined();
    second?.open();
    second?.closeWith(CloseCode.REPLACED);
    expect(e.closes[1]).toBeNull();
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.instances).toHaveLength(2);
  });

  it('takes over the early socket: what it said first, in order, then live, and joins once', async () => {
    const ROOM = 'abcdefghijklmnopqrstuv';
    const RESUME = 'T'.repeat(22);
    const storage = new Map([[`holepunch-chat:resume:${ROOM}`, RESUME]]);
    openEarlySocket({
      location: { pathname: `/r/${ROOM}`, protocol: 'http:', host: 'test' },
      tabStorage: { getItem: (key) => storage.get(key) ?? null, setItem: () => {} },
      WebSocket: FakeSocket as unknown as typeof WebSocket,
      random: globalThis.crypto,
    });
    const socket = FakeSocket.instances[0] as FakeSocket;
    socket.open();
    socket.receive({ type: 'hello', id: 'p0123456789abcdef', iceServers: [], limits: LIMITS });
    const heard: string[] = [];
    let c: SignalingClient | null = null;
    c = new SignalingClient(
      'ws://test/ws',
      {
        open: () => {
          heard.push('open');
          // As the room session does: join on open. The first script has joined already.
          expect(c?.send({ type: 'join', room: ROOM, resume: RESUME })).toBe(true);
        },
        message: (message) => heard.push(message.type),
        closed: () => heard.push('closed'),
      },
      {
        WebSocket: FakeSocket as unknown as typeof WebSocket,
        now: () => Date.now(),
        early: takeEarlySocket('ws://test/ws'),
      },
    );
    expect(globalThis.holepunchEarlySocket).toBe('taken');
    expect(heard).toEqual([]); // replayed after the constructor, once the caller holds the client
    await Promise.resolve();
    expect(heard).toEqual(['open', 'hello']);
    socket.receive({
      type: 'joined',
      room: ROOM,
      id: 'p0123456789abcdef',
      peers: [],
      iceServers: [],
    });
    expect(heard).toEqual(['open', 'hello', 'joined']);
    expect(socket.sent.map((text) => JSON.parse(text).type)).toEqual(['join']);
    expect(FakeSocket.instances).toHaveLength(1);
    c.send({ type: 'leave' });
    expect(socket.sent.map((text) => JSON.parse(text).type)).toEqual(['join', 'leave']);
  });

  it('leaves an early socket of another URL, or a closed one, and opens its own', () => {
    for (const [url, state] of [
      ['ws://elsewhere/ws', 0],
      ['ws://test/ws', 3],
    ] as const) {
      FakeSocket.instances.length = 0;
      const early = new FakeSocket(url);
      early.readyState = state;
      globalThis.holepunchEarlySocket = {
        socket: early as unknown as WebSocket,
        events: [],
        join: null,
        stopRecording: () => {},
      };
      expect(takeEarlySocket('ws://test/ws')).toBeNull();
      expect(early.readyState).toBe(3);
      expect(globalThis.holepunchEarlySocket).toBe('taken');
    }
    expect(takeEarlySocket('ws://test/ws')).toBeNull();
  });
});
