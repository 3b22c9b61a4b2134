/**
 * Reliable, ordered group chat over data channels that come and go (issue #4: "Nothing lost,
 * nothing doubled"; issue #10: a room is a group, every pair of people on its own data channel).
 * Pure: no I/O, no timers; every method returns the frames to write (each addressed to one peer)
 * and what changed, and the clock and the random source are parameters.
 *
 * The protocol, per sender → recipient pair:
 * - A message goes to every person who is in the room when it is sent (its *recipients*; someone
 *   who joins later does not get it). Each recipient gets it on its own data channel, with its own
 *   place `(senderId, seq)` in a *stream* that only that recipient sees: a stream is what one page
 *   load sends to one peer, numbered 1, 2, 3, … Per-recipient numbering means a recipient never
 *   waits for seqs that were not meant for it (a message sent while it was away).
 *   {@link Conversation} mints a fresh `senderId` each time it is constructed; messages still
 *   unacknowledged from earlier page loads keep the stream and seq they were first sent with.
 * - The receiver delivers each stream in seq order, buffers what comes early, drops what it has
 *   delivered already, and acknowledges cumulatively: `{type:'ack', senderId, upTo}` means "every
 *   seq ≤ upTo of that stream is delivered *and saved*" (the TCP scheme, RFC 9293 §3.4, with
 *   persistence: an ack is only sent once the snapshot that holds the messages is stored, see
 *   {@link Conversation.saved}, so a reload of the receiver can never lose what was acked).
 *   Streams are kept per sending peer: a peer can only ever fill or acknowledge its own.
 * - The sender keeps every message in its outbox until every recipient has acknowledged it and,
 *   whenever a channel to a recipient opens, resends what that recipient still lacks, in the order
 *   first sent. Within one channel SCTP keeps order (RFC 8831 §6.6: reliable and ordered by
 *   default), so per-sender order holds; there is no order across senders (none is promised:
 *   each line shows who sent it).
 *
 * Why a new stream per page load instead of one `senderId` with a persisted next seq: saving is
 * asynchronous, so a page can die after a frame went out but before the snapshot with its seq was
 * stored. A restored "next seq" would then be reused for a different message, which the receiver
 * would drop as a duplicate: lost. A fresh stream cannot collide with anything, and needs no
 * write-ahead before sending.
 *
 * Each chat frame also carries `ackedUpTo`, the sender's acknowledged floor of that stream: a
 * receiver that has forgotten the stream (its storage was memory only, or the stream fell out of
 * its {@link MAX_KNOWN_STREAMS}) starts there instead of waiting forever for seqs that were acked
 * long ago. Everything at or below it was acknowledged, hence saved, by some load of the receiver.
 *
 * Names travel here too (issue #10: "names travel peer to peer; the server never sees them"): a
 * {@link NameFrame} goes first on every channel that opens and to everyone when it changes.
 */
import { parseBoundedJson, type JsonLimits } from '../../../../signaling/bounded-json.ts';
import { composeMessage, MAX_MESSAGE_CHARS, newMessageId, type ChatEntry } from './chat-log.ts';
import { defaultName, normalizeName } from './names.ts';

/** Most messages of mine kept until acknowledged; {@link Conversation.send} refuses beyond it. */
export const MAX_OUTBOX_MESSAGES = 1000;

/** Most lines the conversation keeps (and persists); the oldest go first. */
export const MAX_ENTRIES = 2 * MAX_OUTBOX_MESSAGES;

/**
 * Most peer streams whose delivered seq is remembered, least recently heard forgotten first. Each
 * reload of a peer starts a stream to each recipient; a forgotten one that comes back restarts at
 * its `ackedUpTo`.
 */
export const MAX_KNOWN_STREAMS = 256;

/**
 * How far past the delivered seq a frame may be buffered. The peer never has more than
 * {@link MAX_OUTBOX_MESSAGES} unacknowledged, so a farther frame is off-protocol.
 */
export const MAX_REORDER_WINDOW = MAX_OUTBOX_MESSAGES;

/*
 * What one remote peer can make this page hold (issue #16: a hostile member sent 64 streams of
 * 999 frames that could never be delivered, and the other page kept 251 MB). An honest sender
 * needs none of it in practice: it writes each stream in seq order on one ordered channel (RFC
 * 8831 §6.6), and every new channel resends from its first unacknowledged frame ({@link
 * Conversation.connect}), so frames only come early when a receiver forgot a stream, which
 * `ackedUpTo` repairs at once. The bounds leave that slack many times over. A frame over a bound
 * is dropped and not acknowledged: an honest sender resends it on its next channel.
 */

/**
 * Most streams remembered per sending peer; past it, that peer's least recently heard stream is
 * forgotten (with anything it held), never another peer's. Each page load of the peer starts one
 * stream to me; 16 covers 16 reloads while messages to me wait unacknowledged, and a forgotten
 * stream that comes back restarts at its `ackedUpTo`.
 */
export const MAX_STREAMS_PER_PEER = 16;

/** Most frames held out of order in one stream (an honest one holds none, see above). */
export const MAX_EARLY_PER_STREAM = 64;

/**
 * Most bytes held out of order per peer over all its streams, counted as
 * {@link heldBytes}: 1 MiB, about 130 frames of {@link MAX_MESSAGE_CHARS}.
 */
export const MAX_HELD_BYTES_PER_PEER = 1024 * 1024;

/**
 * Frames a peer may have refused (over a bound above, or past {@link MAX_REORDER_WINDOW}) before
 * this page stops listening to it: an honest peer is never refused, so a few dozen is already a
 * pattern, not bad luck.
 */
export const MAX_REFUSED_FRAMES = 32;

/**
 * Bytes a held frame is counted for: its text as UTF-16 (2 bytes per code unit, what a JS string
 * may take) plus 128 for the frame object and its ids. An estimate of heap use, not a measure.
 */
export function heldBytes(frame: ChatFrame): number {
  return frame.text.length * 2 + 128;
}

/** Pings awaiting their pong, per peer; older ones are forgotten (their pong reports no RTT). */
export const MAX_PENDING_PINGS = 8;

/** Suggested keep-alive period for the session's timer, ms (see {@link Conversation.ping}). */
export const PING_INTERVAL_MS = 2000;

/** Most peers whose name is remembered (a room holds at most 16; reloads do not add peers). */
export const MAX_KNOWN_NAMES = 64;

/**
 * Version of {@link ConversationSnapshot}; a stored snapshot of another version is ignored.
 * Version 1 (two-person rooms, issue #4) had no recipients, so it cannot be resent to a group.
 */
export const SNAPSHOT_VERSION = 2;

/**
 * Where one of my messages is: waiting for a channel to some recipient, written to every
 * recipient that lacks it, or acknowledged by all of them.
 */
export type MessageStatus = 'queued' | 'sent' | 'delivered';

/** A chat message on the wire, as one recipient gets it. */
export interface ChatFrame {
  type: 'chat';
  /** Random id, 16 hex digits ({@link newMessageId}); the same for every recipient. */
  id: string;
  /** The stream: 16 hex digits, new per page load of the sender. */
  senderId: string;
  /** Place in this recipient's stream, from 1. */
  seq: number;
  /** Every seq ≤ this one of the stream was acknowledged already; `0 ≤ ackedUpTo < seq`. */
  ackedUpTo: number;
  text: string;
  /** Sender's clock, ms since the Unix epoch. Shown only; never used for ordering. */
  sentAt: number;
}

/** Cumulative acknowledgement: every seq ≤ `upTo` of stream `senderId` is delivered and saved. */
export interface AckFrame {
  type: 'ack';
  /** The stream whose messages are acknowledged (the *sender's* id, not the acker's). */
  senderId: string;
  upTo: number;
}

/** Keep-alive; the peer answers with a {@link PongFrame} carrying the same id. */
export interface PingFrame {
  type: 'ping';
  /** Random id, 16 hex digits. */
  id: string;
  /** Sender's clock, ms since the Unix epoch; informative only (RTT uses the pinger's clock). */
  sentAt: number;
}

/** Answer to a {@link PingFrame}. */
export interface PongFrame {
  type: 'pong';
  id: string;
}

/** The sender's display name (names.ts rules); `''` means "not set": show the default. */
export interface NameFrame {
  type: 'name';
  name: string;
}

/** Everything the chat sends over a data channel, one JSON text message per frame. */
export type Frame = ChatFrame | AckFrame | PingFrame | PongFrame | NameFrame;

/** A frame for one peer's data channel. */
export interface Outgoing {
  /** Peer id of the recipient. */
  to: string;
  frame: Frame;
}

/** A recipient of one of my messages that has not acknowledged it yet. */
export interface Recipient {
  /** Peer id. */
  peer: string;
  /** The message's place in the stream to this peer. */
  seq: number;
}

/** One of my messages not yet acknowledged by everyone, as kept in the outbox (and persisted). */
export interface PendingMessage {
  id: string;
  /** The stream (the page load that first sent it). */
  senderId: string;
  text: string;
  /** ms since the Unix epoch. */
  sentAt: number;
  /** The recipients still waiting, never empty (a message all have acknowledged leaves). */
  to: Recipient[];
}

/** A line I wrote, with its delivery status. */
export interface SentEntry extends ChatEntry {
  from: 'me';
  status: MessageStatus;
  /** People in the room when it was sent, ≥ 1. */
  recipients: number;
  /** How many of them acknowledged it, `0 ≤ delivered ≤ recipients`. */
  delivered: number;
}

/**
 * A line someone else wrote (`at` is when it arrived here). `from` is a peer id, wider than
 * chat-log.ts's `'me' | 'peer'`, hence the `Omit` (extending `ChatEntry` directly does not compile).
 */
export interface ReceivedEntry extends Omit<ChatEntry, 'from'> {
  /** The sender's peer id. */
  from: string;
  /** The sender's name when it arrived (their default name if they had not set one). */
  name: string;
}

/** One line of the conversation as shown. */
export type ConversationEntry = SentEntry | ReceivedEntry;

/** True for a line I wrote (`from` alone cannot narrow: a peer id is a string too). */
export function isMine(entry: ConversationEntry): entry is SentEntry {
  return 'status' in entry;
}

/**
 * What is persisted per room: plain JSON-able data, safe for structured clone. The stream id and
 * next seqs of the page that saved it are deliberately absent (a restored conversation starts new
 * streams, see the module comment).
 */
export interface ConversationSnapshot {
  version: typeof SNAPSHOT_VERSION;
  /** Unacknowledged messages in the order first sent; they may belong to earlier streams. */
  outbox: PendingMessage[];
  /**
   * `[peer, senderId, highest contiguous delivered seq]` per stream received, least recently
   * heard first.
   */
  received: [string, string, number][];
  /** `[peer, name]` as last heard from each peer (`''` = not set). */
  names: [string, string][];
  /** The conversation, oldest first, at most {@link MAX_ENTRIES}. */
  entries: ConversationEntry[];
}

/** Something the UI may react to beyond re-reading {@link Conversation.entries}. */
export type DeliveryEvent =
  | { type: 'message'; entry: ReceivedEntry }
  | { type: 'delivered'; ids: string[] }
  | { type: 'rtt'; peer: string; rttMs: number }
  | { type: 'name'; peer: string; name: string }
  /**
   * `peer` went past {@link MAX_REFUSED_FRAMES}: from now on everything it sends is ignored and
   * what it held is freed. `reason` is a sentence for the panel. Emitted once per peer.
   */
  | { type: 'misbehaving'; peer: string; reason: string };

/** Result of one {@link Conversation} call. */
export interface Step {
  /** To write now, in this order, each as `JSON.stringify(frame)` on the channel to `to`. */
  frames: Outgoing[];
  events: DeliveryEvent[];
  /** The persisted state changed: save a fresh {@link Conversation.snapshot} (coalescing is fine). */
  persist: boolean;
}

/** Options of {@link Conversation}. */
export interface ConversationOptions {
  /** [snapshot=null] State saved by an earlier page load, from {@link parseSnapshot}. */
  snapshot?: ConversationSnapshot | null;
  /** [random=globalThis.crypto] Source of stream, message and ping ids. */
  random?: Crypto;
  /** [name=''] My display name, sent first on every channel (`''` = the default). */
  name?: string;
}

const HEX16 = /^[0-9a-f]{16}$/;
/** Peer ids as the signaling server assigns them (`PEER_ID_PATTERN` in signaling/protocol.ts). */
const PEER_ID = /^p[0-9a-f]{16}$/;

const isHex16 = (value: unknown): value is string => typeof value === 'string' && HEX16.test(value);
const isPeer = (value: unknown): value is string =>
  typeof value === 'string' && PEER_ID.test(value);
const isCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const isTime = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value);
const isText = (value: unknown): value is string =>
  typeof value === 'string' && value.length > 0 && value.length <= MAX_MESSAGE_CHARS;
const isName = (value: unknown): value is string =>
  typeof value === 'string' && normalizeName(value) === value;

/**
 * Structural bounds of a data-channel frame (issue #9): every frame is one flat object of a few
 * fields, so anything nested or wide is refused before it is parsed.
 */
const FRAME_JSON_LIMITS: JsonLimits = { maxDepth: 2, maxItems: 64 };

/**
 * Parses one data-channel message. Never throws: anything off-protocol (past
 * {@link FRAME_JSON_LIMITS}, not JSON, unknown type, a field missing or of the wrong shape,
 * `seq < 1`, `ackedUpTo ≥ seq`, text longer than {@link MAX_MESSAGE_CHARS}, a name that
 * `normalizeName` would change) gives `null`. Returns a fresh object; unknown keys drop.
 */
export function parseFrame(raw: string): Frame | null {
  const parsed = parseBoundedJson(raw, FRAME_JSON_LIMITS);
  if (!parsed.ok) return null;
  const { value } = parsed;
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  switch (v.type) {
    case 'chat': {
      const { id, senderId, seq, ackedUpTo, text, sentAt } = v;
      if (!isHex16(id) || !isHex16(senderId) || !isCount(seq) || seq < 1) return null;
      if (!isCount(ackedUpTo) || ackedUpTo >= seq || !isText(text) || !isTime(sentAt)) return null;
      return { type: 'chat', id, senderId, seq, ackedUpTo, text, sentAt };
    }
    case 'ack':
      if (!isHex16(v.senderId) || !isCount(v.upTo)) return null;
      return { type: 'ack', senderId: v.senderId, upTo: v.upTo };
    case 'ping':
      if (!isHex16(v.id) || !isTime(v.sentAt)) return null;
      return { type: 'ping', id: v.id, sentAt: v.sentAt };
    case 'pong':
      if (!isHex16(v.id)) return null;
      return { type: 'pong', id: v.id };
    case 'name':
      return isName(v.name) ? { type: 'name', name: v.name } : null;
    default:
      return null;
  }
}

function parsePending(value: unknown): PendingMessage | null {
  if (typeof value !== 'object' || value === null) return null;
  const { id, senderId, text, sentAt, to } = value as Record<string, unknown>;
  if (!isHex16(id) || !isHex16(senderId) || !isText(text) || !isTime(sentAt)) return null;
  if (!Array.isArray(to) || to.length === 0 || to.length > MAX_KNOWN_NAMES) return null;
  const recipients: Recipient[] = [];
  for (const item of to as unknown[]) {
    if (typeof item !== 'object' || item === null) return null;
    const { peer, seq } = item as Record<string, unknown>;
    if (!isPeer(peer) || !isCount(seq) || seq < 1) return null;
    recipients.push({ peer, seq });
  }
  return { id, senderId, text, sentAt, to: recipients };
}

function parseEntry(value: unknown): ConversationEntry | null {
  if (typeof value !== 'object' || value === null) return null;
  const { id, from, text, at, status, recipients, delivered, name } = value as Record<
    string,
    unknown
  >;
  if (!isHex16(id) || !isText(text) || !isTime(at)) return null;
  if (isPeer(from)) return isName(name) ? { id, from, name, text, at } : null;
  if (from !== 'me' || (status !== 'queued' && status !== 'sent' && status !== 'delivered')) {
    return null;
  }
  if (!isCount(recipients) || recipients < 1 || !isCount(delivered) || delivered > recipients) {
    return null;
  }
  return { id, from, text, at, status, recipients, delivered };
}

/**
 * Validates a stored snapshot (it comes from storage another version of the page may have
 * written). Never throws; `null` if anything is off-shape or of another {@link SNAPSHOT_VERSION},
 * so the caller starts afresh rather than resending garbage. Rebuilds fresh objects and keeps at
 * most the documented limits.
 */
export function parseSnapshot(value: unknown): ConversationSnapshot | null {
  if (typeof value !== 'object' || value === null) return null;
  const { version, outbox, received, names, entries } = value as Record<string, unknown>;
  if (version !== SNAPSHOT_VERSION || !Array.isArray(outbox) || !Array.isArray(received)) {
    return null;
  }
  if (!Array.isArray(entries) || !Array.isArray(names)) return null;
  const snapshot: ConversationSnapshot = {
    version,
    outbox: [],
    received: [],
    names: [],
    entries: [],
  };
  for (const item of outbox.slice(-MAX_OUTBOX_MESSAGES)) {
    const pending = parsePending(item);
    if (!pending) return null;
    snapshot.outbox.push(pending);
  }
  for (const item of received.slice(-MAX_KNOWN_STREAMS)) {
    if (!Array.isArray(item) || item.length !== 3) return null;
    const [peer, senderId, delivered] = item as unknown[];
    if (!isPeer(peer) || !isHex16(senderId) || !isCount(delivered)) return null;
    snapshot.received.push([peer, senderId, delivered]);
  }
  for (const item of names.slice(-MAX_KNOWN_NAMES)) {
    if (!Array.isArray(item) || item.length !== 2) return null;
    const [peer, name] = item as unknown[];
    if (!isPeer(peer) || !isName(name)) return null;
    snapshot.names.push([peer, name]);
  }
  for (const item of entries.slice(-MAX_ENTRIES)) {
    const entry = parseEntry(item);
    if (!entry) return null;
    snapshot.entries.push(entry);
  }
  return snapshot;
}

const emptyStep = (): Step => ({ frames: [], events: [], persist: false });

/** Map key of a received stream: streams are kept per sending peer. */
const streamKey = (peer: string, senderId: string): string => `${peer} ${senderId}`;

/** What is kept per received stream. */
interface StreamState {
  peer: string;
  senderId: string;
  /** Highest contiguous delivered seq. */
  delivered: number;
  /** Delivered seq known to be in storage. */
  durable: number;
  /** Highest `upTo` acknowledged on the wire. */
  acked: number;
  /** Frames that came before their turn, by seq. */
  early: Map<number, ChatFrame>;
}

/**
 * The chat of one room, for one person: my outbox and streams to each peer, the peer streams I
 * receive, names, the conversation as shown, and keep-alive pings per peer.
 *
 * How the room session drives it:
 * - on a data channel to `peer` opening: {@link connect}; on it closing (or the link being
 *   dropped): {@link disconnect};
 * - each text message from `peer`'s channel: {@link receive}; the Send button: {@link send} with
 *   the people in the room at that moment; the name box: {@link setName};
 * - every {@link PING_INTERVAL_MS}, per connected peer: {@link ping};
 * - write every returned frame on its peer's channel, in order (a failed write means that channel
 *   is gone: call {@link disconnect} for that peer); after any step with `persist`, save
 *   {@link snapshot}, and once that save has finished, pass the same snapshot to {@link saved}
 *   and write its frames (the acknowledgements); `SnapshotWriter` in outbox-store.ts does the
 *   saving part;
 * - re-read {@link entries} after every call.
 */
export class Conversation {
  /** The stream id of this page load: 16 hex digits, fresh per construction. */
  readonly senderId: string;

  readonly #random: Crypto;
  #name: string;
  /** Peers with an open channel. */
  #connected = new Set<string>();
  /** Next seq of this load's stream, per recipient. */
  #nextSeq = new Map<string, number>();
  /** Unacknowledged by someone, in the order first sent. */
  #outbox: PendingMessage[] = [];
  /** Recipients per message at send time, for "delivered to 2 of 3". */
  #entries: readonly ConversationEntry[] = [];
  #ids = new Set<string>();
  /** Received streams; Map order is least recently heard first. */
  #streams = new Map<string, StreamState>();
  /** Names as last heard, per peer; Map order is least recently heard first. */
  #names = new Map<string, string>();
  /** Pending pings per peer: id → my clock when sent, ms. */
  #pings = new Map<string, Map<string, number>>();
  #lastHeardAt = new Map<string, number>();
  /** Per peer: frames refused over a bound, and bytes held out of order ({@link heldBytes}). */
  #budget = new Map<string, { refused: number; held: number }>();
  /** Peers past {@link MAX_REFUSED_FRAMES}: ignored from then on. */
  #ignored = new Set<string>();

  constructor(options: ConversationOptions = {}) {
    this.#random = options.random ?? globalThis.crypto;
    this.senderId = newMessageId(this.#random);
    this.#name = normalizeName(options.name ?? '');
    const snapshot = options.snapshot;
    if (!snapshot) return;
    this.#outbox = snapshot.outbox.map((message) => ({ ...message, to: [...message.to] }));
    for (const [peer, name] of snapshot.names) this.#names.set(peer, name);
    for (const [peer, senderId, delivered] of snapshot.received) {
      // Not re-acked wholesale: a peer that still waits resends, and a duplicate is acked at once.
      this.#streams.set(streamKey(peer, senderId), {
        peer,
        senderId,
        delivered,
        durable: delivered,
        acked: delivered,
        early: new Map(),
      });
    }
    this.#setEntries(snapshot.entries);
    // Nothing is on a channel yet: whatever waits for an ack waits for the next one.
    this.#refresh(new Set(this.#outbox.map((message) => message.id)));
  }

  /** The conversation, oldest first; a new array after every change (for `$state.raw`). */
  get entries(): readonly ConversationEntry[] {
    return this.#entries;
  }

  /** Peers with an open channel, between {@link connect} and {@link disconnect}. */
  get connected(): ReadonlySet<string> {
    return this.#connected;
  }

  /** Messages of mine not yet acknowledged by every recipient. */
  get outboxSize(): number {
    return this.#outbox.length;
  }

  /** Messages of mine that `peer` has not acknowledged yet. */
  waitingFor(peer: string): number {
    return this.#outbox.filter((message) => message.to.some((r) => r.peer === peer)).length;
  }

  /** `peer`'s name as last heard (`''` = they have not set one), or `undefined` if never heard. */
  nameOf(peer: string): string | undefined {
    return this.#names.get(peer);
  }

  /** When the last valid frame from `peer` arrived, by {@link receive}'s `nowMs`; else `null`. */
  lastHeardAt(peer: string): number | null {
    return this.#lastHeardAt.get(peer) ?? null;
  }

  /**
   * Adds a message of mine for `recipients` (peer ids: the people in the room now, not me).
   * Returns `null` (nothing changed; the caller keeps the draft) for text that
   * {@link composeMessage} refuses, for no recipients, or when {@link MAX_OUTBOX_MESSAGES} wait
   * already. Otherwise the entry and a frame for each connected recipient.
   *
   * @param nowMs Wall clock, ms since the Unix epoch.
   */
  send(
    text: string,
    nowMs: number,
    recipients: readonly string[],
  ): (Step & { entry: SentEntry }) | null {
    const peers = [...new Set(recipients)].filter(isPeer);
    if (peers.length === 0 || this.#outbox.length >= MAX_OUTBOX_MESSAGES) return null;
    const wire = composeMessage(text, nowMs, newMessageId(this.#random));
    if (!wire) return null;
    const to = peers.map((peer) => {
      const seq = this.#nextSeq.get(peer) ?? 1;
      this.#nextSeq.set(peer, seq + 1);
      return { peer, seq };
    });
    const message: PendingMessage = {
      id: wire.id,
      senderId: this.senderId,
      text,
      sentAt: nowMs,
      to,
    };
    this.#outbox.push(message);
    const entry: SentEntry = {
      id: message.id,
      from: 'me',
      text,
      at: nowMs,
      status: this.#statusOf(message),
      recipients: to.length,
      delivered: 0,
    };
    this.#setEntries([...this.#entries, entry]);
    const frames: Outgoing[] = [];
    for (const recipient of to) {
      if (!this.#connected.has(recipient.peer)) continue;
      const floor = this.#floor(recipient.peer, message.senderId);
      frames.push({ to: recipient.peer, frame: chatFrame(message, recipient.seq, floor) });
    }
    return { entry, frames, events: [], persist: true };
  }

  /**
   * A data channel to `peer` is open: returns my name, then everything `peer` has not
   * acknowledged, in the order first sent, and marks it `'sent'` where no one else waits on a
   * closed channel. Calling it again (a new channel) resends again; the peer drops duplicates.
   */
  connect(peer: string): Step {
    this.#connected.add(peer);
    const frames: Outgoing[] = [{ to: peer, frame: { type: 'name', name: this.#name } }];
    const floors = new Map<string, number>();
    const touched = new Set<string>();
    for (const message of this.#outbox) {
      const recipient = message.to.find((r) => r.peer === peer);
      if (!recipient) continue;
      if (!floors.has(message.senderId)) floors.set(message.senderId, recipient.seq - 1);
      const floor = floors.get(message.senderId) ?? 0;
      frames.push({ to: peer, frame: chatFrame(message, recipient.seq, floor) });
      touched.add(message.id);
    }
    this.#refresh(touched);
    return { frames, events: [], persist: false };
  }

  /**
   * The channel to `peer` closed (or the link was dropped): what it has not acknowledged goes
   * back to `'queued'` until the next {@link connect}; its pending pings are forgotten.
   */
  disconnect(peer: string): void {
    if (!this.#connected.delete(peer)) return;
    this.#pings.delete(peer);
    const waiting = this.#outbox.filter((message) => message.to.some((r) => r.peer === peer));
    this.#refresh(new Set(waiting.map((message) => message.id)));
  }

  /**
   * Changes my name (names.ts rules; `''` = the default) and returns a {@link NameFrame} for every
   * connected peer. `null` when it did not change.
   */
  setName(name: string): Step | null {
    const next = normalizeName(name);
    if (next === this.#name) return null;
    this.#name = next;
    const frames = [...this.#connected].map((to) => ({
      to,
      frame: { type: 'name', name: next } satisfies NameFrame,
    }));
    return { frames, events: [], persist: false };
  }

  /**
   * One text message from `peer`'s data channel. Off-protocol text is ignored (empty step). Frames
   * are returned only while connected to `peer` (pongs, and acks for duplicates already saved).
   *
   * @param nowMs Wall clock, ms since the Unix epoch: the `at` of received lines, and the clock
   *   that RTTs are measured on (the same one given to {@link ping}).
   */
  receive(peer: string, raw: string, nowMs: number): Step {
    if (this.#ignored.has(peer)) return emptyStep();
    const frame = parseFrame(raw);
    if (!frame) return emptyStep();
    this.#lastHeardAt.set(peer, nowMs);
    switch (frame.type) {
      case 'chat':
        return this.#onChat(peer, frame, nowMs);
      case 'ack':
        return this.#onAck(peer, frame);
      case 'name':
        return this.#onName(peer, frame.name);
      case 'ping':
        return {
          frames: this.#connected.has(peer)
            ? [{ to: peer, frame: { type: 'pong', id: frame.id } satisfies PongFrame }]
            : [],
          events: [],
          persist: false,
        };
      case 'pong': {
        const pings = this.#pings.get(peer);
        const sentAt = pings?.get(frame.id);
        pings?.delete(frame.id);
        // A wall clock can step backwards; such a sample says nothing about the link.
        if (sentAt === undefined || nowMs < sentAt) return emptyStep();
        return {
          frames: [],
          events: [{ type: 'rtt', peer, rttMs: nowMs - sentAt }],
          persist: false,
        };
      }
    }
  }

  /**
   * A keep-alive ping to write to `peer` now, or `null` while not connected to it. Its pong
   * yields an `'rtt'` event from {@link receive}.
   *
   * @param nowMs Wall clock, ms since the Unix epoch (the same clock as {@link receive}'s).
   */
  ping(peer: string, nowMs: number): PingFrame | null {
    if (!this.#connected.has(peer)) return null;
    const frame: PingFrame = { type: 'ping', id: newMessageId(this.#random), sentAt: nowMs };
    let pings = this.#pings.get(peer);
    if (!pings) this.#pings.set(peer, (pings = new Map()));
    pings.set(frame.id, nowMs);
    for (const id of pings.keys()) {
      if (pings.size <= MAX_PENDING_PINGS) break;
      pings.delete(id);
    }
    return frame;
  }

  /**
   * The state to persist now; plain data, shares no mutable object with the conversation. Pass
   * the same object to {@link saved} once it is stored.
   */
  snapshot(): ConversationSnapshot {
    return {
      version: SNAPSHOT_VERSION,
      outbox: this.#outbox.map((message) => ({
        ...message,
        to: message.to.map((r) => ({ ...r })),
      })),
      received: [...this.#streams.values()].map((s) => [s.peer, s.senderId, s.delivered]),
      names: [...this.#names],
      entries: [...this.#entries],
    };
  }

  /**
   * `snapshot` (from {@link snapshot}) is now stored: returns the acknowledgements it makes
   * possible, one per stream whose saved seq went past what was acked, each to the peer that sent
   * the stream. None to a peer while disconnected from it; its resend on the next channel asks
   * again, and is acked at once.
   */
  saved(snapshot: ConversationSnapshot): Outgoing[] {
    const frames: Outgoing[] = [];
    for (const [peer, senderId, seq] of snapshot.received) {
      // A stream forgotten since the snapshot was taken stays forgotten.
      const stream = this.#streams.get(streamKey(peer, senderId));
      if (!stream) continue;
      stream.durable = Math.max(stream.durable, seq);
      if (!this.#connected.has(peer) || stream.durable <= stream.acked) continue;
      frames.push({ to: peer, frame: this.#ack(stream, stream.durable) });
    }
    return frames;
  }

  /** Whether `peer` is ignored for going past {@link MAX_REFUSED_FRAMES}. */
  isIgnored(peer: string): boolean {
    return this.#ignored.has(peer);
  }

  /** Bytes held out of order for `peer` now ({@link heldBytes}), ≤ {@link MAX_HELD_BYTES_PER_PEER}. */
  heldFor(peer: string): number {
    return this.#budget.get(peer)?.held ?? 0;
  }

  #budgetOf(peer: string): { refused: number; held: number } {
    let budget = this.#budget.get(peer);
    if (!budget) this.#budget.set(peer, (budget = { refused: 0, held: 0 }));
    return budget;
  }

  /** Forgets a held frame (delivered, overtaken by `ackedUpTo`, or its stream forgotten). */
  #release(stream: StreamState, seq: number): void {
    const frame = stream.early.get(seq);
    if (!frame) return;
    stream.early.delete(seq);
    this.#budgetOf(stream.peer).held -= heldBytes(frame);
  }

  #forgetStream(key: string, stream: StreamState): void {
    for (const seq of [...stream.early.keys()]) this.#release(stream, seq);
    this.#streams.delete(key);
  }

  /** One frame from `peer` refused over a bound; past {@link MAX_REFUSED_FRAMES}, `peer` is ignored. */
  #refuse(peer: string, step: Step, why: string): void {
    const budget = this.#budgetOf(peer);
    budget.refused += 1;
    if (budget.refused <= MAX_REFUSED_FRAMES) return;
    this.#ignored.add(peer);
    for (const stream of this.#streams.values()) {
      if (stream.peer !== peer) continue;
      for (const seq of [...stream.early.keys()]) this.#release(stream, seq);
    }
    step.events.push({
      type: 'misbehaving',
      peer,
      reason:
        `Sent more than ${MAX_REFUSED_FRAMES} chat messages that could never be shown in order ` +
        `(${why}), so this page stopped listening to them.`,
    });
  }

  #onChat(peer: string, frame: ChatFrame, nowMs: number): Step {
    const step = emptyStep();
    const key = streamKey(peer, frame.senderId);
    let stream = this.#streams.get(key);
    const known = stream?.delivered;
    if (!stream) {
      stream = {
        peer,
        senderId: frame.senderId,
        delivered: 0,
        durable: 0,
        acked: 0,
        early: new Map(),
      };
      // A new stream of this peer: its least recently heard one goes past the bound, and only its.
      const own = [...this.#streams].filter(([, s]) => s.peer === peer);
      for (const [oldKey, old] of own.slice(
        0,
        Math.max(0, own.length + 1 - MAX_STREAMS_PER_PEER),
      )) {
        this.#forgetStream(oldKey, old);
      }
    }
    // The stream is now the most recently heard one.
    this.#streams.delete(key);
    this.#streams.set(key, stream);
    if (frame.ackedUpTo > stream.delivered) stream.delivered = frame.ackedUpTo;
    if (known === undefined || stream.delivered > known) step.persist = true;
    for (const seq of [...stream.early.keys()]) {
      if (seq <= stream.delivered) this.#release(stream, seq);
    }

    if (frame.seq <= stream.delivered) {
      // Its ack was lost with the channel: say it again, if it is stored already. If it is not,
      // a save is due, and `saved` acks it then.
      if (frame.seq <= stream.durable && this.#connected.has(peer)) {
        step.frames.push({ to: peer, frame: this.#ack(stream, stream.durable) });
      }
    } else if (frame.seq > stream.delivered + MAX_REORDER_WINDOW) {
      this.#refuse(peer, step, `${MAX_REORDER_WINDOW} or more past the last one shown`);
    } else {
      const budget = this.#budgetOf(peer);
      const early = frame.seq > stream.delivered + 1;
      if (stream.early.has(frame.seq)) {
        // A duplicate of one held already: nothing more to hold.
      } else if (early && stream.early.size >= MAX_EARLY_PER_STREAM) {
        this.#refuse(peer, step, `more than ${MAX_EARLY_PER_STREAM} waiting in one stream`);
      } else if (early && budget.held + heldBytes(frame) > MAX_HELD_BYTES_PER_PEER) {
        this.#refuse(peer, step, `more than ${MAX_HELD_BYTES_PER_PEER / 1024 / 1024} MiB waiting`);
      } else {
        // Held (when it is its turn, only until the loop below delivers it).
        stream.early.set(frame.seq, frame);
        budget.held += heldBytes(frame);
      }
      const added: ConversationEntry[] = [];
      const name = this.#names.get(peer) || defaultName(peer);
      for (let next = stream.early.get(stream.delivered + 1); next;) {
        this.#release(stream, next.seq);
        stream.delivered = next.seq;
        step.persist = true;
        // Belt and braces: an id already shown is not shown twice, whatever its place.
        if (!this.#ids.has(next.id)) {
          const entry: ReceivedEntry = {
            id: next.id,
            from: peer,
            name,
            text: next.text,
            at: nowMs,
          };
          this.#ids.add(next.id);
          added.push(entry);
          step.events.push({ type: 'message', entry });
        }
        next = stream.early.get(stream.delivered + 1);
      }
      if (added.length > 0) this.#setEntries([...this.#entries, ...added]);
    }
    this.#forgetOldStreams();
    return step;
  }

  #onAck(peer: string, frame: AckFrame): Step {
    const done = new Set<string>();
    const touched = new Set<string>();
    this.#outbox = this.#outbox.filter((message) => {
      if (message.senderId !== frame.senderId) return true;
      const before = message.to.length;
      message.to = message.to.filter((r) => r.peer !== peer || r.seq > frame.upTo);
      if (message.to.length === before) return true;
      touched.add(message.id);
      if (message.to.length > 0) return true;
      done.add(message.id);
      return false;
    });
    if (touched.size === 0) return emptyStep();
    this.#refresh(touched);
    const events: DeliveryEvent[] = done.size > 0 ? [{ type: 'delivered', ids: [...done] }] : [];
    return { frames: [], events, persist: true };
  }

  #onName(peer: string, name: string): Step {
    const changed = this.#names.get(peer) !== name;
    this.#names.delete(peer);
    this.#names.set(peer, name);
    for (const old of this.#names.keys()) {
      if (this.#names.size <= MAX_KNOWN_NAMES) break;
      this.#names.delete(old);
    }
    if (!changed) return emptyStep();
    return { frames: [], events: [{ type: 'name', peer, name }], persist: true };
  }

  /**
   * Every seq ≤ this of the stream to `peer` is acknowledged: those before its first waiting
   * message, or all of them sent so far.
   */
  #floor(peer: string, senderId: string): number {
    for (const message of this.#outbox) {
      if (message.senderId !== senderId) continue;
      const recipient = message.to.find((r) => r.peer === peer);
      if (recipient) return recipient.seq - 1;
    }
    return senderId === this.senderId ? (this.#nextSeq.get(peer) ?? 1) - 1 : 0;
  }

  #ack(stream: StreamState, upTo: number): AckFrame {
    stream.acked = Math.max(stream.acked, upTo);
    return { type: 'ack', senderId: stream.senderId, upTo };
  }

  #forgetOldStreams(): void {
    for (const [key, stream] of [...this.#streams]) {
      if (this.#streams.size <= MAX_KNOWN_STREAMS) return;
      this.#forgetStream(key, stream);
    }
  }

  #statusOf(message: PendingMessage | undefined): MessageStatus {
    if (!message) return 'delivered';
    return message.to.every((r) => this.#connected.has(r.peer)) ? 'sent' : 'queued';
  }

  /** Recomputes status and delivered count of my entries with these ids. */
  #refresh(ids: ReadonlySet<string>): void {
    if (ids.size === 0) return;
    const pending = new Map(this.#outbox.map((message) => [message.id, message]));
    let changed = false;
    const entries = this.#entries.map((entry) => {
      // `from !== 'me'` cannot narrow the union (a peer id is any string); `status` can.
      if (!('status' in entry) || !ids.has(entry.id)) return entry;
      const message = pending.get(entry.id);
      const status = this.#statusOf(message);
      const delivered = message ? entry.recipients - message.to.length : entry.recipients;
      if (entry.status === status && entry.delivered === delivered) return entry;
      changed = true;
      return { ...entry, status, delivered: Math.max(0, delivered) };
    });
    if (changed) this.#entries = entries;
  }

  #setEntries(entries: readonly ConversationEntry[]): void {
    const kept = entries.length > MAX_ENTRIES ? entries.slice(-MAX_ENTRIES) : entries;
    this.#entries = kept;
    this.#ids = new Set(kept.map((entry) => entry.id));
  }
}

function chatFrame(message: PendingMessage, seq: number, ackedUpTo: number): ChatFrame {
  const { id, senderId, text, sentAt } = message;
  return { type: 'chat', id, senderId, seq, ackedUpTo, text, sentAt };
}
