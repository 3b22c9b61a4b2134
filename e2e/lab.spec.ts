/**
 * The NAT lab's own test: before any browser spec trusts the lab, check that its routers behave
 * as their names say (RFC 4787), seen from where a peer sits. No browser here: small UDP actors
 * (e2e/lab/probes.ts) stand in for ICE.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { expect, test } from './lab/fixture.ts';
import { labNamespaces, type NatLab } from './lab/nat-lab.ts';
import { startReflector, startUdpPeer, type Datagram, type Endpoint } from './lab/probes.ts';

/** How long we listen before calling a datagram lost; lab paths take well under a millisecond. */
const SILENCE_MS = 700;
/** A host's local port; the same on A and B, which sit behind different routers. */
const LOCAL_PORT = 40_000;
/** Like ICE connectivity checks (RFC 8445 §6.1.4), a punch is a few sends, not one. */
const PUNCH_ROUNDS = 5;
const PUNCH_INTERVAL_MS = 50;

test('behind a cone NAT, every destination sees A at the same address, on A’s own port', async ({
  buildLab,
}) => {
  const lab = await buildLab({ natA: 'cone', natB: 'cone', publicHosts: ['echo'] });
  const destinations = await threeReflectors(lab);
  const a = await startUdpPeer(lab, lab.hosts.a.ns, { port: LOCAL_PORT });

  const seen = [];
  for (const reflector of destinations) seen.push(await a.askReflector(reflector));

  // Endpoint-independent mapping with port preservation (RFC 4787 §4.1, §4.2.1).
  const aPublic = { ip: lab.hosts.a.wanIp, port: LOCAL_PORT };
  expect(seen).toEqual([aPublic, aPublic, aPublic]);
});

test('behind a symmetric NAT, each destination sees A from a different port', async ({
  buildLab,
}) => {
  const lab = await buildLab({ natA: 'symmetric', natB: 'cone', publicHosts: ['echo'] });
  const destinations = await threeReflectors(lab);
  const a = await startUdpPeer(lab, lab.hosts.a.ns, { port: LOCAL_PORT });

  const seen: (Endpoint | null)[] = [];
  for (const reflector of destinations) seen.push(await a.askReflector(reflector));

  // Address-and-port-dependent mapping (RFC 4787 §4.1): same public IP, a new port per
  // destination, even for two ports of one server. (Random ports: a clash is ~1 in 28000.)
  expect(seen.map((s) => s?.ip)).toEqual([lab.hosts.a.wanIp, lab.hosts.a.wanIp, lab.hosts.a.wanIp]);
  expect(new Set(seen.map((s) => s?.port)).size).toBe(3);
});

test('nobody on the internet reaches A until A writes to exactly them', async ({ buildLab }) => {
  const lab = await buildLab({ natA: 'cone', natB: 'cone', publicHosts: ['stranger'] });
  const reflector = await startReflector(lab, lab.server, 3478);
  const a = await startUdpPeer(lab, lab.hosts.a.ns, { port: LOCAL_PORT });
  // One knocker on a host of its own, one on the reflector's host but on another port.
  const [stranger, neighbour] = await Promise.all([
    startUdpPeer(lab, lab.publicHost('stranger').ns),
    startUdpPeer(lab, lab.server.ns),
  ]);
  const aPublic = { ip: lab.hosts.a.wanIp, port: LOCAL_PORT };

  stranger.send(aPublic, 'knock before A spoke');
  neighbour.send(aPublic, 'knock before A spoke');
  expect(await a.receive({ timeoutMs: SILENCE_MS })).toBeNull();

  // Nor does a stranger that routes A's private subnet at router A: FORWARD only passes replies.
  await lab.run(lab.publicHost('stranger').ns, [
    'ip',
    'route',
    'add',
    '10.0.1.0/24',
    'via',
    aPublic.ip,
  ]);
  stranger.send({ ip: lab.hosts.a.ip, port: LOCAL_PORT }, 'knock on the private address');
  expect(await a.receive({ timeoutMs: SILENCE_MS })).toBeNull();

  // A's mapping is open now, but only to the reflector's ip:port: address-and-port-dependent
  // filtering (RFC 4787 §5).
  expect(await a.askReflector(reflector)).toEqual(aPublic);
  stranger.send(aPublic, 'knock after A spoke');
  neighbour.send(aPublic, 'knock after A spoke');
  expect(await a.receive({ timeoutMs: SILENCE_MS })).toBeNull();

  // A writes to the stranger, whose knock reached the router first: the router dropped it without
  // keeping state, so A still leaves from its own port (RFC 4787 §4.2.1), and the stranger's
  // answer now comes through. A router that accepted the knock would pick another port here.
  a.send({ ip: lab.publicHost('stranger').ip, port: stranger.localPort }, 'hello stranger');
  expect(await stranger.receive()).toEqual({ from: aPublic, text: 'hello stranger' });
  stranger.send(aPublic, 'hello A');
  expect(await a.receive()).toMatchObject({ text: 'hello A' });
});

test('two peers behind cone NATs punch a UDP hole to each other', async ({ buildLab }) => {
  const lab = await buildLab({ natA: 'cone', natB: 'cone' });

  const { aPublic, bPublic, aGot, bGot } = await punch(lab);

  expect(aPublic).toEqual({ ip: lab.hosts.a.wanIp, port: LOCAL_PORT });
  expect(bPublic).toEqual({ ip: lab.hosts.b.wanIp, port: LOCAL_PORT });
  expect(aGot).toMatchObject({ from: bPublic, text: expect.stringMatching(/^from B/) });
  expect(bGot).toMatchObject({ from: aPublic, text: expect.stringMatching(/^from A/) });
});

test('two peers behind symmetric NATs cannot punch a hole: they need a relay', async ({
  buildLab,
}) => {
  const lab = await buildLab({ natA: 'symmetric', natB: 'symmetric' });

  const { aGot, bGot } = await punch(lab);

  // Each packet leaves through a fresh mapping, and arrives at the other router from a port its
  // own mapping was not opened to (RFC 4787 §4.1 + §5). This is what TURN is for (RFC 8656).
  expect(aGot).toBeNull();
  expect(bGot).toBeNull();
});

test('behind a UDP-blocking router, A gets no UDP answer but connects over TCP', async ({
  buildLab,
}) => {
  const lab = await buildLab({ natA: 'udp-blocked', natB: 'cone' });
  const reflector = await startReflector(lab, lab.server, 3478);
  const a = await startUdpPeer(lab, lab.hosts.a.ns);
  const b = await startUdpPeer(lab, lab.hosts.b.ns);

  expect(await a.askReflector(reflector, { attempts: 2, timeoutMs: SILENCE_MS })).toBeNull();

  const tcp = await a.tcpConnect(reflector);
  expect(tcp.ok).toBe(true);
  // Still NATed: the server sees the router's address.
  expect(tcp.ok && JSON.parse(tcp.reply)).toMatchObject({ ip: lab.hosts.a.wanIp });

  // The block is router A's alone.
  expect(await b.askReflector(reflector)).toMatchObject({ ip: lab.hosts.b.wanIp });
});

test('two hosts on one LAN reach each other on their private addresses', async ({ buildLab }) => {
  const lab = await buildLab({ natA: 'cone', natB: 'cone', sameLan: true });
  const a = await startUdpPeer(lab, lab.hosts.a.ns);
  const b = await startUdpPeer(lab, lab.hosts.b.ns);

  a.send({ ip: lab.hosts.b.ip, port: b.localPort }, 'hi B, same LAN');

  expect(lab.hosts.b.wanIp).toBe(lab.hosts.a.wanIp);
  expect(await b.receive()).toEqual({
    from: { ip: lab.hosts.a.ip, port: a.localPort },
    text: 'hi B, same LAN',
  });
});

test('a dropped home uplink is silent both ways, and comes back with the same mapping', async ({
  buildLab,
}) => {
  const lab = await buildLab({ natA: 'cone', natB: 'cone' });
  const reflector = await startReflector(lab, lab.server, 3478);
  const a = await startUdpPeer(lab, lab.hosts.a.ns, { port: LOCAL_PORT });
  const b = await startUdpPeer(lab, lab.hosts.b.ns);
  const aPublic = { ip: lab.hosts.a.wanIp, port: LOCAL_PORT };
  expect(await a.askReflector(reflector)).toEqual(aPublic);

  await lab.setUplink('a', false);
  expect(await a.askReflector(reflector, { attempts: 2, timeoutMs: SILENCE_MS })).toBeNull();
  expect(await a.tcpConnect(reflector)).toMatchObject({ ok: false });
  // Only A's home is cut off.
  expect(await b.askReflector(reflector)).toMatchObject({ ip: lab.hosts.b.wanIp });

  await lab.setUplink('a', true);
  // Back on the same address: every destination sees the same public endpoint as before.
  expect(await a.askReflector(reflector)).toEqual(aPublic);
  expect(await a.tcpConnect(reflector)).toMatchObject({ ok: true });
});

test('a router back with a new WAN address forgets its mappings: the same socket leaves from it', async ({
  buildLab,
}) => {
  const lab = await buildLab({ natA: 'cone', natB: 'cone' });
  const reflector = await startReflector(lab, lab.server, 3478);
  const a = await startUdpPeer(lab, lab.hosts.a.ns, { port: LOCAL_PORT });
  expect(await a.askReflector(reflector)).toEqual({ ip: '203.0.113.2', port: LOCAL_PORT });

  await lab.setUplink('a', false);
  await lab.changeWanIp('a', '203.0.113.4');
  await lab.setUplink('a', true);

  expect(lab.hosts.a.wanIp).toBe('203.0.113.4');
  // Same socket, same destination: a kept conntrack entry would still translate to .2 (and the
  // reply to .2 would be lost); a forgotten one maps afresh, port preserved.
  expect(await a.askReflector(reflector)).toEqual({ ip: '203.0.113.4', port: LOCAL_PORT });
  const tcp = await a.tcpConnect(reflector);
  expect(tcp.ok && JSON.parse(tcp.reply)).toMatchObject({ ip: '203.0.113.4' });

  for (const taken of [lab.serverIp, lab.hosts.b.wanIp, '203.0.113.4', '10.0.1.9', '203.0.113.0']) {
    await expect(lab.changeWanIp('a', taken)).rejects.toMatchObject({ code: 'BAD_OPTIONS' });
  }
});

test('kill crashes a server with its children, and it can be started again on its port', async ({
  buildLab,
}) => {
  const lab = await buildLab({ natA: 'cone', natB: 'cone' });
  const port = 9000;
  // A parent that forks a listening child, as tsx runs node.
  const script = `require('node:child_process').spawn(process.execPath, ['-e',
    "require('node:net').createServer().listen(${port})"], { stdio: 'inherit' }); setInterval(() => {}, 1e3);`;
  const start = () => lab.spawn(lab.server.ns, [process.execPath, '-e', script]);
  const first = start();
  await lab.waitForTcp(lab.hosts.a.ns, lab.serverIp, port);

  await lab.kill(first);

  expect(first.signalCode).toBe('SIGKILL');
  expect(execFileSync('ip', ['netns', 'pids', lab.server.ns], { encoding: 'utf8' }).trim()).toBe(
    '',
  );
  await expect(
    lab.waitForTcp(lab.hosts.a.ns, lab.serverIp, port, { timeoutMs: 500 }),
  ).rejects.toMatchObject({ code: 'COMMAND_TIMEOUT' });
  start();
  await lab.waitForTcp(lab.hosts.a.ns, lab.serverIp, port);
});

test('teardown stops what ran in the lab and leaves no namespace behind', async ({ buildLab }) => {
  const lab = await buildLab({ natA: 'cone', natB: 'symmetric', publicHosts: ['turn'] });
  expect((await labNamespaces(lab.prefix)).sort()).toEqual([...lab.namespaces].sort());
  const sleeper = lab.spawn(lab.hosts.a.ns, ['sleep', '60']);

  await lab.teardown();
  await lab.teardown(); // idempotent; the fixture calls it a third time

  expect(sleeper.signalCode).toBe('SIGTERM');
  expect(await labNamespaces(lab.prefix)).toEqual([]);
  expect(existsSync(lab.hosts.a.chromiumWrapper)).toBe(false);
});

test('a new lab clears the namespaces a crashed run left behind', async ({ buildLab }) => {
  const first = await buildLab({ natA: 'cone', natB: 'cone' });
  const stale = `${first.prefix}stale`;
  await first.teardown();
  // A crashed run: its namespace is still there, with nobody to tear it down.
  execFileSync('ip', ['netns', 'add', stale]);

  const lab = await buildLab({ natA: 'cone', natB: 'cone' });

  expect(await labNamespaces(lab.prefix)).not.toContain(stale);
});

/** Reflectors on two ports of the server and one port of the `echo` host. */
async function threeReflectors(lab: NatLab): Promise<Endpoint[]> {
  return Promise.all([
    startReflector(lab, lab.server, 3478),
    startReflector(lab, lab.server, 3479),
    startReflector(lab, lab.publicHost('echo'), 3478),
  ]);
}

/**
 * A naive hole punch: A and B learn their mapped addresses from a reflector on the server, the
 * test hands each the other's (the signaling server's job), then both send a few datagrams at
 * once. `aGot`/`bGot` is the first datagram each received from anyone, or `null`.
 */
async function punch(lab: NatLab): Promise<{
  aPublic: Endpoint;
  bPublic: Endpoint;
  aGot: Datagram | null;
  bGot: Datagram | null;
}> {
  const reflector = await startReflector(lab, lab.server, 3478);
  const [a, b] = await Promise.all([
    startUdpPeer(lab, lab.hosts.a.ns, { port: LOCAL_PORT }),
    startUdpPeer(lab, lab.hosts.b.ns, { port: LOCAL_PORT }),
  ]);
  const [aPublic, bPublic] = await Promise.all([
    a.askReflector(reflector),
    b.askReflector(reflector),
  ]);
  if (!aPublic || !bPublic)
    throw new Error('The reflector did not answer; UDP to the server is broken');

  for (let i = 0; i < PUNCH_ROUNDS; i++) {
    a.send(bPublic, `from A #${i}`);
    b.send(aPublic, `from B #${i}`);
    await new Promise((resolve) => setTimeout(resolve, PUNCH_INTERVAL_MS));
  }
  const [aGot, bGot] = await Promise.all([
    a.receive({ timeoutMs: SILENCE_MS }),
    b.receive({ timeoutMs: SILENCE_MS }),
  ]);
  return { aPublic, bPublic, aGot, bGot };
}
