/**
 * One person's session in one room: signaling socket, peer connection, conversation and the
 * diagnostics record, as reactive state for the components. The logic it applies lives in the
 * pure modules it imports; this class only wires events to state.
 */
import {
  MAX_FRAME_BYTES,
  type PeerInfo,
  type ServerMessage,
  type SignalData,
} from '../../../signaling/protocol.ts';
import { buildDiagnosticsExport, type DiagnosticsExport } from './diagnostics-export.ts';
import { composeMessage, parseChatMessage, type ChatEntry } from './chat-log.ts';
import { attachCandidateStats, type CandidateRow } from './candidate-rows.ts';
import { parseIceCandidate } from './ice-candidate.ts';
import { buildIceReport, verdict, type IceReport, type Verdict } from './ice-report.ts';
import { PeerLink, type CandidateError, type PeerStates } from './rtc/peer.ts';
import { SignalingClient, signalingUrl } from './signaling-client.ts';
import { describeStatus, type PeerState, type ServerState, type Status } from './status.ts';
import type { TimelineEntry } from './timeline.ts';

/** How often the panel reads `getStats()` while a peer connection exists, ms. */
export const STATS_INTERVAL_MS = 1000;

/** Least time between two diagnostics views sent to the other peer, ms (signaling is shared). */
export const SHARE_INTERVAL_MS = 2000;

/** One change of the selected candidate pair, as `getStats()` reported it. */
export interface PairChange {
  /** ms since the page started loading. */
  atMs: number;
  pairId: string;
  /** e.g. `srflx 203.0.113.2:40000 ↔ srflx 203.0.113.3:40000`. */
  summary: string;
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
  #pairHistory = $state.raw<PairChange[]>([]);
  #remoteInfo = $state.raw<PeerInfo | null>(null);

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
  #shareTimer: ReturnType<typeof setTimeout> | undefined;
  #lastSharedAt = -Infinity;
  #initiator = false;

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
  /** Every change of the selected pair since the peer connection was created, oldest first. */
  get pairHistory(): readonly PairChange[] {
    return this.#pairHistory;
  }

  /** What the other peer last told us about its side (NAT report, diagnostics view). */
  get remoteInfo(): PeerInfo | null {
    return this.#remoteInfo;
  }

  /** This side's diagnostics as plain JSON-able data, for the export and for the other peer. */
  diagnosticsView(): Record<string, unknown> {
    return {
      role: this.#remoteId === null ? 'alone' : this.#initiator ? 'offerer' : 'answerer',
      userAgent: navigator.userAgent,
      status: this.#status.text,
      verdict: this.#verdict,
      states: this.#states,
      selectedPair: this.#report?.selectedPair ?? null,
      selectedPairSource: this.#report?.selectedPairSource ?? null,
      pairs: this.#report?.pairs ?? [],
      pairHistory: this.#pairHistory,
      localCandidates: this.#localCandidates,
      remoteCandidates: this.#remoteCandidates,
      candidateErrors: this.#candidateErrors,
      timeline: this.#timeline,
    };
  }

  /** Both peers' views as one document; addresses redacted unless `includeAddresses`. */
  exportDiagnostics(includeAddresses: boolean): DiagnosticsExport {
    return buildDiagnosticsExport(
      { local: this.diagnosticsView(), remote: this.#remoteInfo?.view ?? null },
      { includeAddresses, nowMs: Date.now() },
    );
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
    this.#pairHistory = [];
    this.#remoteInfo = null;
    this.#initiator = initiator;
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
    if (data.type === 'peer-info') {
      this.#remoteInfo = data.info;
      return;
    }
    if (!this.#peer) return;
    this.#record(data, 'received', this.#peer);
    this.#peer.signal(data);
  }

  /** Notes SDP steps in the timeline and trickled candidates in the tables. */
  #record(data: SignalData, direction: 'sent' | 'received', link: PeerLink): void {
    if (data.type === 'peer-info') return;
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
    const pair = report.selectedPair;
    if (pair && pair.id !== this.#pairHistory.at(-1)?.pairId) {
      const side = (c: typeof pair.local) => `${c.type} ${c.address ?? '(hidden)'}:${c.port}`;
      const change = {
        atMs: performance.now(),
        pairId: pair.id,
        summary: `${side(pair.local)} ↔ ${side(pair.remote)}`,
      };
      this.#pairHistory = [...this.#pairHistory, change];
    }
    this.#localCandidates = attachCandidateStats(this.#localCandidates, report.localCandidates);
    this.#shareView();
  }

  /**
   * Sends this side's view to the other peer through signaling, at most once per
   * {@link SHARE_INTERVAL_MS} (trailing), so that both panels, and an export from either, hold
   * both views even when the peer connection itself never comes up.
   */
  #shareView(): void {
    if (this.#shareTimer !== undefined || this.#remoteId === null) return;
    const wait = Math.max(0, this.#lastSharedAt + SHARE_INTERVAL_MS - performance.now());
    this.#shareTimer = setTimeout(() => {
      this.#shareTimer = undefined;
      const to = this.#remoteId;
      if (to === null) return;
      this.#lastSharedAt = performance.now();
      let view = this.diagnosticsView();
      // Stay well inside the signaling frame limit; the pair grid is the bulkiest part.
      if (JSON.stringify(view).length > MAX_FRAME_BYTES / 2) view = { ...view, pairs: [] };
      const info: PeerInfo = { nat: null, view };
      this.#client?.send({ type: 'signal', to, data: { type: 'peer-info', info } });
    }, wait);
  }

  #stopStats(): void {
    clearInterval(this.#statsTimer);
    this.#statsTimer = undefined;
  }

  #dropPeer(): void {
    this.#stopStats();
    clearTimeout(this.#shareTimer);
    this.#shareTimer = undefined;
    const link = this.#peer;
    this.#peer = null;
    this.#remoteId = null;
    link?.destroy();
  }
}
