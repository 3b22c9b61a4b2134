/**
 * Summaries of repeated measurements, and the latency histogram the load workers fill. Pure.
 */

/** A figure measured more than once: its median and its spread (min–max over the runs). */
export interface Summary {
  median: number;
  min: number;
  max: number;
  /** Number of runs. */
  n: number;
}

/** The `q` quantile (0–1) of ascending `sorted` values, by linear interpolation; NaN if empty. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

/** Median and min–max of `values`; NaN figures for an empty list. NaN values are dropped. */
export function summarize(values: readonly number[]): Summary {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  return {
    median: quantile(sorted, 0.5),
    min: sorted[0] ?? NaN,
    max: sorted.at(-1) ?? NaN,
    n: sorted.length,
  };
}

/** Relative width of a histogram bucket: each bucket is 1% wider than the one before. */
const BUCKET_GROWTH = 1.01;
/** Smallest latency resolved, ms; anything below lands in bucket 0. */
const HISTOGRAM_FLOOR_MS = 0.001;
/** Buckets from 1 µs up to ~100 s: ln(1e8) / ln(1.01) ≈ 1851. */
export const HISTOGRAM_BUCKETS = 1852;

/**
 * A log-bucketed latency histogram (1% resolution), cheap to fill in a hot loop and to merge
 * across processes: a worker sends its counts, the runner adds them up.
 */
export class LatencyHistogram {
  readonly counts: Uint32Array;
  total = 0;

  constructor(counts?: ArrayLike<number>) {
    this.counts = new Uint32Array(HISTOGRAM_BUCKETS);
    if (counts) this.add(counts);
  }

  record(ms: number): void {
    const index =
      ms <= HISTOGRAM_FLOOR_MS
        ? 0
        : Math.min(
            HISTOGRAM_BUCKETS - 1,
            Math.ceil(Math.log(ms / HISTOGRAM_FLOOR_MS) / Math.log(BUCKET_GROWTH)),
          );
    this.counts[index]!++;
    this.total++;
  }

  /** Adds another histogram's counts to this one. */
  add(counts: ArrayLike<number>): void {
    for (let i = 0; i < HISTOGRAM_BUCKETS; i++) {
      const c = counts[i] ?? 0;
      this.counts[i]! += c;
      this.total += c;
    }
  }

  /** The `q` quantile (0–1), ms: the upper edge of the bucket it falls in. NaN when empty. */
  quantile(q: number): number {
    if (this.total === 0) return NaN;
    const rank = Math.max(1, Math.ceil(this.total * q));
    let seen = 0;
    for (let i = 0; i < HISTOGRAM_BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return HISTOGRAM_FLOOR_MS * BUCKET_GROWTH ** i;
    }
    return Infinity;
  }
}
