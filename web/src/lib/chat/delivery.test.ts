import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Conversation,
  heldBytes,
  MAX_EARLY_PER_STREAM,
  MAX_HELD_BYTES_PER_PEER,
  MAX_KNOWN_STREAMS,
  MAX_REFUSED_FRAMES,
  MAX_STREAMS_PER_PEER,
  MAX_OUTBOX_MESSAGES,
  MAX_PENDING_PINGS,
  parseFrame,
  parseSnapshot,
  type ChatFrame,
  type ConversationOptions,
  type ConversationSnapshot,
  type Frame,
  type Outgoing,
  type ReceivedEntry,
  type SentEntry,
  type Step,
} from './delivery.ts';
import { defaultName } from './names.ts';

// Peer ids as the signaling server assigns them; the first four hex digits make the default name.
const ALICE = 'pa11c000000000001';
const BOB = 'pb0b0000000000002';
const CAROL = 'pca70000000000003';
const DAVE = 'pda7e000000000004';

/** One person in a room: their peer id and their side of the chat. */
interface Person {
  id: string;
  chat: Conversation;
}
const person = (id: string, options?: ConversationOptions): Person => ({
  id,
  chat: new Conversation(options),
});

const mine = (person: Person): SentEntry[] =>
  person.chat.entries.filter((entry): entry is SentEntry => 'status' in entry);
const theirs = (person: Person): ReceivedEntry[] =>
  person.chat.entries.filter((entry): entry is ReceivedEntry => !('status' in entry));
const statuses = (person: Person): string[] => mine(person).map((entry) => entry.status);
/** Texts `person` shows from others, oldest first. */
const shown = (person: Person): string[] => theirs(person).map((entry) => entry.text);
/** The chat frames among `frames`, as `[to, senderId, seq, ackedUpTo]`. */
const chats = (frames: readonly Outgoing[]): [string, string, number, number][] =>
  frames.flatMap(({ to, frame }) =>
    frame.type === 'chat' ? [[to, frame.senderId, frame.seq, frame.ackedUpTo]] : [],
  );
/** A snapshot as it comes back from storage: a structured clone, validated. */
const stored = (snapshot: ConversationSnapshot): ConversationSnapshot | null =>
  parseSnapshot(structuredClone(snapshot));
const ack = (to: string, senderId: string, upTo: number): Outgoing => ({
  to,
  frame: { type: 'ack', senderId, upTo },
});

/**
 * Delivers the frames among `frames` that are addressed to `to`, in order, as coming from `from`;
 * returns everything `to` answered, and whether it must save.
 */
function feed(to: Person, from: Person, frames: readonly Outgoing[], nowMs = 0): Step {
  const out: Step = { frames: [], events: [], persist: false };
  for (const outgoing of frames) {
    if (outgoing.to !== to.id) continue;
    const step = to.chat.receive(from.id, JSON.stringify(outgoing.frame), nowMs);
    out.frames.push(...step.frames);
    out.events.push(...step.events);
    out.persist ||= step.persist;
  }
  return out;
}

/**
 * Opens the channel between `a` and `b` and delivers what each side writes first, both ways:
 * `wroteA` is what `a` wrote, `atB` what that did at `b` (whose answers are not delivered).
 */
function link(
  a: Person,
  b: Person,
  nowMs = 0,
): { wroteA: Outgoing[]; wroteB: Outgoing[]; atA: Step; atB: Step } {
  const wroteA = a.chat.connect(b.id).frames;
  const wroteB = b.chat.connect(a.id).frames;
  return { wroteA, wroteB, atA: feed(a, b, wroteB, nowMs), atB: feed(b, a, wroteA, nowMs) };
}

/** `person` stores its current state; returns the acknowledgements that makes possible. */
const save = (person: Person): Outgoing[] => person.chat.saved(person.chat.snapshot());

/** Sends `text` from `from` to `recipients` (peer ids) and returns the frames, never `null`. */
function send(from: Person, text: string, recipients: readonly Person[], nowMs = 0): Outgoing[] {
  const step = from.chat.send(
    text,
    nowMs,
    recipients.map((r) => r.id),
  );
  expect(step, text).not.toBeNull();
  return step?.frames ?? [];
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
      { type: 'name', name: 'Ada Lovelace' },
      { type: 'name', name: '' },
    ];
    for (const frame of frames) expect(parseFrame(JSON.stringify(frame))).toEqual(frame);
    expect(parseFrame(JSON.stringify({ ...chat, extra: 1 }))).toEqual(chat);
    expect(parseFrame(JSON.stringify({ type: 'name', name: 'x', to: BOB }))).toEqual({
      type: 'name',
      name: 'x',
    });
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
      JSON.stringify({ ...chat, text: { nested: [1] } }),
      JSON.stringify({ type: 'ack', senderId: chat.senderId, upTo: -1 }),
      JSON.stringify({ type: 'ack', senderId: chat.senderId }),
      JSON.stringify({ type: 'ping', id: chat.id }),
      JSON.stringify({ type: 'pong', id: 7 }),
      JSON.stringify({ type: 'name' }),
      JSON.stringify({ type: 'name', name: 7 }),
      // Names must already be normalized (names.ts): the receiver does not repair them.
      JSON.stringify({ type: 'name', name: ' Ada' }),
      JSON.stringify({ type: 'name', name: 'Ada\u202eecilA' }),
      JSON.stringify({ type: 'name', name: 'x'.repeat(41) }),
      JSON.stringify({ type: 'hello' }),
    ]) {
      expect(parseFrame(raw), raw).toBeNull();
    }
  });
});

describe('Conversation, two people (a room with one recipient)', () => {
  it('queues while offline, resends in order on connect, and is delivered once acked', () => {
    const alice = person(ALICE);
    const bob = person(BOB);
    expect(alice.chat.send('one', 1, [BOB])?.frames).toEqual([]);
    expect(alice.chat.send('two', 2, [BOB])?.entry).toMatchObject({
      status: 'queued',
      recipients: 1,
      delivered: 0,
    });
    expect(statuses(alice)).toEqual(['queued', 'queued']);
    expect(alice.chat.waitingFor(BOB)).toBe(2);

    const resent = alice.chat.connect(BOB).frames;
    bob.chat.connect(ALICE);
    expect(chats(resent)).toEqual([
      [BOB, alice.chat.senderId, 1, 0],
      [BOB, alice.chat.senderId, 2, 0],
    ]);
    expect(statuses(alice)).toEqual(['sent', 'sent']);

    const received = feed(bob, alice, resent, 10);
    // Alice's name comes first (she has not set one: `''`), then her messages.
    expect(received.events.map((event) => event.type)).toEqual(['name', 'message', 'message']);
    expect(shown(bob)).toEqual(['one', 'two']);
    expect(theirs(bob).map((entry) => [entry.from, entry.at])).toEqual([
      [ALICE, 10],
      [ALICE, 10],
    ]);
    // No ack before the delivered messages are stored.
    expect(received.frames).toEqual([]);
    expect(received.persist).toBe(true);

    const acks = save(bob);
    expect(acks).toEqual([ack(ALICE, alice.chat.senderId, 2)]);
    const delivered = feed(alice, bob, acks);
    expect(delivered.events).toEqual([
      { type: 'delivered', ids: alice.chat.entries.map((entry) => entry.id) },
    ]);
    expect(delivered.persist).toBe(true);
    expect(mine(alice).map((entry) => [entry.status, entry.delivered])).toEqual([
      ['delivered', 1],
      ['delivered', 1],
    ]);
    expect(alice.chat.outboxSize).toBe(0);
    expect(alice.chat.waitingFor(BOB)).toBe(0);
    // Stored again, nothing new to acknowledge.
    expect(save(bob)).toEqual([]);
  });

  it('refuses blank text, no recipients and a full outbox, so the caller keeps the draft', () => {
    const alice = person(ALICE);
    expect(alice.chat.send('   ', 0, [BOB])).toBeNull();
    expect(alice.chat.send('x'.repeat(4001), 0, [BOB])).toBeNull();
    expect(alice.chat.send('alone', 0, [])).toBeNull();
    expect(alice.chat.send('not a peer id', 0, ['bob'])).toBeNull();
    expect(alice.chat.entries).toEqual([]);
    for (let i = 0; i < MAX_OUTBOX_MESSAGES; i++) {
      expect(alice.chat.send(`m${i}`, i, [BOB])).not.toBeNull();
    }
    expect(alice.chat.send('one too many', 0, [BOB])).toBeNull();
    expect(alice.chat.outboxSize).toBe(MAX_OUTBOX_MESSAGES);
  });

  it('drops duplicates and acks them again once stored', () => {
    const alice = person(ALICE);
    const bob = person(BOB);
    link(alice, bob);
    const first = send(alice, 'once', [bob]);
    feed(bob, alice, first);
    // A duplicate before the save: nothing shown twice, and no ack yet.
    expect(feed(bob, alice, first).frames).toEqual([]);
    expect(save(bob)).toEqual([ack(ALICE, alice.chat.senderId, 1)]);
    // The ack was lost with its channel; the resend on the next one is acked at once.
    bob.chat.disconnect(ALICE);
    alice.chat.disconnect(BOB);
    bob.chat.connect(ALICE);
    expect(feed(bob, alice, alice.chat.connect(BOB).frames).frames).toEqual([
      ack(ALICE, alice.chat.senderId, 1),
    ]);
    expect(shown(bob)).toEqual(['once']);
  });

  it('buffers a frame that comes early and delivers in seq order', () => {
    const alice = person(ALICE);
    const bob = person(BOB);
    alice.chat.connect(BOB);
    const frames = ['a', 'b', 'c'].flatMap((text) => send(alice, text, [bob]));
    const [a, b, c] = frames.map((frame) => [frame]) as [Outgoing[], Outgoing[], Outgoing[]];
    expect(feed(bob, alice, c).events).toEqual([]);
    expect(feed(bob, alice, a).events).toHaveLength(1);
    expect(feed(bob, alice, [...b, ...c, ...a]).events).toHaveLength(2);
    expect(shown(bob)).toEqual(['a', 'b', 'c']);
  });

  it('survives a reload of the sender: old messages resend on their stream, new ones start another', () => {
    const alice = person(ALICE);
    const bob = person(BOB);
    link(alice, bob);
    const early = send(alice, 'before reload', [bob]);
    const snapshot = stored(alice.chat.snapshot());
    // The page dies after the next message went out but before a snapshot with it was stored.
    const unsaved = send(alice, 'unsaved but sent', [bob], 1);
    feed(bob, alice, [...early, ...unsaved]);
    bob.chat.disconnect(ALICE);

    const reloaded = person(ALICE, { snapshot });
    expect(reloaded.chat.senderId).not.toBe(alice.chat.senderId);
    expect(statuses(reloaded)).toEqual(['queued']);
    send(reloaded, 'after reload', [bob], 2);
    const resent = reloaded.chat.connect(BOB).frames;
    expect(chats(resent)).toEqual([
      [BOB, alice.chat.senderId, 1, 0],
      [BOB, reloaded.chat.senderId, 1, 0],
    ]);
    // The old stream's seq 1 is a duplicate; the new stream cannot collide with seq 2.
    bob.chat.connect(ALICE);
    feed(bob, reloaded, resent);
    expect(shown(bob)).toEqual(['before reload', 'unsaved but sent', 'after reload']);
    const acks = save(bob);
    expect(acks).toHaveLength(2);
    feed(reloaded, bob, acks);
    expect(reloaded.chat.outboxSize).toBe(0);
    expect(statuses(reloaded)).toEqual(['delivered', 'delivered']);
  });

  it('survives a reload of the receiver: acked messages stay, unacked ones come again', () => {
    const alice = person(ALICE);
    let bob = person(BOB);
    link(alice, bob);
    feed(bob, alice, send(alice, 'saved', [bob]));
    const snapshot = bob.chat.snapshot();
    feed(alice, bob, bob.chat.saved(snapshot));
    feed(bob, alice, send(alice, 'shown, not saved', [bob], 1));
    expect(shown(bob)).toEqual(['saved', 'shown, not saved']);

    bob = person(BOB, { snapshot: stored(snapshot) });
    expect(shown(bob)).toEqual(['saved']);
    alice.chat.disconnect(BOB);
    link(alice, bob);
    expect(shown(bob)).toEqual(['saved', 'shown, not saved']);
    feed(alice, bob, save(bob));
    expect(alice.chat.outboxSize).toBe(0);
  });

  it('lets a receiver that forgot the stream (memory-only storage) start at the acked floor', () => {
    const alice = person(ALICE);
    const bob = person(BOB);
    link(alice, bob);
    feed(bob, alice, send(alice, 'old', [bob]));
    feed(alice, bob, save(bob));
    const amnesiac = person(BOB);
    alice.chat.disconnect(BOB);
    link(alice, amnesiac);
    const frames = send(alice, 'new', [amnesiac], 1);
    expect(chats(frames)).toEqual([[BOB, alice.chat.senderId, 2, 1]]);
    expect(feed(amnesiac, alice, frames).events).toHaveLength(1);
    expect(shown(amnesiac)).toEqual(['new']);
  });

  it("forgets a peer's least recently heard stream beyond its own limit, never another's", () => {
    const bob = person(BOB);
    const carol = person(CAROL);
    carol.chat.connect(BOB);
    feed(bob, carol, send(carol, 'from carol', [bob]));
    const streams: string[] = [];
    // Alice reloads over and over: a new stream each time.
    for (let i = 0; i <= MAX_STREAMS_PER_PEER; i++) {
      const alice = person(ALICE);
      alice.chat.connect(BOB);
      streams.push(alice.chat.senderId);
      feed(bob, alice, send(alice, `from ${i}`, [bob], i));
    }
    const received = bob.chat.snapshot().received;
    expect(received.filter(([peer]) => peer === ALICE).map(([, id]) => id)).toEqual(
      streams.slice(1),
    );
    expect(received).toContainEqual([CAROL, carol.chat.senderId, 1]);
  });

  it('forgets the least recently heard stream of anyone beyond the room-wide limit', () => {
    const bob = person(BOB);
    const peers = Array.from(
      { length: MAX_KNOWN_STREAMS / MAX_STREAMS_PER_PEER + 1 },
      (_, i) => `p${i.toString(16).padStart(16, '0')}`,
    );
    for (const id of peers) {
      for (let i = 0; i < MAX_STREAMS_PER_PEER; i++) {
        const sender = person(id);
        sender.chat.connect(BOB);
        feed(bob, sender, send(sender, `${id} ${i}`, [bob]));
      }
    }
    const received = bob.chat.snapshot().received;
    expect(received).toHaveLength(MAX_KNOWN_STREAMS);
    expect(received.some(([peer]) => peer === peers[0])).toBe(false);
  });

  it('answers pings and measures the round trip per peer on its own clock', () => {
    const alice = person(ALICE);
    const bob = person(BOB);
    const carol = person(CAROL);
    expect(alice.chat.ping(BOB, 0)).toBeNull();
    link(alice, bob);
    link(alice, carol);
    const ping = alice.chat.ping(BOB, 1000);
    expect(ping).toMatchObject({ type: 'ping', sentAt: 1000 });
    const pong = feed(bob, alice, [{ to: BOB, frame: ping as Frame }], 5).frames;
    expect(pong).toEqual([{ to: ALICE, frame: { type: 'pong', id: ping?.id } }]);
    // Bob's pong coming from Carol says nothing: pings are per peer.
    expect(feed(alice, carol, pong, 1010).events).toEqual([]);
    expect(feed(alice, bob, pong, 1042).events).toEqual([{ type: 'rtt', peer: BOB, rttMs: 42 }]);
    // The same pong again, or one for a forgotten ping, says nothing.
    expect(feed(alice, bob, pong, 1050).events).toEqual([]);
    const pings = Array.from({ length: MAX_PENDING_PINGS + 1 }, (_, i) => alice.chat.ping(BOB, i));
    const pongFor = (id: string | undefined): Outgoing[] => [
      { to: ALICE, frame: { type: 'pong', id: id ?? '' } },
    ];
    expect(feed(alice, bob, pongFor(pings[0]?.id), 9).events).toEqual([]);
    expect(feed(alice, bob, pongFor(pings[1]?.id), 9).events).toHaveLength(1);
    // A clock that stepped backwards gives no sample.
    expect(feed(alice, bob, pongFor(pings[2]?.id), 0).events).toEqual([]);
    // A closed channel forgets its pings; a peer that is not connected gets no pong.
    const lost = alice.chat.ping(BOB, 100);
    alice.chat.disconnect(BOB);
    alice.chat.connect(BOB);
    expect(feed(alice, bob, pongFor(lost?.id), 120).events).toEqual([]);
    bob.chat.disconnect(ALICE);
    expect(
      feed(bob, alice, [{ to: BOB, frame: alice.chat.ping(BOB, 130) as Frame }]).frames,
    ).toEqual([]);
    expect(alice.chat.lastHeardAt(BOB)).toBe(120);
    expect(alice.chat.lastHeardAt(DAVE)).toBeNull();
  });

  it('restores only well-formed snapshots of this version', () => {
    const alice = person(ALICE, { name: 'Alice' });
    const bob = person(BOB);
    const carol = person(CAROL);
    link(alice, bob);
    bob.chat.setName('Bob');
    feed(alice, bob, [{ to: ALICE, frame: { type: 'name', name: 'Bob' } }]);
    send(alice, 'hi both', [bob, carol]);
    feed(alice, bob, send(bob, 'hi alice', [alice]));
    const snapshot = alice.chat.snapshot();
    expect(stored(snapshot)).toEqual(snapshot);
    expect(snapshot.entries).toHaveLength(2);
    const [sentEntry, receivedEntry] = snapshot.entries as [SentEntry, ReceivedEntry];
    const [pending] = snapshot.outbox as [ConversationSnapshot['outbox'][number]];
    const v1 = {
      version: 1,
      outbox: [{ id: pending.id, senderId: pending.senderId, seq: 1, text: 'hi', sentAt: 0 }],
      received: [[bob.chat.senderId, 1]],
      entries: [{ id: pending.id, from: 'me', text: 'hi', at: 0, status: 'queued' }],
    };
    for (const bad of [
      null,
      'x',
      v1,
      { ...snapshot, version: 1 },
      { ...snapshot, version: 3 },
      { ...snapshot, names: undefined },
      { ...snapshot, outbox: [{ id: 'x' }] },
      { ...snapshot, outbox: [{ ...pending, to: [] }] },
      { ...snapshot, outbox: [{ ...pending, to: [{ peer: 'bob', seq: 1 }] }] },
      { ...snapshot, outbox: [{ ...pending, to: [{ peer: BOB, seq: 0 }] }] },
      { ...snapshot, received: [['abc', 1]] },
      { ...snapshot, received: [[bob.chat.senderId, 1]] },
      { ...snapshot, received: [['bob', bob.chat.senderId, 1]] },
      { ...snapshot, received: [[BOB, bob.chat.senderId, -1]] },
      { ...snapshot, names: [[BOB]] },
      { ...snapshot, names: [[BOB, ' Bob ']] },
      { ...snapshot, names: [['bob', 'Bob']] },
      { ...snapshot, entries: [{ ...sentEntry, status: 'lost' }] },
      { ...snapshot, entries: [{ ...sentEntry, recipients: 0, delivered: 0 }] },
      { ...snapshot, entries: [{ ...sentEntry, delivered: 3 }] },
      { ...snapshot, entries: [{ ...receivedEntry, name: undefined }] },
      { ...snapshot, entries: [{ ...receivedEntry, from: 'peer' }] },
    ]) {
      expect(parseSnapshot(bad), JSON.stringify(bad)).toBeNull();
    }
  });
});

describe('Conversation, group rules (issue #10)', () => {
  it('sends to the people in the room at send time, each on a stream of its own', () => {
    const alice = person(ALICE);
    const bob = person(BOB);
    const carol = person(CAROL);
    link(alice, bob);
    feed(bob, alice, send(alice, 'before carol', [bob]));
    // Carol joins: she does not get what was said before, and her stream starts at 1, so she
    // never waits for a seq that was not meant for her.
    expect(chats(link(alice, carol).wroteA)).toEqual([]);
    const frames = send(alice, 'to both', [bob, carol]);
    expect(chats(frames)).toEqual([
      [BOB, alice.chat.senderId, 2, 0],
      [CAROL, alice.chat.senderId, 1, 0],
    ]);
    // The same message, id and all, to each.
    expect(new Set(frames.map(({ frame }) => frame.type === 'chat' && frame.id)).size).toBe(1);
    expect(feed(carol, alice, frames).events).toHaveLength(1);
    feed(bob, alice, frames);
    expect(shown(carol)).toEqual(['to both']);
    expect(shown(bob)).toEqual(['before carol', 'to both']);
    // Bob leaves; what follows is Carol's alone, and Bob does not wait for it when he is back.
    alice.chat.disconnect(BOB);
    bob.chat.disconnect(ALICE);
    feed(carol, alice, send(alice, 'bob is away', [carol]));
    // Bob stored what he had while away; he acks it when it is resent on the new channel.
    expect(save(bob)).toEqual([]);
    feed(alice, bob, link(alice, bob).atB.frames);
    const back = send(alice, 'welcome back', [bob, carol]);
    expect(chats(back)).toEqual([
      [BOB, alice.chat.senderId, 3, 2],
      [CAROL, alice.chat.senderId, 3, 0],
    ]);
    feed(bob, alice, back);
    feed(carol, alice, back);
    expect(shown(bob)).toEqual(['before carol', 'to both', 'welcome back']);
    expect(shown(carol)).toEqual(['to both', 'bob is away', 'welcome back']);
  });

  it('counts "delivered to k of n" and says delivered once everyone has it', () => {
    const alice = person(ALICE);
    const bob = person(BOB);
    const carol = person(CAROL);
    const dave = person(DAVE);
    link(alice, bob);
    link(alice, carol);
    // Dave is in the room, but his channel is not open yet.
    const step = alice.chat.send('hello all', 0, [BOB, CAROL, DAVE]);
    expect(step?.entry).toMatchObject({ status: 'queued', recipients: 3, delivered: 0 });
    expect(step?.frames.map((frame) => frame.to)).toEqual([BOB, CAROL]);
    const frames = step?.frames ?? [];
    feed(bob, alice, frames);
    feed(carol, alice, frames);

    expect(feed(alice, bob, save(bob)).events).toEqual([]);
    expect(mine(alice)[0]).toMatchObject({ status: 'queued', recipients: 3, delivered: 1 });
    const atDave = link(alice, dave).atB;
    expect(mine(alice)[0]).toMatchObject({ status: 'sent', delivered: 1 });
    expect(atDave.events.filter((event) => event.type === 'message')).toHaveLength(1);
    feed(alice, dave, save(dave));
    expect(mine(alice)[0]).toMatchObject({ status: 'sent', delivered: 2 });
    // Carol stores it, but her channel closes with the ack in flight: queued again until it opens.
    expect(save(carol)).toHaveLength(1);
    alice.chat.disconnect(CAROL);
    carol.chat.disconnect(ALICE);
    expect(mine(alice)[0]).toMatchObject({ status: 'queued', delivered: 2 });
    expect(alice.chat.waitingFor(CAROL)).toBe(1);
    const atCarol = link(alice, carol).atB;
    // Carol has it already (stored): not shown twice, and acked at once.
    expect(atCarol.events).toEqual([]);
    expect(atCarol.frames).toEqual([ack(ALICE, alice.chat.senderId, 1)]);
    feed(alice, carol, atCarol.frames);
    const done = mine(alice)[0];
    expect(done).toMatchObject({ status: 'delivered', recipients: 3, delivered: 3 });
    expect(alice.chat.outboxSize).toBe(0);
    expect(shown(carol)).toEqual(['hello all']);
  });

  it('gives a recipient that left and came back what it lacked, and only that', () => {
    const alice = person(ALICE);
    const bob = person(BOB);
    let carol = person(CAROL);
    link(alice, bob);
    link(alice, carol);
    const saved = stored(carol.chat.snapshot());
    const first = send(alice, 'one', [bob, carol]);
    feed(bob, alice, first);
    // Carol's page dies with the frame in flight, and she comes back after a while (same peer id).
    alice.chat.disconnect(CAROL);
    feed(bob, alice, send(alice, 'carol is away', [bob]));
    feed(alice, bob, save(bob));
    expect(mine(alice).map((entry) => entry.status)).toEqual(['queued', 'delivered']);
    carol = person(CAROL, { snapshot: saved });
    expect(link(alice, carol).atB.events).toHaveLength(1);
    expect(shown(carol)).toEqual(['one']);
    feed(alice, carol, save(carol));
    expect(alice.chat.outboxSize).toBe(0);
    expect(statuses(alice)).toEqual(['delivered', 'delivered']);
  });

  it('lets a peer acknowledge only its own place in a message', () => {
    const alice = person(ALICE);
    const bob = person(BOB);
    const carol = person(CAROL);
    link(alice, bob);
    link(alice, carol);
    send(alice, 'one', [bob, carol]);
    send(alice, 'two', [bob]);
    // Carol acks far past her stream; it completes her slot only, never Bob's.
    expect(feed(alice, carol, [ack(ALICE, alice.chat.senderId, 99)]).events).toEqual([]);
    expect(mine(alice).map((entry) => [entry.status, entry.delivered])).toEqual([
      ['sent', 1],
      ['sent', 0],
    ]);
    expect(alice.chat.waitingFor(BOB)).toBe(2);
    // The same ack again, or from someone who never got it, changes nothing.
    expect(feed(alice, carol, [ack(ALICE, alice.chat.senderId, 99)])).toEqual({
      frames: [],
      events: [],
      persist: false,
    });
    const dave = person(DAVE);
    expect(feed(alice, dave, [ack(ALICE, alice.chat.senderId, 99)]).persist).toBe(false);
    // An ack of another stream (not mine) does nothing either.
    expect(feed(alice, bob, [ack(ALICE, bob.chat.senderId, 99)]).persist).toBe(false);
    expect(feed(alice, bob, [ack(ALICE, alice.chat.senderId, 1)]).events).toHaveLength(1);
    expect(mine(alice).map((entry) => [entry.status, entry.delivered])).toEqual([
      ['delivered', 2],
      ['sent', 0],
    ]);
  });

  it('keeps streams per sending peer: a replayed senderId cannot fill or forge another stream', () => {
    const alice = person(ALICE);
    const bob = person(BOB);
    const carol = person(CAROL);
    link(alice, bob);
    link(alice, carol);
    const [one, two] = ['one', 'two'].map((text) => send(bob, text, [alice])) as [
      Outgoing[],
      Outgoing[],
    ];
    // Bob's seq 2 comes early; Carol sends seq 1 of Bob's stream with her own text.
    feed(alice, bob, two);
    const forged = {
      ...((one[0] as Outgoing).frame as ChatFrame),
      id: '00000000000000ff',
      text: 'forged',
    };
    feed(alice, carol, [{ to: ALICE, frame: forged }]);
    // Shown as Carol's line (it is hers), and Bob's seq 2 still waits for Bob's seq 1.
    expect(theirs(alice).map((entry) => [entry.from, entry.text])).toEqual([[CAROL, 'forged']]);
    feed(alice, bob, one);
    expect(theirs(alice).map((entry) => [entry.from, entry.text])).toEqual([
      [CAROL, 'forged'],
      [BOB, 'one'],
      [BOB, 'two'],
    ]);
    // Each stream is acknowledged to the peer that sent it.
    expect(save(alice)).toEqual([ack(CAROL, bob.chat.senderId, 1), ack(BOB, bob.chat.senderId, 2)]);
  });

  it('sends my name first on every channel and to everyone connected when it changes', () => {
    const alice = person(ALICE, { name: '  Alice\u202e  ' });
    const bob = person(BOB);
    send(alice, 'queued', [bob]);
    const opened = alice.chat.connect(BOB).frames;
    expect(opened[0]).toEqual({ to: BOB, frame: { type: 'name', name: 'Alice' } });
    expect(chats(opened)).toHaveLength(1);
    expect(bob.chat.connect(ALICE).frames).toEqual([
      { to: ALICE, frame: { type: 'name', name: '' } },
    ]);
    alice.chat.connect(CAROL);
    expect(alice.chat.setName(' Alice ')).toBeNull();
    const renamed = alice.chat.setName('Ada\n Lovelace');
    expect(renamed).toEqual({
      frames: [
        { to: BOB, frame: { type: 'name', name: 'Ada Lovelace' } },
        { to: CAROL, frame: { type: 'name', name: 'Ada Lovelace' } },
      ],
      events: [],
      persist: false,
    });
    alice.chat.disconnect(CAROL);
    expect(alice.chat.setName('')?.frames).toEqual([
      { to: BOB, frame: { type: 'name', name: '' } },
    ]);
  });

  it('shows each line with the sender’s name at the time, and remembers names across a reload', () => {
    const alice = person(ALICE);
    const bob = person(BOB);
    link(alice, bob);
    expect(alice.chat.nameOf(BOB)).toBe('');
    expect(alice.chat.nameOf(CAROL)).toBeUndefined();
    feed(alice, bob, send(bob, 'as a guest', [alice]));
    const renamed = feed(alice, bob, bob.chat.setName('Bob')?.frames ?? []);
    expect(renamed.events).toEqual([{ type: 'name', peer: BOB, name: 'Bob' }]);
    expect(renamed.persist).toBe(true);
    // The same name again is no news.
    expect(feed(alice, bob, [{ to: ALICE, frame: { type: 'name', name: 'Bob' } }])).toEqual({
      frames: [],
      events: [],
      persist: false,
    });
    feed(alice, bob, send(bob, 'with a name', [alice]));
    expect(theirs(alice).map((entry) => [entry.name, entry.text])).toEqual([
      [defaultName(BOB), 'as a guest'],
      ['Bob', 'with a name'],
    ]);
    expect(defaultName(BOB)).toBe('Guest B0B0');

    const snapshot = alice.chat.snapshot();
    expect(snapshot.names).toEqual([[BOB, 'Bob']]);
    const reloaded = person(ALICE, { snapshot: stored(snapshot) });
    expect(reloaded.chat.nameOf(BOB)).toBe('Bob');
    expect(theirs(reloaded).map((entry) => entry.name)).toEqual([defaultName(BOB), 'Bob']);
    // A name back to "not set" shows the default on new lines.
    feed(reloaded, bob, [{ to: ALICE, frame: { type: 'name', name: '' } }]);
    bob.chat.disconnect(ALICE);
    bob.chat.connect(ALICE);
    reloaded.chat.connect(BOB);
    feed(reloaded, bob, send(bob, 'guest again', [alice]));
    expect(theirs(reloaded).at(-1)?.name).toBe(defaultName(BOB));
  });
});

/**
 * A room of 3–5 people, full mesh: each pair has its own channel, reliable and ordered while up
 * (RFC 8831 §6.6), whose frames in flight are lost when it goes down. People leave and come back
 * (same peer id), channels flap and are re-signalled, saves are asynchronous (a snapshot is taken,
 * and stored some steps later, then `saved` is called), and a page may reload at any time from
 * whatever was stored last (or, with memory-only storage, from nothing).
 */
describe('Conversation in a group room (property)', () => {
  const MAX_MEMBERS = 5;
  const ids = Array.from(
    { length: MAX_MEMBERS },
    (_, i) => `p${(0xc0de + i).toString(16)}${'0'.repeat(12)}`,
  );
  const NAMES = ['', 'Ada', 'Grace', 'Edsger'];

  type Command =
    | { kind: 'send'; from: number }
    | { kind: 'deliver'; from: number; to: number; count: number }
    | { kind: 'save'; who: number }
    | { kind: 'up'; a: number; b: number }
    | { kind: 'down'; a: number; b: number }
    /** Signaling-style reconnect: every channel of `who` closes and is negotiated again. */
    | { kind: 'reconnect'; who: number }
    | { kind: 'leave'; who: number }
    | { kind: 'join'; who: number }
    /** The page reloads; a save in progress may or may not have reached storage. */
    | { kind: 'reload'; who: number; landed: boolean }
    /** A reload with memory-only storage (issue #4's fallback): everything is forgotten. */
    | { kind: 'forget'; who: number }
    | { kind: 'name'; who: number; name: number };

  const member = fc.nat(MAX_MEMBERS - 1);
  const command: fc.Arbitrary<Command> = fc.oneof(
    { arbitrary: fc.record({ kind: fc.constant('send' as const), from: member }), weight: 5 },
    {
      arbitrary: fc.record({
        kind: fc.constant('deliver' as const),
        from: member,
        to: member,
        count: fc.integer({ min: 1, max: 6 }),
      }),
      weight: 8,
    },
    { arbitrary: fc.record({ kind: fc.constant('save' as const), who: member }), weight: 5 },
    { arbitrary: fc.record({ kind: fc.constant('up' as const), a: member, b: member }), weight: 3 },
    {
      arbitrary: fc.record({ kind: fc.constant('down' as const), a: member, b: member }),
      weight: 1,
    },
    { arbitrary: fc.record({ kind: fc.constant('reconnect' as const), who: member }), weight: 1 },
    { arbitrary: fc.record({ kind: fc.constant('leave' as const), who: member }), weight: 1 },
    { arbitrary: fc.record({ kind: fc.constant('join' as const), who: member }), weight: 2 },
    {
      arbitrary: fc.record({
        kind: fc.constant('reload' as const),
        who: member,
        landed: fc.boolean(),
      }),
      weight: 1,
    },
    {
      arbitrary: fc.record({ kind: fc.constant('forget' as const), who: member }),
      weight: 1,
    },
    {
      arbitrary: fc.record({
        kind: fc.constant('name' as const),
        who: member,
        name: fc.nat(NAMES.length - 1),
      }),
      weight: 1,
    },
  );

  interface Member {
    id: string;
    chat: Conversation;
    present: boolean;
    name: string;
    /** The last snapshot whose save finished, as storage gives it back. */
    stored: ConversationSnapshot | null;
    /** Taken, being written. */
    saving: ConversationSnapshot | null;
    dirty: boolean;
    /** Reloaded at least once without storage. */
    forgot: boolean;
  }

  /** Every message any load of a member's page accepted: text → recipients (peer ids). */
  type Sent = Map<string, ReadonlySet<string>>;

  function run(size: number, commands: readonly Command[]): { members: Member[]; sent: Sent } {
    const members: Member[] = ids.slice(0, size).map((id) => ({
      id,
      chat: new Conversation(),
      present: true,
      name: '',
      stored: null,
      saving: null,
      dirty: false,
      forgot: false,
    }));
    const at = (i: number): Member => members[i % size] as Member;
    const index = (id: string): number => members.findIndex((m) => m.id === id);
    /** Channel state per ordered pair `a*size+b`; `up` is kept symmetric. */
    const up = new Set<number>();
    /** Frames on their way from `a` to `b` on the open channel, oldest first. */
    const inFlight = new Map<number, string[]>();
    const pair = (a: number, b: number): number => a * size + b;
    const queue = (a: number, b: number): string[] => {
      let frames = inFlight.get(pair(a, b));
      if (!frames) inFlight.set(pair(a, b), (frames = []));
      return frames;
    };
    const sent: Sent = new Map();
    let counter = 0;
    let now = 0;

    const emit = (from: number, step: Pick<Step, 'frames' | 'persist'>): void => {
      if (step.persist) at(from).dirty = true;
      for (const { to, frame } of step.frames) {
        const b = index(to);
        // A conversation only writes to peers whose channel is open.
        expect(up.has(pair(from, b)), `${from}→${to} ${frame.type}`).toBe(true);
        queue(from, b).push(JSON.stringify(frame));
      }
    };
    const down = (a: number, b: number): void => {
      if (!up.has(pair(a, b))) return;
      up.delete(pair(a, b));
      up.delete(pair(b, a));
      inFlight.delete(pair(a, b));
      inFlight.delete(pair(b, a));
      at(a).chat.disconnect(at(b).id);
      at(b).chat.disconnect(at(a).id);
    };
    const open = (a: number, b: number): void => {
      if (a === b || up.has(pair(a, b)) || !at(a).present || !at(b).present) return;
      up.add(pair(a, b));
      up.add(pair(b, a));
      // Both sides see the channel open before anything arrives on it.
      const fromA = at(a).chat.connect(at(b).id);
      const fromB = at(b).chat.connect(at(a).id);
      emit(a, fromA);
      emit(b, fromB);
    };
    const downAll = (who: number): void => {
      for (let other = 0; other < size; other++) down(who, other);
    };
    const save = (who: number): void => {
      const m = at(who);
      if (m.saving) {
        m.stored = stored(m.saving);
        expect(m.stored).not.toBeNull();
        emit(who, { frames: m.chat.saved(m.saving), persist: false });
        m.saving = null;
      } else if (m.dirty) {
        m.saving = m.chat.snapshot();
        m.dirty = false;
      }
    };
    const deliver = (from: number, to: number, count: number): void => {
      if (!up.has(pair(from, to))) return;
      for (const raw of queue(from, to).splice(0, count)) {
        emit(to, at(to).chat.receive(at(from).id, raw, now));
      }
    };
    /**
     * An acknowledgement means "saved" (module comment): whoever no longer waits for a recipient
     * must find the message in that recipient's stored snapshot, at every step, not only at the end.
     */
    const checkAcked = (): void => {
      for (const sender of members) {
        const waiting = new Map(sender.chat.snapshot().outbox.map((m) => [m.text, m.to]));
        for (const entry of mine(sender)) {
          const slots = waiting.get(entry.text) ?? [];
          for (const id of sent.get(entry.text) ?? []) {
            const receiver = members.find((m) => m.id === id);
            if (slots.some((slot) => slot.peer === id) || receiver?.forgot) continue;
            const storedAt = receiver?.stored?.entries ?? [];
            expect(
              storedAt.some((e) => e.text === entry.text && e.from === sender.id),
              `${entry.text} acked by ${id} but not in its storage`,
            ).toBe(true);
          }
        }
      }
    };

    for (const raw of commands) {
      now += 1;
      // Member indices are drawn for the largest room; fold them into this one.
      const c = { ...raw } as Command;
      if ('from' in c) c.from %= size;
      if ('to' in c) c.to %= size;
      if ('who' in c) c.who %= size;
      if ('a' in c) c.a %= size;
      if ('b' in c) c.b %= size;
      switch (c.kind) {
        case 'send': {
          const m = at(c.from);
          if (!m.present) break;
          const text = `${m.id}#${counter++}`;
          const recipients = members.filter((r) => r.present && r !== m).map((r) => r.id);
          const step = m.chat.send(text, now, recipients);
          expect(step === null).toBe(recipients.length === 0);
          if (step) {
            sent.set(text, new Set(recipients));
            emit(c.from % size, step);
          }
          break;
        }
        case 'deliver':
          deliver(c.from % size, c.to % size, c.count);
          break;
        case 'save':
          save(c.who);
          break;
        case 'up':
          open(c.a % size, c.b % size);
          break;
        case 'down':
          down(c.a % size, c.b % size);
          break;
        case 'reconnect': {
          const who = c.who % size;
          const peers = members.flatMap((_, other) => (up.has(pair(who, other)) ? [other] : []));
          downAll(who);
          for (const other of peers) open(who, other);
          break;
        }
        case 'leave':
          downAll(c.who % size);
          at(c.who).present = false;
          break;
        case 'join':
          at(c.who).present = true;
          break;
        case 'reload': {
          const m = at(c.who);
          downAll(c.who % size);
          // Storage may have finished the write the page was waiting for, but `saved` never ran.
          if (c.landed && m.saving) m.stored = stored(m.saving);
          m.chat = new Conversation({ snapshot: m.stored, name: m.name });
          m.saving = null;
          m.dirty = false;
          break;
        }
        case 'forget': {
          const m = at(c.who);
          downAll(c.who);
          m.forgot = true;
          m.chat = new Conversation({ name: m.name });
          m.stored = null;
          m.saving = null;
          m.dirty = false;
          break;
        }
        case 'name': {
          const m = at(c.who);
          m.name = NAMES[c.name] ?? '';
          const step = m.chat.setName(m.name);
          if (step) emit(c.who % size, step);
          break;
        }
      }
      checkAcked();
    }

    // Settle: everyone present, every channel up, saves finish, until quiet.
    for (const m of members) m.present = true;
    for (let a = 0; a < size; a++) for (let b = a + 1; b < size; b++) open(a, b);
    let quiet = false;
    for (let round = 0; round < 50 && !quiet; round++) {
      quiet = true;
      for (let who = 0; who < size; who++) {
        const m = at(who);
        if (m.saving || m.dirty) quiet = false;
        save(who);
        save(who);
        for (let to = 0; to < size; to++) {
          if (queue(who, to).length > 0) quiet = false;
          deliver(who, to, Infinity);
        }
      }
    }
    expect(quiet).toBe(true);
    return { members, sent };
  }

  const order = (text: string): number => Number(text.split('#')[1]);
  const sizes = fc.integer({ min: 3, max: MAX_MEMBERS });
  const scripts = fc.array(command, { maxLength: 150, size: 'max' });

  it('loses nothing, doubles nothing, keeps each sender’s order and reaches only recipients', () => {
    fc.assert(
      fc.property(sizes, scripts, (size, commands) => {
        const { members, sent } = run(size, commands);
        for (const receiver of members) {
          const got = theirs(receiver);
          // Nothing doubled.
          expect(new Set(got.map((entry) => entry.text)).size).toBe(got.length);
          for (const entry of got) {
            // Nothing made up, and nothing for someone who was not in the room when it was sent.
            expect(entry.text.startsWith(`${entry.from}#`)).toBe(true);
            expect(sent.get(entry.text)?.has(receiver.id), entry.text).toBe(true);
          }
          // A receiver that lost its storage cannot place a message that a sender, reloaded from
          // an older save, resends after newer ones already arrived (found by the two-person
          // version of this property, seed 398916074): it has no record left to order by.
          if (receiver.forgot) continue;
          for (const sender of members) {
            if (sender === receiver) continue;
            const fromSender = got.filter((entry) => entry.from === sender.id).map((e) => e.text);
            // Per-sender order, across the sender's reloads too.
            expect(fromSender.map(order)).toEqual([...fromSender.map(order)].sort((x, y) => x - y));
          }
        }
        for (const sender of members) {
          expect(sender.chat.outboxSize).toBe(0);
          for (const entry of mine(sender)) {
            const recipients = sent.get(entry.text);
            expect(recipients, entry.text).toBeDefined();
            expect(entry).toMatchObject({
              status: 'delivered',
              recipients: recipients?.size,
              delivered: recipients?.size,
            });
            // Nothing lost: every line the sender still shows is at every one of its recipients,
            // once. (A line sent but never saved before the sender reloaded is gone from the
            // sender's page; its recipients may or may not have got it.)
            for (const id of recipients ?? []) {
              const receiver = members.find((m) => m.id === id) as Member;
              // Nothing waits forever for one that lost its storage, but it may lack old lines.
              if (receiver.forgot) continue;
              expect(
                shown(receiver).filter((text) => text === entry.text),
                entry.text,
              ).toHaveLength(1);
            }
          }
          // Names converge once every channel is up.
          for (const other of members) {
            if (other !== sender) expect(other.chat.nameOf(sender.id)).toBe(sender.name);
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  it('without reloads delivers exactly what was sent, to exactly its recipients, in order', () => {
    const noReloads = fc.array(
      command.filter((c) => c.kind !== 'reload' && c.kind !== 'forget'),
      { maxLength: 150, size: 'max' },
    );
    fc.assert(
      fc.property(sizes, noReloads, (size, commands) => {
        const { members, sent } = run(size, commands);
        for (const receiver of members) {
          for (const sender of members) {
            if (sender === receiver) continue;
            const expected = [...sent]
              .filter(([text, to]) => text.startsWith(`${sender.id}#`) && to.has(receiver.id))
              .map(([text]) => text);
            const got = theirs(receiver)
              .filter((entry) => entry.from === sender.id)
              .map((entry) => entry.text);
            expect(got).toEqual(expected);
          }
        }
      }),
      { numRuns: 100 },
    );
  });
});

/**
 * Two people on a network far worse than a data channel (frames reordered, duplicated, dropped,
 * and old channels' frames turning up late): the per-stream seq, the reorder buffer and the
 * duplicate drop still deliver each message exactly once.
 */
describe('Conversation on a hostile network (property)', () => {
  type Side = 'A' | 'B';
  type Chaos =
    | { kind: 'send' }
    | { kind: 'deliver'; to: Side; pick: number; keep: boolean }
    | { kind: 'drop'; to: Side; pick: number }
    | { kind: 'flap' };
  const side = fc.constantFrom<Side>('A', 'B');
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

  it('delivers exactly once whatever the network reorders, duplicates or drops', () => {
    fc.assert(
      fc.property(fc.array(chaos, { maxLength: 200, size: 'max' }), (commands) => {
        const people: Record<Side, Person> = { A: person(ALICE), B: person(BOB) };
        const other = (s: Side): Side => (s === 'A' ? 'B' : 'A');
        /** Frames on their way to each side, in no particular order. */
        const bags: Record<Side, string[]> = { A: [], B: [] };
        const sent: string[] = [];
        const post = (frames: readonly Outgoing[]): void => {
          for (const { to, frame } of frames)
            bags[to === ALICE ? 'A' : 'B'].push(JSON.stringify(frame));
        };
        const handle = (to: Side, raw: string): void => {
          const receiver = people[to].chat;
          const step = receiver.receive(people[other(to)].id, raw, 0);
          // Saves are instant here; the group property covers asynchronous ones.
          post([...step.frames, ...(step.persist ? receiver.saved(receiver.snapshot()) : [])]);
        };
        const open = (): void => {
          people.A.chat.disconnect(BOB);
          people.B.chat.disconnect(ALICE);
          post(people.B.chat.connect(ALICE).frames);
          post(people.A.chat.connect(BOB).frames);
        };
        open();
        for (const c of commands) {
          if (c.kind === 'send') {
            const text = `A#${sent.length}`;
            sent.push(text);
            post(send(people.A, text, [people.B]));
          } else if (c.kind === 'flap') {
            // Frames of the old channel stay in the bag: they may still turn up, late.
            open();
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
        open();
        while (bags.A.length + bags.B.length > 0) {
          for (const to of ['A', 'B'] as const) {
            for (const raw of bags[to].splice(0)) handle(to, raw);
          }
        }
        expect(shown(people.B)).toEqual(sent);
        expect(people.A.chat.outboxSize).toBe(0);
        expect(statuses(people.A).every((status) => status === 'delivered')).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('Conversation against a hostile peer (issue #16)', () => {
  const MALLORY = 'p3a11000000000005';
  const hex16 = (n: number): string => n.toString(16).padStart(16, '0');
  /** A raw chat frame from `senderId` at `seq`, `chars` long. */
  const raw = (senderId: string, seq: number, chars = 10, ackedUpTo = 0): string =>
    JSON.stringify({
      type: 'chat',
      id: hex16(0x1000000 + seq * 4096 + Number.parseInt(senderId.slice(-3), 16)),
      senderId,
      seq,
      ackedUpTo,
      text: 'x'.repeat(chars),
      sentAt: 0,
    } satisfies ChatFrame);

  it('holds at most its bound per stream; what was refused comes again and is delivered', () => {
    const bob = person(BOB);
    bob.chat.connect(MALLORY);
    const stream = hex16(1);
    // seq 1 is missing: seqs 2.. can only wait.
    for (let seq = 2; seq <= MAX_EARLY_PER_STREAM + 2; seq++) {
      bob.chat.receive(MALLORY, raw(stream, seq), 0);
    }
    expect(bob.chat.heldFor(MALLORY)).toBe(
      MAX_EARLY_PER_STREAM * heldBytes(parseChat(raw(stream, 2))),
    );
    // The gap fills: the held ones go out; the refused one (the last) waits for its resend.
    const filled = bob.chat.receive(MALLORY, raw(stream, 1), 0);
    expect(filled.events).toHaveLength(MAX_EARLY_PER_STREAM + 1);
    expect(bob.chat.heldFor(MALLORY)).toBe(0);
    const resent = bob.chat.receive(MALLORY, raw(stream, MAX_EARLY_PER_STREAM + 2), 0);
    expect(resent.events).toHaveLength(1);
    expect(bob.chat.isIgnored(MALLORY)).toBe(false);
  });

  it('stops listening after too many refusals, frees what it held, and says why once', () => {
    const bob = person(BOB);
    const carol = person(CAROL);
    link(bob, carol);
    bob.chat.connect(MALLORY);
    const events: string[] = [];
    // The attack of the issue: many streams, each with a gap at its start, big frames.
    for (let s = 0; s < 64 && !bob.chat.isIgnored(MALLORY); s++) {
      // 58 per stream, under the per-stream bound: the bytes bound is the one that binds.
      for (let seq = 2; seq < 60; seq++) {
        const step = bob.chat.receive(MALLORY, raw(hex16(s + 1), seq, 4000), 0);
        for (const event of step.events) {
          events.push(event.type === 'misbehaving' ? event.reason : event.type);
        }
        expect(bob.chat.heldFor(MALLORY)).toBeLessThanOrEqual(MAX_HELD_BYTES_PER_PEER);
      }
    }
    expect(events).toEqual([expect.stringContaining(`more than ${MAX_REFUSED_FRAMES}`)]);
    expect(events[0]).toContain('MiB waiting');
    expect(bob.chat.heldFor(MALLORY)).toBe(0);
    // Ignored from now on, even a frame that would have been in order; Carol is unaffected.
    expect(bob.chat.receive(MALLORY, raw(hex16(99), 1), 0).events).toEqual([]);
    feed(bob, carol, send(carol, 'still here', [bob]));
    expect(shown(bob)).toEqual(['still here']);
  });

  it('counts seqs past the reorder window as refusals', () => {
    const bob = person(BOB);
    bob.chat.connect(MALLORY);
    let reason = '';
    for (let i = 0; i <= MAX_REFUSED_FRAMES; i++) {
      const step = bob.chat.receive(MALLORY, raw(hex16(7), 5000 + i), 0);
      for (const event of step.events) if (event.type === 'misbehaving') reason = event.reason;
    }
    expect(reason).toContain('past the last one shown');
    expect(bob.chat.heldFor(MALLORY)).toBe(0);
  });

  it('never holds more than the bound for a hostile peer, and an honest one still gets through (property)', () => {
    const hostile = fc.record({
      stream: fc.integer({ min: 1, max: 40 }),
      seq: fc.integer({ min: 1, max: 1200 }),
      ackedUpTo: fc.integer({ min: 0, max: 50 }),
      chars: fc.integer({ min: 1, max: 4000 }),
    });
    const script = fc.array(fc.oneof(hostile, fc.constant('honest' as const)), {
      maxLength: 400,
      size: 'max',
    });
    fc.assert(
      fc.property(script, (commands) => {
        const bob = person(BOB);
        const carol = person(CAROL);
        link(bob, carol);
        bob.chat.connect(MALLORY);
        const sent: string[] = [];
        for (const c of commands) {
          if (c === 'honest') {
            sent.push(`carol ${sent.length}`);
            const step = feed(bob, carol, send(carol, sent.at(-1) ?? '', [bob]));
            if (step.persist) feed(carol, bob, save(bob));
            continue;
          }
          const seq = Math.max(c.seq, c.ackedUpTo + 1);
          bob.chat.receive(MALLORY, raw(hex16(c.stream), seq, c.chars, c.ackedUpTo), 0);
          expect(bob.chat.heldFor(MALLORY)).toBeLessThanOrEqual(MAX_HELD_BYTES_PER_PEER);
        }
        expect(shown(bob).filter((text) => text.startsWith('carol'))).toEqual(sent);
        expect(carol.chat.outboxSize).toBe(0);
      }),
      { numRuns: 100 },
    );
  });
});

/** The chat frame in `text`, which the test built valid. */
function parseChat(text: string): ChatFrame {
  const frame = parseFrame(text);
  if (frame?.type !== 'chat') throw new Error('not a chat frame');
  return frame;
}
