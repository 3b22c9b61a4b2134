/**
 * The status line: what is happening, in words a person understands. Pure: derived from the
 * session's state, so every wording is unit-tested and the UI never invents its own.
 */

/** Where the page stands with the signaling server. */
export type ServerState = 'connecting' | 'open' | 'reconnecting' | 'closed' | 'room-full';

/** Where the page stands with the other person. */
export type PeerState =
  | 'absent' // nobody else in the room yet
  | 'connecting' // SDP/ICE in progress
  | 'open' // data channel open
  | 'failed' // ICE or DTLS failed
  | 'lost' // was open, then closed or disconnected
  | 'left'; // the other person left the room

/** Inputs of {@link describeStatus}. `verdict` is the diagnostics verdict of the selected pair. */
export interface StatusInput {
  server: ServerState;
  peer: PeerState;
  verdict: 'Direct' | 'Relayed (TURN)' | null;
}

/** A status line: the words, and a tone for colour (never the only carrier of meaning). */
export interface Status {
  text: string;
  tone: 'waiting' | 'busy' | 'good' | 'bad';
}

/** Chooses the status line. The peer connection outranks the server: P2P chat survives it. */
export function describeStatus({ server, peer, verdict }: StatusInput): Status {
  if (server === 'room-full') {
    return { text: 'This room is full: two people are already talking in it.', tone: 'bad' };
  }
  switch (peer) {
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
    case 'left':
      return { text: 'The other person left. Waiting for them to come back…', tone: 'waiting' };
    case 'absent':
      break;
  }
  if (server === 'connecting') return { text: 'Connecting to the chat server…', tone: 'busy' };
  if (server === 'reconnecting') {
    return { text: 'Lost the chat server. Reconnecting…', tone: 'busy' };
  }
  if (server === 'closed') {
    return { text: 'Cannot reach the chat server. Reload the page to try again.', tone: 'bad' };
  }
  return { text: 'Waiting for the other person to open the link…', tone: 'waiting' };
}
