/**
 * Every file this page sends or receives in the room (issue #11), as reactive lines for
 * "Messages". It moves bytes between `File`s, the `files` data channel of each peer and the pure
 * transfer state of transfer.ts; everything outside (channels, clocks, ids) comes in through
 * {@link FileDeps}.
 *
 * A file goes to everyone in the room when it is sent, each recipient over its own channel and
 * at its own pace: one slow or gone person never holds the others back. When a channel reopens
 * after the path dropped, every unfinished file is offered again and goes on from what the
 * recipient holds (file-protocol.ts).
 */
/* eslint-disable svelte/prefer-svelte-reactivity -- the maps and sets here are bookkeeping, not
   state: what components read is `lines`, a `$state.raw` array rebuilt whole by `#refresh`. */
import { newMessageId } from '../chat/chat-log.ts';
import {
  CHUNK_HEADER_BYTES,
  decodeChunk,
  encodeChunk,
  encodeFileFrame,
  fileFrameId,
  FILE_PROTOCOL_VERSION,
  MAX_FILE_NAME_CHARS,
  MAX_MIME_CHARS,
  parseFileFrame,
  type FileFrame,
  type FileOfferFrame,
} from './file-protocol.ts';
import { formatBytes, RateMeter } from './progress.ts';
import {
  chunkBytesFor,
  FrontierHash,
  IncomingFile,
  isFinal,
  OutgoingFile,
  type ChunkRange,
  type TransferState,
} from './transfer.ts';

/**
 * Unfinished files one peer may have offered us at once; offers past it are declined with a
 * reason. An honest sender offers as many as its person picked; each unfinished one holds at
 * most `RECEIVE_WINDOW_BYTES` here, so this bounds what one peer can make us hold (issue #16).
 */
export const MAX_INCOMING_PER_PEER = 16;

/**
 * Bytes read from a file at once, then cut into chunks: each `Blob` read is a trip to the
 * browser's blob store (a few ms in Chromium), which at one read per 64 KiB chunk held a
 * loopback transfer to ~2.3 MB/s.
 */
export const READ_BYTES = 1024 * 1024;

/** Views are rebuilt at most this often while bytes move, ms (state changes show at once). */
export const REFRESH_INTERVAL_MS = 250;

/** One person's side of one file, as a progress bar shows it. */
export interface FileRow {
  /** The other person's peer id (for a received file: the sender). */
  peer: string;
  /** Their name as shown. */
  name: string;
  state: TransferState;
  /** Bytes the recipient holds (acknowledged ones, on the sender's side). */
  bytes: number;
  /** bytes/s over the last few seconds; `null` when not measured. */
  rateBytesPerS: number | null;
  /** Waiting for the path to this person to come back. */
  paused: boolean;
  /** Why it failed, was declined or cancelled; `null` otherwise. */
  error: string | null;
  /** Bytes sent more than once after the path dropped (sender's side). */
  resentBytes: number;
}

/** One file in "Messages". */
export interface FileLine {
  /** Unique per line: `out:<id>` or `in:<peer>:<id>`. */
  key: string;
  direction: 'out' | 'in';
  /** Who sent it: `'me'` or the sender's name. */
  fromName: string;
  name: string;
  /** bytes */
  size: number;
  mime: string;
  /** When it was offered (sent or received), ms since the Unix epoch. */
  at: number;
  /** One per recipient when mine; one (mine) when received. */
  rows: FileRow[];
  /** A received file whose hash matched: a `blob:` URL to save it; `null` otherwise. */
  saveUrl: string | null;
}

/** What {@link FileTransfers} uses of the world. */
export interface FileDeps {
  /** Writes one message to `peer`'s `files` channel after backpressure; `false` when not open. */
  send(peer: string, data: string | ArrayBuffer): Promise<boolean>;
  /** `peer`'s largest message, bytes (0 when unknown). */
  maxMessageSize(peer: string): number;
  /** `peer`'s name as shown. */
  nameOf(peer: string): string;
  /** Monotonic clock, ms. */
  now(): number;
  /** ms since the Unix epoch. */
  wallClock(): number;
  /** Largest file this page sends or accepts, bytes. */
  maxFileBytes(): number;
  /** A URL for saving a verified file (the page: `URL.createObjectURL`). */
  urlFor(blob: Blob): string;
  /** Gives back a URL made by {@link urlFor}. */
  releaseUrl(url: string): void;
}

interface Recipient {
  transfer: OutgoingFile;
  rate: RateMeter;
  /** A pump loop is running for this recipient. */
  pumping: boolean;
  /** Something changed while it ran: look again before stopping. */
  again: boolean;
  /** The last block read from the file for this recipient. */
  block: { offset: number; bytes: Uint8Array } | null;
}

interface Outgoing {
  id: string;
  /** The picked file; let go once every recipient's transfer is final (nothing more is read). */
  file: Blob | null;
  offer: Omit<FileOfferFrame, 'id'>;
  at: number;
  hash: FrontierHash;
  recipients: Map<string, Recipient>;
}

interface Incoming {
  peer: string;
  transfer: IncomingFile;
  at: number;
  rate: RateMeter;
  saveUrl: string | null;
}

/** Result of {@link FileTransfers.send}: what went, and what did not and why. */
export interface SendOutcome {
  sent: string[];
  refused: { name: string; reason: string }[];
}

/**
 * Test-only hook (issue #11: "a test-only hook that flips a byte on the receive path"): while
 * `globalThis.__holepunchFlipNextChunk` is `true`, the next chunk received has its first byte
 * flipped before it is hashed and stored, and the flag is cleared.
 */
function maybeCorrupt(bytes: Uint8Array): Uint8Array {
  const hook = globalThis as { __holepunchFlipNextChunk?: boolean };
  if (hook.__holepunchFlipNextChunk !== true || bytes.byteLength === 0) return bytes;
  hook.__holepunchFlipNextChunk = false;
  const copy = bytes.slice();
  copy[0] = copy[0]! ^ 0xff;
  return copy;
}

/** The room's file transfers, both ways. */
export class FileTransfers {
  #lines = $state.raw<readonly FileLine[]>([]);
  readonly #deps: FileDeps;
  readonly #outgoing = new Map<string, Outgoing>();
  readonly #incoming = new Map<string, Incoming>();
  /** Peers whose `files` channel is open. */
  readonly #open = new Set<string>();
  #refreshTimer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  constructor(deps: FileDeps) {
    this.#deps = deps;
  }

  /** Every file line, oldest first. */
  get lines(): readonly FileLine[] {
    return this.#lines;
  }

  /**
   * Offers `files` to `recipients` (peer ids: everyone in the room now). A file over the size
   * limit, or with nobody to send to, is refused with a reason; nothing else is.
   */
  send(files: readonly File[], recipients: readonly string[]): SendOutcome {
    const outcome: SendOutcome = { sent: [], refused: [] };
    const limit = this.#deps.maxFileBytes();
    for (const file of files) {
      if (recipients.length === 0) {
        outcome.refused.push({ name: file.name, reason: 'nobody else is in the room yet' });
      } else if (file.size > limit) {
        outcome.refused.push({
          name: file.name,
          reason: `it is larger than the ${formatBytes(limit)} limit`,
        });
      } else {
        const id = newMessageId();
        const name = (file.name.trim() || 'file').slice(0, MAX_FILE_NAME_CHARS);
        const out: Outgoing = {
          id,
          file,
          offer: {
            t: 'file-offer',
            v: FILE_PROTOCOL_VERSION,
            name,
            size: file.size,
            mime: file.type.slice(0, MAX_MIME_CHARS),
          },
          at: this.#deps.wallClock(),
          hash: new FrontierHash(file.size),
          recipients: new Map(
            recipients.map((peer) => [
              peer,
              {
                transfer: new OutgoingFile(id, file.size),
                rate: new RateMeter(),
                pumping: false,
                again: false,
                block: null,
              },
            ]),
          ),
        };
        this.#outgoing.set(id, out);
        for (const [peer, recipient] of out.recipients) {
          if (this.#open.has(peer)) this.#reply(peer, recipient.transfer.reopened(out.offer));
        }
        outcome.sent.push(name);
      }
    }
    this.#refresh();
    return outcome;
  }

  /** The person accepts a received file (`key` of its line). */
  accept(key: string): void {
    const entry = this.#incoming.get(key.slice(3));
    if (entry) this.#reply(entry.peer, entry.transfer.accept());
    this.#refresh();
  }

  /** The person declines a received file. */
  decline(key: string): void {
    const entry = this.#incoming.get(key.slice(3));
    if (entry) this.#reply(entry.peer, entry.transfer.decline());
    this.#refresh();
  }

  /** The person cancels a file: a received one, or mine to one recipient (`peer`). */
  cancel(key: string, peer?: string): void {
    if (key.startsWith('in:')) {
      const entry = this.#incoming.get(key.slice(3));
      if (entry) this.#reply(entry.peer, entry.transfer.cancel('The recipient cancelled.'));
      this.#refresh();
      return;
    }
    const out = this.#outgoing.get(key.slice(4));
    for (const [to, recipient] of out?.recipients ?? []) {
      if (peer !== undefined && to !== peer) continue;
      if (isFinal(recipient.transfer.state)) continue;
      this.#reply(to, recipient.transfer.cancel('You cancelled.', 'The sender cancelled.'));
    }
    this.#refresh();
  }

  /** `peer`'s `files` channel opened: everything unfinished for them is offered (again). */
  connected(peer: string): void {
    this.#open.add(peer);
    for (const out of this.#outgoing.values()) {
      const recipient = out.recipients.get(peer);
      if (recipient) this.#reply(peer, recipient.transfer.reopened(out.offer));
    }
    // A received file from them no longer shows as waiting for the connection.
    this.#refresh();
  }

  /** `peer`'s channel closed: their transfers pause until it reopens. */
  disconnected(peer: string): void {
    if (!this.#open.delete(peer)) return;
    for (const out of this.#outgoing.values()) out.recipients.get(peer)?.transfer.disconnected();
    this.#refresh();
  }

  /** One message of `peer`'s `files` channel. Never throws. */
  receive(peer: string, data: string | ArrayBuffer): void {
    if (this.#stopped) return;
    if (typeof data !== 'string') {
      this.#chunk(peer, data);
      return;
    }
    const frame = parseFileFrame(data);
    if (!frame) {
      // A frame we cannot read about a transfer we know ends that transfer, saying so.
      const id = fileFrameId(data);
      const entry = id === null ? undefined : this.#incoming.get(`${peer}:${id}`);
      if (entry) this.#reply(peer, entry.transfer.cancel('The sender sent a malformed frame.'));
      const recipient = id === null ? undefined : this.#outgoing.get(id)?.recipients.get(peer);
      if (recipient) {
        this.#reply(
          peer,
          recipient.transfer.cancel(
            'The recipient sent a malformed frame.',
            'The sender could not read a frame from this page.',
          ),
        );
      }
      this.#refresh();
      return;
    }
    this.#dispatch(peer, frame);
  }

  /** Stops every loop and timer and gives back the save URLs (the room view is going away). */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#refreshTimer);
    for (const entry of this.#incoming.values()) {
      if (entry.saveUrl) this.#deps.releaseUrl(entry.saveUrl);
    }
  }

  #dispatch(peer: string, frame: FileFrame): void {
    if (frame.t === 'file-offer') {
      this.#offered(peer, frame);
      return;
    }
    const incoming = this.#incoming.get(`${peer}:${frame.id}`);
    const recipient = this.#outgoing.get(frame.id)?.recipients.get(peer);
    switch (frame.t) {
      case 'file-done':
        if (incoming) this.#reply(peer, incoming.transfer.done(frame.sha256));
        if (incoming?.transfer.state === 'verified') {
          const blob = incoming.transfer.file();
          if (blob) incoming.saveUrl = this.#deps.urlFor(blob);
        }
        break;
      case 'file-cancel':
        incoming?.transfer.cancelled(frame.reason || 'The sender cancelled.');
        recipient?.transfer.cancelled(frame.reason || 'The recipient cancelled.');
        break;
      case 'file-accept':
        if (recipient) this.#outcome(peer, recipient, recipient.transfer.accepted(frame.from));
        break;
      case 'file-ack':
        if (recipient) {
          this.#outcome(peer, recipient, recipient.transfer.ack(frame.upTo));
          recipient.rate.add(this.#deps.now(), recipient.transfer.acked);
          // Progress alone waits for the next scheduled view; a failed ack shows at once.
          if (isFinal(recipient.transfer.state)) break;
          this.#scheduleRefresh();
          return;
        }
        break;
      case 'file-decline':
        recipient?.transfer.declined(frame.reason);
        break;
      case 'file-verified':
        if (recipient) this.#outcome(peer, recipient, recipient.transfer.verified(frame.ok));
        break;
    }
    this.#refresh();
  }

  /** After a sender-side step: a protocol error is told to them; progress may continue. */
  #outcome(peer: string, recipient: Recipient, error: string | null): void {
    if (error !== null) {
      this.#reply(peer, recipient.transfer.farewell());
      return;
    }
    const out = this.#outgoing.get(recipient.transfer.id);
    if (out) void this.#pump(out, peer, recipient);
  }

  #offered(peer: string, frame: FileOfferFrame): void {
    const key = `${peer}:${frame.id}`;
    const known = this.#incoming.get(key);
    if (known) {
      // Their channel reopened: tell them where we stand (resume, or the outcome).
      this.#reply(peer, known.transfer.reoffered());
      this.#refresh();
      return;
    }
    const transfer = new IncomingFile(frame);
    let active = 0;
    for (const entry of this.#incoming.values()) {
      if (entry.peer === peer && !isFinal(entry.transfer.state)) active++;
    }
    const limit = this.#deps.maxFileBytes();
    const reason =
      frame.size > limit
        ? `It is larger than the ${formatBytes(limit)} limit of the recipient.`
        : active >= MAX_INCOMING_PER_PEER
          ? `The recipient already has ${MAX_INCOMING_PER_PEER} files from you in progress.`
          : null;
    this.#incoming.set(key, {
      peer,
      transfer,
      at: this.#deps.wallClock(),
      rate: new RateMeter(),
      saveUrl: null,
    });
    if (reason !== null) this.#reply(peer, transfer.decline(reason));
    this.#refresh();
  }

  #chunk(peer: string, message: ArrayBuffer): void {
    const chunk = decodeChunk(message);
    const entry = chunk && this.#incoming.get(`${peer}:${chunk.id}`);
    if (!chunk || !entry) return; // nothing of ours: a late chunk of a finished or unknown file
    const frames = entry.transfer.chunk(chunk.offset, maybeCorrupt(chunk.bytes));
    if (frames.length > 0) this.#reply(peer, frames);
    entry.rate.add(this.#deps.now(), entry.transfer.received);
    if (isFinal(entry.transfer.state)) this.#refresh();
    else this.#scheduleRefresh();
  }

  /** Writes control frames to `peer`; the caller refreshes the view for what changed. */
  #reply(peer: string, frames: readonly FileFrame[]): void {
    for (const frame of frames) void this.#deps.send(peer, encodeFileFrame(frame));
  }

  /**
   * Sends `out` to `peer` for as long as the transfer lets it (accepted, not paused, window
   * open); an ack, an accept or a reopened channel calls it again. One loop per recipient.
   */
  async #pump(out: Outgoing, peer: string, recipient: Recipient): Promise<void> {
    recipient.again = true;
    if (recipient.pumping) return;
    recipient.pumping = true;
    try {
      while (recipient.again && !this.#stopped) {
        recipient.again = false;
        await this.#sendWhatWeMay(out, peer, recipient);
      }
    } catch (error) {
      // The file could not be read (moved, deleted or changed on disk: NotReadableError).
      const why = error instanceof Error ? error.message : String(error);
      this.#reply(
        peer,
        recipient.transfer.cancel(
          `This page could not read the file (${why}).`,
          'The sender could not read the file.',
        ),
      );
      this.#refresh();
    } finally {
      recipient.pumping = false;
    }
  }

  async #sendWhatWeMay(out: Outgoing, peer: string, recipient: Recipient): Promise<void> {
    const { transfer } = recipient;
    const chunkBytes = chunkBytesFor(this.#deps.maxMessageSize(peer), CHUNK_HEADER_BYTES);
    for (;;) {
      if (!this.#open.has(peer) || this.#stopped) return;
      const range = transfer.next(chunkBytes);
      if (!range) {
        if (isFinal(transfer.state)) recipient.block = null;
        if (transfer.allSent()) {
          recipient.block = null;
          const sha256 = out.hash.hex;
          if (sha256 === null) throw new Error('every byte was sent but the hash is incomplete');
          this.#reply(peer, [{ t: 'file-done', id: out.id, sha256 }]);
          this.#refresh();
        }
        return;
      }
      const bytes = await this.#read(out, recipient, range);
      // A resume or a cancel may have come while reading: look again.
      if (transfer.next(chunkBytes)?.offset !== range.offset) continue;
      transfer.sent(range);
      if (!(await this.#deps.send(peer, encodeChunk(out.id, range.offset, bytes)))) return;
    }
  }

  /** The bytes of `range`, from the recipient's last block or a new {@link READ_BYTES} read. */
  async #read(out: Outgoing, recipient: Recipient, range: ChunkRange): Promise<Uint8Array> {
    const block = recipient.block;
    const start = block ? range.offset - block.offset : -1;
    if (block && start >= 0 && start + range.length <= block.bytes.byteLength) {
      return block.bytes.subarray(start, start + range.length);
    }
    const end = Math.min(out.offer.size, range.offset + Math.max(READ_BYTES, range.length));
    if (!out.file) throw new Error('a finished file was read again');
    const bytes = new Uint8Array(await out.file.slice(range.offset, end).arrayBuffer());
    out.hash.feed(range.offset, bytes);
    recipient.block = { offset: range.offset, bytes };
    return bytes.subarray(0, range.length);
  }

  #scheduleRefresh(): void {
    this.#refreshTimer ??= setTimeout(() => this.#refresh(), REFRESH_INTERVAL_MS);
  }

  #refresh(): void {
    clearTimeout(this.#refreshTimer);
    this.#refreshTimer = undefined;
    if (this.#stopped) return;
    for (const out of this.#outgoing.values()) {
      if (out.file && [...out.recipients.values()].every((r) => isFinal(r.transfer.state))) {
        out.file = null;
      }
    }
    const now = this.#deps.now();
    const lines: FileLine[] = [];
    for (const out of this.#outgoing.values()) {
      lines.push({
        key: `out:${out.id}`,
        direction: 'out',
        fromName: 'me',
        name: out.offer.name,
        size: out.offer.size,
        mime: out.offer.mime,
        at: out.at,
        saveUrl: null,
        rows: [...out.recipients].map(([peer, { transfer, rate }]) => ({
          peer,
          name: this.#deps.nameOf(peer),
          state: transfer.state,
          bytes: transfer.acked,
          rateBytesPerS: transfer.state === 'sending' ? rate.rate(now) : null,
          paused: transfer.paused && !isFinal(transfer.state),
          error: transfer.error,
          resentBytes: transfer.resentBytes,
        })),
      });
    }
    for (const [key, entry] of this.#incoming) {
      const { transfer, peer } = entry;
      lines.push({
        key: `in:${key}`,
        direction: 'in',
        fromName: this.#deps.nameOf(peer),
        name: transfer.name,
        size: transfer.size,
        mime: transfer.mime,
        at: entry.at,
        saveUrl: entry.saveUrl,
        rows: [
          {
            peer,
            name: this.#deps.nameOf(peer),
            state: transfer.state,
            bytes: transfer.received,
            rateBytesPerS: transfer.state === 'sending' ? entry.rate.rate(now) : null,
            paused: !this.#open.has(peer) && !isFinal(transfer.state),
            error: transfer.error,
            resentBytes: 0,
          },
        ],
      });
    }
    lines.sort((a, b) => a.at - b.at);
    this.#lines = lines;
    // While bytes move, keep the rates and times left fresh.
    const moving = lines.some((line) =>
      line.rows.some((row) => row.state === 'sending' && !row.paused),
    );
    if (moving) this.#scheduleRefresh();
  }
}
