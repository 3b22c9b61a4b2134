/**
 * One person's session in one room: signaling socket, peer connection, conversation and the
 * diagnostics record, as reactive state for the components. The logic it applies lives in the
 * pure modules it imports; this class only wires events to state.
 */
import { scanJson } from '../../../../signaling/bounded-json.ts';
import {
  JSON_LIMITS,
  MAX_FRAME_BYTES,
  type PeerInfo,
  type ServerMessage,
  type SignalData,
} from '../../../../signaling/protocol.ts';
import {
  buildDiagnosticsExport,
  type DiagnosticsExport,
} from '../diagnostics/diagnostics-export.ts';
import {
  Conversation,
  PING_INTERVAL_MS,
  type ConversationEntry,
  type Frame,
  type Step,
} from '../chat/delivery.ts';
import { openOutboxStore, SnapshotWriter, type Durability } from '../chat/outbox-store.ts';
import { sdpFingerprint, shortAuthString } from '../peer/sas.ts';
import { attachCandidateStats, type CandidateRow } from '../ice/candidate-rows.ts';
import {
  countPairs,
  explainFailure,
  FALLBACK_NOTICE,
  shouldFallBackToRelay,
  type Failure,
} from '../diagnostics/failure.ts';
import { forecast, forecastHeld, type Forecast, type ForecastCheck } from '../nat/forecast.ts';
import { parseIceCandidate } from '../ice/ice-candidate.ts';
import { isOfferer, linkHealth, MIN_REBUILD_INTERVAL_MS } from '../peer/link-policy.ts';
import { classifyNat, parseNatReport, type NatReport } from '../nat/nat-classifier.ts';
import { newRoomId } from './room-id.ts';
import { probeNat } from '../rtc/nat-probe.ts';
import { testTurn } from '../rtc/turn-test.ts';
import { checkTurn, turnConfig, type TurnCheckResult, type TurnConfig } from '../nat/turn-check.ts';
import { buildIceReport, verdict, type IceReport, type Verdict } from '../ice/ice-report.ts';
import { PeerLink, type CandidateError, type PeerStates } from '../rtc/peer.ts';
import { SignalingClient, signalingUrl } from '../signaling/signaling-client.ts';
import { describeStatus, type PeerState, type ServerState, type Status } from './status.ts';
import type { TimelineEntry } from '../diagnostics/timeline.ts';

/** How often the panel reads `getStats()` while a peer connection exists, ms. */
export const STATS_INTERVAL_MS = 1000;

/** Least time between two diagnostics views sent to the other peer, ms (signaling is shared). */
export const SHARE_INTERVAL_MS = 2000;

/**
 * Bounds for our diagnostics view inside a `peer-info` frame: half the frame's items, and the
 * frame's depth less the levels that wrap the view (frame → data → info → view).
 */
const VIEW_JSON_LIMITS = { maxDepth: JSON_LIMITS.maxDepth - 4, maxItems: JSON_LIMITS.maxItems / 2 };

/** One change of the selected candidate pair, as `getStats()` reported it. */
export interface PairChange {
  /** ms since the page started loading. */
  atMs: number;
  pairId: string;
  /** e.g. `srflx 203.0.113.2:40000 ↔ srflx 203.0.113.3:40000`. */
  summary: string;
}

/** Health inputs of one connection attempt (see {@link linkHealth}). */
interface Attempt {
  link: PeerLink;
  offerer: boolean;
  /** The relay-only retry (issue #3 fallback): `iceTransportPolicy: 'relay'`. */
  relayOnly: boolean;
  startedAt: number;
  /** When ICE gathering began (`iceGatheringState` → `gathering`); candidate times count from it. */
  gatheringStartedAt: number | null;
  open: boolean;
  ended: boolean;
  disconnectedSince: number | null;
}

/**
 * The room's resume token for this tab: kept in sessionStorage, which survives a reload of the
 * tab but is not shared with other tabs, so a reload rejoins as the same peer while a second tab
 * is a second person. Falls back to a fresh token where storage is unavailable.
 */
function resumeTokenFor(roomId: string): string {
  const key = `holepunch-chat:resume:${roomId}`;
  try {
    const stored = sessionStorage.getItem(key);
    if (stored) return stored;
    const token = newRoomId();
    sessionStorage.setItem(key, token);
    return token;
  } catch {
    return newRoomId();
  }
}

/** Reactive state of one room, for one person. Call {@link RoomSession.start} to connect. */
export class RoomSession {
  /** The room's id, from the link. */
  readonly roomId: string;

  #server = $state<ServerState>('connecting');
  #peerState = $state<PeerState>('absent');
  #messages = $state.raw<readonly ConversationEntry[]>([]);
  #durability = $state<Durability | null>(null);
  /** The stored conversation is loaded (`durability` is set then too). */
  #isLoaded = $derived(this.#durability !== null);
  #liveRttMs = $state<number | null>(null);
  #sas = $state<string | null>(null);
  #verified = $state(false);
  #localCandidates = $state.raw<readonly CandidateRow[]>([]);
  #remoteCandidates = $state.raw<CandidateRow[]>([]);
  #candidateErrors = $state.raw<CandidateError[]>([]);
  #states = $state.raw<PeerStates | null>(null);
  #report = $state.raw<IceReport | null>(null);
  #timeline = $state.raw<TimelineEntry[]>([{ label: 'Page opened', atMs: 0 }]);
  #pairHistory = $state.raw<PairChange[]>([]);
  #remoteInfo = $state.raw<PeerInfo | null>(null);
  #iceServers = $state.raw<RTCIceServer[]>([]);
  #natReport = $state.raw<NatReport | null>(null);
  #natProbing = $state(false);
  #failure = $state.raw<Failure | null>(null);
  #fallbackNotice = $state<string | null>(null);
  #turnCheck = $state.raw<TurnCheckResult | null>(null);
  #turnChecking = $state(false);

  #turn = $derived<TurnConfig>(turnConfig(this.#iceServers));
  #remoteNat = $derived<NatReport | null>(parseNatReport(this.#remoteInfo?.nat ?? null));
  #forecast = $derived<Forecast | null>(
    this.#natReport || this.#remoteNat
      ? forecast({ local: this.#natReport, remote: this.#remoteNat, turn: this.#turn })
      : null,
  );

  #verdict = $derived<Verdict | null>(verdict(this.#report?.selectedPair ?? null));
  #forecastCheck = $derived<ForecastCheck | null>(
    this.#forecast && this.#remoteNat && this.#natReport
      ? forecastHeld(this.#forecast, {
          verdict: this.#peerState === 'open' ? this.#verdict : null,
          failed: this.#peerState === 'failed',
        })
      : null,
  );
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
  /** The current connection attempt's health inputs (see link-policy.ts). */
  #attempt: Attempt | null = null;
  #selfId: string | null = null;
  #remoteId: string | null = null;
  #everOpen = false;
  #lastRebuildAt = -Infinity;
  #lastRestartAskAt = -Infinity;
  #tickTimer: ReturnType<typeof setInterval> | undefined;
  #pingTimer: ReturnType<typeof setInterval> | undefined;
  #conversation = new Conversation();
  /** Settles once the stored conversation is loaded; data-channel work queues behind it. */
  #loaded: Promise<void> = Promise.resolve();
  #writer: SnapshotWriter | null = null;
  /** This attempt's SDP, ours and theirs, for the short authentication string. */
  #localSdp: string | null = null;
  #remoteSdp: string | null = null;
  #shareTimer: ReturnType<typeof setTimeout> | undefined;
  #lastSharedAt = -Infinity;
  readonly #resumeToken: string;

  constructor(roomId: string) {
    this.roomId = roomId;
    this.#resumeToken = resumeTokenFor(roomId);
  }

  get status(): Status {
    return this.#status;
  }
  /** The conversation, oldest first; my lines carry `status` (queued / sent / delivered). */
  get messages(): readonly ConversationEntry[] {
    return this.#messages;
  }
  /**
   * True when Send works: the data channel is open, or was open and is being re-established (the
   * message waits in the outbox and goes out on reconnection, issue #4). Before the first
   * connection nothing can be sent: the draft just waits in the text box (issue #2).
   */
  get canSend(): boolean {
    if (!this.#isLoaded) return false;
    return this.#peerState === 'open' || (this.#everOpen && this.#remoteId !== null);
  }
  /** Where unacknowledged messages are kept: `indexeddb` survives a reload, `memory` does not. */
  get durability(): Durability | null {
    return this.#durability;
  }
  /** Round trip of the data-channel keep-alive, ms; `null` until measured. */
  get liveRttMs(): number | null {
    return this.#liveRttMs;
  }
  /** Short authentication string of this connection (sas.ts), to compare out of band. */
  get sas(): string | null {
    return this.#sas;
  }
  /** The person marked this connection's string as matching. Resets with every new connection. */
  get verified(): boolean {
    return this.#verified;
  }
  /** Records that the person compared the strings and they matched. */
  markVerified(): void {
    if (this.#sas) this.#verified = true;
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

  /** This page's NAT classification (issue #3); `null` until the probe is done. */
  get natReport(): NatReport | null {
    return this.#natReport;
  }
  /** The probe is running. */
  get natProbing(): boolean {
    return this.#natProbing;
  }
  /** The other person's NAT classification, validated; `null` until it arrives. */
  get remoteNat(): NatReport | null {
    return this.#remoteNat;
  }
  /** What the two NAT reports predict; `null` until at least one report exists. */
  get forecast(): Forecast | null {
    return this.#forecast;
  }
  /** Whether the forecast held, once the connection settled. */
  get forecastCheck(): ForecastCheck | null {
    return this.#forecastCheck;
  }
  /** Why there is no connection, once that is clear (bounded time, failure.ts). */
  get failure(): Failure | null {
    return this.#failure;
  }
  /** Set when the app fell back to a relay-only connection on its own. */
  get fallbackNotice(): string | null {
    return this.#fallbackNotice;
  }
  /** The ICE servers the page was given (TURN credentials included, they are this page's own). */
  get turn(): TurnConfig {
    return this.#turn;
  }
  get turnCheck(): TurnCheckResult | null {
    return this.#turnCheck;
  }
  get turnChecking(): boolean {
    return this.#turnChecking;
  }

  /** "Test TURN": a relay-only gathering against the configured TURN servers (turn-check.ts). */
  async testTurn(): Promise<void> {
    if (this.#turnChecking) return;
    this.#turnChecking = true;
    try {
      this.#turnCheck = checkTurn(await testTurn(this.#iceServers));
    } finally {
      this.#turnChecking = false;
    }
  }

  /** What the other peer last told us about its side (NAT report, diagnostics view). */
  get remoteInfo(): PeerInfo | null {
    return this.#remoteInfo;
  }

  /** This side's diagnostics as plain JSON-able data, for the export and for the other peer. */
  diagnosticsView(): Record<string, unknown> {
    return {
      role: !this.#attempt ? 'alone' : this.#attempt.offerer ? 'offerer' : 'answerer',
      peerId: this.#selfId,
      nat: this.#natReport,
      forecast: this.#forecast,
      forecastCheck: this.#forecastCheck,
      failure: this.#failure,
      fallback: this.#fallbackNotice,
      relayOnly: this.#attempt?.relayOnly ?? false,
      turnConfigured: this.#turn.configured,
      turnCheck: this.#turnCheck,
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
      liveRttMs: this.#liveRttMs,
      outbox: this.#conversation.outboxSize,
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
    let stopped = false;
    const store = openOutboxStore();
    // The outbox loads while signaling connects (both take a round trip, neither needs the other);
    // only data-channel traffic waits for it (#afterLoad), so frames meet the restored outbox.
    this.#loaded = store.load(this.roomId).then((snapshot) => {
      if (stopped) return;
      this.#conversation = new Conversation({ snapshot: snapshot ?? undefined });
      this.#messages = this.#conversation.entries;
      this.#durability = store.durability;
      this.#writer = new SnapshotWriter({
        store,
        roomId: this.roomId,
        take: () => this.#conversation.snapshot(),
        saved: (saved, durability) => {
          this.#durability = durability;
          this.#write(this.#conversation.saved(saved));
        },
      });
    });
    this.#connectSignaling();
    this.#pingTimer = setInterval(() => {
      const ping = this.#peerState === 'open' ? this.#conversation.ping(Date.now()) : null;
      if (ping) this.#write([ping]);
    }, PING_INTERVAL_MS);
    return () => {
      stopped = true;
      clearInterval(this.#tickTimer);
      clearInterval(this.#pingTimer);
      this.#dropLink();
      this.#client?.close();
      this.#client = null;
    };
  }

  #connectSignaling(): void {
    this.#client = new SignalingClient(signalingUrl(location), {
      open: () => {
        this.#mark('Signaling connected');
        // Join at once: the server greets every socket with hello first, so our ICE servers
        // arrive before anything the join brings (one round trip saved).
        this.#client?.send({ type: 'join', room: this.roomId, resume: this.#resumeToken });
      },
      message: (message) => this.#onServerMessage(message),
      closed: (_code, _reason, retryInMs) => {
        if (this.#server === 'room-full') return;
        // Once per outage, not once per failed retry.
        if (this.#server === 'open' && retryInMs !== null) {
          this.#mark('Signaling lost, reconnecting', true);
        }
        this.#server = retryInMs === null ? 'closed' : 'reconnecting';
      },
    });
    this.#tickTimer = setInterval(() => this.#tick(), STATS_INTERVAL_MS);
  }

  /**
   * Sends `text` to the other person, or queues it in the outbox while the connection is being
   * re-established. `false` (the caller keeps the draft) for blank text or a full outbox.
   */
  send(text: string): boolean {
    if (!this.canSend) return false;
    const step = this.#conversation.send(text, Date.now());
    if (!step) return false;
    this.#apply(step);
    return true;
  }

  /** Applies one delivery step: frames out, state saved, the list refreshed. */
  #apply(step: Step): void {
    this.#write(step.frames);
    if (step.persist) this.#writer?.request();
    this.#messages = this.#conversation.entries;
    for (const event of step.events) {
      if (event.type === 'message') this.#mark('First message');
      if (event.type === 'rtt') this.#liveRttMs = event.rttMs;
    }
  }

  /** Writes frames to the open data channel; a refused write means the channel is gone. */
  #write(frames: readonly Frame[]): void {
    for (const frame of frames) {
      if (!this.#peer?.send(JSON.stringify(frame))) {
        this.#conversation.disconnect();
        this.#messages = this.#conversation.entries;
        return;
      }
    }
  }

  /** Adds a timeline step; once per label unless `repeat` (recoveries can happen many times). */
  #mark(label: string, repeat = false): void {
    if (!repeat && this.#timeline.some((entry) => entry.label === label)) return;
    this.#timeline = [...this.#timeline, { label, atMs: performance.now() }];
  }

  #onServerMessage(message: ServerMessage): void {
    switch (message.type) {
      case 'hello':
        this.#iceServers = message.iceServers;
        if (!this.#natReport && !this.#natProbing) void this.#probeNat();
        return;
      case 'joined':
        if (this.#server === 'reconnecting') this.#mark('Signaling reconnected', true);
        this.#server = 'open';
        // The same STUN servers as in hello, now with TURN: the server mints a relay credential
        // only for a socket that has joined a room (issue #9).
        this.#iceServers = message.iceServers;
        this.#selfId = message.id;
        if (message.peers[0]) this.#meet(message.peers[0]);
        return;
      case 'peer-joined':
        this.#meet(message.id);
        return;
      case 'peer-left':
        if (message.id !== this.#remoteId) return;
        this.#dropLink();
        this.#remoteId = null;
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

  /**
   * The other person is in the room (they arrived, or we (re)joined and found them). An open link
   * survives a signaling reconnect untouched; otherwise the offerer starts an attempt and the
   * answerer asks for one.
   */
  #meet(remoteId: string): void {
    if (remoteId !== this.#remoteId) {
      this.#dropLink();
      this.#remoteId = remoteId;
      this.#everOpen = false;
      this.#fallbackNotice = null;
      this.#mark('Other person in the room');
    }
    this.#shareView();
    if (this.#attempt?.open && !this.#attempt.ended) return;
    this.#peerState = this.#everOpen ? 'lost' : 'connecting';
    if (this.#isOfferer()) this.#startAttempt(true);
    else this.#askForRestart();
  }

  #isOfferer(): boolean {
    return (
      this.#selfId !== null && this.#remoteId !== null && isOfferer(this.#selfId, this.#remoteId)
    );
  }

  /** Answerer: ask the offerer for a new attempt (rate-limited; signaling may be down). */
  #askForRestart(): void {
    const now = performance.now();
    if (this.#remoteId === null || now - this.#lastRestartAskAt < MIN_REBUILD_INTERVAL_MS * 2) {
      return;
    }
    if (this.#client?.send({ type: 'signal', to: this.#remoteId, data: { type: 'restart' } })) {
      this.#lastRestartAskAt = now;
    }
  }

  /**
   * Replaces the current attempt with a new peer connection; `offerer` makes the offer.
   * `relayOnly` (the TURN fallback) sticks for later rebuilds with the same person.
   */
  #startAttempt(offerer: boolean, relayOnly = this.#attempt?.relayOnly ?? false): void {
    const remoteId = this.#remoteId;
    if (remoteId === null) return;
    if (offerer) {
      if (performance.now() - this.#lastRebuildAt < MIN_REBUILD_INTERVAL_MS) return;
      this.#lastRebuildAt = performance.now();
    }
    const recovering = this.#attempt !== null || this.#everOpen;
    this.#dropLink();
    if (recovering) this.#mark('Reconnecting peer connection', true);
    this.#localCandidates = [];
    this.#remoteCandidates = [];
    this.#candidateErrors = [];
    this.#report = null;
    this.#pairHistory = [];
    this.#failure = null;
    // A new peer connection has new certificates: its string must be compared again.
    this.#localSdp = null;
    this.#remoteSdp = null;
    this.#sas = null;
    this.#verified = false;
    if (this.#peerState === 'failed') this.#peerState = this.#everOpen ? 'lost' : 'connecting';
    const link: PeerLink = new PeerLink(
      {
        initiator: offerer,
        iceServers: this.#iceServers,
        iceTransportPolicy: relayOnly ? 'relay' : 'all',
      },
      {
        signal: (data) => {
          if (link !== this.#peer) return;
          this.#client?.send({ type: 'signal', to: remoteId, data });
          this.#record(data, 'sent', link);
        },
        open: () => {
          if (link !== this.#peer || !this.#attempt) return;
          this.#attempt.open = true;
          this.#mark(
            this.#everOpen ? 'Data channel reopened' : 'Data channel open',
            this.#everOpen,
          );
          this.#everOpen = true;
          this.#peerState = 'open';
          this.#failure = null;
          void this.#loaded.then(() => {
            if (link === this.#peer && this.#attempt?.open)
              this.#apply(this.#conversation.connect());
          });
          void this.#pollStats();
        },
        message: (text) => {
          // Promise callbacks run in order, so messages keep theirs while the outbox loads.
          void this.#loaded.then(() => {
            if (link === this.#peer) this.#apply(this.#conversation.receive(text, Date.now()));
          });
        },
        states: (states) => {
          if (link !== this.#peer || !this.#attempt) return;
          this.#states = states;
          if (states.iceGatheringState === 'gathering') {
            this.#attempt.gatheringStartedAt ??= performance.now();
          }
          const disconnected = states.iceConnectionState === 'disconnected';
          if (!disconnected) this.#attempt.disconnectedSince = null;
          else this.#attempt.disconnectedSince ??= performance.now();
          if (states.iceConnectionState === 'checking') this.#mark('ICE checking');
          if (states.iceConnectionState === 'connected') this.#mark('ICE connected');
          if (states.connectionState === 'connected') this.#mark('DTLS connected');
        },
        candidateError: (error) => {
          if (link === this.#peer) this.#candidateErrors = [...this.#candidateErrors, error];
        },
        closed: () => {
          if (link !== this.#peer || !this.#attempt) return;
          this.#attempt.ended = true;
          this.#attempt.open = false;
          this.#conversation.disconnect();
          this.#messages = this.#conversation.entries;
          this.#peerState = this.#everOpen ? 'lost' : 'connecting';
          this.#tick();
        },
      },
    );
    this.#peer = link;
    this.#attempt = {
      link,
      offerer,
      relayOnly,
      startedAt: performance.now(),
      gatheringStartedAt: null,
      open: false,
      ended: false,
      disconnectedSince: null,
    };
  }

  /** Once a second: read stats, and rebuild a broken connection (link-policy.ts). */
  #tick(): void {
    void this.#pollStats();
    const attempt = this.#attempt;
    if (this.#remoteId === null) return;
    const now = performance.now();
    const health = attempt
      ? linkHealth({
          open: attempt.open,
          ended: attempt.ended,
          iceConnectionState: this.#states?.iceConnectionState ?? null,
          ageMs: now - attempt.startedAt,
          disconnectedForMs:
            attempt.disconnectedSince === null ? null : now - attempt.disconnectedSince,
        })
      : 'broken';
    if (attempt && !attempt.open) this.#judgeAttempt(attempt, now);
    if (health === 'healthy') return;
    if (attempt?.open) this.#peerState = 'lost';
    // An explained failure stays on screen: rebuilding would only repeat it (and wipe its
    // evidence). A new event (the other side rejoins or asks for a restart) starts over.
    if (attempt && !attempt.open && !attempt.ended && this.#failure) return;
    if (this.#isOfferer()) this.#startAttempt(true);
    else this.#askForRestart();
  }

  /** For an attempt that is not open yet: explain a failure, or fall back to a relay. */
  #judgeAttempt(attempt: Attempt, now: number): void {
    const states = this.#states;
    const elapsedMs = now - attempt.startedAt;
    const base = {
      iceConnectionState: states?.iceConnectionState ?? 'new',
      connectionState: states?.connectionState ?? 'new',
      elapsedMs,
      relayOnly: attempt.relayOnly,
      turn: this.#turn,
    };
    if (attempt.offerer && shouldFallBackToRelay(base)) {
      this.#fallbackNotice = FALLBACK_NOTICE;
      this.#mark('Fell back to relay (TURN)', true);
      this.#lastRebuildAt = -Infinity;
      this.#startAttempt(true, true);
      return;
    }
    this.#failure = explainFailure({
      ...base,
      local: this.#natReport,
      remote: this.#remoteNat,
      relayGathered: this.#localCandidates.some((c) => c.type === 'relay'),
      remoteCandidateCount: this.#remoteCandidates.length,
      candidateErrors: this.#candidateErrors,
      pairs: countPairs(this.#report?.pairs ?? []),
    });
    if (this.#failure) this.#peerState = 'failed';
  }

  /**
   * The short authentication string of this attempt, from both DTLS fingerprints in the SDP we
   * sent and received and the room id (sas.ts). A lying signaling server that swaps fingerprints
   * makes the two sides show different strings.
   */
  #updateSas(): void {
    const local = this.#localSdp ? sdpFingerprint(this.#localSdp) : null;
    const remote = this.#remoteSdp ? sdpFingerprint(this.#remoteSdp) : null;
    this.#sas =
      local && remote
        ? shortAuthString({
            roomId: this.roomId,
            localFingerprint: local,
            remoteFingerprint: remote,
          })
        : null;
  }

  /** Classifies this side's NAT against our two STUN ports, then tells the other side. */
  async #probeNat(): Promise<void> {
    this.#natProbing = true;
    try {
      this.#natReport = classifyNat(await probeNat(this.#iceServers));
      this.#mark('NAT classified');
    } finally {
      this.#natProbing = false;
    }
    this.#shareView();
  }

  #onRemoteSignal(data: SignalData): void {
    switch (data.type) {
      case 'peer-info':
        this.#remoteInfo = data.info;
        return;
      case 'restart': {
        // An attempt younger than this already has its offer on the way: let it finish.
        const attempt = this.#attempt;
        const fresh = attempt && !attempt.open && performance.now() - attempt.startedAt < 5000;
        if (this.#isOfferer() && !fresh) this.#startAttempt(true);
        return;
      }
      case 'offer':
        // Every offer starts a new attempt: the offerer only sends one when it rebuilt.
        this.#startAttempt(false);
        break;
      default:
        break;
    }
    if (!this.#peer) return;
    this.#record(data, 'received', this.#peer);
    this.#peer.signal(data);
  }

  /** Notes SDP steps in the timeline and trickled candidates in the tables. */
  #record(data: SignalData, direction: 'sent' | 'received', link: PeerLink): void {
    if (data.type === 'peer-info' || data.type === 'restart') return;
    if (data.type !== 'candidate') {
      this.#mark(`${data.type === 'offer' ? 'Offer' : 'Answer'} ${direction}`);
      if (direction === 'sent') this.#localSdp = data.sdp;
      else this.#remoteSdp = data.sdp;
      this.#updateSas();
      return;
    }
    const parsed = parseIceCandidate(data.candidate.candidate);
    if (!parsed) return;
    // Time since gathering started, as the trickle-ICE sample shows it (the answerer gathers
    // only once it has the offer); before the state event arrives, since the attempt began.
    const since = this.#attempt?.gatheringStartedAt ?? this.#attempt?.startedAt;
    const row: CandidateRow = {
      ...parsed,
      atMs: since === undefined ? link.elapsedMs() : performance.now() - since,
    };
    if (direction === 'sent') {
      this.#mark(`First local ${parsed.type} candidate`);
      this.#localCandidates = [...this.#localCandidates, row];
    } else {
      this.#remoteCandidates = [...this.#remoteCandidates, row];
    }
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
      // Stay well inside the signaling frame limit and the structural bounds the server checks
      // (JSON_LIMITS); the pair grid is the bulkiest part.
      const text = JSON.stringify(view);
      if (text.length > MAX_FRAME_BYTES / 2 || scanJson(text, VIEW_JSON_LIMITS) !== null) {
        view = { ...view, pairs: [] };
      }
      const info: PeerInfo = { nat: this.#natReport as Record<string, unknown> | null, view };
      this.#client?.send({ type: 'signal', to, data: { type: 'peer-info', info } });
    }, wait);
  }

  #dropLink(): void {
    clearTimeout(this.#shareTimer);
    this.#shareTimer = undefined;
    const link = this.#peer;
    this.#peer = null;
    this.#attempt = null;
    if (link) {
      this.#conversation.disconnect();
      this.#messages = this.#conversation.entries;
    }
    link?.destroy();
  }
}
