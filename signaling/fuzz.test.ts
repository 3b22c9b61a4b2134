/**
 * A socket-level fuzz run against a real server on 127.0.0.1: well over 10,000 hostile frames
 * from over a thousand sockets (malformed JSON, wrong types, unknown types, bad room ids, huge
 * frames, binary frames, invalid UTF-8, floods past the rate limit, signals out of order or to
 * peers in other rooms, a third person in a full room, hang-ups), while two people in another
 * room keep exchanging signals. Asserts that each bad socket gets its documented close code or
 * error, that the chat receives every signal in order and nothing else, and that the server
 * still serves afterwards with its counters matching what was sent.
 *
 * Reproducible: `FUZZ_SEED=<n>` replays a run (the seed is in the summary line).
 */
import fc from 'fast-check';
import { mutated } from './testing/arbitraries.ts';
import { mkdtempSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WebSocket, type RawData } from 'ws';
import {
  CloseCode,
  MAX_FRAME_BYTES,
  SIGNALING_PATH,
  parseClientMessage,
  type ServerMessage,
} from './protocol.ts';
import { createSignalingServer, SERVER_DEFAULTS, type SignalingServer } from './server.ts';

const SEED = Number(globalThis.process.env.FUZZ_SEED ?? 0x5eed);
/** Hostile sockets in the run, and how many are open at once. */
const SOCKETS = 1200;
const CONCURRENCY = 48;
/** Longest any one hostile socket may take to get its verdict, ms. */
const VERDICT_TIMEOUT_MS = 10_000;
/** One chat signal each way every this many ms: 10 per second each, half the rate limit. */
const CHAT_INTERVAL_MS = 100;
const BURST = SERVER_DEFAULTS.rateBurst;

const CHAT_ROOM = 'chatchatchatchatchat01';

/** The close reason the server gives with each app close code (server.ts). */
const REASONS: Record<number, readonly string[]> = {
  [CloseCode.MALFORMED]: ['malformed frame', 'frame nested too deep', 'frame has too many items'],
  [CloseCode.BINARY]: ['binary frames are not part of the protocol'],
  [CloseCode.OUT_OF_ORDER]: ['signal before join', 'already in a room'],
  [CloseCode.ROOM_FULL]: ['room is full'],
  [CloseCode.RATE_LIMITED]: ['rate limited'],
};

/** Seeded PRNG (mulberry32): the run's choices are a function of {@link SEED}. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = prng(SEED);
const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const roomId = () =>
  Array.from({ length: 22 }, () => pick([...'abcdefghijklmnopqrstuvwxyz0123456789_-'])).join('');
const peerId = () => `p${Array.from({ length: 16 }, () => pick([...'0123456789abcdef'])).join('')}`;

/** A frame as the hostile client puts it on the wire. */
type Frame = string | { binary: Buffer } | { invalidUtf8: Buffer };

/** What a hostile socket must see. */
type Verdict =
  | { close: number; roomFullError?: true }
  /** Stays open and gets this many `unknown-peer` errors; then it hangs up itself (1000). */
  | { unknownPeerErrors: number }
  /** It hangs up without a close frame; the server must just cope. */
  | { hangUp: true };

interface Scenario {
  kind: string;
  /** Join a fresh room of its own first (and wait for `joined`). */
  joinOwnRoom: boolean;
  /** Valid pings first: each must get its pong. */
  pings: number;
  frames: Frame[];
  verdict: Verdict;
}

// ---- Hostile payloads, each a pure function of the PRNG (and fast-check's seeded samples) ----

const OFFER = { type: 'offer', sdp: 'v=0\r\n' };
const VALID: readonly object[] = [
  { type: 'join', room: 'x'.repeat(22) },
  { type: 'signal', to: 'p0123456789abcdef', data: OFFER },
  {
    type: 'signal',
    to: 'p0123456789abcdef',
    data: {
      type: 'candidate',
      candidate: { candidate: 'candidate:1 1 udp 1 192.0.2.1 9 typ host' },
    },
  },
  {
    type: 'signal',
    to: 'p0123456789abcdef',
    data: { type: 'peer-info', info: { nat: null, view: {} } },
  },
  { type: 'leave' },
  { type: 'ping' },
];

/** Near misses: one value inside a valid message swapped for any JSON value. */
const nearMisses = fc
  .sample(mutated(fc.constantFrom(...VALID)), { seed: SEED, numRuns: 3000 })
  .map((value) => JSON.stringify(value))
  .filter((text) => parseClientMessage(text) === null);
const jsonJunk = fc
  .sample(fc.json(), { seed: SEED + 1, numRuns: 2000 })
  .filter((text) => parseClientMessage(text) === null);
const textJunk = fc
  .sample(fc.string({ unit: 'binary', maxLength: 300 }), { seed: SEED + 2, numRuns: 2000 })
  .filter((text) => parseClientMessage(text) === null);

function malformedJson(): string {
  const valid = JSON.stringify(pick(VALID));
  return pick([
    () => valid.slice(0, int(0, valid.length - 1)),
    () => pick(textJunk),
    () => pick(['', ' ', '{', '}', '[', 'undefined', 'NaN', '{"type":"join",}', "{'type':'ping'}"]),
    () => `${valid}${valid}`,
    () => '\ud800{"type":"ping"}', // a lone surrogate: sent as U+FFFD
    () => '['.repeat(int(1000, 20_000)), // deep nesting, within the frame limit
    () => deepPeerInfo(int(33, 6000)), // the frame that killed the server (issue #9)
    () => widePing(int(4100, 7500)), // cheap to send, dear to parse (issue #9)
  ])();
}

/** A well-formed signal whose peer-info view holds arrays nested `depth` deep. */
function deepPeerInfo(depth: number): string {
  const deep = `${'['.repeat(depth)}${']'.repeat(depth)}`;
  return `{"type":"signal","to":"p0123456789abcdef","data":{"type":"peer-info","info":{"nat":null,"view":{"d":${deep}}}}}`;
}

/** A ping with `keys` tiny extra keys (which a ping would drop): ~8 bytes a key. */
function widePing(keys: number): string {
  const extra = Array.from({ length: keys }, (_, i) => `"${i.toString(36)}":0`).join(',');
  return `{"type":"ping",${extra}}`;
}

function wrongTypes(): string {
  return random() < 0.7 ? pick(nearMisses) : pick(jsonJunk);
}

function unknownType(): string {
  const type = pick([
    'list-rooms',
    'rooms',
    'admin',
    'chat',
    'offer',
    'hello',
    'joined',
    'JOIN',
    'Join',
    'join ',
    '__proto__',
    'constructor',
    '',
    42,
    null,
    ['join'],
    { type: 'join' },
  ]);
  return JSON.stringify({ type, room: CHAT_ROOM, to: 'p0123456789abcdef', data: OFFER });
}

function badRoom(): string {
  const room = pick<unknown>([
    '',
    'abc',
    'a'.repeat(21),
    'a'.repeat(65),
    `${'a'.repeat(21)}/`,
    '../../../../etc/passwd',
    `${CHAT_ROOM} `,
    `${CHAT_ROOM}\u0000`,
    'é'.repeat(22),
    123,
    null,
    true,
    [CHAT_ROOM],
    { id: CHAT_ROOM },
  ]);
  const message: Record<string, unknown> = { type: 'join', room };
  if (random() < 0.3) message.resume = pick(['short', 42, 'R'.repeat(22)]);
  return JSON.stringify(message);
}

function huge(): Frame {
  const size = int(MAX_FRAME_BYTES + 1, 4 * MAX_FRAME_BYTES);
  if (random() < 0.2) return { binary: Buffer.alloc(size, 0x41) };
  const sdp = 'v'.repeat(size);
  return pick([
    () => 'x'.repeat(size),
    () => JSON.stringify({ type: 'signal', to: 'p0123456789abcdef', data: { type: 'offer', sdp } }),
    () => JSON.stringify({ type: 'join', room: CHAT_ROOM, pad: sdp }),
  ])();
}

function binary(): Frame {
  return {
    binary: pick([
      () => Buffer.from(JSON.stringify({ type: 'join', room: CHAT_ROOM })),
      () => Buffer.from(JSON.stringify({ type: 'ping' })),
      () => Buffer.from(Array.from({ length: int(1, 2000) }, () => int(0, 255))),
      () => Buffer.alloc(0),
    ])(),
  };
}

function invalidUtf8(): Frame {
  return {
    invalidUtf8: pick([
      Buffer.from([0xff]),
      Buffer.from([0xc3, 0x28]), // a lead byte without its continuation
      Buffer.from([0xc0, 0xaf]), // overlong encoding of '/'
      Buffer.from([0xed, 0xa0, 0x80]), // an encoded surrogate
      Buffer.concat([Buffer.from('{"type":"ping","x":"'), Buffer.from([0xfe]), Buffer.from('"}')]),
    ]),
  };
}

const signalTo = (to: string) => JSON.stringify({ type: 'signal', to, data: OFFER });

// ---- The run ----

const silent = pino({ level: 'silent' });
let server: SignalingServer;
let wsUrl: string;
let httpUrl: string;

beforeAll(async () => {
  server = createSignalingServer({
    stunPort: 0,
    iceServers: null,
    staticDir: mkdtempSync(join(tmpdir(), 'fuzz-page-')),
    logger: silent,
    // Every hostile socket comes from 127.0.0.1; the per-address cap has its own test.
    maxSocketsPerIp: 0,
    // The chat under attack is a conversation: a third person in it is turned away.
    roomCapacity: 2,
  });
  const { port } = await server.listen(0, '127.0.0.1');
  wsUrl = `ws://127.0.0.1:${port}${SIGNALING_PATH}`;
  httpUrl = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await server.close();
});

/** A socket that records everything it is told, and how it ends. */
class Recorder {
  readonly socket: WebSocket;
  readonly messages: ServerMessage[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: (() => void)[] = [];

  /** @param localAddress the loopback address to connect from (127.0.0.0/8), to be another client. */
  constructor(url: string, localAddress?: string) {
    this.socket = new WebSocket(url, localAddress === undefined ? {} : { localAddress });
    this.socket.on('error', () => {}); // first: EPIPE/ECONNRESET after a huge frame are expected
    this.opened = new Promise((resolve) => this.socket.once('open', () => resolve()));
    this.socket.on('message', (data: RawData) => {
      this.messages.push(JSON.parse(data.toString()) as ServerMessage);
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) =>
      this.socket.once('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        for (const wake of this.#waiters.splice(0)) wake();
      }),
    );
  }

  /** Resolves once `ready()` holds (checked on every message), or rejects after `timeoutMs`. */
  async until(ready: () => boolean, timeoutMs = VERDICT_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!ready()) {
      if (this.socket.readyState === WebSocket.CLOSED) throw new Error('closed while waiting');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  count(predicate: (message: ServerMessage) => boolean): number {
    return this.messages.filter(predicate).length;
  }

  send(frame: Frame): void {
    if (typeof frame === 'string') this.socket.send(frame);
    else if ('binary' in frame) this.socket.send(frame.binary, { binary: true });
    else this.socket.send(frame.invalidUtf8, { binary: false }); // ws does not validate this
  }
}

/** Two people chatting in {@link CHAT_ROOM} throughout the run. */
async function startChat() {
  const alice = new Recorder(wsUrl);
  const bob = new Recorder(wsUrl);
  await alice.until(() => alice.messages.length === 1);
  await bob.until(() => bob.messages.length === 1);
  const idOf = (r: Recorder) => (r.messages[0] as { id: string }).id;
  const ids = { alice: idOf(alice), bob: idOf(bob) };
  alice.send(JSON.stringify({ type: 'join', room: CHAT_ROOM }));
  await alice.until(() => alice.messages.length === 2);
  bob.send(JSON.stringify({ type: 'join', room: CHAT_ROOM }));
  await bob.until(() => bob.messages.length === 2);
  await alice.until(() => alice.messages.length === 3); // peer-joined
  alice.messages.splice(0);
  bob.messages.splice(0);

  let sent = 0;
  const timer = setInterval(() => {
    const seq = sent++;
    const [from, to] = seq % 2 === 0 ? [alice, ids.bob] : [bob, ids.alice];
    const candidate = `candidate:${seq} 1 udp 2122260223 192.0.2.${seq % 250} ${1024 + seq} typ host`;
    from.send(
      JSON.stringify({
        type: 'signal',
        to,
        data: { type: 'candidate', candidate: { candidate, sdpMLineIndex: 0, sdpMid: '0' } },
      }),
    );
  }, CHAT_INTERVAL_MS / 2);
  return {
    alice,
    bob,
    ids,
    /** Stops sending; resolves with how many signals were sent. */
    stop: () => {
      clearInterval(timer);
      return sent;
    },
  };
}

/** A random hostile scenario; `chatIds` are the two people's peer ids. */
function scenario(chatIds: readonly string[]): Scenario {
  const pings = int(0, 2);
  const base = { joinOwnRoom: false, pings };
  const trailing = () =>
    Array.from({ length: int(0, 3) }, () =>
      pick([
        () => JSON.stringify({ type: 'join', room: CHAT_ROOM }),
        () => signalTo(pick(chatIds)),
        () => JSON.stringify({ type: 'ping' }),
        () => malformedJson(),
      ])(),
    );
  const closeWith = (code: number, frame: Frame, kind: string): Scenario => ({
    ...base,
    kind,
    frames: [frame, ...trailing()],
    verdict: { close: code },
  });
  const roll = random();
  if (roll < 0.14) return closeWith(CloseCode.MALFORMED, malformedJson(), 'malformed JSON');
  if (roll < 0.3) return closeWith(CloseCode.MALFORMED, wrongTypes(), 'wrong types');
  if (roll < 0.38) return closeWith(CloseCode.MALFORMED, unknownType(), 'unknown type');
  if (roll < 0.46) return closeWith(CloseCode.MALFORMED, badRoom(), 'bad room id');
  if (roll < 0.52) return closeWith(1009, huge(), 'huge frame');
  if (roll < 0.59) return closeWith(CloseCode.BINARY, binary(), 'binary');
  if (roll < 0.64) return closeWith(1007, invalidUtf8(), 'invalid UTF-8');
  if (roll < 0.7) {
    // A signal before joining, even to someone who exists.
    const to = random() < 0.5 ? pick(chatIds) : peerId();
    return closeWith(CloseCode.OUT_OF_ORDER, signalTo(to), 'signal before join');
  }
  if (roll < 0.74) {
    return {
      ...base,
      kind: 'second join',
      joinOwnRoom: true,
      frames: [JSON.stringify({ type: 'join', room: pick([CHAT_ROOM, roomId()]) }), ...trailing()],
      verdict: { close: CloseCode.OUT_OF_ORDER },
    };
  }
  if (roll < 0.8) {
    const resume = random() < 0.5 ? { resume: roomId() } : {};
    return {
      ...base,
      kind: 'third person in the chat room',
      frames: [JSON.stringify({ type: 'join', room: CHAT_ROOM, ...resume }), ...trailing()],
      verdict: { close: CloseCode.ROOM_FULL, roomFullError: true },
    };
  }
  if (roll < 0.85) {
    // Past the burst within milliseconds: pings, or signals into other rooms once joined.
    const joinOwnRoom = random() < 0.4;
    const frame = () => (joinOwnRoom ? signalTo(pick(chatIds)) : '{"type":"ping"}');
    return {
      kind: joinOwnRoom ? 'flood of signals' : 'flood of pings',
      joinOwnRoom,
      pings: 0,
      // Twice the burst and more: even if the server took seconds over them, the bucket's refill
      // (20/s) could not cover the excess, so the verdict cannot depend on scheduling.
      frames: Array.from({ length: int(2 * BURST, 3 * BURST) }, frame),
      verdict: { close: CloseCode.RATE_LIMITED },
    };
  }
  if (roll < 0.97) {
    // Within the rate limit, so each gets its error and the socket stays.
    const count = int(5, Math.min(60, BURST - 10));
    return {
      ...base,
      kind: 'signals to peers in other rooms',
      joinOwnRoom: true,
      frames: Array.from({ length: count }, () =>
        signalTo(random() < 0.7 ? pick(chatIds) : peerId()),
      ),
      verdict: { unknownPeerErrors: count },
    };
  }
  return {
    ...base,
    kind: 'hang-up mid-conversation',
    frames: [JSON.stringify({ type: 'join', room: roomId() }), signalTo(pick(chatIds))],
    verdict: { hangUp: true },
  };
}

/** `unknown-peer` errors received in all, by sockets that stayed open. */
let unknownPeerErrors = 0;

/** Runs one hostile socket; returns its outcome label, or throws what it got wrong. */
async function runHostile(plan: Scenario): Promise<string> {
  const client = new Recorder(wsUrl);
  try {
    await client.until(() => client.messages.length >= 1);
    const hello = client.messages[0];
    if (hello?.type !== 'hello') throw new Error(`expected hello, got ${JSON.stringify(hello)}`);
    if (plan.joinOwnRoom) {
      client.send(JSON.stringify({ type: 'join', room: roomId() }));
      await client.until(() => client.count((m) => m.type === 'joined') === 1);
    }
    for (let i = 0; i < plan.pings; i++) client.send('{"type":"ping"}');
    for (const frame of plan.frames) client.send(frame);

    const { verdict } = plan;
    if ('hangUp' in verdict) {
      client.socket.terminate();
      return 'client hung up';
    }
    if ('unknownPeerErrors' in verdict) {
      const errors = () => client.count((m) => m.type === 'error' && m.code === 'unknown-peer');
      await client.until(() => errors() === verdict.unknownPeerErrors);
      expect(client.socket.readyState).toBe(WebSocket.OPEN);
      client.send('{"type":"leave"}');
      client.socket.close(1000);
      expect((await client.closed).code).toBe(1000);
      unknownPeerErrors += verdict.unknownPeerErrors;
      return '1000 (ours, after its unknown-peer errors)';
    }
    const closed = await Promise.race([
      client.closed,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('no close')), VERDICT_TIMEOUT_MS),
      ),
    ]);
    expect(closed.code).toBe(verdict.close);
    const reasons = REASONS[verdict.close];
    if (reasons) expect(reasons).toContain(closed.reason);
    const pongs = client.count((m) => m.type === 'pong');
    if (verdict.close === CloseCode.RATE_LIMITED) {
      expect(
        client.count((m) => m.type !== 'pong' && m.type !== 'error' && m.type !== 'hello'),
      ).toBe(plan.joinOwnRoom ? 1 : 0); // `joined`
      expect(pongs + client.count((m) => m.type === 'error')).toBeGreaterThanOrEqual(
        BURST - (plan.joinOwnRoom ? 1 : 0),
      );
    } else {
      expect(pongs).toBe(plan.pings);
    }
    if (verdict.roomFullError) {
      expect(client.messages).toContainEqual(
        expect.objectContaining({ type: 'error', code: 'room-full' }),
      );
    }
    expect(client.count((m) => m.type === 'signal' || m.type === 'peer-joined')).toBe(0);
    return String(verdict.close);
  } catch (error) {
    throw new Error(
      `${plan.kind}: ${(error as Error).message}; frames ${JSON.stringify(
        plan.frames.map((f) => (typeof f === 'string' ? f.slice(0, 120) : f)),
      ).slice(0, 600)}; got ${JSON.stringify(client.messages).slice(0, 400)}`,
    );
  } finally {
    client.socket.terminate();
  }
}

/** `name{labels} value` from a Prometheus text exposition; 0 when absent. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

it(`survives ${SOCKETS} hostile sockets while a chat in another room carries on`, async () => {
  const started = performance.now();
  const chat = await startChat();
  const chatIds = [chat.ids.alice, chat.ids.bob];
  const plans = Array.from({ length: SOCKETS }, () => scenario(chatIds));
  const outcomes = new Map<string, number>();
  const failures: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < plans.length) {
      const plan = plans[next++]!;
      try {
        const outcome = await runHostile(plan);
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const chatSent = chat.stop();

  // The chat: every signal arrived, in order, from the other person, and nothing else did.
  for (const [me, other, parity] of [
    [chat.bob, chat.ids.alice, 0],
    [chat.alice, chat.ids.bob, 1],
  ] as const) {
    const expected = Math.floor((chatSent - parity + 1) / 2);
    await me.until(() => me.messages.length >= expected, 5000);
    const seqs = me.messages.map((m) => {
      if (m.type !== 'signal' || m.from !== other || m.data.type !== 'candidate') {
        throw new Error(`the chat got ${JSON.stringify(m)}`);
      }
      return Number(/^candidate:(\d+) /.exec(m.data.candidate.candidate)?.[1]);
    });
    expect(seqs).toEqual(Array.from({ length: expected }, (_, i) => 2 * i + parity));
    expect(me.socket.readyState).toBe(WebSocket.OPEN);
  }
  expect(failures.slice(0, 5)).toEqual([]);

  // The server still serves: a new person can join a room, and it is healthy.
  const newcomer = new Recorder(wsUrl);
  await newcomer.until(() => newcomer.messages.length === 1);
  newcomer.send(JSON.stringify({ type: 'join', room: roomId() }));
  await newcomer.until(() => newcomer.messages.length === 2);
  expect(newcomer.messages[1]).toMatchObject({ type: 'joined', peers: [] });
  newcomer.socket.close();
  expect(await (await fetch(`${httpUrl}/healthz`)).text()).toBe('ok\n');

  // Its counters agree with what was sent: every refusal counted under its reason.
  const frames = plans.reduce(
    (sum, plan) => sum + plan.pings + plan.frames.length + (plan.joinOwnRoom ? 1 : 0),
    0,
  );
  let metrics = '';
  await expect
    .poll(async () => {
      metrics = await (await fetch(`${httpUrl}/metrics`)).text();
      return sample(metrics, 'signaling_sockets');
    })
    .toBe(2);
  const count = (code: number) => outcomes.get(String(code)) ?? 0;
  const reason = (name: string) => sample(metrics, `signaling_rejections_total{reason="${name}"}`);
  expect(reason('malformed') + reason('too-complex')).toBe(count(CloseCode.MALFORMED));
  expect(reason('binary')).toBe(count(CloseCode.BINARY));
  expect(reason('out-of-order')).toBe(count(CloseCode.OUT_OF_ORDER));
  expect(reason('room-full')).toBe(count(CloseCode.ROOM_FULL));
  expect(reason('rate-limited')).toBe(count(CloseCode.RATE_LIMITED));
  expect(reason('too-large')).toBe(count(1009));
  expect(reason('protocol-error')).toBe(count(1007));
  expect(reason('unknown-peer')).toBeGreaterThanOrEqual(unknownPeerErrors); // + the floods'
  expect(sample(metrics, 'signaling_frames_relayed_total')).toBe(chatSent);
  expect(frames).toBeGreaterThanOrEqual(10_000);

  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const byOutcome = [...outcomes]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([outcome, n]) => `${outcome}: ${n}`)
    .join(', ');
  console.log(
    `fuzz (seed ${SEED}): ${frames} hostile frames from ${SOCKETS} sockets in ${seconds} s; ` +
      `outcomes by close code: ${byOutcome}; ${unknownPeerErrors} unknown-peer errors to ` +
      `sockets that stayed open; chat: ${chatSent} signals, all delivered in order`,
  );
}, 60_000);

// ---- Resource attacks (issue #9): a bystander chat must stay prompt and memory bounded ----

/**
 * The bystander's app-level ping round trip may take at most this long at the 99th percentile
 * while the attacks run, ms. Before issue #9 wide frames alone held the server at 100% CPU and
 * this was 9 s; an idle server answers in ~1 ms. The bound leaves room for a loaded CI machine.
 */
const BYSTANDER_P99_MS = 500;
/**
 * The process's RSS may stay at most this far above its level before the attacks, bytes. Coarse:
 * the process holds the attackers' sockets too, and V8 keeps some heap it grew (seen: +17 to +44
 * MiB). What bounds the server's own queues is checked exactly by the stalled pairs below and by
 * server.test.ts (4009).
 */
const RSS_SLACK_BYTES = 128 * 1024 * 1024;
/** How long the attacks run, ms. */
const ATTACK_MS = 6000;
/** Slowloris connections opened from one address (the attack). */
const SLOWLORIS = 300;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

it('keeps a bystander prompt and memory bounded under deep, wide, non-reading and slowloris attacks', async () => {
  // `npm start` defaults, but a 2 s heartbeat so a non-reading socket goes within the run.
  const target = createSignalingServer({
    stunPort: 0,
    iceServers: null,
    staticDir: mkdtempSync(join(tmpdir(), 'attack-page-')),
    logger: silent,
    heartbeatIntervalMs: 2000,
  });
  const { port } = await target.listen(0, '127.0.0.1');
  const url = `ws://127.0.0.1:${port}${SIGNALING_PATH}`;
  const sockets: WebSocket[] = [];
  const tcp: import('node:net').Socket[] = [];
  /**
   * Opens a socket from `from` (each attack comes from its own loopback address, as attackers
   * and bystanders would from their own), waits for hello, optionally joins `room`.
   */
  const person = async (from: string, room?: string, { keep = true } = {}) => {
    const recorder = new Recorder(url, from);
    if (keep) sockets.push(recorder.socket); // the killers' the server closes; none pile up here
    await recorder.until(() => recorder.messages.length >= 1);
    const id = (recorder.messages[0] as { id: string }).id;
    if (room !== undefined) {
      recorder.send(JSON.stringify({ type: 'join', room }));
      await recorder.until(() => recorder.messages.some((m) => m.type === 'joined'));
    }
    return { recorder, id };
  };
  try {
    // The bystanders: Alice pings the server every 50 ms and times each pong.
    const alice = await person('127.0.0.1', 'bystanderbystanderbyst');
    await person('127.0.0.1', 'bystanderbystanderbyst');
    const rttsMs: number[] = [];
    let pinging = true;
    const pinger = (async () => {
      while (pinging) {
        const before = alice.recorder.count((m) => m.type === 'pong');
        const sentAt = performance.now();
        alice.recorder.send('{"type":"ping"}');
        await alice.recorder.until(() => alice.recorder.count((m) => m.type === 'pong') > before);
        rttsMs.push(performance.now() - sentAt);
        await sleep(50);
      }
    })();
    await sleep(500);
    const rssBefore = globalThis.process.memoryUsage().rss;
    const deadline = performance.now() + ATTACK_MS;
    const closes = new Map<string, number>();
    const closedWith = (code: number) =>
      closes.set(String(code), (closes.get(String(code)) ?? 0) + 1);

    // 1. The frames that killed or starved the server, one socket after another, all run long.
    const killers = (async () => {
      let n = 0;
      while (performance.now() < deadline) {
        const frame = n++ % 2 === 0 ? deepPeerInfo(4250) : widePing(8300);
        const { recorder } = await person('127.0.0.2', roomId(), { keep: false });
        recorder.send(frame);
        closedWith((await recorder.closed).code);
      }
    })();

    // 2. Fifteen sockets sending the widest frames within the bounds (~4,000 keys, ~31 KB) as
    // fast as the byte budget (32 KiB/s) lets them: the most parsing one socket can buy.
    const wide = (async () => {
      const frame = widePing(4000);
      const senders = await Promise.all(Array.from({ length: 15 }, () => person('127.0.0.3')));
      while (performance.now() < deadline) {
        for (const { recorder } of senders) recorder.send(frame);
        await sleep(1000);
      }
      for (const { recorder } of senders) {
        expect(recorder.socket.readyState, 'a sender within its budget was closed').toBe(
          WebSocket.OPEN,
        );
      }
    })();

    // 3. Two pairs where one stops reading, but sends a frame a second (as the attacker
    // did, so that a heartbeat counting frames as life would keep it), while the other sends it
    // 30 KB frames at the byte budget.
    const stalled = Array.from({ length: 2 }, async (_, i) => {
      const room = `stalledstalledstalled${i}`;
      const writer = await person('127.0.0.4', room);
      const reader = await person('127.0.0.4', room);
      const readerTcp = Reflect.get(reader.recorder.socket, '_socket') as import('node:net').Socket;
      readerTcp.pause();
      const alive = setInterval(() => reader.recorder.send('{"type":"ping"}'), 1000);
      const frame = JSON.stringify({
        type: 'signal',
        to: reader.id,
        data: { type: 'peer-info', info: { nat: null, view: { pad: 'x'.repeat(30_000) } } },
      });
      const left = () => writer.recorder.messages.some((m) => m.type === 'peer-left');
      while (performance.now() < deadline && !left()) {
        writer.recorder.send(frame);
        await sleep(1000);
      }
      clearInterval(alive);
      // Dropped well within the run: by the heartbeat (it answers no ping) or for its queue.
      expect(left(), 'the reader that stopped reading was never dropped').toBe(true);
      readerTcp.resume();
    });

    // 4. Slowloris: 300 connections from one address, each dribbling a header every second.
    // (The cap is per address: from this one, even a WebSocket upgrade now gets 429.)
    let refused = 0;
    const slowloris = Array.from(
      { length: SLOWLORIS },
      () =>
        new Promise<void>((resolve) => {
          const socket = tcpConnect({ port, host: '127.0.0.1', localAddress: '127.0.0.5' }, () =>
            socket.write('GET / HTTP/1.1\r\n'),
          );
          tcp.push(socket);
          const drip = setInterval(() => socket.write('X-Slow: 1\r\n'), 1000);
          socket.on('data', (chunk) => {
            if (chunk.toString().startsWith('HTTP/1.1 429')) refused++;
          });
          socket.on('error', () => {});
          socket.on('close', () => {
            clearInterval(drip);
            resolve();
          });
        }),
    );
    await sleep(2000);
    const held = tcp.filter((socket) => !socket.destroyed && socket.readyState === 'open').length;

    await Promise.all([killers, wide, ...stalled]);
    for (const socket of tcp) socket.destroy();
    await Promise.all(slowloris);
    pinging = false;
    await pinger;
    await sleep(1500);
    const rssAfter = globalThis.process.memoryUsage().rss;

    const sorted = [...rttsMs].sort((a, b) => a - b);
    const p99 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!;
    console.log(
      `attacks for ${ATTACK_MS} ms: killer frames closed by code ${JSON.stringify(Object.fromEntries(closes))}; ` +
        `slowloris ${held} of ${SLOWLORIS} held, ${refused} refused with 429; bystander ping ` +
        `p50 ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms ` +
        `(${sorted.length} pings); RSS ${(rssBefore / 2 ** 20).toFixed(0)} → ` +
        `${(rssAfter / 2 ** 20).toFixed(0)} MiB`,
    );
    expect(closes.get('4000') ?? 0).toBeGreaterThan(0);
    expect([...closes.keys()]).toEqual(['4000']);
    expect(held).toBeLessThanOrEqual(SERVER_DEFAULTS.maxHttpConnectionsPerIp);
    expect(refused).toBeGreaterThanOrEqual(SLOWLORIS - SERVER_DEFAULTS.maxHttpConnectionsPerIp);
    expect(p99, 'bystander ping p99, ms').toBeLessThan(BYSTANDER_P99_MS);
    expect(rssAfter - rssBefore, 'RSS growth, bytes').toBeLessThan(RSS_SLACK_BYTES);
    // And it still serves.
    expect(alice.recorder.socket.readyState).toBe(WebSocket.OPEN);
    expect(await (await fetch(`http://127.0.0.1:${port}/healthz`)).text()).toBe('ok\n');
  } finally {
    for (const socket of sockets) socket.terminate();
    for (const socket of tcp) socket.destroy();
    await target.close();
  }
}, 60_000);
