/**
 * Short authentication string (SAS) against a lying signaling server (issue #4). The server relays
 * the SDP, so it could swap each side's DTLS certificate fingerprint (RFC 8122 §5) for one of its
 * own and sit in the middle of both DTLS handshakes. Both people see a string derived from the room
 * id and the two fingerprints *their* browser used; they compare it out of band (voice, in person)
 * and mark the conversation verified. A man in the middle gives each side a different pair of
 * fingerprints, hence — unless it can make the strings collide — different strings.
 *
 * How many bits, with numbers. Alice sees SAS(room, fpA, fpM1), Bob SAS(room, fpM2, fpB), where
 * fpM1 and fpM2 are the attacker's certificates; it wins if the two strings are equal.
 * - The server also decides who makes the offer (it sends `joined` / `peer-joined`), so it can make
 *   both sides offer and learn fpA and fpB before it commits to either of its own. It then needs any
 *   pair (x, y) with SAS(room, fpA, x) = SAS(room, y, fpB): a collision ("claw") search costing
 *   about 2^(n/2) trials for n output bits, with parallel collision search (van Oorschot & Wiener,
 *   J. Cryptology 1999) and little memory. (With one side's value fixed first it would be a second
 *   preimage, 2^n; the collision bound is the one that holds.)
 * - A trial is a few SHA-256 compressions (fingerprint of a certificate variant, then this hash). A
 *   current GPU computes ~2×10^10 single-block SHA-256 per second (hashcat, RTX 4090 class); call
 *   it 5×10^9 trials/s, which flatters the attacker.
 * - Nothing can be precomputed: browsers make a fresh certificate per RTCPeerConnection, and the
 *   room id is hashed in. The search has to finish while both people watch "connecting".
 * - n = 64: 2^32 ≈ 4×10^9 trials, about a second on one GPU. n = 80: 2^40, a few minutes.
 *   n = 100: 2^50, ~2.6 GPU-days, i.e. under an hour for a hundred GPUs. n = 120: 2^60 ≈ 1.2×10^18,
 *   ~7 GPU-years, ~3 days on a thousand GPUs, for a single handshake.
 * So {@link SAS_BITS} = 120: 24 characters, read as six groups of four. A commitment to the
 * fingerprints exchanged before them (ZRTP's hash commitment, RFC 6189 §4.4.1.1) would make a
 * 20-bit string enough, but needs another round through the same untrusted server and certificates
 * generated ahead; not done here. Limit: the string proves nothing unless people compare all of it.
 *
 * SHA-256 comes from @noble/hashes (audited, synchronous), because `crypto.subtle` exists only in
 * secure contexts and the page may be served over plain http on a LAN.
 */
import { sha256 } from '@noble/hashes/sha2.js';

/** Bits of SHA-256 output shown (see the module comment for why 120). */
export const SAS_BITS = 120;

/**
 * Crockford's base32 alphabet: digits and capitals without I and L (read as 1), O (read as 0) and
 * U (https://www.crockford.com/base32.html). Meant for reading on screen; aloud, spell letters.
 */
export const SAS_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** Characters per group in the displayed string. */
export const SAS_GROUP_CHARS = 4;

/** Bits per character of {@link SAS_ALPHABET}. */
const BITS_PER_CHAR = Math.log2(SAS_ALPHABET.length);

/** Characters in a SAS: 24. */
export const SAS_CHARS = SAS_BITS / BITS_PER_CHAR;

/** Domain separation: this hash means nothing in any other protocol, nor in another version. */
export const SAS_CONTEXT = 'holepunch-chat SAS v1';

/** Digest sizes of the hash functions RFC 8122 §5 names, bytes. */
const DIGEST_BYTES: Readonly<Record<string, number>> = {
  md2: 16,
  md5: 16,
  'sha-1': 20,
  'sha-224': 28,
  'sha-256': 32,
  'sha-384': 48,
  'sha-512': 64,
};

/** RFC 4566 §9 `token` characters, which other hash function names may use (RFC 8122 §5). */
const TOKEN = /^[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+$/;

/**
 * One fingerprint in canonical form, `"<hash-func> <HEX:HEX:…>"`, e.g. `sha-256 D2:FA:…:0F`: the
 * hash function in lower case (ABNF literals are case-insensitive, RFC 5234 §2.3), the bytes in
 * upper-case hex as RFC 8122 §5 writes them. `null` if `hex` is not colon-separated byte pairs,
 * or has the wrong length for a hash function RFC 8122 names. Accepts getStats()'s
 * `RTCCertificateStats` (`fingerprintAlgorithm`, `fingerprint`) as well as SDP.
 */
export function formatFingerprint(hashFunction: string, hex: string): string | null {
  const name = hashFunction.toLowerCase();
  if (!TOKEN.test(name) || !/^[0-9a-f]{2}(:[0-9a-f]{2})*$/i.test(hex)) return null;
  const bytes = (hex.length + 1) / 3;
  const expected = DIGEST_BYTES[name];
  if (expected !== undefined && bytes !== expected) return null;
  return `${name} ${hex.toUpperCase()}`;
}

/**
 * Every `a=fingerprint:<hash-func> <fingerprint>` of an SDP (RFC 8122 §5), at session or media
 * level, in canonical form ({@link formatFingerprint}), without repeats, in order of appearance.
 * Malformed lines are skipped; an SDP without any gives `[]`.
 */
export function fingerprintsFromSdp(sdp: string): string[] {
  const found = new Set<string>();
  for (const line of sdp.split(/\r?\n/)) {
    const match = /^a=fingerprint:(\S+) +(\S+) *$/i.exec(line);
    if (!match) continue;
    const fingerprint = formatFingerprint(match[1] ?? '', match[2] ?? '');
    if (fingerprint) found.add(fingerprint);
  }
  return [...found];
}

/**
 * The certificate identity of one side for {@link shortAuthString}: all its SDP fingerprints,
 * sorted, joined with `,` (browsers put one; any added or changed one changes the string). `null`
 * if the SDP has none, in which case there is nothing to verify.
 */
export function sdpFingerprint(sdp: string): string | null {
  const all = fingerprintsFromSdp(sdp).sort();
  return all.length > 0 ? all.join(',') : null;
}

/** Inputs of {@link shortAuthString}. */
export interface SasInput {
  roomId: string;
  /** This side's fingerprint(s), from {@link sdpFingerprint} of the local SDP. */
  localFingerprint: string;
  /** The other side's, from {@link sdpFingerprint} of the SDP that came through signaling. */
  remoteFingerprint: string;
}

/**
 * The string both people compare: the first {@link SAS_BITS} bits of
 * SHA-256(UTF-8(JSON.stringify([SAS_CONTEXT, roomId, a, b]))), where a ≤ b are the two
 * fingerprints sorted (so both sides, each calling its own "local", get the same string), in
 * {@link SAS_ALPHABET}, most significant bits first, as groups of {@link SAS_GROUP_CHARS} joined by
 * spaces: `"K7QM 3XPA …"`. JSON keeps the fields apart unambiguously.
 *
 * @throws {RangeError} if a fingerprint is empty (the caller has none to compare yet).
 */
export function shortAuthString({ roomId, localFingerprint, remoteFingerprint }: SasInput): string {
  if (localFingerprint === '' || remoteFingerprint === '') {
    throw new RangeError('shortAuthString needs both fingerprints');
  }
  const [a, b] = [localFingerprint, remoteFingerprint].sort();
  const digest = sha256(new TextEncoder().encode(JSON.stringify([SAS_CONTEXT, roomId, a, b])));
  let text = '';
  for (let char = 0; char < SAS_CHARS; char++) {
    let value = 0;
    for (let bit = char * BITS_PER_CHAR; bit < (char + 1) * BITS_PER_CHAR; bit++) {
      value = (value << 1) | (((digest[bit >> 3] ?? 0) >> (7 - (bit & 7))) & 1);
    }
    if (char > 0 && char % SAS_GROUP_CHARS === 0) text += ' ';
    text += SAS_ALPHABET[value];
  }
  return text;
}
