import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { CloseCode, MAX_FRAME_BYTES, SIGNALING_PATH, type ServerMessage } from './protocol.ts';
import { EXAMPLE_LIMITS } from './testing/limits.ts';
import {
  clientKey,
  createSignalingServer,
  isOriginAllowed,
  SERVER_DEFAULTS,
  type SignalingServer,
  type SignalingServerOptions,
} from './server.ts';
import type { TurnConfig } from './turn.ts';

const ROOM = 'AAAAAAAAAAAAAAAAAAAAAA';
const OTHER_ROOM = 'BBBBBBBBBBBBBBBBBBBBBB';
const OFFER = { type: 'offer', sdp: 'v=0\r\n' };
const silent = pino({ level: 'silent' });
/** What the default test server greets with: STUN on both ports of the page host. */
const PAGE_STUN = [{ urls: 'stun:127.0.0.1:3478' }, { urls: 'stun:127.0.0.1:3479' }];
/** The `joined` the default test server sends (no TURN configured: the STUN list again). */
const joinedMessage = (room: string, id: string, peers: string[]) => ({
  type: 'joined',
  room,
  id,
  peers,
  iceServers: PAGE_STUN,
});

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
  expect(await alice.client.next()).toEqual(joinedMessage(room, alice.id, []));
  bob.client.send({ type: 'join', room });
  expect(await bob.client.next()).toEqual(joinedMessage(room, bob.id, [alice.id]));
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
    // Long: a loaded machine can delay a pong by 100 ms and more. The heartbeat tests start
    // servers of their own with shorter intervals and margins of whole intervals.
    heartbeatIntervalMs: 60_000,
    logger: silent,
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
    // …and with the limits it will hold the page to (issue #10), the defaults here.
    expect(await hello.next()).toMatchObject({ iceServers: PAGE_STUN, limits: EXAMPLE_LIMITS });
  });

  it('relays offers between the two people of a room, stamping the sender itself', async () => {
    const { alice, bob } = await joinPair();
    alice.client.send({ type: 'signal', to: bob.id, from: 'pffffffffffffffff', data: OFFER });
    expect(await bob.client.next()).toEqual({ type: 'signal', from: alice.id, data: OFFER });
  });

  it('fills a room to its size, tells the next person it is full (with the size) and closes with 4003', async () => {
    // Issue #10: a room is a group of ROOM_SIZE (default 8); every member is told of each arrival.
    const members: { client: Client; id: string }[] = [];
    for (let i = 0; i < SERVER_DEFAULTS.roomCapacity; i++) {
      const member = await connect();
      member.client.send({ type: 'join', room: ROOM });
      expect(await member.client.next()).toEqual(
        joinedMessage(
          ROOM,
          member.id,
          members.map((m) => m.id),
        ),
      );
      for (const earlier of members) {
        expect(await earlier.client.next()).toEqual({ type: 'peer-joined', id: member.id });
      }
      members.push(member);
    }
    const late = await connect();
    late.client.send({ type: 'join', room: ROOM });
    expect(await late.client.next()).toEqual({
      type: 'error',
      code: 'room-full',
      message: 'This room is full: it holds 8 people and all 8 are here.',
    });
    expect(await late.client.closed).toEqual({ code: CloseCode.ROOM_FULL, reason: 'room is full' });
    const [first, last] = [members[0], members.at(-1)];
    if (!first || !last) throw new Error('no members');
    await first.client.expectSilence();
    first.client.send({ type: 'signal', to: last.id, data: OFFER });
    expect(await last.client.next()).toMatchObject({ type: 'signal', from: first.id });
  });

  it("tells a two-person room's third visitor in the words of a conversation", async () => {
    const small = createSignalingServer({
      stunPort: 0,
      iceServers: null,
      roomCapacity: 2,
      logger: silent,
    });
    const address = await small.listen(0, '127.0.0.1');
    try {
      const url = `ws://127.0.0.1:${address.port}${SIGNALING_PATH}`;
      const people = [new Client(url), new Client(url), new Client(url)];
      clients.push(...people);
      for (const person of people) {
        expect(await person.next()).toMatchObject({ type: 'hello', limits: { roomSize: 2 } });
      }
      const [a, b, c] = people as [Client, Client, Client];
      a.send({ type: 'join', room: ROOM });
      await a.next();
      b.send({ type: 'join', room: ROOM });
      await b.next();
      c.send({ type: 'join', room: ROOM });
      expect(await c.next()).toMatchObject({
        code: 'room-full',
        message: 'This room is full: two people are already talking in it.',
      });
    } finally {
      await small.close();
    }
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
    expect(await bob.client.next()).toEqual(joinedMessage(ROOM, bob.id, [alice.id]));
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
    expect(await second.client.next()).toEqual(joinedMessage(ROOM, bobId, [alice.id]));
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

  it('drops a socket that stops answering pings, and tells its room', async () => {
    const { ws } = await startServer({ heartbeatIntervalMs: 1000 }); // pongs get 500 ms
    const alice = await open(ws);
    const dead = new Client(ws, { autoPong: false });
    clientsToClose.push(dead.socket);
    const deadId = ((await dead.next()) as { id: string }).id;
    alice.client.send({ type: 'join', room: ROOM });
    dead.send({ type: 'join', room: ROOM });
    await alice.client.next();
    expect(await alice.client.next()).toEqual({ type: 'peer-joined', id: deadId });
    expect(await alice.client.next()).toEqual({ type: 'peer-left', id: deadId });
    expect((await dead.closed).code).toBe(1006);
  });

  it('spreads the pings over the interval and drops only the sockets that stop answering', async () => {
    // 2 s: a socket is visited every second, in 20 slices 50 ms apart. An answering socket has a
    // whole second to pong, so a loaded machine cannot make it look dead.
    const { ws } = await startServer({ heartbeatIntervalMs: 2000 });
    const sockets = Array.from({ length: 16 }, (_, i) => new Client(ws, { autoPong: i % 2 === 0 }));
    clientsToClose.push(...sockets.map((client) => client.socket));
    const firstPings = await Promise.all(
      sockets.map(
        (client) =>
          new Promise<number>((resolve) =>
            client.socket.once('ping', () => resolve(performance.now())),
          ),
      ),
    );
    // Not all in one burst: the first pings span most of a half interval.
    expect(Math.max(...firstPings) - Math.min(...firstPings)).toBeGreaterThanOrEqual(500);
    const silent = sockets.filter((_, i) => i % 2 === 1);
    for (const { code } of await Promise.all(silent.map((client) => client.closed))) {
      expect(code).toBe(1006);
    }
    // Two more intervals: every socket that answers is still there.
    await new Promise((resolve) => setTimeout(resolve, 4000));
    const answering = sockets.filter((_, i) => i % 2 === 0);
    expect(answering.map((client) => client.socket.readyState)).toEqual(
      answering.map(() => WebSocket.OPEN),
    );
  }, 15_000);

  it('drops a socket that keeps sending frames but never answers a ping (it stopped reading)', async () => {
    // Liveness is what a socket reads (issue #9): frames it sends are no sign that it reads ours.
    const { ws } = await startServer({ heartbeatIntervalMs: 1000 }); // pongs get 500 ms
    const busy = new Client(ws, { autoPong: false });
    const quiet = new Client(ws);
    clientsToClose.push(busy.socket, quiet.socket);
    await Promise.all([busy.next(), quiet.next()]);
    const sending = setInterval(() => busy.send({ type: 'ping' }), 50);
    try {
      const closed = await Promise.race([
        busy.closed,
        new Promise<'still open'>((resolve) => setTimeout(() => resolve('still open'), 8000)),
      ]);
      // Dropped within 1.5 intervals of its last pong (here: of opening), with margin to spare.
      expect(closed).toMatchObject({ code: 1006 });
    } finally {
      clearInterval(sending);
    }
    expect(quiet.socket.readyState).toBe(WebSocket.OPEN);
  }, 15_000);

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

describe('ICE servers in hello and joined', () => {
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

  type Hello = Extract<ServerMessage, { type: 'hello' }>;
  type Joined = Extract<ServerMessage, { type: 'joined' }>;

  /**
   * A server with `options`; resolves with a function that opens a socket, reads its hello, joins
   * a room of its own and reads `joined`: both frames as sent (for leak checks) and as parsed.
   */
  async function serverWith(options: Partial<SignalingServerOptions>) {
    const custom = createSignalingServer({
      stunPort: 3478,
      iceServers: null,
      now: () => NOW_MS,
      logger: silent,
      ...options,
    });
    servers.push(custom);
    const { port } = await custom.listen(0, '127.0.0.1');
    let rooms = 0;
    return async () => {
      const client = new Client(`ws://127.0.0.1:${port}${SIGNALING_PATH}`);
      clients.push(client);
      const frames: string[] = [];
      client.socket.on('message', (data) => frames.push(data.toString()));
      const hello = (await client.next()) as Hello;
      client.send({ type: 'join', room: `${'R'.repeat(20)}${String(rooms++).padStart(2, '0')}` });
      const joined = (await client.next()) as Joined;
      expect(joined.type).toBe('joined');
      client.socket.terminate();
      return { raw: frames.join('\n'), hello, joined };
    };
  }

  it('lists both STUN ports on the alternate address after the page host ones', async () => {
    const connect = await serverWith({ stunAltAddress: '203.0.113.11' });
    const stun = [
      { urls: 'stun:127.0.0.1:3478' },
      { urls: 'stun:127.0.0.1:3479' },
      { urls: 'stun:203.0.113.11:3478' },
      { urls: 'stun:203.0.113.11:3479' },
    ];
    const { hello, joined } = await connect();
    expect(hello.iceServers).toEqual(stun);
    expect(joined.iceServers).toEqual(stun);
  });

  it('offers the STUN addresses of the other family than the page host (issue #14)', async () => {
    const connect = await serverWith({
      stunAddresses: ['2001:db8::10', '203.0.113.10'],
      stunAltAddress: '127.0.0.1',
    });
    const stun = [
      ...PAGE_STUN,
      { urls: 'stun:[2001:db8::10]:3478' },
      { urls: 'stun:[2001:db8::10]:3479' },
    ];
    const { hello, joined } = await connect();
    expect(hello.iceServers).toEqual(stun);
    expect(joined.iceServers).toEqual(stun);
  });

  it('gives TURN only to a socket that joined a room, minted for its id, and never the secret', async () => {
    const connect = await serverWith({ turn: MINTED });
    const first = await connect();
    const second = await connect();
    const expiresAtS = NOW_MS / 1000 + 600;
    for (const { raw, hello, joined } of [first, second]) {
      // No relay for a socket that has not joined (issue #9): STUN only in hello.
      expect(hello.iceServers).toEqual(PAGE_STUN);
      expect(joined.iceServers.slice(0, 2)).toEqual(PAGE_STUN);
      const username = `${expiresAtS}:${joined.id}`;
      expect(joined.iceServers[2]).toEqual({
        urls: TURN_URLS,
        username,
        credential: createHmac('sha1', SECRET).update(username).digest('base64'),
      });
      expect(joined.iceServers).toHaveLength(3);
      expect(raw).not.toContain(SECRET);
    }
    expect(first.joined.iceServers[2]?.credential).not.toBe(
      second.joined.iceServers[2]?.credential,
    );
  });

  it('appends TURN to ICE_SERVERS, afresh for every socket', async () => {
    const configured = [{ urls: 'stun:stun.example.org:3478' }];
    const connect = await serverWith({ iceServers: configured, turn: MINTED });
    for (let i = 0; i < 2; i++) {
      const { hello, joined } = await connect();
      expect(hello.iceServers).toEqual(configured);
      expect(joined.iceServers).toEqual([
        { urls: 'stun:stun.example.org:3478' },
        expect.objectContaining({ urls: TURN_URLS, username: expect.stringMatching(/^\d+:p/) }),
      ]);
    }
    expect(configured).toHaveLength(1);
  });

  it('hands static TURN credentials to every page that joined, as they are', async () => {
    const connect = await serverWith({
      stunPort: 0,
      turn: { urls: TURN_URLS, auth: { kind: 'static', username: 'chat', credential: 'pw' } },
    });
    const { hello, joined } = await connect();
    expect(hello.iceServers).toEqual([]);
    expect(joined.iceServers).toEqual([{ urls: TURN_URLS, username: 'chat', credential: 'pw' }]);
  });

  it('refuses at construction a TURN setup that cannot mint, so greeting never throws', () => {
    const turn: TurnConfig = { urls: TURN_URLS, auth: { kind: 'secret', secret: '', ttlS: 600 } };
    expect(() => createSignalingServer({ stunPort: 0, iceServers: null, turn })).toThrow(
      RangeError,
    );
  });
});

// Servers and sockets of the tests below, closed after each test.
const extraServers: SignalingServer[] = [];
const clientsToClose: WebSocket[] = [];
afterEach(async () => {
  for (const socket of clientsToClose.splice(0)) socket.terminate();
  await Promise.all(extraServers.splice(0).map((s) => s.close()));
});

/** A server with `options` (STUN off, silent) on 127.0.0.1: its http:// and ws:// URLs. */
async function startServer(options: Partial<SignalingServerOptions> = {}) {
  const custom = createSignalingServer({
    stunPort: 0,
    iceServers: null,
    logger: silent,
    ...options,
  });
  extraServers.push(custom);
  const { port } = await custom.listen(0, '127.0.0.1');
  const http = `http://127.0.0.1:${port}`;
  return { server: custom, http, ws: `ws://127.0.0.1:${port}${SIGNALING_PATH}` };
}

/** Opens a socket with `headers`; resolves with the HTTP status (101 when it opened). */
function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    clientsToClose.push(socket);
    socket.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      socket.terminate();
    });
    socket.on('open', () => resolve(101));
    socket.on('error', (error) => {
      if (!error.message.startsWith('Unexpected server response')) reject(error);
    });
  });
}

/** A connected test client on `url`, past its hello. */
async function open(url: string): Promise<{ client: Client; id: string }> {
  const client = new Client(url);
  clientsToClose.push(client.socket);
  const hello = await client.next();
  if (hello.type !== 'hello') throw new Error(`expected hello, got ${hello.type}`);
  return { client, id: hello.id };
}

describe('limits', () => {
  it('closes a socket over the rate limit with 4008, after the burst it is allowed', async () => {
    const { ws } = await startServer({ rateMessagesPerS: 1, rateBurst: 5 });
    const { client } = await open(ws);
    for (let i = 0; i < 8; i++) client.send({ type: 'ping' });
    for (let i = 0; i < 5; i++) expect(await client.next()).toEqual({ type: 'pong' });
    expect(await client.closed).toEqual({ code: CloseCode.RATE_LIMITED, reason: 'rate limited' });
  });

  it('refills the bucket at the steady rate', async () => {
    const { ws } = await startServer({ rateMessagesPerS: 20, rateBurst: 2 });
    const { client } = await open(ws);
    for (let i = 0; i < 6; i++) {
      client.send({ type: 'ping' });
      expect(await client.next()).toEqual({ type: 'pong' });
      await new Promise((resolve) => setTimeout(resolve, 60)); // > 1/20 s
    }
  });

  it('takes no more than maxSocketsPerIp from one address (429), and frees the slot on close', async () => {
    const { ws } = await startServer({ maxSocketsPerIp: 2 });
    const first = await open(ws);
    await open(ws);
    expect(await upgradeStatus(ws)).toBe(429);
    first.client.socket.close();
    await first.client.closed;
    await expect.poll(() => upgradeStatus(ws)).toBe(101);
  });

  it('counts an IPv6 /64 as one address, and unwraps IPv4-mapped addresses', () => {
    expect(clientKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
    expect(clientKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(clientKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(clientKey('203.0.113.7')).toBe('203.0.113.7');
  });

  it('with trustProxy, counts by the address the proxy appended to X-Forwarded-For', async () => {
    const { ws } = await startServer({ maxSocketsPerIp: 1, trustProxy: true });
    const via = (chain: string) => ({ 'x-forwarded-for': chain });
    expect(await upgradeStatus(ws, via('198.51.100.1, 203.0.113.1'))).toBe(101);
    expect(await upgradeStatus(ws, via('203.0.113.2'))).toBe(101);
    // A client cannot pick its own slot by prepending addresses; the last one counts.
    expect(await upgradeStatus(ws, via('198.51.100.9, 203.0.113.1'))).toBe(429);
  });

  it('ignores X-Forwarded-For unless told to trust it', async () => {
    const { ws } = await startServer({ maxSocketsPerIp: 1 });
    expect(await upgradeStatus(ws, { 'x-forwarded-for': '203.0.113.1' })).toBe(101);
    expect(await upgradeStatus(ws, { 'x-forwarded-for': '203.0.113.2' })).toBe(429);
  });

  it('takes no more than maxSockets in all (503)', async () => {
    const { ws } = await startServer({ maxSockets: 2, maxSocketsPerIp: 0 });
    await open(ws);
    await open(ws);
    expect(await upgradeStatus(ws)).toBe(503);
  });

  it('closes a frame over maxFrameBytes with 1009', async () => {
    const { ws } = await startServer({ maxFrameBytes: 1024 });
    const { client } = await open(ws);
    client.send({ type: 'ping', pad: 'x'.repeat(900) });
    expect(await client.next()).toEqual({ type: 'pong' });
    client.send({ type: 'ping', pad: 'x'.repeat(1100) });
    expect((await client.closed).code).toBe(1009);
  });

  it('closes a text frame that is not UTF-8 with 1007', async () => {
    const { ws } = await startServer();
    const { client } = await open(ws);
    client.socket.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    expect((await client.closed).code).toBe(1007);
  });

  it('holds ROOM_SIZE people per room', async () => {
    const { ws } = await startServer({ roomCapacity: 3 });
    const people = [await open(ws), await open(ws), await open(ws), await open(ws)];
    for (const [i, person] of people.slice(0, 3).entries()) {
      person.client.send({ type: 'join', room: ROOM });
      expect(await person.client.next()).toMatchObject({ type: 'joined', peers: { length: i } });
    }
    people[3]!.client.send({ type: 'join', room: ROOM });
    expect(await people[3]!.client.next()).toMatchObject({ type: 'error', code: 'room-full' });
    expect((await people[3]!.client.closed).code).toBe(CloseCode.ROOM_FULL);
  });
});

/** A signal with a peer-info whose view is `view`, from a socket in a room, to `to`. */
const peerInfo = (to: string, view: unknown) =>
  JSON.stringify({ type: 'signal', to, data: { type: 'peer-info', info: { nat: null, view } } });
const nestedArrays = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

describe('attacks (issue #9): each closes only its own socket', () => {
  it('closes a peer-info nested 4,250 deep with 4000, before parsing; the server carries on', async () => {
    // This frame (~9 KB) made JSON.stringify overflow the stack outside any handler: exit 1.
    const { alice, bob } = await joinPair(OTHER_ROOM);
    const { alice: mallory, bob: victim } = await joinPair();
    const frame = peerInfo(victim.id, 'VIEW').replace('"VIEW"', nestedArrays(4250));
    expect(frame.length).toBeLessThan(10_000);
    mallory.client.send(frame);
    expect(await mallory.client.closed).toEqual({
      code: CloseCode.MALFORMED,
      reason: 'frame nested too deep',
    });
    expect(await victim.client.next()).toEqual({ type: 'peer-left', id: mallory.id });
    alice.client.send({ type: 'signal', to: bob.id, data: OFFER });
    expect(await bob.client.next()).toEqual({ type: 'signal', from: alice.id, data: OFFER });
  });

  it('closes a frame of 8,300 tiny keys with 4000', async () => {
    const { alice, bob } = await joinPair();
    const keys = Array.from({ length: 8300 }, (_, i) => `"${i.toString(36)}":0`).join(',');
    alice.client.send(peerInfo(bob.id, 'VIEW').replace('"VIEW"', `{${keys}}`));
    expect(await alice.client.closed).toEqual({
      code: CloseCode.MALFORMED,
      reason: 'frame has too many items',
    });
  });

  it('limits bytes, not only messages: 64 KiB frames at the message rate are cut off (4008)', async () => {
    const { client } = await connect();
    // Valid pings (unknown keys drop), each ~60 KiB: the default burst of 256 KiB admits four.
    const ping = { type: 'ping', pad: 'x'.repeat(60 * 1024) };
    for (let i = 0; i < 5; i++) client.send(ping);
    for (let i = 0; i < 4; i++) expect(await client.next()).toEqual({ type: 'pong' });
    expect(await client.closed).toEqual({ code: CloseCode.RATE_LIMITED, reason: 'rate limited' });
  });

  it('closes a socket that stops reading with 4009 instead of queueing for it without bound', async () => {
    const { ws, http } = await startServer({
      maxFrameBytes: 16 * 1024,
      maxBufferedBytes: 16 * 1024,
      rateMessagesPerS: 0,
      rateBytesPerS: 0,
    });
    const alice = await open(ws);
    const reader = await open(ws);
    alice.client.send({ type: 'join', room: ROOM });
    reader.client.send({ type: 'join', room: ROOM });
    await alice.client.next();
    await alice.client.next(); // peer-joined
    await reader.client.next();
    // The reader stops reading: TCP fills up, then ws's queue on the server.
    const tcp = Reflect.get(reader.client.socket, '_socket') as import('node:net').Socket;
    tcp.pause();
    const frame = peerInfo(reader.id, { pad: 'x'.repeat(15 * 1024) });
    let left = false;
    const leftPromise = alice.client.next().then((message) => {
      left = true;
      return message;
    });
    // Bounded: 8,000 frames of 15 KiB is 120 MB, far past any loopback socket buffer.
    for (let sent = 0; sent < 8000 && !left; sent += 100) {
      for (let i = 0; i < 100; i++) alice.client.socket.send(frame);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(await leftPromise).toEqual({ type: 'peer-left', id: reader.id });
    const metrics = await (await fetch(`${http}/metrics`)).text();
    expect(metrics).toContain('signaling_rejections_total{reason="slow-reader"} 1');
    tcp.resume();
    expect((await reader.client.closed).code).toBeOneOf([CloseCode.SLOW_READER, 1006]);
  }, 30_000);

  it('binds a resume token to its room: using it in another room leaves no ghost', async () => {
    const resume = 'T'.repeat(22);
    const alice = await connect();
    const bob = await connect();
    alice.client.send({ type: 'join', room: ROOM, resume });
    const aliceId = ((await alice.client.next()) as { id: string }).id;
    bob.client.send({ type: 'join', room: ROOM });
    await bob.client.next();
    await alice.client.next(); // peer-joined
    const elsewhere = await connect();
    elsewhere.client.send({ type: 'join', room: OTHER_ROOM, resume });
    const joined = (await elsewhere.client.next()) as { id: string };
    expect(joined.id).not.toBe(aliceId);
    // Alice's socket is untouched and still reaches Bob: no seat left behind without a socket.
    alice.client.send({ type: 'signal', to: bob.id, data: OFFER });
    expect(await bob.client.next()).toEqual({ type: 'signal', from: aliceId, data: OFFER });
    await bob.client.expectSilence();
    expect(alice.client.socket.readyState).toBe(WebSocket.OPEN);
  });

  it('a handler that throws closes its socket with 1011; the process and other rooms carry on', async () => {
    // A clock that fails once the server is up: minting TURN credentials at a join throws.
    let up = false;
    const { ws } = await startServer({
      turn: {
        urls: ['turn:203.0.113.20:3478'],
        auth: { kind: 'secret', secret: 's', ttlS: 600 },
      },
      now: () => {
        if (up) throw new Error('clock failed');
        return Date.now();
      },
    });
    const alice = await open(ws);
    const bob = await open(ws);
    up = true;
    alice.client.send({ type: 'join', room: ROOM });
    expect(await alice.client.closed).toEqual({ code: 1011, reason: 'internal error' });
    bob.client.send({ type: 'ping' });
    expect(await bob.client.next()).toEqual({ type: 'pong' });
    const carol = await open(ws); // still accepting
    carol.client.send({ type: 'ping' });
    expect(await carol.client.next()).toEqual({ type: 'pong' });
  });

  it('holds no more than maxHttpConnectionsPerIp connections from one address (429)', async () => {
    const { http } = await startServer({ maxHttpConnectionsPerIp: 4 });
    const { port } = new URL(http);
    const held = await Promise.all(
      Array.from(
        { length: 4 },
        () =>
          new Promise<import('node:net').Socket>((resolve) => {
            const socket = tcpConnect(Number(port), '127.0.0.1', () => {
              socket.write('GET / HTTP/1.1\r\nHost: x\r\n'); // headers never finished
              resolve(socket);
            });
            socket.on('error', () => {});
          }),
      ),
    );
    const answer = (): Promise<string> =>
      new Promise((resolve) => {
        const socket = tcpConnect(Number(port), '127.0.0.1', () =>
          socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
        );
        let text = '';
        socket.on('data', (chunk) => (text += chunk.toString()));
        socket.on('close', () => resolve(text));
        socket.on('error', () => {});
      });
    expect(await answer()).toMatch(/^HTTP\/1\.1 429 /);
    held[0]!.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await answer()).toMatch(/^HTTP\/1\.1 200 /);
    for (const socket of held) socket.destroy();
  });

  it('serves a full room of browsers behind one address, each holding 6 keep-alive connections', async () => {
    // An office or a CGNAT: every person's browser opens up to 6 connections per host and keeps
    // them between requests. With the default cap, the last person's page must still load.
    const { http } = await startServer({});
    const { port } = new URL(http);
    const perBrowser = 6;
    const request = (): Promise<{ status: string; socket: import('node:net').Socket }> =>
      new Promise((resolve, reject) => {
        const socket = tcpConnect(Number(port), '127.0.0.1', () =>
          socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'),
        );
        socket.once('data', (chunk) =>
          resolve({ status: chunk.toString().split('\r\n')[0]!, socket }),
        );
        socket.on('error', reject);
      });
    const answers = await Promise.all(
      Array.from({ length: SERVER_DEFAULTS.roomCapacity * perBrowser }, request),
    );
    for (const { socket } of answers) socket.destroy();
    expect(new Set(answers.map((answer) => answer.status))).toEqual(new Set(['HTTP/1.1 200 OK']));
  });

  it('cuts a slowloris connection that never finishes its headers', async () => {
    const { http } = await startServer({ headersTimeoutMs: 500 });
    const { port } = new URL(http);
    const started = performance.now();
    const closedAfterMs = await new Promise<number>((resolve) => {
      const socket = tcpConnect(Number(port), '127.0.0.1', () => {
        socket.write('GET / HTTP/1.1\r\n');
        const drip = setInterval(() => socket.write('X-a: b\r\n'), 100);
        socket.on('close', () => {
          clearInterval(drip);
          resolve(performance.now() - started);
        });
      });
      socket.on('error', () => {});
    });
    // Node checks the timeout once a second: 0.5 s plus up to one check, with margin.
    expect(closedAfterMs).toBeGreaterThanOrEqual(400);
    expect(closedAfterMs).toBeLessThan(5000);
  });

  it('sends the security headers on every response', async () => {
    for (const path of ['/', `/r/${ROOM}`, '/healthz', '/metrics', '/nope.js']) {
      const response = await fetch(`${base}${path}`);
      const csp = response.headers.get('content-security-policy') ?? '';
      expect(csp, path).toContain("frame-ancestors 'none'");
      expect(csp, path).toContain("script-src 'self'");
      expect(csp, path).toContain("connect-src 'self'");
      expect(csp, path).not.toContain('unsafe-inline');
      expect(response.headers.get('x-frame-options'), path).toBe('DENY');
      expect(response.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(response.headers.get('referrer-policy'), path).toBe('no-referrer');
      expect(response.headers.get('permissions-policy'), path).toContain('camera=()');
      expect(response.headers.get('x-powered-by'), path).toBeNull();
    }
  });
});

describe('origin check at the upgrade', () => {
  it('by default admits only pages of the host the request is addressed to', async () => {
    const { ws, http } = await startServer();
    expect(await upgradeStatus(ws, { origin: http })).toBe(101);
    expect(await upgradeStatus(ws, { origin: http.toUpperCase() })).toBe(101);
    expect(await upgradeStatus(ws, { origin: 'http://evil.example' })).toBe(403);
    expect(await upgradeStatus(ws, { origin: 'http://127.0.0.1' })).toBe(403); // other port
    expect(await upgradeStatus(ws, { origin: 'null' })).toBe(403);
    expect(await upgradeStatus(ws)).toBe(101); // no Origin: not a browser
  });

  it('admits exactly ALLOWED_ORIGINS when set, or anyone with *', async () => {
    const listed = await startServer({ allowedOrigins: ['https://chat.example.org'] });
    expect(await upgradeStatus(listed.ws, { origin: 'https://chat.example.org' })).toBe(101);
    expect(await upgradeStatus(listed.ws, { origin: 'https://CHAT.example.org:443' })).toBe(101);
    expect(await upgradeStatus(listed.ws, { origin: 'http://chat.example.org' })).toBe(403);
    expect(await upgradeStatus(listed.ws, { origin: listed.http })).toBe(403);
    const any = await startServer({ allowedOrigins: ['*'] });
    expect(await upgradeStatus(any.ws, { origin: 'http://evil.example' })).toBe(101);
  });

  it('compares hosts with default ports normalised', () => {
    expect(isOriginAllowed('http://chat.example.org', 'chat.example.org:80', null)).toBe(true);
    expect(isOriginAllowed('https://chat.example.org', 'chat.example.org:443', null)).toBe(true);
    expect(isOriginAllowed('https://chat.example.org', 'chat.example.org:80', null)).toBe(false);
    expect(isOriginAllowed('http://[::1]:8080', '[::1]:8080', null)).toBe(true);
    expect(isOriginAllowed('http://chat.example.org', undefined, null)).toBe(false);
    expect(isOriginAllowed('http://a.example/path', 'a.example', null)).toBe(false);
  });
});

describe('metrics and logs', () => {
  /** One `name{labels} value` sample of a Prometheus text exposition, or undefined. */
  function sample(text: string, series: string): number | undefined {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  }

  it('serves sockets, rooms, relayed frames and rejections by reason, never a room id', async () => {
    const { ws, http } = await startServer();
    const alice = await open(ws);
    const bob = await open(ws);
    alice.client.send({ type: 'join', room: ROOM });
    await alice.client.next();
    bob.client.send({ type: 'join', room: ROOM });
    await bob.client.next();
    await alice.client.next();
    alice.client.send({ type: 'signal', to: bob.id, data: OFFER });
    await bob.client.next();
    const bad = await open(ws);
    bad.client.send('nonsense');
    await bad.client.closed;
    expect(await upgradeStatus(ws, { origin: 'http://evil.example' })).toBe(403);

    const response = await fetch(`${http}/metrics`);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    await expect
      .poll(async () => sample(await (await fetch(`${http}/metrics`)).text(), 'signaling_sockets'))
      .toBe(2);
    expect(sample(text, 'signaling_rooms')).toBe(1);
    expect(sample(text, 'signaling_frames_relayed_total')).toBe(1);
    expect(sample(text, 'signaling_rejections_total{reason="malformed"}')).toBe(1);
    expect(sample(text, 'signaling_rejections_total{reason="origin"}')).toBe(1);
    expect(text).toContain('process_resident_memory_bytes');
    expect(text).not.toContain(ROOM);
    expect(text).not.toContain(alice.id);
  });

  it('logs socket events without content or addresses at info, only types and sizes at debug', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino(
      { level: 'debug' },
      { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    );
    const { ws } = await startServer({ logger });
    const alice = await open(ws);
    const bob = await open(ws);
    alice.client.send({ type: 'join', room: ROOM });
    await alice.client.next();
    bob.client.send({ type: 'join', room: ROOM });
    await bob.client.next();
    await alice.client.next();
    const sdp = 'v=0\r\no=- SECRET-SDP-MARKER 2 IN IP4 127.0.0.1\r\n';
    const candidate = 'candidate:1 1 udp 1 198.51.100.77 40000 typ srflx';
    alice.client.send({ type: 'signal', to: bob.id, data: { type: 'offer', sdp } });
    alice.client.send({
      type: 'signal',
      to: bob.id,
      data: { type: 'candidate', candidate: { candidate, sdpMLineIndex: 0, sdpMid: '0' } },
    });
    await bob.client.next();
    await bob.client.next();
    alice.client.send('{"type":"chat","text":"SECRET-CHAT-MARKER"}');
    await alice.client.closed;
    await expect.poll(() => lines.some((l) => l.msg === 'socket closed')).toBe(true);

    const all = JSON.stringify(lines);
    for (const secret of ['SECRET-SDP-MARKER', '198.51.100.77', 'SECRET-CHAT-MARKER', ROOM]) {
      expect(all).not.toContain(secret);
    }
    // The listening address is the only one logged; clients are tags.
    expect(JSON.stringify(lines.filter((l) => l.msg !== 'listening'))).not.toContain('127.0.0.1');
    const messages = lines.map((l) => l.msg);
    expect(messages).toEqual(
      expect.arrayContaining(['listening', 'socket opened', 'closing socket', 'socket closed']),
    );
    expect(lines).toContainEqual(
      expect.objectContaining({ msg: 'frame', type: 'signal', kind: 'candidate' }),
    );
    expect(lines).toContainEqual(
      expect.objectContaining({ msg: 'closing socket', code: 4000, reason: 'malformed' }),
    );
    const opened = lines.find((l) => l.msg === 'socket opened');
    expect(opened?.client).toMatch(/^[0-9a-f]{12}$/);
  });
});

describe('shutdown', () => {
  it('closes every socket with 1001 and resolves once they are gone', async () => {
    const { server: custom, http, ws } = await startServer({ closeGraceMs: 5000 });
    const { client } = await open(ws);
    const started = Date.now();
    await custom.close();
    expect(await client.closed).toEqual({ code: 1001, reason: 'server shutting down' });
    expect(Date.now() - started).toBeLessThan(2500); // not waiting for stragglers
    await expect(fetch(`${http}/healthz`)).rejects.toThrow();
  });

  it('cuts a socket that never answers the close within closeGraceMs', async () => {
    const { server: custom, http } = await startServer({ closeGraceMs: 200 });
    const port = Number(new URL(http).port);
    // A raw client that completes the handshake, then reads nothing and never answers.
    const raw = tcpConnect(port, '127.0.0.1');
    raw.on('error', () => {});
    raw.write(
      'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await new Promise((resolve) => raw.once('data', resolve));
    const ended = new Promise((resolve) => raw.on('close', resolve));
    const started = Date.now();
    await custom.close();
    await ended;
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('npm start exits 0 within 5 s of SIGTERM, having closed sockets with 1001', async () => {
    const child = spawn('node_modules/.bin/tsx', ['signaling/main.ts'], {
      // `globalThis.process`: in test files a bare `process` is the page build's browser shim.
      env: {
        ...globalThis.process.env,
        HOST: '127.0.0.1',
        PORT: '0',
        STUN_PORT: '0',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      // 'close', not 'exit': stdout has been read to the end by then.
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      const logs: Record<string, unknown>[] = [];
      const port = await new Promise<number>((resolve, reject) => {
        let pending = '';
        child.stdout.on('data', (chunk: Buffer) => {
          const lines = (pending + chunk.toString()).split('\n');
          pending = lines.pop() ?? '';
          for (const line of lines) logs.push(JSON.parse(line) as Record<string, unknown>);
          const listening = logs.find((entry) => entry.msg === 'listening');
          if (listening) resolve(listening.port as number);
        });
        void exited.then(() => reject(new Error(`main exited early: ${JSON.stringify(logs)}`)));
      });
      const { client } = await open(`ws://127.0.0.1:${port}${SIGNALING_PATH}`);
      const started = Date.now();
      child.kill('SIGTERM');
      expect(await client.closed).toEqual({ code: 1001, reason: 'server shutting down' });
      expect(await exited).toBe(0);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(logs.map((entry) => entry.msg)).toEqual(
        expect.arrayContaining(['shutting down', 'stopped']),
      );
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 30_000);
});

describe('without a built page', () => {
  it('still signals, and tells a browser to build the page', async () => {
    const missing = join(tmpdir(), `no-page-${process.pid}-${Date.now()}`);
    const { http, ws } = await startServer({ staticDir: missing });
    const page = await fetch(`${http}/`);
    expect(page.status).toBe(503);
    expect(await page.text()).toBe('page not built: npm run build\n');
    expect(await (await fetch(`${http}/healthz`)).text()).toBe('ok\n');
    const { id } = await open(ws);
    expect(id).toMatch(/^p[0-9a-f]{16}$/);
  });
});
