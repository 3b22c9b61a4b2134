/**
 * Display names (issue #10): what a person calls themselves in a room. Names travel peer to peer
 * over the data channels (delivery.ts `NameFrame`); the signaling server never sees them. Pure.
 */

/** Longest name, UTF-16 code units (a name is a label in a list, not a sentence). */
export const MAX_NAME_CHARS = 40;

// C0 and C1 controls, and the bidi overrides/isolates that can reorder a list row (the
// "Trojan Source" characters, CVE-2021-42574): a name must not restyle its neighbours. The bidi
// set is Unicode's Bidi_Control property, U+061C (Arabic letter mark) included like LRM/RLM.
// eslint-disable-next-line no-control-regex -- removing control characters is the point
const UNWANTED = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * A name as it is kept and sent: unwanted characters removed, whitespace runs collapsed to one
 * space, trimmed, cut to {@link MAX_NAME_CHARS} (never inside a surrogate pair). `''` means "not
 * set": others then show {@link defaultName}. Never throws.
 */
export function normalizeName(text: string): string {
  const clean = text.replace(UNWANTED, '').replace(/\s+/gu, ' ').trim();
  if (clean.length <= MAX_NAME_CHARS) return clean;
  let cut = clean.slice(0, MAX_NAME_CHARS);
  // A lone high surrogate at the end would be half a character.
  if (/[\ud800-\udbff]$/.test(cut)) cut = cut.slice(0, -1);
  return cut.trimEnd();
}

/**
 * The name of someone who has not set one: "Guest" and the first four hex digits of their peer
 * id, upper case (`p4f2a…` → "Guest 4F2A"). Everyone derives the same default from the id the
 * server assigned, so nothing extra has to travel; a reload keeps it (the id comes from the
 * room's resume token).
 */
export function defaultName(peerId: string): string {
  return `Guest ${peerId.slice(1, 5).toUpperCase()}`;
}

/** The name to show for a peer: the one they set, else their {@link defaultName}. */
export function displayName(peerId: string, name: string | undefined): string {
  return name ? name : defaultName(peerId);
}
