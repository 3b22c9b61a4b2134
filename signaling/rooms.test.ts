import { describe, expect, it } from 'vitest';
import { Rooms } from './rooms.ts';

const ROOM = 'AAAAAAAAAAAAAAAAAAAAAA';
const OTHER_ROOM = 'BBBBBBBBBBBBBBBBBBBBBB';

describe('Rooms', () => {
  it('tells a newcomer who is already there', () => {
    const rooms = new Rooms(2);
    expect(rooms.join(ROOM, 'alice')).toEqual({ ok: true, others: [] });
    expect(rooms.join(ROOM, 'bob')).toEqual({ ok: true, others: ['alice'] });
    expect(rooms.together('alice', 'bob')).toBe(true);
  });

  it('turns away a third person and changes nothing', () => {
    const rooms = new Rooms(2);
    rooms.join(ROOM, 'alice');
    rooms.join(ROOM, 'bob');
    expect(rooms.join(ROOM, 'carol')).toEqual({ ok: false, reason: 'full' });
    expect(rooms.roomOf('carol')).toBeUndefined();
    expect(rooms.together('alice', 'carol')).toBe(false);
  });

  it('lets one socket be in one room only', () => {
    const rooms = new Rooms(2);
    rooms.join(ROOM, 'alice');
    expect(rooms.join(OTHER_ROOM, 'alice')).toEqual({ ok: false, reason: 'joined' });
    expect(rooms.roomOf('alice')).toBe(ROOM);
  });

  it('frees the seat on leave and forgets empty rooms', () => {
    const rooms = new Rooms(2);
    rooms.join(ROOM, 'alice');
    rooms.join(ROOM, 'bob');
    expect(rooms.leave('alice')).toEqual({ room: ROOM, others: ['bob'] });
    expect(rooms.join(ROOM, 'carol')).toEqual({ ok: true, others: ['bob'] });
    rooms.leave('bob');
    rooms.leave('carol');
    expect(rooms.size).toBe(0);
    expect(rooms.leave('carol')).toBeNull();
  });

  it('never relays between rooms or to oneself', () => {
    const rooms = new Rooms(2);
    rooms.join(ROOM, 'alice');
    rooms.join(OTHER_ROOM, 'mallory');
    expect(rooms.together('mallory', 'alice')).toBe(false);
    expect(rooms.together('alice', 'alice')).toBe(false);
  });

  it('rejects a nonsensical capacity', () => {
    expect(() => new Rooms(0)).toThrow(RangeError);
  });
});
