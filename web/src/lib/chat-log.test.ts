import { describe, expect, it } from 'vitest';
import { composeMessage, MAX_MESSAGE_CHARS, newMessageId, parseChatMessage } from './chat-log.ts';

describe('chat wire format', () => {
  it('round-trips a message', () => {
    const sent = composeMessage('hi bob 👋', 1_700_000_000_000);
    expect(sent).not.toBeNull();
    expect(parseChatMessage(JSON.stringify(sent))).toEqual(sent);
  });

  it('refuses blank and oversized drafts', () => {
    expect(composeMessage('   ', 0)).toBeNull();
    expect(composeMessage('x'.repeat(MAX_MESSAGE_CHARS + 1), 0)).toBeNull();
  });

  it('ignores anything from the peer that is not a chat message', () => {
    const id = newMessageId();
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    for (const raw of [
      'hello',
      '{"type":"chat"}',
      JSON.stringify({ type: 'chat', id, text: 5, sentAt: 0 }),
      JSON.stringify({ type: 'chat', id: 'x', text: 'a', sentAt: 0 }),
      JSON.stringify({ type: 'chat', id, text: 'a', sentAt: 'now' }),
      'null',
    ]) {
      expect(parseChatMessage(raw)).toBeNull();
    }
  });
});
