import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultName, displayName, MAX_NAME_CHARS, normalizeName } from './names.ts';

describe('normalizeName', () => {
  it('trims and collapses every kind of whitespace run to one space', () => {
    expect(normalizeName('  Ada   Lovelace  ')).toBe('Ada Lovelace');
    expect(normalizeName('Ada\u00a0\u2003\u3000Lovelace')).toBe('Ada Lovelace');
    expect(normalizeName('Ada\u2028Lovelace\u2029')).toBe('Ada Lovelace');
    expect(normalizeName('\ufeffAda')).toBe('Ada');
    expect(normalizeName('')).toBe('');
    expect(normalizeName(' \u00a0 ')).toBe('');
  });

  it('removes C0 and C1 controls, including tabs and newlines, joining what they split', () => {
    expect(normalizeName('Ada\tLove\nlace\r')).toBe('AdaLovelace');
    expect(normalizeName('A\u0000d\u001ba\u007f\u0085\u009f')).toBe('Ada');
    // Removal comes first, so the spaces it brings together still collapse.
    expect(normalizeName('Ada \u0007 Lovelace')).toBe('Ada Lovelace');
  });

  it('removes the bidi marks, embeddings, overrides and isolates (CVE-2021-42574)', () => {
    const bidi = [
      '\u061c',
      '\u200e',
      '\u200f',
      '\u202a',
      '\u202b',
      '\u202c',
      '\u202d',
      '\u202e',
      '\u2066',
      '\u2067',
      '\u2068',
      '\u2069',
    ];
    for (const mark of bidi) {
      expect(normalizeName(`Ada${mark}Lovelace`), mark.codePointAt(0)?.toString(16)).toBe(
        'AdaLovelace',
      );
    }
    expect(normalizeName('\u202egnirts\u202c')).toBe('gnirts');
    // That is exactly Unicode's Bidi_Control set.
    for (const mark of bidi) expect(mark).toMatch(/^\p{Bidi_Control}$/u);
    for (let code = 0; code <= 0xffff; code++) {
      const char = String.fromCharCode(code);
      if (/\p{Bidi_Control}/u.test(char)) expect(bidi).toContain(char);
    }
    // Right-to-left text itself is a name like any other.
    expect(normalizeName('  עדה  ')).toBe('עדה');
  });

  it(`cuts at ${MAX_NAME_CHARS} code units, never inside a surrogate pair`, () => {
    expect(normalizeName('x'.repeat(MAX_NAME_CHARS))).toBe('x'.repeat(MAX_NAME_CHARS));
    expect(normalizeName('x'.repeat(MAX_NAME_CHARS + 1))).toBe('x'.repeat(MAX_NAME_CHARS));
    // '😀' is two code units; one that would straddle the cut goes whole.
    const straddling = 'x'.repeat(MAX_NAME_CHARS - 1) + '😀';
    expect(normalizeName(straddling)).toBe('x'.repeat(MAX_NAME_CHARS - 1));
    const fitting = 'x'.repeat(MAX_NAME_CHARS - 2) + '😀😀';
    expect(normalizeName(fitting)).toBe('x'.repeat(MAX_NAME_CHARS - 2) + '😀');
    // A cut that ends on a space leaves no trailing space.
    expect(normalizeName('x'.repeat(MAX_NAME_CHARS - 1) + ' yz')).toBe(
      'x'.repeat(MAX_NAME_CHARS - 1),
    );
    // Whitespace is collapsed before the cut, so it does not eat the budget.
    expect(normalizeName(`Ada${' '.repeat(100)}Lovelace`)).toBe('Ada Lovelace');
  });

  it('is idempotent, bounded and clean for any text (what a receiver checks)', () => {
    const wellFormed = (text: string): boolean =>
      !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 80 }),
          fc.string({
            unit: fc.constantFrom('a', ' ', '\t', '\u00a0', '\u202e', '\u200f', '\u0085', '😀'),
            maxLength: 60,
          }),
        ),
        (text) => {
          const name = normalizeName(text);
          expect(normalizeName(name)).toBe(name);
          expect(name.length).toBeLessThanOrEqual(MAX_NAME_CHARS);
          expect(name).toBe(name.trim());
          // eslint-disable-next-line no-control-regex -- asserting that controls are gone
          expect(name).not.toMatch(/\s\s|[\t\n\r\u0000-\u001f\u007f-\u009f\u202a-\u202e]/);
          // Nothing cut in half: well-formed input gives well-formed output.
          if (wellFormed(text)) expect(wellFormed(name)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('defaultName and displayName', () => {
  it('derive "Guest" and the first four hex digits of the peer id', () => {
    expect(defaultName('p4f2a0123456789ab')).toBe('Guest 4F2A');
    expect(defaultName('p00000000000000ff')).toBe('Guest 0000');
    // A default is itself a valid name, so it survives a snapshot's validation.
    expect(normalizeName(defaultName('p4f2a0123456789ab'))).toBe('Guest 4F2A');
  });

  it('show the name a peer set, else their default', () => {
    expect(displayName('p4f2a0123456789ab', 'Ada')).toBe('Ada');
    expect(displayName('p4f2a0123456789ab', '')).toBe('Guest 4F2A');
    expect(displayName('p4f2a0123456789ab', undefined)).toBe('Guest 4F2A');
  });
});
