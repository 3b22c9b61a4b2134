/**
 * One load-generating process of the signaling bench; bench/signaling-load.ts starts two and
 * drives them over IPC ({@link WorkerCommand} in, {@link WorkerReply} out). It speaks just enough
 * WebSocket over raw TCP to stay cheap: frames to the server are built once per socket, masked with
 * an all-zero key, so one relay costs one `write`. (RFC 6455 §5.3 wants an unpredictable key to
 * protect proxies from cache poisoning; there is no proxy on loopback, and a server cannot tell.)
 *
 * Each room is two sockets, A and B, both in this process, so one clock times a relay: the send
 * time goes into a FIFO on the receiving socket and comes out when the relayed frame arrives (TCP
 * and the relay keep order). A and B may be on two servers that share rooms (`portB`, issue #12:
 * bench/redis-load.ts); then every relay crosses from one server process to the other.
 *
 * The servers people would pick instead (bench/peers-load.ts, issue #15) get the same candidate
 * in their own protocol: PeerJS (`peer`) a `CANDIDATE` to the other member's id, which the server
 * relays with `src` added; y-webrtc a `publish` to the room's topic, which its server sends to
 * every subscriber, the sender included. Those echoes are counted (`echoes`), not timed.
 */
import { connect, type Socket } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { withTimeout } from '../proc.ts';
import { LatencyHistogram } from '../stats.ts';

export type ServerKind = 'ours' | 'bare' | 'peerjs' | 'y-webrtc';

/** The ws path of the PeerJS server started as its README says (`--path /myapp`). */
export const PEERJS_PATH = '/myapp/peerjs';
/** Its `--key`, the README's and the default. */
export const PEERJS_KEY = 'peerjs';

export type WorkerCommand =
  | {
      type: 'ramp';
      server: ServerKind;
      port: number;
      /** [portB=port] The server of each room's second member (B). */
      portB?: number;
      /** Rooms to open, two sockets each. */
      rooms: number;
      /** Index of this worker's first socket among all workers': picks its source addresses. */
      firstSocket: number;
      /** Second octet of the 127.x.y.z source addresses, fresh per run (no TIME_WAIT clashes). */
      addressOctet: number;
      /** Rooms being set up at once. */
      concurrency: number;
      timeoutMs: number;
    }
  | { type: 'rate'; relaysPerSecond: number; durationMs: number }
  | { type: 'saturate'; durationMs: number }
  /** Closes every socket and forgets the rooms: the worker can ramp again, on another server. */
  | { type: 'close' };

export type WorkerReply =
  | { type: 'ready' }
  | { type: 'ramped'; sockets: number; failedRooms: number; firstError: string | null }
  | {
      type: 'measured';
      /** Relays sent and received during the step (late arrivals of an earlier step excluded). */
      sent: number;
      received: number;
      /** Sent but not received by the end of the drain period. */
      lost: number;
      durationMs: number;
      /** {@link LatencyHistogram} counts. */
      histogram: number[];
      /** Frames that were neither a relay nor expected (server errors), and the first one. */
      unexpected: number;
      firstUnexpected: string | null;
      /** Frames a socket got back of its own sends (y-webrtc publishes to the sender too). */
      echoes: number;
      /** This worker's worst event-loop delay during the step, ms. */
      loopDelayMaxMs: number;
    }
  | { type: 'closed' };

/** Sockets per 127.x.y.z source address: far below any sane per-IP limit. */
export const SOCKETS_PER_ADDRESS = 20;
/** A trickled server-reflexive candidate as Chromium writes it: the typical signaling frame. */
export const CANDIDATE = {
  type: 'candidate',
  candidate: {
    candidate:
      'candidate:842163049 1 udp 1677729535 203.0.113.2 54321 typ srflx raddr 10.0.1.2 rport 54321 generation 0 ufrag EsAw network-id 1 network-cost 10',
    sdpMLineIndex: 0,
    sdpMid: '0',
  },
} as const;
/** Longest the setup of one room (two sockets, hello, join) may take, ms. */
const ROOM_TIMEOUT_MS = 15_000;
/** How long a step waits for frames still in flight before counting them lost. */
const DRAIN_TIMEOUT_MS = 3000;
/** The sample key of RFC 6455 §1.3; the server's `Sec-WebSocket-Accept` is not checked. */
const HANDSHAKE_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const OPCODE_TEXT = 0x1;
const OPCODE_CLOSE = 0x8;
const OPCODE_PING = 0x9;
const OPCODE_PONG = 0xa;
const RELAY_PREFIX = Buffer.from('{"type":"signal"');
/** PeerJS rebuilds every relayed message as `{type, src, dst, payload}` (JSON key order). */
const PEERJS_RELAY_PREFIX = Buffer.from('{"type":"CANDIDATE","src":');

/** A client frame: FIN, `opcode`, masked with key 0 (so the payload is copied as is). */
function clientFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const header = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = Buffer.alloc(header + 4 + length);
  frame[0] = 0x80 | opcode;
  if (length < 126) {
    frame[1] = 0x80 | length;
  } else if (length < 65536) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  payload.copy(frame, header + 4);
  return frame;
}

/** One WebSocket client connection over raw TCP. */
class Conn {
  readonly socket: Socket;
  /** The other socket of the room. */
  peer: Conn | null = null;
  /** The relay frame this socket sends to `peer`, built once. */
  relayFrame: Buffer | null = null;
  /** Send times (ms) of relays in flight towards this socket, oldest first from `head`. */
  readonly inFlight: number[] = [];
  head = 0;
  /** What a relay from `peer` starts with, when the bench checks it; `null` for any frame. */
  relayPrefix: Buffer | null = null;
  /** What the server's echo of this socket's own send starts with (y-webrtc), else `null`. */
  echoPrefix: Buffer | null = null;
  /** Text frames while setting up; relays after. */
  onText: (data: Buffer, start: number, end: number) => void = () => {};
  readonly upgraded: Promise<void>;
  #rest: Buffer | null = null;
  #isUpgraded = false;
  #upgrade!: { resolve: () => void; reject: (error: Error) => void };

  constructor(port: number, path: string, localAddress: string) {
    this.upgraded = new Promise((resolve, reject) => (this.#upgrade = { resolve, reject }));
    this.upgraded.catch(() => {}); // whoever awaits it sees the failure; nobody else must crash
    this.socket = connect({ host: '127.0.0.1', port, localAddress });
    this.socket.setNoDelay(true);
    this.socket.on('error', (error) => this.#upgrade.reject(error));
    this.socket.on('close', () => this.#upgrade.reject(new Error('closed')));
    this.socket.on('connect', () =>
      this.socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: ${HANDSHAKE_KEY}\r\n` +
          `Sec-WebSocket-Version: 13\r\n\r\n`,
      ),
    );
    this.socket.on('data', (chunk: Buffer) => this.#onData(chunk));
  }

  sendText(text: string): void {
    this.socket.write(clientFrame(OPCODE_TEXT, Buffer.from(text)));
  }

  #onData(chunk: Buffer): void {
    const data = this.#rest ? Buffer.concat([this.#rest, chunk]) : chunk;
    let offset = 0;
    if (!this.#isUpgraded) {
      const end = data.indexOf('\r\n\r\n');
      if (end < 0) {
        this.#rest = data;
        return;
      }
      const status = data.toString('latin1', 0, data.indexOf('\r\n'));
      if (!status.startsWith('HTTP/1.1 101')) {
        this.#upgrade.reject(new Error(`upgrade refused: ${status}`));
        this.socket.destroy();
        return;
      }
      this.#isUpgraded = true;
      this.#upgrade.resolve();
      offset = end + 4;
    }
    // Server frames are never masked (RFC 6455 §5.1) and, from ws, never fragmented.
    while (data.length - offset >= 2) {
      let length = data[offset + 1]! & 0x7f;
      let header = 2;
      if (length === 126) {
        if (data.length - offset < 4) break;
        length = data.readUInt16BE(offset + 2);
        header = 4;
      } else if (length === 127) {
        if (data.length - offset < 10) break;
        length = Number(data.readBigUInt64BE(offset + 2));
        header = 10;
      }
      if (data.length - offset < header + length) break;
      const opcode = data[offset]! & 0x0f;
      const start = offset + header;
      const end = start + length;
      if (opcode === OPCODE_TEXT) this.onText(data, start, end);
      else if (opcode === OPCODE_PING) {
        this.socket.write(clientFrame(OPCODE_PONG, data.subarray(start, end)));
      } else if (opcode === OPCODE_CLOSE) this.socket.end();
      offset = end;
    }
    this.#rest = offset < data.length ? data.subarray(offset) : null;
  }
}

/** Resolves with the next parsed text frame of `conn` (setup phase only). */
function nextMessage(conn: Conn): Promise<{ type?: string; id?: string }> {
  return new Promise((resolve, reject) => {
    const onClose = (): void => reject(new Error('socket closed during setup'));
    if (conn.socket.destroyed) onClose();
    conn.socket.once('close', onClose);
    conn.onText = (data, start, end) => {
      conn.onText = () => {};
      conn.socket.off('close', onClose);
      try {
        resolve(JSON.parse(data.toString('utf8', start, end)) as { type?: string; id?: string });
      } catch (error) {
        reject(error as Error);
      }
    };
  });
}

/**
 * Resolves with the next message of `type`, skipping others the protocol may add (it grows; the
 * bench should not break on a new notice). An `error` message fails the room.
 */
async function expectMessage(conn: Conn, type: string): Promise<{ id?: string }> {
  for (;;) {
    const message = await nextMessage(conn);
    if (message.type === type) return message;
    if (message.type === 'error' || message.type === 'ERROR')
      throw new Error(`expected ${type}, got ${JSON.stringify(message)}`);
  }
}

interface Room {
  a: Conn;
  b: Conn;
}

const rooms: Room[] = [];
/** This process's event-loop delay, 1 ms resolution: a lagging worker delays relays itself. */
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();
const conns: Conn[] = [];
let histogram = new LatencyHistogram();
let sent = 0;
let received = 0;
let unexpected = 0;
let echoes = 0;
let firstUnexpected: string | null = null;
/** In closed-loop mode: send the next relay on each arrival until this time (ms). */
let refillUntil = -Infinity;

function send(from: Conn): void {
  const to = from.peer!;
  to.inFlight.push(performance.now());
  from.socket.write(from.relayFrame!);
  sent++;
}

function startsWith(data: Buffer, start: number, end: number, prefix: Buffer): boolean {
  return (
    end - start >= prefix.length &&
    data.compare(prefix, 0, prefix.length, start, start + prefix.length) === 0
  );
}

function onRelay(conn: Conn, data: Buffer, start: number, end: number): void {
  if (conn.relayPrefix && !startsWith(data, start, end, conn.relayPrefix)) {
    if (conn.echoPrefix && startsWith(data, start, end, conn.echoPrefix)) echoes++;
    else {
      unexpected++;
      firstUnexpected ??= data.toString('utf8', start, end);
    }
    return;
  }
  if (conn.head >= conn.inFlight.length) return; // a straggler from a step already written off
  const now = performance.now();
  histogram.record(now - conn.inFlight[conn.head++]!);
  if (conn.head === conn.inFlight.length) {
    conn.inFlight.length = 0;
    conn.head = 0;
  }
  received++;
  if (now < refillUntil) send(conn.peer!);
}

function sourceAddress(octet: number, socketIndex: number): string {
  const slot = Math.floor(socketIndex / SOCKETS_PER_ADDRESS);
  return `127.${octet}.${Math.floor(slot / 254)}.${(slot % 254) + 1}`;
}

async function openRoom(
  command: Extract<WorkerCommand, { type: 'ramp' }>,
  index: number,
): Promise<Room> {
  const socketIndex = command.firstSocket + 2 * index;
  const id = `bench-${process.pid}-${index}-`.padEnd(24, 'z');
  const idA = `${id}a`;
  const idB = `${id}b`;
  const peerjsPath = (peer: string): string =>
    `${PEERJS_PATH}?key=${PEERJS_KEY}&id=${peer}&token=t${peer.length}`;
  const paths: Record<ServerKind, [string, string]> = {
    ours: ['/ws', '/ws'],
    bare: [`/?room=${id}`, `/?room=${id}`],
    peerjs: [peerjsPath(idA), peerjsPath(idB)],
    'y-webrtc': ['/', '/'],
  };
  const [pathA, pathB] = paths[command.server];
  const a = new Conn(command.port, pathA, sourceAddress(command.addressOctet, socketIndex));
  const b = new Conn(
    command.portB ?? command.port,
    pathB,
    sourceAddress(command.addressOctet, socketIndex + 1),
  );
  conns.push(a, b);
  a.peer = b;
  b.peer = a;
  if (command.server === 'ours') {
    const [helloA, helloB] = await Promise.all([
      expectMessage(a, 'hello'),
      expectMessage(b, 'hello'),
    ]);
    a.sendText(JSON.stringify({ type: 'join', room: id }));
    await expectMessage(a, 'joined');
    const peerJoined = expectMessage(a, 'peer-joined');
    b.sendText(JSON.stringify({ type: 'join', room: id }));
    await Promise.all([expectMessage(b, 'joined'), peerJoined]);
    a.relayFrame = clientFrame(
      OPCODE_TEXT,
      Buffer.from(JSON.stringify({ type: 'signal', to: helloB.id, data: CANDIDATE })),
    );
    b.relayFrame = clientFrame(
      OPCODE_TEXT,
      Buffer.from(JSON.stringify({ type: 'signal', to: helloA.id, data: CANDIDATE })),
    );
    a.relayPrefix = b.relayPrefix = RELAY_PREFIX;
  } else if (command.server === 'peerjs') {
    // The server answers each registered id with OPEN; a CANDIDATE goes to `dst` with the
    // candidate as `payload`, as the PeerJS client sends it.
    await Promise.all([expectMessage(a, 'OPEN'), expectMessage(b, 'OPEN')]);
    const frame = (dst: string): Buffer =>
      clientFrame(
        OPCODE_TEXT,
        Buffer.from(JSON.stringify({ type: 'CANDIDATE', dst, payload: CANDIDATE })),
      );
    a.relayFrame = frame(idB);
    b.relayFrame = frame(idA);
    a.relayPrefix = b.relayPrefix = PEERJS_RELAY_PREFIX;
  } else if (command.server === 'y-webrtc') {
    // Subscriptions are not acknowledged; a ping after each is, and the server reads a socket's
    // frames in order, so the pong means the subscription is in.
    await Promise.all([a.upgraded, b.upgraded]);
    for (const conn of [a, b]) {
      conn.sendText(JSON.stringify({ type: 'subscribe', topics: [id] }));
      conn.sendText(JSON.stringify({ type: 'ping' }));
    }
    await Promise.all([expectMessage(a, 'pong'), expectMessage(b, 'pong')]);
    // As the y-webrtc client signals (unencrypted): the sender's id is the client's to give.
    const publish = (from: string, to: string): string =>
      JSON.stringify({
        type: 'publish',
        topic: id,
        data: { type: 'signal', from, to, signal: CANDIDATE },
      });
    // The server re-encodes the message with `clients` added; keys keep their order.
    const prefix = (from: string): Buffer => Buffer.from(publish(from, '').split(',"to"')[0]!);
    a.relayFrame = clientFrame(OPCODE_TEXT, Buffer.from(publish(idA, idB)));
    b.relayFrame = clientFrame(OPCODE_TEXT, Buffer.from(publish(idB, idA)));
    a.relayPrefix = b.echoPrefix = prefix(idB);
    b.relayPrefix = a.echoPrefix = prefix(idA);
  } else {
    await Promise.all([a.upgraded, b.upgraded]);
    // Same bytes as ours gets: the bare relay forwards them without looking.
    const frame = JSON.stringify({ type: 'signal', to: `p${'0'.repeat(16)}`, data: CANDIDATE });
    a.relayFrame = clientFrame(OPCODE_TEXT, Buffer.from(frame));
    b.relayFrame = a.relayFrame;
  }
  for (const conn of [a, b]) {
    conn.onText = (data, start, end) => onRelay(conn, data, start, end);
  }
  return { a, b };
}

async function ramp(command: Extract<WorkerCommand, { type: 'ramp' }>): Promise<WorkerReply> {
  let next = 0;
  let failedRooms = 0;
  let firstError: string | null = null;
  const deadline = Date.now() + command.timeoutMs;
  const lane = async (): Promise<void> => {
    while (next < command.rooms && Date.now() < deadline) {
      const index = next++;
      try {
        rooms.push(await withTimeout(openRoom(command, index), ROOM_TIMEOUT_MS, 'room setup'));
      } catch (error) {
        failedRooms++;
        firstError ??= (error as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: command.concurrency }, lane));
  failedRooms += command.rooms - next;
  return { type: 'ramped', sockets: rooms.length * 2, failedRooms, firstError };
}

/** Waits until every relay sent has arrived, or the drain timeout; returns how many never did. */
async function drain(): Promise<number> {
  const deadline = performance.now() + DRAIN_TIMEOUT_MS;
  while (received < sent && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const lost = sent - received;
  if (lost > 0) {
    for (const conn of conns) {
      conn.inFlight.length = 0;
      conn.head = 0;
    }
  }
  return lost;
}

function resetStep(): void {
  loopDelay.reset();
  histogram = new LatencyHistogram();
  sent = 0;
  received = 0;
  unexpected = 0;
  echoes = 0;
  firstUnexpected = null;
}

async function measured(start: number, end: number): Promise<WorkerReply> {
  const lost = await drain();
  return {
    type: 'measured',
    sent,
    received,
    lost,
    durationMs: end - start,
    histogram: Array.from(histogram.counts),
    unexpected,
    firstUnexpected,
    echoes,
    loopDelayMaxMs: loopDelay.max / 1e6,
  };
}

/**
 * Open loop: relays go out at `relaysPerSecond` whatever the answers do, round-robin over rooms,
 * alternating direction. Timers fire at best every ~1 ms, so each tick sends what is due.
 */
async function rate(command: Extract<WorkerCommand, { type: 'rate' }>): Promise<WorkerReply> {
  resetStep();
  const start = performance.now();
  const end = start + command.durationMs;
  let k = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      const due = Math.floor(((Math.min(now, end) - start) * command.relaysPerSecond) / 1000);
      while (k < due) {
        const room = rooms[k % rooms.length]!;
        send(Math.floor(k / rooms.length) % 2 === 0 ? room.a : room.b);
        k++;
      }
      if (now >= end) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  return measured(start, performance.now());
}

/** Closed loop: one relay in flight per direction per room, the next sent as each arrives. */
async function saturate(
  command: Extract<WorkerCommand, { type: 'saturate' }>,
): Promise<WorkerReply> {
  resetStep();
  const start = performance.now();
  refillUntil = start + command.durationMs;
  for (const room of rooms) {
    send(room.a);
    send(room.b);
  }
  await new Promise((resolve) => setTimeout(resolve, command.durationMs));
  // Count what arrived within the window: the drain after it is not throughput.
  const end = performance.now();
  const inWindow = received;
  refillUntil = -Infinity;
  const reply = await measured(start, end);
  return reply.type === 'measured' ? { ...reply, received: inWindow } : reply;
}

function reply(message: WorkerReply): void {
  process.send?.(message);
}

process.on('message', (command: WorkerCommand) => {
  const run = async (): Promise<WorkerReply> => {
    switch (command.type) {
      case 'ramp':
        return ramp(command);
      case 'rate':
        return rate(command);
      case 'saturate':
        return saturate(command);
      case 'close':
        for (const conn of conns) conn.socket.destroy();
        conns.length = 0;
        rooms.length = 0;
        return { type: 'closed' };
    }
  };
  void run().then(reply, (error: Error) => {
    console.error(error);
    process.exit(1);
  });
});
process.on('disconnect', () => process.exit(0));
reply({ type: 'ready' });
