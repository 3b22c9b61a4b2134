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
/** Added once under a carried section's heading. */
export const CARRIED_NOTE = '(Kept from the previous BENCHMARKS.md: this run did not measure it.)';

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
 * carried gets {@link CARRIED_NOTE} under its heading, once.
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

  const sections = [
    ...now.sections,
    ...carried.map((section) =>
      section.lines.includes(CARRIED_NOTE)
        ? section
        : { ...section, lines: [section.lines[0]!, '', CARRIED_NOTE, ...section.lines.slice(1)] },
    ),
  ].sort((a, b) => a.number - b.number);
  const body = sections.map((section) => section.lines.join('\n').replace(/\n*$/, '\n'));
  return [head.join('\n').replace(/\n*$/, '\n'), ...body].join('\n');
}
