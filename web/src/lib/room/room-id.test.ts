import { describe, expect, it } from 'vitest';
import { isRoomId } from '../../../../signaling/protocol.ts';
import { newRoomId, roomIdFromPath, roomLink } from './room-id.ts';

describe('room ids', () => {
  it('are 22 URL-safe characters the server accepts, and differ every time', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newRoomId()));
    expect(ids.size).toBe(1000);
    for (const id of ids) {
      expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(isRoomId(id)).toBe(true);
    }
  });

  it('carry 128 bits from the random source', () => {
    const allOnes = { getRandomValues: (a: Uint8Array) => a.fill(0xff) } as unknown as Crypto;
    expect(newRoomId(allOnes)).toBe('_____________________w');
  });

  it('round-trip through a room link', () => {
    const id = newRoomId();
    const link = roomLink('http://203.0.113.10:8080', id);
    expect(link).toBe(`http://203.0.113.10:8080/r/${id}`);
    expect(roomIdFromPath(new URL(link).pathname)).toBe(id);
  });

  it('reject paths that are not room links', () => {
    expect(roomIdFromPath('/')).toBeNull();
    expect(roomIdFromPath('/r/short')).toBeNull();
    expect(roomIdFromPath('/x/AAAAAAAAAAAAAAAAAAAAAA')).toBeNull();
  });
});
