/**
 * Chat messages: the text rules and ids, and a line of the conversation as shown. The frames on
 * the data channel (acks, sequence numbers) are delivery.ts's. Pure: the clock and the random
 * source are parameters.
 */

/** Longest message a person can send, characters (well under SCTP's 64 KiB message size). */
export const MAX_MESSAGE_CHARS = 4000;

/** A chat message as it travels over the data channel (one JSON text message each). */
export interface ChatWireMessage {
  type: 'chat';
  /** Random id (16 hex digits); delivery.ts adds the stream and sequence number around it. */
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
