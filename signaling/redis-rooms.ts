/**
 * Rooms in Redis (issue #12): any number of `npm start` processes ("nodes") with the same
 * `REDIS_URL` share rooms. The {@link RoomDirectory} contract is the one `rooms.ts` gives; this file
 * is how it holds across processes. Client: node-redis (`@redis/client`), the client Redis itself
 * maintains; ioredis is in maintenance mode.
 *
 * Keys (standalone Redis or a primary with replicas; the scripts touch lease keys they are not
 * given, so not Redis Cluster):
 * - `hp:room:<room>`: a hash, peer id → node id of the process that holds its socket, in join
 *   order, and the field `#v`: the room's version, bumped by every change. Expires
 *   {@link REDIS_DEFAULTS.roomTtlMs} after the last node holding a member stopped refreshing it.
 * - `hp:lease:<node>`: a node's lease, refreshed every `leaseRefreshMs`, expiring after `leaseMs`.
 * Channels (one subscriber connection per node, so what one node publishes reaches another in
 * the order Redis ran it: a newcomer's `peer-joined` before its first signal):
 * - `hp:room:<room>`: the room's whole membership after each change, `{v, p: peers, n: nodes}`,
 *   published by the same script that made the change. A node mirrors each room it has members
 *   in, applies a snapshot only if its `v` is newer, and tells its own sockets the difference.
 * - `hp:node:<node>`: signals for that node's sockets, `{r: room, f: from, t: to, d: data}`.
 *
 * Atomic steps (Lua, run by Redis one at a time): join (reap members of dead nodes, then the
 * capacity check, or move the seat of a peer resuming from another node), leave (only the
 * holding node's seat), reap (members of nodes whose lease is gone), sync (a node re-asserts
 * its members after Redis was unreachable or lost its data).
 *
 * A process that dies without leaving (SIGKILL, power) stops refreshing its lease; within
 * `leaseMs` + `leaseRefreshMs` (10 s + 2 s by default) a live node in the same room finds the
 * lease gone, reaps, and everyone left is told `peer-left`. A join into such a room reaps first.
 *
 * Redis unreachable: joins answer `unavailable` (the server closes with 1013, the page retries);
 * leaves and relays between this node's own sockets go on from the mirror; nothing throws. When
 * Redis is back, each node syncs its members (the same ids, so pages see no one leave), and for
 * {@link RECOVERY_GRACE_FACTOR} lease periods keeps members of other nodes that a snapshot lacks
 * (the other nodes may not have synced yet), then reloads each room as Redis has it.
 */
import { randomBytes } from 'node:crypto';
import { createClient } from '@redis/client';
import type { Logger } from './log.ts';
import { ROOM_CAPACITY, type SignalData } from './protocol.ts';
import type { DirectoryHooks, DirectoryMessage, JoinResult, RoomDirectory } from './rooms.ts';

/** Timing of {@link createRedisDirectory}, ms. The product of lease and refresh bounds ghosts. */
export const REDIS_DEFAULTS = {
  /** A node's lease lives this long unless refreshed: how long a dead node's members linger. */
  leaseMs: 10 * 1000,
  /** How often a node refreshes its lease (and a slice of its room keys) and looks for dead nodes' leases. */
  leaseRefreshMs: 2 * 1000,
  /** A room key no live node refreshes is gone after this (a room whose every node died). */
  roomTtlMs: 5 * 60 * 1000,
  /** Longest a join waits for Redis before it answers `unavailable`. */
  joinTimeoutMs: 5 * 1000,
} as const;

/**
 * How many times per `roomTtlMs` a node refreshes the key of each room it holds members of (in
 * slices, one per lease tick). A room key can miss a slice when rooms come and go between ticks;
 * ten refreshes per TTL leave room for that.
 */
const ROOM_REFRESHES_PER_TTL = 10;

/** After Redis comes back, lease periods during which other nodes' missing members are kept. */
const RECOVERY_GRACE_FACTOR = 2;

/**
 * Longest `close()` waits for Redis (the last leave, deleting the lease, a clean QUIT) before it
 * drops the connections: a client that is reconnecting to a Redis that is gone would otherwise
 * keep a shutdown waiting for ever.
 */
const CLOSE_TIMEOUT_MS = 2000;

/** Resolves when `promise` settles or after `ms`, whichever comes first; never rejects. */
function settledWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    promise.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      () => {
        clearTimeout(timer);
        resolve();
      },
    );
  });
}

/** Options of {@link createRedisDirectory}. */
export interface RedisDirectoryOptions {
  /** `redis://[user:password@]host[:port][/db]` or `rediss://…` (TLS). */
  url: string;
  /** [capacity=ROOM_CAPACITY] People per room, across every node. */
  capacity?: number;
  /** Where the directory logs Redis going away and coming back (once each, never per frame). */
  logger: Logger;
  /** [leaseMs=10000] See {@link REDIS_DEFAULTS}. */
  leaseMs?: number;
  /** [leaseRefreshMs=2000] See {@link REDIS_DEFAULTS}. */
  leaseRefreshMs?: number;
  /** [roomTtlMs=300000] See {@link REDIS_DEFAULTS}. */
  roomTtlMs?: number;
  /** [joinTimeoutMs=5000] See {@link REDIS_DEFAULTS}. */
  joinTimeoutMs?: number;
}

/** A Redis-backed directory, with this node's id (for logs and metrics). */
export interface RedisDirectory extends RoomDirectory {
  /** Random per process start: the value members' hash fields hold. */
  readonly nodeId: string;
}

const ROOM_PREFIX = 'hp:room:';
const LEASE_PREFIX = 'hp:lease:';
const NODE_PREFIX = 'hp:node:';

/** Helpers every script starts with (Redis 7 Lua 5.1, cjson built in). */
const LUA_COMMON = `
local function members(key)
  local flat = redis.call('HGETALL', key)
  local peers, nodes = {}, {}
  for i = 1, #flat, 2 do
    if flat[i] ~= '#v' then peers[#peers + 1] = flat[i]; nodes[#nodes + 1] = flat[i + 1] end
  end
  return peers, nodes
end
local function reap(key, me)
  local flat = redis.call('HGETALL', key)
  local alive, dropped = {}, 0
  for i = 1, #flat, 2 do
    local peer, node = flat[i], flat[i + 1]
    if peer ~= '#v' and node ~= me then
      if alive[node] == nil then alive[node] = redis.call('EXISTS', '${LEASE_PREFIX}' .. node) == 1 end
      if not alive[node] then redis.call('HDEL', key, peer); dropped = dropped + 1 end
    end
  end
  return dropped
end
local function floor(key, at_least)
  redis.call('HSETNX', key, '#v', 0)
  if tonumber(redis.call('HGET', key, '#v')) < at_least then redis.call('HSET', key, '#v', at_least) end
end
local function publish(key, ttl, back)
  local v = redis.call('HINCRBY', key, '#v', 1)
  local peers, nodes = members(key)
  redis.call('PEXPIRE', key, ttl)
  redis.call('PUBLISH', key, cjson.encode({v = v, p = peers, n = nodes, b = back}))
  return v
end
`;

/**
 * KEYS: room (its key is also its channel). ARGV: peer, node, capacity, ttl ms, version floor.
 * Returns {status, v, peers, nodes}; status `ok`, `back` (the peer held its seat already, through
 * this node or another: it moves here, and the snapshot names it in `b` so the others hear it is
 * back) or `full` (nothing changed but reaping).
 */
const JOIN_LUA = `${LUA_COMMON}
local key, peer, me = KEYS[1], ARGV[1], ARGV[2]
local capacity, ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
floor(key, tonumber(ARGV[5]))
local dropped = reap(key, me)
local holder = redis.call('HGET', key, peer)
local status = 'ok'
if holder then
  status = 'back'
  redis.call('HSET', key, peer, me)
elseif redis.call('HLEN', key) - 1 >= capacity then
  status = 'full'
else
  redis.call('HSET', key, peer, me)
end
local v
if status == 'full' and dropped == 0 then
  v = tonumber(redis.call('HGET', key, '#v'))
else
  v = publish(key, ttl, status == 'back' and peer or nil)
end
local peers, nodes = members(key)
return {status, v, peers, nodes}
`;

/** KEYS: room. ARGV: peer, node, ttl ms. Returns the new version, or 0 if not held. */
const LEAVE_LUA = `${LUA_COMMON}
local key, peer, me = KEYS[1], ARGV[1], ARGV[2]
if redis.call('HGET', key, peer) ~= me then return 0 end
redis.call('HDEL', key, peer)
return publish(key, tonumber(ARGV[3]))
`;

/** KEYS: room. ARGV: node, ttl ms. Returns how many members it dropped. */
const REAP_LUA = `${LUA_COMMON}
local dropped = reap(KEYS[1], ARGV[1])
if dropped > 0 then publish(KEYS[1], tonumber(ARGV[2])) end
return dropped
`;

/**
 * KEYS: room. ARGV: node, ttl ms, version floor, then this node's peers in the room.
 * Seats them (unless one has moved to another node since), drops this node's other seats.
 * Returns {v, peers, nodes}.
 */
const SYNC_LUA = `${LUA_COMMON}
local key, me, ttl = KEYS[1], ARGV[1], tonumber(ARGV[2])
floor(key, tonumber(ARGV[3]))
local mine = {}
for i = 4, #ARGV do mine[ARGV[i]] = true end
local flat = redis.call('HGETALL', key)
for i = 1, #flat, 2 do
  if flat[i] ~= '#v' and flat[i + 1] == me and not mine[flat[i]] then redis.call('HDEL', key, flat[i]) end
end
for i = 4, #ARGV do
  if not redis.call('HGET', key, ARGV[i]) then redis.call('HSET', key, ARGV[i], me) end
end
local v = publish(key, ttl)
local peers, nodes = members(key)
return {v, peers, nodes}
`;

/** A room's membership at version `v`, as a script or the room channel gave it. */
interface Snapshot {
  v: number;
  /** Peer → node, in join order. */
  members: Map<string, string>;
  /** A peer that joined again while seated (resumed: a reload, or through another node). */
  back?: string;
}

/** This node's copy of a room it holds members in (or is joining). */
interface Mirror {
  v: number;
  members: Map<string, string>;
  /** Seated members here plus joins under way: the mirror goes when this reaches 0. */
  holders: number;
  /** Resolves once the room channel is subscribed. */
  subscribed: Promise<void>;
  /**
   * Peers that left through this node, with the version their leave made (`null` until Redis
   * answered): snapshots older than that still list them and must not bring them back.
   */
  leaving: Map<string, number | null>;
}

function zip(peers: unknown, nodes: unknown): Map<string, string> {
  const members = new Map<string, string>();
  // cjson encodes an empty Lua table as `{}`.
  if (!Array.isArray(peers) || !Array.isArray(nodes)) return members;
  peers.forEach((peer, i) => {
    const node: unknown = nodes[i];
    if (typeof peer === 'string' && typeof node === 'string') members.set(peer, node);
  });
  return members;
}

/** A channel message as a JSON object; `{}` for anything else, which the readers refuse. */
function readObject(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Parses a room channel message; `null` for anything else (logged by the caller). */
function parseSnapshot(text: string): Snapshot | null {
  const { v, p, n, b } = readObject(text);
  if (typeof v !== 'number' || !Number.isInteger(v)) return null;
  return { v, members: zip(p, n), ...(typeof b === 'string' ? { back: b } : {}) };
}

/** Parses a node channel message (a relayed signal); `null` for anything else. */
function parseRelay(text: string): { r: string; f: string; t: string; d: SignalData } | null {
  const { r, f, t, d } = readObject(text);
  if (typeof r !== 'string' || typeof f !== 'string' || typeof t !== 'string') return null;
  if (typeof d !== 'object' || d === null) return null;
  return { r, f, t, d: d as SignalData };
}

/** The script reply `[status?, v, peers, nodes]` as a snapshot. */
function replySnapshot(v: unknown, peers: unknown, nodes: unknown): Snapshot {
  return { v: Number(v), members: zip(peers, nodes) };
}

/** `redis://user:secret@host:6379/0` → `host:6379`, for logs and `/healthz`. */
function redisHost(url: string): string {
  try {
    const parsed = new URL(url);
    return parsed.port ? `${parsed.hostname}:${parsed.port}` : parsed.hostname;
  } catch {
    return 'redis';
  }
}

/**
 * A node's {@link RoomDirectory} on the Redis at `options.url`. Connects in the background and
 * keeps reconnecting (node-redis' backoff); until connected, {@link RoomDirectory.health} says
 * so and joins answer `unavailable`. Returns at once; never throws for an unreachable Redis.
 * @throws {RangeError} for a capacity that is not a positive integer.
 */
export function createRedisDirectory(
  options: RedisDirectoryOptions,
  hooks: DirectoryHooks,
): RedisDirectory {
  const capacity = options.capacity ?? ROOM_CAPACITY;
  if (!Number.isInteger(capacity) || capacity < 1) {
    throw new RangeError(`room capacity must be a positive integer, got ${capacity}`);
  }
  const leaseMs = options.leaseMs ?? REDIS_DEFAULTS.leaseMs;
  const leaseRefreshMs = options.leaseRefreshMs ?? REDIS_DEFAULTS.leaseRefreshMs;
  const roomTtlMs = options.roomTtlMs ?? REDIS_DEFAULTS.roomTtlMs;
  const joinTimeoutMs = options.joinTimeoutMs ?? REDIS_DEFAULTS.joinTimeoutMs;
  const { logger } = options;
  const host = redisHost(options.url);
  const nodeId = randomBytes(8).toString('hex');
  const nodeChannel = NODE_PREFIX + nodeId;
  const leaseKey = LEASE_PREFIX + nodeId;

  // Commands fail at once while disconnected instead of queueing: a join must not wait for an
  // outage to end, and a signal queued for minutes is worse than one lost.
  const cmd = createClient({
    url: options.url,
    disableOfflineQueue: true,
    socket: { connectTimeout: joinTimeoutMs },
  });
  const sub = cmd.duplicate();
  /** Peers seated through this node → their room. */
  const seated = new Map<string, string>();
  const mirrors = new Map<string, Mirror>();
  let closed = false;
  let everReady = false;
  let up = false;
  /** `performance.now()` until which missing members of other nodes are kept (see the header). */
  let graceUntilMs = 0;
  let graceTimer: ReturnType<typeof setTimeout> | undefined;

  let loggedFirstFailure = false;
  const transition = (ready: boolean, error?: Error) => {
    if (closed) return;
    if (ready && !up && cmd.isReady && sub.isReady) {
      up = true;
      if (everReady) {
        logger.info({ redis: host }, 'Redis reachable again; restoring rooms');
        recover();
      } else {
        logger.info({ redis: host, node: nodeId }, 'sharing rooms through Redis');
      }
      everReady = true;
      void refresh();
    } else if (!ready && up) {
      up = false;
      logger.warn(
        { redis: host, err: error?.message },
        'Redis unreachable: joins refused until it is back; relaying within this process goes on',
      );
    } else if (!ready && !everReady && error && !loggedFirstFailure) {
      loggedFirstFailure = true;
      logger.warn({ redis: host, err: error.message }, 'cannot reach Redis yet; retrying');
    }
  };
  for (const client of [cmd, sub]) {
    // First: node-redis emits `error` on every failed reconnect; unhandled, it would crash.
    client.on('error', (error: Error) => transition(false, error));
    client.on('end', () => transition(false));
    client.on('reconnecting', () => transition(false));
    client.on('ready', () => transition(true));
  }

  /** Runs one of the scripts above on `room`'s key (which is also its channel). */
  const runScript = (script: string, room: string, args: (string | number)[]) =>
    cmd.sendCommand(['EVAL', script, '1', ROOM_PREFIX + room, ...args.map(String)]);

  function deliverAll(room: string, message: DirectoryMessage, except: string): void {
    for (const [peer, at] of seated) {
      if (at === room && peer !== except) hooks.deliver(peer, message);
    }
  }

  /**
   * Applies a snapshot to the room's mirror and tells this node's sockets what changed.
   * `force`: take it whatever its version (a reload after recovery).
   */
  function apply(room: string, snapshot: Snapshot, force = false): void {
    const mirror = mirrors.get(room);
    if (!mirror || (!force && snapshot.v <= mirror.v)) return;
    const next = new Map(snapshot.members);
    for (const [peer, version] of mirror.leaving) {
      if (version === null || snapshot.v < version) next.delete(peer);
      else mirror.leaving.delete(peer);
    }
    const old = mirror.members;
    if (performance.now() < graceUntilMs) {
      for (const [peer, node] of old) {
        if (!next.has(peer) && node !== nodeId && !mirror.leaving.has(peer)) next.set(peer, node);
      }
    }
    mirror.v = snapshot.v;
    mirror.members = next;
    let lostOurs = false;
    for (const [peer, node] of next) {
      const was = old.get(peer);
      if (was !== undefined && was === nodeId && node !== nodeId && seated.get(peer) === room) {
        // Resumed through another node: our socket is stale. It has not left the room.
        seated.delete(peer);
        mirror.holders -= 1;
        hooks.evict(peer);
      }
      // New, or back (a fresh page: the others must start over with it, as in one process).
      if (was === undefined || snapshot.back === peer) {
        deliverAll(room, { type: 'peer-joined', id: peer }, peer);
      }
    }
    for (const peer of old.keys()) {
      if (next.has(peer)) continue;
      if (seated.get(peer) === room) lostOurs = true;
      else deliverAll(room, { type: 'peer-left', id: peer }, peer);
    }
    // Our member is gone from Redis while its socket is here (Redis lost data, or our lease
    // lapsed while it was unreachable): put it back.
    if (lostOurs) void sync(room);
    releaseIfIdle(room);
  }

  function mirrorFor(room: string): Mirror {
    let mirror = mirrors.get(room);
    if (!mirror) {
      const channel = ROOM_PREFIX + room;
      mirror = {
        v: -1,
        members: new Map(),
        holders: 0,
        leaving: new Map(),
        subscribed: sub.subscribe(channel, (text) => {
          const snapshot = parseSnapshot(text);
          if (snapshot) apply(room, snapshot);
          else logger.warn({ channel }, 'ignoring an unreadable room snapshot');
        }),
      };
      mirror.subscribed.catch(() => undefined); // awaited by join; here only not unhandled
      mirrors.set(room, mirror);
    }
    return mirror;
  }

  function releaseIfIdle(room: string): void {
    const mirror = mirrors.get(room);
    if (!mirror || mirror.holders > 0) return;
    mirrors.delete(room);
    sub.unsubscribe(ROOM_PREFIX + room).catch(() => undefined); // gone with the connection
  }

  async function join(room: string, peer: string): Promise<JoinResult> {
    const here = seated.get(peer);
    if (here !== undefined && here !== room) return { ok: false, reason: 'joined' };
    if (closed || !up) return { ok: false, reason: 'unavailable' };
    const mirror = mirrorFor(room);
    mirror.holders += 1;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('join timed out')), joinTimeoutMs);
      });
      const reply = await Promise.race([
        mirror.subscribed.then(() =>
          runScript(JOIN_LUA, room, [peer, nodeId, capacity, roomTtlMs, Math.max(0, mirror.v)]),
        ),
        timeout,
      ]);
      const [status, v, peers, nodes] = reply as unknown as [string, number, string[], string[]];
      const snapshot = replySnapshot(v, peers, nodes);
      if (status === 'full') {
        mirror.holders -= 1;
        apply(room, snapshot);
        releaseIfIdle(room);
        return { ok: false, reason: 'full' };
      }
      mirror.leaving.delete(peer);
      if (here !== undefined) mirror.holders -= 1; // the seat this node held already counts
      // Applied before the newcomer is seated: it learns who is there from `joined`, not as news.
      apply(room, { ...snapshot, ...(status === 'back' ? { back: peer } : {}) });
      seated.set(peer, room);
      return { ok: true, others: [...snapshot.members.keys()].filter((id) => id !== peer) };
    } catch (error) {
      logger.debug({ err: (error as Error).message }, 'join through Redis failed');
      mirror.holders -= 1;
      releaseIfIdle(room);
      return { ok: false, reason: 'unavailable' };
    } finally {
      clearTimeout(timer);
    }
  }

  function leave(peer: string): void {
    const room = seated.get(peer);
    if (room === undefined) return;
    seated.delete(peer);
    const mirror = mirrors.get(room);
    if (!mirror) return;
    // Told at once from the mirror, so a leave needs no Redis round trip (nor Redis at all).
    mirror.members.delete(peer);
    mirror.leaving.set(peer, null);
    deliverAll(room, { type: 'peer-left', id: peer }, peer);
    runScript(LEAVE_LUA, room, [peer, nodeId, roomTtlMs]).then(
      (version) => {
        if (Number(version) === 0 || Number(version) <= mirror.v) mirror.leaving.delete(peer);
        else mirror.leaving.set(peer, Number(version));
      },
      // Unreachable: the sync after recovery drops the seat.
      () => undefined,
    );
    mirror.holders -= 1;
    releaseIfIdle(room);
  }

  function relay(from: string, to: string, data: SignalData): boolean {
    const room = seated.get(from);
    if (room === undefined || from === to) return false;
    const node = mirrors.get(room)?.members.get(to);
    if (node === undefined) return false;
    if (node === nodeId) {
      if (seated.get(to) !== room) return false;
      hooks.deliver(to, { type: 'signal', from, data });
      return true;
    }
    cmd
      .publish(NODE_PREFIX + node, JSON.stringify({ r: room, f: from, t: to, d: data }))
      .catch(() => undefined); // Redis unreachable: the page's ICE restart recovers
    return true;
  }

  function onRelay(text: string): void {
    const message = parseRelay(text);
    if (!message) {
      logger.warn({ channel: nodeChannel }, 'ignoring an unreadable relayed signal');
      return;
    }
    if (seated.get(message.t) !== message.r) return; // left, or moved on, meanwhile
    hooks.deliver(message.t, { type: 'signal', from: message.f, data: message.d });
  }

  /** Re-asserts this node's members of `room` in Redis and applies what comes back. */
  async function sync(room: string): Promise<void> {
    const mirror = mirrors.get(room);
    if (!mirror || !up) return;
    const mine = [...seated].filter(([, at]) => at === room).map(([peer]) => peer);
    try {
      const reply = (await runScript(SYNC_LUA, room, [
        nodeId,
        roomTtlMs,
        Math.max(0, mirror.v),
        ...mine,
      ])) as unknown as [number, string[], string[]];
      for (const peer of mirror.leaving.keys()) mirror.leaving.delete(peer); // dropped by sync
      apply(room, replySnapshot(...reply));
    } catch (error) {
      logger.debug({ err: (error as Error).message, room: room.slice(0, 4) }, 'sync failed');
    }
  }

  /** Redis is back: sync every room, then after the grace period reload each as Redis has it. */
  function recover(): void {
    graceUntilMs = performance.now() + RECOVERY_GRACE_FACTOR * leaseRefreshMs;
    for (const room of mirrors.keys()) void sync(room);
    clearTimeout(graceTimer);
    graceTimer = setTimeout(
      () => {
        for (const room of mirrors.keys()) {
          cmd.hGetAll(ROOM_PREFIX + room).then(
            (hash) => {
              const members = new Map(Object.entries(hash).filter(([peer]) => peer !== '#v'));
              apply(room, { v: Number(hash['#v'] ?? 0), members }, true);
            },
            () => undefined,
          );
        }
      },
      RECOVERY_GRACE_FACTOR * leaseRefreshMs + 100,
    );
    graceTimer.unref();
  }

  /** Where the next tick's slice of room keys to refresh starts, in the order of `mirrors`. */
  let roomCursor = 0;

  /** One lease period: refresh our lease and rooms, reap rooms of nodes whose lease is gone. */
  async function refresh(): Promise<void> {
    if (!up || closed) return;
    try {
      const work: Promise<unknown>[] = [cmd.set(leaseKey, '1', { PX: leaseMs })];
      // Room keys live `roomTtlMs`; each tick refreshes a slice of them, so that each is
      // refreshed ROOM_REFRESHES_PER_TTL times per TTL and no tick sends one command per room
      // (at 5,000 rooms that stalled the event loop 10–15 ms every 2 s, and cross-process relays
      // queued behind it: bench/README.md). Joins and leaves refresh their room's key too.
      const held = [...mirrors.keys()];
      const slice = Math.ceil(
        (held.length * leaseRefreshMs) / (roomTtlMs / ROOM_REFRESHES_PER_TTL),
      );
      for (let i = 0; i < Math.min(slice, held.length); i++) {
        const room = held[(roomCursor + i) % held.length]!;
        work.push(cmd.pExpire(ROOM_PREFIX + room, roomTtlMs));
      }
      roomCursor = held.length === 0 ? 0 : (roomCursor + slice) % held.length;
      const foreign = new Map<string, Set<string>>();
      for (const [room, mirror] of mirrors) {
        for (const node of mirror.members.values()) {
          if (node === nodeId) continue;
          const rooms = foreign.get(node) ?? new Set<string>();
          rooms.add(room);
          foreign.set(node, rooms);
        }
      }
      await Promise.all(work);
      if (performance.now() < graceUntilMs) return; // the others may not have re-leased yet
      const dead = await Promise.all(
        [...foreign.keys()].map(async (node) =>
          (await cmd.exists(LEASE_PREFIX + node)) === 0 ? node : null,
        ),
      );
      const rooms = new Set(dead.flatMap((node) => (node === null ? [] : [...foreign.get(node)!])));
      await Promise.all([...rooms].map((room) => runScript(REAP_LUA, room, [nodeId, roomTtlMs])));
    } catch (error) {
      logger.debug({ err: (error as Error).message }, 'lease refresh failed');
    }
  }

  const ticker = setInterval(() => void refresh(), leaseRefreshMs);
  ticker.unref();

  const connected = Promise.all([cmd.connect(), sub.connect()]).then(
    () => sub.subscribe(nodeChannel, onRelay),
    (error: unknown) => {
      if (!closed) logger.error({ err: (error as Error).message }, 'Redis client gave up');
    },
  );

  return {
    nodeId,
    join,
    leave,
    relay,
    roomOf: (peer) => seated.get(peer),
    othersOf(peer) {
      const room = seated.get(peer);
      const members = room === undefined ? undefined : mirrors.get(room)?.members;
      return members ? [...members.keys()].filter((id) => id !== peer) : [];
    },
    get size() {
      return new Set(seated.values()).size;
    },
    health: () => (cmd.isReady && sub.isReady ? null : `redis: unreachable (${host})`),
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(ticker);
      clearTimeout(graceTimer);
      const goodbye = (async () => {
        await connected;
        if (cmd.isReady) await cmd.del(leaseKey).catch(() => undefined);
        await Promise.allSettled([cmd.close(), sub.close()]);
      })();
      await settledWithin(goodbye, CLOSE_TIMEOUT_MS);
      cmd.destroy();
      sub.destroy();
    },
  };
}
