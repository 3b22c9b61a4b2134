/**
 * The NAT lab's own test: before any browser spec trusts the lab, check that its routers behave
 * as their names say (RFC 4787; RFC 6092 for the IPv6 firewalls of issue #14), seen from where a
 * peer sits. No browser here: small UDP actors (e2e/lab/probes.ts) stand in for ICE.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { expect, test } from './lab/fixture.ts';
import { LAB_ADDRESSES, labNamespaces, type NatLab } from './lab/nat-lab.ts';
import {
  startReflector,
  startUdpPeer,
  type Datagram,
  type Endpoint,
  type IpFamily,
} from './lab/probes.ts';

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

test.describe('dual stack: IPv6 behind stateful firewalls, no NAT66 (issue #14)', () => {
  const V6 = LAB_ADDRESSES.ipv6;
  /** Host A's and B's own IPv6 endpoints: with no NAT66, also what everyone else sees. */
  const aOwn = { ip: V6.a.hostIp, port: LOCAL_PORT };
  const bOwn = { ip: V6.b.hostIp, port: LOCAL_PORT };

  test('every destination sees a dual-stack host at its own IPv6 address and port, though its IPv4 NAT is symmetric', async ({
    buildLab,
  }) => {
    const lab = await buildLab({
      natA: 'symmetric',
      natB: 'cone',
      stackA: 'dual-stack',
      publicHosts: ['echo'],
    });
    expect(lab.hosts.a).toMatchObject({ stack: 'dual-stack', ipv6: V6.a.hostIp });
    expect(lab.serverIpv6).toBe(V6.serverIp);
    const destinations = await threeReflectors(lab, 6);
    const a = await startUdpPeer(lab, lab.hosts.a.ns, { port: LOCAL_PORT, family: 6 });

    const seen = [];
    for (const reflector of destinations) seen.push(await a.askReflector(reflector));

    // Nothing translates the source (RFC 6092 has no NAT66), so there is no mapping to vary by
    // destination: the "mapped" address is the host's own, as ICE would find (RFC 8445 §5.1.1.1
    // then drops the server-reflexive candidate as a duplicate of the host one).
    expect(seen).toEqual([aOwn, aOwn, aOwn]);
    const tcp = await a.tcpConnect(destinations[0]!);
    expect(tcp.ok && JSON.parse(tcp.reply)).toMatchObject({ ip: V6.a.hostIp });
    // The same host's IPv4 still leaves through its symmetric NAT, one reflector per family on
    // one port.
    const a4 = await startUdpPeer(lab, lab.hosts.a.ns, { port: LOCAL_PORT });
    const reflector4 = await startReflector(lab, lab.server, 3478);
    expect(await a4.askReflector(reflector4)).toMatchObject({ ip: lab.hosts.a.wanIp });
  });

  test('nobody on the internet reaches a host over IPv6 until it writes to exactly them', async ({
    buildLab,
  }) => {
    const lab = await buildLab({
      natA: 'cone',
      natB: 'cone',
      stackA: 'dual-stack',
      publicHosts: ['stranger'],
    });
    const reflector = await startReflector(lab, lab.server, 3478, { family: 6 });
    const a = await startUdpPeer(lab, lab.hosts.a.ns, { port: LOCAL_PORT, family: 6 });
    const strangerHost = lab.publicHost('stranger');
    // One knocker on a host of its own, one on the reflector's host but on another port.
    const [stranger, neighbour] = await Promise.all([
      startUdpPeer(lab, strangerHost.ns, { family: 6 }),
      startUdpPeer(lab, lab.server.ns, { family: 6 }),
    ]);

    // A global address is no invitation: unsolicited inbound is dropped (a stateful firewall).
    stranger.send(aOwn, 'knock before A spoke');
    neighbour.send(aOwn, 'knock before A spoke');
    expect(await a.receive({ timeoutMs: SILENCE_MS })).toBeNull();

    // Nor does the router itself take anything from the WAN (RFC 6092 REC-50), though its own
    // LAN reaches it: the listener on it is alive.
    const onRouter = await startUdpPeer(lab, lab.hosts.a.routerNs, { port: LOCAL_PORT, family: 6 });
    stranger.send({ ip: V6.a.wanIp, port: LOCAL_PORT }, 'knock on the router');
    expect(await onRouter.receive({ timeoutMs: SILENCE_MS })).toBeNull();
    a.send({ ip: V6.a.routerLanIp, port: LOCAL_PORT }, 'hello router');
    expect(await onRouter.receive()).toEqual({ from: aOwn, text: 'hello router' });

    // A's firewall is open now, but only to the reflector's address and port:
    // address-and-port-dependent filtering (RFC 4787 §5), not endpoint-independent filtering.
    expect(await a.askReflector(reflector)).toEqual(aOwn);
    stranger.send(aOwn, 'knock after A spoke');
    neighbour.send(aOwn, 'knock after A spoke');
    expect(await a.receive({ timeoutMs: SILENCE_MS })).toBeNull();

    // A writes to the stranger, and the stranger's answer comes through, between the same two
    // addresses both ways: nothing in between rewrites them.
    // The first extra public host: 2001:db8::20 beside 203.0.113.20.
    const strangerOwn = { ip: '2001:db8::20', port: stranger.localPort };
    expect(strangerHost.ipv6).toBe(strangerOwn.ip);
    a.send(strangerOwn, 'hello stranger');
    expect(await stranger.receive()).toEqual({ from: aOwn, text: 'hello stranger' });
    stranger.send(aOwn, 'hello A');
    expect(await a.receive()).toEqual({ from: strangerOwn, text: 'hello A' });
  });

  test('two hosts behind two stateful firewalls punch a UDP hole over IPv6, though their IPv4 NATs are symmetric', async ({
    buildLab,
  }) => {
    const lab = await buildLab({
      natA: 'symmetric',
      natB: 'symmetric',
      stackA: 'dual-stack',
      stackB: 'dual-stack',
    });
    const reflector = await startReflector(lab, lab.server, 3478, { family: 6 });
    const [a, b] = await Promise.all([
      startUdpPeer(lab, lab.hosts.a.ns, { port: LOCAL_PORT, family: 6 }),
      startUdpPeer(lab, lab.hosts.b.ns, { port: LOCAL_PORT, family: 6 }),
    ]);
    // What each learns from the reflector, and signaling would hand the other, is its own address.
    expect(await Promise.all([a.askReflector(reflector), b.askReflector(reflector)])).toEqual([
      aOwn,
      bOwn,
    ]);

    // One way is not enough: B has not written to A, so B's firewall drops A's datagram. On its
    // way out it opened A's own firewall for B, though.
    a.send(bOwn, 'from A, before B spoke');
    expect(await b.receive({ timeoutMs: SILENCE_MS })).toBeNull();

    // Both have sent: B's datagram matches A's state and gets in, and opened B's firewall for A.
    b.send(aOwn, 'from B');
    expect(await a.receive()).toEqual({ from: bOwn, text: 'from B' });
    a.send(bOwn, 'from A, after B spoke');
    expect(await b.receive()).toEqual({ from: aOwn, text: 'from A, after B spoke' });
  });

  test('an IPv6-only home has no IPv4 at all, yet reaches the server over IPv6', async ({
    buildLab,
  }) => {
    const lab = await buildLab({
      natA: 'cone',
      natB: 'cone',
      stackA: 'ipv6-only',
      stackB: 'dual-stack',
    });
    const host = lab.hosts.a;
    expect(host).toMatchObject({ stack: 'ipv6-only', ipv6: V6.a.hostIp });
    expect(() => host.ip).toThrow(/IPv6-only/);
    expect(() => host.wanIp).toThrow(/IPv6-only/);
    await expect(lab.changeWanIp('a', '203.0.113.9')).rejects.toMatchObject({
      code: 'BAD_OPTIONS',
    });
    // Neither the host nor its router has an IPv4 address (loopback's aside) or route.
    for (const ns of [host.ns, host.routerNs]) {
      const addrs = (await lab.run(ns, ['ip', '-4', '-o', 'addr', 'show'])).stdout;
      expect(
        addrs
          .trim()
          .split('\n')
          .map((line) => line.split(/\s+/)[1]),
      ).toEqual(['lo']);
      expect((await lab.run(ns, ['ip', '-4', 'route', 'show'])).stdout.trim()).toBe('');
    }
    const [reflector4, reflector6] = await Promise.all([
      startReflector(lab, lab.server, 3478),
      startReflector(lab, lab.server, 3478, { family: 6 }),
    ]);
    const a = await startUdpPeer(lab, host.ns, { port: LOCAL_PORT, family: 6 });

    expect(await a.tcpConnect(reflector4)).toEqual({ ok: false, error: 'ENETUNREACH' });
    expect(await a.askReflector(reflector6)).toEqual(aOwn);
    const tcp = await a.tcpConnect(reflector6);
    expect(tcp.ok && JSON.parse(tcp.reply)).toMatchObject({ ip: V6.a.hostIp });
  });

  test('with IPv6 on one side only, the IPv4-only home has no IPv6 at all and its NAT is unchanged', async ({
    buildLab,
  }) => {
    await expect(
      buildLab({ natA: 'cone', natB: 'cone', stackC: 'dual-stack' }),
    ).rejects.toMatchObject({ code: 'BAD_OPTIONS' });
    const lab = await buildLab({ natA: 'cone', natB: 'cone', stackA: 'dual-stack' });
    expect(lab.hosts.b).toMatchObject({ stack: 'ipv4-only', ipv6: null });
    // IPv6 disabled on B's interface: not even a link-local address for a browser to offer.
    const b6addrs = await lab.run(lab.hosts.b.ns, [
      'ip',
      '-6',
      '-o',
      'addr',
      'show',
      'dev',
      'eth0',
    ]);
    expect(b6addrs.stdout.trim()).toBe('');
    const [reflector4, reflector6] = await Promise.all([
      startReflector(lab, lab.server, 3478),
      startReflector(lab, lab.server, 3478, { family: 6 }),
    ]);
    const [a4, a6, b4, b6] = await Promise.all([
      startUdpPeer(lab, lab.hosts.a.ns, { port: LOCAL_PORT }),
      startUdpPeer(lab, lab.hosts.a.ns, { port: LOCAL_PORT, family: 6 }),
      startUdpPeer(lab, lab.hosts.b.ns, { port: LOCAL_PORT }),
      startUdpPeer(lab, lab.hosts.b.ns, { port: LOCAL_PORT, family: 6 }),
    ]);

    expect(await b6.tcpConnect(reflector6)).toEqual({ ok: false, error: 'ENETUNREACH' });
    expect(await b4.askReflector(reflector4)).toEqual({ ip: lab.hosts.b.wanIp, port: LOCAL_PORT });
    // A has both: IPv4 through its cone NAT (port preserved), IPv6 as itself.
    expect(await a4.askReflector(reflector4)).toEqual({ ip: lab.hosts.a.wanIp, port: LOCAL_PORT });
    expect(await a6.askReflector(reflector6)).toEqual(aOwn);
  });
});

/** Reflectors of one family on two ports of the server and one port of the `echo` host. */
async function threeReflectors(lab: NatLab, family: IpFamily = 4): Promise<Endpoint[]> {
  return Promise.all([
    startReflector(lab, lab.server, 3478, { family }),
    startReflector(lab, lab.server, 3479, { family }),
    startReflector(lab, lab.publicHost('echo'), 3478, { family }),
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
