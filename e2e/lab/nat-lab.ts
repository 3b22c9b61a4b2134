/**
 * A NAT lab in Linux network namespaces: two private LANs (three when `natC` is given, for a
 * group room, issue #10), each behind its own NAT router, and a public segment with the app
 * server. End-to-end tests put one browser on each LAN and watch whether WebRTC finds a path, so
 * every NAT behaviour here is chosen to match a named case of RFC 4787 rather than whatever Linux
 * does by default. Each home has its own NAT mode, so one lab can hold a hole-punchable pair
 * (cone ↔ cone) and a pair that needs TURN (cone ↔ symmetric) at once.
 *
 * ```
 *   hp-a 10.0.1.2 ─ lan0 [hp-ra] wan0 203.0.113.2 ─┐
 *                                                  ├─ br0 [hp-pub] ─┬─ hp-server 203.0.113.10
 *   hp-b 10.0.2.2 ─ lan0 [hp-rb] wan0 203.0.113.3 ─┤                └─ hp-<name> 203.0.113.20…
 *   hp-c 10.0.3.2 ─ lan0 [hp-rc] wan0 203.0.113.4 ─┘  (only with `natC`)
 * ```
 *
 * 203.0.113.0/24 is TEST-NET-3 (RFC 5737): it only exists inside these namespaces.
 *
 * Dual stack (issue #14), only when asked (`LabOptions.stackA` …, `IpStack`): a home can also have,
 * or have only, a global IPv6 /64 that its router routes with no NAT66, behind a stateful firewall
 * (`routerRuleset6`, after RFC 6092), and the public segment gets a /64 of its own. Every address
 * is static and in the documentation prefix 2001:db8::/32 (RFC 3849); the public side routes each
 * home's /64 to that home's router, as an ISP would.
 *
 * ```
 *   hp-a 2001:db8:a::2 ─ lan0 [hp-ra] wan0 2001:db8::2 ─┐
 *                                                       ├─ br0 [hp-pub] ─┬─ hp-server 2001:db8::10
 *   hp-b 2001:db8:b::2 ─ lan0 [hp-rb] wan0 2001:db8::3 ─┤                └─ hp-<name> 2001:db8::20…
 *   hp-c 2001:db8:c::2 ─ lan0 [hp-rc] wan0 2001:db8::4 ─┘
 * ```
 *
 * Nothing here touches the root namespace's interfaces, routes or firewall. Needs root, `ip`
 * (iproute2), `iptables-restore`, `sysctl`, and `ip6tables-restore` when a home has IPv6.
 */
import { spawn as spawnProcess, execFileSync, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  constants,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { CHROMIUM_PATH } from '../chromium.ts';

/**
 * How a lab router treats UDP from its LAN. All modes share the same filtering: inbound packets
 * reach the LAN only when they match a mapping's conntrack entry, i.e. address-and-port-dependent
 * filtering (RFC 4787 §5), and unsolicited packets to the router itself are dropped.
 *
 * - `cone`: MASQUERADE, which keeps the source port when it is free and reuses one mapping for
 *   every destination: endpoint-independent mapping (RFC 4787 §4.1) with port preservation
 *   (§4.2.1). With the filtering above this is what STUN calls a port-restricted cone.
 * - `symmetric`: MASQUERADE `--random-fully`, a fresh random port per destination:
 *   address-and-port-dependent mapping (RFC 4787 §4.1). A STUN-learned address is useless to a
 *   peer, so only TURN gets through (RFC 8445 §2.1).
 * - `udp-blocked`: the router forwards no UDP at all but NATs TCP like `cone`, as on networks that
 *   only allow web traffic; TURN over TCP (RFC 6062) is the way out.
 *
 * Over IPv6 (a home whose `IpStack` has it) nothing is translated: `cone` and `symmetric` give
 * the same stateful firewall (`routerRuleset6`), and `udp-blocked` drops UDP over IPv6 too.
 */
export type NatMode = 'cone' | 'symmetric' | 'udp-blocked';

/**
 * The IP families of a home network, or of the public segment (issue #14).
 *
 * - `ipv4-only`: the lab as it was before dual stack: a private IPv4 LAN behind the router's NAT
 *   (`NatMode`) and IPv6 disabled on the host's interface (no link-local address either), so a
 *   browser there has IPv4 candidates only.
 * - `dual-stack`: that, plus a global IPv6 /64 routed by the router with no NAT66 behind a
 *   stateful firewall (`routerRuleset6`): the host's own IPv6 address is the one every peer sees.
 * - `ipv6-only`: the IPv6 half alone. No IPv4 address or route on the host (loopback's 127.0.0.1
 *   aside) or on its router, and no NAT64/DNS64 (RFC 6146, RFC 6147): IPv4 is unreachable.
 */
export type IpStack = 'ipv4-only' | 'dual-stack' | 'ipv6-only';

/** What to build. */
export interface LabOptions {
  /** NAT of router A, in front of host A. */
  natA: NatMode;
  /** NAT of router B, in front of host B. Ignored when `sameLan` is set (there is no router B). */
  natB: NatMode;
  /**
   * NAT of router C, in front of a third home's host C (10.0.3.2 behind 203.0.113.4), e.g. for
   * a group room (issue #10). C always has its own home, `sameLan` or not. Absent (the default):
   * the lab has two homes, exactly as without this option, and `hosts.c` is `undefined`.
   */
  natC?: NatMode;
  /**
   * Put host B on host A's LAN (10.0.1.3) behind router A, so the two reach each other on
   * private addresses. Default `false`.
   */
  sameLan?: boolean;
  /**
   * Extra hosts on the public segment, e.g. `['turn']` for a TURN server. Each name is
   * 1–8 characters of `[a-z0-9]` starting with a letter, not one of the lab's own (`a`, `b`,
   * `c`, `ra`, `rb`, `rc`, `pub`, `server`). They get 203.0.113.20, .21, … in the order given.
   * Default `[]`.
   */
  publicHosts?: string[];
  /**
   * Namespace name prefix; stale namespaces with this prefix are deleted at build time. 1–6
   * characters of `[a-z0-9]` then `-`. Default: env `NAT_LAB_PREFIX`, else `hp-`.
   */
  prefix?: string;
  /** Chromium binary the wrappers run. Default: `CHROMIUM_PATH` of e2e/chromium.ts. */
  chromiumPath?: string;
  /**
   * IP families of home A (`IpStack`). `'dual-stack'` and `'ipv6-only'` give it 2001:db8:a::/64:
   * host A 2001:db8:a::2, router A 2001:db8:a::1 on the LAN and 2001:db8::2 on the WAN.
   * Default `'ipv4-only'`: no IPv6 at all, exactly as without this option.
   */
  stackA?: IpStack;
  /**
   * IP families of home B (2001:db8:b::/64, router WAN 2001:db8::3). Default `'ipv4-only'`.
   * Ignored when `sameLan` is set: B is on A's LAN with A's families (2001:db8:a::3).
   */
  stackB?: IpStack;
  /**
   * IP families of home C (2001:db8:c::/64, router WAN 2001:db8::4). Default `'ipv4-only'`.
   * Only with `natC`.
   */
  stackC?: IpStack;
  /**
   * IP families of the public hosts (the server and `publicHosts`): `'dual-stack'` adds an address
   * of 2001:db8::/64 to each (server 2001:db8::10, extra hosts 2001:db8::20, ::21, …: the
   * IPv4 address's last octet as the last group) and routes to every home that has IPv6.
   * Routers' WAN interfaces always follow their home. Default: `'dual-stack'` when some home has
   * IPv6, else `'ipv4-only'`; `'ipv4-only'` with IPv6 homes is a server without IPv6, whose homes
   * still reach each other over IPv6.
   */
  publicStack?: Exclude<IpStack, 'ipv6-only'>;
}

/** One of the NATed hosts a browser runs on. */
export interface LabHost {
  /** Network namespace name. */
  readonly ns: string;
  /** IP families of the host's home (`LabOptions.stackA` …). */
  readonly stack: IpStack;
  /**
   * Private LAN address, e.g. 10.0.1.2. What a WebRTC host candidate shows.
   * @throws {NatLabError} `BAD_OPTIONS` when read in an IPv6-only home, which has none.
   */
  readonly ip: string;
  /**
   * Public address of the host's router: what a STUN server sees as the source address. Reads
   * the new address after `NatLab.changeWanIp`.
   * @throws {NatLabError} `BAD_OPTIONS` when read in an IPv6-only home, which has none.
   */
  readonly wanIp: string;
  /**
   * Global IPv6 address, e.g. 2001:db8:a::2 (RFC 5952 text, as Node and Chromium print it);
   * `null` in an IPv4-only home. With no NAT66 it is also the source address a STUN server or a
   * peer sees, and the address of the host's IPv6 host candidate: nothing to map, only a stateful
   * firewall to open.
   */
  readonly ipv6: string | null;
  /** Namespace of the host's router (router A's for host B with `sameLan`). */
  readonly routerNs: string;
  /**
   * Absolute path of an executable script that runs Chromium inside `ns` with the arguments it
   * is given. Pass it to Playwright as `executablePath`; Playwright drives Chromium over a pipe,
   * which crosses the namespace boundary untouched.
   */
  readonly chromiumWrapper: string;
}

/** A host on the public segment: no NAT, no firewall. */
export interface PublicHost {
  /** Network namespace name. */
  readonly ns: string;
  /** Address on 203.0.113.0/24. */
  readonly ip: string;
  /** Address on 2001:db8::/64; `null` unless `LabOptions.publicStack` is `'dual-stack'`. */
  readonly ipv6: string | null;
}

/** What `NatLab.run` resolves to. `code` is the exit status, `null` when killed by a signal. */
export interface RunResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

/** Options of `NatLab.run`. */
export interface RunOptions {
  /** Written to the command's stdin, which is then closed. Default: nothing. */
  input?: string;
  /** Kill the command (SIGKILL) and throw `COMMAND_TIMEOUT` after this many ms. Default 10000. */
  timeoutMs?: number;
}

/** Options of `NatLab.spawn`. */
export interface SpawnOptions {
  /** Added to (and overriding) this process's environment. */
  env?: Record<string, string>;
  /** Working directory. Default: this process's. */
  cwd?: string;
}

/** One of the NATed hosts, by the name `NatLab.hosts` gives it (`'c'` only with `natC`). */
export type LabHostName = 'a' | 'b' | 'c';

/** Options of `NatLab.waitForTcp`. */
export interface WaitForTcpOptions {
  /** Give up after this many ms. Default 15000. */
  timeoutMs?: number;
}

/** A built lab. Every method that takes `ns` accepts only this lab's namespaces. */
export interface NatLab {
  /** Namespace name prefix, e.g. `hp-`. Every namespace of the lab starts with it. */
  readonly prefix: string;
  /** The public host meant to run the app server (signaling, STUN), 203.0.113.10. */
  readonly server: PublicHost;
  /** Same as `server.ip`. */
  readonly serverIp: string;
  /** Same as `server.ipv6`: 2001:db8::10 on a dual-stack public segment, else `null`. */
  readonly serverIpv6: string | null;
  /** The NATed hosts a browser runs on; `c` exists only when the lab was built with `natC`. */
  readonly hosts: { readonly a: LabHost; readonly b: LabHost; readonly c?: LabHost };
  /** Every namespace the lab created, the bridge namespace included. */
  readonly namespaces: readonly string[];
  /**
   * A public host by the name given in `LabOptions.publicHosts`, or `'server'`.
   * @throws {NatLabError} `BAD_OPTIONS` for a name the lab was not built with.
   */
  publicHost(name: string): PublicHost;
  /**
   * Runs a command inside `ns` and waits for it. A non-zero exit resolves, with its `code`.
   * @throws {NatLabError} `COMMAND_TIMEOUT` past `timeoutMs`; `BAD_OPTIONS` for a foreign `ns`;
   *   `TORN_DOWN` after teardown.
   */
  run(ns: string, cmd: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /**
   * Starts a long-running command inside `ns` in its own process group, with piped stdio. The
   * lab always drains stdout and stderr (keeping a tail for `output`), so a chatty server never
   * blocks on a full pipe; add your own `data` listeners as well if you want the lines. Set env
   * `NAT_LAB_VERBOSE=1` to echo everything to stderr prefixed with `[ns]`. Teardown kills the
   * whole process group.
   * @throws {NatLabError} `BAD_OPTIONS` for a foreign `ns`; `TORN_DOWN` after teardown.
   */
  spawn(ns: string, cmd: readonly string[], opts?: SpawnOptions): ChildProcess;
  /** The last `MAX_OUTPUT_TAIL_CHARS` of a spawned process's stdout and stderr, interleaved. */
  output(child: ChildProcess): string;
  /**
   * Resolves once a TCP connect from `ns` to `ip:port` succeeds, e.g. to wait for the app server
   * (the test process itself sits in the root namespace and cannot reach the lab).
   * @throws {NatLabError} `COMMAND_TIMEOUT` if nothing accepts within `timeoutMs`.
   */
  waitForTcp(ns: string, ip: string, port: number, opts?: WaitForTcpOptions): Promise<void>;
  /**
   * Sends `signal` (default `SIGKILL`: a crash, no clean-up) to the whole process group of a
   * process `spawn` started, its children included (tsx runs node under itself), and resolves
   * once no live process of the group is left, so its ports are free to spawn it again.
   * @throws {NatLabError} `COMMAND_TIMEOUT` if one is still alive after `KILL_WAIT_MS`;
   *   `BAD_OPTIONS` for a process this lab did not spawn.
   */
  kill(child: ChildProcess, signal?: NodeJS.Signals): Promise<void>;
  /**
   * Takes the WAN link of `host`'s router down (`up = false`) or brings it back, as when a home
   * connection drops: nothing passes between the router and the public segment any more, either
   * way, and the far side says nothing (no ICMP, no RST; the router itself answers its LAN with
   * ICMP host-unreachable once its ARP for a destination fails, a few seconds in, as a real one
   * may). The router keeps its address, routes and NAT mappings (conntrack), so a link that comes
   * back carries the same flows on the same mappings. Both the host's signaling TCP connection
   * and its P2P UDP path go silent, over IPv4 and IPv6 alike (the firewall's states are kept too).
   *
   * Done by setting the bridge-side end of the router's WAN veth down: the router's `wan0` loses
   * carrier, as when the line to the ISP goes dead. (Setting `wan0` itself down would instead
   * delete its routes and, through MASQUERADE's device notifier, every mapping.) With `sameLan`,
   * both hosts sit behind router A, so `'b'` takes router A's link too. Idempotent.
   * @throws {NatLabError} `BAD_OPTIONS` for `'c'` in a lab built without `natC`;
   *   `COMMAND_FAILED`; `TORN_DOWN` after teardown.
   */
  setUplink(host: LabHostName, up: boolean): Promise<void>;
  /**
   * Gives `host`'s router a new public address on 203.0.113.0/24, as a home router that
   * reconnects and is handed another address by its ISP. Call it with the uplink down
   * (`setUplink`) and bring the link up after, or on a live link for an instant renumbering.
   *
   * Every NAT mapping made with the old address is forgotten: the kernel drops the MASQUERADEd
   * conntrack entries of an address when that address is removed from the interface
   * (nf_nat_masquerade.c, the inetaddr notifier; see "connections are forgotten" in
   * iptables-extensions(8), MASQUERADE), so no `conntrack` tool is needed. The host's next packet
   * on an old flow leaves from `newIp`: a UDP peer sees a new source address, a TCP server sees a
   * segment of a connection it does not know and answers with RST. A default route of the router
   * (the lab has none today) is put back. `hosts[host].wanIp` is `newIp` afterwards. IPv4 only:
   * a dual-stack home keeps its IPv6 prefix and firewall states.
   * @throws {NatLabError} `BAD_OPTIONS` unless `newIp` is an unused address of 203.0.113.0/24
   *   (not .0, .255, or a lab node's: router C's 203.0.113.4 is free only in a two-home lab), for
   *   `'c'` in a lab built without `natC`, or in an IPv6-only home; `COMMAND_FAILED`;
   *   `TORN_DOWN` after teardown.
   */
  changeWanIp(host: LabHostName, newIp: string): Promise<void>;
  /**
   * Kills every spawned process group and anything else left in the lab's namespaces (a browser
   * a test forgot to close), deletes the namespaces and the wrapper scripts. Idempotent; never
   * throws for what is already gone.
   */
  teardown(): Promise<void>;
}

/** Why a lab could not be built or used. `code` says which case; `message` says what to do. */
export class NatLabError extends Error {
  override readonly name = 'NatLabError';
  constructor(
    readonly code:
      | 'NOT_ROOT'
      | 'MISSING_TOOL'
      | 'LAB_BUSY'
      | 'BAD_OPTIONS'
      | 'COMMAND_FAILED'
      | 'COMMAND_TIMEOUT'
      | 'TORN_DOWN',
    message: string,
  ) {
    super(message);
  }
}

/** Characters of each spawned process's output the lab keeps for `NatLab.output`. */
export const MAX_OUTPUT_TAIL_CHARS = 64 * 1024;

const DEFAULT_PREFIX = 'hp-';
const DEFAULT_RUN_TIMEOUT_MS = 10_000;
const DEFAULT_TCP_WAIT_MS = 15_000;
/** How long a spawned process gets between SIGTERM and SIGKILL at teardown. */
const KILL_GRACE_MS = 2_000;
/** How long `NatLab.kill` waits for a signalled process group to be gone, ms. */
export const KILL_WAIT_MS = 5_000;
const KILL_POLL_INTERVAL_MS = 20;
const TCP_RETRY_INTERVAL_MS = 100;

/** Addresses of the lab; see the module comment's drawing. */
export const LAB_ADDRESSES = {
  publicPrefixLength: 24,
  serverIp: '203.0.113.10',
  firstExtraPublicHost: 20,
  a: { wanIp: '203.0.113.2', routerLanIp: '10.0.1.1', hostIp: '10.0.1.2' },
  b: { wanIp: '203.0.113.3', routerLanIp: '10.0.2.1', hostIp: '10.0.2.2' },
  c: { wanIp: '203.0.113.4', routerLanIp: '10.0.3.1', hostIp: '10.0.3.2' },
  /** Host B's address when `sameLan` puts it on LAN A. */
  bOnLanA: '10.0.1.3',
  lanPrefixLength: 24,
  /**
   * The IPv6 plan, used only where an `IpStack` has IPv6. Documentation prefix 2001:db8::/32
   * (RFC 3849), one /64 per link (RFC 7421: the length SLAAC would need, though every address
   * here is static); each node's last group repeats its IPv4 address's last octet. RFC 5952
   * text, so an address compares as a string with what Node and Chromium print.
   */
  ipv6: {
    /** The public segment: server, extra public hosts and the routers' WAN side. */
    publicPrefix: '2001:db8::/64',
    serverIp: '2001:db8::10',
    a: {
      lanPrefix: '2001:db8:a::/64',
      wanIp: '2001:db8::2',
      routerLanIp: '2001:db8:a::1',
      hostIp: '2001:db8:a::2',
    },
    b: {
      lanPrefix: '2001:db8:b::/64',
      wanIp: '2001:db8::3',
      routerLanIp: '2001:db8:b::1',
      hostIp: '2001:db8:b::2',
    },
    c: {
      lanPrefix: '2001:db8:c::/64',
      wanIp: '2001:db8::4',
      routerLanIp: '2001:db8:c::1',
      hostIp: '2001:db8:c::2',
    },
    /** Host B's address when `sameLan` puts it on LAN A. */
    bOnLanA: '2001:db8:a::3',
    prefixLength: 64,
  },
} as const;

const RESERVED_HOST_NAMES = new Set(['a', 'b', 'c', 'ra', 'rb', 'rc', 'pub', 'server']);
const IP_STACKS: ReadonlySet<string> = new Set<IpStack>(['ipv4-only', 'dual-stack', 'ipv6-only']);
const PREFIX_PATTERN = /^[a-z0-9]{1,6}-$/;
const PUBLIC_HOST_PATTERN = /^[a-z][a-z0-9]{0,7}$/;

/** Prefixes with a live lab in this process, so a second build can't wipe the first. */
const activePrefixes = new Set<string>();

/**
 * The explicit opt-out: env `SKIP_NAT_LAB=1` gives the reason to skip NAT lab tests; anything else
 * gives `null`. A lab that cannot be built is a failure, never a silent skip.
 */
export function natLabSkipReason(): string | null {
  return process.env.SKIP_NAT_LAB === '1'
    ? 'SKIP_NAT_LAB=1: NAT lab tests skipped on request'
    : null;
}

/**
 * Names of existing network namespaces that start with `prefix`.
 * @throws {NatLabError} `MISSING_TOOL` without `ip`.
 */
export async function labNamespaces(prefix = defaultPrefix()): Promise<string[]> {
  const ip = findTool('ip', 'iproute2');
  const { stdout } = await exec(ip, ['netns', 'list'], {});
  // Lines look like `hp-a (id: 3)` or just `hp-a`.
  return stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name.startsWith(prefix));
}

/**
 * Builds the lab: deletes stale namespaces with the prefix (from a crashed run), then creates
 * and wires every namespace. On failure it removes what it built before rethrowing.
 * @throws {NatLabError} `NOT_ROOT` unless uid 0; `MISSING_TOOL` naming the missing program;
 *   `BAD_OPTIONS`; `LAB_BUSY` if another live process (or this one) holds the prefix;
 *   `COMMAND_FAILED` with the failing command and its stderr (e.g. no netns support).
 */
export async function buildNatLab(opts: LabOptions): Promise<NatLab> {
  if (process.getuid?.() !== 0) {
    throw new NatLabError('NOT_ROOT', 'The NAT lab needs root (network namespaces, iptables).');
  }
  const prefix = opts.prefix ?? defaultPrefix();
  const plan = planLab(prefix, opts);
  const tools: Tools = {
    ip: findTool('ip', 'iproute2'),
    iptablesRestore: findTool('iptables-restore', 'iptables'),
    // Looked for only when needed: an IPv4 lab still builds on a machine without it.
    ip6tablesRestore: plan.routers.some((r) => r.ipv6)
      ? findTool('ip6tables-restore', 'iptables')
      : null,
    sysctl: findTool('sysctl', 'procps'),
  };
  const lock = acquirePrefix(prefix);

  const wrapperDir = mkdtempSync(join(tmpdir(), 'nat-lab-'));
  const lab = new Lab(tools, plan, wrapperDir, lock);
  try {
    await removeNamespaces(tools.ip, await labNamespaces(prefix));
    await lab.build(opts.chromiumPath ?? CHROMIUM_PATH);
    return lab;
  } catch (err) {
    await lab.teardown();
    throw err;
  }
}

interface Tools {
  ip: string;
  iptablesRestore: string;
  /** `null` in a lab without IPv6. */
  ip6tablesRestore: string | null;
  sysctl: string;
}

interface RouterPlan {
  /** Which home: `a`, `b` or `c`. */
  key: LabHostName;
  ns: string;
  mode: NatMode;
  stack: IpStack;
  /** IPv4 addresses; `null` in an IPv6-only home. */
  wanIp: string | null;
  lanIp: string | null;
  /** IPv6 addresses and the LAN's /64; `null` in an IPv4-only home. */
  ipv6: { wanIp: string; lanIp: string; lanPrefix: string } | null;
}

interface HostPlan {
  key: LabHostName;
  ns: string;
  /** `null` in an IPv6-only home. */
  ip: string | null;
  /** `null` in an IPv4-only home. */
  ipv6: string | null;
  router: RouterPlan;
}

interface LabPlan {
  prefix: string;
  bridgeNs: string;
  server: PublicHost;
  extraHosts: Map<string, PublicHost>;
  routers: RouterPlan[];
  a: HostPlan;
  b: HostPlan;
  c: HostPlan | null;
}

function defaultPrefix(): string {
  return process.env.NAT_LAB_PREFIX ?? DEFAULT_PREFIX;
}

function planLab(prefix: string, opts: LabOptions): LabPlan {
  if (!PREFIX_PATTERN.test(prefix)) {
    throw new NatLabError(
      'BAD_OPTIONS',
      `NAT lab prefix ${JSON.stringify(prefix)} must match ${PREFIX_PATTERN}`,
    );
  }
  const stackA = checkStack('stackA', opts.stackA);
  // With `sameLan`, B lives on A's LAN and has A's families, as `natB` gives way to `natA`.
  const stackB = opts.sameLan ? stackA : checkStack('stackB', opts.stackB);
  if (opts.stackC !== undefined && !opts.natC) {
    throw new NatLabError('BAD_OPTIONS', 'stackC needs natC: there is no home C without it');
  }
  const stackC = checkStack('stackC', opts.stackC);
  const router = (key: LabHostName, mode: NatMode, stack: IpStack): RouterPlan => {
    const v4 = LAB_ADDRESSES[key];
    const v6 = LAB_ADDRESSES.ipv6[key];
    return {
      key,
      ns: `${prefix}r${key}`,
      mode,
      stack,
      wanIp: stack === 'ipv6-only' ? null : v4.wanIp,
      lanIp: stack === 'ipv6-only' ? null : v4.routerLanIp,
      ipv6:
        stack === 'ipv4-only'
          ? null
          : { wanIp: v6.wanIp, lanIp: v6.routerLanIp, lanPrefix: v6.lanPrefix },
    };
  };
  const host = (key: LabHostName, ip: string, ipv6: string, on: RouterPlan): HostPlan => ({
    key,
    ns: prefix + key,
    ip: on.lanIp === null ? null : ip,
    ipv6: on.ipv6 === null ? null : ipv6,
    router: on,
  });
  const addr = LAB_ADDRESSES;
  const routerA = router('a', opts.natA, stackA);
  const routerB = router('b', opts.natB, stackB);
  const a = host('a', addr.a.hostIp, addr.ipv6.a.hostIp, routerA);
  const b = opts.sameLan
    ? host('b', addr.bOnLanA, addr.ipv6.bOnLanA, routerA)
    : host('b', addr.b.hostIp, addr.ipv6.b.hostIp, routerB);
  const routerC = opts.natC ? router('c', opts.natC, stackC) : null;
  const c = routerC ? host('c', addr.c.hostIp, addr.ipv6.c.hostIp, routerC) : null;
  const routers = [routerA, ...(opts.sameLan ? [] : [routerB]), ...(routerC ? [routerC] : [])];

  const publicStack =
    opts.publicStack ?? (routers.some((r) => r.ipv6) ? 'dual-stack' : 'ipv4-only');
  if (publicStack !== 'ipv4-only' && publicStack !== 'dual-stack') {
    throw new NatLabError(
      'BAD_OPTIONS',
      `publicStack ${JSON.stringify(publicStack)} must be 'ipv4-only' or 'dual-stack'`,
    );
  }
  const publicIpv6 = (lastGroup: number): string | null =>
    publicStack === 'dual-stack' ? `2001:db8::${lastGroup}` : null;
  const extraHosts = new Map<string, PublicHost>();
  for (const [i, name] of (opts.publicHosts ?? []).entries()) {
    if (!PUBLIC_HOST_PATTERN.test(name) || RESERVED_HOST_NAMES.has(name) || extraHosts.has(name)) {
      throw new NatLabError(
        'BAD_OPTIONS',
        `Public host name ${JSON.stringify(name)} must match ${PUBLIC_HOST_PATTERN}, be unique and not be one of ${[...RESERVED_HOST_NAMES].join(', ')}`,
      );
    }
    const last = LAB_ADDRESSES.firstExtraPublicHost + i;
    // The IPv4 last octet's decimal digits, read as the hex last group: .20 ↔ ::20.
    extraHosts.set(name, { ns: prefix + name, ip: `203.0.113.${last}`, ipv6: publicIpv6(last) });
  }
  return {
    prefix,
    bridgeNs: `${prefix}pub`,
    server: {
      ns: `${prefix}server`,
      ip: addr.serverIp,
      ipv6: publicStack === 'dual-stack' ? addr.ipv6.serverIp : null,
    },
    extraHosts,
    routers,
    a,
    b,
    c,
  };
}

/** `stack` or the default, `'ipv4-only'`. @throws {NatLabError} `BAD_OPTIONS` for an unknown one. */
function checkStack(option: string, stack: IpStack | undefined): IpStack {
  if (stack === undefined) return 'ipv4-only';
  if (!IP_STACKS.has(stack)) {
    throw new NatLabError(
      'BAD_OPTIONS',
      `${option} ${JSON.stringify(stack)} must be one of ${[...IP_STACKS].join(', ')}`,
    );
  }
  return stack;
}

/**
 * The router's whole firewall, loaded atomically with iptables-restore.
 *
 * INPUT drops everything unsolicited: a router that accepts (or answers) a packet to its WAN
 * address keeps a conntrack entry for it, and that entry makes the NAT pick another port for the
 * LAN host's own packet to the same peer a moment later, breaking port preservation
 * (RFC 4787 §4.2.1) exactly when two peers punch at once. Real routers silently drop such packets.
 *
 * FORWARD lets LAN→WAN out and WAN→LAN in only as a reply to a mapping (ESTABLISHED,RELATED): the
 * reply must come from the exact address and port the mapping was opened towards, i.e.
 * address-and-port-dependent filtering (RFC 4787 §5). RELATED lets ICMP errors back in
 * (RFC 4787 REQ-14 wants them translated).
 */
export function routerRuleset(mode: NatMode, wanIf = 'wan0', lanIf = 'lan0'): string {
  // Port-preserving MASQUERADE keeps one mapping per internal ip:port (RFC 4787 §4.1, EIM) as long
  // as the port is free; --random-fully draws a new port for every new 5-tuple (§4.1, APDM).
  const masquerade = `-A POSTROUTING -o ${wanIf} -j MASQUERADE${mode === 'symmetric' ? ' --random-fully' : ''}`;
  return [
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':INPUT ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
    masquerade,
    'COMMIT',
    ...statefulFilter(mode, wanIf, lanIf),
    '',
  ].join('\n');
}

/**
 * The `*filter` table both families' routers share: INPUT and FORWARD drop by default; the router
 * takes what comes from its LAN and replies; FORWARD passes LAN→WAN, and WAN→LAN only as
 * ESTABLISHED,RELATED (see {@link routerRuleset}); `udp-blocked` drops UDP both ways.
 * `inputFromWan` and `forwardGuards` are the family's own rules, placed before the UDP block.
 */
function statefulFilter(
  mode: NatMode,
  wanIf: string,
  lanIf: string,
  inputFromWan: readonly string[] = [],
  forwardGuards: readonly string[] = [],
): string[] {
  const udpBlock =
    mode === 'udp-blocked'
      ? [
          `-A FORWARD -i ${lanIf} -o ${wanIf} -p udp -j DROP`,
          `-A FORWARD -i ${wanIf} -p udp -j DROP`,
        ]
      : [];
  return [
    '*filter',
    ':INPUT DROP [0:0]',
    ':FORWARD DROP [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    '-A INPUT -i lo -j ACCEPT',
    `-A INPUT -i ${lanIf} -j ACCEPT`,
    '-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
    ...inputFromWan,
    ...forwardGuards,
    ...udpBlock,
    '-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
    // Matches LAN→WAN, and LAN→LAN too when br_netfilter sends bridged frames through FORWARD.
    `-A FORWARD -i ${lanIf} -j ACCEPT`,
    'COMMIT',
  ];
}

/**
 * The router's IPv6 firewall, loaded atomically with ip6tables-restore: a stateful firewall with no
 * NAT66, as RFC 6092 ("Recommended Simple Security Capabilities in Customer Premises Equipment for
 * Providing Residential IPv6 Internet Service") describes for home gateways and as carrier
 * firewalls in front of phones behave. `lanPrefix` is the home's /64 in CIDR form, e.g.
 * `'2001:db8:a::/64'`; `mode` matters only for `'udp-blocked'`, which drops UDP both ways.
 *
 * FORWARD lets LAN→WAN out, and WAN→LAN in only as ESTABLISHED,RELATED: an inbound datagram must
 * come from the exact address and port an outbound one went to (conntrack matches the 5-tuple),
 * i.e. address-and-port-dependent filtering (RFC 4787 §5), so two hosts behind two such
 * firewalls get through by hole punching: each one's first datagram opens its own firewall for
 * the other's. This is stricter than RFC 6092 REC-17, which recommends endpoint-independent
 * filtering by default for unmanaged home gateways (address-dependent filtering when "a more
 * stringent filtering behavior is most important"); it is what Linux-based home routers and
 * carrier firewalls commonly do, and the harder of the two for a peer. RELATED forwards the
 * ICMPv6 errors (Destination Unreachable, Packet Too Big) that match a flow (REC-18, RFC 4890
 * §4.3.1); errors that match none are dropped (REC-10). Outbound packets whose source is not in
 * `lanPrefix`, and inbound ones whose source is, are dropped (REC-5, REC-6: no spoofing either
 * way). REC-3 would drop the documentation prefix itself; the lab's whole "internet" is in it.
 *
 * INPUT drops everything unsolicited from the WAN, as the IPv4 routers do (`routerRuleset`), and
 * as REC-50 asks ("MUST NOT offer management application services to the exterior network").
 * With nothing to translate there is no port preservation to protect here; a router that answered
 * knocks on its own address would just be unlike a real one. The one exception is neighbour
 * discovery: conntrack leaves neighbour solicitations and advertisements untracked, so no state
 * rule would pass them, and without them nobody on the WAN could resolve the router's address
 * (RFC 4890 §4.4.1 lists both as traffic that must not be dropped; the kernel itself checks the
 * hop limit of 255 that RFC 4861 §7.1 requires). Nothing else from the WAN reaches the router: no
 * echo requests, no router advertisements (every address and route in the lab is static).
 *
 * Conntrack's idle timeout for a UDP flow seen one way only is 30 s, under REC-14's two minutes;
 * no lab test waits that long between datagrams.
 */
export function routerRuleset6(
  mode: NatMode,
  lanPrefix: string,
  wanIf = 'wan0',
  lanIf = 'lan0',
): string {
  return [
    ...statefulFilter(
      mode,
      wanIf,
      lanIf,
      [
        `-A INPUT -i ${wanIf} -p ipv6-icmp --icmpv6-type neighbour-solicitation -j ACCEPT`,
        `-A INPUT -i ${wanIf} -p ipv6-icmp --icmpv6-type neighbour-advertisement -j ACCEPT`,
      ],
      [
        `-A FORWARD -i ${lanIf} -o ${wanIf} ! -s ${lanPrefix} -j DROP`,
        `-A FORWARD -i ${wanIf} -s ${lanPrefix} -j DROP`,
      ],
    ),
    '',
  ].join('\n');
}

class Lab implements NatLab {
  readonly prefix: string;
  readonly server: PublicHost;
  readonly serverIp: string;
  readonly serverIpv6: string | null;
  readonly hosts: { readonly a: LabHost; readonly b: LabHost; readonly c?: LabHost };
  readonly namespaces: readonly string[];
  readonly #tools: Tools;
  readonly #plan: LabPlan;
  readonly #wrapperDir: string;
  readonly #releaseLock: () => void;
  readonly #children = new Map<ChildProcess, { tail: string }>();
  /** Namespaces created so far: what teardown deletes. */
  readonly #created: string[] = [];
  #teardown: Promise<void> | null = null;
  readonly #onExit = (): void => this.#teardownSync();

  constructor(tools: Tools, plan: LabPlan, wrapperDir: string, releaseLock: () => void) {
    this.#tools = tools;
    this.#plan = plan;
    this.#wrapperDir = wrapperDir;
    this.#releaseLock = releaseLock;
    this.prefix = plan.prefix;
    this.server = plan.server;
    this.serverIp = plan.server.ip;
    this.serverIpv6 = plan.server.ipv6;
    const host = (h: HostPlan): LabHost => ({
      ns: h.ns,
      stack: h.router.stack,
      get ip() {
        return ipv4Of(h, h.ip);
      },
      // A getter: `changeWanIp` renumbers the router.
      get wanIp() {
        return ipv4Of(h, h.router.wanIp);
      },
      ipv6: h.ipv6,
      routerNs: h.router.ns,
      chromiumWrapper: join(wrapperDir, `chromium-${h.ns}`),
    });
    this.hosts = plan.c
      ? { a: host(plan.a), b: host(plan.b), c: host(plan.c) }
      : { a: host(plan.a), b: host(plan.b) };
    this.namespaces = [
      plan.bridgeNs,
      plan.server.ns,
      ...[...plan.extraHosts.values()].map((h) => h.ns),
      ...plan.routers.map((r) => r.ns),
      plan.a.ns,
      plan.b.ns,
      ...(plan.c ? [plan.c.ns] : []),
    ];
    // Best effort if the test process exits without teardown; the next build also cleans up.
    process.once('exit', this.#onExit);
  }

  publicHost(name: string): PublicHost {
    if (name === 'server') return this.server;
    const host = this.#plan.extraHosts.get(name);
    if (!host)
      throw new NatLabError('BAD_OPTIONS', `No public host ${JSON.stringify(name)} in this lab`);
    return host;
  }

  async build(chromiumPath: string): Promise<void> {
    const { ip } = this.#tools;
    for (const ns of this.namespaces) {
      await this.#sh(ip, ['netns', 'add', ns]);
      this.#created.push(ns);
      await this.#sh(ip, ['-n', ns, 'link', 'set', 'lo', 'up']);
    }

    // The public segment: one bridge, one veth per public-side namespace.
    const pub = this.#plan.bridgeNs;
    await this.#sh(ip, ['-n', pub, 'link', 'add', 'br0', 'type', 'bridge']);
    await this.#sh(ip, ['-n', pub, 'link', 'set', 'br0', 'up']);
    const publicSide: { ns: string; ifname: string; ip: string | null; ipv6: string | null }[] = [
      ...[this.server, ...this.#plan.extraHosts.values()].map((h) => ({ ...h, ifname: 'eth0' })),
      ...this.#plan.routers.map((r) => ({
        ns: r.ns,
        ifname: 'wan0',
        ip: r.wanIp,
        ipv6: r.ipv6?.wanIp ?? null,
      })),
    ];
    for (const side of publicSide) {
      // Interface names are per namespace, so short fixed names can't collide (15-char limit).
      const port = this.#bridgePort(side.ns);
      await this.#veth(pub, port, side.ns, side.ifname);
      await this.#sh(ip, ['-n', pub, 'link', 'set', port, 'master', 'br0', 'up']);
      await this.#addr(
        side.ns,
        side.ifname,
        side.ip && `${side.ip}/${LAB_ADDRESSES.publicPrefixLength}`,
        side.ipv6 && `${side.ipv6}/${LAB_ADDRESSES.ipv6.prefixLength}`,
      );
    }
    // IPv6 needs routes where IPv4 needs none: each home's /64 sits behind its router, as an ISP
    // routes the prefix it delegated (by DHCPv6, RFC 8415, in real life) to its customer's router.
    const ipv6Routers = this.#plan.routers.filter((r) => r.ipv6);
    for (const side of publicSide.filter((p) => p.ipv6)) {
      for (const router of ipv6Routers) {
        if (router.ns === side.ns || !router.ipv6) continue;
        await this.#sh(ip, [
          ...['-n', side.ns, '-6', 'route', 'add', router.ipv6.lanPrefix],
          ...['via', router.ipv6.wanIp],
        ]);
      }
    }

    // Each router's LAN is a bridge, so `sameLan` can hang two hosts off it.
    for (const router of this.#plan.routers) {
      await this.#sh(ip, ['-n', router.ns, 'link', 'add', 'lan0', 'type', 'bridge']);
      // Before the link is up, which is when the kernel makes the link-local address.
      if (router.ipv6) await this.#sysctl(router.ns, ipv6Settings('lan0'));
      await this.#sh(ip, ['-n', router.ns, 'link', 'set', 'lan0', 'up']);
      if (router.lanIp) {
        await this.#sh(ip, [
          '-n',
          router.ns,
          'addr',
          'add',
          `${router.lanIp}/${LAB_ADDRESSES.lanPrefixLength}`,
          'dev',
          'lan0',
        ]);
        await this.#sysctl(router.ns, ['net.ipv4.ip_forward=1']);
        await this.#sh(
          ip,
          ['netns', 'exec', router.ns, this.#tools.iptablesRestore],
          routerRuleset(router.mode),
        );
      }
      if (router.ipv6) {
        const { lanIp, lanPrefix } = router.ipv6;
        const cidr = `${lanIp}/${LAB_ADDRESSES.ipv6.prefixLength}`;
        await this.#sh(ip, ['-n', router.ns, '-6', 'addr', 'add', cidr, 'dev', 'lan0', 'nodad']);
        await this.#sysctl(router.ns, ['net.ipv6.conf.all.forwarding=1']);
        // Found by buildNatLab whenever a router has IPv6; the check only narrows the type.
        const restore = this.#tools.ip6tablesRestore;
        if (!restore) throw new NatLabError('MISSING_TOOL', 'ip6tables-restore was not looked up');
        await this.#sh(
          ip,
          ['netns', 'exec', router.ns, restore],
          routerRuleset6(router.mode, lanPrefix),
        );
      }
    }
    for (const host of this.#hostPlans()) {
      const port = `to-${host.ns.slice(this.prefix.length)}`;
      await this.#veth(host.router.ns, port, host.ns, 'eth0');
      await this.#sh(ip, ['-n', host.router.ns, 'link', 'set', port, 'master', 'lan0', 'up']);
      await this.#addr(
        host.ns,
        'eth0',
        host.ip && `${host.ip}/${LAB_ADDRESSES.lanPrefixLength}`,
        host.ipv6 && `${host.ipv6}/${LAB_ADDRESSES.ipv6.prefixLength}`,
      );
      const { lanIp, ipv6 } = host.router;
      if (lanIp) await this.#sh(ip, ['-n', host.ns, 'route', 'add', 'default', 'via', lanIp]);
      // A default route, not one to 2001:db8::/32 only: Chromium learns each family's default
      // local address by routing towards a public resolver, 2001:4860:4860::8888 for IPv6
      // (GetDefaultLocalAddress, services/network/p2p), as the IPv4 default route serves 8.8.8.8.
      if (ipv6) {
        await this.#sh(ip, ['-n', host.ns, '-6', 'route', 'add', 'default', 'via', ipv6.lanIp]);
      }
    }

    for (const [key, host] of Object.entries(this.hosts)) {
      const q = shellQuote;
      writeFileSync(
        host.chromiumWrapper,
        `#!/bin/sh\n# Chromium on lab host ${key}.\nexec ${q(ip)} netns exec ${q(host.ns)} ${q(chromiumPath)} "$@"\n`,
        { mode: 0o755 },
      );
    }
  }

  async run(ns: string, cmd: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    this.#checkNs(ns);
    return exec(this.#tools.ip, ['netns', 'exec', ns, ...cmd], opts);
  }

  spawn(ns: string, cmd: readonly string[], opts: SpawnOptions = {}): ChildProcess {
    this.#checkNs(ns);
    const child = spawnProcess(this.#tools.ip, ['netns', 'exec', ns, ...cmd], {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: 'pipe',
      // Own process group, so teardown also reaches grandchildren (tsx runs node under itself).
      detached: true,
    });
    const record = { tail: '' };
    this.#children.set(child, record);
    // Attach first: a failed spawn emits `error`, and unhandled it would crash the runner.
    child.on('error', (err) => {
      record.tail += `\n[nat-lab] spawn failed: ${err.message}\n`;
    });
    const verbose = process.env.NAT_LAB_VERBOSE === '1';
    for (const stream of [child.stdout, child.stderr]) {
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        record.tail = (record.tail + chunk).slice(-MAX_OUTPUT_TAIL_CHARS);
        if (verbose) process.stderr.write(chunk.replace(/^(?=.)/gm, `[${ns}] `));
      });
    }
    return child;
  }

  output(child: ChildProcess): string {
    return this.#children.get(child)?.tail ?? '';
  }

  async waitForTcp(
    ns: string,
    ip: string,
    port: number,
    opts: WaitForTcpOptions = {},
  ): Promise<void> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TCP_WAIT_MS;
    // A node one-liner inside the namespace, retrying until its own deadline.
    const script = `
      const net = require('node:net');
      const deadline = Date.now() + ${timeoutMs};
      (function attempt() {
        const s = net.connect({ host: ${JSON.stringify(ip)}, port: ${port} });
        s.on('connect', () => { s.destroy(); process.exit(0); });
        s.on('error', () => {
          if (Date.now() > deadline) process.exit(1);
          setTimeout(attempt, ${TCP_RETRY_INTERVAL_MS});
        });
      })();`;
    const result = await this.run(ns, [process.execPath, '-e', script], {
      timeoutMs: timeoutMs + 5_000,
    });
    if (result.code !== 0) {
      throw new NatLabError(
        'COMMAND_TIMEOUT',
        `Nothing accepted TCP on ${ip}:${port} from ${ns} within ${timeoutMs} ms`,
      );
    }
  }

  async kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.#children.has(child) || child.pid === undefined) {
      throw new NatLabError('BAD_OPTIONS', 'NatLab.kill: not a process this lab spawned');
    }
    const group = child.pid;
    // Node reports the child's end ('exit', `signalCode`) only after the kernel has reaped it,
    // which can trail the group's disappearance from /proc: wait for both, so that a caller
    // sees a process that is wholly gone.
    const exited =
      child.exitCode !== null || child.signalCode !== null
        ? Promise.resolve()
        : new Promise<void>((resolve) => child.once('exit', () => resolve()));
    killGroup(child, signal);
    const deadline = Date.now() + KILL_WAIT_MS;
    while (groupAlive(group)) {
      if (Date.now() > deadline) {
        throw new NatLabError(
          'COMMAND_TIMEOUT',
          `Process group ${group} still has live processes ${KILL_WAIT_MS} ms after ${signal}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, KILL_POLL_INTERVAL_MS));
    }
    const left = Math.max(0, deadline - Date.now());
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<'late'>(
      (resolve) => (timer = setTimeout(() => resolve('late'), left)),
    );
    const outcome = await Promise.race([exited, late]);
    clearTimeout(timer);
    if (outcome === 'late') {
      throw new NatLabError(
        'COMMAND_TIMEOUT',
        `Process ${group} was not reaped ${KILL_WAIT_MS} ms after ${signal}`,
      );
    }
  }

  /** The plans of the NATed hosts this lab has. */
  #hostPlans(): HostPlan[] {
    return [this.#plan.a, this.#plan.b, ...(this.#plan.c ? [this.#plan.c] : [])];
  }

  /** @throws {NatLabError} `BAD_OPTIONS` for host `c` in a lab built without `natC`. */
  #routerOf(host: LabHostName): RouterPlan {
    const plan = this.#plan[host];
    if (!plan) throw new NatLabError('BAD_OPTIONS', `This lab has no host ${host} (natC not set)`);
    return plan.router;
  }

  async setUplink(host: LabHostName, up: boolean): Promise<void> {
    if (this.#teardown) throw new NatLabError('TORN_DOWN', 'This NAT lab has been torn down');
    const router = this.#routerOf(host);
    await this.#sh(this.#tools.ip, [
      '-n',
      this.#plan.bridgeNs,
      'link',
      'set',
      this.#bridgePort(router.ns),
      up ? 'up' : 'down',
    ]);
  }

  async changeWanIp(host: LabHostName, newIp: string): Promise<void> {
    if (this.#teardown) throw new NatLabError('TORN_DOWN', 'This NAT lab has been torn down');
    const router = this.#routerOf(host);
    const oldIp = router.wanIp;
    if (oldIp === null) {
      throw new NatLabError('BAD_OPTIONS', `Home ${host} is IPv6-only: its router has no IPv4`);
    }
    const octets = /^203\.0\.113\.(\d{1,3})$/.exec(newIp);
    const last = Number(octets?.[1]);
    const taken = new Set([
      this.server.ip,
      ...[...this.#plan.extraHosts.values()].map((h) => h.ip),
      ...this.#plan.routers.flatMap((r) => (r.wanIp === null ? [] : [r.wanIp])),
    ]);
    if (!octets || !(last >= 1 && last <= 254) || taken.has(newIp)) {
      throw new NatLabError(
        'BAD_OPTIONS',
        `New WAN address ${JSON.stringify(newIp)} must be a free address of 203.0.113.0/24 (in use: ${[...taken].join(', ')})`,
      );
    }
    const { ip } = this.#tools;
    // Removing the address takes its subnet route, and a default route through it, with it.
    const defaults = (await exec(ip, ['-n', router.ns, 'route', 'show', 'default'], {})).stdout
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean);
    const prefixLength = LAB_ADDRESSES.publicPrefixLength;
    await this.#sh(ip, ['-n', router.ns, 'addr', 'del', `${oldIp}/${prefixLength}`, 'dev', 'wan0']);
    await this.#sh(ip, ['-n', router.ns, 'addr', 'add', `${newIp}/${prefixLength}`, 'dev', 'wan0']);
    for (const route of defaults) {
      await this.#sh(ip, ['-n', router.ns, 'route', 'replace', ...route.split(/\s+/)]);
    }
    router.wanIp = newIp;
  }

  teardown(): Promise<void> {
    this.#teardown ??= this.#doTeardown();
    return this.#teardown;
  }

  async #doTeardown(): Promise<void> {
    process.removeListener('exit', this.#onExit);
    await Promise.all([...this.#children.keys()].map((child) => stopGroup(child)));
    await removeNamespaces(this.#tools.ip, this.#created);
    rmSync(this.#wrapperDir, { recursive: true, force: true });
    this.#releaseLock();
  }

  /** Synchronous last resort from `process.on('exit')`: no waiting, SIGKILL only. */
  #teardownSync(): void {
    for (const child of this.#children.keys()) killGroup(child, 'SIGKILL');
    for (const ns of this.#created) {
      try {
        for (const pid of execFileSync(this.#tools.ip, ['netns', 'pids', ns], {
          encoding: 'utf8',
        }).split(/\s+/)) {
          if (pid) killPid(Number(pid), 'SIGKILL');
        }
        execFileSync(this.#tools.ip, ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        // Exiting anyway; the next build removes what is left.
      }
    }
    rmSync(this.#wrapperDir, { recursive: true, force: true });
    this.#releaseLock();
  }

  #checkNs(ns: string): void {
    if (this.#teardown) throw new NatLabError('TORN_DOWN', 'This NAT lab has been torn down');
    if (!this.namespaces.includes(ns)) {
      throw new NatLabError(
        'BAD_OPTIONS',
        `${JSON.stringify(ns)} is not a namespace of this lab (${this.namespaces.join(', ')})`,
      );
    }
  }

  /** Name of the public bridge's port that leads to the namespace `ns` (see `build`). */
  #bridgePort(ns: string): string {
    return `to-${ns.slice(this.prefix.length)}`;
  }

  async #veth(nsA: string, ifA: string, nsB: string, ifB: string): Promise<void> {
    // Created inside nsA with its peer placed straight into nsB: the root namespace never sees it.
    await this.#sh(this.#tools.ip, [
      '-n',
      nsA,
      'link',
      'add',
      ifA,
      'type',
      'veth',
      'peer',
      'name',
      ifB,
      'netns',
      nsB,
    ]);
  }

  /**
   * Gives `ifname` its addresses (CIDR strings, `null` for a family it lacks) and brings it up.
   * Without IPv6 the interface has IPv6 disabled, so not even a link-local address exists.
   */
  async #addr(
    ns: string,
    ifname: string,
    ipv4Cidr: string | null,
    ipv6Cidr: string | null,
  ): Promise<void> {
    const { ip } = this.#tools;
    if (ipv4Cidr) await this.#sh(ip, ['-n', ns, 'addr', 'add', ipv4Cidr, 'dev', ifname]);
    if (ipv6Cidr) {
      await this.#sysctl(ns, ipv6Settings(ifname));
      await this.#sh(ip, ['-n', ns, '-6', 'addr', 'add', ipv6Cidr, 'dev', ifname, 'nodad']);
    } else {
      // IPv4 only: no IPv6 link-local addresses for Chromium to offer as useless host candidates.
      await this.#sysctl(ns, [`net.ipv6.conf.${ifname}.disable_ipv6=1`]);
    }
    await this.#sh(ip, ['-n', ns, 'link', 'set', ifname, 'up']);
  }

  async #sysctl(ns: string, settings: string[]): Promise<void> {
    await this.#sh(this.#tools.ip, [
      'netns',
      'exec',
      ns,
      this.#tools.sysctl,
      '-q',
      '-w',
      ...settings,
    ]);
  }

  async #sh(file: string, args: string[], input?: string): Promise<void> {
    const result = await exec(file, args, input === undefined ? {} : { input });
    if (result.code !== 0) {
      throw new NatLabError(
        'COMMAND_FAILED',
        `NAT lab setup failed: ${[file, ...args].join(' ')} exited ${result.code}: ${result.stderr.trim()}`,
      );
    }
  }
}

/**
 * Sysctls for an interface with IPv6, set before it comes up. It keeps the link-local address the
 * kernel makes (RFC 4291 §2.1 wants one on every interface): a router resolves a neighbour for a
 * forwarded packet from it (Linux's ndisc_send_ns() sends no solicitation without one, and the
 * lab's routers then forward nothing), and WebRTC never offers link-local addresses as candidates
 * (IsIgnoredIPv6 in webrtc's rtc_base/network.cc). `accept_dad=0` skips duplicate address
 * detection (RFC 4862 §5.4), which would hold the link-local address back for a second; the
 * static addresses are added `nodad`. `accept_ra=0`: every address and route here is static.
 */
function ipv6Settings(ifname: string): string[] {
  return [`net.ipv6.conf.${ifname}.accept_dad=0`, `net.ipv6.conf.${ifname}.accept_ra=0`];
}

/**
 * `value`, an IPv4 address of `host` or its router.
 * @throws {NatLabError} `BAD_OPTIONS` when it is `null`: the host is in an IPv6-only home.
 */
function ipv4Of(host: HostPlan, value: string | null): string {
  if (value === null) {
    throw new NatLabError(
      'BAD_OPTIONS',
      `Host ${host.key} is in an IPv6-only home: it has no IPv4 address (read its ipv6)`,
    );
  }
  return value;
}

/** Runs a program to completion. Never rejects for an exit status, only for timeout or spawn errors. */
function exec(file: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = spawnProcess(file, args, { stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new NatLabError(
          'COMMAND_TIMEOUT',
          `${[file, ...args].join(' ')} took longer than ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new NatLabError('COMMAND_FAILED', `Could not run ${file}: ${err.message}`));
    });
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code });
    });
    child.stdin.on('error', () => {}); // EPIPE if the command exits before reading its input
    child.stdin.end(opts.input ?? '');
  });
}

/** Kills whatever still runs inside the namespaces, then deletes them. Missing ones are fine. */
async function removeNamespaces(ip: string, namespaces: readonly string[]): Promise<void> {
  for (const ns of namespaces) {
    // `ip netns del` with processes inside only unlinks the name; the namespace (and its veths)
    // would live on with them. Those are lab processes: a browser, a reflector, a crashed run's.
    const { stdout } = await exec(ip, ['netns', 'pids', ns], {});
    for (const pid of stdout.split(/\s+/)) if (pid) killPid(Number(pid), 'SIGKILL');
    await exec(ip, ['netns', 'del', ns], {});
  }
}

async function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  killGroup(child, 'SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>(
    (resolve) => (timer = setTimeout(() => resolve(true), KILL_GRACE_MS)),
  );
  if (await Promise.race([exited.then(() => false), timedOut])) {
    killGroup(child, 'SIGKILL');
    await exited;
  }
  clearTimeout(timer);
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  // Negative pid: the process group `detached: true` created, led by the child itself.
  if (child.pid !== undefined) killPid(-child.pid, signal);
}

/**
 * True while process group `pgid` has a member that is not a zombie. Zombies count as gone: they
 * hold no sockets, and an orphaned grandchild's may wait for a PID 1 that never reaps.
 */
function groupAlive(pgid: number): boolean {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // `pid (comm) state ppid pgrp …`; comm may hold spaces and parentheses, so split after the last `)`.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') return true;
  }
  return false;
}

function killPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/**
 * Claims `prefix` for this process: in memory against a second lab here, and with a pid file
 * against a live lab in another process (whose namespaces the stale cleanup would otherwise
 * delete). A pid file whose process is dead is stale and taken over.
 */
function acquirePrefix(prefix: string): () => void {
  if (activePrefixes.has(prefix)) {
    throw new NatLabError(
      'LAB_BUSY',
      `A NAT lab with prefix ${prefix} is already up in this process; tear it down first`,
    );
  }
  const pidFile = join(tmpdir(), `nat-lab-${prefix}pid`);
  let owner = NaN;
  try {
    owner = Number(readFileSync(pidFile, 'utf8').trim());
  } catch {
    // No lab has claimed it.
  }
  if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
    throw new NatLabError(
      'LAB_BUSY',
      `Process ${owner} has a NAT lab up with prefix ${prefix}; wait for it, or set NAT_LAB_PREFIX to run side by side`,
    );
  }
  writeFileSync(pidFile, `${process.pid}\n`);
  activePrefixes.add(prefix);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    activePrefixes.delete(prefix);
    rmSync(pidFile, { force: true });
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function findTool(name: string, debianPackage: string): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'].filter(Boolean);
  for (const dir of dirs) {
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // Not here.
    }
  }
  throw new NatLabError(
    'MISSING_TOOL',
    `The NAT lab needs \`${name}\` (Debian package ${debianPackage}); it is not in PATH, /usr/sbin or /sbin`,
  );
}

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}
