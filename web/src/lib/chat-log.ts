/**
 * Chat messages: the wire format on the data channel and the conversation as shown. Pure: the
 * clock and the random source are parameters.
 */

/** Longest message a person can send, characters (well under SCTP's 64 KiB message size). */
export const MAX_MESSAGE_CHARS = 4000;

/** A chat message as it travels over the data channel (one JSON text message each). */
export interface ChatWireMessage {
  type: 'chat';
  /** Random id (16 hex digits), for acknowledgements and de-duplication later (issue #4). */
  id: string;
  text: string;
  /** Sender's clock, ms since the Unix epoch. Shown only; never used for ordering. */
  sentAt: number;
}

/** One line of the conversation. */
export interface ChatEntry {
  id: string;
  from: 'me' | 'peer';
  text: string;
  /** When it was sent (mine) or received (theirs), ms since the Unix epoch. */
  at: number;
}

/** A fresh message id: 64 random bits as 16 hex digits (works outside secure contexts too). */
export function newMessageId(random: Crypto = globalThis.crypto): string {
  const bytes = random.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/**
 * Builds the wire message for `text`. Returns `null` for text that is blank or longer than
 * {@link MAX_MESSAGE_CHARS}; the caller keeps the draft so nothing typed is lost.
 */
export function composeMessage(
  text: string,
  now: number,
  id = newMessageId(),
): ChatWireMessage | null {
  if (text.trim() === '' || text.length > MAX_MESSAGE_CHARS) return null;
  return { type: 'chat', id, text, sentAt: now };
}

/** Parses one data-channel message from the peer; `null` (never a throw) for anything else. */
export function parseChatMessage(raw: string): ChatWireMessage | null {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const { type, id, text, sentAt } = value as Record<string, unknown>;
  if (type !== 'chat' || typeof id !== 'string' || !/^[0-9a-f]{16}$/.test(id)) return null;
  if (typeof text !== 'string' || text.length === 0 || text.length > MAX_MESSAGE_CHARS) return null;
  if (typeof sentAt !== 'number' || !Number.isFinite(sentAt)) return null;
  return { type, id, text, sentAt };
}
