import { describe, expect, it } from 'vitest';
import { describeStatus, type PeerStatus } from './status.ts';

const bob = (state: PeerStatus['state'], verdict: PeerStatus['verdict'] = null): PeerStatus => ({
  name: 'Bob',
  state,
  verdict,
});

describe('describeStatus with one other person', () => {
  it('walks through a normal session', () => {
    expect(describeStatus({ server: 'connecting', peers: [] }).text).toBe(
      'Connecting to the chat server…',
    );
    expect(describeStatus({ server: 'open', peers: [] }).text).toBe(
      'Waiting for others to open the link…',
    );
    expect(describeStatus({ server: 'open', peers: [bob('connecting')] }).text).toBe(
      'Connecting to the other person…',
    );
    expect(describeStatus({ server: 'open', peers: [bob('open', 'Direct')] })).toEqual({
      text: 'Connected directly, peer to peer.',
      tone: 'good',
    });
  });

  it('says when the path goes through TURN', () => {
    expect(describeStatus({ server: 'open', peers: [bob('open', 'Relayed (TURN)')] }).text).toBe(
      'Connected through a relay server (TURN).',
    );
  });

  it('keeps saying connected when only the server went away', () => {
    expect(describeStatus({ server: 'closed', peers: [bob('open', 'Direct')] }).tone).toBe('good');
    expect(describeStatus({ server: 'reconnecting', peers: [bob('open', 'Direct')] }).tone).toBe(
      'good',
    );
    expect(describeStatus({ server: 'reconnecting', peers: [] }).text).toBe(
      'Lost the chat server. Reconnecting…',
    );
  });

  it('explains the bad endings, a refusal in its own words', () => {
    expect(
      describeStatus({ server: 'refused', closeWords: 'This room is full: …', peers: [] }).text,
    ).toBe('This room is full: …');
    expect(describeStatus({ server: 'refused', peers: [bob('open', 'Direct')] }).tone).toBe('bad');
    expect(describeStatus({ server: 'open', peers: [bob('failed')] }).tone).toBe('bad');
    expect(describeStatus({ server: 'open', peers: [bob('lost')] }).text).toMatch(/lost/);
    expect(describeStatus({ server: 'open', peers: [bob('left')] }).text).toMatch(/left/);
    expect(describeStatus({ server: 'closed', peers: [] }).text).toMatch(
      /Cannot reach the chat server/,
    );
  });
});

describe('describeStatus in a group', () => {
  const ann = (state: PeerStatus['state'], verdict: PeerStatus['verdict'] = null) => ({
    name: 'Ann',
    state,
    verdict,
  });
  const cem = (state: PeerStatus['state'], verdict: PeerStatus['verdict'] = null) => ({
    name: 'Cem',
    state,
    verdict,
  });

  it('counts people and paths when everyone is reached', () => {
    expect(
      describeStatus({
        server: 'open',
        peers: [ann('open', 'Direct'), bob('open', 'Direct'), cem('open', 'Relayed (TURN)')],
      }),
    ).toEqual({
      text: 'Connected to all 3 other people: 2 directly, 1 through a relay (TURN).',
      tone: 'good',
    });
  });

  it('names who is not reached yet, and why', () => {
    expect(
      describeStatus({
        server: 'open',
        peers: [ann('open', 'Direct'), bob('connecting'), cem('connecting')],
      }),
    ).toEqual({
      text: 'Connected to 1 of 3 other people: 1 directly; connecting to Bob and Cem.',
      tone: 'busy',
    });
    const bad = describeStatus({
      server: 'open',
      peers: [ann('failed'), bob('lost'), cem('open', 'Relayed (TURN)')],
    });
    expect(bad.tone).toBe('bad');
    expect(bad.text).toBe(
      'Connected to 1 of 3 other people: 1 through a relay (TURN); could not connect to Ann (see the diagnostics below); lost Bob, reconnecting.',
    );
  });

  it('names whom this page disconnected for breaking the chat’s limits (issue #16)', () => {
    expect(
      describeStatus({ server: 'open', peers: [ann('open', 'Direct'), bob('stopped')] }),
    ).toEqual({
      text: 'Connected to 1 of 2 other people: 1 directly; disconnected from Bob, whose page broke the chat’s limits.',
      tone: 'bad',
    });
    expect(describeStatus({ server: 'open', peers: [bob('stopped')] }).text).toMatch(
      /^Disconnected from the other person/,
    );
  });

  it('does not count people who left', () => {
    expect(
      describeStatus({ server: 'open', peers: [ann('open', 'Direct'), bob('left')] }).text,
    ).toBe('Connected directly, peer to peer.');
    expect(
      describeStatus({
        server: 'open',
        peers: [ann('open', 'Direct'), bob('left'), cem('open', 'Direct')],
      }).text,
    ).toBe('Connected to all 2 other people: 2 directly.');
    expect(describeStatus({ server: 'open', peers: [ann('left'), bob('left')] }).text).toBe(
      'Everyone else left. Waiting for them to come back…',
    );
  });
});
