/**
 * JSON with structural limits, for every JSON text a peer or the server may send us: a maximum
 * nesting depth and a maximum number of items (array elements and object members), checked on
 * the text in one pass without recursion, before `JSON.parse` builds anything.
 *
 * Why (issue #9): `JSON.parse` itself copes with any depth, but everything after it that walks the
 * value recursively does not: one 9 KB frame of arrays nested 4,250 deep made `JSON.stringify`
 * throw `RangeError: Maximum call stack size exceeded` and took the server down. And a 64 KiB
 * frame of ~8,300 tiny keys cost ~8 ms of parsing, copying and re-serialising: cheap to send, dear
 * to handle. Both bounds are far above what an honest page sends (see {@link JSON_LIMITS}), so
 * they only ever stop attacks.
 *
 * Imported by the server (`protocol.ts`) and by the page (the data channel, `delivery.ts`).
 */

/** Structural bounds of {@link parseBoundedJson}. */
export interface JsonLimits {
  /** Deepest nesting of arrays and objects; a top-level object is depth 1. */
  maxDepth: number;
  /** Most items in all: each array, each object, each `,` between elements or members. */
  maxItems: number;
}

/**
 * The protocol's bounds. The deepest honest frame is a diagnostics view inside `peer-info`:
 * frame → data → info → view → pairs → pair → a field, depth ~7. The widest is that view at its
 * cap of half a frame (32 KiB, web/src/lib/room/room-session.svelte.ts), ~1,500–2,500 items with the field
 * names and values it has. So 32 levels and 4,096 items leave a wide margin, while the recursion
 * that follows (`JSON.stringify` overflows at ~4,000 levels here) and the per-frame work stay
 * bounded.
 */
export const JSON_LIMITS: JsonLimits = { maxDepth: 32, maxItems: 4096 };

/** Why {@link scanJson} refused a text. */
export type JsonShapeError = 'too-deep' | 'too-many-items';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/**
 * Checks `text` against `limits` in one pass over its UTF-16 code units, skipping string contents
 * (escapes included). It does not validate JSON: a text that passes may still be malformed, and
 * `JSON.parse` decides that afterwards. Linear time, constant memory, never throws.
 *
 * @returns `null` when within the limits, else which limit the text passed first.
 */
export function scanJson(text: string, limits: JsonLimits = JSON_LIMITS): JsonShapeError | null {
  let depth = 0;
  let items = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (inString) {
      if (code === BACKSLASH) i++;
      else if (code === QUOTE) inString = false;
      continue;
    }
    switch (code) {
      case QUOTE:
        inString = true;
        break;
      case OPEN_BRACKET:
      case OPEN_BRACE:
        if (++depth > limits.maxDepth) return 'too-deep';
        if (++items > limits.maxItems) return 'too-many-items';
        break;
      case CLOSE_BRACKET:
      case CLOSE_BRACE:
        depth--;
        break;
      case COMMA:
        if (++items > limits.maxItems) return 'too-many-items';
        break;
    }
  }
  return null;
}

/** Outcome of {@link parseBoundedJson}. */
export type BoundedJson =
  { ok: true; value: unknown } | { ok: false; error: JsonShapeError | 'not-json' };

/**
 * `JSON.parse` behind {@link scanJson}: a text over the limits is refused before it is parsed.
 * Never throws.
 */
export function parseBoundedJson(text: string, limits: JsonLimits = JSON_LIMITS): BoundedJson {
  const shape = scanJson(text, limits);
  if (shape !== null) return { ok: false, error: shape };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, error: 'not-json' };
  }
}

/**
 * Checks an already-built value against `limits` the way {@link scanJson} checks text, with an
 * explicit stack (no recursion), and that it is plain JSON data: `null`, booleans, finite
 * numbers, strings, arrays and plain objects. A cycle counts as too deep. For values that did not
 * come from {@link parseBoundedJson} (e.g. an object handed to the protocol's parsers directly).
 *
 * @returns `null` when it is JSON within the limits, the limit it passed, or `'not-json'`.
 */
export function checkJsonValue(
  value: unknown,
  limits: JsonLimits = JSON_LIMITS,
): JsonShapeError | 'not-json' | null {
  const stack: [unknown, number][] = [[value, 1]];
  let items = 0;
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current === 'boolean' || typeof current === 'string') continue;
    if (typeof current === 'number') {
      if (!Number.isFinite(current)) return 'not-json';
      continue;
    }
    if (typeof current !== 'object') return 'not-json';
    if (depth > limits.maxDepth) return 'too-deep';
    const proto: unknown = Object.getPrototypeOf(current);
    const children: unknown[] = Array.isArray(current)
      ? current
      : proto === Object.prototype || proto === null
        ? Object.values(current)
        : [undefined]; // a Date, a Map, a class instance: not JSON data
    // One for the container, one per separator, as the text would have.
    items += 1 + Math.max(0, children.length - 1);
    if (items > limits.maxItems) return 'too-many-items';
    for (const child of children) stack.push([child, depth + 1]);
  }
  return null;
}
