/**
 * Token-bucket rate limiting for one socket: a steady rate with a burst allowance, so a page that
 * sends a quick flurry of trickled candidates is fine while a flood is cut off. The server keeps
 * two per socket: one counts messages, one bytes (issue #9: parsing is paid per byte, so a frame
 * count alone let 64 KiB frames at the message rate hold a core). Pure: the clock is a parameter.
 */

/** A token bucket: `ratePerS` tokens per second refill, at most `burst` banked. */
export class TokenBucket {
  readonly #ratePerMs: number;
  readonly #burst: number;
  #tokens: number;
  #updatedAtMs: number;

  /**
   * @param ratePerS sustained tokens (messages, or bytes) per second, > 0.
   * @param burst tokens that may be spent at once, ≥ 1.
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

  /**
   * Takes `cost` tokens (default one: a message); `false`, taking none, when fewer are banked
   * (the message is over the limit). A cost above `burst` can never pass.
   */
  take(nowMs: number, cost = 1): boolean {
    this.#refill(nowMs);
    if (this.#tokens < cost) return false;
    this.#tokens -= cost;
    return true;
  }

  /**
   * How long until `cost` tokens are banked, ms: 0 when {@link take} would pass now, `Infinity`
   * when `cost` exceeds the burst (it never can). Takes nothing. The page uses it to pace what it
   * sends against the server's own buckets (issue #10).
   */
  waitMs(nowMs: number, cost = 1): number {
    if (cost > this.#burst) return Infinity;
    this.#refill(nowMs);
    return this.#tokens >= cost ? 0 : Math.ceil((cost - this.#tokens) / this.#ratePerMs);
  }

  #refill(nowMs: number): void {
    const elapsed = Math.max(0, nowMs - this.#updatedAtMs);
    this.#tokens = Math.min(this.#burst, this.#tokens + elapsed * this.#ratePerMs);
    this.#updatedAtMs = nowMs;
  }
}
