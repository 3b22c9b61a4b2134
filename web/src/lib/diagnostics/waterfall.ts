/**
 * The connection timeline as a waterfall (issue #13): one bar per phase of setting up one
 * connection, from the step it starts at to the step that ends it, to scale, so that the slow
 * step shows at a glance. Pure; `components/Waterfall.svelte` draws it.
 *
 * A phase is measured between the first occurrence of its steps (the first set-up; a rebuilt
 * connection's steps are in the timeline list below it). A phase that has not ended yet, or whose
 * start is missing, has no bar.
 */
import { PHASE_BUDGETS_MS, type TimelineEntry } from './timeline.ts';

/** One phase: where it starts and ends in the timeline, and its budget when it has one. */
export interface WaterfallPhase {
  /** What the bar is called, e.g. "Connectivity checks". */
  name: string;
  /** Labels that start it; the earliest one present counts. */
  from: readonly string[];
  /** Where it starts when no label of `from` is there (timelines exported by older pages). */
  fallbackFrom?: readonly string[];
  /** Whether a timeline label ends it; the first such step counts. */
  to: (label: string) => boolean;
  /** Over this, ms, the bar is marked slow (see PHASE_BUDGETS_MS for where they come from). */
  budgetMs?: number;
  /** Its length depends on a person (the other one opening the link), not on the network. */
  human?: boolean;
}

const is = (label: string) => (other: string) => other === label;
const OFFER = ['Offer sent', 'Offer received'];

/** The phases, in the order a connection goes through them. */
export const WATERFALL_PHASES: readonly WaterfallPhase[] = [
  {
    name: 'Signaling',
    from: ['Page opened'],
    to: is('Signaling connected'),
    budgetMs: PHASE_BUDGETS_MS['Signaling connected']?.budgetMs,
  },
  // Since issue #13 the NAT test waits for the first connection to be set up, so it has a start
  // of its own; before, it started with signaling.
  {
    name: 'NAT test',
    from: ['NAT test started'],
    fallbackFrom: ['Signaling connected'],
    to: is('NAT classified'),
  },
  {
    name: 'Waiting for them',
    from: ['Signaling connected'],
    to: is('Other person in the room'),
    human: true,
  },
  {
    name: 'Offer → answer',
    from: OFFER,
    to: (label) => label === 'Answer received' || label === 'Answer sent',
    budgetMs: PHASE_BUDGETS_MS['Answer received']?.budgetMs,
  },
  { name: 'Gathering', from: OFFER, to: (label) => label.startsWith('First local ') },
  {
    name: 'Connectivity checks',
    from: ['ICE checking'],
    to: is('ICE connected'),
    budgetMs: PHASE_BUDGETS_MS['ICE connected']?.budgetMs,
  },
  {
    name: 'DTLS',
    from: ['ICE connected'],
    to: is('DTLS connected'),
    budgetMs: PHASE_BUDGETS_MS['DTLS connected']?.budgetMs,
  },
  {
    name: 'Data channel',
    from: ['DTLS connected'],
    to: is('Data channel open'),
    budgetMs: PHASE_BUDGETS_MS['Data channel open']?.budgetMs,
  },
  { name: 'First message', from: ['Data channel open'], to: is('First message'), human: true },
];

/** One bar, ms since the page opened. */
export interface WaterfallBar {
  name: string;
  startMs: number;
  endMs: number;
  durationMs: number;
  budgetMs?: number;
  /** Longer than its budget. */
  slow: boolean;
  /** Depends on a person, so never the "slowest step". */
  human: boolean;
}

/** The whole waterfall. */
export interface Waterfall {
  bars: WaterfallBar[];
  /** From the page opening to the end of the last bar, ms: the scale. */
  spanMs: number;
  /** The longest bar that does not wait on a person; `null` without bars. */
  slowest: WaterfallBar | null;
  /** One sentence for screen readers, e.g. "Slowest step: Connectivity checks, 1,204 ms (slow)". */
  text: string;
}

/** The waterfall of a connection's timeline (entries in any order). Never throws. */
export function waterfall(entries: readonly TimelineEntry[]): Waterfall {
  const sorted = [...entries].sort((a, b) => a.atMs - b.atMs);
  const first = (match: (label: string) => boolean) =>
    sorted.find((entry) => match(entry.label))?.atMs;
  const bars: WaterfallBar[] = [];
  for (const phase of WATERFALL_PHASES) {
    const startsOf = (labels: readonly string[]) =>
      labels.map((label) => first(is(label))).filter((ms) => ms !== undefined);
    let starts = startsOf(phase.from);
    if (starts.length === 0) starts = startsOf(phase.fallbackFrom ?? []);
    if (starts.length === 0) continue;
    const startMs = Math.min(...starts);
    const endMs = sorted.find((entry) => entry.atMs >= startMs && phase.to(entry.label))?.atMs;
    if (endMs === undefined) continue;
    const durationMs = endMs - startMs;
    bars.push({
      name: phase.name,
      startMs,
      endMs,
      durationMs,
      ...(phase.budgetMs === undefined ? {} : { budgetMs: phase.budgetMs }),
      slow: phase.budgetMs !== undefined && durationMs > phase.budgetMs,
      human: phase.human === true,
    });
  }
  const spanMs = Math.max(0, ...bars.map((bar) => bar.endMs));
  const slowest = bars
    .filter((bar) => !bar.human)
    .reduce<WaterfallBar | null>(
      (a, b) => (a === null || b.durationMs > a.durationMs ? b : a),
      null,
    );
  const slowText = bars.filter((bar) => bar.slow).map((bar) => bar.name);
  const text =
    slowest === null
      ? 'No phase has finished yet.'
      : `Slowest step: ${slowest.name}, ${Math.round(slowest.durationMs).toLocaleString('en')} ms` +
        (slowText.length > 0 ? `; over budget: ${slowText.join(', ')}.` : '; none over budget.');
  return { bars, spanMs, slowest, text };
}
