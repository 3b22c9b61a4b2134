/**
 * The status line: what is happening in the room, in words a person understands. Pure: derived
 * from the room session's state, so every wording is unit-tested and the UI never invents its
 * own. With one other person the words are about "the other person"; in a group they count
 * people and name who is not reached (issue #10).
 */
import type { PeerState } from '../peer/peer-session.svelte.ts';

/**
 * Where the page stands with the signaling server. `refused`: the server closed the socket on
 * purpose and retrying cannot help (a final close code; `closeWords` says why).
 */
export type ServerState = 'connecting' | 'open' | 'reconnecting' | 'closed' | 'refused';

/** One other person, as the status line needs them. */
export interface PeerStatus {
  name: string;
  /** Our connection to them; `lost` also for an open channel whose ICE is `disconnected`. */
  state: PeerState;
  verdict: 'Direct' | 'Relayed (TURN)' | null;
}

/** Inputs of {@link describeStatus}. */
export interface StatusInput {
  server: ServerState;
  /** With `refused`: the close code's words (`describeClose` in signaling/protocol.ts). */
  closeWords?: string | null;
  /**
   * The other people (not me) this page knows of, in the order they appear in the list; those who
   * left are counted out (with one exception: a two-person room says "the other person left").
   */
  peers: readonly PeerStatus[];
}

/** A status line: the words, and a tone for colour (never the only carrier of meaning). */
export interface Status {
  text: string;
  tone: 'waiting' | 'busy' | 'good' | 'bad';
}

/** Chooses the status line. Peer connections outrank the server: P2P chat survives it. */
export function describeStatus({ server, closeWords, peers }: StatusInput): Status {
  if (server === 'refused') {
    return {
      text: closeWords ?? 'The chat server closed the connection. Reload the page to try again.',
      tone: 'bad',
    };
  }
  const present = peers.filter((peer) => peer.state !== 'left');
  const [only] = present;
  if (only && present.length === 1) return describeOne(only);
  if (present.length > 1) return describeGroup(present);
  const [gone] = peers;
  if (gone && peers.length === 1) return describeOne(gone);
  if (peers.length > 1) {
    return { text: 'Everyone else left. Waiting for them to come back…', tone: 'waiting' };
  }
  if (server === 'connecting') return { text: 'Connecting to the chat server…', tone: 'busy' };
  if (server === 'reconnecting') {
    return { text: 'Lost the chat server. Reconnecting…', tone: 'busy' };
  }
  if (server === 'closed') {
    return { text: 'Cannot reach the chat server. Reload the page to try again.', tone: 'bad' };
  }
  return { text: 'Waiting for others to open the link…', tone: 'waiting' };
}

function describeOne({ state, verdict }: PeerStatus): Status {
  switch (state) {
    case 'open':
      if (verdict === 'Relayed (TURN)') {
        return { text: 'Connected through a relay server (TURN).', tone: 'good' };
      }
      if (verdict === 'Direct') return { text: 'Connected directly, peer to peer.', tone: 'good' };
      return { text: 'Connected.', tone: 'good' };
    case 'connecting':
      return { text: 'Connecting to the other person…', tone: 'busy' };
    case 'failed':
      return {
        text: 'Could not connect: your networks did not find a path to each other. See the diagnostics below.',
        tone: 'bad',
      };
    case 'lost':
      return { text: 'Connection lost. Reconnecting to the other person…', tone: 'bad' };
    case 'stopped':
      return {
        text: 'Disconnected from the other person: their page broke the chat’s limits. See the diagnostics below.',
        tone: 'bad',
      };
    case 'left':
      return { text: 'The other person left. Waiting for them to come back…', tone: 'waiting' };
  }
}

/** "Ann", "Ann and Bob", "Ann, Bob and Cem". */
function listNames(names: readonly string[]): string {
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

/** Two or more people present (none of `peers` has left). */
function describeGroup(peers: readonly PeerStatus[]): Status {
  const named = (state: PeerState) => peers.filter((p) => p.state === state).map((p) => p.name);
  const open = peers.filter((peer) => peer.state === 'open');
  const direct = open.filter((peer) => peer.verdict === 'Direct').length;
  const relayed = open.filter((peer) => peer.verdict === 'Relayed (TURN)').length;
  const how = [
    direct > 0 ? `${direct} directly` : '',
    relayed > 0 ? `${relayed} through a relay (TURN)` : '',
  ].filter(Boolean);
  const paths = how.length > 0 ? `: ${how.join(', ')}` : '';
  if (open.length === peers.length) {
    return {
      text: `Connected to all ${open.length} other people${paths}.`,
      tone: 'good',
    };
  }
  const parts = [`Connected to ${open.length} of ${peers.length} other people${paths}`];
  const failed = named('failed');
  const lost = named('lost');
  const connecting = named('connecting');
  const stopped = named('stopped');
  if (failed.length > 0)
    parts.push(`could not connect to ${listNames(failed)} (see the diagnostics below)`);
  if (lost.length > 0) parts.push(`lost ${listNames(lost)}, reconnecting`);
  if (connecting.length > 0) parts.push(`connecting to ${listNames(connecting)}`);
  if (stopped.length > 0) {
    parts.push(`disconnected from ${listNames(stopped)}, whose page broke the chat’s limits`);
  }
  const tone = failed.length > 0 || lost.length > 0 || stopped.length > 0 ? 'bad' : 'busy';
  return { text: `${parts.join('; ')}.`, tone };
}
