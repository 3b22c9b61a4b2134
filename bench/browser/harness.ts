/**
 * Browser side of the data channel throughput bench; bench/throughput.ts drives it. One page is one
 * endpoint; the runner relays signaling between two pages in two browsers (`benchSignal` out,
 * `harness.signal` in). Every variant sends the same 16 KiB text messages and counts characters
 * received:
 *
 * - `raw`: a bare RTCDataChannel ({@link RawPeer}) with `bufferedAmountLowThreshold`
 *   backpressure at the same marks PeerLink uses: the baseline;
 * - `link`: our PeerLink, sending with `sendWhenReady` (its backpressure);
 * - `stream`: simple-peer's own Duplex `write()` path (64 KiB mark, then `drain`), configured as
 *   PeerLink configures simple-peer (object mode), to compare the two backpressure paths.
 */
import SimplePeer from '@thaunknown/simple-peer/lite.js';
import {
  PeerLink,
  SEND_BUFFER_HIGH_BYTES,
  SEND_BUFFER_LOW_BYTES,
} from '../../web/src/lib/rtc/peer.ts';
import { RawPeer, type RawSignal } from './raw-peer.ts';

export type Variant = 'raw' | 'link' | 'stream';

/** Failed sends in one run ("send queue is full" and the like), and the first one's message. */
export interface SendResult {
  errors: number;
  firstError: string | null;
}

interface Endpoint {
  readonly open: Promise<unknown>;
  signal(data: unknown): void;
  /** Sends `total` copies of `text` with the variant's backpressure. */
  send(text: string, total: number): Promise<SendResult>;
  close(): void;
}

declare global {
  interface Window {
    /** Exposed by the runner: hands one signaling payload (JSON) to the other page. */
    benchSignal(json: string): Promise<void>;
    harness: typeof harness;
  }
}

/** Characters received since `start`, and whoever waits for a total. */
let received = 0;
let target = Infinity;
let reached: (() => void) | null = null;

function count(chars: number): void {
  received += chars;
  if (received >= target && reached) {
    reached();
    reached = null;
  }
}

function out(data: unknown): void {
  void window.benchSignal(JSON.stringify(data));
}

function noteError(result: SendResult, error: unknown): void {
  result.errors++;
  result.firstError ??= String(error);
}

function rawEndpoint(initiator: boolean): Endpoint {
  const peer = new RawPeer(initiator, [], out);
  const open = peer.open.then((channel) => {
    channel.bufferedAmountLowThreshold = SEND_BUFFER_LOW_BYTES;
    channel.addEventListener('message', (event: MessageEvent<string>) => count(event.data.length));
    return channel;
  });
  return {
    open,
    signal: (data) => void peer.signal(data as RawSignal),
    async send(text, total) {
      const channel = await open;
      const result: SendResult = { errors: 0, firstError: null };
      for (let i = 0; i < total; i++) {
        if (channel.bufferedAmount > SEND_BUFFER_HIGH_BYTES) {
          await new Promise((resolve) =>
            channel.addEventListener('bufferedamountlow', resolve, { once: true }),
          );
        }
        try {
          channel.send(text);
        } catch (error) {
          noteError(result, error);
        }
      }
      return result;
    },
    close: () => peer.close(),
  };
}

function linkEndpoint(initiator: boolean): Endpoint {
  let opened: () => void = () => {};
  const open = new Promise<void>((resolve) => (opened = resolve));
  const link = new PeerLink(
    { initiator, iceServers: [] },
    {
      signal: (data) => out(data),
      open: () => opened(),
      message: (text) => count(text.length),
      states: () => {},
      candidateError: () => {},
      closed: () => {},
      filesOpen: () => {},
      fileData: () => {},
    },
  );
  return {
    open,
    signal: (data) => link.signal(data as Parameters<PeerLink['signal']>[0]),
    async send(text, total) {
      const result: SendResult = { errors: 0, firstError: null };
      for (let i = 0; i < total; i++) {
        try {
          if (!(await link.sendWhenReady(text))) noteError(result, 'sendWhenReady: not open');
        } catch (error) {
          noteError(result, error);
        }
      }
      return result;
    },
    close: () => link.destroy(),
  };
}

function streamEndpoint(initiator: boolean): Endpoint {
  const peer = new SimplePeer({
    initiator,
    trickle: true,
    objectMode: true,
    config: { iceServers: [] },
  });
  const open = new Promise<void>((resolve) => peer.once('connect', () => resolve()));
  const result: SendResult = { errors: 0, firstError: null };
  peer.on('signal', (data: unknown) => out(data));
  peer.on('data', (chunk) => count(chunk.length));
  peer.on('error', (error: Error) => noteError(result, error));
  return {
    open,
    signal: (data) => peer.signal(data as object),
    async send(text, total) {
      for (let i = 0; i < total; i++) {
        if (!peer.write(text)) await new Promise<void>((resolve) => peer.once('drain', resolve));
      }
      return result;
    },
    close: () => peer.destroy(),
  };
}

const ENDPOINTS: Record<Variant, (initiator: boolean) => Endpoint> = {
  raw: rawEndpoint,
  link: linkEndpoint,
  stream: streamEndpoint,
};

let endpoint: Endpoint | null = null;

const harness = {
  /** Creates this page's endpoint; the initiator makes the offer. */
  start(variant: Variant, initiator: boolean): void {
    endpoint?.close();
    received = 0;
    target = Infinity;
    endpoint = ENDPOINTS[variant](initiator);
  },
  /** One payload from the other page. */
  signal(json: string): void {
    endpoint?.signal(JSON.parse(json));
  },
  async opened(): Promise<void> {
    await endpoint?.open;
  },
  /** Sends `total` messages of `chars` ASCII characters. */
  send(chars: number, total: number): Promise<SendResult> {
    if (!endpoint) throw new Error('harness: start() first');
    return endpoint.send('x'.repeat(chars), total);
  },
  /** Resolves once `chars` characters have arrived in all since `start`. */
  receive(chars: number): Promise<void> {
    if (received >= chars) return Promise.resolve();
    target = chars;
    return new Promise((resolve) => (reached = resolve));
  },
  close(): void {
    endpoint?.close();
    endpoint = null;
  },
};
window.harness = harness;
