/**
 * Reliable, ordered chat over a data channel that comes and goes (issue #4: "Nothing lost, nothing
 * doubled"). Pure: no I/O, no timers; every method returns the frames to write and what changed,
 * and the clock and the random source are parameters.
 *
 * The protocol, per direction:
 * - Every message has a random id and a place `(senderId, seq)` in a *stream*. A stream is what one
 *   page load sends: {@link Conversation} mints a fresh `senderId` each time it is constructed and
 *   numbers its messages 1, 2, 3, … Messages still unacknowledged from earlier page loads keep the
 *   stream and seq they were first sent with, and are resent with them.
 * - The receiver delivers each stream in seq order, buffers what comes early, drops what it has
 *   delivered already, and acknowledges cumulatively: `{type:'ack', senderId, upTo}` means "every
 *   seq ≤ upTo of that stream is delivered *and saved*" (the TCP scheme, RFC 9293 §3.4, with
 *   persistence: an ack is only sent once the snapshot that holds the messages is stored, see
 *   {@link Conversation.saved}, so a reload of the receiver can never lose what was acked).
 * - The sender keeps every unacknowledged message in its outbox and, whenever a channel opens,
 *   resends the whole outbox in the order it was first sent. Within one channel SCTP keeps order
 *   (RFC 8831 §6.6: reliable and ordered by default), so the receiver sees each stream in order
 *   and streams in the order they were sent.
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
 */
import { parseBoundedJson, type JsonLimits } from '../../../../signaling/bounded-json.ts';
import { composeMessage, MAX_MESSAGE_CHARS, newMessageId, type ChatEntry } from './chat-log.ts';

/** Most unacknowledged messages one side keeps; {@link Conversation.send} refuses beyond it. */
export const MAX_OUTBOX_MESSAGES = 1000;

/** Most lines the conversation keeps (and persists); the oldest go first. */
export const MAX_ENTRIES = 2 * MAX_OUTBOX_MESSAGES;

/**
 * Most peer streams whose delivered seq is remembered, least recently heard forgotten first. Each
 * reload of the peer starts a stream; a forgotten one that comes back restarts at its `ackedUpTo`.
 */
export const MAX_KNOWN_STREAMS = 256;

/**
 * How far past the delivered seq a frame may be buffered. The peer never has more than
 * {@link MAX_OUTBOX_MESSAGES} unacknowledged, so a farther frame is off-protocol.
 */
export const MAX_REORDER_WINDOW = MAX_OUTBOX_MESSAGES;

/** Pings awaiting their pong; older ones are forgotten (their pong reports no RTT). */
export const MAX_PENDING_PINGS = 8;

/** Suggested keep-alive period for the session's timer, ms (see {@link Conversation.ping}). */
export const PING_INTERVAL_MS = 2000;

/** Version of {@link ConversationSnapshot}; a stored snapshot of another version is ignored. */
export const SNAPSHOT_VERSION = 1;

/** Where one of my messages is: waiting for a channel, written to one, or acknowledged. */
export type MessageStatus = 'queued' | 'sent' | 'delivered';

/** A chat message on the wire. */
export interface ChatFrame {
  type: 'chat';
  /** Random id, 16 hex digits ({@link newMessageId}). */
  id: string;
  /** The stream: 16 hex digits, new per page load of the sender. */
  senderId: string;
  /** Place in the stream, from 1. */
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

/** Everything the chat sends over the data channel, one JSON text message per frame. */
export type Frame = ChatFrame | AckFrame | PingFrame | PongFrame;

/** One of my messages not yet acknowledged, as kept in the outbox (and persisted). */
export interface PendingMessage {
  id: string;
  senderId: string;
  seq: number;
  text: string;
  /** ms since the Unix epoch. */
  sentAt: number;
}

/** A line I wrote, with its delivery status. */
export interface SentEntry extends ChatEntry {
  from: 'me';
  status: MessageStatus;
}

/** A line the other person wrote (`at` is when it arrived here). */
export interface ReceivedEntry extends ChatEntry {
  from: 'peer';
}

/** One line of the conversation as shown. */
export type ConversationEntry = SentEntry | ReceivedEntry;

/**
 * What is persisted per room: plain JSON-able data, safe for structured clone. The stream id and
 * next seq of the page that saved it are deliberately absent (a restored conversation starts a new
 * stream, see the module comment).
 */
export interface ConversationSnapshot {
  version: typeof SNAPSHOT_VERSION;
  /** Unacknowledged messages in the order first sent; they may belong to earlier streams. */
  outbox: PendingMessage[];
  /** `[senderId, highest contiguous delivered seq]` per peer stream, least recently heard first. */
  received: [string, number][];
  /** The conversation, oldest first, at most {@link MAX_ENTRIES}. */
  entries: ConversationEntry[];
}

/** Something the UI may react to beyond re-reading {@link Conversation.entries}. */
export type DeliveryEvent =
  | { type: 'message'; entry: ReceivedEntry }
  | { type: 'delivered'; ids: string[] }
  | { type: 'rtt'; rttMs: number };

/** Result of one {@link Conversation} call. */
export interface Step {
  /** To write to the data channel now, in this order, each as `JSON.stringify(frame)`. */
  frames: Frame[];
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
}

const HEX16 = /^[0-9a-f]{16}$/;

const isHex16 = (value: unknown): value is string => typeof value === 'string' && HEX16.test(value);
const isCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const isTime = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value);
const isText = (value: unknown): value is string =>
  typeof value === 'string' && value.length > 0 && value.length <= MAX_MESSAGE_CHARS;

/**
 * Structural bounds of a data-channel frame (issue #9): every frame is one flat object of a few
 * fields, so anything nested or wide is refused before it is parsed.
 */
const FRAME_JSON_LIMITS: JsonLimits = { maxDepth: 2, maxItems: 64 };

/**
 * Parses one data-channel message. Never throws: anything off-protocol (past
 * {@link FRAME_JSON_LIMITS}, not JSON, unknown type,
 * a field missing or of the wrong shape, `seq < 1`, `ackedUpTo ≥ seq`, text longer than
 * {@link MAX_MESSAGE_CHARS}) gives `null`. Returns a fresh object; unknown keys drop.
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
    default:
      return null;
  }
}

function parsePending(value: unknown): PendingMessage | null {
  if (typeof value !== 'object' || value === null) return null;
  const { id, senderId, seq, text, sentAt } = value as Record<string, unknown>;
  if (!isHex16(id) || !isHex16(senderId) || !isCount(seq) || seq < 1) return null;
  if (!isText(text) || !isTime(sentAt)) return null;
  return { id, senderId, seq, text, sentAt };
}

function parseEntry(value: unknown): ConversationEntry | null {
  if (typeof value !== 'object' || value === null) return null;
  const { id, from, text, at, status } = value as Record<string, unknown>;
  if (!isHex16(id) || !isText(text) || !isTime(at)) return null;
  if (from === 'peer') return { id, from, text, at };
  if (from !== 'me' || (status !== 'queued' && status !== 'sent' && status !== 'delivered')) {
    return null;
  }
  return { id, from, text, at, status };
}

/**
 * Validates a stored snapshot (it comes from storage another version of the page may have
 * written). Never throws; `null` if anything is off-shape, so the caller starts afresh rather than
 * resending garbage. Rebuilds fresh objects and keeps at most the documented limits.
 */
export function parseSnapshot(value: unknown): ConversationSnapshot | null {
  if (typeof value !== 'object' || value === null) return null;
  const { version, outbox, received, entries } = value as Record<string, unknown>;
  if (version !== SNAPSHOT_VERSION || !Array.isArray(outbox) || !Array.isArray(received)) {
    return null;
  }
  if (!Array.isArray(entries)) return null;
  const snapshot: ConversationSnapshot = { version, outbox: [], received: [], entries: [] };
  for (const item of outbox.slice(-MAX_OUTBOX_MESSAGES)) {
    const pending = parsePending(item);
    if (!pending) return null;
    snapshot.outbox.push(pending);
  }
  for (const item of received.slice(-MAX_KNOWN_STREAMS)) {
    if (!Array.isArray(item) || item.length !== 2) return null;
    const [senderId, delivered] = item as unknown[];
    if (!isHex16(senderId) || !isCount(delivered)) return null;
    snapshot.received.push([senderId, delivered]);
  }
  for (const item of entries.slice(-MAX_ENTRIES)) {
    const entry = parseEntry(item);
    if (!entry) return null;
    snapshot.entries.push(entry);
  }
  return snapshot;
}

const emptyStep = (): Step => ({ frames: [], events: [], persist: false });

/**
 * Both directions of the chat with one peer, for one room: my outbox and stream, the peer streams
 * I receive, the conversation as shown, and keep-alive pings.
 *
 * How the session drives it:
 * - on data channel open: {@link connect}; on close (or dropping the link): {@link disconnect};
 * - each text message from the channel: {@link receive}; the Send button: {@link send};
 * - every {@link PING_INTERVAL_MS} while connected: {@link ping};
 * - write every returned frame, in order (a failed write means the channel is gone: call
 *   {@link disconnect}); after any step with `persist`, save {@link snapshot}, and once that save
 *   has finished, pass the same snapshot to {@link saved} and write its frames (the
 *   acknowledgements); `SnapshotWriter` in outbox-store.ts does the saving part;
 * - re-read {@link entries} after every call.
 */
export class Conversation {
  /** The stream this page load sends on: 16 hex digits, fresh per construction. */
  readonly senderId: string;

  readonly #random: Crypto;
  #connected = false;
  #nextSeq = 1;
  /** Unacknowledged, in the order first sent (so also in seq order per stream). */
  #outbox: PendingMessage[] = [];
  #entries: readonly ConversationEntry[] = [];
  #ids = new Set<string>();
  /** Highest contiguous delivered seq per peer stream; Map order is least recently heard first. */
  #delivered = new Map<string, number>();
  /** Per peer stream, the delivered seq known to be in storage. */
  #durable = new Map<string, number>();
  /** Per peer stream, the highest `upTo` acknowledged on the wire. */
  #acked = new Map<string, number>();
  /** Per peer stream, frames that came before their turn, by seq. */
  #early = new Map<string, Map<number, ChatFrame>>();
  /** Pending pings: id → my clock when sent, ms. */
  #pings = new Map<string, number>();
  #lastHeardAt: number | null = null;

  constructor(options: ConversationOptions = {}) {
    this.#random = options.random ?? globalThis.crypto;
    this.senderId = newMessageId(this.#random);
    const snapshot = options.snapshot;
    if (!snapshot) return;
    this.#outbox = [...snapshot.outbox];
    const pending = new Set(this.#outbox.map((message) => message.id));
    // Nothing is on a channel yet: whatever waits for an ack waits for the next one.
    this.#setEntries(
      snapshot.entries.map((entry) =>
        entry.from === 'me' && pending.has(entry.id) ? { ...entry, status: 'queued' } : entry,
      ),
    );
    for (const [senderId, delivered] of snapshot.received) {
      this.#delivered.set(senderId, delivered);
      this.#durable.set(senderId, delivered);
      // Not re-acked wholesale: a peer that still waits resends, and a duplicate is acked at once.
      this.#acked.set(senderId, delivered);
    }
  }

  /** The conversation, oldest first; a new array after every change (for `$state.raw`). */
  get entries(): readonly ConversationEntry[] {
    return this.#entries;
  }

  /** True between {@link connect} and {@link disconnect}. */
  get connected(): boolean {
    return this.#connected;
  }

  /** Messages of mine not yet acknowledged. */
  get outboxSize(): number {
    return this.#outbox.length;
  }

  /** When the last valid frame arrived, by the `nowMs` given to {@link receive}; `null` if none. */
  get lastHeardAt(): number | null {
    return this.#lastHeardAt;
  }

  /**
   * Adds a message of mine. Returns `null` (nothing changed; the caller keeps the draft) for text
   * that {@link composeMessage} refuses or when {@link MAX_OUTBOX_MESSAGES} wait already.
   * Otherwise the entry (`'sent'` if connected, else `'queued'`) and its frame if connected.
   *
   * @param nowMs Wall clock, ms since the Unix epoch.
   */
  send(text: string, nowMs: number): (Step & { entry: SentEntry }) | null {
    if (this.#outbox.length >= MAX_OUTBOX_MESSAGES) return null;
    const wire = composeMessage(text, nowMs, newMessageId(this.#random));
    if (!wire) return null;
    const message: PendingMessage = {
      id: wire.id,
      senderId: this.senderId,
      seq: this.#nextSeq++,
      text,
      sentAt: nowMs,
    };
    this.#outbox.push(message);
    const status = this.#connected ? 'sent' : 'queued';
    const entry: SentEntry = { id: message.id, from: 'me', text, at: nowMs, status };
    this.#setEntries([...this.#entries, entry]);
    const frames = this.#connected ? [this.#chatFrame(message, this.#floor(message.senderId))] : [];
    return { entry, frames, events: [], persist: true };
  }

  /**
   * A data channel to the peer is open: returns the whole outbox, in the order first sent, and
   * marks it `'sent'`. Calling it again (a new channel) resends again; the peer drops duplicates.
   */
  connect(): Step {
    this.#connected = true;
    const floors = new Map<string, number>();
    for (const message of this.#outbox) {
      if (!floors.has(message.senderId)) floors.set(message.senderId, message.seq - 1);
    }
    const frames = this.#outbox.map((message) =>
      this.#chatFrame(message, floors.get(message.senderId) ?? 0),
    );
    this.#setStatus(new Set(this.#outbox.map((message) => message.id)), 'sent');
    return { frames, events: [], persist: false };
  }

  /**
   * The channel closed (or the link was dropped): unacknowledged messages go back to `'queued'`
   * until the next {@link connect}; pending pings are forgotten.
   */
  disconnect(): void {
    this.#connected = false;
    this.#pings.clear();
    const waiting = new Set(this.#outbox.map((message) => message.id));
    this.#setStatus(waiting, 'queued');
  }

  /**
   * One text message from the data channel. Off-protocol text is ignored (empty step). Frames are
   * returned only while connected (pongs, and acks for duplicates already saved).
   *
   * @param nowMs Wall clock, ms since the Unix epoch: the `at` of received lines, and the clock
   *   that RTTs are measured on (the same one given to {@link ping}).
   */
  receive(raw: string, nowMs: number): Step {
    const frame = parseFrame(raw);
    if (!frame) return emptyStep();
    this.#lastHeardAt = nowMs;
    switch (frame.type) {
      case 'chat':
        return this.#onChat(frame, nowMs);
      case 'ack':
        return this.#onAck(frame);
      case 'ping':
        return {
          frames: this.#connected ? [{ type: 'pong', id: frame.id } satisfies PongFrame] : [],
          events: [],
          persist: false,
        };
      case 'pong': {
        const sentAt = this.#pings.get(frame.id);
        this.#pings.delete(frame.id);
        // A wall clock can step backwards; such a sample says nothing about the link.
        if (sentAt === undefined || nowMs < sentAt) return emptyStep();
        return { frames: [], events: [{ type: 'rtt', rttMs: nowMs - sentAt }], persist: false };
      }
    }
  }

  /**
   * A keep-alive ping to write now, or `null` while not connected. Its pong yields an `'rtt'`
   * event from {@link receive}.
   *
   * @param nowMs Wall clock, ms since the Unix epoch (the same clock as {@link receive}'s).
   */
  ping(nowMs: number): PingFrame | null {
    if (!this.#connected) return null;
    const frame: PingFrame = { type: 'ping', id: newMessageId(this.#random), sentAt: nowMs };
    this.#pings.set(frame.id, nowMs);
    for (const id of this.#pings.keys()) {
      if (this.#pings.size <= MAX_PENDING_PINGS) break;
      this.#pings.delete(id);
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
      outbox: [...this.#outbox],
      received: [...this.#delivered],
      entries: [...this.#entries],
    };
  }

  /**
   * `snapshot` (from {@link snapshot}) is now stored: returns the acknowledgements it makes
   * possible, one per peer stream whose saved seq went past what was acked. None while
   * disconnected; the peer's resend on the next channel asks again, and is acked at once.
   */
  saved(snapshot: ConversationSnapshot): AckFrame[] {
    const frames: AckFrame[] = [];
    for (const [senderId, seq] of snapshot.received) {
      // A stream forgotten since the snapshot was taken stays forgotten.
      if (!this.#delivered.has(senderId)) continue;
      const durable = Math.max(this.#durable.get(senderId) ?? 0, seq);
      this.#durable.set(senderId, durable);
      if (!this.#connected) continue;
      if (durable > (this.#acked.get(senderId) ?? 0)) frames.push(this.#ack(senderId, durable));
    }
    return frames;
  }

  #onChat(frame: ChatFrame, nowMs: number): Step {
    const step = emptyStep();
    const { senderId } = frame;
    const known = this.#delivered.get(senderId);
    let delivered = Math.max(known ?? 0, frame.ackedUpTo);
    if (known === undefined || delivered > known) step.persist = true;
    // The stream is now the most recently heard one.
    this.#delivered.delete(senderId);
    this.#delivered.set(senderId, delivered);

    let early = this.#early.get(senderId);
    if (early) for (const seq of early.keys()) if (seq <= delivered) early.delete(seq);

    if (frame.seq <= delivered) {
      // Its ack was lost with the channel: say it again, if it is stored already. If it is not,
      // a save is due, and `saved` acks it then.
      const durable = this.#durable.get(senderId) ?? 0;
      if (frame.seq <= durable && this.#connected) step.frames.push(this.#ack(senderId, durable));
    } else if (frame.seq <= delivered + MAX_REORDER_WINDOW) {
      if (!early) this.#early.set(senderId, (early = new Map()));
      if (!early.has(frame.seq)) early.set(frame.seq, frame);
      const added: ConversationEntry[] = [];
      for (let next = early.get(delivered + 1); next; next = early.get(delivered + 1)) {
        early.delete(next.seq);
        delivered = next.seq;
        // Belt and braces: an id already shown is not shown twice, whatever its place.
        if (this.#ids.has(next.id)) continue;
        const entry: ReceivedEntry = { id: next.id, from: 'peer', text: next.text, at: nowMs };
        this.#ids.add(next.id);
        added.push(entry);
        step.events.push({ type: 'message', entry });
      }
      if (early.size === 0) this.#early.delete(senderId);
      if (delivered > (known ?? 0)) {
        this.#delivered.set(senderId, delivered);
        step.persist = true;
      }
      if (added.length > 0) this.#setEntries([...this.#entries, ...added]);
    }
    this.#forgetOldStreams();
    return step;
  }

  #onAck(frame: AckFrame): Step {
    const done = new Set<string>();
    this.#outbox = this.#outbox.filter((message) => {
      const acked = message.senderId === frame.senderId && message.seq <= frame.upTo;
      if (acked) done.add(message.id);
      return !acked;
    });
    if (done.size === 0) return emptyStep();
    this.#setStatus(done, 'delivered');
    return { frames: [], events: [{ type: 'delivered', ids: [...done] }], persist: true };
  }

  /** Every seq ≤ this of the stream is acknowledged: those before its first waiting message. */
  #floor(senderId: string): number {
    const first = this.#outbox.find((message) => message.senderId === senderId);
    return first ? first.seq - 1 : this.#nextSeq - 1;
  }

  #chatFrame(message: PendingMessage, ackedUpTo: number): ChatFrame {
    return { type: 'chat', ...message, ackedUpTo };
  }

  #ack(senderId: string, upTo: number): AckFrame {
    this.#acked.set(senderId, Math.max(this.#acked.get(senderId) ?? 0, upTo));
    return { type: 'ack', senderId, upTo };
  }

  #forgetOldStreams(): void {
    for (const senderId of this.#delivered.keys()) {
      if (this.#delivered.size <= MAX_KNOWN_STREAMS) return;
      for (const map of [this.#delivered, this.#durable, this.#acked, this.#early]) {
        map.delete(senderId);
      }
    }
  }

  #setStatus(ids: ReadonlySet<string>, status: MessageStatus): void {
    if (ids.size === 0) return;
    let changed = false;
    const entries = this.#entries.map((entry) => {
      if (entry.from !== 'me' || !ids.has(entry.id) || entry.status === status) return entry;
      changed = true;
      return { ...entry, status };
    });
    if (changed) this.#entries = entries;
  }

  #setEntries(entries: readonly ConversationEntry[]): void {
    const kept = entries.length > MAX_ENTRIES ? entries.slice(-MAX_ENTRIES) : entries;
    this.#entries = kept;
    this.#ids = new Set(kept.map((entry) => entry.id));
  }
}
