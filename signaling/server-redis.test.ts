/**
 * Two signaling servers sharing rooms through one real Redis (issue #12), driven by WebSocket
 * clients as pages are: a room split across processes, capacity across them, resume across them
 * (4004 on the first), and `/healthz` while Redis is away and after it is back.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { CloseCode, SIGNALING_PATH, TRY_AGAIN_LATER, type ServerMessage } from './protocol.ts';
import { createRedisDirectory } from './redis-rooms.ts';
import { createSignalingServer, type SignalingServer } from './server.ts';
import { startTestRedis, type TestRedis } from './testing/redis.ts';

const OFFER = { type: 'offer', sdp: 'v=0\r\n' };
/** Starting and stopping Redis and servers, on a busy 2-core CI machine. */
const HOOK_TIMEOUT_MS = 30_000;
const silent = pino({ level: 'silent' });

/** A page's socket: what the server said, in order, and how it closed. */
class Page {
  readonly socket: WebSocket;
  readonly inbox: ServerMessage[] = [];
  readonly closed: Promise<number>;
  constructor(url: string) {
    this.socket = new WebSocket(url);
    this.socket.on('error', () => {});
    this.socket.on('message', (data) => this.inbox.push(JSON.parse(data.toString())));
    this.closed = new Promise((resolve) => this.socket.on('close', (code) => resolve(code)));
  }
  send(message: unknown): void {
    this.socket.send(JSON.stringify(message));
  }
  /** The first message of `type` after the `skip`th, waiting up to 3 s. */
  async next<T extends ServerMessage['type']>(type: T, skip = 0) {
    const until = Date.now() + 3000;
    for (;;) {
      const found = this.inbox.filter((m) => m.type === type)[skip];
      if (found) return found as Extract<ServerMessage, { type: T }>;
      if (Date.now() > until) throw new Error(`no ${type}; got ${JSON.stringify(this.inbox)}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

let redis: TestRedis;
const servers: { server: SignalingServer; url: string; http: string }[] = [];
const pages: Page[] = [];

async function startServer(roomCapacity: number) {
  const server = createSignalingServer({
    stunPort: 0,
    iceServers: [],
    roomCapacity,
    logger: silent,
    directory: (hooks) =>
      createRedisDirectory({ url: redis.url, capacity: roomCapacity, logger: silent }, hooks),
  });
  const address = await server.listen(0, '127.0.0.1');
  const http = `http://127.0.0.1:${address.port}`;
  const entry = { server, http, url: `ws://127.0.0.1:${address.port}${SIGNALING_PATH}` };
  servers.push(entry);
  for (;;) {
    if ((await fetch(`${http}/healthz`)).status === 200) return entry;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A page connected and greeted (`hello`). */
async function open(url: string): Promise<Page> {
  const page = new Page(url);
  pages.push(page);
  await page.next('hello');
  return page;
}

beforeAll(async () => {
  redis = await startTestRedis();
}, HOOK_TIMEOUT_MS);
afterAll(async () => {
  for (const page of pages) page.socket.terminate();
  await Promise.all(servers.map(({ server }) => server.close()));
  await redis.stop();
}, HOOK_TIMEOUT_MS);

describe('two servers, one Redis', () => {
  it('puts two people on two processes in one room and relays between them', async () => {
    const [a, b] = [await startServer(8), await startServer(8)];
    const room = 'redisroomredisroom0001';
    const alice = await open(a.url);
    const bob = await open(b.url);
    alice.send({ type: 'join', room, resume: 'alice-token-0000000000' });
    const aliceJoined = await alice.next('joined');
    bob.send({ type: 'join', room, resume: 'bob-token-000000000000' });
    const bobJoined = await bob.next('joined');
    expect(bobJoined.peers).toEqual([aliceJoined.id]);
    expect(await alice.next('peer-joined')).toEqual({ type: 'peer-joined', id: bobJoined.id });
    bob.send({ type: 'signal', to: aliceJoined.id, data: OFFER });
    expect(await alice.next('signal')).toEqual({ type: 'signal', from: bobJoined.id, data: OFFER });

    // Alice reloads onto the other process: same id, her old socket closed there with 4004, and
    // Bob hears she is back rather than that she left.
    const again = await open(b.url);
    again.send({ type: 'join', room, resume: 'alice-token-0000000000' });
    expect((await again.next('joined')).id).toBe(aliceJoined.id);
    expect(await alice.closed).toBe(CloseCode.REPLACED);
    expect(await bob.next('peer-joined', 0)).toEqual({ type: 'peer-joined', id: aliceJoined.id });
    expect(bob.inbox.filter((m) => m.type === 'peer-left')).toEqual([]);
    again.send({ type: 'signal', to: bobJoined.id, data: OFFER });
    expect(await bob.next('signal')).toEqual({ type: 'signal', from: aliceJoined.id, data: OFFER });

    bob.socket.close();
    expect(await again.next('peer-left')).toEqual({ type: 'peer-left', id: bobJoined.id });
  });

  it('holds room capacity across processes: a third person is told the room is full', async () => {
    const [a, b] = [await startServer(2), await startServer(2)];
    const room = 'redisroomredisroom0002';
    const first = await open(a.url);
    first.send({ type: 'join', room });
    await first.next('joined');
    const racers = [await open(a.url), await open(b.url)];
    for (const page of racers) page.send({ type: 'join', room });
    const codes = await Promise.race([
      Promise.any(racers.map((page) => page.closed)),
      new Promise((resolve) => setTimeout(() => resolve('none closed'), 3000)),
    ]);
    expect(codes).toBe(CloseCode.ROOM_FULL);
    const seated = racers.filter((page) => page.inbox.some((m) => m.type === 'joined'));
    expect(seated).toHaveLength(1);
  });

  it('answers /healthz 503 naming Redis while it is away, refuses joins with 1013, and recovers', async () => {
    const a = await startServer(8);
    await redis.stop();
    for (;;) {
      const response = await fetch(`${a.http}/healthz`);
      if (response.status === 503) {
        expect(await response.text()).toMatch(/^redis: unreachable \(127\.0\.0\.1:\d+\)/);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const late = await open(a.url);
    late.send({ type: 'join', room: 'redisroomredisroom0003' });
    expect(await late.closed).toBe(TRY_AGAIN_LATER);
    await redis.start();
    for (;;) {
      if ((await fetch(`${a.http}/healthz`)).status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const retry = await open(a.url);
    retry.send({ type: 'join', room: 'redisroomredisroom0003' });
    expect((await retry.next('joined')).peers).toEqual([]);
  }, 20_000);
});
