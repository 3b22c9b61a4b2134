/**
 * `createSignalingServer({ tls })`: the same server over HTTPS and `wss://`, with a self-signed
 * certificate made by openssl for 127.0.0.1. The rest of the server's behaviour is server.test.ts's.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { get } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createLogger } from './log.ts';
import { createSignalingServer, type SignalingServer } from './server.ts';

let dir: string;
let cert: Buffer;
let server: SignalingServer;
let port: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tls-server-'));
  const [certPath, keyPath] = [join(dir, 'cert.pem'), join(dir, 'key.pem')];
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
      .concat(['-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'])
      .concat(['-keyout', keyPath, '-out', certPath]),
    { stdio: 'ignore' },
  );
  cert = readFileSync(certPath);
  server = createSignalingServer({
    stunPort: 3478,
    iceServers: null,
    staticDir: join(dir, 'no-page'),
    tls: { cert, key: readFileSync(keyPath) },
    logger: createLogger('silent'),
  });
  port = (await server.listen(0, '127.0.0.1')).port;
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** GET `path` over HTTPS, trusting only our certificate. */
async function httpsGet(path: string): Promise<{ response: IncomingMessage; body: string }> {
  const request = get({ host: '127.0.0.1', port, path, ca: cert });
  const [response] = (await once(request, 'response')) as [IncomingMessage];
  let body = '';
  for await (const chunk of response) body += String(chunk);
  return { response, body };
}

describe('signaling server over TLS', () => {
  it('answers HTTPS with its certificate and its security headers', async () => {
    const { response, body } = await httpsGet('/healthz');
    expect([response.statusCode, body]).toEqual([200, 'ok\n']);
    expect(response.headers['x-frame-options']).toBe('DENY');
  });

  it('greets a wss:// socket', async () => {
    const socket = new WebSocket(`wss://127.0.0.1:${port}/ws`, { ca: cert });
    const [data] = (await once(socket, 'message')) as [Buffer];
    expect(JSON.parse(String(data))).toMatchObject({ type: 'hello' });
    socket.close();
    await once(socket, 'close');
  });

  it('shrugs off a client that speaks plain HTTP to it', async () => {
    const plain = connect(port, '127.0.0.1');
    plain.on('error', () => {});
    plain.end('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await once(plain, 'close');
    expect((await httpsGet('/healthz')).response.statusCode).toBe(200);
  });

  it('counts a socket that upgraded over TLS as a socket, not as an HTTP connection', async () => {
    // Two open wss:// sockets with a cap of 2 HTTP connections per address: had they stayed
    // counted as HTTP connections, the next GET would be refused (and over TLS, unreadably).
    const capped = createSignalingServer({
      stunPort: 3478,
      iceServers: null,
      staticDir: join(dir, 'no-page'),
      tls: { cert, key: readFileSync(join(dir, 'key.pem')) },
      maxHttpConnectionsPerIp: 2,
      logger: createLogger('silent'),
    });
    const cappedPort = (await capped.listen(0, '127.0.0.1')).port;
    try {
      const sockets = [0, 1].map(
        () => new WebSocket(`wss://127.0.0.1:${cappedPort}/ws`, { ca: cert }),
      );
      await Promise.all(sockets.map((socket) => once(socket, 'message')));
      const request = get({
        host: '127.0.0.1',
        port: cappedPort,
        path: '/healthz',
        ca: cert,
        agent: false,
      });
      const [response] = (await once(request, 'response')) as [IncomingMessage];
      response.resume();
      expect(response.statusCode).toBe(200);
      for (const socket of sockets) socket.close();
    } finally {
      await capped.close();
    }
  });
});
