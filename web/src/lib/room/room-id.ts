/**
 * Room ids and room links. A room id is the only secret of a room: whoever has the link can join,
 * so it carries {@link ROOM_ID_BITS} random bits from `crypto.getRandomValues`, which (unlike
 * `crypto.randomUUID`) exists outside secure contexts too, i.e. on plain http from a LAN address.
 */
import { isRoomId } from '../../../../signaling/protocol.ts';

/** Random bits in a new room id (issue #2: at least 128, so ids cannot be guessed). */
export const ROOM_ID_BITS = 128;

/** Path prefix of a room link: `/r/<room id>`. */
export const ROOM_PATH_PREFIX = '/r/';

/** URL-safe base64 (RFC 4648 §5) without padding. */
function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A fresh room id: 22 URL-safe characters carrying {@link ROOM_ID_BITS} random bits. */
export function newRoomId(random: Crypto = globalThis.crypto): string {
  return base64url(random.getRandomValues(new Uint8Array(ROOM_ID_BITS / 8)));
}

/** The room id in a page path such as `/r/k3Jd9_-aZQ0wE1rT5yU7iO`, or `null` for any other path. */
export function roomIdFromPath(pathname: string): string | null {
  if (!pathname.startsWith(ROOM_PATH_PREFIX)) return null;
  const id = pathname.slice(ROOM_PATH_PREFIX.length).replace(/\/$/, '');
  return isRoomId(id) ? id : null;
}

/** The shareable link of a room, on the origin the page was served from. */
export function roomLink(origin: string, roomId: string): string {
  return `${origin}${ROOM_PATH_PREFIX}${roomId}`;
}
