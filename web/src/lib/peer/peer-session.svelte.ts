/**
 * One remote person of the room, as this page sees them (issue #10): the connection attempts to
 * them (offerer election, rebuild and relay-fallback policy), the safety code of that pair, and
 * that pair's diagnostics — candidates, pairs, selected pair, states, forecast, failure and
 * timeline. Every claim it makes is about this one peer connection. Reactive state for the
 * components; the logic it applies lives in the pure modules it imports, and everything it
 * touches outside itself (links, signaling, clock, the room's NAT report) comes in through
 * {@link PeerDeps}, so node tests drive it with fakes.
 */
import type { IceServer, PeerInfo, SignalData } from '../../../../signaling/protocol.ts';
import { displayName } from '../chat/names.ts';
import type { Analysis } from '../diagnostics/analysis.ts';
import type { Failure } from '../diagnostics/failure.ts';
import { addReading, EMPTY_HISTORY, type StatsHistory } from '../diagnostics/stats-history.ts';
import type { TimelineEntry } from '../diagnostics/timeline.ts';
import type { CandidateRow } from '../ice/candidate-rows.ts';
import { parseIceCandidate } from '../ice/ice-candidate.ts';
import type { IceReport, Verdict } from '../ice/ice-report.ts';
import type { Forecast, ForecastCheck } from '../nat/forecast.ts';
import type { NatReport } from '../nat/nat-classifier.ts';
import type { TurnConfig } from '../nat/turn-config.ts';
import type { CandidateError, PeerEvents, PeerOptions, PeerStates } from '../rtc/peer.ts';
import { isOfferer, linkHealth, MIN_REBUILD_INTERVAL_MS } from './link-policy.ts';
import { FALLBACK_NOTICE, shouldFallBackToRelay } from './relay-fallback.ts';
import type * as StatsReaders from './stats-readers.ts';

/** Least time between two diagnostics views pushed to the other peer, ms (trailing). */
export const SHARE_INTERVAL_MS = 2000;

/** An offerer's attempt younger than this already has its offer on the way: a restart waits, ms. */
export const FRESH_ATTEMPT_MS = 5000;

/** Where this page stands with one remote person. */
export type PeerState =
  | 'connecting' // SDP/ICE in progress, never open yet
  | 'open' // data channel open
  | 'failed' // ICE or DTLS failed, explained in `failure`
  | 'lost' // was open, then closed or disconnected: being rebuilt
  | 'stopped' // this page stopped listening to them (they broke the chat's bounds, issue #16)
  | 'left'; // they left the room

/** One change of the selected candidate pair, as `getStats()` reported it. */
export interface PairChange {
  /** ms since the page started loading. */
  atMs: number;
  pairId: string;
  /** e.g. `srflx 203.0.113.2:40000 ↔ srflx 203.0.113.3:40000`. */
  summary: string;
}

/** What a peer session needs of a connection: the surface of `rtc/peer.ts` `PeerLink` it uses. */
export interface Link {
  signal(data: SignalData): void;
  /** One text message on the data channel; `false` when it is not open. */
  send(text: string): boolean;
  /** One message on the `files` channel, after backpressure; `false` when it is not open. */
  sendFile(data: string | ArrayBuffer): Promise<boolean>;
  /** The other side's largest message, bytes; 0 before SCTP is up. */
  readonly maxMessageSize: number;
  destroy(): void;
  /** `getStats()`; `null` once closed. */
  stats(): Promise<RTCStatsReport | null>;
  /** ms since the link was created. */
  elapsedMs(): number;
}

/** Makes a link (in the page: `new PeerLink(options, events)`). */
export type LinkFactory = (options: PeerOptions, events: PeerEvents) => Link;

/** What a {@link PeerSession} uses of the world; the room session provides it. */
export interface PeerDeps {
  readonly roomId: string;
  /** This page's peer id in the room. */
  selfId(): string;
  /** The ICE servers from signaling (STUN, and TURN once joined). */
  iceServers(): IceServer[];
  /** The TURN part of {@link iceServers}. */
  turn(): TurnConfig;
  /** This device's NAT classification, `null` until probed (reactive). */
  natReport(): NatReport | null;
  /**
   * The diagnostics' analysis (diagnostics/analysis.ts), `null` until its chunk has loaded
   * (reactive). Until then there is no forecast, no failure explanation and the other side's NAT
   * report waits unparsed; connecting and chatting do not wait for it.
   */
  analysis(): Analysis | null;
  /** Room-wide timeline steps (page opened, signaling, NAT classified), shown in every section. */
  roomTimeline(): readonly TimelineEntry[];
  /** Sends one payload to this peer through signaling; `false` when signaling is down. */
  signal(data: SignalData): boolean;
  createLink: LinkFactory;
  /** Monotonic clock, ms (the page: `performance.now()`, ms since the page started loading). */
  now(): number;
  /** The data channel to this peer opened. */
  opened(): void;
  /** The data channel to this peer closed, or the link was dropped. */
  closed(): void;
  /** One text message from this peer's data channel. */
  message(text: string): void;
  /** The `files` channel to this peer opened (issue #11). */
  filesOpened(): void;
  /** One message of this peer's `files` channel. */
  fileData(data: string | ArrayBuffer): void;
}

/** Health inputs of one connection attempt (see {@link linkHealth}). */
interface Attempt {
  link: Link;
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

/** Reactive state of this page's connection to one remote person. */
export class PeerSession {
  /** Their peer id (stable across their reloads: it comes from their resume token). */
  readonly id: string;

  #name = $state<string | undefined>(undefined);
  #state = $state<PeerState>('connecting');
  #liveRttMs = $state<number | null>(null);
  #verified = $state(false);
  #localCandidates = $state.raw<readonly CandidateRow[]>([]);
  #remoteCandidates = $state.raw<CandidateRow[]>([]);
  #candidateErrors = $state.raw<CandidateError[]>([]);
  #states = $state.raw<PeerStates | null>(null);
  #report = $state.raw<IceReport | null>(null);
  /** stats-readers.ts, once the first `getStats()` reading has fetched it. */
  #readers = $state.raw<typeof StatsReaders | null>(null);
  #timeline = $state.raw<TimelineEntry[]>([]);
  #pairHistory = $state.raw<PairChange[]>([]);
  #statsHistory = $state.raw<StatsHistory>(EMPTY_HISTORY);
  #remoteInfo = $state.raw<PeerInfo | null>(null);
  #failure = $state.raw<Failure | null>(null);
  #fallbackNotice = $state<string | null>(null);
  #relayOnly = $state(false);
  #stoppedBecause = $state<string | null>(null);

  #remoteNat = $derived.by<NatReport | null>(
    () => this.#deps.analysis()?.parseNatReport(this.#remoteInfo?.nat ?? null) ?? null,
  );
  #verdict = $derived<Verdict | null>(
    this.#readers?.verdict(this.#report?.selectedPair ?? null) ?? null,
  );
  #forecast = $derived.by<Forecast | null>(() => {
    const local = this.#deps.natReport();
    const analysis = this.#deps.analysis();
    return analysis && (local || this.#remoteNat)
      ? analysis.forecast({ local, remote: this.#remoteNat, turn: this.#deps.turn() })
      : null;
  });
  #forecastCheck = $derived.by<ForecastCheck | null>(() => {
    const analysis = this.#deps.analysis();
    return analysis && this.#forecast && this.#remoteNat && this.#deps.natReport()
      ? analysis.forecastHeld(this.#forecast, {
          verdict: this.#state === 'open' ? this.#verdict : null,
          failed: this.#state === 'failed',
          pair: this.#state === 'open' ? (this.#report?.selectedPair ?? null) : null,
        })
      : null;
  });
  #mergedTimeline = $derived.by<TimelineEntry[]>(() =>
    [...this.#deps.roomTimeline(), ...this.#timeline].sort((a, b) => a.atMs - b.atMs),
  );

  readonly #deps: PeerDeps;
  #attempt: Attempt | null = null;
  #everOpen = false;
  #lastRebuildAt = -Infinity;
  #lastRestartAskAt = -Infinity;
  /** This attempt's SDP, ours and theirs, for the short authentication string. */
  #localSdp = $state.raw<string | null>(null);
  #remoteSdp = $state.raw<string | null>(null);
  /**
   * The short authentication string of this attempt, from both DTLS fingerprints in the SDP we
   * sent and received and the room id (sas.ts, through the analysis: it is the panel's, issue
   * #13). A lying signaling server that swaps fingerprints makes the two sides show different
   * strings.
   */
  #sas = $derived.by<string | null>(() => {
    const analysis = this.#deps.analysis();
    if (!analysis || !this.#localSdp || !this.#remoteSdp) return null;
    const local = analysis.sdpFingerprint(this.#localSdp);
    const remote = analysis.sdpFingerprint(this.#remoteSdp);
    return local && remote
      ? analysis.shortAuthString({
          roomId: this.#deps.roomId,
          localFingerprint: local,
          remoteFingerprint: remote,
        })
      : null;
  });
  #shareTimer: ReturnType<typeof setTimeout> | undefined;
  #lastSharedAt = -Infinity;
  /** What the last pushed view said, in short (see {@link viewDigest}). */
  #sharedDigest = '';
  /** Answers awaited by {@link requestView}. */
  #viewWaiters: (() => void)[] = [];
  #destroyed = false;

  constructor(id: string, deps: PeerDeps) {
    this.id = id;
    this.#deps = deps;
  }

  /** Their name as they set it (`''` or `undefined`: not set), from their data channel. */
  get name(): string | undefined {
    return this.#name;
  }
  /** The name to show: theirs, or the default one derived from their id. */
  get displayName(): string {
    return displayName(this.id, this.#name);
  }
  get state(): PeerState {
    return this.#state;
  }
  /**
   * The state with ICE consent in mind: an open channel whose ICE is `disconnected` may heal by
   * itself (RFC 7675 consent), but the person should know now, so it reads `lost`.
   */
  get shownState(): PeerState {
    return this.#state === 'open' && this.#states?.iceConnectionState === 'disconnected'
      ? 'lost'
      : this.#state;
  }
  /** The data channel was open at least once with this person since the page loaded. */
  get everOpen(): boolean {
    return this.#everOpen;
  }
  /** Round trip of the data-channel keep-alive, ms; `null` until measured. */
  get liveRttMs(): number | null {
    return this.#liveRttMs;
  }
  /** Short authentication string of this pair's connection (sas.ts), to compare out of band. */
  get sas(): string | null {
    return this.#sas;
  }
  /** The person marked this pair's string as matching. Resets with every new connection. */
  get verified(): boolean {
    return this.#verified;
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
  /** This pair's steps merged with the room's, oldest first. */
  get timeline(): readonly TimelineEntry[] {
    return this.#mergedTimeline;
  }
  /** Every change of the selected pair since the current peer connection was created. */
  get pairHistory(): readonly PairChange[] {
    return this.#pairHistory;
  }
  /**
   * The last minutes of RTT and bytes per second each way on the selected pair, one point per
   * `getStats()` reading (1 Hz), across rebuilds of the connection (issue #13: live graphs).
   */
  get statsHistory(): StatsHistory {
    return this.#statsHistory;
  }
  /** Their NAT classification, validated; `null` until it arrives. */
  get remoteNat(): NatReport | null {
    return this.#remoteNat;
  }
  /** What the two NAT reports predict for this pair; `null` until at least one exists. */
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
  /** Set when the app fell back to a relay-only connection to this person on its own. */
  /** Why this page stopped listening to them ({@link stop}), or `null`. */
  get stoppedBecause(): string | null {
    return this.#stoppedBecause;
  }

  get fallbackNotice(): string | null {
    return this.#fallbackNotice;
  }
  /** Their latest diagnostics view of this pair (export only; never rendered). */
  get remoteView(): Record<string, unknown> | null {
    return this.#remoteInfo?.view ?? null;
  }

  /** Records that the person compared the strings and they matched. */
  markVerified(): void {
    if (this.#sas) this.#verified = true;
  }

  /** Their name arrived (delivery.ts `NameFrame`); `''` = not set. */
  setName(name: string): void {
    this.#name = name;
  }

  /** A data-channel keep-alive round trip, ms. */
  setLiveRtt(rttMs: number): void {
    this.#liveRttMs = rttMs;
  }

  /** Their first message arrived. */
  noteMessage(): void {
    this.#mark('First message');
  }

  /**
   * They are in the room: they arrived, or we (re)joined and found them. An open link survives a
   * signaling reconnect untouched; otherwise the offerer starts an attempt and the answerer asks
   * for one.
   */
  meet(): void {
    if (this.#stoppedBecause !== null) {
      this.#state = 'stopped';
      return;
    }
    if (this.#state === 'left') {
      this.#state = this.#everOpen ? 'lost' : 'connecting';
    }
    this.#mark('Other person in the room');
    if (!this.#attempt?.open || this.#attempt.ended) {
      this.#state = this.#everOpen ? 'lost' : 'connecting';
      if (this.#offerer()) this.#startAttempt(true);
      else this.#askForRestart();
    }
    // After the attempt: simple-peer makes its offer on a zero-delay timer too, and this view
    // (for the panel, issue #13) waits behind it.
    this.#pushView(true);
  }

  /** They left the room: the link goes; what they have not acknowledged waits in the outbox. */
  left(): void {
    this.#dropLink();
    this.#state = 'left';
  }

  /**
   * Disconnects them on this side for the rest of this page load, and does not reconnect whatever
   * they send (issue #16: a peer that keeps exceeding the chat's bounds). `reason` is shown in
   * their section of the panel and in its timeline; the rest of the room is untouched.
   */
  stop(reason: string): void {
    if (this.#stoppedBecause !== null || this.#destroyed) return;
    this.#stoppedBecause = reason;
    this.#dropLink();
    this.#state = 'stopped';
    this.#mark('Disconnected on this side', true);
  }

  /** Stops everything for good (the room closes, or they are gone from it). */
  destroy(): void {
    this.#destroyed = true;
    this.#dropLink();
    for (const wake of this.#viewWaiters.splice(0)) wake();
  }

  /** Writes one text message to their data channel; `false` when it is not open. */
  send(text: string): boolean {
    const attempt = this.#attempt;
    return attempt !== null && attempt.open && attempt.link.send(text);
  }

  /**
   * Writes one message to their `files` channel once it has room (rtc/peer.ts backpressure);
   * `false` when no channel is open or it closed meanwhile.
   */
  sendFile(data: string | ArrayBuffer): Promise<boolean> {
    const attempt = this.#attempt;
    return attempt !== null && !attempt.ended
      ? attempt.link.sendFile(data)
      : Promise.resolve(false);
  }

  /** Largest message their side takes, bytes (0 when unknown). */
  get maxMessageSize(): number {
    return this.#attempt?.link.maxMessageSize ?? 0;
  }

  /** This device's NAT report changed (or first exists): tell them. */
  natChanged(): void {
    this.#pushView(true);
  }

  /**
   * Asks them for their current view (for an export) and resolves once it arrived or after
   * `timeoutMs`, whichever is first; never rejects.
   */
  requestView(timeoutMs: number): Promise<void> {
    if (this.#destroyed || !this.#deps.signal({ type: 'peer-info-request' })) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.#viewWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** A payload from them through signaling. */
  onSignal(data: SignalData): void {
    switch (data.type) {
      case 'peer-info':
        this.#remoteInfo = data.info;
        for (const wake of this.#viewWaiters.splice(0)) wake();
        return;
      case 'peer-info-request':
        this.#sendView();
        return;
      case 'restart': {
        if (this.#stoppedBecause !== null) return;
        const attempt = this.#attempt;
        const fresh =
          attempt && !attempt.open && this.#deps.now() - attempt.startedAt < FRESH_ATTEMPT_MS;
        if (this.#offerer() && !fresh) this.#startAttempt(true);
        return;
      }
      case 'offer':
        if (this.#stoppedBecause !== null) return;
        // Every offer starts a new attempt: the offerer only sends one when it rebuilt.
        this.#startAttempt(false);
        break;
      default:
        break;
    }
    const attempt = this.#attempt;
    if (!attempt) return;
    this.#record(data, 'received', attempt);
    attempt.link.signal(data);
  }

  /** Once a second (the room's timer): read stats, and rebuild a broken connection. */
  tick(): void {
    if (this.#destroyed || this.#state === 'left' || this.#stoppedBecause !== null) return;
    void this.#pollStats();
    const attempt = this.#attempt;
    const now = this.#deps.now();
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
    if (attempt?.open) this.#state = 'lost';
    // An explained failure stays on screen: rebuilding would only repeat it (and wipe its
    // evidence). A new event (the other side rejoins or asks for a restart) starts over.
    if (attempt && !attempt.open && !attempt.ended && this.#failure) return;
    if (this.#offerer()) this.#startAttempt(true);
    else this.#askForRestart();
  }

  /**
   * This pair's view for an export and for the other side: plain JSON, the same fields the
   * panel's section shows (addresses included; the export redacts them).
   */
  diagnosticsView(): Record<string, unknown> {
    return {
      peerId: this.#deps.selfId(),
      remotePeerId: this.id,
      role: !this.#attempt ? 'none' : this.#attempt.offerer ? 'offerer' : 'answerer',
      state: this.#state,
      forecast: this.#forecast,
      forecastCheck: this.#forecastCheck,
      failure: this.#failure,
      fallback: this.#fallbackNotice,
      stoppedBecause: this.#stoppedBecause,
      relayOnly: this.#relayOnly,
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
    };
  }

  #offerer(): boolean {
    return isOfferer(this.#deps.selfId(), this.id);
  }

  /** Answerer: ask the offerer for a new attempt (rate-limited; signaling may be down). */
  #askForRestart(): void {
    const now = this.#deps.now();
    if (now - this.#lastRestartAskAt < MIN_REBUILD_INTERVAL_MS * 2) return;
    if (this.#deps.signal({ type: 'restart' })) this.#lastRestartAskAt = now;
  }

  /** Adds a timeline step; once per label unless `repeat` (recoveries can happen many times). */
  #mark(label: string, repeat = false): void {
    if (!repeat && this.#timeline.some((entry) => entry.label === label)) return;
    this.#timeline = [...this.#timeline, { label, atMs: this.#deps.now() }];
  }

  /**
   * Replaces the current attempt with a new peer connection; `offerer` makes the offer.
   * `relayOnly` (the TURN fallback) sticks for later rebuilds with this person.
   */
  #startAttempt(offerer: boolean, relayOnly = this.#relayOnly): void {
    if (this.#destroyed || this.#stoppedBecause !== null) return;
    const now = this.#deps.now();
    if (offerer) {
      if (now - this.#lastRebuildAt < MIN_REBUILD_INTERVAL_MS) return;
      this.#lastRebuildAt = now;
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
    this.#relayOnly = relayOnly;
    // A new peer connection has new certificates: its string must be compared again.
    this.#localSdp = null;
    this.#remoteSdp = null;
    this.#verified = false;
    if (this.#state === 'failed') this.#state = this.#everOpen ? 'lost' : 'connecting';
    const current = (): Attempt | null =>
      this.#attempt?.link === link && !this.#destroyed ? this.#attempt : null;
    const link: Link = this.#deps.createLink(
      {
        initiator: offerer,
        iceServers: this.#deps.iceServers(),
        iceTransportPolicy: relayOnly ? 'relay' : 'all',
      },
      {
        signal: (data) => {
          const attempt = current();
          if (!attempt) return;
          this.#deps.signal(data);
          this.#record(data, 'sent', attempt);
        },
        open: () => {
          const attempt = current();
          if (!attempt) return;
          attempt.open = true;
          this.#mark(
            this.#everOpen ? 'Data channel reopened' : 'Data channel open',
            this.#everOpen,
          );
          this.#everOpen = true;
          this.#state = 'open';
          this.#failure = null;
          this.#deps.opened();
          void this.#pollStats();
        },
        message: (text) => {
          if (current()) this.#deps.message(text);
        },
        filesOpen: () => {
          if (current()) this.#deps.filesOpened();
        },
        fileData: (data) => {
          if (current()) this.#deps.fileData(data);
        },
        states: (states) => {
          const attempt = current();
          if (!attempt) return;
          this.#states = states;
          if (states.iceGatheringState === 'gathering') {
            attempt.gatheringStartedAt ??= this.#deps.now();
          }
          if (states.iceConnectionState !== 'disconnected') attempt.disconnectedSince = null;
          else attempt.disconnectedSince ??= this.#deps.now();
          if (states.iceConnectionState === 'checking') this.#mark('ICE checking');
          if (states.iceConnectionState === 'connected') this.#mark('ICE connected');
          if (states.connectionState === 'connected') this.#mark('DTLS connected');
          this.#pushView();
        },
        candidateError: (error) => {
          if (current()) this.#candidateErrors = [...this.#candidateErrors, error];
        },
        closed: () => {
          const attempt = current();
          if (!attempt) return;
          const wasOpen = attempt.open;
          attempt.ended = true;
          attempt.open = false;
          if (wasOpen) this.#deps.closed();
          this.#state = this.#everOpen ? 'lost' : 'connecting';
          this.tick();
        },
      },
    );
    this.#attempt = {
      link,
      offerer,
      relayOnly,
      startedAt: now,
      gatheringStartedAt: null,
      open: false,
      ended: false,
      disconnectedSince: null,
    };
  }

  /** For an attempt that is not open yet: explain a failure, or fall back to a relay. */
  #judgeAttempt(attempt: Attempt, now: number): void {
    const states = this.#states;
    const base = {
      iceConnectionState: states?.iceConnectionState ?? 'new',
      connectionState: states?.connectionState ?? 'new',
      elapsedMs: now - attempt.startedAt,
      relayOnly: attempt.relayOnly,
      turn: this.#deps.turn(),
    };
    if (attempt.offerer && shouldFallBackToRelay(base)) {
      this.#fallbackNotice = FALLBACK_NOTICE;
      this.#mark('Fell back to relay (TURN)', true);
      this.#lastRebuildAt = -Infinity;
      this.#startAttempt(true, true);
      return;
    }
    const analysis = this.#deps.analysis();
    if (!analysis) return;
    const failure = analysis.explainFailure({
      ...base,
      local: this.#deps.natReport(),
      remote: this.#remoteNat,
      relayGathered: this.#localCandidates.some((c) => c.type === 'relay'),
      remoteCandidateCount: this.#remoteCandidates.length,
      candidateErrors: this.#candidateErrors,
      pairs: analysis.countPairs(this.#report?.pairs ?? []),
    });
    if (failure?.title !== this.#failure?.title) this.#failure = failure;
    if (failure) {
      this.#state = 'failed';
      this.#pushView();
    }
  }

  /** Notes SDP steps in the timeline and trickled candidates in the tables. */
  #record(data: SignalData, direction: 'sent' | 'received', attempt: Attempt): void {
    if (data.type === 'offer' || data.type === 'answer') {
      this.#mark(`${data.type === 'offer' ? 'Offer' : 'Answer'} ${direction}`);
      if (direction === 'sent') this.#localSdp = data.sdp;
      else this.#remoteSdp = data.sdp;
      return;
    }
    if (data.type !== 'candidate') return;
    const parsed = parseIceCandidate(data.candidate.candidate);
    if (!parsed) return;
    // Time since gathering started, as the trickle-ICE sample shows it (the answerer gathers
    // only once it has the offer); before the state event arrives, since the attempt began.
    const since = attempt.gatheringStartedAt ?? attempt.startedAt;
    const row: CandidateRow = { ...parsed, atMs: this.#deps.now() - since };
    if (direction === 'sent') {
      this.#mark(`First local ${parsed.type} candidate`);
      this.#localCandidates = [...this.#localCandidates, row];
    } else {
      this.#remoteCandidates = [...this.#remoteCandidates, row];
    }
  }

  async #pollStats(): Promise<void> {
    const link = this.#attempt?.link;
    const [stats, readers] = await Promise.all([
      link?.stats(),
      this.#readers ?? import('./stats-readers.ts').catch(() => null),
    ]);
    if (!stats || !readers || link !== this.#attempt?.link) return;
    this.#readers = readers;
    const report = readers.buildIceReport(stats);
    this.#report = report;
    const pair = report.selectedPair;
    this.#statsHistory = addReading(this.#statsHistory, {
      atMs: this.#deps.now(),
      pairId: pair?.id ?? null,
      ...(pair?.currentRoundTripTimeMs === undefined ? {} : { rttMs: pair.currentRoundTripTimeMs }),
      ...(pair?.bytesSent === undefined ? {} : { bytesSent: pair.bytesSent }),
      ...(pair?.bytesReceived === undefined ? {} : { bytesReceived: pair.bytesReceived }),
    });
    if (pair && pair.id !== this.#pairHistory.at(-1)?.pairId) {
      const side = (c: typeof pair.local) => `${c.type} ${c.address ?? '(hidden)'}:${c.port}`;
      const change = {
        atMs: this.#deps.now(),
        pairId: pair.id,
        summary: `${side(pair.local)} ↔ ${side(pair.remote)}`,
      };
      this.#pairHistory = [...this.#pairHistory, change];
    }
    this.#localCandidates = readers.attachCandidateStats(
      this.#localCandidates,
      report.localCandidates,
    );
    this.#pushView();
  }

  /**
   * What the other side would learn from a new view, in short: states, selected pair, verdict,
   * failure, fallback and our NAT report's presence. A view is pushed only when this changes
   * (issue #10: not every 2 s by every page, which grows as N² in a group), and sent whole when
   * they ask for it (an export).
   */
  #viewDigest(): string {
    const states = this.#states;
    return JSON.stringify([
      states?.iceConnectionState,
      states?.connectionState,
      this.#report?.selectedPair?.id ?? null,
      this.#verdict,
      this.#failure?.title ?? null,
      this.#fallbackNotice,
      this.#deps.natReport() !== null,
    ]);
  }

  /**
   * Pushes our NAT report and view to them when it changed meaningfully (or `force`), at most once
   * per {@link SHARE_INTERVAL_MS} (trailing), so an export from either side holds both views even
   * when the peer connection itself never comes up.
   */
  #pushView(force = false): void {
    if (this.#destroyed || this.#shareTimer !== undefined) return;
    if (!force && this.#viewDigest() === this.#sharedDigest) return;
    const wait = Math.max(0, this.#lastSharedAt + SHARE_INTERVAL_MS - this.#deps.now());
    this.#shareTimer = setTimeout(() => {
      this.#shareTimer = undefined;
      this.#sendView();
    }, wait);
  }

  #sendView(): void {
    if (this.#destroyed || this.#state === 'left') return;
    this.#lastSharedAt = this.#deps.now();
    this.#sharedDigest = this.#viewDigest();
    const nat = this.#deps.natReport() as Record<string, unknown> | null;
    this.#deps.signal({ type: 'peer-info', info: { nat, view: this.diagnosticsView() } });
  }

  #dropLink(): void {
    clearTimeout(this.#shareTimer);
    this.#shareTimer = undefined;
    const attempt = this.#attempt;
    this.#attempt = null;
    if (attempt?.open) this.#deps.closed();
    attempt?.link.destroy();
  }
}
