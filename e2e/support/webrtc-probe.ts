/**
 * Reads a browser's own view of its WebRTC connection, independently of the app: an init script
 * keeps a reference to every RTCPeerConnection the page creates (the real class, unchanged), and
 * `browserSelectedPair` asks that connection's `getStats()` which candidate pair it selected.
 * Tests compare it with what the diagnostics panel shows.
 */
import type { Page } from '@playwright/test';

/** The selected pair according to the browser's own `getStats()`. */
export interface BrowserSelectedPair {
  localType: string;
  localAddress: string;
  localPort: number;
  /** For a local relay candidate: how the browser reaches its TURN server (udp, tcp, tls). */
  localRelayProtocol: string | null;
  remoteType: string;
  remoteAddress: string;
  remotePort: number;
}

/** One peer connection's selected pair, for pages with several (a group room, issue #10). */
export interface IndexedSelectedPair extends BrowserSelectedPair {
  /** Place of the connection among those the page created, from 0. */
  index: number;
  connectionState: string;
}

/** Call before `goto`: remembers every RTCPeerConnection the page constructs. */
export async function recordPeerConnections(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const Original = window.RTCPeerConnection;
    const seen: RTCPeerConnection[] = [];
    (window as unknown as { __peerConnections: RTCPeerConnection[] }).__peerConnections = seen;
    window.RTCPeerConnection = class extends Original {
      constructor(...args: ConstructorParameters<typeof RTCPeerConnection>) {
        super(...args);
        seen.push(this);
      }
    };
  });
}

/**
 * Every recorded peer connection's selected pair (`transport.selectedCandidatePairId`), closed
 * ones included, and how many connections the page created.
 */
async function readPairs(page: Page): Promise<{ count: number; pairs: IndexedSelectedPair[] }> {
  return page.evaluate(async () => {
    const pcs =
      (window as unknown as { __peerConnections?: RTCPeerConnection[] }).__peerConnections ?? [];
    const pairs = [];
    for (const [index, pc] of pcs.entries()) {
      const stats = [...(await pc.getStats()).values()] as Record<string, unknown>[];
      const byId = new Map(stats.map((s) => [s.id, s]));
      const transport = stats.find((s) => s.type === 'transport' && s.selectedCandidatePairId);
      const pair = transport && byId.get(transport.selectedCandidatePairId);
      const local = pair && byId.get(pair.localCandidateId);
      const remote = pair && byId.get(pair.remoteCandidateId);
      if (!local || !remote) continue;
      pairs.push({
        index,
        connectionState: pc.connectionState,
        localType: String(local.candidateType),
        localAddress: String(local.address),
        localPort: Number(local.port),
        localRelayProtocol: typeof local.relayProtocol === 'string' ? local.relayProtocol : null,
        remoteType: String(remote.candidateType),
        remoteAddress: String(remote.address),
        remotePort: Number(remote.port),
      });
    }
    return { count: pcs.length, pairs };
  });
}

/**
 * The newest peer connection's selected pair (`transport.selectedCandidatePairId`), or `null` if
 * it has none yet.
 */
export async function browserSelectedPair(page: Page): Promise<BrowserSelectedPair | null> {
  const { count, pairs } = await readPairs(page);
  return pairs.find((pair) => pair.index === count - 1) ?? null;
}

/**
 * The selected pair of every recorded peer connection that is not closed and has one, so a test
 * can match each "Connection to …" section with the browser's own `getStats()` of that connection.
 */
export async function browserSelectedPairs(page: Page): Promise<IndexedSelectedPair[]> {
  return (await readPairs(page)).pairs.filter((pair) => pair.connectionState !== 'closed');
}
