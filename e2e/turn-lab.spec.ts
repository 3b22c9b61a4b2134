/**
 * TURN in the NAT lab, without a browser: the app server hands each page STUN on both its ports
 * and TURN credentials minted from coturn's shared secret (signaling/turn.ts), and coturn really
 * relays with them. Command-line clients from the coturn package stand in for the browser:
 * `turnutils_stunclient` for a STUN Binding, `turnutils_uclient` for a TURN Allocate plus data
 * through the relay to a peer (`turnutils_peer`).
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { startCoturn, type Coturn } from './lab/coturn.ts';
import { expect, test } from './lab/fixture.ts';
import type { NatLab } from './lab/nat-lab.ts';
import type { IceServer, ServerMessage } from '../signaling/protocol.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const WS_MODULE = createRequire(import.meta.url).resolve('ws');
const PORT = 8080;
const STUN_PORT = 3478;
/** Where `turnutils_peer` echoes on the server host: the relay's peer (its default port). */
const PEER_PORT = 3480;
/** A TURN client run: allocate, bind, send one message, wait for the echo. ~5 s when it works. */
const UCLIENT_TIMEOUT_MS = 20_000;

/** Starts the app server on the lab's server host with TURN pointed at `coturn`. */
async function startAppServer(lab: NatLab, coturn: Coturn) {
  const server = lab.spawn(lab.server.ns, ['node_modules/.bin/tsx', 'signaling/main.ts'], {
    cwd: REPO,
    env: {
      HOST: '0.0.0.0',
      PORT: String(PORT),
      STUN_PORT: String(STUN_PORT),
      TURN_URLS: coturn.urls.join(','),
      TURN_SECRET: coturn.secret,
    },
  });
  try {
    await lab.waitForTcp(lab.hosts.a.ns, lab.serverIp, PORT);
  } catch (error) {
    throw new Error(`app server did not start:\n${lab.output(server)}`, { cause: error });
  }
  return server;
}

/**
 * The first frame a page on `ns` gets from the signaling endpoint, exactly as sent. Runs inside
 * the namespace: the test process cannot reach the lab network.
 */
async function helloFrameOn(lab: NatLab, ns: string): Promise<string> {
  const script = `
    const WebSocket = require(process.argv[1]);
    const socket = new WebSocket(process.argv[2]);
    socket.once('message', (data) => { process.stdout.write(data.toString()); process.exit(0); });
    socket.on('error', (error) => { console.error(error.message); process.exit(1); });`;
  const url = `ws://${lab.serverIp}:${PORT}/ws`;
  const { stdout, stderr, code } = await lab.run(ns, [
    process.execPath,
    '-e',
    script,
    WS_MODULE,
    url,
  ]);
  expect(code, stderr).toBe(0);
  return stdout;
}

/**
 * Checks what a page received: the secret nowhere in the frame, STUN on both ports of the host
 * the page came from, then one TURN entry with every coturn URL and a TURN REST API username
 * `<expiry unix s>:<peer id>` an hour out (the `TURN_TTL_S` default). Returns that entry.
 */
function checkHello(lab: NatLab, coturn: Coturn, frame: string): IceServer {
  expect(frame).not.toContain(coturn.secret);
  const hello = JSON.parse(frame) as Extract<ServerMessage, { type: 'hello' }>;
  expect(hello.type).toBe('hello');
  const [stun1, stun2, turn, ...rest] = hello.iceServers;
  expect([stun1, stun2]).toEqual([
    { urls: `stun:${lab.serverIp}:${STUN_PORT}` },
    { urls: `stun:${lab.serverIp}:${STUN_PORT + 1}` },
  ]);
  expect(rest).toEqual([]);
  expect(turn?.urls).toEqual(coturn.urls);
  const [expiry, user] = (turn?.username ?? '').split(':');
  expect(user).toBe(hello.id);
  const lifetimeS = Number(expiry) - Date.now() / 1000;
  expect(lifetimeS).toBeGreaterThan(3600 - 120);
  expect(lifetimeS).toBeLessThanOrEqual(3600);
  return turn as IceServer;
}

/** A TURN Allocate from `ns` with `server`'s credentials, then one message through the relay. */
function allocateAndRelay(lab: NatLab, ns: string, server: IceServer, transport: 'udp' | 'tcp') {
  return lab.run(
    ns,
    [
      'turnutils_uclient',
      ...(transport === 'tcp' ? ['-t'] : []),
      ...['-u', server.username ?? '', '-w', server.credential ?? ''],
      ...['-e', lab.serverIp, '-r', String(PEER_PORT)], // the peer, on the lab's public segment
      ...['-n', '1', '-c'], // one message, no second (RTCP) allocation
      '-v', // prints the relayed address
      lab.publicHost('turn').ip,
    ],
    { timeoutMs: UCLIENT_TIMEOUT_MS },
  );
}

test('each page gets STUN on two ports and its own TURN credentials, which coturn takes', async ({
  buildLab,
}) => {
  // B's router passes no UDP at all: TURN over TCP to coturn is its only way out.
  const lab = await buildLab({ natA: 'cone', natB: 'udp-blocked', publicHosts: ['turn'] });
  const started = Date.now();
  const coturn = await startCoturn(lab, 'turn');
  const app = await startAppServer(lab, coturn);
  lab.spawn(lab.server.ns, ['turnutils_peer', '-L', lab.serverIp, '-p', String(PEER_PORT)]);

  const turnA = checkHello(lab, coturn, await helloFrameOn(lab, lab.hosts.a.ns));
  const turnB = checkHello(lab, coturn, await helloFrameOn(lab, lab.hosts.b.ns));
  expect(turnA.credential).not.toBe(turnB.credential);

  // Both STUN URLs answer, and through A's cone NAT both see the same mapping (RFC 4787 §4.1).
  const mappings = [];
  for (const port of [STUN_PORT, STUN_PORT + 1]) {
    const { stdout, code } = await lab.run(lab.hosts.a.ns, [
      'turnutils_stunclient',
      ...['-p', String(port)],
      lab.serverIp,
    ]);
    expect(code, stdout).toBe(0);
    mappings.push(/reflexive addr: ([\d.]+):\d+/.exec(stdout)?.[1]);
  }
  expect(mappings).toEqual([lab.hosts.a.wanIp, lab.hosts.a.wanIp]);

  // A relays over UDP, B (no UDP) over TCP, each with the credentials of its own hello.
  for (const [ns, turn, transport] of [
    [lab.hosts.a.ns, turnA, 'udp'],
    [lab.hosts.b.ns, turnB, 'tcp'],
  ] as const) {
    const run = await allocateAndRelay(lab, ns, turn, transport);
    const log = `${run.stdout}\n${run.stderr}\ncoturn:\n${coturn.output().slice(-4000)}`;
    expect(run.code, log).toBe(0);
    expect(run.stdout, log).toContain(`Received relay addr: ${coturn.ip}:`);
    expect(run.stdout, log).toContain('tot_send_msgs=1, tot_recv_msgs=1');
  }

  // coturn checks what it is given: a credential off by one character gets no allocation.
  const credential = turnA.credential ?? '';
  const forged = {
    ...turnA,
    credential: `${credential[0] === 'A' ? 'B' : 'A'}${credential.slice(1)}`,
  };
  const refused = await allocateAndRelay(lab, lab.hosts.a.ns, forged, 'udp');
  expect(refused.code).not.toBe(0);
  expect(refused.stdout).toContain('Cannot complete Allocation');

  // Nor did the secret reach the app server's log.
  expect(lab.output(app)).not.toContain(coturn.secret);
  console.log(`turn-lab: coturn + app server + 2 relays + 1 refusal in ${Date.now() - started} ms`);
});
