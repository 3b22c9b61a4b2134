/**
 * The baseline of both browser benches: a bare RTCPeerConnection with one data channel and trickle
 * ICE, as the WebRTC spec's own examples set it up (webrtc-pc §10.1), with no library in between.
 * It notes the same timeline steps, under the same labels, as the app's connection timeline.
 *
 * The throughput harness imports it; the NAT-lab setup bench injects it (built as an IIFE exposing
 * `benchRawPeer`) into a plain page served from the lab's server namespace.
 */

/** One step, ms since the page started loading (`performance.now()`), as in the app's timeline. */
export interface Mark {
  label: string;
  atMs: number;
}

/** What goes through signaling between two raw peers: SDP or one candidate. */
export type RawSignal = { sdp: RTCSessionDescriptionInit } | { candidate: RTCIceCandidateInit };

export class RawPeer {
  readonly pc: RTCPeerConnection;
  /** Resolves with the data channel once it is open. */
  readonly open: Promise<RTCDataChannel>;
  readonly marks: Mark[] = [];
  #inbox: Promise<void> = Promise.resolve();

  /**
   * @param initiator makes the data channel and the offer, as the newcomer does in the app.
   * @param out called with each payload for the other peer, in order.
   */
  constructor(initiator: boolean, iceServers: RTCIceServer[], out: (data: RawSignal) => void) {
    this.pc = new RTCPeerConnection({ iceServers });
    const pc = this.pc;
    this.#mark('Peer connection created');
    this.open = new Promise((resolve) => {
      const watch = (channel: RTCDataChannel): void => {
        channel.addEventListener('open', () => {
          this.#mark('Data channel open');
          resolve(channel);
        });
      };
      if (initiator) watch(pc.createDataChannel('chat'));
      else pc.addEventListener('datachannel', (event) => watch(event.channel));
    });
    pc.addEventListener('icecandidate', (event) => {
      if (event.candidate) out({ candidate: event.candidate.toJSON() });
    });
    pc.addEventListener('iceconnectionstatechange', () => {
      if (pc.iceConnectionState === 'checking') this.#mark('ICE checking');
      if (pc.iceConnectionState === 'connected') this.#mark('ICE connected');
    });
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState === 'connected') this.#mark('DTLS connected');
    });
    if (initiator) {
      pc.addEventListener('negotiationneeded', async () => {
        await pc.setLocalDescription();
        out({ sdp: pc.localDescription!.toJSON() });
        this.#mark('Offer sent');
      });
    }
    this.signal = (data: RawSignal): Promise<void> => {
      // One at a time: a candidate must not overtake the description before it.
      this.#inbox = this.#inbox.then(() => this.#apply(data, out));
      return this.#inbox;
    };
  }

  /** Applies one payload from the other peer, after the ones before it. */
  readonly signal: (data: RawSignal) => Promise<void>;

  close(): void {
    this.pc.close();
  }

  async #apply(data: RawSignal, out: (data: RawSignal) => void): Promise<void> {
    if ('candidate' in data) {
      await this.pc.addIceCandidate(data.candidate);
      return;
    }
    const offer = data.sdp.type === 'offer';
    this.#mark(offer ? 'Offer received' : 'Answer received');
    await this.pc.setRemoteDescription(data.sdp);
    if (offer) {
      await this.pc.setLocalDescription();
      out({ sdp: this.pc.localDescription!.toJSON() });
      this.#mark('Answer sent');
    }
  }

  #mark(label: string): void {
    if (!this.marks.some((mark) => mark.label === label)) {
      this.marks.push({ label, atMs: performance.now() });
    }
  }
}
