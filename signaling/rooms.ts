/**
 * Room membership, pure and synchronous: no sockets, no timers. The server asks it who may join and
 * whom to tell; it never decides how to talk to anyone.
 */
import { ROOM_CAPACITY } from './protocol.ts';

/** Outcome of {@link Rooms.join}. `others` are the peers already in the room, oldest first. */
export type JoinResult = { ok: true; others: string[] } | { ok: false; reason: 'full' | 'joined' };

/** Peer-to-room bookkeeping. Empty rooms are forgotten at once, so rooms cannot be enumerated. */
export class Rooms {
  readonly #capacity: number;
  readonly #members = new Map<string, Set<string>>();
  readonly #roomOf = new Map<string, string>();

  /** @param capacity people per room, ≥ 1 (default {@link ROOM_CAPACITY}). */
  constructor(capacity: number = ROOM_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`room capacity must be a positive integer, got ${capacity}`);
    }
    this.#capacity = capacity;
  }

  /** Number of rooms with at least one person. */
  get size(): number {
    return this.#members.size;
  }

  /**
   * Puts `peer` in `room`. Fails with `joined` if the peer is already in a room (one room per
   * socket) and with `full` at capacity; a failed join changes nothing.
   */
  join(room: string, peer: string): JoinResult {
    if (this.#roomOf.has(peer)) return { ok: false, reason: 'joined' };
    const members = this.#members.get(room) ?? new Set<string>();
    if (members.size >= this.#capacity) return { ok: false, reason: 'full' };
    const others = [...members];
    members.add(peer);
    this.#members.set(room, members);
    this.#roomOf.set(peer, room);
    return { ok: true, others };
  }

  /** Takes `peer` out of its room. Returns the room and who is left in it, or `null` if in none. */
  leave(peer: string): { room: string; others: string[] } | null {
    const room = this.#roomOf.get(peer);
    if (room === undefined) return null;
    this.#roomOf.delete(peer);
    const members = this.#members.get(room);
    members?.delete(peer);
    if (!members || members.size === 0) this.#members.delete(room);
    return { room, others: members ? [...members] : [] };
  }

  /** The other people in `peer`'s room, oldest first; `[]` when it is in none. */
  othersOf(peer: string): string[] {
    const room = this.#roomOf.get(peer);
    const members = room === undefined ? undefined : this.#members.get(room);
    return members ? [...members].filter((member) => member !== peer) : [];
  }

  /** The room `peer` is in, or `undefined`. */
  roomOf(peer: string): string | undefined {
    return this.#roomOf.get(peer);
  }

  /** True when both peers are in the same room: the only pairs the server relays between. */
  together(a: string, b: string): boolean {
    const room = this.#roomOf.get(a);
    return room !== undefined && a !== b && room === this.#roomOf.get(b);
  }
}
