/**
 * The room's orchestration with fakes for everything outside it (issue #10): signaling, links,
 * clock, storage. What is asserted is what a peer or the person would observe: who gets offered
 * to, what goes out on which channel, who is listed, what the status line says.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EXAMPLE_LIMITS } from '../../../../signaling/testing/limits.ts';
import type {
  ClientMessage,
  IceServer,
  ServerMessage,
  SignalData,
} from '../../../../signaling/protocol.ts';
import type { ConversationSnapshot } from '../chat/delivery.ts';
import type { Durability, OutboxStore } from '../chat/outbox-store.ts';
import { encodeFileFrame } from '../files/file-protocol.ts';
import type { Link } from '../peer/peer-session.svelte.ts';
import type { PeerEvents, PeerOptions } from '../rtc/peer.ts';
import type { Signaling, SignalingEvents } from '../signaling/signaling-client.ts';
import {
  NAT_PROBE_MAX_DEFER_MS,
  RESUME_KEY_PREFIX,
  RoomSession,
  type KeyValueStorage,
  type RoomDeps,
} from './room-session.svelte.ts';

const ROOM = 'abcdefghijklmnopqrstuv';
/** Ids chosen so that ME offers to BOB and DAN, and CAT offers to ME (the smaller id offers). */
const ME = 'p5000000000000000';
const BOB = 'p9000000000000000';
const CAT = 'p1000000000000000';
const DAN = 'pa000000000000000';

const LIMITS = EXAMPLE_LIMITS;
const STUN: IceServer[] = [{ urls: 'stun:203.0.113.10:3478' }];

class FakeLink implements Link {
  readonly sent: string[] = [];
  readonly signals: SignalData[] = [];
  destroyed = false;
  open = false;
  constructor(
    readonly options: PeerOptions,
    readonly events: PeerEvents,
  ) {}
  signal(data: SignalData): void {
    this.signals.push(data);
  }
  send(text: string): boolean {
    if (!this.open || this.destroyed) return false;
    this.sent.push(text);
    return true;
  }
  /** Messages written to the `files` channel. */
  readonly fileSent: (string | ArrayBuffer)[] = [];
  readonly maxMessageSize = 262144;
  sendFile(data: string | ArrayBuffer): Promise<boolean> {
    if (!this.open || this.destroyed) return Promise.resolve(false);
    this.fileSent.push(data);
    return Promise.resolve(true);
  }
  destroy(): void {
    this.destroyed = true;
  }
  stats(): Promise<RTCStatsReport | null> {
    return Promise.resolve(null);
  }
  elapsedMs(): number {
    return 0;
  }
  /** The data channel opens. */
  opened(): void {
    this.open = true;
    this.events.open();
  }
  /** The connection ends. */
  close(): void {
    this.open = false;
    this.events.closed(null);
  }
  /** Chat frames written, parsed. */
  frames(): Record<string, unknown>[] {
    return this.sent.map((text) => JSON.parse(text) as Record<string, unknown>);
  }
}

class FakeSignaling implements Signaling {
  readonly sent: ClientMessage[] = [];
  up = true;
  closedForGood = false;
  constructor(readonly events: SignalingEvents) {}
  send(message: ClientMessage): boolean {
    if (!this.up) return false;
    this.sent.push(message);
    return true;
  }
  close(): void {
    this.closedForGood = true;
  }
  deliver(message: ServerMessage): void {
    this.events.message(message);
  }
  /** Signals sent to `to`, by payload type. */
  signalsTo(to: string): string[] {
    return this.sent.flatMap((m) => (m.type === 'signal' && m.to === to ? [m.data.type] : []));
  }
}

class MemoryKv implements KeyValueStorage {
  readonly #map = new Map<string, string>();
  getItem(key: string): string | null {
    return this.#map.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.#map.set(key, value);
  }
}

class MemoryStore implements OutboxStore {
  readonly durability: Durability = 'indexeddb';
  readonly failure = null;
  readonly saved = new Map<string, ConversationSnapshot>();
  load(roomId: string): Promise<ConversationSnapshot | null> {
    return Promise.resolve(structuredClone(this.saved.get(roomId) ?? null));
  }
  save(roomId: string, snapshot: ConversationSnapshot): Promise<Durability> {
    this.saved.set(roomId, structuredClone(snapshot));
    return Promise.resolve('indexeddb');
  }
}

interface World {
  session: RoomSession;
  signaling: () => FakeSignaling;
  links: FakeLink[];
  store: MemoryStore;
  tab: MemoryKv;
  device: MemoryKv;
  /** NAT tests started so far. */
  probes: () => number;
  stop: () => void;
}

/** A room session over fakes; `links` lists every link created, with whom (by signal target). */
function world(shared: Partial<Pick<World, 'store' | 'tab' | 'device'>> = {}): World {
  const links: FakeLink[] = [];
  let signaling: FakeSignaling | null = null;
  const store = shared.store ?? new MemoryStore();
  const tab = shared.tab ?? new MemoryKv();
  const device = shared.device ?? new MemoryKv();
  let probes = 0;
  const deps: RoomDeps = {
    connectSignaling: (events) => (signaling = new FakeSignaling(events)),
    createLink: (options, events) => {
      const link = new FakeLink(options, events);
      links.push(link);
      return link;
    },
    now: () => Date.now(),
    wallClock: () => Date.now(),
    tabStorage: tab,
    deviceStorage: device,
    openStore: () => store,
    probeNat: () => {
      probes++;
      return Promise.resolve({
        servers: [],
        candidates: [],
        errors: [],
        gathering: 'complete',
        elapsedMs: 0,
      });
    },
    testTurn: () =>
      Promise.resolve({
        urls: [],
        candidates: [],
        errors: [],
        gathering: 'complete',
        elapsedMs: 0,
      }),
    userAgent: 'test',
    urlFor: () => 'blob:test',
    releaseUrl: () => undefined,
  };
  const session = new RoomSession(ROOM, deps);
  const stop = session.start();
  return {
    session,
    signaling: () => {
      if (!signaling) throw new Error('no signaling');
      return signaling;
    },
    links,
    store,
    tab,
    device,
    probes: () => probes,
    stop,
  };
}

/** Opens signaling, greets and joins with `peers` already in the room. */
async function join(w: World, peers: string[]): Promise<void> {
  const s = w.signaling();
  s.events.open();
  s.deliver({ type: 'hello', id: 'p0000000000000001', iceServers: STUN, limits: LIMITS });
  s.deliver({ type: 'joined', room: ROOM, id: ME, peers, iceServers: STUN });
  await vi.runOnlyPendingTimersAsync();
}

/** The link the session uses for `peer` now: the newest one whose signals go to that peer. */
function linkFor(w: World, peer: string): FakeLink {
  const session = w.session.peers.find((p) => p.id === peer);
  if (!session) throw new Error(`no session for ${peer}`);
  const link = w.links.filter((l) => !l.destroyed).find((l) => linkOwner.get(l) === peer);
  if (!link) throw new Error(`no live link for ${peer}`);
  return link;
}
const linkOwner = new WeakMap<FakeLink, string>();

/** Records that the link created `index`-th belongs to `peer` (the one it was made for). */
function own(w: World, peer: string, index: number): void {
  const link = w.links[index];
  if (link && !linkOwner.has(link)) linkOwner.set(link, peer);
}

/** Delivers a signal from `peer` and records any link it created as theirs. */
function fromPeer(w: World, peer: string, data: SignalData): void {
  const before = w.links.length;
  w.signaling().deliver({ type: 'signal', from: peer, data });
  own(w, peer, before);
}

const OFFER: SignalData = { type: 'offer', sdp: 'v=0\r\n' };

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('RoomSession with fakes', () => {
  it('joins with its resume token, offers to higher ids and asks lower ones to offer', async () => {
    const w = world();
    const before = w.links.length;
    await join(w, [BOB, CAT]);
    own(w, BOB, before);
    const s = w.signaling();
    const joinMessage = s.sent.find((m) => m.type === 'join');
    expect(joinMessage).toMatchObject({ type: 'join', room: ROOM });
    expect(w.tab.getItem(`${RESUME_KEY_PREFIX}${ROOM}`)).toBe(
      joinMessage?.type === 'join' ? joinMessage.resume : undefined,
    );
    // ME < BOB: one link, as the offerer. CAT < ME: no link until CAT offers; ME asks for one.
    expect(w.links).toHaveLength(1);
    expect(w.links[0]?.options.initiator).toBe(true);
    expect(s.signalsTo(CAT)).toContain('restart');
    expect(w.session.people.map((p) => [p.id, p.self])).toEqual([
      [ME, true],
      [BOB, false],
      [CAT, false],
    ]);
    expect(w.session.joinedLate).toBe(true);
    fromPeer(w, CAT, OFFER);
    expect(w.links).toHaveLength(2);
    expect(w.links[1]?.options.initiator).toBe(false);
    expect(w.links[1]?.signals).toEqual([OFFER]);
    w.stop();
  });

  it('sends a message to everyone in the room, each on its own channel, with names first', async () => {
    const w = world();
    w.session.setName('Me');
    const before = w.links.length;
    await join(w, [BOB, DAN]);
    own(w, BOB, before);
    own(w, DAN, before + 1);
    expect(w.session.canSend).toBe(false);
    linkFor(w, BOB).opened();
    linkFor(w, DAN).opened();
    await vi.runOnlyPendingTimersAsync();
    expect(w.session.canSend).toBe(true);
    expect(w.session.send('hello all')).toBe(true);
    for (const peer of [BOB, DAN]) {
      const frames = linkFor(w, peer).frames();
      expect(frames[0]).toEqual({ type: 'name', name: 'Me' });
      expect(frames.filter((f) => f.type === 'chat').map((f) => [f.text, f.seq])).toEqual([
        ['hello all', 1],
      ]);
    }
    const [entry] = w.session.messages;
    expect(entry).toMatchObject({ from: 'me', recipients: 2, delivered: 0, status: 'sent' });
    // BOB acks: delivered to 1 of 2.
    const senderId = linkFor(w, BOB)
      .frames()
      .find((f) => f.type === 'chat')?.senderId as string;
    linkFor(w, BOB).events.message(JSON.stringify({ type: 'ack', senderId, upTo: 1 }));
    await vi.runOnlyPendingTimersAsync();
    expect(w.session.messages[0]).toMatchObject({ delivered: 1, recipients: 2 });
    expect(w.session.status.text).toBe('Connected to all 2 other people.');
    w.stop();
  });

  it('loads the file code with the first file frame and handles the frames that came meanwhile, in order', async () => {
    const w = world();
    const before = w.links.length;
    await join(w, [BOB]);
    own(w, BOB, before);
    const link = linkFor(w, BOB);
    link.opened();
    // Two offers and a cancel of the first, in one go, before any file code has loaded (issue
    // #13): none may be lost or reordered (a cancel handled before its offer would be dropped).
    link.events.fileData(
      encodeFileFrame({
        t: 'file-offer',
        v: 1,
        id: 'a1a1a1a1a1a1a1a1',
        name: 'a.txt',
        size: 3,
        mime: '',
      }),
    );
    link.events.fileData(
      encodeFileFrame({
        t: 'file-offer',
        v: 1,
        id: 'b2b2b2b2b2b2b2b2',
        name: 'b.txt',
        size: 4,
        mime: '',
      }),
    );
    link.events.fileData(
      encodeFileFrame({ t: 'file-cancel', id: 'a1a1a1a1a1a1a1a1', reason: 'changed' }),
    );
    expect(w.session.files).toEqual([]);
    await vi.waitFor(() => expect(w.session.files).toHaveLength(2));
    expect(w.session.files.map((line) => [line.name, line.rows[0]?.state])).toEqual([
      ['a.txt', 'cancelled'],
      ['b.txt', 'offered'],
    ]);
    w.stop();
  });

  it('names incoming lines by sender, and shows names in People', async () => {
    const w = world();
    const before = w.links.length;
    await join(w, [BOB]);
    own(w, BOB, before);
    const link = linkFor(w, BOB);
    link.opened();
    link.events.message(JSON.stringify({ type: 'name', name: 'Bob' }));
    link.events.message(
      JSON.stringify({
        type: 'chat',
        id: '0123456789abcdef',
        senderId: 'fedcba9876543210',
        seq: 1,
        ackedUpTo: 0,
        text: 'hi from bob',
        sentAt: 1,
      }),
    );
    await vi.runOnlyPendingTimersAsync();
    expect(w.session.messages).toMatchObject([{ from: BOB, name: 'Bob', text: 'hi from bob' }]);
    expect(w.session.people.find((p) => p.id === BOB)?.name).toBe('Bob');
    // Its ack goes back only once the conversation is saved.
    expect(w.store.saved.get(ROOM)?.entries).toHaveLength(1);
    expect(link.frames().some((f) => f.type === 'ack' && f.upTo === 1)).toBe(true);
    w.stop();
  });

  it('keeps a message for someone who left, and gives it to them when they come back', async () => {
    const w = world();
    let before = w.links.length;
    await join(w, [BOB, DAN]);
    own(w, BOB, before);
    own(w, DAN, before + 1);
    linkFor(w, BOB).opened();
    linkFor(w, DAN).opened();
    await vi.runOnlyPendingTimersAsync();
    w.signaling().deliver({ type: 'peer-left', id: DAN });
    expect(w.session.people.map((p) => p.id)).toEqual([ME, BOB]);
    expect(w.links.filter((l) => linkOwner.get(l) === DAN).every((l) => l.destroyed)).toBe(true);
    expect(w.session.status.text).toBe('Connected.');
    // Sent while DAN was away: only BOB is a recipient.
    w.session.send('while dan was out');
    expect(w.session.messages.at(-1)).toMatchObject({ recipients: 1 });
    // DAN comes back (same id: a reload) and gets nothing of that one.
    before = w.links.length;
    w.signaling().deliver({ type: 'peer-joined', id: DAN });
    own(w, DAN, before);
    expect(w.session.people.map((p) => p.id)).toEqual([ME, BOB, DAN]);
    linkFor(w, DAN).opened();
    await vi.runOnlyPendingTimersAsync();
    expect(
      linkFor(w, DAN)
        .frames()
        .filter((f) => f.type === 'chat'),
    ).toEqual([]);
    w.stop();
  });

  it('rebuilds a link that died, as the offerer, and resends what was not acked', async () => {
    const w = world();
    const before = w.links.length;
    await join(w, [BOB]);
    own(w, BOB, before);
    const first = linkFor(w, BOB);
    first.opened();
    await vi.runOnlyPendingTimersAsync();
    w.session.send('are you there');
    const count = w.links.length;
    first.close();
    vi.advanceTimersByTime(2000);
    own(w, BOB, count);
    expect(w.links.length).toBeGreaterThan(count);
    const second = linkFor(w, BOB);
    expect(second).not.toBe(first);
    expect(second.options.initiator).toBe(true);
    expect(w.session.messages[0]).toMatchObject({ status: 'queued' });
    second.opened();
    await vi.runOnlyPendingTimersAsync();
    expect(
      second
        .frames()
        .filter((f) => f.type === 'chat')
        .map((f) => f.text),
    ).toEqual(['are you there']);
    w.stop();
  });

  it('disconnects a peer that floods it with frames it can never show, and no one else (issue #16)', async () => {
    const w = world();
    const before = w.links.length;
    await join(w, [BOB, DAN]);
    own(w, BOB, before);
    own(w, DAN, before + 1);
    const bob = linkFor(w, BOB);
    bob.opened();
    linkFor(w, DAN).opened();
    await vi.runOnlyPendingTimersAsync();
    // Seq 1 never comes, and every later seq is past what the page will hold.
    for (let seq = 2000; seq < 2100; seq++) {
      bob.events.message(
        JSON.stringify({
          type: 'chat',
          id: seq.toString(16).padStart(16, '0'),
          senderId: 'fedcba9876543210',
          seq,
          ackedUpTo: 0,
          text: 'x',
          sentAt: 1,
        }),
      );
    }
    await vi.runOnlyPendingTimersAsync();
    expect(bob.destroyed).toBe(true);
    const stopped = w.session.peers.find((p) => p.id === BOB);
    expect(stopped?.state).toBe('stopped');
    expect(stopped?.stoppedBecause).toMatch(/stopped listening/);
    expect(w.session.status.text).toMatch(/disconnected from .*broke the chat’s limits/);
    // Not rebuilt, whatever Bob asks for; Dan still chats.
    const count = w.links.length;
    fromPeer(w, BOB, { type: 'restart' });
    fromPeer(w, BOB, OFFER);
    vi.advanceTimersByTime(10_000);
    expect(w.links.length).toBe(count);
    w.session.send('dan still hears me');
    expect(
      linkFor(w, DAN)
        .frames()
        .some((f) => f.type === 'chat' && f.text === 'dan still hears me'),
    ).toBe(true);
    w.stop();
  });

  it('keeps open links through a signaling reconnect, and forgets who left meanwhile', async () => {
    const w = world();
    const before = w.links.length;
    await join(w, [BOB, DAN]);
    own(w, BOB, before);
    own(w, DAN, before + 1);
    linkFor(w, BOB).opened();
    await vi.runOnlyPendingTimersAsync();
    const s = w.signaling();
    s.up = false;
    s.events.closed(1006, '', 500);
    expect(w.session.status.text).toBe(
      'Connected to 1 of 2 other people; connecting to Guest A000.',
    );
    s.up = true;
    const count = w.links.length;
    s.events.open();
    s.deliver({ type: 'hello', id: 'p0000000000000002', iceServers: STUN, limits: LIMITS });
    s.deliver({ type: 'joined', room: ROOM, id: ME, peers: [BOB], iceServers: STUN });
    expect(s.sent.filter((m) => m.type === 'join')).toHaveLength(2);
    // BOB's open link is untouched; DAN left while we were away.
    expect(linkFor(w, BOB).destroyed).toBe(false);
    expect(w.links.length).toBe(count);
    expect(w.session.people.map((p) => p.id)).toEqual([ME, BOB]);
    expect(w.session.timeline.map((t) => t.label)).toContain('Signaling reconnected');
    w.stop();
  });

  it('tests the NAT only once the connection being set up is open (issue #13)', async () => {
    const w = world();
    const s = w.signaling();
    s.events.open();
    s.deliver({ type: 'hello', id: 'p0000000000000001', iceServers: STUN, limits: LIMITS });
    expect(w.session.settling).toBe(true);
    s.deliver({ type: 'joined', room: ROOM, id: ME, peers: [BOB], iceServers: STUN });
    await vi.advanceTimersByTimeAsync(NAT_PROBE_MAX_DEFER_MS / 4);
    // Its gathering would compete with the connection to BOB being set up.
    expect(w.session.settling).toBe(true);
    expect(w.probes()).toBe(0);
    w.links[0]?.opened();
    expect(w.session.settling).toBe(false);
    expect(w.probes()).toBe(1);
    await vi.advanceTimersByTimeAsync(0);
    expect(w.session.timeline.map((entry) => entry.label)).toContain('NAT classified');
    // Once per page load, whatever comes next.
    s.deliver({ type: 'peer-joined', id: DAN });
    await vi.advanceTimersByTimeAsync(NAT_PROBE_MAX_DEFER_MS);
    expect(w.probes()).toBe(1);
    w.stop();
  });

  it('tests the NAT at once when alone, and after a bound when a connection will not open', async () => {
    const alone = world();
    alone.signaling().events.open();
    alone
      .signaling()
      .deliver({ type: 'hello', id: 'p0000000000000001', iceServers: STUN, limits: LIMITS });
    expect(alone.probes()).toBe(0); // not joined yet: someone may be there
    alone.signaling().deliver({ type: 'joined', room: ROOM, id: ME, peers: [], iceServers: STUN });
    expect(alone.probes()).toBe(1);
    alone.stop();

    const stuck = world();
    const s = stuck.signaling();
    s.events.open();
    s.deliver({ type: 'hello', id: 'p0000000000000001', iceServers: STUN, limits: LIMITS });
    s.deliver({ type: 'joined', room: ROOM, id: ME, peers: [BOB], iceServers: STUN });
    await vi.advanceTimersByTimeAsync(NAT_PROBE_MAX_DEFER_MS - 1);
    expect(stuck.probes()).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(stuck.probes()).toBe(1);
    stuck.stop();
  });

  it('says in words why the server closed for good', async () => {
    const w = world();
    await join(w, []);
    w.signaling().events.closed(4004, 'replaced', null);
    expect(w.session.status).toEqual({
      text: expect.stringMatching(/open in another tab/) as string,
      tone: 'bad',
    });
    w.stop();
  });

  it('remembers my name on this device and tells everyone connected when it changes', async () => {
    const device = new MemoryKv();
    const w = world({ device });
    const before = w.links.length;
    await join(w, [BOB]);
    own(w, BOB, before);
    linkFor(w, BOB).opened();
    await vi.runOnlyPendingTimersAsync();
    expect(w.session.displayName).toBe('Guest 5000');
    w.session.setName('  Ann   Lee ');
    expect(device.getItem('holepunch-chat:name')).toBe('Ann Lee');
    expect(linkFor(w, BOB).frames().at(-1)).toEqual({ type: 'name', name: 'Ann Lee' });
    w.stop();
    const again = world({ device });
    expect(again.session.name).toBe('Ann Lee');
    again.stop();
  });
});
