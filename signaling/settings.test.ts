/**
 * The settings table (`SETTINGS` in config.ts) against what is made from it: README's
 * "Configuration" section, the loader's defaults, the server's option defaults.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  BEGIN_MARKER,
  configTableOf,
  END_MARKER,
  formattedConfigTable,
  README_PATH,
  spliceConfigTable,
} from '../scripts/config-table.ts';
import { loadConfig, SETTINGS, type Setting } from './config.ts';
import { SERVER_DEFAULTS } from './server.ts';

const rows = Object.entries(SETTINGS) as [string, Setting][];

describe('README "Configuration"', () => {
  it('is the table SETTINGS makes (run `npm run readme:config` after editing a row)', async () => {
    const readme = readFileSync(README_PATH, 'utf8');
    expect(configTableOf(readme), `no ${BEGIN_MARKER} … ${END_MARKER} in README.md`).not.toBeNull();
    expect(configTableOf(readme)).toBe(await formattedConfigTable());
  });

  it('has one line per variable, in the table order', async () => {
    const table = await formattedConfigTable();
    const variables = [...table.matchAll(/^\| `([A-Z0-9_]+)`/gm)].map((match) => match[1]);
    expect(variables).toEqual(rows.map(([, row]) => row.env));
  });

  it('splices a table between the markers and nothing else', () => {
    const readme = `# Title\n\n${BEGIN_MARKER}\nold\n${END_MARKER}\n\nafter\n`;
    const spliced = spliceConfigTable(readme, '| a |\n');
    expect(spliced).toBe(`# Title\n\n${BEGIN_MARKER}\n\n| a |\n\n${END_MARKER}\n\nafter\n`);
    expect(configTableOf(spliced)).toBe('| a |\n');
    expect(() => spliceConfigTable('# no markers\n', '| a |\n')).toThrow(/config-table/);
  });
});

describe('SETTINGS', () => {
  it('names every variable once, in upper snake case', () => {
    const names = rows.map(([, row]) => row.env);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^[A-Z][A-Z0-9_]*$/);
  });

  it('gives each field its default when nothing is set', () => {
    const config: Record<string, unknown> = loadConfig({});
    const fields = rows.filter(([, row]) => 'read' in row);
    expect(Object.keys(config)).toEqual(fields.map(([name]) => name));
    for (const [name, row] of fields) expect(config[name], name).toEqual(row.default);
  });

  it('keeps each default within its range, and each number row one unit', () => {
    for (const [name, row] of rows) {
      if (row.range === undefined) continue;
      const [min, max] = row.range;
      expect(typeof row.default, name).toBe('number');
      expect(row.default as number, name).toBeGreaterThanOrEqual(min);
      expect(row.default as number, name).toBeLessThanOrEqual(max);
      expect(min, name).toBeLessThanOrEqual(max);
    }
  });

  it('points `partOf` and `atLeast` at rows that exist', () => {
    for (const [name, row] of rows) {
      if ('partOf' in row) expect(SETTINGS, name).toHaveProperty([row.partOf, 'read']);
      if ('atLeast' in row && row.atLeast !== undefined) {
        expect(SETTINGS, name).toHaveProperty([row.atLeast, 'range']);
      }
    }
  });

  it('is where the server takes its defaults from', () => {
    for (const [name, row] of rows) {
      if ('server' in row && row.server)
        expect(SERVER_DEFAULTS, name).toHaveProperty(name, row.default);
    }
    expect(SERVER_DEFAULTS).not.toHaveProperty('host');
    expect(SERVER_DEFAULTS).not.toHaveProperty('redisUrl');
  });
});
