/**
 * README's "Configuration" table, generated from `SETTINGS` in signaling/config.ts: one row per
 * environment variable, in the table's order. `npm run readme:config` rewrites the part of
 * README.md between {@link BEGIN_MARKER} and {@link END_MARKER};
 * `signaling/settings.test.ts` fails while README differs from what this makes.
 *
 *   tsx scripts/config-table.ts           print the table
 *   tsx scripts/config-table.ts --write   rewrite README.md's table in place
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { SETTINGS, type Setting } from '../signaling/config.ts';

export const README_PATH = fileURLToPath(new URL('../README.md', import.meta.url));

/** Opens the generated part of README: what follows is replaced up to {@link END_MARKER}. */
export const BEGIN_MARKER =
  '<!-- config-table: generated from SETTINGS in signaling/config.ts by `npm run readme:config`; edit there -->';
export const END_MARKER = '<!-- /config-table -->';

const BINARY_UNITS = ['KiB', 'MiB', 'GiB', 'TiB'] as const;

/** `bytes` in the largest binary unit that divides it, e.g. `64 KiB`; `null` below 1 KiB. */
function binarySize(bytes: number): string | null {
  let size = bytes;
  let unit: string | null = null;
  for (const next of BINARY_UNITS) {
    if (size < 1024 || size % 1024 !== 0) break;
    size /= 1024;
    unit = next;
  }
  return unit === null ? null : `${size} ${unit}`;
}

/** The Default cell: the value as an operator writes it, with its size in KiB… for bytes. */
function defaultCell(row: Setting): string {
  if (row.defaultText !== undefined) return row.defaultText;
  const value = row.default;
  if (value === null) return '(none)';
  if (typeof value === 'boolean') return `\`${value ? 1 : 0}\``; // flags are written 1 or 0
  const size =
    typeof value === 'number' && row.unit?.startsWith('bytes') ? binarySize(value) : null;
  return size === null ? `\`${value}\`` : `\`${value}\` (${size})`;
}

/** The Range cell: inclusive bounds and unit, e.g. `1024–1048576 bytes`. */
function rangeCell(row: Setting): string {
  const unit = row.unit ?? '';
  if (row.range === undefined) return unit;
  return `${row.range[0]}–${row.range[1]}${unit ? ` ${unit}` : ''}`;
}

/** The Meaning cell: the row's meaning, then the floor another row sets, if any. */
function meaningCell(row: Setting): string {
  if (!('atLeast' in row) || row.atLeast === undefined) return row.meaning;
  const floor = SETTINGS[row.atLeast as keyof typeof SETTINGS];
  return `${row.meaning} At least \`${floor.env}\`.`;
}

/** A table cell: one line, `|` escaped. */
function cell(text: string): string {
  return text.replaceAll('|', '\\|').replace(/\s*\n\s*/g, ' ');
}

/** The table as Markdown, before Prettier aligns it. */
export function renderConfigTable(): string {
  const lines = ['| Variable | Default | Range | Meaning |', '| --- | --- | --- | --- |'];
  for (const row of Object.values(SETTINGS) as Setting[]) {
    const cells = [`\`${row.env}\``, defaultCell(row), rangeCell(row), meaningCell(row)];
    lines.push(`| ${cells.map(cell).join(' | ')} |`);
  }
  return `${lines.join('\n')}\n`;
}

/** The table as README has it: aligned by Prettier with the repository's settings. */
export async function formattedConfigTable(): Promise<string> {
  const options = (await resolveConfig(README_PATH)) ?? {};
  return format(renderConfigTable(), { ...options, parser: 'markdown' });
}

/**
 * `readme` with the part between the markers replaced by `table`.
 * @throws Error if either marker is missing or they are out of order.
 */
export function spliceConfigTable(readme: string, table: string): string {
  const begin = readme.indexOf(BEGIN_MARKER);
  const end = readme.indexOf(END_MARKER);
  if (begin === -1 || end === -1 || end < begin) {
    throw new Error(`README.md has no ${BEGIN_MARKER} … ${END_MARKER} section`);
  }
  return `${readme.slice(0, begin + BEGIN_MARKER.length)}\n\n${table}\n${readme.slice(end)}`;
}

/** The generated part of `readme`, markers excluded, as {@link spliceConfigTable} writes it. */
export function configTableOf(readme: string): string | null {
  const begin = readme.indexOf(BEGIN_MARKER);
  const end = readme.indexOf(END_MARKER);
  if (begin === -1 || end === -1 || end < begin) return null;
  return readme
    .slice(begin + BEGIN_MARKER.length, end)
    .replace(/^\n\n/, '')
    .replace(/\n$/, '');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const table = await formattedConfigTable();
  if (process.argv.includes('--write')) {
    const readme = readFileSync(README_PATH, 'utf8');
    const updated = spliceConfigTable(readme, table);
    if (updated === readme) {
      console.log('README.md: configuration table already up to date');
    } else {
      writeFileSync(README_PATH, updated);
      console.log('README.md: configuration table rewritten');
    }
  } else {
    process.stdout.write(table);
  }
}
