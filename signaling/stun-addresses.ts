/**
 * Which addresses of this host the STUN responder gives sockets of their own, and which of them
 * pages are offered as STUN servers besides the host they loaded the page from (issue #14, "Dual
 * stack": a page loaded over IPv4 must still be able to test IPv6, and the other way round).
 * Pure: the interfaces come in as `os.networkInterfaces()` lists them, so a test can describe any
 * host; `signaling/main.ts` passes the real ones and binds what {@link planStunAddresses} says.
 *
 * Two lists, because they answer two different questions:
 * - `offer`: where a page should send Binding requests. Only addresses a browser elsewhere on the
 *   Internet can reach, at most {@link MAX_STUN_ADDRESSES_PER_FAMILY} per family.
 * - `bind`: which addresses need sockets of their own so that each answer leaves from the address
 *   its request was sent to. A socket bound to the wildcard (`::`, `0.0.0.0`) answers from the
 *   source address the kernel selects for the client (RFC 6724 §5), which on a host with two
 *   addresses of a family can be the other one. The client's stateful firewall then drops the
 *   answer (its state is for the address it sent to), and libwebrtc only takes a STUN response
 *   from the server address it asked. So, as coturn does by default (it listens on every address
 *   of every interface, one socket each), every address of such a family is bound on its own.
 */
import {
  describeAddress,
  formatIpAddress,
  parseIpAddress,
  type IpAddress,
  type IpFamily,
} from '../common/ip-address.ts';
import type { TransportAddress } from './stun.ts';

/**
 * Most addresses of one family a page is offered besides its page host. Each is two STUN URLs
 * (`STUN_PORT` and `STUN_PORT + 1`) on top of the page host's two and TURN's: Firefox warns from
 * three ICE URLs on ("slows down discovery") and again from five (`_validateIceServers` in its
 * PeerConnection.sys.mjs), and every URL is one more probe from every local interface. Two still
 * let a page compare its mappings towards two addresses of one family (RFC 5780 §4.3).
 */
export const MAX_STUN_ADDRESSES_PER_FAMILY = 2;

/** One entry of `os.networkInterfaces()`, as far as discovery reads it. */
export interface InterfaceAddress {
  /** An IP literal, e.g. `192.0.2.10` or `2001:db8::10` (Node writes no zone here). */
  readonly address: string;
}

/** `os.networkInterfaces()`: addresses by interface name, in the order the kernel lists them. */
export type NetworkInterfaces = Readonly<Record<string, readonly InterfaceAddress[] | undefined>>;

/** What the STUN responder binds and what pages are offered (see the module comment). */
export interface StunAddressPlan {
  /**
   * Offered to pages by `defaultIceServers` (config.ts), which picks those of the family the page
   * host is not in. Canonical literals (RFC 5952 for IPv6), no brackets, at most
   * {@link MAX_STUN_ADDRESSES_PER_FAMILY} per family, in the order given or listed.
   */
  readonly offer: readonly string[];
  /** Answered by sockets of their own on both ports, besides `HOST`. Canonical literals. */
  readonly bind: readonly string[];
  /**
   * `true` when both lists are `STUN_ADDRESSES`: an address that cannot be bound is then the
   * operator's mistake and stops start-up. `false` when discovered: one that cannot be bound
   * (yet: an IPv6 address is unusable during duplicate address detection, RFC 4862 §5.4) is left
   * out of both, see {@link offerableAfterBinding}.
   */
  readonly fromEnv: boolean;
}

/**
 * What to bind and offer, given `HOST` and `STUN_ADDRESSES`.
 * - `STUN_ADDRESSES` set (`stunAddresses` not `null`): those, offered and bound, whatever `HOST`.
 * - `HOST` a wildcard (`0.0.0.0` or `::`, which the responder binds for both families): from
 *   `interfaces`. Offered: the first {@link MAX_STUN_ADDRESSES_PER_FAMILY} per family that
 *   {@link isOfferedStunAddress}. Bound on their own: every address of a family that has two or
 *   more besides loopback and link-local (all of them, offered or not: a page loaded by a name can
 *   reach any); a family with one keeps the wildcard alone, as before issue #14.
 * - Any other `HOST`: nothing; the operator chose one address, and we bind no other.
 *
 * Limits: `os.networkInterfaces()` does not say which IPv6 addresses are temporary (RFC 8981) or
 * deprecated, so such a one may be offered; the addresses are read once at start-up, so one added
 * later is answered by the wildcard socket and never offered. Set `STUN_ADDRESSES` on such a host.
 *
 * @param host `HOST`, an IP literal.
 * @param stunAddresses `STUN_ADDRESSES` as `loadConfig` gives it (canonical, checked), or `null`.
 * @param interfaces `os.networkInterfaces()`; entries that are not IP literals are skipped.
 */
export function planStunAddresses(
  host: string,
  stunAddresses: readonly string[] | null,
  interfaces: NetworkInterfaces,
): StunAddressPlan {
  if (stunAddresses !== null) {
    return { offer: [...stunAddresses], bind: [...stunAddresses], fromEnv: true };
  }
  if (host !== '0.0.0.0' && host !== '::') return { offer: [], bind: [], fromEnv: false };

  const seen = new Set<string>();
  const routable: IpAddress[] = [];
  for (const entry of Object.values(interfaces).flat()) {
    const ip = entry === undefined ? null : parseIpAddress(entry.address);
    if (ip === null || !isRoutable(ip)) continue;
    const text = formatIpAddress(ip);
    if (seen.has(text)) continue;
    seen.add(text);
    routable.push(ip);
  }
  const ofFamily = (family: IpFamily) => routable.filter((ip) => ip.family === family);
  const offer = (['IPv6', 'IPv4'] as const).flatMap((family) =>
    ofFamily(family).filter(isOffered).slice(0, MAX_STUN_ADDRESSES_PER_FAMILY),
  );
  const bind = (['IPv6', 'IPv4'] as const).flatMap((family) => {
    const addresses = ofFamily(family);
    return addresses.length >= 2 ? addresses : [];
  });
  return { offer: offer.map(formatIpAddress), bind: bind.map(formatIpAddress), fromEnv: false };
}

/**
 * Whether discovery offers `address` to pages: whether a browser elsewhere on the Internet can
 * probably reach it. `false` for anything that is not an IP literal.
 *
 * - IPv6: global unicast from 2000::/3, the block IANA allocates from (RFC 3587 §3; RFC 4291
 *   §2.4 calls all that is not otherwise special global unicast, but no other block is in use).
 *   So not loopback (`::1`, RFC 4291 §2.5.3), not link-local (fe80::/10, §2.5.6: a `stun:` URL
 *   cannot carry the zone it needs) and not unique local (fc00::/7, RFC 4193: not routed on the
 *   Internet; a browser elsewhere would wait for an answer that cannot come, and the panel would
 *   say the server did not answer). The documentation prefix 2001:db8::/32 (RFC 3849) is inside
 *   2000::/3 and counts on purpose: the NAT lab uses it as its Internet (issue #14), and no real
 *   host has it (RFC 6890's registry marks it not global).
 * - IPv4: what the panel calls `public` (`describeAddress` in common/ip-address.ts): not RFC 1918
 *   private, not RFC 6598 shared (carrier-grade NAT), not loopback (127/8) and not link-local
 *   (169.254/16, RFC 3927). Private addresses would serve a LAN, but on a cloud VM behind 1:1 NAT
 *   the interface holds only a private one that no browser outside can reach; and a LAN page
 *   usually loaded from that very address (the page host). On a LAN, set `STUN_ADDRESSES`. The
 *   documentation blocks (RFC 5737) count as public, as 2001:db8::/32 does, for the lab.
 */
export function isOfferedStunAddress(address: string): boolean {
  const ip = parseIpAddress(address);
  return ip !== null && isOffered(ip);
}

function isOffered(ip: IpAddress): boolean {
  if (ip.family === 'IPv6') return ((ip.bytes[0] ?? 0) & 0xe0) === 0x20;
  return describeAddress(formatIpAddress(ip)) === 'public';
}

/**
 * Whether an interface address can be the destination of a request that a wildcard socket might
 * answer from another address: not unspecified, not loopback (one per family that matters: `::1`
 * and 127.0.0.1 answer themselves) and not link-local (the kernel picks a link-local source on the
 * same link, RFC 6724 §5 rule 2). Unique local and private addresses count: a LAN peer can send to
 * them.
 */
function isRoutable(ip: IpAddress): boolean {
  const [a = 0, b = 0] = ip.bytes;
  if (ip.bytes.every((byte) => byte === 0)) return false;
  if (ip.family === 'IPv4') return a !== 127 && !(a === 169 && b === 254) && a < 224;
  const loopback = ip.bytes.subarray(0, 15).every((byte) => byte === 0) && ip.bytes[15] === 1;
  const linkLocal = a === 0xfe && (b & 0xc0) === 0x80;
  return !loopback && !linkLocal && a !== 0xff;
}

/**
 * `plan.offer` without the addresses that were to have sockets of their own and did not get
 * one (`startStunService` with `skipUnavailable` leaves such an address out of its `addresses`):
 * answered by the wildcard socket, if at all, from whichever address the kernel picks.
 *
 * @param bound the running responder's `addresses`.
 */
export function offerableAfterBinding(
  plan: StunAddressPlan,
  bound: readonly TransportAddress[],
): string[] {
  const boundTexts = new Set(
    bound.map(({ address }) => parseIpAddress(address)).map((ip) => ip && formatIpAddress(ip)),
  );
  return plan.offer.filter((address) => !plan.bind.includes(address) || boundTexts.has(address));
}
