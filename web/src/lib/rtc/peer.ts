/**
 * The one module that imports simple-peer (`@thaunknown/simple-peer`, the maintained ESM fork;
 * `lite.js` is its data-channel-only build). It wraps a single RTCPeerConnection with one data
 * channel and reports, besides chat traffic, what the diagnostics panel needs: every signaling
 * payload (so trickled candidates can be shown), the four state machines, candidate errors and
 * `getStats()`.
 */
import SimplePeer from '@thaunknown/simple-peer/lite.js';
import type { IceServer, SignalData } from '../../../../signaling/protocol.ts';
import { FILES_CHANNEL_ID, FILES_CHANNEL_LABEL } from '../files/channel.ts';

/** The four state machines of an RTCPeerConnection (W3C webrtc-pc §4.3). */
export interface PeerStates {
  iceGatheringState: RTCIceGatheringState;
  iceConnectionState: RTCIceConnectionState;
  connectionState: RTCPeerConnectionState;
  signalingState: RTCSignalingState;
}

/** One `icecandidateerror` event (webrtc-pc §4.8.2): a STUN/TURN server that did not answer well. */
export interface CandidateError {
  url: string;
  /** STUN error code (RFC 8489 §14.8), or 701 when the server could not be reached at all. */
  errorCode: number;
  errorText: string;
  /** Time since this peer connection was created, ms. */
  atMs: number;
}

/** Callbacks of {@link PeerLink}. All fire asynchronously; none may throw. */
export interface PeerEvents {
  /** A payload for the other peer, to send through signaling. */
  signal(data: SignalData): void;
  /** The data channel is open: chat can flow. */
  open(): void;
  /** One text message from the other peer. */
  message(text: string): void;
  /** The `files` channel is open (issue #11): file frames can flow. */
  filesOpen(): void;
  /** One message of the `files` channel: a control frame (text) or a chunk (binary). */
  fileData(data: string | ArrayBuffer): void;
  /** Any of the four states changed. */
  states(states: PeerStates): void;
  candidateError(error: CandidateError): void;
  /** The connection ended: `error` is set when it failed (simple-peer's `err.code`, e.g. `ERR_ICE_CONNECTION_FAILURE`). */
  closed(error: { code: string; message: string } | null): void;
}

/** Options of {@link PeerLink}. */
export interface PeerOptions {
  /** The initiator makes the SDP offer; the other side answers (RFC 8829 §5). */
  initiator: boolean;
  iceServers: IceServer[];
  /** [iceTransportPolicy='all'] `'relay'` gathers TURN relay candidates only (webrtc-pc §4.2.1). */
  iceTransportPolicy?: RTCIceTransportPolicy;
}

/**
 * Send-buffer marks of {@link PeerLink.sendWhenReady}, bytes: it waits while more than the high
 * mark is queued in the data channel, and resumes at `bufferedamountlow`, which fires once the
 * queue falls to the low mark (`bufferedAmountLowThreshold`, webrtc-pc §6.2). Chromium fails a
 * `send()` past 16 MiB queued ("send queue is full"). simple-peer's own stream path (`write()`,
 * then `drain`) keeps at most 64 KiB queued: as fast on loopback (bench/, BENCHMARKS.md), where
 * Chromium's SCTP stack is the limit, but it leaves the channel idle sooner on a faster path.
 */
export const SEND_BUFFER_HIGH_BYTES = 1024 * 1024;
export const SEND_BUFFER_LOW_BYTES = SEND_BUFFER_HIGH_BYTES / 4;

/** One peer connection to the other person of the room. */
export class PeerLink {
  readonly #peer: SimplePeer;
  readonly #pc: RTCPeerConnection;
  readonly #createdAt = performance.now();
  #closed = false;
  /** Backpressure of the chat channel, once it is open ({@link sendWhenReady}). */
  #chatGate: SendGate | null = null;
  /** The `files` data channel (issue #11), beside simple-peer's chat channel. */
  readonly #files: RTCDataChannel;
  readonly #filesGate: SendGate;

  constructor(options: PeerOptions, events: PeerEvents) {
    this.#peer = new SimplePeer({
      initiator: options.initiator,
      trickle: true,
      // Text stays a string: in byte mode simple-peer turns each message into bytes that we then
      // decoded again (in 9.x through the `buffer` polyfill, which held the data channel to ~0.65×
      // a bare channel's throughput: bench/, BENCHMARKS.md).
      objectMode: true,
      config: {
        iceServers: options.iceServers,
        iceTransportPolicy: options.iceTransportPolicy ?? 'all',
      },
    });
    // simple-peer keeps its RTCPeerConnection in `_pc`; the panel needs it for the state machines, candidate errors and getStats().
    this.#pc = this.#peer._pc;
    const decoder = new TextDecoder();
    this.#peer.on('signal', (data) => events.signal(data as SignalData));
    this.#peer.on('connect', () => {
      // simple-peer keeps its RTCDataChannel in `_channel`; its own threshold serves `write()`.
      this.#chatGate = new SendGate(this.#peer._channel);
      events.open();
    });
    this.#peer.on('data', (chunk: string | Uint8Array) =>
      events.message(typeof chunk === 'string' ? chunk : decoder.decode(chunk)),
    );
    const finish = (error: { code: string; message: string } | null) => {
      if (this.#closed) return;
      this.#closed = true;
      this.#chatGate?.wake();
      events.closed(error);
    };
    this.#peer.on('error', (error: Error & { code?: string }) =>
      finish({ code: error.code ?? 'ERR_UNKNOWN', message: error.message }),
    );
    this.#peer.on('close', () => finish(null));
    // Negotiated out of band on both sides (files/channel.ts FILES_CHANNEL_ID), so it rides the
    // same SDP offer/answer as the chat channel and simple-peer never sees it.
    this.#files = this.#pc.createDataChannel(FILES_CHANNEL_LABEL, {
      negotiated: true,
      id: FILES_CHANNEL_ID,
    });
    this.#files.binaryType = 'arraybuffer';
    this.#filesGate = new SendGate(this.#files);
    this.#files.addEventListener('open', () => events.filesOpen());
    this.#files.addEventListener('message', (event: MessageEvent<string | ArrayBuffer>) =>
      events.fileData(event.data),
    );
    const report = () => events.states(this.states);
    for (const type of [
      'icegatheringstatechange',
      'iceconnectionstatechange',
      'connectionstatechange',
      'signalingstatechange',
    ]) {
      this.#pc.addEventListener(type, report);
    }
    this.#pc.addEventListener('icecandidateerror', (event: Event) => {
      const { url, errorCode, errorText } = event as RTCPeerConnectionIceErrorEvent;
      events.candidateError({ url, errorCode, errorText, atMs: this.elapsedMs() });
    });
    queueMicrotask(report);
  }

  /** Current values of the four state machines. */
  get states(): PeerStates {
    const pc = this.#pc;
    return {
      iceGatheringState: pc.iceGatheringState,
      iceConnectionState: pc.iceConnectionState,
      connectionState: pc.connectionState,
      signalingState: pc.signalingState,
    };
  }

  /** Time since this peer connection was created, ms. */
  elapsedMs(): number {
    return performance.now() - this.#createdAt;
  }

  /** Feeds a payload that came from the other peer through signaling. */
  signal(data: SignalData): void {
    if (!this.#closed) this.#peer.signal(data);
  }

  /** Sends one text message; `false` when the data channel is not open (nothing is queued). */
  send(text: string): boolean {
    if (this.#closed || !this.#peer.connected) return false;
    this.#peer.send(text);
    return true;
  }

  /** Bytes queued in the data channel and not yet sent (0 before it opens). */
  get bufferedAmount(): number {
    return this.#peer.bufferSize;
  }

  /**
   * Sends one text message once the data channel has room: while more than
   * {@link SEND_BUFFER_HIGH_BYTES} are queued it waits for the queue to drain to
   * {@link SEND_BUFFER_LOW_BYTES}, so a burst never overflows the browser's send queue. Calls keep
   * their order: a call made while others wait queues behind them. Resolves `false` (nothing
   * sent) if the channel is not open or closes meanwhile.
   */
  sendWhenReady(text: string): Promise<boolean> {
    if (this.#closed || !this.#chatGate) return Promise.resolve(false);
    return this.#chatGate.send(text);
  }

  /**
   * Sends one message on the `files` channel once it has room, through the same backpressure as
   * {@link sendWhenReady}. Resolves `false` (nothing sent) if that channel is not open or
   * closes meanwhile; never "send queue is full".
   */
  sendFile(data: string | ArrayBuffer): Promise<boolean> {
    return this.#filesGate.send(data);
  }

  /**
   * Largest message the other side accepts, bytes (`RTCSctpTransport.maxMessageSize`,
   * webrtc-pc §6.1.1, from their SDP's `a=max-message-size`, RFC 8841 §6); 0 before SCTP is up.
   */
  get maxMessageSize(): number {
    const size = this.#pc.sctp?.maxMessageSize ?? 0;
    return Number.isFinite(size) ? size : 0;
  }

  /** One `getStats()` snapshot, or `null` once the connection is closed. */
  async stats(): Promise<RTCStatsReport | null> {
    if (this.#pc.signalingState === 'closed') return null;
    try {
      return await this.#pc.getStats();
    } catch {
      return null;
    }
  }

  /** Closes the connection; `closed` fires with `null` if it had not already. */
  destroy(): void {
    this.#files.close();
    this.#peer.destroy();
  }
}

/**
 * Backpressure for one RTCDataChannel (the chat channel and the `files` channel alike): sends
 * wait while more than {@link SEND_BUFFER_HIGH_BYTES} are queued and resume at
 * `bufferedamountlow` ({@link SEND_BUFFER_LOW_BYTES}) or when the channel closes; calls keep their
 * order. A send resolves `false` (nothing sent) once the channel is not open.
 */
class SendGate {
  readonly #channel: RTCDataChannel;
  #tail: Promise<unknown> = Promise.resolve();
  #wake: (() => void) | null = null;

  constructor(channel: RTCDataChannel) {
    this.#channel = channel;
    channel.bufferedAmountLowThreshold = SEND_BUFFER_LOW_BYTES;
    channel.addEventListener('bufferedamountlow', () => this.wake());
    channel.addEventListener('close', () => this.wake());
  }

  /** Lets a waiting send look again (the queue drained, or the channel closed). */
  wake(): void {
    this.#wake?.();
  }

  send(data: string | ArrayBuffer): Promise<boolean> {
    const result = this.#tail.then(() => this.#sendNow(data));
    this.#tail = result;
    return result;
  }

  async #sendNow(data: string | ArrayBuffer): Promise<boolean> {
    const channel = this.#channel;
    while (channel.readyState === 'open' && channel.bufferedAmount > SEND_BUFFER_HIGH_BYTES) {
      await new Promise<void>((resolve) => {
        this.#wake = () => {
          this.#wake = null;
          resolve();
        };
      });
    }
    if (channel.readyState !== 'open') return false;
    try {
      // Both overloads exist; TypeScript wants one at a time.
      if (typeof data === 'string') channel.send(data);
      else channel.send(data);
      return true;
    } catch {
      return false;
    }
  }
}
