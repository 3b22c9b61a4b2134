/**
 * Small UDP/TCP actors inside lab namespaces, for tests that check the network itself rather
 * than the app: a reflector that tells senders their observed (mapped) address, and a peer that
 * sends and receives datagrams on one fixed local port. Each is a Node script in this folder,
 * spawned through `NatLab.spawn` (so teardown kills it) and driven over JSON lines on stdio.
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { NatLab } from './nat-lab.ts';

/**
 * An IP address and UDP/TCP port. `ip` is IPv4 dotted-quad or IPv6 in RFC 5952 text without
 * brackets (e.g. `2001:db8:a::2`), as Node reports a sender and as `LAB_ADDRESSES` spells it.
 */
export interface Endpoint {
  ip: string;
  port: number;
}

/**
 * Which IP family a probe's sockets use: 4 (the default) or 6. A probe has one family, like one
 * ICE host candidate; start one of each to use both (they may share a port number).
 */
export type IpFamily = 4 | 6;

/** A datagram a peer received. */
export interface Datagram {
  from: Endpoint;
  text: string;
}

/** What a TCP connect from a peer gave: the line the server wrote, or why it failed. */
export type TcpResult = { ok: true; reply: string } | { ok: false; error: string };

/** How long a probe script gets to bind its sockets, ms. */
export const PROBE_READY_TIMEOUT_MS = 5_000;
/** Default wait for a datagram that should arrive: inside one host the path is sub-millisecond. */
export const DEFAULT_RECEIVE_TIMEOUT_MS = 1_000;

const REFLECTOR_SCRIPT = fileURLToPath(new URL('./udp-reflector.mjs', import.meta.url));
const PEER_SCRIPT = fileURLToPath(new URL('./udp-peer.mjs', import.meta.url));

type ProbeEvent = Record<string, unknown> & { event: string };

/** A spawned probe script: its JSON-line events, each consumed by at most one waiter. */
class ProbeProcess {
  readonly #child: ChildProcess;
  readonly #lab: NatLab;
  readonly #queue: ProbeEvent[] = [];
  readonly #waiters = new Set<{
    match: (e: ProbeEvent) => boolean;
    resolve: (e: ProbeEvent | null) => void;
  }>();

  constructor(lab: NatLab, ns: string, args: string[]) {
    this.#lab = lab;
    this.#child = lab.spawn(ns, [process.execPath, ...args]);
    this.#child.stdin?.on('error', () => {}); // EPIPE once the script has exited
    createInterface({ input: this.#child.stdout! }).on('line', (line) => {
      let event: unknown;
      try {
        event = JSON.parse(line);
      } catch {
        return;
      }
      if (
        typeof event === 'object' &&
        event !== null &&
        typeof (event as ProbeEvent).event === 'string'
      ) {
        this.#deliver(event as ProbeEvent);
      }
    });
    this.#child.on('exit', () => {
      for (const waiter of this.#waiters) waiter.resolve(null);
      this.#waiters.clear();
    });
  }

  /** Resolves with the first event matching `match`, or `null` after `timeoutMs` or on exit. */
  next(match: (e: ProbeEvent) => boolean, timeoutMs: number): Promise<ProbeEvent | null> {
    const index = this.#queue.findIndex(match);
    if (index >= 0) return Promise.resolve(this.#queue.splice(index, 1)[0]!);
    if (this.#child.exitCode !== null || this.#child.signalCode !== null)
      return Promise.resolve(null);
    return new Promise((resolve) => {
      const waiter = {
        match,
        resolve: (e: ProbeEvent | null) => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve(e);
        },
      };
      const timer = setTimeout(() => waiter.resolve(null), timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  /** Waits for the script's `ready` event. @throws {Error} with the script's output if it never comes. */
  async ready(): Promise<ProbeEvent> {
    const event = await this.next((e) => e.event === 'ready', PROBE_READY_TIMEOUT_MS);
    if (!event)
      throw new Error(
        `Probe did not start within ${PROBE_READY_TIMEOUT_MS} ms:\n${this.#lab.output(this.#child)}`,
      );
    return event;
  }

  command(op: Record<string, unknown>): void {
    this.#child.stdin?.write(`${JSON.stringify(op)}\n`);
  }

  close(): void {
    this.#child.stdin?.end();
  }

  #deliver(event: ProbeEvent): void {
    for (const waiter of this.#waiters) {
      if (waiter.match(event)) return waiter.resolve(event);
    }
    this.#queue.push(event);
  }
}

/**
 * Starts a reflector in `where.ns` answering UDP and TCP on `port` on every address of one family
 * (`opts.family`, default 4) in that namespace, and returns `where.ip:port` (`where.ipv6:port`
 * for family 6) to send to. `where` is a `PublicHost` or `LabHost`.
 * @throws {Error} for family 6 when `where.ipv6` is `null`, or with the script's output if it
 *   cannot bind within `PROBE_READY_TIMEOUT_MS`.
 */
export async function startReflector(
  lab: NatLab,
  where: { ns: string; ip: string; ipv6?: string | null },
  port: number,
  opts: { family?: IpFamily } = {},
): Promise<Endpoint> {
  const family = opts.family ?? 4;
  // Not `where.ip` for family 6: in an IPv6-only home reading it throws.
  const ip = family === 6 ? where.ipv6 : where.ip;
  if (!ip) throw new Error(`${where.ns} has no IPv6 address to reflect on`);
  const probe = new ProbeProcess(lab, where.ns, [
    REFLECTOR_SCRIPT,
    ...['--udp', String(port), '--tcp', String(port)],
    ...['--family', String(family)],
  ]);
  await probe.ready();
  return { ip, port };
}

/** A UDP socket on one local port inside a lab namespace. */
export interface UdpPeer {
  /** The bound local port. */
  readonly localPort: number;
  /** Sends one datagram; fire and forget, as UDP is. */
  send(to: Endpoint, text: string): void;
  /**
   * The next datagram (from `from` only, if given) that arrived or arrives within `timeoutMs`
   * (default `DEFAULT_RECEIVE_TIMEOUT_MS`), or `null`. Each datagram is returned once.
   */
  receive(opts?: { from?: Endpoint; timeoutMs?: number }): Promise<Datagram | null>;
  /**
   * Asks a reflector which address this socket's packets arrive from: the NAT mapping
   * (server-reflexive address, RFC 8445 §5.1.1.1). Sends up to `attempts` (default 3) requests,
   * waiting `timeoutMs` (default `DEFAULT_RECEIVE_TIMEOUT_MS`) for each answer; `null` if none.
   */
  askReflector(
    reflector: Endpoint,
    opts?: { attempts?: number; timeoutMs?: number },
  ): Promise<Endpoint | null>;
  /** Opens a TCP connection from this namespace and reads until the server closes. */
  tcpConnect(to: Endpoint, opts?: { timeoutMs?: number }): Promise<TcpResult>;
  /** Closes the socket and ends the script. */
  close(): void;
}

/**
 * Starts a UDP peer in `ns`, bound to `0.0.0.0:port` (default 0: any free port), or to `[::]:port`
 * for IPv6 only with `family: 6`. Its `tcpConnect` reaches either family.
 * @throws {Error} with the script's output if it cannot bind within `PROBE_READY_TIMEOUT_MS`.
 */
export async function startUdpPeer(
  lab: NatLab,
  ns: string,
  opts: { port?: number; family?: IpFamily } = {},
): Promise<UdpPeer> {
  const probe = new ProbeProcess(lab, ns, [
    PEER_SCRIPT,
    ...['--port', String(opts.port ?? 0)],
    ...['--family', String(opts.family ?? 4)],
  ]);
  const ready = await probe.ready();
  let tcpId = 0;
  const isFrom = (e: ProbeEvent, from?: Endpoint): boolean =>
    e.event === 'message' && (!from || (e.ip === from.ip && e.port === from.port));

  const peer: UdpPeer = {
    localPort: Number(ready.port),
    send: (to, text) => probe.command({ op: 'send', ip: to.ip, port: to.port, text }),
    async receive({ from, timeoutMs = DEFAULT_RECEIVE_TIMEOUT_MS } = {}) {
      const e = await probe.next((event) => isFrom(event, from), timeoutMs);
      return e && { from: { ip: String(e.ip), port: Number(e.port) }, text: String(e.text) };
    },
    async askReflector(reflector, { attempts = 3, timeoutMs = DEFAULT_RECEIVE_TIMEOUT_MS } = {}) {
      for (let i = 0; i < attempts; i++) {
        peer.send(reflector, 'whoami');
        const reply = await peer.receive({ from: reflector, timeoutMs });
        if (reply) {
          const seen = JSON.parse(reply.text) as Endpoint;
          return { ip: seen.ip, port: seen.port };
        }
      }
      return null;
    },
    async tcpConnect(to, { timeoutMs = DEFAULT_RECEIVE_TIMEOUT_MS } = {}) {
      const id = ++tcpId;
      probe.command({ op: 'tcp', id, ip: to.ip, port: to.port, timeoutMs });
      // The script enforces timeoutMs itself; the margin only covers a dead script.
      const e = await probe.next(
        (event) => event.event === 'tcp' && event.id === id,
        timeoutMs + 1_000,
      );
      if (!e) return { ok: false, error: 'probe gave no answer' };
      return e.ok === true
        ? { ok: true, reply: String(e.reply) }
        : { ok: false, error: String(e.error) };
    },
    close: () => probe.close(),
  };
  return peer;
}
