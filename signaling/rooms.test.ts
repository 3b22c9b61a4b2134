/**
 * One contract for every {@link RoomDirectory} (issue #12): the in-memory store and Redis (a real
 * `redis-server` on a free port) pass the same suite, each with two nodes where the suite needs
 * two processes. Then what only Redis has: a node that dies, and Redis going away and coming back.
 */
import { createClient } from '@redis/client';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from './log.ts';
import type { SignalData } from './protocol.ts';
import { createRedisDirectory, type RedisDirectory } from './redis-rooms.ts';
import {
  MemoryRoomStore,
  type DirectoryHooks,
  type DirectoryMessage,
  type RoomDirectory,
} from './rooms.ts';
import { startTestRedis, type TestRedis } from './testing/redis.ts';

const ROOM = 'AAAAAAAAAAAAAAAAAAAAAA';
const OTHER_ROOM = 'BBBBBBBBBBBBBBBBBBBBBB';
const OFFER = { type: 'offer', sdp: 'v=0\r\n' } as SignalData;

/** A node's directory and what it was asked to do with its sockets. */
interface Node {
  directory: RoomDirectory;
  /** `peer: message` lines, in order. */
  told: { peer: string; message: DirectoryMessage }[];
  evicted: string[];
}

function recorder(): { hooks: DirectoryHooks; told: Node['told']; evicted: string[] } {
  const told: Node['told'] = [];
  const evicted: string[] = [];
  return {
    told,
    evicted,
    hooks: {
      deliver: (peer, message) => told.push({ peer, message }),
      evict: (peer) => evicted.push(peer),
    },
  };
}

/** Waits until `check` passes (Redis delivers through pub/sub), or fails with its last error. */
async function eventually(check: () => void, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      check();
      return;
    } catch (error) {
      if (Date.now() > until) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** Gives pub/sub the time to deliver what it would, before checking that nothing came. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 150));

/** Starting and stopping Redis and servers, on a busy 2-core CI machine. */
const HOOK_TIMEOUT_MS = 30_000;
const silent = createLogger('silent');
let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
}, HOOK_TIMEOUT_MS);
afterAll(async () => {
  await redis.stop();
}, HOOK_TIMEOUT_MS);

/** Makes nodes sharing one set of rooms of the given capacity; `close` ends them all. */
type Cluster = { node(): Promise<Node>; close(): Promise<void> };

const implementations: Record<string, (capacity: number) => Cluster> = {
  memory(capacity) {
    const store = new MemoryRoomStore(capacity);
    return {
      node: () => {
        const { hooks, told, evicted } = recorder();
        return Promise.resolve({ directory: store.directory(hooks), told, evicted });
      },
      close: () => Promise.resolve(),
    };
  },
  redis(capacity) {
    const made: RedisDirectory[] = [];
    return {
      async node() {
        const { hooks, told, evicted } = recorder();
        const directory = createRedisDirectory({ url: redis.url, capacity, logger: silent }, hooks);
        made.push(directory);
        await eventually(() => expect(directory.health()).toBeNull());
        return { directory, told, evicted };
      },
      close: async () => {
        await Promise.all(made.map((directory) => directory.close()));
      },
    };
  },
};

// Every room name is fresh per test, so the Redis suite's tests cannot see each other's rooms.
let roomCounter = 0;
const freshRoom = () => `room${String(++roomCounter).padStart(18, '0')}`;

describe.each(Object.keys(implementations))('RoomDirectory contract: %s', (name) => {
  const cluster = (capacity = 8) => implementations[name]!(capacity);

  /** Two nodes, Alice seated through one and Bob through the other, and Alice told of Bob. */
  async function aliceAndBob() {
    const c = cluster();
    const [a, b] = [await c.node(), await c.node()];
    const room = freshRoom();
    await a.directory.join(room, 'alice');
    await b.directory.join(room, 'bob');
    await eventually(() => expect(a.directory.othersOf('alice')).toEqual(['bob']));
    await eventually(() => expect(a.told).toHaveLength(1));
    return { c, a, b, room };
  }

  it('tells a newcomer who is there, and everyone else that it came, across nodes', async () => {
    const c = cluster();
    const [a, b] = [await c.node(), await c.node()];
    const room = freshRoom();
    expect(await a.directory.join(room, 'alice')).toEqual({ ok: true, others: [] });
    expect(await b.directory.join(room, 'bob')).toEqual({ ok: true, others: ['alice'] });
    expect(await a.directory.join(room, 'carol')).toEqual({ ok: true, others: ['alice', 'bob'] });
    await eventually(() =>
      expect(a.told).toEqual([
        { peer: 'alice', message: { type: 'peer-joined', id: 'bob' } },
        { peer: 'alice', message: { type: 'peer-joined', id: 'carol' } },
      ]),
    );
    await eventually(() =>
      expect(b.told).toEqual([{ peer: 'bob', message: { type: 'peer-joined', id: 'carol' } }]),
    );
    expect(a.directory.othersOf('alice')).toEqual(['bob', 'carol']);
    expect(b.directory.roomOf('bob')).toBe(room);
    expect(b.directory.roomOf('alice')).toBeUndefined(); // not seated through b
    await c.close();
  });

  it('relays a signal to the right socket wherever it is, stamped with the sender', async () => {
    const { c, a, b } = await aliceAndBob();
    expect(a.directory.relay('alice', 'bob', OFFER)).toBe(true);
    expect(b.directory.relay('bob', 'alice', OFFER)).toBe(true);
    await eventually(() =>
      expect(b.told.filter((t) => t.message.type === 'signal')).toEqual([
        { peer: 'bob', message: { type: 'signal', from: 'alice', data: OFFER } },
      ]),
    );
    await eventually(() =>
      expect(a.told.filter((t) => t.message.type === 'signal')).toEqual([
        { peer: 'alice', message: { type: 'signal', from: 'bob', data: OFFER } },
      ]),
    );
    await c.close();
  });

  it('never relays between rooms, to oneself, or from a peer seated elsewhere', async () => {
    const c = cluster();
    const [a, b] = [await c.node(), await c.node()];
    const room = freshRoom();
    await a.directory.join(room, 'alice');
    await b.directory.join(freshRoom(), 'mallory');
    await settle();
    expect(b.directory.relay('mallory', 'alice', OFFER)).toBe(false);
    expect(a.directory.relay('alice', 'alice', OFFER)).toBe(false);
    expect(b.directory.relay('alice', 'mallory', OFFER)).toBe(false); // alice is not b's
    await settle();
    expect(a.told).toEqual([]);
    expect(b.told).toEqual([]);
    await c.close();
  });

  it('turns away one past capacity and changes nothing', async () => {
    const c = cluster(2);
    const [a, b] = [await c.node(), await c.node()];
    const room = freshRoom();
    await a.directory.join(room, 'alice');
    await b.directory.join(room, 'bob');
    expect(await b.directory.join(room, 'carol')).toEqual({ ok: false, reason: 'full' });
    expect(b.directory.roomOf('carol')).toBeUndefined();
    await settle();
    expect(a.told).toEqual([{ peer: 'alice', message: { type: 'peer-joined', id: 'bob' } }]);
    await c.close();
  });

  it('gives the last seat to exactly one of two joining at once on two nodes', async () => {
    const c = cluster(2);
    const [a, b] = [await c.node(), await c.node()];
    for (let round = 0; round < 10; round++) {
      const room = freshRoom();
      await a.directory.join(room, `first${round}`);
      const results = await Promise.all([
        a.directory.join(room, `x${round}`),
        b.directory.join(room, `y${round}`),
      ]);
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      expect(results.filter((r) => !r.ok)).toEqual([{ ok: false, reason: 'full' }]);
    }
    await c.close();
  });

  it('lets a peer id be in one room only, through one node', async () => {
    const c = cluster();
    const a = await c.node();
    await a.directory.join(ROOM + name, 'alice');
    expect(await a.directory.join(OTHER_ROOM + name, 'alice')).toEqual({
      ok: false,
      reason: 'joined',
    });
    expect(a.directory.roomOf('alice')).toBe(ROOM + name);
    a.directory.leave('alice');
    await c.close();
  });

  it('tells the others at once when someone leaves, and forgets an empty room', async () => {
    const { c, a, b, room } = await aliceAndBob();
    b.directory.leave('bob');
    expect(b.directory.roomOf('bob')).toBeUndefined();
    expect(b.directory.size).toBe(0);
    await eventually(() =>
      expect(a.told.at(-1)).toEqual({ peer: 'alice', message: { type: 'peer-left', id: 'bob' } }),
    );
    expect(a.directory.relay('alice', 'bob', OFFER)).toBe(false);
    b.directory.leave('bob'); // twice: a no-op
    a.directory.leave('alice');
    expect(a.directory.size).toBe(0);
    // The room is gone: the seat count starts again.
    expect(await b.directory.join(room, 'carol')).toEqual({ ok: true, others: [] });
    await c.close();
  });

  it('moves the seat of a person who resumes through another node: 4004 there, no one leaves', async () => {
    const { c, a, b, room } = await aliceAndBob();
    expect(await b.directory.join(room, 'alice')).toEqual({ ok: true, others: ['bob'] });
    await eventually(() => expect(a.evicted).toEqual(['alice']));
    expect(a.directory.roomOf('alice')).toBeUndefined();
    expect(b.directory.roomOf('alice')).toBe(room);
    await eventually(() =>
      expect(b.told).toEqual([{ peer: 'bob', message: { type: 'peer-joined', id: 'alice' } }]),
    );
    await settle();
    expect([...a.told, ...b.told].filter((t) => t.message.type === 'peer-left')).toEqual([]);
    expect(b.directory.relay('bob', 'alice', OFFER)).toBe(true);
    await eventually(() =>
      expect(b.told.at(-1)).toEqual({
        peer: 'alice',
        message: { type: 'signal', from: 'bob', data: OFFER },
      }),
    );
    await c.close();
  });

  it('rejects a nonsensical capacity', () => {
    expect(() => new MemoryRoomStore(0)).toThrow(RangeError);
    expect(() =>
      createRedisDirectory({ url: redis.url, capacity: 1.5, logger: silent }, recorder().hooks),
    ).toThrow(RangeError);
  });
});

/** A node in another process, as `npm start` would be, that joins `peers` into `room`. */
function nodeProcess(url: string, room: string, peers: string[], leaseMs: number) {
  const script = `
    import { createRedisDirectory } from ${JSON.stringify(new URL('./redis-rooms.ts', import.meta.url).pathname)};
    import { createLogger } from ${JSON.stringify(new URL('./log.ts', import.meta.url).pathname)};
    const d = createRedisDirectory({ url: ${JSON.stringify(url)}, logger: createLogger('silent'),
      leaseMs: ${leaseMs}, leaseRefreshMs: ${leaseMs / 5} }, { deliver() {}, evict() {} });
    while (d.health() !== null) await new Promise((r) => setTimeout(r, 20));
    for (const peer of ${JSON.stringify(peers)}) await d.join(${JSON.stringify(room)}, peer);
    console.log('joined');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const joined = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('joined')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`node process exited with ${code}`)));
  });
  return { child, joined };
}

describe('RoomDirectory on Redis: what only a shared store has', () => {
  it('sees a SIGKILLed process leave within its lease, and frees its seats', async () => {
    const { hooks, told } = recorder();
    const leaseMs = 1000;
    const live = createRedisDirectory(
      { url: redis.url, capacity: 3, logger: silent, leaseMs, leaseRefreshMs: leaseMs / 5 },
      hooks,
    );
    await eventually(() => expect(live.health()).toBeNull());
    const room = freshRoom();
    const doomed = nodeProcess(redis.url, room, ['ghost1', 'ghost2'], leaseMs);
    await doomed.joined;
    expect(await live.join(room, 'alice')).toEqual({ ok: true, others: ['ghost1', 'ghost2'] });
    const killedAt = Date.now();
    doomed.child.kill('SIGKILL');
    await eventually(
      () =>
        expect(told.filter((t) => t.message.type === 'peer-left').map((t) => t.message)).toEqual([
          { type: 'peer-left', id: 'ghost1' },
          { type: 'peer-left', id: 'ghost2' },
        ]),
      leaseMs * 4,
    );
    // Lease + one refresh period, plus scheduling: the same bound as 10 s + 2 s in production.
    expect(Date.now() - killedAt).toBeLessThan(leaseMs + leaseMs / 5 + 1000);
    expect(await live.join(room, 'bob')).toEqual({ ok: true, others: ['alice'] });
    await live.close();
  });

  it('keeps the keys of held rooms alive past their TTL, refreshing a slice per tick', async () => {
    const roomTtlMs = 1500;
    const timing = { leaseMs: 1000, leaseRefreshMs: 50, roomTtlMs };
    const live = createRedisDirectory(
      { url: redis.url, logger: silent, ...timing },
      recorder().hooks,
    );
    await eventually(() => expect(live.health()).toBeNull());
    const rooms = Array.from({ length: 40 }, () => freshRoom());
    for (const room of rooms) await live.join(room, 'alice-' + room);
    const keys = createClient({ url: redis.url });
    await keys.connect();
    // Each join set its key's TTL to 1.5 s; then three TTLs without a join or leave. Only the
    // refresh keeps them: 14 of the 40 keys per 50 ms tick, each key every 150 ms.
    await new Promise((resolve) => setTimeout(resolve, 3 * roomTtlMs));
    const alive = await Promise.all(rooms.map((room) => keys.exists(`hp:room:${room}`)));
    expect(alive.filter((n) => n === 0)).toHaveLength(0);
    const ttls = await Promise.all(rooms.map((room) => keys.pTTL(`hp:room:${room}`)));
    expect(Math.min(...ttls)).toBeGreaterThan(0);
    await keys.close();
    await live.close();
  });

  it('says Redis is down, refuses joins, relays within the process, and restores rooms when it is back', async () => {
    const own = await startTestRedis();
    const [ra, rb] = [recorder(), recorder()];
    const options = { url: own.url, logger: silent, leaseMs: 1000, leaseRefreshMs: 200 };
    const a = createRedisDirectory(options, ra.hooks);
    const b = createRedisDirectory(options, rb.hooks);
    await eventually(() => expect([a.health(), b.health()]).toEqual([null, null]));
    const room = freshRoom();
    await a.join(room, 'alice');
    await a.join(room, 'amy');
    await b.join(room, 'bob');
    await eventually(() => expect(a.othersOf('alice')).toEqual(['amy', 'bob']));

    await own.stop(); // SIGKILL: Redis and everything in it gone
    await eventually(() => expect(a.health()).toMatch(/^redis: unreachable/));
    expect(await a.join(room, 'carol')).toEqual({ ok: false, reason: 'unavailable' });
    expect(a.relay('alice', 'amy', OFFER)).toBe(true);
    expect(ra.told.at(-1)).toEqual({
      peer: 'amy',
      message: { type: 'signal', from: 'alice', data: OFFER },
    });

    await own.start(); // empty: the nodes must put their members back
    await eventually(() => expect([a.health(), b.health()]).toEqual([null, null]), 10_000);
    // Join order across nodes is lost with Redis' data; membership is not.
    await eventually(() => expect(b.othersOf('bob').sort()).toEqual(['alice', 'amy']), 5000);
    await new Promise((resolve) => setTimeout(resolve, 1000)); // past the recovery grace
    expect(a.othersOf('alice').sort()).toEqual(['amy', 'bob']);
    expect(b.relay('bob', 'alice', OFFER)).toBe(true);
    await eventually(() =>
      expect(ra.told.at(-1)).toEqual({
        peer: 'alice',
        message: { type: 'signal', from: 'bob', data: OFFER },
      }),
    );
    expect([...ra.told, ...rb.told].filter((t) => t.message.type === 'peer-left')).toEqual([]);
    // And new people can join again, into the same room, counted with the restored members.
    const carol = await b.join(room, 'carol');
    expect(carol.ok && carol.others.sort()).toEqual(['alice', 'amy', 'bob']);
    await Promise.all([a.close(), b.close()]);
    await own.stop();
  }, 30_000);
});
