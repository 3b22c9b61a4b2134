/**
 * Our PeerLink on a plain page, for the NAT-lab setup bench: like {@link RawPeer} (same marks,
 * same relay by the bench), but through PeerLink and simple-peer. Set against the app, it splits
 * our setup time into the wrapper's share and the app's (page, signaling server, session logic).
 * Built as an IIFE that defines `window.benchLinkPeer`.
 */
import type { SignalData } from '../../signaling/protocol.ts';
import { PeerLink } from '../../web/src/lib/rtc/peer.ts';
import type { Mark } from './raw-peer.ts';

export class LinkPeer {
  readonly open: Promise<void>;
  readonly marks: Mark[] = [];
  readonly #link: PeerLink;

  constructor(initiator: boolean, iceServers: RTCIceServer[], out: (data: SignalData) => void) {
    let opened: () => void = () => {};
    this.open = new Promise((resolve) => (opened = resolve));
    this.#mark('Peer connection created');
    this.#link = new PeerLink(
      { initiator, iceServers },
      {
        signal: (data) => {
          out(data);
          if (data.type === 'offer') this.#mark('Offer sent');
          if (data.type === 'answer') this.#mark('Answer sent');
        },
        open: () => {
          this.#mark('Data channel open');
          opened();
        },
        message: () => {},
        states: (states) => {
          if (states.iceConnectionState === 'checking') this.#mark('ICE checking');
          if (states.iceConnectionState === 'connected') this.#mark('ICE connected');
          if (states.connectionState === 'connected') this.#mark('DTLS connected');
        },
        candidateError: () => {},
        closed: () => {},
        filesOpen: () => {},
        fileData: () => {},
      },
    );
  }

  /** Applies one payload from the other peer (PeerLink queues what comes early). */
  signal(data: SignalData): void {
    if (data.type === 'offer') this.#mark('Offer received');
    if (data.type === 'answer') this.#mark('Answer received');
    this.#link.signal(data);
  }

  close(): void {
    this.#link.destroy();
  }

  #mark(label: string): void {
    if (!this.marks.some((mark) => mark.label === label)) {
      this.marks.push({ label, atMs: performance.now() });
    }
  }
}
