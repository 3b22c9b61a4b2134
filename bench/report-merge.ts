/**
 * Keeps what a run did not measure: the numbered sections ("## 6. …") of the previous
 * BENCHMARKS.md that the new report lacks (a `BENCH_ONLY` subset, or sections measured by their
 * own scripts, such as 6 and 7), with their Summary rows, so that writing the report never drops
 * figures. Pure.
 */

/** A line that starts a numbered section, and its number. */
const SECTION = /^## (\d+)\./;
/** A Summary row of section N: `| N   | …`. */
const SUMMARY_ROW = /^\| (\d+) +\|/;
/** How the note under a carried section's heading starts; it is added once. */
export const CARRIED_NOTE = '(Kept from the previous BENCHMARKS.md';
/** `Run: full, 2026-12-02T15:13:49.318Z, 399 s.` in the head: the run's start. */
const RUN_AT = /^Written by .*Run: [a-z]+, (\S+?), /m;
/** The Machine table's CPU row. */
const CPU_ROW = /^\| CPU +\| (.+?) +\|$/m;

/**
 * The note for a section carried from `previousHead`: which run and machine the figures come
 * from, so a file mixing runs says so (the Machine table describes the newest run only).
 */
function carriedNote(previousHead: string): string {
  const at = RUN_AT.exec(previousHead)?.[1];
  const cpu = CPU_ROW.exec(previousHead)?.[1];
  const source =
    at && cpu ? `, from its run of ${at} on ${cpu}` : at ? `, from its run of ${at}` : '';
  return `${CARRIED_NOTE}${source}: this run did not measure it.)`;
}

interface Section {
  number: number;
  lines: string[];
}

/** The text before the first numbered section, and the numbered sections in order. */
function split(markdown: string): { head: string[]; sections: Section[] } {
  const head: string[] = [];
  const sections: Section[] = [];
  for (const line of markdown.split('\n')) {
    const match = SECTION.exec(line);
    if (match) sections.push({ number: Number(match[1]), lines: [line] });
    else if (sections.length > 0) sections.at(-1)!.lines.push(line);
    else head.push(line);
  }
  return { head, sections };
}

/**
 * `next` with the numbered sections of `previous` it does not have, in number order, and their
 * Summary rows added to its Summary table (after its rows of lower numbers). A section that is
 * carried gets a note under its heading, once, naming the run and CPU of `previous` (its head's
 * `Run:` line and Machine table) when it has them.
 */
export function keepUnmeasuredSections(previous: string, next: string): string {
  const old = split(previous);
  const now = split(next);
  const have = new Set(now.sections.map((section) => section.number));
  const carried = old.sections.filter((section) => !have.has(section.number));
  if (carried.length === 0) return next;
  const numbers = new Set(carried.map((section) => section.number));

  const oldRows = old.head.filter((line) => {
    const match = SUMMARY_ROW.exec(line);
    return match !== null && numbers.has(Number(match[1]));
  });
  const head = [...now.head];
  for (const row of oldRows) {
    const n = Number(SUMMARY_ROW.exec(row)![1]);
    const rows = head.map((line, i) => ({ i, m: SUMMARY_ROW.exec(line) })).filter((r) => r.m);
    const after = rows.filter((r) => Number(r.m![1]) <= n).at(-1);
    // After the last row of a lower or equal number; before the first row when there is none.
    const at = after ? after.i + 1 : (rows[0]?.i ?? head.length);
    head.splice(at, 0, row);
  }

  const note = carriedNote(old.head.join('\n'));
  const sections = [
    ...now.sections,
    ...carried.map((section) =>
      section.lines.some((line) => line.startsWith(CARRIED_NOTE))
        ? section
        : { ...section, lines: [section.lines[0]!, '', note, ...section.lines.slice(1)] },
    ),
  ].sort((a, b) => a.number - b.number);
  const body = sections.map((section) => section.lines.join('\n').replace(/\n*$/, '\n'));
  return [head.join('\n').replace(/\n*$/, '\n'), ...body].join('\n');
}
