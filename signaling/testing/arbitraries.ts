/**
 * fast-check arbitraries shared by the parser properties and the socket fuzz run
 * (signaling/*.test.ts). Test support only; nothing in the server imports it.
 */
import fc from 'fast-check';

/**
 * A valid message with one value somewhere inside replaced by any JSON value: the near misses a
 * hostile or buggy peer sends (a number for a string, an array for an object, ...).
 */
export function mutated(messages: fc.Arbitrary<object>): fc.Arbitrary<unknown> {
  return fc
    .tuple(messages, fc.nat(), fc.jsonValue({ maxDepth: 2 }))
    .map(([message, pick, replacement]) => {
      const copy = JSON.parse(JSON.stringify(message)) as unknown;
      const slots: [Record<string, unknown>, string][] = [];
      const walk = (value: unknown) => {
        if (typeof value !== 'object' || value === null) return;
        for (const key of Object.keys(value)) {
          slots.push([value as Record<string, unknown>, key]);
          walk((value as Record<string, unknown>)[key]);
        }
      };
      walk(copy);
      const slot = slots[pick % Math.max(1, slots.length)];
      if (slot) slot[0][slot[1]] = replacement;
      return copy;
    });
}
