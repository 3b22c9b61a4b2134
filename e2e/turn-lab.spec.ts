/**
 * TURN in the NAT lab, without a browser: the app server hands each page STUN on both its ports
 * and TURN credentials minted from coturn's shared secret (signaling/turn.ts), and coturn really
 * relays with them. Command-line clients from the coturn package stand in for the browser:
 * `turnutils_stunclient` for a STUN Binding, `turnutils_uclient` for a TURN Allocate plus data
 * through the relay to a peer (`turnutils_peer`).
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import {
  COTURN_USER_QUOTA,
  LAB_PEER_RANGE,
  coturnConfig,
  startCoturn,
  type Coturn,
} from './lab/coturn.ts';
import { expect, test } from './lab/fixture.ts';
import type { NatLab, RunResult } from './lab/nat-lab.ts';
import type { IceServer, ServerMessage } from '../signaling/protocol.ts';
import { turnIceServer } from '../signaling/turn.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const WS_MODULE = createRequire(import.meta.url).resolve('ws');
const PORT = 8080;
const STUN_PORT = 3478;
/** Where `turnutils_peer` echoes on the server host: the relay's peer (its default port). */
const PEER_PORT = 3480;
/** A TURN client run: allocate, bind, send one message, wait for the echo. ~5 s when it works. */
const UCLIENT_TIMEOUT_MS = 20_000;
/** How long {@link startEchoPeer} waits for the echo, ms. `turnutils_peer` binds at once. */
const PEER_START_TIMEOUT_MS = 5_000;

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
 * Starts `turnutils_peer`, a UDP echo, on `ip` in `ns`, and resolves once it echoes a datagram
 * sent from `ns` itself: a relay run right after cannot lose its message to a peer still starting.
 */
async function startEchoPeer(lab: NatLab, ns: string, ip: string): Promise<void> {
  const peer = lab.spawn(ns, ['turnutils_peer', '-L', ip, '-p', String(PEER_PORT)]);
  const script = `
    const [ip, port, timeoutMs] = process.argv.slice(1);
    const socket = require('node:dgram').createSocket('udp4');
    const deadline = Date.now() + Number(timeoutMs);
    socket.on('message', () => process.exit(0));
    (function ping() {
      if (Date.now() > deadline) process.exit(1);
      socket.send('ping', Number(port), ip);
      setTimeout(ping, 100);
    })();`;
  const { code, stderr } = await lab.run(
    ns,
    [process.execPath, '-e', script, ip, String(PEER_PORT), String(PEER_START_TIMEOUT_MS)],
    { timeoutMs: PEER_START_TIMEOUT_MS + 5_000 },
  );
  expect(code, `no echo from ${ip}:${PEER_PORT}: ${stderr}\n${lab.output(peer)}`).toBe(0);
}

/**
 * The first two frames a page on `ns` gets from the signaling endpoint, exactly as sent: `hello`
 * on connecting, and `joined` after it joins a room of its own. Runs inside the namespace: the
 * test process cannot reach the lab network.
 */
async function greetingFramesOn(lab: NatLab, ns: string): Promise<[hello: string, joined: string]> {
  const script = `
    const WebSocket = require(process.argv[1]);
    const socket = new WebSocket(process.argv[2]);
    const frames = [];
    socket.on('message', (data) => {
      frames.push(data.toString());
      if (frames.length === 1) socket.send(JSON.stringify({ type: 'join', room: process.argv[3] }));
      if (frames.length === 2) { process.stdout.write(JSON.stringify(frames)); process.exit(0); }
    });
    socket.on('error', (error) => { console.error(error.message); process.exit(1); });`;
  const url = `ws://${lab.serverIp}:${PORT}/ws`;
  const room = `turnlab${ns.replace(/[^A-Za-z0-9]/g, '')}`.padEnd(22, '0');
  const { stdout, stderr, code } = await lab.run(ns, [
    process.execPath,
    '-e',
    script,
    WS_MODULE,
    url,
    room,
  ]);
  expect(code, stderr).toBe(0);
  return JSON.parse(stdout) as [string, string];
}

/**
 * Checks what a page received: the secret nowhere in either frame; in `hello`, STUN on both ports
 * of the host the page came from and no TURN (issue #9: no relay before joining a room); in
 * `joined`, the same STUN then one TURN entry with every coturn URL and a TURN REST API username
 * `<expiry unix s>:<peer id>` an hour out (the `TURN_TTL_S` default). Returns that entry.
 */
function checkGreeting(lab: NatLab, coturn: Coturn, [helloFrame, joinedFrame]: [string, string]) {
  const stun = [
    { urls: `stun:${lab.serverIp}:${STUN_PORT}` },
    { urls: `stun:${lab.serverIp}:${STUN_PORT + 1}` },
  ];
  expect(helloFrame).not.toContain(coturn.secret);
  expect(joinedFrame).not.toContain(coturn.secret);
  const hello = JSON.parse(helloFrame) as Extract<ServerMessage, { type: 'hello' }>;
  expect(hello.type).toBe('hello');
  expect(hello.iceServers).toEqual(stun);
  const joined = JSON.parse(joinedFrame) as Extract<ServerMessage, { type: 'joined' }>;
  expect(joined.type).toBe('joined');
  const [stun1, stun2, turn, ...rest] = joined.iceServers;
  expect([stun1, stun2]).toEqual(stun);
  expect(rest).toEqual([]);
  expect(turn?.urls).toEqual(coturn.urls);
  const [expiry, user] = (turn?.username ?? '').split(':');
  expect(user).toBe(joined.id);
  const lifetimeS = Number(expiry) - Date.now() / 1000;
  expect(lifetimeS).toBeGreaterThan(3600 - 120);
  expect(lifetimeS).toBeLessThanOrEqual(3600);
  return turn as IceServer;
}

/** A TURN credential as the app server mints it for one page that joined a room as `peerId`. */
function credentialFor(coturn: Coturn, peerId: string): IceServer {
  return turnIceServer(
    { urls: [...coturn.urls], auth: { kind: 'secret', secret: coturn.secret, ttlS: 600 } },
    peerId,
    Date.now(),
  );
}

/** Options of {@link allocateAndRelay}. */
interface RelayOptions {
  /** [transport='udp'] How the client reaches coturn; either way the relay is UDP. */
  transport?: 'udp' | 'tcp';
  /** [peerIp=lab.serverIp] The `turnutils_peer` to relay to (default: on the public segment). */
  peerIp?: string;
  /**
   * [open='channel'] How the client opens the relay to the peer: ChannelBind (uclient's default)
   * or CreatePermission then Send indications (`-s`), what browsers send first (RFC 8656 §9–11).
   */
  open?: 'channel' | 'permission';
  /** [clients=1] Concurrent TURN clients (`-m`), each holding two allocations, one credential. */
  clients?: number;
}

/**
 * A TURN Allocate from `ns` with `server`'s credentials, then one message through the relay to
 * the `turnutils_peer` at `peerIp` and back.
 */
function allocateAndRelay(lab: NatLab, ns: string, server: IceServer, options: RelayOptions = {}) {
  const { transport = 'udp', peerIp = lab.serverIp, open = 'channel', clients = 1 } = options;
  return lab.run(
    ns,
    [
      'turnutils_uclient',
      ...(transport === 'tcp' ? ['-t'] : []),
      ...(open === 'permission' ? ['-s'] : []),
      ...['-m', String(clients)],
      ...['-u', server.username ?? '', '-w', server.credential ?? ''],
      ...['-e', peerIp, '-r', String(PEER_PORT)],
      ...['-n', '1', '-c'], // one message, no RTCP pair
      '-v', // prints each relayed address, and every error code
      lab.publicHost('turn').ip,
    ],
    { timeoutMs: UCLIENT_TIMEOUT_MS },
  );
}

/** uclient's output and the tail of coturn's log, for a failed expectation. */
function logOf(run: RunResult, coturn: Coturn): string {
  return `${run.stdout}\n${run.stderr}\ncoturn:\n${coturn.output().slice(-4000)}`;
}

test('each page gets STUN on two ports and, once in a room, TURN credentials coturn takes', async ({
  buildLab,
}) => {
  // B's router passes no UDP at all: TURN over TCP to coturn is its only way out.
  const lab = await buildLab({ natA: 'cone', natB: 'udp-blocked', publicHosts: ['turn'] });
  const started = Date.now();
  const coturn = await startCoturn(lab, 'turn');
  const app = await startAppServer(lab, coturn);
  await startEchoPeer(lab, lab.server.ns, lab.serverIp);

  const turnA = checkGreeting(lab, coturn, await greetingFramesOn(lab, lab.hosts.a.ns));
  const turnB = checkGreeting(lab, coturn, await greetingFramesOn(lab, lab.hosts.b.ns));
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
    const run = await allocateAndRelay(lab, ns, turn, { transport });
    const log = logOf(run, coturn);
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
  const refused = await allocateAndRelay(lab, lab.hosts.a.ns, forged);
  expect(refused.code).not.toBe(0);
  expect(refused.stdout).toContain('Cannot complete Allocation');

  // Nor did the secret reach the app server's log.
  expect(lab.output(app)).not.toContain(coturn.secret);
  console.log(`turn-lab: coturn + app server + 2 relays + 1 refusal in ${Date.now() - started} ms`);
});

/**
 * Where services listen on the TURN host that only it can reach (its private LAN, a cloud's
 * instance metadata), and the denied range coturn names when it refuses each.
 */
const TURN_HOST_PRIVATE = [
  { ip: '10.99.0.1', range: '10.0.0.0-10.255.255.255' },
  { ip: '169.254.169.254', range: '169.254.0.0-169.254.255.255' },
] as const;

test('a TURN client cannot relay to the TURN host’s private network or to cloud metadata', async ({
  buildLab,
}) => {
  const lab = await buildLab({ natA: 'cone', natB: 'cone', publicHosts: ['turn'] });
  const coturn = await startCoturn(lab, 'turn');
  const turnNs = lab.publicHost('turn').ns;
  // The TURN host has addresses the internet cannot reach, where services listen and answer it:
  // a private LAN and the link-local metadata address. Only coturn itself, relaying, could get
  // there. They sit on its loopback interface (this kernel has no dummy links); coturn judges the
  // peer address alone, and without the denied lines these relays work.
  for (const { ip } of TURN_HOST_PRIVATE) {
    const { code, stderr } = await lab.run(turnNs, ['ip', 'addr', 'add', `${ip}/32`, 'dev', 'lo']);
    expect(code, stderr).toBe(0);
    await startEchoPeer(lab, turnNs, ip);
  }
  await startEchoPeer(lab, lab.server.ns, lab.serverIp);
  // A fresh credential per run, as each page has its own: allocations count against user-quota
  // while they last, and this test is about the peer rules alone.
  let pages = 0;
  const page = () => credentialFor(coturn, `p${String(++pages).padStart(16, '0')}`);

  for (const open of ['channel', 'permission'] as const) {
    // The control: the same client relays to a public peer.
    const control = await allocateAndRelay(lab, lab.hosts.a.ns, page(), { open });
    expect(control.code, logOf(control, coturn)).toBe(0);
    expect(control.stdout, logOf(control, coturn)).toContain('tot_send_msgs=1, tot_recv_msgs=1');

    // The attack: coturn allocates, then answers the ChannelBind or CreatePermission with 403.
    for (const { ip } of TURN_HOST_PRIVATE) {
      const run = await allocateAndRelay(lab, lab.hosts.a.ns, page(), { open, peerIp: ip });
      const log = `${open} to ${ip}: ${logOf(run, coturn)}`;
      expect(run.stdout, log).toContain(`Received relay addr: ${coturn.ip}:`);
      expect(run.stdout, log).toMatch(/\berror 403\b/);
      expect(run.stdout, log).not.toContain('tot_recv_msgs=1');
      expect(run.code, log).not.toBe(0);
    }
  }
  // Each refusal came from the denied range, once per way of opening the relay.
  for (const { ip, range } of TURN_HOST_PRIVATE) {
    const line = `A peer IP ${ip} denied in the range: ${range}`;
    expect(coturn.output().split(line).length - 1, coturn.output()).toBe(2);
  }

  // Nor can it ask for a TCP relay (RFC 6062), a TCP proxy to the TURN host's public services.
  const tcp = page();
  const tcpRun = await lab.run(
    lab.hosts.a.ns,
    [
      'turnutils_uclient',
      '-T',
      ...['-u', tcp.username ?? '', '-w', tcp.credential ?? ''],
      ...['-n', '1', '-v', coturn.ip],
    ],
    { timeoutMs: UCLIENT_TIMEOUT_MS },
  );
  expect(tcpRun.stdout, logOf(tcpRun, coturn)).toMatch(/\berror 442\b/);
  expect(tcpRun.code, logOf(tcpRun, coturn)).not.toBe(0);
});

test('one TURN credential holds at most user-quota allocations; another page still gets its own', async ({
  buildLab,
}) => {
  const lab = await buildLab({ natA: 'cone', natB: 'cone', publicHosts: ['turn'] });
  const coturn = await startCoturn(lab, 'turn');
  await startEchoPeer(lab, lab.server.ns, lab.serverIp);

  // Two allocations per uclient client, made one after another; it stops at the first refusal.
  const clients = Math.floor(COTURN_USER_QUOTA / 2) + 1;
  const greedy = await allocateAndRelay(lab, lab.hosts.a.ns, credentialFor(coturn, 'pgreedy'), {
    clients,
  });
  const log = logOf(greedy, coturn);
  expect(greedy.stdout.split('Received relay addr: ').length - 1, log).toBe(COTURN_USER_QUOTA);
  expect(greedy.stdout, log).toMatch(/\berror 486\b/); // Allocation Quota Reached
  expect(greedy.code, log).not.toBe(0);

  // The quota is per credential: the next page's relays as usual.
  const next = await allocateAndRelay(lab, lab.hosts.a.ns, credentialFor(coturn, 'pnext'));
  expect(next.code, logOf(next, coturn)).toBe(0);
  expect(next.stdout, logOf(next, coturn)).toContain('tot_send_msgs=1, tot_recv_msgs=1');
});

test('the README quotes the lab’s coturn configuration, but for the lab’s own lines', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const block = /```\n# \/etc\/turnserver\.conf\n([^`]*)```/.exec(readme)?.[1] ?? '';
  /** The option lines of a config, trailing comments dropped. */
  const options = (text: string) =>
    text
      .split('\n')
      .map((line) => line.replace(/\s+#.*$/, '').trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
  const labOnly =
    /^(listening-ip|relay-ip|static-auth-secret|realm|allowed-peer-ip|log-file|simple-log|pidfile|userdb)\b/;
  const lab = options(coturnConfig('203.0.113.20', 'secret', '/tmp/x'));
  const quoted = options(block);
  const shared = (lines: string[]) => lines.filter((line) => !labOnly.test(line));
  expect(shared(lab).length).toBeGreaterThan(30);
  expect(shared(quoted)).toEqual(shared(lab)); // the same lines, in the same order
  // coturn checks allowed-peer-ip before every denied range: the lab re-allows its own segment
  // and nothing else, and a deployment none.
  expect(lab.filter((line) => line.startsWith('allowed-peer-ip'))).toEqual([
    `allowed-peer-ip=${LAB_PEER_RANGE}`,
  ]);
  expect(quoted.filter((line) => line.startsWith('allowed-peer-ip'))).toEqual([]);
});
