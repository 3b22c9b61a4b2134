import { describe, expect, it } from 'vitest';
import { composeMessage, MAX_MESSAGE_CHARS, newMessageId } from './chat-log.ts';

describe('chat wire format', () => {
  it('builds a message with a fresh 64-bit id', () => {
    const sent = composeMessage('hi bob 👋', 1_700_000_000_000);
    expect(sent).toMatchObject({ type: 'chat', text: 'hi bob 👋', sentAt: 1_700_000_000_000 });
    expect(sent?.id).toMatch(/^[0-9a-f]{16}$/);
    expect(newMessageId()).not.toBe(newMessageId());
  });

  it('refuses blank and oversized drafts', () => {
    expect(composeMessage('   ', 0)).toBeNull();
    expect(composeMessage('x'.repeat(MAX_MESSAGE_CHARS + 1), 0)).toBeNull();
  });
});
