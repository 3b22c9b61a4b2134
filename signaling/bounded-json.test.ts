import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkJsonValue, JSON_LIMITS, parseBoundedJson, scanJson } from './bounded-json.ts';
import { parseClientFrame, parseServerMessage, parseSignalData } from './protocol.ts';

const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
const wide = (keys: number) =>
  `{${Array.from({ length: keys }, (_, i) => `"${i.toString(36)}":0`).join(',')}}`;

describe('scanJson', () => {
  it('counts depth and items, and passes what is within the limits', () => {
    const limits = { maxDepth: 3, maxItems: 5 };
    expect(scanJson('[[[]]]', limits)).toBeNull();
    expect(scanJson('[[[[]]]]', limits)).toBe('too-deep');
    expect(scanJson('[1,2,3,4]', limits)).toBeNull(); // 1 array + 3 commas
    expect(scanJson('[1,2,3,4,5,6]', limits)).toBe('too-many-items');
    expect(scanJson('{"a":{"b":1},"c":2}', limits)).toBeNull();
  });

  it('does not count brackets and commas inside strings, escaped quotes included', () => {
    const limits = { maxDepth: 1, maxItems: 1 };
    expect(scanJson('["[[[[,,,,{{{{"]', limits)).toBeNull();
    expect(scanJson('["\\"[[[,,,"]', limits)).toBeNull();
    expect(scanJson('["\\\\",[]]', { maxDepth: 1, maxItems: 9 })).toBe('too-deep'); // ends after \\
  });

  it('refuses the frames that took the server down (issue #9) before parsing them', () => {
    expect(scanJson(nested(4250))).toBe('too-deep');
    expect(scanJson(wide(8300))).toBe('too-many-items');
    expect(parseBoundedJson(nested(JSON_LIMITS.maxDepth))).toMatchObject({ ok: true });
    expect(parseBoundedJson(nested(JSON_LIMITS.maxDepth + 1))).toEqual({
      ok: false,
      error: 'too-deep',
    });
    expect(parseBoundedJson('{"a":')).toEqual({ ok: false, error: 'not-json' });
  });

  it('never throws, and whatever it passes parses to a value within the limits', () => {
    fc.assert(
      fc.property(fc.oneof(fc.json({ depthSize: 'large' }), fc.string()), (text) => {
        const parsed = parseBoundedJson(text, { maxDepth: 4, maxItems: 20 });
        if (parsed.ok)
          expect(checkJsonValue(parsed.value, { maxDepth: 4, maxItems: 20 })).toBeNull();
      }),
      { numRuns: 2000 },
    );
  });
});

describe('checkJsonValue', () => {
  it('walks values of any depth without recursion', () => {
    let deep: unknown = [];
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(checkJsonValue(deep)).toBe('too-deep');
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(checkJsonValue(cycle)).toBe('too-deep');
  });

  it('refuses what is not plain JSON data', () => {
    expect(checkJsonValue({ a: [1, 'x', null, true, { b: 2 }] })).toBeNull();
    for (const value of [undefined, NaN, Infinity, () => 1, new Date(0), new Map(), 1n]) {
      expect(checkJsonValue({ value })).toBe('not-json');
    }
  });
});

describe('the protocol under the bounds', () => {
  /** A peer-info frame whose view is the JSON text `view` (built as text: it may be too deep). */
  const peerInfo = (view: string, sender = '"to":"p0123456789abcdef"') =>
    `{"type":"signal",${sender},"data":{"type":"peer-info","info":{"nat":null,"view":${view}}}}`;

  it('says why a frame was refused', () => {
    expect(parseClientFrame(peerInfo(`{"deep":${nested(28)}}`))).toMatchObject({ type: 'signal' });
    expect(parseClientFrame(peerInfo(`{"deep":${nested(4250)}}`))).toBe('too-deep');
    expect(parseClientFrame(peerInfo(wide(8300)))).toBe('too-many-items');
    expect(parseClientFrame('{"type":')).toBe('not-json');
    expect(parseClientFrame('{"type":"list-rooms"}')).toBe('off-protocol');
  });

  it('refuses a deep view handed to parseSignalData directly, without throwing', () => {
    let deep: unknown = {};
    for (let i = 0; i < 10_000; i++) deep = { deep };
    expect(parseSignalData({ type: 'peer-info', info: { nat: null, view: deep } })).toBeNull();
  });

  it('holds the page to the same bounds for what the server sends', () => {
    const from = '"from":"p0123456789abcdef"';
    expect(parseServerMessage(peerInfo('{}', from))).not.toBeNull();
    expect(parseServerMessage(peerInfo(`{"deep":${nested(4250)}}`, from))).toBeNull();
    expect(parseServerMessage(peerInfo(wide(8300), from))).toBeNull();
  });
});
