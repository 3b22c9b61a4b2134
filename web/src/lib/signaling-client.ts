/**
 * The page's side of the signaling WebSocket: validated messages in, typed messages out.
 */
import {
  SIGNALING_PATH,
  parseServerMessage,
  type ClientMessage,
  type ServerMessage,
} from '../../../signaling/protocol.ts';

/** Callbacks of {@link SignalingClient}. */
export interface SignalingEvents {
  open(): void;
  message(message: ServerMessage): void;
  /** The socket closed; `code` is a WebSocket close code (see `CloseCode` in the protocol). */
  closed(code: number, reason: string): void;
}

/** The signaling endpoint on the origin the page came from: ws:// for http, wss:// for https. */
export function signalingUrl(location: { protocol: string; host: string }): string {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${SIGNALING_PATH}`;
}

/** One WebSocket to the signaling server. Frames the server should never send are dropped. */
export class SignalingClient {
  readonly #socket: WebSocket;

  constructor(url: string, events: SignalingEvents) {
    this.#socket = new WebSocket(url);
    this.#socket.addEventListener('open', () => events.open());
    this.#socket.addEventListener('message', (event: MessageEvent) => {
      const message = typeof event.data === 'string' ? parseServerMessage(event.data) : null;
      if (message) events.message(message);
      else console.warn('signaling: dropped an off-protocol frame from the server');
    });
    this.#socket.addEventListener('close', (event: CloseEvent) =>
      events.closed(event.code, event.reason),
    );
  }

  /** Sends one message; returns `false` (and sends nothing) when the socket is not open. */
  send(message: ClientMessage): boolean {
    if (this.#socket.readyState !== WebSocket.OPEN) return false;
    this.#socket.send(JSON.stringify(message));
    return true;
  }

  close(): void {
    this.#socket.close(1000, 'page closed');
  }
}
