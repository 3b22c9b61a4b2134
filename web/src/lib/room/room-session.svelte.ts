/**
 * One person's session in one room (issue #10: a room is a group, full mesh): the signaling
 * socket and who is in the room, this device's NAT report and TURN check, the conversation over
 * every data channel, and one {@link PeerSession} per other person. Reactive state for the
 * components, which each take the piece they show. The world (WebSocket, peer links, clocks,
 * storage, NAT probes) comes in through {@link RoomDeps}, so node tests drive the orchestration
 * with fakes; `browserRoomDeps` in browser-deps.ts is the real one.
 */
/* eslint-disable svelte/prefer-svelte-reactivity -- the peer map is `$state.raw`: a new Map is
   built and assigned whole on every change, never mutated once assigned; sets are local. */
import {
  CloseCode,
  describeClose,
  MAX_FILE_BYTES,
  type IceServer,
  type PeerInfo,
  type ServerMessage,
  type SignalData,
} from '../../../../signaling/protocol.ts';
import {
  Conversation,
  PING_INTERVAL_MS,
  type ConversationEntry,
  type Outgoing,
  type Step,
} from '../chat/delivery.ts';
import { displayName, normalizeName } from '../chat/names.ts';
import { SnapshotWriter, type Durability, type OutboxStore } from '../chat/outbox-store.ts';
import type { DiagnosticsExport } from '../diagnostics/diagnostics-export.ts';
import type { TimelineEntry } from '../diagnostics/timeline.ts';
import type { FileLine, FileTransfers, SendOutcome } from '../files/file-transfers.svelte.ts';
import type { Analysis } from '../diagnostics/analysis.ts';
import type { NatReport } from '../nat/nat-classifier.ts';
import type { NatProbeInput } from '../nat/probe-input.ts';
import type { TurnCheckInput, TurnCheckResult } from '../nat/turn-check.ts';
import { turnConfig, type TurnConfig } from '../nat/turn-config.ts';
import { PeerSession, type LinkFactory } from '../peer/peer-session.svelte.ts';
import { fitPeerInfo } from '../signaling/fit.ts';
import type { Signaling, SignalingEvents } from '../signaling/signaling-client.ts';
import { newRoomId } from './room-id.ts';
import { describeStatus, type ServerState, type Status } from './status.ts';

/** How often peer sessions read `getStats()` and judge their links, ms. */
export const STATS_INTERVAL_MS = 1000;

/** How long an export waits for the others' current views, ms. */
export const EXPORT_WAIT_MS = 2000;

/** Longest a TURN test waits for the join that brings TURN credentials, ms. */
export const JOIN_WAIT_MS = 10 * 1000;

/** Most people (who left) remembered with their diagnostics; the oldest are forgotten first. */
export const MAX_REMEMBERED_PEERS = 32;

/**
 * Longest the NAT test waits for the connections being set up, ms since {@link RoomSession.start}
 * (see {@link RoomSession.settling}). Its gathering is a second peer connection; started at once
 * it took the first peer connection's share of the page (the cost of creating the first
 * RTCPeerConnection, its offer, STUN traffic) while the real one was being set up (issue #13). A
 * slow or failing connection still gets its NAT report, forecast and explanation: the failure
 * bounds (relay-fallback.ts) are several times longer.
 */
export const NAT_PROBE_MAX_DEFER_MS = 2000;

/** The part of the Web Storage API the session uses. */
export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** What a {@link RoomSession} uses of the world. */
export interface RoomDeps {
  /** Opens the signaling connection (it reconnects by itself). */
  connectSignaling(events: SignalingEvents): Signaling;
  createLink: LinkFactory;
  /** Monotonic clock, ms since the page started loading (`performance.now()`). */
  now(): number;
  /** Wall clock, ms since the Unix epoch (`Date.now()`). */
  wallClock(): number;
  /** Per tab (resume token: a reload rejoins as the same person); `null` where unavailable. */
  tabStorage: KeyValueStorage | null;
  /** Per device (the name); `null` where unavailable. */
  deviceStorage: KeyValueStorage | null;
  /** Where the conversation is kept. */
  openStore(): OutboxStore;
  /** Gathers against the STUN servers for the NAT classification (rtc/nat-probe.ts). */
  probeNat(iceServers: readonly IceServer[]): Promise<NatProbeInput>;
  /** A relay-only gathering for "Test TURN" (rtc/turn-test.ts). */
  testTurn(iceServers: readonly IceServer[]): Promise<TurnCheckInput>;
  /** For the export. */
  userAgent: string;
  /** A URL to save a received file from (the page: `URL.createObjectURL`). */
  urlFor(blob: Blob): string;
  /** Gives back a URL made by {@link urlFor}. */
  releaseUrl(url: string): void;
}

/** One person of the "People" list. */
export interface Person {
  /** Peer id. */
  id: string;
  name: string;
  /** This is me. */
  self: boolean;
  /** Our connection to them (`null` for me). */
  peer: PeerSession | null;
}

const NAME_KEY = 'holepunch-chat:name';

/** Tab storage key prefix of a room's resume token (the room id follows). */
export const RESUME_KEY_PREFIX = 'holepunch-chat:resume:';

/**
 * The room's resume token for this tab: kept in tab storage (sessionStorage), which survives a
 * reload of the tab but is not shared with other tabs, so a reload rejoins as the same peer while
 * a second tab is a second person. A fresh token where storage is unavailable.
 */
function resumeTokenFor(roomId: string, storage: KeyValueStorage | null): string {
  const key = `${RESUME_KEY_PREFIX}${roomId}`;
  try {
    const stored = storage?.getItem(key);
    if (stored) return stored;
    const token = newRoomId();
    storage?.setItem(key, token);
    return token;
  } catch {
    return newRoomId();
  }
}

function storedName(storage: KeyValueStorage | null): string {
  try {
    return normalizeName(storage?.getItem(NAME_KEY) ?? '');
  } catch {
    return '';
  }
}

/** Reactive state of one room, for one person. Call {@link RoomSession.start} to connect. */
export class RoomSession {
  /** The room's id, from the link. */
  readonly roomId: string;

  #server = $state<ServerState>('connecting');
  #closeWords = $state<string | null>(null);
  #selfId = $state<string | null>(null);
  #name = $state('');
  /** Peer sessions by id, present and departed, in the order first met. */
  #peers = $state.raw<ReadonlyMap<string, PeerSession>>(new Map());
  #roomSize = $state(2);
  /** The server's largest frame, bytes (from `hello`). */
  #maxFrameBytes = 16 * 1024;
  /** Largest file sent or accepted, bytes (from `hello`). */
  #maxFileBytes = MAX_FILE_BYTES;
  #joinedWithOthers = $state(false);
  #messages = $state.raw<readonly ConversationEntry[]>([]);
  #durability = $state<Durability | null>(null);
  #isLoaded = $derived(this.#durability !== null);
  #timeline = $state.raw<TimelineEntry[]>([{ label: 'Page opened', atMs: 0 }]);
  #iceServers = $state.raw<IceServer[]>([]);
  /** diagnostics/analysis.ts once its chunk has loaded (issue #13); see {@link #loadAnalysis}. */
  #analysis = $state.raw<Analysis | null>(null);
  #analysisReady: Promise<Analysis | null> | null = null;
  #natReport = $state.raw<NatReport | null>(null);
  #natProbing = $state(false);
  #turnCheck = $state.raw<TurnCheckResult | null>(null);
  #turnChecking = $state(false);

  #turn = $derived<TurnConfig>(turnConfig(this.#iceServers));
  #present = $derived<PeerSession[]>(
    [...this.#peers.values()].filter((peer) => peer.state !== 'left'),
  );
  #settling = $derived(
    this.#selfId === null || this.#present.some((peer) => peer.state === 'connecting'),
  );
  #people = $derived<Person[]>([
    ...(this.#selfId
      ? [{ id: this.#selfId, name: this.displayName, self: true, peer: null } satisfies Person]
      : []),
    ...this.#present.map((peer) => ({
      id: peer.id,
      name: peer.displayName,
      self: false,
      peer,
    })),
  ]);
  #status = $derived<Status>(
    describeStatus({
      server: this.#server,
      closeWords: this.#closeWords,
      peers: [...this.#peers.values()].map((peer) => ({
        name: peer.displayName,
        state: peer.shownState,
        verdict: peer.verdict,
      })),
    }),
  );

  readonly #deps: RoomDeps;
  readonly #resumeToken: string;
  #client: Signaling | null = null;
  #conversation: Conversation;
  /**
   * The file transfers, once their code has loaded (issue #13: it is fetched when the first
   * `files` channel opens or a file is picked, not before the chat); see {@link #withFiles}.
   */
  #files = $state.raw<FileTransfers | null>(null);
  #filesReady: Promise<FileTransfers | null> | null = null;
  #filesStopped = false;
  /** Settles once the stored conversation is loaded; data-channel work queues behind it. */
  #loaded: Promise<void> = Promise.resolve();
  #writer: SnapshotWriter | null = null;
  #tickTimer: ReturnType<typeof setInterval> | undefined;
  #pingTimer: ReturnType<typeof setInterval> | undefined;
  #probeTimer: ReturnType<typeof setTimeout> | undefined;
  /** When the NAT test stops waiting for {@link settling}, ms ({@link RoomDeps.now}). */
  #probeDueAtMs = Infinity;
  #probeStarted = false;
  /** `hello` has brought the STUN servers the NAT test needs. */
  #greeted = false;
  /** Called once at the next `joined`. */
  #onJoined: (() => void)[] = [];

  constructor(roomId: string, deps: RoomDeps) {
    this.roomId = roomId;
    this.#deps = deps;
    this.#resumeToken = resumeTokenFor(roomId, deps.tabStorage);
    this.#name = storedName(deps.deviceStorage);
    this.#conversation = new Conversation({ name: this.#name });
  }

  /** Files sent and received in the room (issue #11), oldest first. */
  get files(): readonly FileLine[] {
    return this.#files?.lines ?? [];
  }

  /**
   * Offers `files` to everyone in the room now; each goes to each person on their own channel.
   * Resolves once the file code has loaded (at once after the first time); when it cannot load,
   * every file is refused with that reason.
   */
  async sendFiles(files: readonly File[]): Promise<SendOutcome> {
    const recipients = this.#present.map((peer) => peer.id);
    const transfers = await this.#loadFiles();
    return transfers
      ? transfers.send(files, recipients)
      : {
          sent: [],
          refused: files.map(({ name }) => ({
            name,
            reason: 'the page could not load its file code; reload to try again',
          })),
        };
  }
  /** "Accept" on a received file's line. */
  acceptFile(key: string): void {
    this.#files?.accept(key);
  }
  /** "Decline" on a received file's line. */
  declineFile(key: string): void {
    this.#files?.decline(key);
  }
  /** "Cancel" on a file's line: a received one, or mine to `peer` (all recipients when omitted). */
  cancelFile(key: string, peer?: string): void {
    this.#files?.cancel(key, peer);
  }

  get status(): Status {
    return this.#status;
  }
  /** My peer id in the room; `null` until joined. */
  get selfId(): string | null {
    return this.#selfId;
  }
  /** My name as I set it (`''`: not set). */
  get name(): string {
    return this.#name;
  }
  /** My name as others see it: mine, or the default from my peer id ("Guest 4F2A"). */
  get displayName(): string {
    return this.#selfId ? displayName(this.#selfId, this.#name) : this.#name || 'Guest';
  }
  /** The people in the room, me first, then the others in the order they were met. */
  get people(): readonly Person[] {
    return this.#people;
  }
  /** Our connections to the others in the room (not those who left), in the order met. */
  get peers(): readonly PeerSession[] {
    return this.#present;
  }
  /** People per room on this server (from `hello`). */
  get roomSize(): number {
    return this.#roomSize;
  }
  /**
   * True until the first `joined`, and while a first connection to someone present is being set
   * up (a peer `connecting`): work that can wait (the NAT test, the diagnostics panel) waits for
   * it to be false, so it does not compete with the connection for the page (issue #13).
   */
  get settling(): boolean {
    return this.#settling;
  }
  /** Others were already here when I first joined: earlier messages are not mine to see. */
  get joinedLate(): boolean {
    return this.#joinedWithOthers;
  }
  /** The conversation, oldest first; my lines carry status and delivery counts. */
  get messages(): readonly ConversationEntry[] {
    return this.#messages;
  }
  /**
   * True when Send works: someone else is in the room and a data channel to someone is open, or
   * was open and is being re-established (the message waits in the outbox and goes out on
   * reconnection, issue #4). Before the first connection the draft just waits (issue #2).
   */
  get canSend(): boolean {
    if (!this.#isLoaded || this.#present.length === 0) return false;
    return this.#present.some((peer) => peer.state === 'open' || peer.everOpen);
  }
  /** Where unacknowledged messages are kept: `indexeddb` survives a reload, `memory` does not. */
  get durability(): Durability | null {
    return this.#durability;
  }
  /** Room-wide timeline steps (each connection's section merges them with its own). */
  get timeline(): readonly TimelineEntry[] {
    return this.#timeline;
  }
  /** This device's NAT classification (issue #3); `null` until the probe is done. */
  get natReport(): NatReport | null {
    return this.#natReport;
  }
  /** The probe is running. */
  get natProbing(): boolean {
    return this.#natProbing;
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

  /**
   * Sets my name (names.ts rules; blank = the default), remembers it on this device and tells
   * everyone connected. Names never go through the server.
   */
  setName(name: string): void {
    const next = normalizeName(name);
    this.#name = next;
    try {
      this.#deps.deviceStorage?.setItem(NAME_KEY, next);
    } catch {
      // Storage refused (private mode, quota): the name holds for this page load.
    }
    const step = this.#conversation.setName(next);
    if (step) this.#apply(step);
  }

  /**
   * "Test TURN": a relay-only gathering against the configured TURN servers (turn-check.ts).
   * TURN credentials come with `joined` (issue #9), so a click before the join waits for it (at
   * most {@link JOIN_WAIT_MS}) instead of testing a list without TURN.
   */
  async testTurn(): Promise<void> {
    if (this.#turnChecking) return;
    this.#turnChecking = true;
    try {
      if (this.#selfId === null) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, JOIN_WAIT_MS);
          this.#onJoined.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      const [analysis, input] = await Promise.all([
        this.#loadAnalysis(),
        this.#deps.testTurn(this.#iceServers),
      ]);
      this.#turnCheck = analysis?.checkTurn(input) ?? null;
    } finally {
      this.#turnChecking = false;
    }
  }

  /**
   * The export: this device's room view and, per person, both ends' view of that pair. Asks the
   * others for their current views first and waits up to {@link EXPORT_WAIT_MS} for them.
   * Addresses are redacted unless `includeAddresses`.
   */
  async exportDiagnostics(includeAddresses: boolean): Promise<DiagnosticsExport> {
    await Promise.all(this.#present.map((peer) => peer.requestView(EXPORT_WAIT_MS)));
    // Only the export needs this code (the panel's button), so it is fetched on the first one.
    const { buildDiagnosticsExport } = await import('../diagnostics/diagnostics-export.ts');
    return buildDiagnosticsExport(
      {
        local: this.diagnosticsView(),
        connections: [...this.#peers.values()].map((peer) => ({
          peerId: peer.id,
          name: peer.displayName,
          local: peer.diagnosticsView(),
          remote: peer.remoteView,
        })),
      },
      { includeAddresses, nowMs: this.#deps.wallClock() },
    );
  }

  /** This device's room-level diagnostics as plain JSON-able data. */
  diagnosticsView(): Record<string, unknown> {
    return {
      peerId: this.#selfId,
      roomSize: this.#roomSize,
      people: this.#present.length + 1,
      nat: this.#natReport,
      turnConfigured: this.#turn.configured,
      turnCheck: this.#turnCheck,
      userAgent: this.#deps.userAgent,
      status: this.#status.text,
      server: this.#server,
      timeline: this.#timeline,
      outbox: this.#conversation.outboxSize,
    };
  }

  /** Connects to signaling and joins the room. Returns the teardown (for a Svelte `$effect`). */
  start(): () => void {
    let stopped = false;
    const store = this.#deps.openStore();
    // The outbox loads while signaling connects (both take a round trip, neither needs the other);
    // only data-channel traffic waits for it, so frames meet the restored outbox.
    this.#loaded = store.load(this.roomId).then((snapshot) => {
      if (stopped) return;
      const connected = [...this.#conversation.connected];
      this.#conversation = new Conversation({ snapshot, name: this.#name });
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
      // Channels that opened while loading: greet them from the restored conversation.
      for (const peer of connected) this.#apply(this.#conversation.connect(peer));
    });
    this.#client = this.#deps.connectSignaling({
      open: () => {
        this.#mark('Signaling connected');
        // Join at once: the server greets every socket with hello first, so our ICE servers
        // arrive before anything the join brings (one round trip saved).
        this.#client?.send({ type: 'join', room: this.roomId, resume: this.#resumeToken });
      },
      message: (message) => this.#onServerMessage(message),
      closed: (code, _reason, retryInMs) => {
        if (retryInMs === null) {
          this.#server = 'refused';
          this.#closeWords = describeClose(code, this.#roomSize);
          return;
        }
        // Once per outage, not once per failed retry.
        if (this.#server === 'open') this.#mark('Signaling lost, reconnecting', true);
        this.#server = 'reconnecting';
        if (code === CloseCode.RATE_LIMITED || code === CloseCode.SLOW_READER) {
          this.#closeWords = describeClose(code, this.#roomSize);
        }
      },
    });
    this.#tickTimer = setInterval(() => {
      for (const peer of this.#present) peer.tick();
      // A tick may have explained a failure: that connection is no longer being set up.
      this.#maybeProbeNat();
    }, STATS_INTERVAL_MS);
    this.#probeDueAtMs = this.#deps.now() + NAT_PROBE_MAX_DEFER_MS;
    this.#probeTimer = setTimeout(() => this.#maybeProbeNat(), NAT_PROBE_MAX_DEFER_MS);
    this.#pingTimer = setInterval(() => {
      for (const peer of this.#present) {
        const ping = this.#conversation.ping(peer.id, this.#deps.wallClock());
        if (ping) this.#write([{ to: peer.id, frame: ping }]);
      }
    }, PING_INTERVAL_MS);
    return () => {
      stopped = true;
      clearInterval(this.#tickTimer);
      clearInterval(this.#pingTimer);
      clearTimeout(this.#probeTimer);
      for (const peer of this.#peers.values()) peer.destroy();
      this.#filesStopped = true;
      this.#files?.stop();
      this.#client?.close();
      this.#client = null;
    };
  }

  /**
   * Sends `text` to everyone in the room now, or queues it for those whose connection is being
   * re-established. `false` (the caller keeps the draft) for blank text or a full outbox.
   */
  send(text: string): boolean {
    if (!this.canSend) return false;
    const recipients = this.#present.map((peer) => peer.id);
    const step = this.#conversation.send(text, this.#deps.wallClock(), recipients);
    if (!step) return false;
    this.#apply(step);
    return true;
  }

  /** Applies one delivery step: frames out, state saved, the list and the people refreshed. */
  #apply(step: Step): void {
    this.#write(step.frames);
    if (step.persist) this.#writer?.request();
    this.#messages = this.#conversation.entries;
    for (const event of step.events) {
      if (event.type === 'message') this.#peers.get(event.entry.from)?.noteMessage();
      if (event.type === 'rtt') this.#peers.get(event.peer)?.setLiveRtt(event.rttMs);
      if (event.type === 'name') this.#peers.get(event.peer)?.setName(event.name);
      if (event.type === 'misbehaving') this.#peers.get(event.peer)?.stop(event.reason);
    }
  }

  /** Writes frames to their data channels; a refused write means that channel is gone. */
  #write(frames: readonly Outgoing[]): void {
    const gone = new Set<string>();
    for (const { to, frame } of frames) {
      if (gone.has(to)) continue;
      if (!this.#peers.get(to)?.send(JSON.stringify(frame))) {
        gone.add(to);
        this.#conversation.disconnect(to);
      }
    }
    if (gone.size > 0) this.#messages = this.#conversation.entries;
  }

  /** Adds a room timeline step; once per label unless `repeat`. */
  #mark(label: string, repeat = false): void {
    if (!repeat && this.#timeline.some((entry) => entry.label === label)) return;
    this.#timeline = [...this.#timeline, { label, atMs: this.#deps.now() }];
  }

  #onServerMessage(message: ServerMessage): void {
    switch (message.type) {
      case 'hello':
        this.#iceServers = message.iceServers;
        this.#roomSize = message.limits.roomSize;
        this.#maxFrameBytes = message.limits.maxFrameBytes;
        this.#maxFileBytes = message.limits.maxFileBytes;
        this.#greeted = true;
        this.#maybeProbeNat();
        return;
      case 'joined': {
        if (this.#server === 'reconnecting') this.#mark('Signaling reconnected', true);
        this.#server = 'open';
        this.#closeWords = null;
        // The same STUN servers as in hello, now with TURN: the server mints a relay credential
        // only for a socket that has joined a room (issue #9).
        this.#iceServers = message.iceServers;
        if (this.#selfId === null && message.peers.length > 0) this.#joinedWithOthers = true;
        this.#selfId = message.id;
        const here = new Set(message.peers);
        // Whoever left while our socket was down is gone; everyone here is met (again).
        for (const peer of this.#peers.values()) {
          if (!here.has(peer.id) && peer.state !== 'left') peer.left();
        }
        for (const id of message.peers) this.#meet(id);
        this.#peers = new Map(this.#peers);
        for (const joined of this.#onJoined.splice(0)) joined();
        this.#maybeProbeNat();
        return;
      }
      case 'peer-joined':
        this.#meet(message.id);
        this.#peers = new Map(this.#peers);
        return;
      case 'peer-left': {
        const peer = this.#peers.get(message.id);
        if (!peer) return;
        peer.left();
        this.#peers = new Map(this.#peers);
        return;
      }
      case 'signal':
        this.#peers.get(message.from)?.onSignal(message.data);
        return;
      case 'error':
        return;
    }
  }

  /** `id` is in the room: its session is created (or found again) and told so. */
  #meet(id: string): void {
    if (id === this.#selfId) return;
    let peer = this.#peers.get(id);
    if (!peer) {
      peer = this.#newPeer(id);
      const peers = new Map(this.#peers);
      peers.set(id, peer);
      // Forget the longest-gone people past the bound; present ones always stay.
      for (const [oldId, old] of peers) {
        if (peers.size <= MAX_REMEMBERED_PEERS) break;
        if (old.state === 'left') {
          old.destroy();
          peers.delete(oldId);
        }
      }
      this.#peers = peers;
    }
    peer.meet();
  }

  #newPeer(id: string): PeerSession {
    const peer: PeerSession = new PeerSession(id, {
      roomId: this.roomId,
      selfId: () => this.#selfId ?? '',
      iceServers: () => this.#iceServers,
      turn: () => this.#turn,
      natReport: () => this.#natReport,
      analysis: () => this.#analysis,
      roomTimeline: () => this.#timeline,
      signal: (data) => this.#signal(id, data),
      createLink: this.#deps.createLink,
      now: () => this.#deps.now(),
      opened: () => {
        this.#maybeProbeNat();
        void this.#loaded.then(() => {
          if (peer.state === 'open') this.#apply(this.#conversation.connect(id));
        });
      },
      closed: () => {
        this.#conversation.disconnect(id);
        this.#messages = this.#conversation.entries;
        this.#withFiles((files) => files.disconnected(id));
      },
      filesOpened: () => this.#withFiles((files) => files.connected(id)),
      fileData: (data) => this.#withFiles((files) => files.receive(id, data)),
      message: (text) => {
        // Promise callbacks run in order, so messages keep theirs while the outbox loads.
        void this.#loaded.then(() =>
          this.#apply(this.#conversation.receive(id, text, this.#deps.wallClock())),
        );
      },
    });
    const known = this.#conversation.nameOf(id);
    if (known !== undefined) peer.setName(known);
    return peer;
  }

  /** One payload to `to` through signaling, sized to the server's limits. */
  #signal(to: string, data: SignalData): boolean {
    const client = this.#client;
    if (!client) return false;
    if (data.type === 'peer-info') {
      const info: PeerInfo | null = fitPeerInfo(data.info, this.#maxFrameBytes);
      if (!info) return false;
      return client.send({ type: 'signal', to, data: { type: 'peer-info', info } });
    }
    return client.send({ type: 'signal', to, data });
  }

  /**
   * Fetches the file-transfer code once (its own chunk, issue #13) and builds the room's
   * {@link FileTransfers}; later calls share the first fetch. Resolves `null` when the fetch fails
   * or the session has stopped.
   */
  #loadFiles(): Promise<FileTransfers | null> {
    this.#filesReady ??= import('../files/file-transfers.svelte.ts').then(
      ({ FileTransfers }) => {
        if (this.#filesStopped) return null;
        const deps = this.#deps;
        this.#files = new FileTransfers({
          send: (peer, data) => this.#peers.get(peer)?.sendFile(data) ?? Promise.resolve(false),
          maxMessageSize: (peer) => this.#peers.get(peer)?.maxMessageSize ?? 0,
          nameOf: (peer) => this.#peers.get(peer)?.displayName ?? displayName(peer, undefined),
          now: () => deps.now(),
          wallClock: () => deps.wallClock(),
          maxFileBytes: () => this.#maxFileBytes,
          urlFor: (blob) => deps.urlFor(blob),
          releaseUrl: (url) => deps.releaseUrl(url),
        });
        return this.#files;
      },
      () => null,
    );
    return this.#filesReady;
  }

  /**
   * Runs `op` on the file transfers now, or once their code has loaded. Calls made while it loads
   * wait on one promise, so they run in the order they were made, all in the microtask that
   * follows the load: before any later frame (a data-channel event) can be handled.
   */
  #withFiles(op: (files: FileTransfers) => void): void {
    if (this.#files) {
      op(this.#files);
      return;
    }
    void this.#loadFiles().then((files) => {
      if (files) op(files);
    });
  }

  /**
   * Fetches the diagnostics' analysis once (its own chunk in the page build, issue #13); later
   * calls share the first fetch. Resolves `null` when the fetch fails: the chat goes on, and the
   * panel, which would fail to load too, says so.
   */
  #loadAnalysis(): Promise<Analysis | null> {
    this.#analysisReady ??= import('../diagnostics/analysis.ts').then(
      (analysis) => (this.#analysis = analysis),
      () => null,
    );
    return this.#analysisReady;
  }

  /**
   * Starts the NAT test, once per page load, as soon as `hello` has brought its STUN servers and
   * nothing is {@link settling}, or {@link NAT_PROBE_MAX_DEFER_MS} after the start regardless.
   */
  #maybeProbeNat(): void {
    if (this.#probeStarted || !this.#greeted || this.#client === null) return;
    if (this.#settling && this.#deps.now() < this.#probeDueAtMs) return;
    this.#probeStarted = true;
    clearTimeout(this.#probeTimer);
    void this.#probeNat();
  }

  /** Classifies this device's NAT against our two STUN ports, then tells everyone. */
  async #probeNat(): Promise<void> {
    this.#natProbing = true;
    this.#mark('NAT test started');
    try {
      const [analysis, input] = await Promise.all([
        this.#loadAnalysis(),
        this.#deps.probeNat(this.#iceServers),
      ]);
      if (analysis) {
        this.#natReport = analysis.classifyNat(input);
        this.#mark('NAT classified');
      }
    } finally {
      this.#natProbing = false;
    }
    for (const peer of this.#present) peer.natChanged();
  }
}
