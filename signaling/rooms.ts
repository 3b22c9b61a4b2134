/**
 * Room state behind one interface (issue #12): who is in which room (membership) and how a signal
 * reaches its target's socket (routing). The server keeps the sockets and the limits; a
 * {@link RoomDirectory} keeps the rooms and tells the server, through {@link DirectoryHooks},
 * what to send to which of its own sockets.
 *
 * Two implementations, one contract (`rooms.test.ts` runs the same suite against both):
 * - {@link MemoryRoomStore}: rooms in this process (`REDIS_URL` unset). A store can serve several
 *   directories ("nodes"), which is how the contract's multi-process cases run without Redis.
 * - `createRedisDirectory` (redis-rooms.ts): rooms in Redis, shared by every `npm start` that
 *   points at it.
 *
 * A node is one server process. A peer id is in at most one room; its socket is on one node.
 */
import { randomBytes } from 'node:crypto';
import { ROOM_CAPACITY, type ServerMessage, type SignalData } from './protocol.ts';

/**
 * Outcome of {@link RoomDirectory.join}. `others` are the peers already in the room, oldest first.
 * `full`: at capacity (counted across every node). `joined`: this peer id is in a room already,
 * through this node. `unavailable`: the shared store cannot be reached, so the seat cannot be
 * checked (the server closes with 1013, Try Again Later, and the page retries).
 */
export type JoinResult =
  { ok: true; others: string[] } | { ok: false; reason: 'full' | 'joined' | 'unavailable' };

/** Messages a directory hands to its node's sockets: membership news and relayed signals. */
export type DirectoryMessage = Extract<
  ServerMessage,
  { type: 'peer-joined' | 'peer-left' | 'signal' }
>;

/** What a directory asks of the server that owns the sockets. Called synchronously; must not throw. */
export interface DirectoryHooks {
  /** Send `message` to this node's socket for `peer`, if it still has one. */
  deliver(peer: string, message: DirectoryMessage): void;
  /**
   * `peer`'s seat was taken by a socket on another node (the same person resumed there): close
   * this node's socket with 4004 (REPLACED). The peer has not left: nobody is told.
   */
  evict(peer: string): void;
}

/**
 * Membership and routing for one node. `join` is the only asynchronous step (it may ask a shared
 * store for the seat); everything else answers from this node's view at once.
 */
export interface RoomDirectory {
  /**
   * Seats `peer` in `room`, atomically against every node: at most `capacity` people, however many
   * join at once. On success everyone else in the room gets `peer-joined`. A peer id seated
   * already (the same person resuming) keeps its seat and the others get `peer-joined` again, as
   * for a fresh page; if it was seated through another node, that node evicts its socket. Nobody
   * sees it leave. Never rejects: a store failure is `{ ok: false, reason: 'unavailable' }`.
   */
  join(room: string, peer: string): Promise<JoinResult>;
  /**
   * Takes `peer` (seated through this node) out of its room at once; the others get `peer-left`.
   * A no-op for a peer in no room. The shared store is updated in the background.
   */
  leave(peer: string): void;
  /**
   * Routes a signal from `from` (seated here) to `to`. Returns false, delivering nothing, unless
   * both are in the same room as far as this node knows. The target gets `from` as stamped here.
   */
  relay(from: string, to: string, data: SignalData): boolean;
  /** The room of `peer`, seated through this node; `undefined` otherwise. */
  roomOf(peer: string): string | undefined;
  /** The other people in `peer`'s room, oldest first; `[]` when it is in none here. */
  othersOf(peer: string): string[];
  /** Rooms with at least one person seated through this node (a per-process figure). */
  readonly size: number;
  /** `null` when healthy; otherwise why not, in words for `/healthz` (e.g. "redis: unreachable"). */
  health(): string | null;
  /** Stops timers and lets go of the store. Call after the sockets have left. Idempotent. */
  close(): Promise<void>;
}

/** Builds a node's directory once the server has its hooks. */
export type DirectoryFactory = (hooks: DirectoryHooks) => RoomDirectory;

interface MemoryNode {
  readonly id: string;
  readonly hooks: DirectoryHooks;
  /** Peers seated through this node, and their rooms. */
  readonly seated: Map<string, string>;
}

/**
 * Rooms in this process. `directory(hooks)` gives one node's view; `npm start` without `REDIS_URL`
 * makes one store and one node. Empty rooms are forgotten at once, so rooms cannot be enumerated.
 */
export class MemoryRoomStore {
  readonly #capacity: number;
  /** Room → peer → the node its socket is on; insertion order is join order. */
  readonly #rooms = new Map<string, Map<string, MemoryNode>>();

  /**
   * @param capacity people per room, ≥ 1 (default {@link ROOM_CAPACITY}).
   * @throws {RangeError} for another capacity.
   */
  constructor(capacity: number = ROOM_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`room capacity must be a positive integer, got ${capacity}`);
    }
    this.#capacity = capacity;
  }

  /** Number of rooms with at least one person, across nodes. */
  get size(): number {
    return this.#rooms.size;
  }

  /** A node's directory on this store. */
  directory(hooks: DirectoryHooks): RoomDirectory {
    const node: MemoryNode = { id: randomBytes(4).toString('hex'), hooks, seated: new Map() };
    return {
      join: (room, peer) => Promise.resolve(this.#join(node, room, peer)),
      leave: (peer) => this.#leave(node, peer),
      relay: (from, to, data) => this.#relay(node, from, to, data),
      roomOf: (peer) => node.seated.get(peer),
      othersOf: (peer) => this.#othersOf(node, peer),
      get size() {
        return new Set(node.seated.values()).size;
      },
      health: () => null,
      close: () => Promise.resolve(),
    };
  }

  #join(node: MemoryNode, room: string, peer: string): JoinResult {
    const here = node.seated.get(peer);
    if (here !== undefined && here !== room) return { ok: false, reason: 'joined' };
    const members = this.#rooms.get(room) ?? new Map<string, MemoryNode>();
    const holder = members.get(peer);
    if (holder === undefined && members.size >= this.#capacity) {
      return { ok: false, reason: 'full' };
    }
    members.set(peer, node);
    this.#rooms.set(room, members);
    node.seated.set(peer, room);
    if (holder !== undefined && holder !== node) {
      // The same person, resuming through this node: the seat moves; nobody sees them leave.
      holder.seated.delete(peer);
      holder.hooks.evict(peer);
    }
    // New, or back (a fresh page, even with the same id: the others start over with it).
    for (const [id, at] of members) {
      if (id !== peer) at.hooks.deliver(id, { type: 'peer-joined', id: peer });
    }
    return { ok: true, others: [...members.keys()].filter((id) => id !== peer) };
  }

  #leave(node: MemoryNode, peer: string): void {
    const room = node.seated.get(peer);
    if (room === undefined) return;
    node.seated.delete(peer);
    const members = this.#rooms.get(room);
    if (!members) return;
    members.delete(peer);
    if (members.size === 0) this.#rooms.delete(room);
    for (const [id, at] of members) at.hooks.deliver(id, { type: 'peer-left', id: peer });
  }

  #relay(node: MemoryNode, from: string, to: string, data: SignalData): boolean {
    const room = node.seated.get(from);
    const target = room === undefined || from === to ? undefined : this.#rooms.get(room)?.get(to);
    if (!target) return false;
    target.hooks.deliver(to, { type: 'signal', from, data });
    return true;
  }

  #othersOf(node: MemoryNode, peer: string): string[] {
    const room = node.seated.get(peer);
    const members = room === undefined ? undefined : this.#rooms.get(room);
    return members ? [...members.keys()].filter((id) => id !== peer) : [];
  }
}
