/**
 * "Export diagnostics": this device's view of the room and, per connection, both ends' view of
 * that pair (issue #10), as one JSON document. IP addresses and mDNS names are
 * redacted by default, because a diagnostics file gets pasted into bug reports and chats, and a
 * person's IP address locates them.
 */

/**
 * Schema version of the exported document; bump when its shape changes. Version 2 (issue #10):
 * `local` is this device's room-level view, `connections` one entry per remote person.
 */
export const EXPORT_FORMAT_VERSION = 2;

/** One peer connection in the export: this side's view of the pair, and theirs. */
export interface ExportedConnection {
  /** Their peer id in the room. */
  peerId: string;
  /** Their name as shown here. */
  name: string;
  local: unknown;
  /** Their view of the same pair, as they last sent it; `null` if it never arrived. */
  remote: unknown;
}

/** The exported document. */
export interface DiagnosticsExport {
  format: 'holepunch-chat-diagnostics';
  version: typeof EXPORT_FORMAT_VERSION;
  /** ISO 8601 time of export. */
  exportedAt: string;
  addressesRedacted: boolean;
  /** This device: NAT report, TURN check, status, room timeline. */
  local: unknown;
  connections: ExportedConnection[];
}

const IPV4 = String.raw`\b(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}\b`;
// Runs of hex groups with at least two colons; catches compressed forms like fe80::1 and ::1.
const IPV6 = String.raw`(?<![\w:])(?:[0-9a-fA-F]{0,4}:){2,7}[0-9a-fA-F]{0,4}(?![\w:])`;
const MDNS = String.raw`\b[0-9a-fA-F-]{36}\.local\b`;
const ADDRESS_RE = new RegExp(`${MDNS}|${IPV4}|${IPV6}`, 'g');

/** Addresses that identify nobody and explain a lot: keep them (unspecified, loopback). */
const KEPT = new Set(['0.0.0.0', '127.0.0.1', '::', '::1']);

/**
 * Replaces every IPv4/IPv6 address and mDNS host name inside any string of `value` (keys too are
 * left alone) with a stable placeholder, `ip-1`, `ip-2`, … or `mdns-1`, …: the same address gets
 * the same placeholder everywhere, so the document still shows which candidates share an address.
 * Returns a fresh structure; `value` is not modified. Numbers (ports) are kept.
 */
export function redactAddresses<T>(value: T): T {
  const names = new Map<string, string>();
  let ips = 0;
  let mdns = 0;
  const replace = (text: string) =>
    text.replace(ADDRESS_RE, (match) => {
      if (KEPT.has(match) || !/[0-9a-f]/i.test(match)) return match;
      let name = names.get(match.toLowerCase());
      if (!name) {
        name = match.toLowerCase().endsWith('.local') ? `mdns-${++mdns}` : `ip-${++ips}`;
        names.set(match.toLowerCase(), name);
      }
      return name;
    });
  const walk = (node: unknown): unknown => {
    if (typeof node === 'string') return replace(node);
    if (Array.isArray(node)) return node.map(walk);
    if (node && typeof node === 'object') {
      return Object.fromEntries(Object.entries(node).map(([key, item]) => [key, walk(item)]));
    }
    return node;
  };
  return walk(value) as T;
}

/**
 * Builds the export document; `includeAddresses: false` (the default in the UI) redacts.
 * `nowMs` is the export time, ms since the Unix epoch.
 */
export function buildDiagnosticsExport(
  views: { local: unknown; connections: ExportedConnection[] },
  options: { includeAddresses: boolean; nowMs: number },
): DiagnosticsExport {
  const document: DiagnosticsExport = {
    format: 'holepunch-chat-diagnostics',
    version: EXPORT_FORMAT_VERSION,
    exportedAt: new Date(options.nowMs).toISOString(),
    addressesRedacted: !options.includeAddresses,
    local: views.local,
    connections: views.connections,
  };
  return options.includeAddresses ? document : redactAddresses(document);
}
