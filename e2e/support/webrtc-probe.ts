/**
 * Reads a browser's own view of its WebRTC connection, independently of the app: an init script
 * keeps a reference to every RTCPeerConnection the page creates (the real class, unchanged), and
 * the readers ask each connection's `getStats()` which candidate pair it selected:
 * `browserSelectedPair` for the newest (a two-person page), `browserSelectedPairs` and
 * `browserPeerConnections` for all of them (a group room: one connection per other person).
 * Tests compare them with what the diagnostics panel shows.
 */
import type { Page } from '@playwright/test';

/**
 * The selected pair according to the browser's own `getStats()` (RTCIceCandidateStats). An
 * address is `''` where Chromium hides it (webrtc-stats §7.14): mDNS host candidates and prflx
 * ones (remote ones always; in the lab a symmetric-NAT host's local prflx too). A page shows
 * those as `(hidden)`.
 */
export interface BrowserSelectedPair {
  /** `host`, `srflx`, `prflx` or `relay`. */
  localType: string;
  localAddress: string;
  localPort: number;
  /** For a local relay candidate: how the browser reaches its TURN server (udp, tcp, tls). */
  localRelayProtocol: string | null;
  remoteType: string;
  remoteAddress: string;
  remotePort: number;
}

/**
 * One line for a selected pair, as the matrices print it:
 * `srflx 203.0.113.2:40000 via TURN/udp ↔ prflx (hidden):51234`, IPv6 as `[2001:db8::2]:4000`
 * (RFC 3986 §3.2.2, as the panel writes it); `(none)` for `null`.
 */
export function describePair(pair: BrowserSelectedPair | null): string {
  if (!pair) return '(none)';
  const endpoint = (address: string, port: number) =>
    !address
      ? `(hidden):${port}`
      : address.includes(':')
        ? `[${address}]:${port}`
        : `${address}:${port}`;
  const relay = pair.localRelayProtocol ? ` via TURN/${pair.localRelayProtocol}` : '';
  return `${pair.localType} ${endpoint(pair.localAddress, pair.localPort)}${relay} ↔ ${pair.remoteType} ${endpoint(pair.remoteAddress, pair.remotePort)}`;
}

/** One peer connection's selected pair, for pages with several (a group room, issue #10). */
export interface IndexedSelectedPair extends BrowserSelectedPair {
  /** Place of the connection among those the page created, from 0. */
  index: number;
  connectionState: RTCPeerConnectionState;
}

/** One recorded RTCPeerConnection as the browser sees it. */
export interface BrowserPeerConnection {
  /** Place of the connection among those the page created, from 0. */
  index: number;
  connectionState: RTCPeerConnectionState;
  /** Its selected pair, `null` while it has none (still checking, failed, or never started). */
  selectedPair: BrowserSelectedPair | null;
}

/**
 * Runs in a page before its scripts: keeps every RTCPeerConnection it constructs in
 * `window.__peerConnections`. Shared by Playwright (`addInitScript`) and Puppeteer
 * (`evaluateOnNewDocument`, e2e/support/firefox.ts).
 */
export function peerConnectionRecorder(): void {
  const Original = window.RTCPeerConnection;
  const seen: RTCPeerConnection[] = [];
  (window as unknown as { __peerConnections: RTCPeerConnection[] }).__peerConnections = seen;
  window.RTCPeerConnection = class extends Original {
    constructor(...args: ConstructorParameters<typeof RTCPeerConnection>) {
      super(...args);
      seen.push(this);
    }
  };
}

/** Call before `goto`: remembers every RTCPeerConnection the page constructs. */
export async function recordPeerConnections(page: Page): Promise<void> {
  await page.addInitScript(peerConnectionRecorder);
}

/**
 * Every peer connection the page created, in order of creation, closed ones included, each with
 * its selected pair (`transport.selectedCandidatePairId`) or `null` while it has none.
 */
export async function browserPeerConnections(page: Page): Promise<BrowserPeerConnection[]> {
  return page.evaluate(async () => {
    const pcs =
      (window as unknown as { __peerConnections?: RTCPeerConnection[] }).__peerConnections ?? [];
    const text = (value: unknown) => (typeof value === 'string' ? value : '');
    const all = [];
    for (const [index, pc] of pcs.entries()) {
      const stats = [...(await pc.getStats()).values()] as Record<string, unknown>[];
      const byId = new Map(stats.map((s) => [s.id, s]));
      const transport = stats.find((s) => s.type === 'transport' && s.selectedCandidatePairId);
      const pair = transport && byId.get(transport.selectedCandidatePairId);
      const local = pair && byId.get(pair.localCandidateId);
      const remote = pair && byId.get(pair.remoteCandidateId);
      all.push({
        index,
        connectionState: pc.connectionState,
        selectedPair:
          local && remote
            ? {
                localType: text(local.candidateType),
                localAddress: text(local.address),
                localPort: Number(local.port),
                localRelayProtocol: text(local.relayProtocol) || null,
                remoteType: text(remote.candidateType),
                remoteAddress: text(remote.address),
                remotePort: Number(remote.port),
              }
            : null,
      });
    }
    return all;
  });
}

/**
 * The selected pair (`transport.selectedCandidatePairId`) of the newest peer connection that is
 * not closed and has one, or `null` if none has. Not simply the newest connection: the page's NAT
 * test and TURN test make short-lived connections of their own, and since issue #13 the NAT test
 * runs after the chat's connection is up, so it is often the newest (closed, without a pair).
 */
export async function browserSelectedPair(page: Page): Promise<BrowserSelectedPair | null> {
  const live = (await browserPeerConnections(page)).filter(
    ({ connectionState, selectedPair }) => connectionState !== 'closed' && selectedPair,
  );
  return live.at(-1)?.selectedPair ?? null;
}

/**
 * The selected pair of every recorded peer connection that is not closed and has one, so a test
 * can match each "Connection to …" section with the browser's own `getStats()` of that connection.
 * A connection still without a pair is not here: compare with {@link browserPeerConnections} to
 * see that every open connection is accounted for.
 */
export async function browserSelectedPairs(page: Page): Promise<IndexedSelectedPair[]> {
  return (await browserPeerConnections(page)).flatMap(({ index, connectionState, selectedPair }) =>
    connectionState !== 'closed' && selectedPair
      ? [{ index, connectionState, ...selectedPair }]
      : [],
  );
}
