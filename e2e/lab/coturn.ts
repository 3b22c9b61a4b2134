/**
 * coturn (Debian's `turnserver`) as a TURN server on the NAT lab's public segment, configured as
 * a deployment would be, minus TLS: shared-secret auth (the TURN REST API credentials that
 * `signaling/turn.ts` mints), one address to listen and relay on. {@link coturnConfig} is the
 * whole configuration.
 *
 * ```ts
 * const lab = await buildLab({ natA: 'symmetric', natB: 'symmetric', publicHosts: ['turn'] });
 * const turn = await startCoturn(lab, 'turn');
 * // TURN_URLS=turn.urls.join(','), TURN_SECRET=turn.secret for the app server
 * ```
 */
import { randomBytes } from 'node:crypto';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { NatLab } from './nat-lab.ts';

/** TURN's default port, UDP and TCP: what a `turn:` URL without a port means (RFC 7065 §3). */
export const TURN_PORT = 3478;

/** Realm in coturn's 401 challenges (RFC 8489 §9.2); any name works for the REST API. */
export const COTURN_REALM = 'lab.holepunch.test';

/** How long `startCoturn` waits for coturn to accept TCP, ms. It starts in well under a second. */
const START_TIMEOUT_MS = 10_000;

/** The lab's public segment, TEST-NET-3 (e2e/lab/nat-lab.ts): the one range the lab re-allows. */
export const LAB_PEER_RANGE = '203.0.113.0-203.0.113.255';

/** Where Debian puts it. */
const TURNSERVER = '/usr/bin/turnserver';

/**
 * Peer addresses coturn must never relay to (issue #9). A TURN server relays to whatever address
 * a client names in CreatePermission or ChannelBind (RFC 8656 §9, §11), so without these any
 * holder of a credential (every page that joins a room gets one) reaches the TURN host's own
 * networks: its loopback services, the private LAN behind it, and a cloud's instance metadata at
 * 169.254.169.254 (server-side request forgery). WebRTC peers are other people's public
 * addresses; a relay to any of these is never what ICE needs.
 *
 * The usual hardening list for coturn, each range as coturn wants it (`first-last`: it takes no
 * CIDR), with the registry that reserves it. coturn checks `allowed-peer-ip` before these and
 * multicast (224.0.0.0/4, ff00::/8) through `no-multicast-peers`.
 */
export const DENIED_PEER_RANGES: readonly (readonly [range: string, why: string])[] = [
  ['0.0.0.0-0.255.255.255', '"this network" (RFC 6890); Linux delivers 0.0.0.0 to the host itself'],
  ['10.0.0.0-10.255.255.255', 'private (RFC 1918)'],
  ['100.64.0.0-100.127.255.255', "carrier-grade NAT (RFC 6598): the provider's own network"],
  ['127.0.0.0-127.255.255.255', 'loopback (coturn also denies it unless allow-loopback-peers)'],
  ['169.254.0.0-169.254.255.255', 'link-local (RFC 3927), cloud metadata at 169.254.169.254'],
  ['172.16.0.0-172.31.255.255', 'private (RFC 1918)'],
  ['192.0.0.0-192.0.0.255', 'IETF protocol assignments (RFC 6890)'],
  ['192.0.2.0-192.0.2.255', 'TEST-NET-1 (RFC 5737): never a real peer, sometimes used inside'],
  ['192.88.99.0-192.88.99.255', '6to4 relay anycast, deprecated (RFC 7526)'],
  ['192.168.0.0-192.168.255.255', 'private (RFC 1918)'],
  ['198.18.0.0-198.19.255.255', 'benchmarking (RFC 2544)'],
  ['198.51.100.0-198.51.100.255', 'TEST-NET-2 (RFC 5737)'],
  ['203.0.113.0-203.0.113.255', 'TEST-NET-3 (RFC 5737); the lab re-allows it for its own peers'],
  ['240.0.0.0-255.255.255.255', 'reserved (RFC 1112) and limited broadcast'],
  ['::1', 'IPv6 loopback'],
  // coturn parses the dotted tail; the range is ::ffff:0:0/96.
  ['::ffff:0.0.0.0-::ffff:255.255.255.255', 'IPv4-mapped (RFC 4291): every IPv4 host again'],
  // Debatable: on an IPv6-only TURN host behind NAT64 this prefix is its only way to IPv4 peers,
  // and such a deployment must drop these two lines (its translator must then refuse private
  // IPv4, which RFC 6052 §3.1 asks of the well-known prefix). Everywhere else coturn reaches IPv4
  // peers directly, and the prefix would only be a way around the IPv4 lines above.
  ['64:ff9b::-64:ff9b::ffff:ffff', 'NAT64 well-known prefix (RFC 6052), any IPv4 host'],
  ['64:ff9b:1::-64:ff9b:1:ffff:ffff:ffff:ffff:ffff', 'local-use NAT64 (RFC 8215), any IPv4 host'],
  ['100::-100::ffff:ffff:ffff:ffff', 'discard-only (RFC 6666)'],
  ['2001::-2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff', 'IETF protocol assignments (RFC 2928), Teredo'],
  ['2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', 'documentation (RFC 3849)'],
  ['2002::-2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '6to4 (RFC 3056): an IPv4 address inside'],
  ['fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'unique local (RFC 4193)'],
  ['fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'link-local'],
];

/**
 * Allocations one credential may hold at once, and the server in all (coturn `user-quota`,
 * `total-quota`; default unlimited); past them coturn answers Allocate with 486 (RFC 8656 §7.2).
 * The app mints one credential per joined socket. libwebrtc allocates once per TURN URL (UDP,
 * TCP) per network interface, so a laptop on Wi-Fi, Ethernet and a VPN holds 6 for its connection
 * and 6 more while Test TURN runs: 12 lets that through (a rebuild closes the old connection,
 * which releases its allocations) and keeps one leaked credential from taking the relay ports
 * (49152–65535); Synapse's TURN guide picks 12 too. Size the total to the host's bandwidth:
 * each allocation is a relayed port and its traffic.
 */
export const COTURN_USER_QUOTA = 12;
export const COTURN_TOTAL_QUOTA = 1000;

/** A running coturn; see {@link startCoturn}. */
export interface Coturn {
  /** For `TURN_URLS`: the server over UDP, then over TCP, both on {@link TURN_PORT}. */
  readonly urls: readonly string[];
  /** `static-auth-secret`, for `TURN_SECRET`. Random per start. */
  readonly secret: string;
  /** The public host it runs on. */
  readonly ip: string;
  /** coturn's log so far (stdout and stderr), e.g. to attach to a failure. */
  output(): string;
  /** Stops coturn and deletes its temp dir. Idempotent. Lab teardown also kills it. */
  stop(): Promise<void>;
}

/**
 * The whole coturn configuration, each option with the reason it is there. The README quotes
 * these lines, all but the lab's own (`allowed-peer-ip` for the lab's TEST-NET-3 peers, the log
 * and file locations); keep them minimal.
 *
 * @param ip the one address coturn listens and relays on.
 * @param secret shared with the app server as `TURN_SECRET`.
 * @param dir a private directory for the pid file and coturn's (unused) user database.
 */
export function coturnConfig(ip: string, secret: string, dir: string): string {
  return [
    `# Listen and relay on the host's public address only, not on every interface.`,
    `listening-ip=${ip}`,
    `relay-ip=${ip}`,
    `# TURN's default port; coturn serves UDP and TCP on it.`,
    `listening-port=${TURN_PORT}`,
    `# TURN REST API: accept credentials minted from this secret by the app server (TURN_SECRET).`,
    `use-auth-secret`,
    `static-auth-secret=${secret}`,
    `realm=${COTURN_REALM}`,
    `# No TLS certificate in the lab: no turns: (TLS) and no DTLS listeners.`,
    `no-tls`,
    `no-dtls`,
    `# No telnet admin interface.`,
    `no-cli`,
    `# FINGERPRINT on every message (RFC 8489 §14.7), as browsers put on theirs.`,
    `fingerprint`,
    `# Never relay to multicast/broadcast addresses.`,
    `no-multicast-peers`,
    `# No TCP allocations (RFC 6062): browsers only ask for UDP relays (TURN over TCP still relays`,
    `# UDP), and a TCP relay is a TCP proxy to every address the lines below let through.`,
    `no-tcp-relay`,
    `# Never relay to the TURN host's own networks or to cloud metadata (SSRF).`,
    ...DENIED_PEER_RANGES.flatMap(([range, why]) => [`# ${why}`, `denied-peer-ip=${range}`]),
    `# Allocations per credential (one per joined socket) and in all.`,
    `user-quota=${COTURN_USER_QUOTA}`,
    `total-quota=${COTURN_TOTAL_QUOTA}`,
    `# Lab only: its peers live on TEST-NET-3, denied above. coturn checks allowed-peer-ip first,`,
    `# so it wins over every denied-peer-ip: it must never cover more than the lab's segment.`,
    `allowed-peer-ip=${LAB_PEER_RANGE}`,
    `# Log to stdout, one stream without rotation or PID suffixes.`,
    `log-file=stdout`,
    `simple-log`,
    `# Lab only: its own files, not /var/run and /var/lib/turn, so labs can run side by side.`,
    `pidfile=${join(dir, 'turnserver.pid')}`,
    `userdb=${join(dir, 'turndb')}`,
    '',
  ].join('\n');
}

/**
 * Starts coturn on `lab.publicHost(hostName)` and resolves once it accepts TCP on
 * {@link TURN_PORT} and answers a STUN Binding over UDP there (both checked from host A's
 * namespace, through its NAT, like a client).
 *
 * @throws {Error} if `turnserver` is not installed (Debian package `coturn`), or with coturn's
 *   log if it does not listen within 10 s.
 */
export async function startCoturn(lab: NatLab, hostName: string): Promise<Coturn> {
  try {
    accessSync(TURNSERVER, constants.X_OK);
  } catch {
    throw new Error(`The TURN lab needs ${TURNSERVER} (Debian package coturn)`);
  }
  const host = lab.publicHost(hostName);
  // Hex: the secret goes into a config line and an environment variable, no quoting needed.
  const secret = randomBytes(16).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'coturn-'));
  const configFile = join(dir, 'turnserver.conf');
  writeFileSync(configFile, coturnConfig(host.ip, secret, dir), { mode: 0o600 });

  const child: ChildProcess = lab.spawn(host.ns, [TURNSERVER, '-c', configFile]);
  // However it ends (stop(), lab teardown, a crash), the secret's file goes with it.
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      rmSync(dir, { recursive: true, force: true });
      resolve();
    });
  });
  let stopping = false;
  const coturn: Coturn = {
    urls: [
      `turn:${host.ip}:${TURN_PORT}?transport=udp`,
      `turn:${host.ip}:${TURN_PORT}?transport=tcp`,
    ],
    secret,
    ip: host.ip,
    output: () => lab.output(child),
    async stop() {
      if (!stopping && child.exitCode === null && child.signalCode === null) {
        stopping = true;
        try {
          // lab.spawn gave it its own process group, led by `ip netns exec` (exec'd turnserver).
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
        } catch {
          // Already gone.
        }
      }
      await exited;
    },
  };
  try {
    const deadline = Date.now() + START_TIMEOUT_MS;
    await lab.waitForTcp(lab.hosts.a.ns, host.ip, TURN_PORT, { timeoutMs: START_TIMEOUT_MS });
    // Its TCP listener says nothing of its UDP ones, which run in threads of their own ("UDP
    // thread per CPU core", its log says), and most clients come over UDP.
    await waitForUdpStun(lab, lab.hosts.a.ns, host.ip, Math.max(0, deadline - Date.now()));
  } catch (error) {
    await coturn.stop();
    throw new Error(`coturn did not start:\n${lab.output(child)}`, { cause: error });
  }
  return coturn;
}

/** How often {@link waitForUdpStun} asks again, ms. */
const STUN_RETRY_INTERVAL_MS = 100;

/**
 * Resolves once a STUN Binding request (RFC 8489 §6.1) from `ns` to `ip`:{@link TURN_PORT} over
 * UDP gets its success response, asking every {@link STUN_RETRY_INTERVAL_MS}.
 * @throws {Error} if none comes within `timeoutMs`.
 */
async function waitForUdpStun(lab: NatLab, ns: string, ip: string, timeoutMs: number) {
  // Type 0x0001 (Binding request), length 0, the magic cookie, a 96-bit transaction id; the
  // answer is type 0x0101 (Binding success). Inside the namespace: the test process is not.
  const script = `
    const [ip, port, timeoutMs, retryMs] = process.argv.slice(1).map((arg, i) => i ? Number(arg) : arg);
    const socket = require('node:dgram').createSocket('udp4');
    const request = Buffer.concat([
      Buffer.from('000100002112a442', 'hex'),
      require('node:crypto').randomBytes(12),
    ]);
    const deadline = Date.now() + timeoutMs;
    socket.on('message', (reply) => reply.length >= 20 && reply.readUInt16BE(0) === 0x0101 && process.exit(0));
    (function ask() {
      if (Date.now() > deadline) process.exit(1);
      socket.send(request, port, ip);
      setTimeout(ask, retryMs);
    })();`;
  const args = [ip, TURN_PORT, timeoutMs, STUN_RETRY_INTERVAL_MS].map(String);
  const { code, stderr } = await lab.run(ns, [process.execPath, '-e', script, ...args], {
    timeoutMs: timeoutMs + 5_000,
  });
  if (code !== 0) {
    throw new Error(`No STUN answer over UDP from ${ip}:${TURN_PORT} in ${timeoutMs} ms ${stderr}`);
  }
}
