import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { CloseCode, MAX_FRAME_BYTES, SIGNALING_PATH, type ServerMessage } from './protocol.ts';
import { createSignalingServer, type SignalingServer } from './server.ts';

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
  expect(await alice.client.next()).toEqual({ type: 'joined', room, peers: [] });
  bob.client.send({ type: 'join', room });
  expect(await bob.client.next()).toEqual({ type: 'joined', room, peers: [alice.id] });
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
  it('greets each socket with its own id and STUN on the host the page came from', async () => {
    const a = await connect();
    const b = await connect();
    expect(a.id).not.toBe(b.id);
    const hello = new Client(`${base.replace('http', 'ws')}${SIGNALING_PATH}`);
    clients.push(hello);
    expect(await hello.next()).toMatchObject({
      iceServers: [{ urls: `stun:127.0.0.1:3478` }],
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
    expect(await bob.client.next()).toEqual({ type: 'joined', room: ROOM, peers: [alice.id] });
    expect(await alice.client.next()).toEqual({ type: 'peer-joined', id: bob.id });
    bob.client.socket.close();
    expect(await alice.client.next()).toEqual({ type: 'peer-left', id: bob.id });
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
