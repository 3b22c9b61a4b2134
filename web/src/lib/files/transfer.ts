/**
 * One file transfer, each side of it (issue #11), as pure state: no channel, no timers, no file
 * reads. {@link OutgoingFile} is the sender's view of one recipient; {@link IncomingFile} is the
 * recipient's. Their methods take what arrived and return the control frames to send back; the
 * reactive layer (file-transfers.svelte.ts) moves bytes and frames.
 *
 * Bounds (issue #16: "a receiver never holds more than a bounded window of unacknowledged chunks
 * per transfer, whatever the sender claims"): a recipient keeps at most {@link FLUSH_BYTES} of a
 * file in JavaScript memory before moving it into a `Blob` (which the browser keeps outside the
 * JS heap, on disk when large) and acknowledging it, and it refuses — ending the transfer — any
 * chunk that reaches more than {@link RECEIVE_WINDOW_BYTES} past what it acknowledged. An honest
 * sender never sends past that window, so only a broken or hostile one is stopped by it.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { FileFrame, FileOfferFrame } from './file-protocol.ts';

/**
 * Most bytes a sender may have sent past the recipient's last acknowledgement, per transfer.
 * Throughput is at most window / RTT: 8 MiB over a 100 ms path is 80 MiB/s, above what one SCTP
 * association carries in Chromium (bench/, BENCHMARKS.md); it is also what a recipient may have
 * to hold in JS memory at worst, with {@link FLUSH_BYTES} of it not yet in a Blob.
 */
export const RECEIVE_WINDOW_BYTES = 8 * 1024 * 1024;

/** A recipient moves what it holds into its Blob, and acknowledges it, every this many bytes. */
export const FLUSH_BYTES = 1024 * 1024;

/**
 * Payload bytes per chunk message: 64 KiB, under every browser's `maxMessageSize` (Chromium
 * 256 KiB, Firefox 1 GiB; RFC 8841 §6 default 64 KiB) and large enough that the 17-byte header
 * and per-message work are noise. Capped by the channel's actual limit ({@link chunkBytesFor}).
 */
export const CHUNK_BYTES = 64 * 1024;

/** Largest payload for a channel whose `RTCSctpTransport.maxMessageSize` is `maxMessageSize`. */
export function chunkBytesFor(maxMessageSize: number, headerBytes: number): number {
  const limit = maxMessageSize > 0 ? maxMessageSize - headerBytes : CHUNK_BYTES;
  return Math.max(1024, Math.min(CHUNK_BYTES, limit));
}

/** Where a transfer stands, on either side. */
export type TransferState =
  | 'offered' // waiting for the recipient to accept or decline
  | 'sending' // bytes are moving (or waiting for the path to come back)
  | 'checking' // every byte sent; waiting for the recipient's hash verdict
  | 'verified' // the recipient's copy matches the sender's SHA-256
  | 'corrupt' // it does not: no save is offered
  | 'declined'
  | 'cancelled'
  | 'failed'; // the other side broke the protocol; `error` says how

/** States after which nothing more happens. */
export function isFinal(state: TransferState): boolean {
  return (
    state === 'verified' ||
    state === 'corrupt' ||
    state === 'declined' ||
    state === 'cancelled' ||
    state === 'failed'
  );
}

/** The next range a sender should read from the file and send. */
export interface ChunkRange {
  offset: number;
  /** bytes */
  length: number;
}

/** The sender's side of one file to one recipient. */
export class OutgoingFile {
  readonly id: string;
  /** bytes */
  readonly size: number;
  #state: TransferState = 'offered';
  /** Next offset to send. */
  #cursor = 0;
  /** Highest offset ever sent (for {@link resentBytes}). */
  #highest = 0;
  #acked = 0;
  #resent = 0;
  #error: string | null = null;
  /** The channel dropped: nothing is sent until the recipient says where to resume. */
  #paused = false;
  /** What to repeat on a reopened channel once final by our doing (a cancel, a failure). */
  #repeat: FileFrame | null = null;
  readonly #windowBytes: number;

  constructor(id: string, size: number, windowBytes = RECEIVE_WINDOW_BYTES) {
    this.id = id;
    this.size = size;
    this.#windowBytes = windowBytes;
  }

  get state(): TransferState {
    return this.#state;
  }
  /** Bytes the recipient has acknowledged as stored: what progress shows. */
  get acked(): number {
    return this.#acked;
  }
  /** Bytes sent more than once because the path dropped with them unacknowledged. */
  get resentBytes(): number {
    return this.#resent;
  }
  /** What went wrong, for `failed`, `declined` (their reason) and `cancelled`. */
  get error(): string | null {
    return this.#error;
  }
  /** Waiting for the path to come back and the recipient to say where to resume. */
  get paused(): boolean {
    return this.#paused;
  }

  /** The offer to (re)send when a channel to the recipient opens; `null` once final. */
  offer(frame: Omit<FileOfferFrame, 'id'>): FileOfferFrame | null {
    if (isFinal(this.#state)) return null;
    return { ...frame, id: this.id };
  }

  /**
   * What to send when a channel to the recipient (re)opens: the offer while unfinished (they
   * answer with where to resume), our cancel or failure again if we ended it (the drop may have
   * lost it), nothing once they gave the outcome.
   */
  reopened(frame: Omit<FileOfferFrame, 'id'>): FileFrame[] {
    const offer = this.offer(frame);
    return offer ? [offer] : this.farewell();
  }

  /** Our cancel or failure notice, once we ended the transfer; `[]` otherwise. */
  farewell(): FileFrame[] {
    return this.#repeat ? [this.#repeat] : [];
  }

  /**
   * The person sending cancels: `reason` is what they read, `told` what the recipient reads.
   * Returns the frame to send (and to repeat on a reopened channel).
   */
  cancel(reason: string, told: string): FileFrame[] {
    if (isFinal(this.#state)) return [];
    this.#state = 'cancelled';
    this.#error = reason;
    this.#repeat = { t: 'file-cancel', id: this.id, reason: told };
    return [this.#repeat];
  }

  /** The channel to the recipient closed: what is in flight may be lost. */
  disconnected(): void {
    if (!isFinal(this.#state)) this.#paused = true;
  }

  /**
   * The recipient accepted, or (after a drop) told us what it holds: sending goes on from
   * `from`. Returns an error text if `from` is impossible (past what was sent, or past the end).
   */
  accepted(from: number): string | null {
    if (isFinal(this.#state)) return null;
    if (from > this.#highest || from > this.size) {
      return this.#fail(`they asked to resume at byte ${from}, which was never sent`);
    }
    if (from < this.#acked) {
      return this.#fail(
        `they asked to resume at byte ${from}, below their own ack of ${this.#acked}`,
      );
    }
    this.#cursor = from;
    this.#acked = from;
    this.#paused = false;
    if (this.#state === 'offered' || this.#state === 'checking') this.#state = 'sending';
    return null;
  }

  /**
   * The next range to read and send, or `null` when nothing may go now (not accepted, paused,
   * the window is full, or everything is sent: then {@link allSent} is true).
   */
  next(chunkBytes: number): ChunkRange | null {
    if (this.#state !== 'sending' || this.#paused || this.#cursor >= this.size) return null;
    const length = Math.min(chunkBytes, this.size - this.#cursor);
    if (this.#cursor + length - this.#acked > this.#windowBytes) return null;
    return { offset: this.#cursor, length };
  }

  /** The range {@link next} returned went onto the channel. */
  sent(range: ChunkRange): void {
    if (range.offset !== this.#cursor) return;
    const end = range.offset + range.length;
    // What lies below the highest byte ever sent is going for the second time.
    this.#resent += Math.max(0, Math.min(end, this.#highest) - range.offset);
    this.#cursor = end;
    this.#highest = Math.max(this.#highest, end);
  }

  /** Every byte is on the channel and `file-done` may go: then the state is `checking`. */
  allSent(): boolean {
    if (this.#state === 'sending' && !this.#paused && this.#cursor === this.size) {
      this.#state = 'checking';
      return true;
    }
    return false;
  }

  /** A `file-ack`; an error text if it acknowledges bytes never sent. */
  ack(upTo: number): string | null {
    if (isFinal(this.#state)) return null;
    if (upTo > this.#highest) return this.#fail(`they acknowledged byte ${upTo}, never sent`);
    this.#acked = Math.max(this.#acked, upTo);
    return null;
  }

  /** The recipient's hash verdict. */
  verified(ok: boolean): string | null {
    if (isFinal(this.#state)) return null;
    if (this.#state !== 'checking') return this.#fail('they checked the file before it was sent');
    this.#state = ok ? 'verified' : 'corrupt';
    // A verdict covers every byte, whichever acks the path lost.
    this.#acked = this.size;
    return null;
  }

  declined(reason: string): void {
    if (isFinal(this.#state)) return;
    this.#state = 'declined';
    this.#error = reason || null;
  }

  /** Either side cancelled (`reason` says who and why). */
  cancelled(reason: string): void {
    if (isFinal(this.#state)) return;
    this.#state = 'cancelled';
    this.#error = reason;
  }

  #fail(error: string): string {
    this.#state = 'failed';
    this.#error = error;
    this.#repeat = {
      t: 'file-cancel',
      id: this.id,
      reason: `The sender's page stopped: ${error}.`,
    };
    return error;
  }
}

/** Options of {@link IncomingFile}. */
export interface IncomingOptions {
  /** [RECEIVE_WINDOW_BYTES] bytes */
  windowBytes?: number;
  /** [FLUSH_BYTES] bytes */
  flushBytes?: number;
}

/** The recipient's side of one file from one sender. */
export class IncomingFile {
  readonly id: string;
  readonly name: string;
  /** bytes */
  readonly size: number;
  readonly mime: string;
  #state: TransferState = 'offered';
  #received = 0;
  #stored = 0;
  #duplicate = 0;
  #error: string | null = null;
  #hash = sha256.create();
  /** Received bytes not yet in {@link #blob}. */
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #blob = new Blob([]);
  #expectedSha: string | null = null;
  readonly #windowBytes: number;
  readonly #flushBytes: number;

  constructor(offer: FileOfferFrame, options: IncomingOptions = {}) {
    this.id = offer.id;
    this.name = offer.name;
    this.size = offer.size;
    this.mime = offer.mime;
    this.#windowBytes = options.windowBytes ?? RECEIVE_WINDOW_BYTES;
    this.#flushBytes = options.flushBytes ?? FLUSH_BYTES;
  }

  get state(): TransferState {
    return this.#state;
  }
  /** Bytes received in order so far (stored or about to be). */
  get received(): number {
    return this.#received;
  }
  /** Bytes received again after a resume, and ignored. */
  get duplicateBytes(): number {
    return this.#duplicate;
  }
  /** Bytes of this file held in JavaScript memory right now (at most the flush size plus a chunk). */
  get heldBytes(): number {
    return this.#pendingBytes;
  }
  get error(): string | null {
    return this.#error;
  }
  /** SHA-256 the sender announced, once `file-done` arrived. */
  get expectedSha256(): string | null {
    return this.#expectedSha;
  }

  /** The person chose "Accept". */
  accept(): FileFrame[] {
    if (this.#state !== 'offered') return [];
    this.#state = 'sending';
    return [{ t: 'file-accept', id: this.id, from: 0 }];
  }

  /** The person chose "Decline", or the page did on its own (`reason` then says why). */
  decline(reason = ''): FileFrame[] {
    if (this.#state !== 'offered') return [];
    this.#state = 'declined';
    this.#error = reason || null;
    return [{ t: 'file-decline', id: this.id, reason }];
  }

  /** The person chose "Cancel" (or the page gave up: `reason`). */
  cancel(reason: string): FileFrame[] {
    if (isFinal(this.#state)) return [];
    this.#cancelled(reason);
    return [{ t: 'file-cancel', id: this.id, reason }];
  }

  /** The sender cancelled. */
  cancelled(reason: string): void {
    if (!isFinal(this.#state)) this.#cancelled(reason);
  }

  /**
   * The sender offered this file again (its channel reopened): the answer is where we stand —
   * resume from what we hold, or the outcome we already reached. Nothing while the person has
   * not chosen yet.
   */
  reoffered(): FileFrame[] {
    switch (this.#state) {
      case 'offered':
        return [];
      case 'sending':
      case 'checking':
        this.#state = 'sending';
        // The sender counts `from` as acknowledged and opens its window from there: store it all.
        this.#flush();
        return [{ t: 'file-accept', id: this.id, from: this.#received }];
      case 'verified':
      case 'corrupt':
        return [{ t: 'file-verified', id: this.id, ok: this.#state === 'verified' }];
      case 'declined':
        return [{ t: 'file-decline', id: this.id, reason: this.#error ?? '' }];
      case 'cancelled':
      case 'failed':
        return [{ t: 'file-cancel', id: this.id, reason: this.#error ?? 'cancelled' }];
    }
  }

  /**
   * One chunk. Bytes already held are ignored (a resend after a resume); a gap, bytes past the
   * end, an empty chunk or one past the window end the transfer with a `file-cancel` that says
   * why. Returns the frames to send (a `file-ack` each time a flush stored more).
   */
  chunk(offset: number, bytes: Uint8Array): FileFrame[] {
    if (this.#state !== 'sending') {
      if (isFinal(this.#state)) return [];
      return this.#protocolError('sent bytes before the file was accepted');
    }
    const end = offset + bytes.byteLength;
    if (bytes.byteLength === 0) return this.#protocolError('sent an empty chunk');
    if (end > this.size) return this.#protocolError(`sent bytes past the ${this.size}-byte end`);
    if (offset > this.#received) {
      return this.#protocolError(`skipped bytes ${this.#received}–${offset}`);
    }
    if (end - this.#stored > this.#windowBytes) {
      return this.#protocolError(
        `sent ${end - this.#stored} bytes past the last acknowledgement; the window is ${this.#windowBytes}`,
      );
    }
    if (end <= this.#received) {
      this.#duplicate += bytes.byteLength;
      return [];
    }
    const fresh = offset < this.#received ? bytes.subarray(this.#received - offset) : bytes;
    this.#duplicate += bytes.byteLength - fresh.byteLength;
    // The message buffer is the channel's: keep a copy only until the next flush.
    const copy = fresh.slice();
    this.#hash.update(copy);
    this.#pending.push(copy);
    this.#pendingBytes += copy.byteLength;
    this.#received = end;
    if (this.#pendingBytes >= this.#flushBytes || this.#received === this.size) {
      this.#flush();
      return [{ t: 'file-ack', id: this.id, upTo: this.#stored }];
    }
    return [];
  }

  /** The sender's `file-done`: with every byte here, the hash decides. */
  done(sha256Hex: string): FileFrame[] {
    if (this.#state !== 'sending') {
      return isFinal(this.#state) ? [] : this.#protocolError('finished before it was accepted');
    }
    if (this.#received !== this.size) {
      return this.#protocolError(`finished after ${this.#received} of ${this.size} bytes`);
    }
    this.#expectedSha = sha256Hex;
    const ok = bytesToHex(this.#hash.digest()) === sha256Hex;
    this.#state = ok ? 'verified' : 'corrupt';
    if (!ok) this.#blob = new Blob([]);
    return [{ t: 'file-verified', id: this.id, ok }];
  }

  /** The whole file, once verified; `null` before (a corrupt copy is never offered). */
  file(): Blob | null {
    return this.#state === 'verified'
      ? new Blob([this.#blob], { type: this.mime || 'application/octet-stream' })
      : null;
  }

  #flush(): void {
    if (this.#pending.length === 0) return;
    this.#blob = new Blob([this.#blob, ...(this.#pending as BlobPart[])]);
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#stored = this.#received;
  }

  #cancelled(reason: string): void {
    this.#state = 'cancelled';
    this.#error = reason;
    this.#drop();
  }

  #protocolError(what: string): FileFrame[] {
    this.#state = 'failed';
    this.#error = `The sender ${what}.`;
    this.#drop();
    return [{ t: 'file-cancel', id: this.id, reason: this.#error }];
  }

  #drop(): void {
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#blob = new Blob([]);
  }
}

/**
 * SHA-256 of a file read in order by several senders at once (one per recipient, each at its own
 * offset): it takes the bytes at its frontier from whichever read reaches them first, so the
 * file is read once for hashing however many people get it, and a resume (which rereads bytes
 * below the frontier) changes nothing.
 */
export class FrontierHash {
  #hash = sha256.create();
  #upTo = 0;
  readonly #size: number;
  #hex: string | null = null;

  constructor(size: number) {
    this.#size = size;
    if (size === 0) this.#hex = bytesToHex(this.#hash.digest());
  }

  /** Bytes `bytes` were read at `offset`. */
  feed(offset: number, bytes: Uint8Array): void {
    const end = offset + bytes.byteLength;
    if (offset > this.#upTo || end <= this.#upTo) return;
    this.#hash.update(bytes.subarray(this.#upTo - offset));
    this.#upTo = end;
    if (this.#upTo === this.#size) this.#hex = bytesToHex(this.#hash.digest());
  }

  /** The hash, 64 hex digits, once every byte was fed; `null` before. */
  get hex(): string | null {
    return this.#hex;
  }
}
