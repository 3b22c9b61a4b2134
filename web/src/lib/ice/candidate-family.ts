/**
 * The IP family of a candidate, and of a candidate pair, as the panel shows it (issue #14). Pure.
 *
 * ICE pairs a local candidate only with a remote one of the same IP family (RFC 8445 §6.1.2.2),
 * so a pair's family is that of whichever of its two addresses the browser shows, the local one
 * first. A relayed candidate's address is the TURN server's relayed address, so its family is the
 * family of the path between the relay and the peer, the one the pair's checks run over (the
 * leg from the browser to the TURN server may use the other family: RFC 8656's
 * REQUESTED-ADDRESS-FAMILY).
 *
 * When the browser hides an address (a host candidate behind an mDNS name, RFC 6762; a remote
 * peer-reflexive candidate, which webrtc-stats leaves without an address), the candidate's
 * priority may still tell: see {@link priorityFamily}. The result then says so (`from`).
 */
import { isIpv4Mapped, parseIpAddress, type IpFamily } from '../../../../common/ip-address.ts';
import { decomposePriority } from './ice-candidate.ts';

/** A family, and how it was read: from the address itself, or inferred from the priority. */
export interface CandidateFamily {
  family: IpFamily;
  from: 'address' | 'priority';
}

/** What {@link candidateFamily} reads: a parsed candidate line or an `RTCIceCandidateStats`. */
export interface FamilySource {
  type: string;
  /** IP literal or mDNS name; absent when the browser hides it. */
  address?: string;
  /** RFC 8445 §5.1.2.1 priority; absent when the stats left it out. */
  priority?: number;
}

/**
 * Family hint from a priority built by libwebrtc (Chromium, Safari). libwebrtc builds a
 * candidate's local preference as `(network preference << 8) | IPAddressPrecedence(ip)`, with
 * precedence 30 for IPv4 (and IPv4-mapped IPv6) and 60, 50, 40, 20, 10 (or 1 for deprecated
 * kinds) for IPv6 (`rtc_base/ip_address.cc`, after RFC 6724 §2.1): Chromium's
 * `…local … 2113937151` is IPv4, `2113939711` IPv6. Other browsers use other formulas (Firefox's
 * host candidates have a low byte of 0 or 1), which give `null` here, not a family; a relayed
 * candidate adds a relay preference to the same bits, so this is for host, srflx and prflx only.
 * Never throws.
 */
export function priorityFamily(priority: number | undefined): IpFamily | null {
  if (priority === undefined) return null;
  const precedence = (decomposePriority(priority)?.localPreference ?? 0) & 0xff;
  if (precedence === 30) return 'IPv4';
  if ([60, 50, 40, 20, 10].includes(precedence)) return 'IPv6';
  return null;
}

/**
 * The family of one candidate: from its address when that is an IP literal (an IPv4-mapped IPv6
 * address, RFC 4291 §2.5.5.2, counts as IPv4: its packets travel over IPv4), else from its
 * priority ({@link priorityFamily}, not for relay candidates). `null` when neither tells.
 * Never throws.
 */
export function candidateFamily(candidate: FamilySource): CandidateFamily | null {
  const ip = candidate.address === undefined ? null : parseIpAddress(candidate.address);
  if (ip !== null) {
    const mapped = ip.family === 'IPv6' && isIpv4Mapped(ip.bytes);
    return { family: mapped ? 'IPv4' : ip.family, from: 'address' };
  }
  if (candidate.type === 'relay') return null;
  const hinted = priorityFamily(candidate.priority);
  return hinted === null ? null : { family: hinted, from: 'priority' };
}

/**
 * The family of a candidate pair (RFC 8445 §6.1.2.2: both candidates share it): a visible
 * address, local first, then a priority hint, local first. `null` for no pair, or when neither
 * candidate tells. Never throws.
 */
export function pairFamily(
  pair: { local: FamilySource; remote: FamilySource } | null,
): CandidateFamily | null {
  if (pair === null) return null;
  const local = candidateFamily(pair.local);
  const remote = candidateFamily(pair.remote);
  if (local?.from === 'address') return local;
  if (remote?.from === 'address') return remote;
  return local ?? remote;
}

/**
 * The family as the panel writes it: `'IPv6'`, `'IPv6 (by priority)'` when inferred, or
 * `'hidden'` when the browser shows nothing that tells.
 */
export function familyLabel(family: CandidateFamily | null): string {
  if (family === null) return 'hidden';
  return family.from === 'address' ? family.family : `${family.family} (by priority)`;
}
