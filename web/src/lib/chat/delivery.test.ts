import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Conversation,
  MAX_KNOWN_STREAMS,
  MAX_OUTBOX_MESSAGES,
  MAX_PENDING_PINGS,
  parseFrame,
  parseSnapshot,
  type ConversationEntry,
  type ConversationSnapshot,
  type Frame,
  type Step,
} from './delivery.ts';

const wire = (frames: readonly Frame[]): string[] => frames.map((frame) => JSON.stringify(frame));
const texts = (entries: readonly ConversationEntry[], from: 'me' | 'peer'): string[] =>
  entries.filter((entry) => entry.from === from).map((entry) => entry.text);
const statuses = (conversation: Conversation): string[] =>
  conversation.entries.flatMap((entry) => (entry.from === 'me' ? [entry.status] : []));
/** A snapshot as it comes back from storage: a structured clone, validated. */
const stored = (snapshot: ConversationSnapshot): ConversationSnapshot | null =>
  parseSnapshot(structuredClone(snapshot));

/** Feeds `frames` to `to` in order; returns everything `to` answered, and whether it must save. */
function feed(to: Conversation, frames: readonly Frame[], nowMs = 0): Step {
  const out: Step = { frames: [], events: [], persist: false };
  for (const raw of wire(frames)) {
    const step = to.receive(raw, nowMs);
    out.frames.push(...step.frames);
    out.events.push(...step.events);
    out.persist ||= step.persist;
  }
  return out;
}

describe('wire frames', () => {
  const chat = {
    type: 'chat',
    id: '0123456789abcdef',
    senderId: 'fedcba9876543210',
    seq: 3,
    ackedUpTo: 2,
    text: 'hi',
    sentAt: 1_700_000_000_000,
  } as const;

  it('round-trip and drop unknown keys', () => {
    const frames: Frame[] = [
      chat,
      { type: 'ack', senderId: chat.senderId, upTo: 0 },
      { type: 'ping', id: chat.id, sentAt: 5 },
      { type: 'pong', id: chat.id },
    ];
    for (const frame of frames) expect(parseFrame(JSON.stringify(frame))).toEqual(frame);
    expect(parseFrame(JSON.stringify({ ...chat, extra: 1 }))).toEqual(chat);
  });

  it('are null, never a throw, when off-shape', () => {
    for (const raw of [
      '',
      'null',
      '[]',
      '"chat"',
      '{"type":"chat"}',
      JSON.stringify({ ...chat, seq: 0, ackedUpTo: 0 }),
      JSON.stringify({ ...chat, seq: 1.5 }),
      JSON.stringify({ ...chat, ackedUpTo: 3 }),
      JSON.stringify({ ...chat, ackedUpTo: -1 }),
      JSON.stringify({ ...chat, senderId: 'ME' }),
      JSON.stringify({ ...chat, text: '' }),
      JSON.stringify({ ...chat, text: 'x'.repeat(4001) }),
      JSON.stringify({ ...chat, sentAt: 'now' }),
      JSON.stringify({ type: 'ack', senderId: chat.senderId, upTo: -1 }),
      JSON.stringify({ type: 'ack', senderId: chat.senderId }),
      JSON.stringify({ type: 'ping', id: chat.id }),
      JSON.stringify({ type: 'pong', id: 7 }),
      JSON.stringify({ type: 'hello' }),
    ]) {
      expect(parseFrame(raw), raw).toBeNull();
    }
  });
});

describe('Conversation', () => {
  it('queues while offline, resends in order on connect, and is delivered once acked', () => {
    const alice = new Conversation();
    const bob = new Conversation();
    expect(alice.send('one', 1)?.frames).toEqual([]);
    expect(alice.send('two', 2)?.entry.status).toBe('queued');
    expect(statuses(alice)).toEqual(['queued', 'queued']);

    const resent = alice.connect().frames;
    bob.connect();
    expect(resent.map((frame) => frame.type === 'chat' && frame.seq)).toEqual([1, 2]);
    expect(statuses(alice)).toEqual(['sent', 'sent']);

    const received = feed(bob, resent, 10);
    expect(received.events.map((event) => event.type)).toEqual(['message', 'message']);
    expect(texts(bob.entries, 'peer')).toEqual(['one', 'two']);
    // No ack before the delivered messages are stored.
    expect(received.frames).toEqual([]);
    expect(received.persist).toBe(true);

    const acks = bob.saved(bob.snapshot());
    expect(acks).toEqual([{ type: 'ack', senderId: alice.senderId, upTo: 2 }]);
    const delivered = feed(alice, acks);
    expect(delivered.events).toEqual([
      { type: 'delivered', ids: alice.entries.map((entry) => entry.id) },
    ]);
    expect(statuses(alice)).toEqual(['delivered', 'delivered']);
    expect(alice.outboxSize).toBe(0);
  });

  it('refuses blank text and a full outbox, so the caller keeps the draft', () => {
    const alice = new Conversation();
    expect(alice.send('   ', 0)).toBeNull();
    for (let i = 0; i < MAX_OUTBOX_MESSAGES; i++) expect(alice.send(`m${i}`, i)).not.toBeNull();
    expect(alice.send('one too many', 0)).toBeNull();
    expect(alice.outboxSize).toBe(MAX_OUTBOX_MESSAGES);
  });

  it('drops duplicates and acks them again once stored', () => {
    const alice = new Conversation();
    const bob = new Conversation();
    alice.connect();
    bob.connect();
    const first = alice.send('once', 0)?.frames ?? [];
    feed(bob, first);
    // A duplicate before the save: nothing shown twice, and no ack yet.
    expect(feed(bob, first).frames).toEqual([]);
    const ack = { type: 'ack', senderId: alice.senderId, upTo: 1 };
    expect(bob.saved(bob.snapshot())).toEqual([ack]);
    // The ack was lost with its channel; the resend on the next one is acked at once.
    bob.disconnect();
    bob.connect();
    expect(feed(bob, alice.connect().frames).frames).toEqual([ack]);
    expect(texts(bob.entries, 'peer')).toEqual(['once']);
  });

  it('buffers a frame that comes early and delivers in seq order', () => {
    const alice = new Conversation();
    const bob = new Conversation();
    alice.connect();
    const frames = ['a', 'b', 'c'].flatMap((text) => alice.send(text, 0)?.frames ?? []);
    const [a, b, c] = frames as [Frame, Frame, Frame];
    expect(feed(bob, [c]).events).toEqual([]);
    expect(feed(bob, [a]).events).toHaveLength(1);
    expect(feed(bob, [b, c, a]).events).toHaveLength(2);
    expect(texts(bob.entries, 'peer')).toEqual(['a', 'b', 'c']);
  });

  it('survives a reload of the sender: old messages resend on their stream, new ones start another', () => {
    const alice = new Conversation();
    const bob = new Conversation();
    alice.connect();
    bob.connect();
    const early = alice.send('before reload', 0)?.frames ?? [];
    const snapshot = stored(alice.snapshot());
    // The page dies after the next message went out but before a snapshot with it was stored.
    const unsaved = alice.send('unsaved but sent', 1)?.frames ?? [];
    feed(bob, [...early, ...unsaved]);
    const reloaded = new Conversation({ snapshot });
    expect(reloaded.senderId).not.toBe(alice.senderId);
    expect(statuses(reloaded)).toEqual(['queued']);
    reloaded.send('after reload', 2);
    const resent = reloaded.connect().frames;
    expect(resent.map((frame) => frame.type === 'chat' && [frame.senderId, frame.seq])).toEqual([
      [alice.senderId, 1],
      [reloaded.senderId, 1],
    ]);
    // The old stream's seq 1 is a duplicate; the new stream cannot collide with seq 2.
    feed(bob, resent);
    expect(texts(bob.entries, 'peer')).toEqual([
      'before reload',
      'unsaved but sent',
      'after reload',
    ]);
    const acks = bob.saved(bob.snapshot());
    expect(acks).toHaveLength(2);
    feed(reloaded, acks);
    expect(reloaded.outboxSize).toBe(0);
    expect(statuses(reloaded)).toEqual(['delivered', 'delivered']);
  });

  it('survives a reload of the receiver: acked messages stay, unacked ones come again', () => {
    const alice = new Conversation();
    let bob = new Conversation();
    alice.connect();
    bob.connect();
    feed(bob, alice.send('saved', 0)?.frames ?? []);
    const snapshot = bob.snapshot();
    feed(alice, bob.saved(snapshot));
    feed(bob, alice.send('shown, not saved', 1)?.frames ?? []);
    expect(texts(bob.entries, 'peer')).toEqual(['saved', 'shown, not saved']);

    bob = new Conversation({ snapshot: stored(snapshot) });
    alice.disconnect();
    bob.connect();
    feed(bob, alice.connect().frames);
    expect(texts(bob.entries, 'peer')).toEqual(['saved', 'shown, not saved']);
  });

  it('lets a receiver that forgot the stream (memory-only storage) start at the acked floor', () => {
    const alice = new Conversation();
    const bob = new Conversation();
    alice.connect();
    bob.connect();
    feed(bob, alice.send('old', 0)?.frames ?? []);
    feed(alice, bob.saved(bob.snapshot()));
    const amnesiac = new Conversation();
    amnesiac.connect();
    const step = feed(amnesiac, alice.send('new', 1)?.frames ?? []);
    expect(step.events).toHaveLength(1);
    expect(texts(amnesiac.entries, 'peer')).toEqual(['new']);
  });

  it('forgets the least recently heard stream beyond the limit', () => {
    const bob = new Conversation();
    for (let i = 0; i <= MAX_KNOWN_STREAMS; i++) {
      const peer = new Conversation();
      peer.connect();
      feed(bob, peer.send(`from ${i}`, i)?.frames ?? []);
    }
    expect(bob.snapshot().received).toHaveLength(MAX_KNOWN_STREAMS);
  });

  it('answers pings and measures the round trip on its own clock', () => {
    const alice = new Conversation();
    const bob = new Conversation();
    expect(alice.ping(0)).toBeNull();
    alice.connect();
    bob.connect();
    const ping = alice.ping(1000);
    expect(ping).not.toBeNull();
    const pong = feed(bob, [ping as Frame], 5).frames;
    expect(pong).toEqual([{ type: 'pong', id: ping?.id }]);
    expect(feed(alice, pong, 1042).events).toEqual([{ type: 'rtt', rttMs: 42 }]);
    // The same pong again, or one for a forgotten ping, says nothing.
    expect(feed(alice, pong, 1050).events).toEqual([]);
    const pings = Array.from({ length: MAX_PENDING_PINGS + 1 }, (_, i) => alice.ping(i));
    expect(feed(alice, [{ type: 'pong', id: pings[0]?.id ?? '' }], 9).events).toEqual([]);
    expect(feed(alice, [{ type: 'pong', id: pings[1]?.id ?? '' }], 9).events).toHaveLength(1);
  });

  it('restores only well-formed snapshots', () => {
    const alice = new Conversation();
    alice.send('hi', 0);
    const snapshot = alice.snapshot();
    expect(stored(snapshot)).toEqual(snapshot);
    for (const bad of [
      null,
      'x',
      { ...snapshot, version: 2 },
      { ...snapshot, outbox: [{ id: 'x' }] },
      { ...snapshot, received: [['abc', 1]] },
      { ...snapshot, entries: [{ ...snapshot.entries[0], status: 'lost' }] },
    ]) {
      expect(parseSnapshot(bad)).toBeNull();
    }
  });
});

/**
 * Two people on a link that flaps. Each channel is reliable and ordered (RFC 8831 §6.6) but may
 * die with frames in flight; saves are asynchronous (snapshot taken, stored later) and a page may
 * reload at any time from whatever was stored last.
 */
describe('Conversation under a flapping link (property)', () => {
  type Side = 'A' | 'B';
  type Command =
    | { kind: 'send'; side: Side }
    | { kind: 'deliver'; to: Side; count: number }
    | { kind: 'save'; side: Side }
    | { kind: 'cut' }
    | { kind: 'connect' }
    | { kind: 'reload'; side: Side }
    /** A reload with memory-only storage: everything is forgotten. */
    | { kind: 'forget'; side: Side };

  const side = fc.constantFrom<Side>('A', 'B');
  const command: fc.Arbitrary<Command> = fc.oneof(
    { arbitrary: fc.record({ kind: fc.constant('send' as const), side }), weight: 4 },
    {
      arbitrary: fc.record({
        kind: fc.constant('deliver' as const),
        to: side,
        count: fc.integer({ min: 1, max: 6 }),
      }),
      weight: 4,
    },
    { arbitrary: fc.record({ kind: fc.constant('save' as const), side }), weight: 3 },
    { arbitrary: fc.record({ kind: fc.constant('cut' as const) }), weight: 1 },
    { arbitrary: fc.record({ kind: fc.constant('connect' as const) }), weight: 2 },
    { arbitrary: fc.record({ kind: fc.constant('reload' as const), side }), weight: 1 },
    { arbitrary: fc.record({ kind: fc.constant('forget' as const), side }), weight: 1 },
  );

  interface Peer {
    conversation: Conversation;
    stored: ConversationSnapshot | null;
    saving: ConversationSnapshot | null;
    dirty: boolean;
    /** Frames on their way to this peer, oldest first. */
    inbound: string[];
    /** Every text this side's `send` accepted, in order. */
    accepted: string[];
    /** Reloaded at least once without storage. */
    forgot: boolean;
  }

  function run(commands: readonly Command[]): { peers: Record<Side, Peer>; reloads: number } {
    const fresh = (): Peer => ({
      conversation: new Conversation(),
      stored: null,
      saving: null,
      dirty: false,
      inbound: [],
      accepted: [],
      forgot: false,
    });
    const peers: Record<Side, Peer> = { A: fresh(), B: fresh() };
    const other = (s: Side): Side => (s === 'A' ? 'B' : 'A');
    let connected = false;
    let counter = 0;
    let reloads = 0;
    let now = 0;

    const emit = (from: Side, step: Pick<Step, 'frames' | 'persist'>): void => {
      if (step.persist) peers[from].dirty = true;
      if (connected) peers[other(from)].inbound.push(...wire(step.frames));
    };
    const cut = (): void => {
      if (!connected) return;
      connected = false;
      for (const peer of Object.values(peers)) {
        peer.conversation.disconnect();
        peer.inbound = [];
      }
    };
    const connect = (): void => {
      if (connected) return;
      connected = true;
      for (const s of ['A', 'B'] as const) emit(s, peers[s].conversation.connect());
    };
    const save = (s: Side): void => {
      const peer = peers[s];
      if (peer.saving) {
        peer.stored = stored(peer.saving);
        emit(s, { frames: peer.conversation.saved(peer.saving), persist: false });
        peer.saving = null;
      } else if (peer.dirty) {
        peer.saving = peer.conversation.snapshot();
        peer.dirty = false;
      }
    };
    const deliver = (s: Side, count: number): void => {
      const peer = peers[s];
      for (const raw of peer.inbound.splice(0, count)) emit(s, peer.conversation.receive(raw, now));
    };

    for (const c of commands) {
      now += 1;
      switch (c.kind) {
        case 'send': {
          const text = `${c.side}#${counter++}`;
          const step = peers[c.side].conversation.send(text, now);
          if (step) peers[c.side].accepted.push(text);
          if (step) emit(c.side, step);
          break;
        }
        case 'deliver':
          deliver(c.to, c.count);
          break;
        case 'save':
          save(c.side);
          break;
        case 'cut':
          cut();
          break;
        case 'connect':
          connect();
          break;
        case 'reload':
        case 'forget': {
          cut();
          reloads += 1;
          const peer = peers[c.side];
          if (c.kind === 'forget') peer.stored = null;
          peer.forgot ||= c.kind === 'forget';
          peer.conversation = new Conversation({ snapshot: peer.stored });
          peer.saving = null;
          peer.dirty = false;
          break;
        }
      }
    }

    // The link is stable from here on.
    connect();
    for (let round = 0; round < 100; round++) {
      const busy = Object.values(peers).some((p) => p.inbound.length > 0 || p.saving || p.dirty);
      if (!busy) break;
      for (const s of ['A', 'B'] as const) {
        save(s);
        save(s);
        deliver(s, Infinity);
      }
    }
    return { peers, reloads };
  }

  const order = (text: string): number => Number(text.split('#')[1]);

  it('loses nothing, doubles nothing and keeps order', () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 200, size: 'max' }), (commands) => {
        const { peers, reloads } = run(commands);
        for (const [from, to] of [
          ['A', 'B'],
          ['B', 'A'],
        ] as const) {
          const sender = peers[from];
          const got = texts(peers[to].conversation.entries, 'peer');
          const mine = texts(sender.conversation.entries, 'me');
          // No duplicates, and in the order they were written. Order has one exception: a
          // receiver that lost its storage (memory-only mode, then a reload) cannot place a message
          // that a sender, reloaded from an older save, resends after newer ones already arrived
          // (found by this property, seed 398916074): it has no record left to order by.
          expect(new Set(got).size).toBe(got.length);
          if (!peers[to].forgot) {
            expect(got.map(order)).toEqual([...got.map(order)].sort((x, y) => x - y));
          }
          // Nothing the sender still knows about is missing (unless the receiver lost its
          // storage), and nothing is made up.
          if (!peers[to].forgot) expect(got).toEqual(expect.arrayContaining(mine));
          expect(sender.accepted).toEqual(expect.arrayContaining(got));
          // Nothing waits forever, even for a receiver that lost its storage.
          // Without reloads nothing is at risk: exactly what was sent, in order.
          if (reloads === 0) expect(got).toEqual(sender.accepted);
          expect(sender.conversation.outboxSize).toBe(0);
          expect(statuses(sender.conversation).every((s) => s === 'delivered')).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('delivers exactly once whatever the network reorders, duplicates or drops', () => {
    type Chaos =
      | { kind: 'send' }
      | { kind: 'deliver'; to: Side; pick: number; keep: boolean }
      | { kind: 'drop'; to: Side; pick: number }
      | { kind: 'flap' };
    const chaos: fc.Arbitrary<Chaos> = fc.oneof(
      { arbitrary: fc.constant({ kind: 'send' as const }), weight: 3 },
      {
        arbitrary: fc.record({
          kind: fc.constant('deliver' as const),
          to: side,
          pick: fc.nat(),
          keep: fc.boolean(),
        }),
        weight: 6,
      },
      {
        arbitrary: fc.record({ kind: fc.constant('drop' as const), to: side, pick: fc.nat() }),
        weight: 2,
      },
      { arbitrary: fc.constant({ kind: 'flap' as const }), weight: 1 },
    );
    fc.assert(
      fc.property(fc.array(chaos, { maxLength: 200, size: 'max' }), (commands) => {
        const alice = new Conversation();
        const bob = new Conversation();
        const bags: Record<Side, string[]> = { A: [], B: [] };
        const sent: string[] = [];
        const handle = (to: Side, raw: string): void => {
          const receiver = to === 'A' ? alice : bob;
          const step = receiver.receive(raw, 0);
          // Saves are instant here; the other property covers asynchronous ones.
          const acks = step.persist ? receiver.saved(receiver.snapshot()) : [];
          bags[to === 'A' ? 'B' : 'A'].push(...wire([...step.frames, ...acks]));
        };
        alice.connect();
        bob.connect();
        for (const c of commands) {
          if (c.kind === 'send') {
            const text = `A#${sent.length}`;
            sent.push(text);
            bags.B.push(...wire(alice.send(text, 0)?.frames ?? []));
          } else if (c.kind === 'flap') {
            // Frames of the old channel stay in the bag: they may still turn up, late.
            alice.disconnect();
            bob.disconnect();
            bob.connect();
            bags.B.push(...wire(alice.connect().frames));
          } else if (bags[c.to].length > 0) {
            const index = c.pick % bags[c.to].length;
            const raw = bags[c.to][index] as string;
            if (c.kind === 'drop' || !c.keep) bags[c.to].splice(index, 1);
            if (c.kind === 'deliver') handle(c.to, raw);
          }
        }
        // Stable: a fresh channel, in order, until quiet.
        bags.A = [];
        bags.B = [];
        alice.disconnect();
        alice.connect();
        bob.disconnect();
        bags.B.push(...wire([...bob.connect().frames, ...alice.connect().frames]));
        while (bags.A.length + bags.B.length > 0) {
          for (const to of ['A', 'B'] as const) {
            for (const raw of bags[to].splice(0)) handle(to, raw);
          }
        }
        expect(texts(bob.entries, 'peer')).toEqual(sent);
        expect(alice.outboxSize).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});
