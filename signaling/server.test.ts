import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { CloseCode, MAX_FRAME_BYTES, SIGNALING_PATH, type ServerMessage } from './protocol.ts';
import {
  createSignalingServer,
  type SignalingServer,
  type SignalingServerOptions,
} from './server.ts';
import type { TurnConfig } from './turn.ts';

const ROOM = 'AAAAAAAAAAAAAAAAAAAAAA';
const OTHER_ROOM = 'BBBBBBBBBBBBBBBBBBBBBB';
const OFFER = { type: 'offer', sdp: 'v=0\r\n' };

/** A test client that queues what the server says, so tests can await the next message. */
class Client {
  readonly socket: WebSocket;
  readonly #inbox: ServerMessage[] = [];
  readonly #waiters: ((message: ServerMessage) => void)[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(url: string, options: { autoPong?: boolean } = {}) {
    this.socket = new WebSocket(url, options);
    this.socket.on('error', () => {});
    this.socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as ServerMessage;
      const waiter = this.#waiters.shift();
      if (waiter) waiter(message);
      else this.#inbox.push(message);
    });
    this.closed = new Promise((resolve) =>
      this.socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
  }

  next(): Promise<ServerMessage> {
    const queued = this.#inbox.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  send(message: unknown): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** Resolves with nothing pending after a short quiet period; fails if a message shows up. */
  async expectSilence(ms = 100): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    expect(this.#inbox).toEqual([]);
  }
}

let server: SignalingServer;
let base: string;
const clients: Client[] = [];

async function connect(options?: { autoPong?: boolean }): Promise<{ client: Client; id: string }> {
  const client = new Client(`${base.replace('http', 'ws')}${SIGNALING_PATH}`, options);
  clients.push(client);
  const hello = await client.next();
  if (hello.type !== 'hello') throw new Error(`expected hello, got ${hello.type}`);
  return { client, id: hello.id };
}

async function joinPair(room = ROOM) {
  const alice = await connect();
  const bob = await connect();
  alice.client.send({ type: 'join', room });
  expect(await alice.client.next()).toEqual({ type: 'joined', room, id: alice.id, peers: [] });
  bob.client.send({ type: 'join', room });
  expect(await bob.client.next()).toEqual({ type: 'joined', room, id: bob.id, peers: [alice.id] });
  expect(await alice.client.next()).toEqual({ type: 'peer-joined', id: bob.id });
  return { alice, bob };
}

beforeEach(async () => {
  const staticDir = mkdtempSync(join(tmpdir(), 'page-'));
  writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>chat</title>');
  server = createSignalingServer({
    stunPort: 3478,
    iceServers: null,
    staticDir,
    heartbeatIntervalMs: 50,
    log: () => {},
  });
  const address = await server.listen(0, '127.0.0.1');
  base = `http://127.0.0.1:${address.port}`;
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.socket.terminate();
  await server.close();
});

describe('signaling server', () => {
  it('greets each socket with its own id and STUN on both ports of the page host', async () => {
    const a = await connect();
    const b = await connect();
    expect(a.id).not.toBe(b.id);
    const hello = new Client(`${base.replace('http', 'ws')}${SIGNALING_PATH}`);
    clients.push(hello);
    expect(await hello.next()).toMatchObject({
      iceServers: [{ urls: 'stun:127.0.0.1:3478' }, { urls: 'stun:127.0.0.1:3479' }],
    });
  });

  it('relays offers between the two people of a room, stamping the sender itself', async () => {
    const { alice, bob } = await joinPair();
    alice.client.send({ type: 'signal', to: bob.id, from: 'pffffffffffffffff', data: OFFER });
    expect(await bob.client.next()).toEqual({ type: 'signal', from: alice.id, data: OFFER });
  });

  it('tells a third person the room is full and closes with 4003; the two carry on', async () => {
    const { alice, bob } = await joinPair();
    const carol = await connect();
    carol.client.send({ type: 'join', room: ROOM });
    expect(await carol.client.next()).toMatchObject({ type: 'error', code: 'room-full' });
    expect(await carol.client.closed).toEqual({
      code: CloseCode.ROOM_FULL,
      reason: 'room is full',
    });
    await alice.client.expectSilence();
    alice.client.send({ type: 'signal', to: bob.id, data: OFFER });
    expect(await bob.client.next()).toMatchObject({ type: 'signal', from: alice.id });
  });

  it('never relays into another room', async () => {
    const { alice } = await joinPair(ROOM);
    const mallory = await connect();
    mallory.client.send({ type: 'join', room: OTHER_ROOM });
    await mallory.client.next();
    mallory.client.send({ type: 'signal', to: alice.id, data: OFFER });
    expect(await mallory.client.next()).toMatchObject({ type: 'error', code: 'unknown-peer' });
    await alice.client.expectSilence();
  });

  it.each([
    ['malformed JSON', '{"type":"join",', CloseCode.MALFORMED],
    ['an unknown message', { type: 'list-rooms' }, CloseCode.MALFORMED],
    [
      'a signal before joining',
      { type: 'signal', to: 'p0123456789abcdef', data: OFFER },
      CloseCode.OUT_OF_ORDER,
    ],
    ['binary', Buffer.from([1, 2, 3]), CloseCode.BINARY],
    ['a frame over the size limit', 'x'.repeat(MAX_FRAME_BYTES + 1), 1009],
  ])(
    'closes a socket that sends %s, and a chat in another room is untouched',
    async (_, frame, code) => {
      const { alice, bob } = await joinPair(OTHER_ROOM);
      const bad = await connect();
      if (Buffer.isBuffer(frame)) bad.client.socket.send(frame);
      else bad.client.send(frame);
      expect((await bad.client.closed).code).toBe(code);
      alice.client.send({ type: 'signal', to: bob.id, data: OFFER });
      expect(await bob.client.next()).toEqual({ type: 'signal', from: alice.id, data: OFFER });
    },
  );

  it('rejects a second join on the same socket', async () => {
    const { alice } = await joinPair();
    alice.client.send({ type: 'join', room: OTHER_ROOM });
    expect((await alice.client.closed).code).toBe(CloseCode.OUT_OF_ORDER);
  });

  it('tells the other person when someone leaves or disconnects', async () => {
    const { alice, bob } = await joinPair();
    bob.client.send({ type: 'leave' });
    expect(await alice.client.next()).toEqual({ type: 'peer-left', id: bob.id });
    bob.client.send({ type: 'join', room: ROOM });
    expect(await bob.client.next()).toEqual({
      type: 'joined',
      room: ROOM,
      id: bob.id,
      peers: [alice.id],
    });
    expect(await alice.client.next()).toEqual({ type: 'peer-joined', id: bob.id });
    bob.client.socket.close();
    expect(await alice.client.next()).toEqual({ type: 'peer-left', id: bob.id });
  });

  it('rejoins a reconnecting person under the same id, replacing the stale socket', async () => {
    const resume = 'R'.repeat(22);
    const alice = await connect();
    alice.client.send({ type: 'join', room: ROOM });
    await alice.client.next();
    const first = await connect();
    first.client.send({ type: 'join', room: ROOM, resume });
    const joined = await first.client.next();
    expect(joined).toMatchObject({ type: 'joined', peers: [alice.id] });
    const bobId = (joined as { id: string }).id;
    expect(await alice.client.next()).toEqual({ type: 'peer-joined', id: bobId });

    const second = await connect();
    second.client.send({ type: 'join', room: ROOM, resume });
    expect(await second.client.next()).toEqual({
      type: 'joined',
      room: ROOM,
      id: bobId,
      peers: [alice.id],
    });
    expect((await first.client.closed).code).toBe(CloseCode.REPLACED);
    // Alice sees the same person come back, never a ghost: no peer-left for the old socket.
    expect(await alice.client.next()).toEqual({ type: 'peer-joined', id: bobId });
    alice.client.send({ type: 'signal', to: bobId, data: OFFER });
    expect(await second.client.next()).toEqual({ type: 'signal', from: alice.id, data: OFFER });
  });

  it('answers an app-level ping, for pages that cannot see WebSocket pings', async () => {
    const alice = await connect();
    alice.client.send({ type: 'ping' });
    expect(await alice.client.next()).toEqual({ type: 'pong' });
  });

  it('drops a socket that stops answering pings', async () => {
    const alice = await connect();
    const dead = await connect({ autoPong: false });
    alice.client.send({ type: 'join', room: ROOM });
    dead.client.send({ type: 'join', room: ROOM });
    await alice.client.next();
    expect(await alice.client.next()).toEqual({ type: 'peer-joined', id: dead.id });
    expect(await alice.client.next()).toEqual({ type: 'peer-left', id: dead.id });
    expect((await dead.client.closed).code).toBe(1006);
  });

  it('serves the page for room links and answers /healthz', async () => {
    const room = await fetch(`${base}/r/${ROOM}`);
    expect(room.status).toBe(200);
    expect(await room.text()).toContain('<title>chat</title>');
    expect(await (await fetch(`${base}/healthz`)).text()).toBe('ok\n');
  });

  it('refuses WebSocket upgrades on other paths', async () => {
    const stray = new WebSocket(`${base.replace('http', 'ws')}/elsewhere`);
    const error = await new Promise<Error>((resolve) => stray.on('error', resolve));
    expect(error.message).toContain('404');
  });
});

describe('ICE servers in hello', () => {
  const SECRET = 'server-test-secret-never-sent';
  const NOW_MS = 1_700_000_000_000;
  const TURN_URLS = [
    'turn:203.0.113.20:3478?transport=udp',
    'turn:203.0.113.20:3478?transport=tcp',
  ];
  const MINTED: TurnConfig = {
    urls: TURN_URLS,
    auth: { kind: 'secret', secret: SECRET, ttlS: 600 },
  };
  const servers: SignalingServer[] = [];

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  /** A server with `options`; resolves with a function that opens a socket and reads its hello. */
  async function serverWith(options: Partial<SignalingServerOptions>) {
    const custom = createSignalingServer({
      stunPort: 3478,
      iceServers: null,
      now: () => NOW_MS,
      log: () => {},
      ...options,
    });
    servers.push(custom);
    const { port } = await custom.listen(0, '127.0.0.1');
    /** The first frame as sent (for leak checks) and as parsed. */
    return () =>
      new Promise<{ raw: string; hello: Extract<ServerMessage, { type: 'hello' }> }>(
        (resolve, reject) => {
          const socket = new WebSocket(`ws://127.0.0.1:${port}${SIGNALING_PATH}`);
          socket.on('error', reject);
          socket.once('message', (data) => {
            const raw = data.toString();
            socket.terminate();
            resolve({ raw, hello: JSON.parse(raw) as Extract<ServerMessage, { type: 'hello' }> });
          });
        },
      );
  }

  it('lists both STUN ports on the alternate address after the page host ones', async () => {
    const hello = await serverWith({ stunAltAddress: '203.0.113.11' });
    expect((await hello()).hello.iceServers).toEqual([
      { urls: 'stun:127.0.0.1:3478' },
      { urls: 'stun:127.0.0.1:3479' },
      { urls: 'stun:203.0.113.11:3478' },
      { urls: 'stun:203.0.113.11:3479' },
    ]);
  });

  it('gives each socket TURN credentials minted for its id, and never the secret', async () => {
    const hello = await serverWith({ turn: MINTED });
    const first = await hello();
    const second = await hello();
    const expiresAtS = NOW_MS / 1000 + 600;
    for (const { raw, hello: message } of [first, second]) {
      expect(message.iceServers.slice(0, 2)).toEqual([
        { urls: 'stun:127.0.0.1:3478' },
        { urls: 'stun:127.0.0.1:3479' },
      ]);
      const username = `${expiresAtS}:${message.id}`;
      expect(message.iceServers[2]).toEqual({
        urls: TURN_URLS,
        username,
        credential: createHmac('sha1', SECRET).update(username).digest('base64'),
      });
      expect(message.iceServers).toHaveLength(3);
      expect(raw).not.toContain(SECRET);
    }
    expect(first.hello.iceServers[2]?.credential).not.toBe(second.hello.iceServers[2]?.credential);
  });

  it('appends TURN to ICE_SERVERS, afresh for every socket', async () => {
    const configured = [{ urls: 'stun:stun.example.org:3478' }];
    const hello = await serverWith({ iceServers: configured, turn: MINTED });
    for (let i = 0; i < 2; i++) {
      const { hello: message } = await hello();
      expect(message.iceServers).toEqual([
        { urls: 'stun:stun.example.org:3478' },
        expect.objectContaining({ urls: TURN_URLS, username: expect.stringMatching(/^\d+:p/) }),
      ]);
    }
    expect(configured).toHaveLength(1);
  });

  it('hands static TURN credentials to every page as they are', async () => {
    const hello = await serverWith({
      stunPort: 0,
      turn: { urls: TURN_URLS, auth: { kind: 'static', username: 'chat', credential: 'pw' } },
    });
    expect((await hello()).hello.iceServers).toEqual([
      { urls: TURN_URLS, username: 'chat', credential: 'pw' },
    ]);
  });

  it('refuses at construction a TURN setup that cannot mint, so greeting never throws', () => {
    const turn: TurnConfig = { urls: TURN_URLS, auth: { kind: 'secret', secret: '', ttlS: 600 } };
    expect(() => createSignalingServer({ stunPort: 0, iceServers: null, turn })).toThrow(
      RangeError,
    );
  });
});
