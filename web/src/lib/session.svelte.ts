/**
 * One person's session in one room: signaling socket, peer connection, conversation and the
 * diagnostics record, as reactive state for the components. The logic it applies lives in the
 * pure modules it imports; this class only wires events to state.
 */
import type { ServerMessage, SignalData } from '../../../signaling/protocol.ts';
import { composeMessage, parseChatMessage, type ChatEntry } from './chat-log.ts';
import { attachServerUrls, type CandidateRow } from './candidate-rows.ts';
import { parseIceCandidate } from './ice-candidate.ts';
import { buildIceReport, verdict, type IceReport, type Verdict } from './ice-report.ts';
import { PeerLink, type CandidateError, type PeerStates } from './rtc/peer.ts';
import { SignalingClient, signalingUrl } from './signaling-client.ts';
import { describeStatus, type PeerState, type ServerState, type Status } from './status.ts';

/** How often the panel reads `getStats()` while a peer connection exists, ms. */
export const STATS_INTERVAL_MS = 1000;

/** One step of the connection, ms since the page started loading (`performance.now()`). */
export interface TimelineEntry {
  label: string;
  atMs: number;
}

/** Reactive state of one room, for one person. Call {@link RoomSession.start} to connect. */
export class RoomSession {
  /** The room's id, from the link. */
  readonly roomId: string;

  #server = $state<ServerState>('connecting');
  #peerState = $state<PeerState>('absent');
  #messages = $state.raw<ChatEntry[]>([]);
  #localCandidates = $state.raw<readonly CandidateRow[]>([]);
  #remoteCandidates = $state.raw<CandidateRow[]>([]);
  #candidateErrors = $state.raw<CandidateError[]>([]);
  #states = $state.raw<PeerStates | null>(null);
  #report = $state.raw<IceReport | null>(null);
  #timeline = $state.raw<TimelineEntry[]>([{ label: 'Page opened', atMs: 0 }]);

  #verdict = $derived<Verdict | null>(verdict(this.#report?.selectedPair ?? null));
  #status = $derived<Status>(
    describeStatus({
      server: this.#server,
      // ICE `disconnected` may heal by itself (RFC 7675 consent), but the person should know now.
      peer:
        this.#peerState === 'open' && this.#states?.iceConnectionState === 'disconnected'
          ? 'lost'
          : this.#peerState,
      verdict: this.#verdict,
    }),
  );

  #client: SignalingClient | null = null;
  #peer: PeerLink | null = null;
  #remoteId: string | null = null;
  #iceServers: RTCIceServer[] = [];
  #statsTimer: ReturnType<typeof setInterval> | undefined;

  constructor(roomId: string) {
    this.roomId = roomId;
  }

  get status(): Status {
    return this.#status;
  }
  get messages(): readonly ChatEntry[] {
    return this.#messages;
  }
  /** True while the data channel is open: the only time a message can go out. */
  get canSend(): boolean {
    return this.#peerState === 'open';
  }
  get localCandidates(): readonly CandidateRow[] {
    return this.#localCandidates;
  }
  get remoteCandidates(): readonly CandidateRow[] {
    return this.#remoteCandidates;
  }
  get candidateErrors(): readonly CandidateError[] {
    return this.#candidateErrors;
  }
  get states(): PeerStates | null {
    return this.#states;
  }
  get report(): IceReport | null {
    return this.#report;
  }
  get verdict(): Verdict | null {
    return this.#verdict;
  }
  get timeline(): readonly TimelineEntry[] {
    return this.#timeline;
  }

  /** Connects to signaling and joins the room. Returns the teardown (for a Svelte `$effect`). */
  start(): () => void {
    this.#client = new SignalingClient(signalingUrl(location), {
      open: () => this.#mark('Signaling connected'),
      message: (message) => this.#onServerMessage(message),
      closed: () => {
        if (this.#server !== 'room-full') this.#server = 'closed';
      },
    });
    return () => {
      this.#dropPeer();
      this.#client?.close();
      this.#client = null;
    };
  }

  /** Sends `text` to the other person. `false` (draft kept by the caller) if it cannot go now. */
  send(text: string): boolean {
    const message = composeMessage(text, Date.now());
    if (!message || !this.#peer?.send(JSON.stringify(message))) return false;
    this.#messages = [...this.#messages, { id: message.id, from: 'me', text, at: message.sentAt }];
    return true;
  }

  #mark(label: string): void {
    if (this.#timeline.some((entry) => entry.label === label)) return;
    this.#timeline = [...this.#timeline, { label, atMs: performance.now() }];
  }

  #onServerMessage(message: ServerMessage): void {
    switch (message.type) {
      case 'hello':
        this.#iceServers = message.iceServers;
        this.#server = 'open';
        this.#client?.send({ type: 'join', room: this.roomId });
        return;
      case 'joined':
        // The newcomer makes the offer to whoever is already there.
        if (message.peers[0]) this.#connect(message.peers[0], true);
        return;
      case 'peer-joined':
        this.#connect(message.id, false);
        return;
      case 'peer-left':
        if (message.id !== this.#remoteId) return;
        this.#dropPeer();
        this.#peerState = 'left';
        return;
      case 'signal':
        if (message.from === this.#remoteId) this.#onRemoteSignal(message.data);
        return;
      case 'error':
        if (message.code === 'room-full') this.#server = 'room-full';
        return;
    }
  }

  #connect(remoteId: string, initiator: boolean): void {
    this.#dropPeer();
    this.#mark('Other person in the room');
    this.#remoteId = remoteId;
    this.#peerState = 'connecting';
    this.#localCandidates = [];
    this.#remoteCandidates = [];
    this.#candidateErrors = [];
    this.#report = null;
    const link: PeerLink = new PeerLink(
      { initiator, iceServers: this.#iceServers },
      {
        signal: (data) => {
          if (link !== this.#peer) return;
          this.#client?.send({ type: 'signal', to: remoteId, data });
          this.#record(data, 'sent', link);
        },
        open: () => {
          if (link !== this.#peer) return;
          this.#mark('Data channel open');
          this.#peerState = 'open';
          void this.#pollStats();
        },
        message: (text) => this.#onChatText(text),
        states: (states) => {
          if (link !== this.#peer) return;
          this.#states = states;
          if (states.iceConnectionState === 'checking') this.#mark('ICE checking');
          if (states.iceConnectionState === 'connected') this.#mark('ICE connected');
          if (states.connectionState === 'connected') this.#mark('DTLS connected');
        },
        candidateError: (error) => {
          if (link === this.#peer) this.#candidateErrors = [...this.#candidateErrors, error];
        },
        closed: (error) => {
          if (link !== this.#peer) return;
          void this.#pollStats().finally(() => this.#stopStats());
          this.#peerState = this.#peerState === 'open' ? 'lost' : error ? 'failed' : 'lost';
        },
      },
    );
    this.#peer = link;
    this.#statsTimer = setInterval(() => void this.#pollStats(), STATS_INTERVAL_MS);
  }

  #onRemoteSignal(data: SignalData): void {
    if (!this.#peer) return;
    this.#record(data, 'received', this.#peer);
    this.#peer.signal(data);
  }

  /** Notes SDP steps in the timeline and trickled candidates in the tables. */
  #record(data: SignalData, direction: 'sent' | 'received', link: PeerLink): void {
    if (data.type !== 'candidate') {
      this.#mark(`${data.type === 'offer' ? 'Offer' : 'Answer'} ${direction}`);
      return;
    }
    const parsed = parseIceCandidate(data.candidate.candidate);
    if (!parsed) return;
    const row: CandidateRow = { ...parsed, atMs: link.elapsedMs() };
    if (direction === 'sent') {
      this.#mark(`First local ${parsed.type} candidate`);
      this.#localCandidates = [...this.#localCandidates, row];
    } else {
      this.#remoteCandidates = [...this.#remoteCandidates, row];
    }
  }

  #onChatText(text: string): void {
    const message = parseChatMessage(text);
    if (!message) return;
    this.#mark('First message');
    const entry: ChatEntry = { id: message.id, from: 'peer', text: message.text, at: Date.now() };
    this.#messages = [...this.#messages, entry];
  }

  async #pollStats(): Promise<void> {
    const link = this.#peer;
    const stats = await link?.stats();
    if (!stats || link !== this.#peer) return;
    const report = buildIceReport(stats);
    this.#report = report;
    this.#localCandidates = attachServerUrls(this.#localCandidates, report.localCandidates);
  }

  #stopStats(): void {
    clearInterval(this.#statsTimer);
    this.#statsTimer = undefined;
  }

  #dropPeer(): void {
    this.#stopStats();
    const link = this.#peer;
    this.#peer = null;
    this.#remoteId = null;
    link?.destroy();
  }
}
