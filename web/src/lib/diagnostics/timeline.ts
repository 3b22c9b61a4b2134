/**
 * The connection timeline: each step's time since page open, the time it took since the step it
 * waits on, and whether that was slower than it should be. Pure.
 */

/** One step, ms since the page started loading (`performance.now()`). */
export interface TimelineEntry {
  label: string;
  atMs: number;
}

/** A step as the panel shows it. */
export interface TimelineRow extends TimelineEntry {
  /** The step this one waits on, when it has one in the timeline. */
  after?: string;
  /** Time since `after`, ms. */
  phaseMs?: number;
  /** Budget for the phase, ms; `slow` when `phaseMs` exceeds it. */
  budgetMs?: number;
  slow: boolean;
}

/**
 * Budgets for phases that depend only on our code and the network, not on a person. Measured in
 * the NAT lab (cone ↔ cone, loopback-fast links): every phase took under 150 ms, B's whole
 * link-open → data-channel-open median was ~0.5 s. The budgets allow a real WAN with a ~300 ms
 * RTT and a few retransmissions (RFC 8445 §14.3 paces checks at 50 ms); a phase over budget is
 * worth a look, not an error.
 */
export const PHASE_BUDGETS_MS: Readonly<Record<string, { after: string; budgetMs: number }>> = {
  'Signaling connected': { after: 'Page opened', budgetMs: 2000 },
  'Answer received': { after: 'Offer sent', budgetMs: 2000 },
  'Answer sent': { after: 'Offer received', budgetMs: 1000 },
  'ICE connected': { after: 'ICE checking', budgetMs: 3000 },
  'DTLS connected': { after: 'ICE connected', budgetMs: 1500 },
  'Data channel open': { after: 'DTLS connected', budgetMs: 1000 },
};

/** Adds phase durations and slow marks; entries keep their order. */
export function annotateTimeline(entries: readonly TimelineEntry[]): TimelineRow[] {
  const at = new Map(entries.map((entry) => [entry.label, entry.atMs]));
  return entries.map((entry) => {
    const rule = PHASE_BUDGETS_MS[entry.label];
    const start = rule ? at.get(rule.after) : undefined;
    if (!rule || start === undefined) return { ...entry, slow: false };
    const phaseMs = entry.atMs - start;
    return {
      ...entry,
      after: rule.after,
      phaseMs,
      budgetMs: rule.budgetMs,
      slow: phaseMs > rule.budgetMs,
    };
  });
}
