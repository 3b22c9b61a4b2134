/**
 * A lying signaling server, for tests of the safety code (issue #4): an HTTP + WebSocket proxy on
 * 127.0.0.1 in front of the real server. Pages are loaded from the proxy's origin, so their
 * signaling socket (same origin, `/ws`) runs through it as well. Every frame is passed on
 * unchanged, except that, with `rewriteFingerprints`, the `a=fingerprint:` lines (RFC 8122 §5)
 * of the offers and answers the server relays to a page are replaced with other hex of the same
 * length: what a server in the middle of both DTLS handshakes would send, each side being shown
 * the attacker's certificate instead of the other person's.
 *
 * The proxy only forges the SDP; it terminates no DTLS, so the handshakes fail (the certificates
 * do not match the fingerprints). A real attacker would complete them; the safety codes the two
 * people see are the same in both cases, which is what the tests look at.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { MAX_FRAME_BYTES, SIGNALING_PATH } from '../../signaling/protocol.ts';

/** Options of {@link startMitmRelay}. */
export interface MitmRelayOptions {
  /** Origin of the real server, e.g. `http://127.0.0.1:18080`. */
  target: string;
  /** [rewriteFingerprints=true] Forge the fingerprints of relayed offers and answers. */
  rewriteFingerprints?: boolean;
}

/** A running relay. */
export interface MitmRelay {
  /** The proxy's origin, e.g. `http://127.0.0.1:40123`: open the pages here. */
  readonly origin: string;
  /** Offers and answers relayed to a page so far. */
  readonly relayedSdps: number;
  /** Of those, how many had their fingerprints forged. */
  readonly forgedSdps: number;
  /** Stops listening and drops every connection. Idempotent. */
  close(): Promise<void>;
}

/** Each fingerprint byte is XORed with this: always a different byte, still valid hex. */
const FORGE_XOR = 0x5a;

/**
 * `sdp` with the hex of every `a=fingerprint:<hash-func> <hex>` line replaced by other hex of the
 * same length (each byte XOR {@link FORGE_XOR}), in the same case and layout; every other line,
 * and the line endings, unchanged.
 */
export function forgeFingerprints(sdp: string): string {
  return sdp.replace(
    /^(a=fingerprint:\S+ +)([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2})*)/gm,
    (_line, head: string, hex: string) =>
      head +
      hex
        .split(':')
        .map((byte) => {
          const forged = (parseInt(byte, 16) ^ FORGE_XOR).toString(16).padStart(2, '0');
          return byte === byte.toLowerCase() ? forged : forged.toUpperCase();
        })
        .join(':'),
  );
}

/** Close codes a peer may send in a close frame (RFC 6455 §7.4); others end the socket hard. */
function sendableCloseCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1003) ||
    (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999)
  );
}

/** Closes `socket` the way its counterpart was closed. */
function closeLike(socket: WebSocket, code: number, reason: Buffer): void {
  if (socket.readyState === WebSocket.CLOSED || socket.readyState === WebSocket.CLOSING) return;
  if (sendableCloseCode(code)) socket.close(code, reason);
  else socket.terminate();
}

/**
 * Starts the relay on 127.0.0.1, an ephemeral port. GET requests are forwarded to `target`
 * (other methods get 405); an upgrade on the signaling path opens a socket of its own to
 * `target` and relays text frames both ways.
 */
export async function startMitmRelay(options: MitmRelayOptions): Promise<MitmRelay> {
  const target = new URL(options.target);
  const forge = options.rewriteFingerprints ?? true;
  let relayedSdps = 0;
  let forgedSdps = 0;
  const sockets = new Set<WebSocket>();

  /** A frame from the server, on its way to a page: the place where the relay lies. */
  function towardsPage(text: string): string {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return text;
    }
    const data = (message as { type?: unknown; data?: { type?: unknown; sdp?: unknown } }).data;
    const isSdp =
      (message as { type?: unknown }).type === 'signal' &&
      (data?.type === 'offer' || data?.type === 'answer') &&
      typeof data.sdp === 'string';
    if (!isSdp) return text;
    relayedSdps++;
    if (!forge) return text;
    forgedSdps++;
    data.sdp = forgeFingerprints(data.sdp as string);
    return JSON.stringify(message);
  }

  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const upstream = request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`relay: ${error.message}\n`);
    });
    upstream.end();
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    if (req.url?.split('?')[0] !== SIGNALING_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (page) => relay(page));
  });

  function relay(page: WebSocket): void {
    const server = new WebSocket(`ws://${target.host}${SIGNALING_PATH}`, {
      maxPayload: MAX_FRAME_BYTES,
    });
    // First, as in the server: an unhandled socket error would crash the test runner.
    page.on('error', () => page.terminate());
    server.on('error', () => server.terminate());
    sockets.add(page).add(server);
    const early: string[] = [];
    page.on('message', (data: RawData, isBinary: boolean) => {
      const text = data.toString();
      if (server.readyState === WebSocket.OPEN) server.send(text, { binary: isBinary });
      else early.push(text);
    });
    server.on('open', () => {
      for (const text of early.splice(0)) server.send(text);
    });
    server.on('message', (data: RawData, isBinary: boolean) => {
      if (page.readyState !== WebSocket.OPEN) return;
      page.send(isBinary ? data : towardsPage(data.toString()), { binary: isBinary });
    });
    page.on('close', (code: number, reason: Buffer) => {
      sockets.delete(page);
      closeLike(server, code, reason);
    });
    server.on('close', (code: number, reason: Buffer) => {
      sockets.delete(server);
      closeLike(page, code, reason);
    });
  }

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', () => {
      http.off('error', reject);
      resolve();
    });
  });
  const { port } = http.address() as AddressInfo;
  let closing: Promise<void> | null = null;

  return {
    origin: `http://127.0.0.1:${port}`,
    get relayedSdps() {
      return relayedSdps;
    },
    get forgedSdps() {
      return forgedSdps;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const socket of sockets) socket.terminate();
        wss.close();
        http.close(() => resolve());
        http.closeAllConnections();
      });
      return closing;
    },
  };
}
