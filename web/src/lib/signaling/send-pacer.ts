/**
 * Paces what the page sends to the signaling server against the server's own limits (issue #10:
 * "the page sizes what it sends in bytes against them"). The server keeps two token buckets per
 * socket, messages and bytes, and closes a socket that overdraws either (4008); the page keeps
 * the same two buckets (signaling/rate-limit.ts, the server's own class) a little smaller, and
 * holds back what would overdraw them. A join into a full room is then only slower, never cut.
 * Pure: the clock is a parameter.
 */
import { MAX_FILE_BYTES, type ServerLimits } from '../../../../signaling/protocol.ts';
import { TokenBucket } from '../../../../signaling/rate-limit.ts';

/**
 * Share of the server's rates and bursts the page allows itself. Frames reach the server later
 * than they leave and can arrive bunched (TCP, a busy event loop), so spending the whole burst
 * on our clock could overdraw it on the server's.
 */
export const PACING_MARGIN = 0.8;

/**
 * Limits assumed until `hello` says otherwise: the page sends its join as soon as the socket
 * opens, before `hello` has arrived. Small enough for any server we would talk to.
 */
export const PRE_HELLO_LIMITS: ServerLimits = {
  maxFrameBytes: 16 * 1024,
  roomSize: 2,
  rateMessagesPerS: 5,
  rateBurst: 10,
  rateBytesPerS: 16 * 1024,
  rateBytesBurst: 16 * 1024,
  maxFileBytes: MAX_FILE_BYTES,
};

/** Most frames held back at once; beyond it {@link SendPacer.enqueue} refuses. */
export const MAX_QUEUED_FRAMES = 2000;

/** Why {@link SendPacer.enqueue} refused a frame. */
export type PaceRefusal = 'too-big' | 'queue-full';

/** A FIFO of text frames released no faster than the server's buckets allow. */
export class SendPacer {
  #limits: ServerLimits;
  #messages: TokenBucket | null;
  #bytes: TokenBucket | null;
  #queue: { text: string; bytes: number }[] = [];

  /** @param nowMs the current time, ms (any monotonic clock, the same for every call). */
  constructor(limits: ServerLimits, nowMs: number) {
    this.#limits = limits;
    this.#messages = null;
    this.#bytes = null;
    this.setLimits(limits, nowMs);
  }

  /** The limits in force. */
  get limits(): ServerLimits {
    return this.#limits;
  }

  /** Frames waiting. */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * New limits (from `hello`): the buckets start full, as the server's do for a new socket; what
   * is queued stays queued, in order.
   */
  setLimits(limits: ServerLimits, nowMs: number): void {
    this.#limits = limits;
    const scaled = (value: number) => Math.max(1, Math.floor(value * PACING_MARGIN));
    this.#messages =
      limits.rateMessagesPerS > 0
        ? new TokenBucket(limits.rateMessagesPerS * PACING_MARGIN, scaled(limits.rateBurst), nowMs)
        : null;
    this.#bytes =
      limits.rateBytesPerS > 0
        ? new TokenBucket(
            limits.rateBytesPerS * PACING_MARGIN,
            Math.max(limits.maxFrameBytes, scaled(limits.rateBytesBurst)),
            nowMs,
          )
        : null;
  }

  /**
   * Queues one frame of `bytes` UTF-8 bytes. Refuses (and queues nothing) a frame over the
   * server's `maxFrameBytes`, which the server would close the socket for (1009), and any frame
   * once {@link MAX_QUEUED_FRAMES} wait.
   */
  enqueue(text: string, bytes: number): PaceRefusal | null {
    if (bytes > this.#limits.maxFrameBytes) return 'too-big';
    if (this.#queue.length >= MAX_QUEUED_FRAMES) return 'queue-full';
    this.#queue.push({ text, bytes });
    return null;
  }

  /**
   * The frames that may go now, oldest first, with their cost taken from the buckets; and how
   * long until the next one may (`null` when nothing waits), ms.
   */
  drain(nowMs: number): { ready: string[]; waitMs: number | null } {
    const ready: string[] = [];
    for (const frame of this.#queue) {
      const wait = Math.max(
        this.#messages?.waitMs(nowMs) ?? 0,
        this.#bytes?.waitMs(nowMs, frame.bytes) ?? 0,
      );
      if (wait > 0) {
        this.#queue.splice(0, ready.length);
        return { ready, waitMs: Number.isFinite(wait) ? wait : null };
      }
      this.#messages?.take(nowMs);
      this.#bytes?.take(nowMs, frame.bytes);
      ready.push(frame.text);
    }
    this.#queue = [];
    return { ready, waitMs: null };
  }

  /** Forgets every queued frame (the socket they were for is gone). */
  clear(): void {
    this.#queue = [];
  }
}
