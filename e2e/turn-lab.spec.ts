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
import { coturnConfig, startCoturn, type Coturn } from './lab/coturn.ts';
import { expect, test } from './lab/fixture.ts';
import type { NatLab } from './lab/nat-lab.ts';
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

/**
 * A TURN Allocate from `ns` with `server`'s credentials, then one message through the relay to
 * the `turnutils_peer` at `peerIp` (default: the app server host, on the lab's public segment).
 */
function allocateAndRelay(
  lab: NatLab,
  ns: string,
  server: IceServer,
  transport: 'udp' | 'tcp',
  peerIp = lab.serverIp,
) {
  return lab.run(
    ns,
    [
      'turnutils_uclient',
      ...(transport === 'tcp' ? ['-t'] : []),
      ...['-u', server.username ?? '', '-w', server.credential ?? ''],
      ...['-e', peerIp, '-r', String(PEER_PORT)],
      ...['-n', '1', '-c'], // one message, no second (RTCP) allocation
      '-v', // prints the relayed address
      lab.publicHost('turn').ip,
    ],
    { timeoutMs: UCLIENT_TIMEOUT_MS },
  );
}

test('each page gets STUN on two ports and, once in a room, TURN credentials coturn takes', async ({
  buildLab,
}) => {
  // B's router passes no UDP at all: TURN over TCP to coturn is its only way out.
  const lab = await buildLab({ natA: 'cone', natB: 'udp-blocked', publicHosts: ['turn'] });
  const started = Date.now();
  const coturn = await startCoturn(lab, 'turn');
  const app = await startAppServer(lab, coturn);
  lab.spawn(lab.server.ns, ['turnutils_peer', '-L', lab.serverIp, '-p', String(PEER_PORT)]);

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

/** The TURN host's own private network (a LAN behind it) and a cloud's metadata address. */
const TURN_HOST_PRIVATE = { lan: '10.99.0.1', metadata: '169.254.169.254' };

test('a TURN client cannot relay to the TURN host’s private network or to cloud metadata', async ({
  buildLab,
}) => {
  const lab = await buildLab({ natA: 'cone', natB: 'cone', publicHosts: ['turn'] });
  const coturn = await startCoturn(lab, 'turn');
  const turnNs = lab.publicHost('turn').ns;
  // The TURN host has addresses the internet cannot reach, where services listen: a private LAN
  // and the link-local metadata address. Only coturn itself, relaying, could get there.
  // (On its loopback interface: this kernel has no dummy links, and only the host routes there.)
  for (const command of [
    ['ip', 'addr', 'add', `${TURN_HOST_PRIVATE.lan}/32`, 'dev', 'lo'],
    ['ip', 'addr', 'add', `${TURN_HOST_PRIVATE.metadata}/32`, 'dev', 'lo'],
  ]) {
    const { code, stderr } = await lab.run(turnNs, command);
    expect(code, stderr).toBe(0);
  }
  for (const ip of Object.values(TURN_HOST_PRIVATE)) {
    lab.spawn(turnNs, ['turnutils_peer', '-L', ip, '-p', String(PEER_PORT)]);
  }
  lab.spawn(lab.server.ns, ['turnutils_peer', '-L', lab.serverIp, '-p', String(PEER_PORT)]);
  // A credential as the app server mints it for a page that joined a room.
  const server = turnIceServer(
    { urls: [...coturn.urls], auth: { kind: 'secret', secret: coturn.secret, ttlS: 600 } },
    'p0123456789abcdef',
    Date.now(),
  );

  // The control: the same client and credential relay to a public peer.
  const open = await allocateAndRelay(lab, lab.hosts.a.ns, server, 'udp');
  const openLog = `${open.stdout}\n${open.stderr}\ncoturn:\n${coturn.output().slice(-4000)}`;
  expect(open.code, openLog).toBe(0);
  expect(open.stdout, openLog).toContain('tot_send_msgs=1, tot_recv_msgs=1');

  // The attack: coturn allocates, but answers CreatePermission for these peers with 403.
  for (const [what, ip] of Object.entries(TURN_HOST_PRIVATE)) {
    const run = await allocateAndRelay(lab, lab.hosts.a.ns, server, 'udp', ip);
    const log = `${what}: ${run.stdout}\n${run.stderr}\ncoturn:\n${coturn.output().slice(-4000)}`;
    expect(run.stdout, log).not.toContain('tot_send_msgs=1, tot_recv_msgs=1');
    expect(run.code, log).not.toBe(0);
    expect(`${run.stdout}${run.stderr}`, log).toMatch(/403|Forbidden|permission/i);
  }
  expect(coturn.output()).toMatch(/forbidden|denied|403/i);
});

test('the README quotes the lab’s coturn configuration, but for the lab’s own lines', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const block = /```\n# \/etc\/turnserver\.conf\n([^`]*)```/.exec(readme)?.[1] ?? '';
  const quoted = new Set(block.split('\n').map((line) => line.replace(/\s+#.*$/, '').trim()));
  const labOnly =
    /^(listening-ip|relay-ip|static-auth-secret|realm|allowed-peer-ip|log-file|simple-log|pidfile|userdb)=?/;
  const lines = coturnConfig('203.0.113.20', 'secret', '/tmp/x')
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#') && !labOnly.test(line));
  expect(lines.length).toBeGreaterThan(20);
  expect(lines.filter((line) => !quoted.has(line))).toEqual([]);
});
