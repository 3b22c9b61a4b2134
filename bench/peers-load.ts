/**
 * Benchmark 9: our signaling server against the servers people would pick instead (issue #15),
 * in the same run under the same load: PeerJS's server (`peer` on npm, its `peerjs` CLI) and
 * y-webrtc's signaling server (`y-webrtc/bin/server.js`), each started as its README says, on
 * loopback (bench/signaling-load.ts has the command lines).
 *
 * The load is section 1's (bench/signaling-load.ts, bench/signaling/load-worker.ts), spoken in
 * each protocol: the same candidate between the two members of every two-person pair, as a
 * `signal` to the other's id (ours), a `CANDIDATE` to the other's id (PeerJS), or a `publish` to
 * the pair's topic (y-webrtc, whose server sends it to every subscriber, the sender included: two
 * writes per relay where the others make one). All three servers are up at once in each round and
 * every ladder step runs on each in turn, as section 1 runs ours and the bare relay. Then the
 * start-up to the first accepted socket, as section 5 measures it.
 *
 * The figures only mean something next to what each server checks, so {@link VALIDATES} says it.
 */
import { benchSignalingLoad, type LoadOptions, type LoadResult } from './signaling-load.ts';
import { measureStartups } from './startup.ts';
import type { Summary } from './stats.ts';

export type PeerKind = 'ours' | 'peerjs' | 'y-webrtc';

export const PEER_KINDS: readonly PeerKind[] = ['ours', 'peerjs', 'y-webrtc'];

export const PEER_LABELS: Record<PeerKind, string> = {
  ours: 'Ours',
  peerjs: 'PeerJS server (`peer`)',
  'y-webrtc': 'y-webrtc signaling',
};

/**
 * What each server checks of a relayed frame, read from its code (signaling/protocol.ts,
 * node_modules/peer/dist/bin/peerjs.js, node_modules/y-webrtc/bin/server.js).
 */
export const VALIDATES: Record<PeerKind, string> = {
  ours:
    'shape and sender: every frame parsed into the message union (fresh object, unknown keys ' +
    'dropped), 64 KiB `maxPayload`, per-socket rate and byte budgets (lifted here, still run), ' +
    'recipient must be in the sender’s room; the server stamps the sender',
  peerjs:
    'sender, little shape: JSON parsed (a parse error is caught), `type` must be a known one and ' +
    'the message is rebuilt as `{type, src, dst, payload}` with `src` stamped by the server; ' +
    '`payload` and `dst` are not checked (an unknown `dst` is queued), no `maxPayload` (ws ' +
    'default 100 MiB), no rate limit; key and id/token checked at connect',
  'y-webrtc':
    'nothing: the frame is `JSON.parse`d unguarded (a non-JSON frame throws in the handler), ' +
    'any topic may be subscribed, the message goes out as sent (plus `clients`) to every ' +
    'subscriber, the sender included; the sender’s id is whatever the client writes',
};

/** {@link VALIDATES} in a few words, for the table. */
export const VALIDATES_SHORT: Record<PeerKind, string> = {
  ours: 'shape + sender (stamped by the server)',
  peerjs: 'sender (stamped by the server), message type',
  'y-webrtc': 'nothing',
};

export interface PeersOptions extends LoadOptions {
  /** Starts per server for the start-up figure. */
  startupRuns: number;
}

export interface PeersResult {
  load: LoadResult;
  startup: Record<PeerKind, Summary>;
}

export async function benchPeers(options: PeersOptions): Promise<PeersResult> {
  const { startupRuns, ...loadOptions } = options;
  const load = await benchSignalingLoad(loadOptions, PEER_KINDS);
  const startup = await measureStartups(PEER_KINDS, { runs: startupRuns, log: options.log });
  return { load, startup };
}
