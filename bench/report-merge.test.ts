import { describe, expect, it } from 'vitest';
import { CARRIED_NOTE, keepUnmeasuredSections } from './report-merge.ts';

const previous = `# Benchmarks

Written by \`npm run bench\` (bench/run.ts); do not edit by hand. Run: full, 2026-12-02T15:13:49.318Z, 399 s. Benchmarks print figures; they never fail on timing.

## Summary

| #   | Figure | Ours |
| --- | ------ | ---- |
| 1   | load   | 10   |
| 6   | groups | 1.5× |
| 7   | files  | 0.8× |

## Machine

|        |                    |
| ------ | ------------------ |
| CPU    | AMD EPYC, 2 cores  |
| Memory | 23.5 GiB           |

## 1. Signaling load

old figures

## 6. Group rooms, measured by hand

six

## 7. Files

seven
`;

const next = `# Benchmarks

## Summary

| #   | Figure | Ours |
| --- | ------ | ---- |
| 1   | load   | 12   |
| 8   | redis  | 30k  |

## 1. Signaling load

new figures

## 8. Redis

eight
`;

describe('keepUnmeasuredSections', () => {
  it('keeps the sections and Summary rows the new run lacks, in number order, marked as kept', () => {
    const merged = keepUnmeasuredSections(previous, next);
    expect(merged.match(/^## .*$/gm)).toEqual([
      '## Summary',
      '## 1. Signaling load',
      '## 6. Group rooms, measured by hand',
      '## 7. Files',
      '## 8. Redis',
    ]);
    expect(merged.match(/^\| \d .*$/gm)).toEqual([
      '| 1   | load   | 12   |',
      '| 6   | groups | 1.5× |',
      '| 7   | files  | 0.8× |',
      '| 8   | redis  | 30k  |',
    ]);
    expect(merged).toContain('new figures');
    expect(merged).not.toContain('old figures');
    expect(merged).toContain(
      '## 6. Group rooms, measured by hand\n\n(Kept from the previous BENCHMARKS.md, from its run of 2026-12-02T15:13:49.318Z on AMD EPYC, 2 cores: this run did not measure it.)\n\nsix',
    );
  });

  it('puts a kept Summary row before the new rows when they all have higher numbers', () => {
    const later = next.replace('| 1   | load   | 12   |\n', '').replace(/## 1\.[^#]*/, '');
    const merged = keepUnmeasuredSections(previous, later);
    expect(merged.match(/^\| \d .*$/gm)?.map((row) => row.slice(0, 5))).toEqual([
      '| 1  ',
      '| 6  ',
      '| 7  ',
      '| 8  ',
    ]);
  });

  it('marks a section kept twice only once, and changes nothing when nothing is missing', () => {
    const once = keepUnmeasuredSections(previous, next);
    const twice = keepUnmeasuredSections(once, next);
    expect(twice.split(CARRIED_NOTE)).toHaveLength(3); // sections 6 and 7, once each
    expect(keepUnmeasuredSections(next, next)).toBe(next);
  });
});
