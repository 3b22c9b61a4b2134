/**
 * The one module that imports simple-peer. It wraps a single RTCPeerConnection with one data
 * channel and reports, besides chat traffic, what the diagnostics panel needs: every signaling
 * payload (so trickled candidates can be shown), the four state machines, candidate errors and
 * `getStats()`.
 */
import SimplePeer from 'simple-peer';
import type { IceServer, SignalData } from '../../../../signaling/protocol.ts';

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

/** One peer connection to the other person of the room. */
export class PeerLink {
  readonly #peer: SimplePeer.Instance;
  readonly #pc: RTCPeerConnection;
  readonly #createdAt = performance.now();
  #closed = false;

  constructor(options: PeerOptions, events: PeerEvents) {
    this.#peer = new SimplePeer({
      initiator: options.initiator,
      trickle: true,
      config: {
        iceServers: options.iceServers,
        iceTransportPolicy: options.iceTransportPolicy ?? 'all',
      },
    });
    // simple-peer keeps its RTCPeerConnection in `_pc` (not in its public types); the panel needs
    // it for the state machines, candidate errors and getStats().
    this.#pc = (this.#peer as unknown as { _pc: RTCPeerConnection })._pc;
    const decoder = new TextDecoder();
    this.#peer.on('signal', (data: unknown) => events.signal(data as SignalData));
    this.#peer.on('connect', () => events.open());
    this.#peer.on('data', (chunk: string | Uint8Array) =>
      events.message(typeof chunk === 'string' ? chunk : decoder.decode(chunk)),
    );
    const finish = (error: { code: string; message: string } | null) => {
      if (this.#closed) return;
      this.#closed = true;
      events.closed(error);
    };
    this.#peer.on('error', (error: Error & { code?: string }) =>
      finish({ code: error.code ?? 'ERR_UNKNOWN', message: error.message }),
    );
    this.#peer.on('close', () => finish(null));
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
    if (!this.#closed) this.#peer.signal(data as SimplePeer.SignalData);
  }

  /** Sends one text message; `false` when the data channel is not open (nothing is queued). */
  send(text: string): boolean {
    if (this.#closed || !this.#peer.connected) return false;
    this.#peer.send(text);
    return true;
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
    this.#peer.destroy();
  }
}
