import { describe, expect, it } from 'vitest';
import { describeStatus } from './status.ts';

describe('describeStatus', () => {
  it('walks through a normal session', () => {
    expect(describeStatus({ server: 'connecting', peer: 'absent', verdict: null }).text).toBe(
      'Connecting to the chat server…',
    );
    expect(describeStatus({ server: 'open', peer: 'absent', verdict: null }).text).toBe(
      'Waiting for the other person to open the link…',
    );
    expect(describeStatus({ server: 'open', peer: 'connecting', verdict: null }).text).toBe(
      'Connecting to the other person…',
    );
    expect(describeStatus({ server: 'open', peer: 'open', verdict: 'Direct' })).toEqual({
      text: 'Connected directly, peer to peer.',
      tone: 'good',
    });
  });

  it('says when the path goes through TURN', () => {
    expect(describeStatus({ server: 'open', peer: 'open', verdict: 'Relayed (TURN)' }).text).toBe(
      'Connected through a relay server (TURN).',
    );
  });

  it('keeps saying connected when only the server went away', () => {
    expect(describeStatus({ server: 'closed', peer: 'open', verdict: 'Direct' }).tone).toBe('good');
    expect(describeStatus({ server: 'reconnecting', peer: 'open', verdict: 'Direct' }).tone).toBe(
      'good',
    );
    expect(describeStatus({ server: 'reconnecting', peer: 'absent', verdict: null }).text).toBe(
      'Lost the chat server. Reconnecting…',
    );
  });

  it('explains the bad endings', () => {
    expect(describeStatus({ server: 'room-full', peer: 'absent', verdict: null }).text).toMatch(
      /full/,
    );
    expect(describeStatus({ server: 'open', peer: 'failed', verdict: null }).tone).toBe('bad');
    expect(describeStatus({ server: 'open', peer: 'lost', verdict: null }).text).toMatch(/lost/);
    expect(describeStatus({ server: 'closed', peer: 'absent', verdict: null }).text).toMatch(
      /Cannot reach the chat server/,
    );
  });
});
