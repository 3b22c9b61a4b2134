/**
 * Token-bucket rate limiting for one socket's messages: a steady rate with a burst allowance, so
 * a page that sends a quick flurry of trickled candidates is fine while a flood is cut off. Pure:
 * the clock is a parameter.
 */

/** A token bucket: `ratePerS` tokens per second refill, at most `burst` banked. */
export class TokenBucket {
  readonly #ratePerMs: number;
  readonly #burst: number;
  #tokens: number;
  #updatedAtMs: number;

  /**
   * @param ratePerS sustained messages per second, > 0.
   * @param burst messages that may arrive at once, ≥ 1.
   * @param nowMs the current time, ms (any monotonic clock).
   * @throws {RangeError} on a non-positive rate or a burst below 1.
   */
  constructor(ratePerS: number, burst: number, nowMs: number) {
    if (!(ratePerS > 0) || !(burst >= 1)) {
      throw new RangeError(`rate must be > 0 and burst ≥ 1, got ${ratePerS}/s, ${burst}`);
    }
    this.#ratePerMs = ratePerS / 1000;
    this.#burst = burst;
    this.#tokens = burst;
    this.#updatedAtMs = nowMs;
  }

  /** Takes one token; `false` when the bucket is empty (the message is over the limit). */
  take(nowMs: number): boolean {
    const elapsed = Math.max(0, nowMs - this.#updatedAtMs);
    this.#tokens = Math.min(this.#burst, this.#tokens + elapsed * this.#ratePerMs);
    this.#updatedAtMs = nowMs;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
