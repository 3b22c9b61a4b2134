/**
 * Property-based tests of the protocol parsers (fast-check): whatever arrives, they never throw,
 * whatever they accept has the documented shape and nothing more, and accepting is stable under
 * a JSON round trip. Example-based tests of the same functions are in protocol.test.ts.
 */
import fc from 'fast-check';
import { mutated } from './testing/arbitraries.ts';
import { describe, expect, it } from 'vitest';
import {
  MAX_CANDIDATE_CHARS,
  MAX_SDP_CHARS,
  PEER_ID_PATTERN,
  ROOM_SIZE_RANGE,
  RESUME_TOKEN_PATTERN,
  ROOM_ID_PATTERN,
  parseClientMessage,
  parseServerMessage,
  parseSignalData,
  type ClientMessage,
  type IceServer,
  type ServerMessage,
  type SignalData,
} from './protocol.ts';

/** Runs per property; each run is microseconds. */
const RUNS = { numRuns: 1000 };

// ---- Generators of valid messages (and some just past the limits) ----

const roomId = fc.stringMatching(ROOM_ID_PATTERN);
const peerId = fc.stringMatching(PEER_ID_PATTERN);
const resumeToken = fc.stringMatching(RESUME_TOKEN_PATTERN);
const anyText = fc.string({ unit: 'binary', maxLength: 200 });
/** Sizes around a limit: the ones just under, at and over it. */
const around = (limit: number) => fc.integer({ min: limit - 2, max: limit + 2 });
const jsonObject = fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), {
  maxKeys: 5,
});

const sdpData = fc.record({
  type: fc.constantFrom('offer', 'answer'),
  sdp: fc.oneof(
    fc.string({ unit: 'binary', minLength: 1, maxLength: 300 }),
    around(MAX_SDP_CHARS).map((n) => 'v'.repeat(n)),
  ),
});
const candidateData = fc.record({
  type: fc.constant('candidate'),
  candidate: fc.record(
    {
      candidate: fc.oneof(
        anyText,
        around(MAX_CANDIDATE_CHARS).map((n) => 'c'.repeat(n)),
      ),
      sdpMLineIndex: fc.option(fc.nat(), { nil: null }),
      sdpMid: fc.option(fc.string({ maxLength: 66 }), { nil: null }),
    },
    { requiredKeys: ['candidate'] },
  ),
});
const peerInfoData = fc.record({
  type: fc.constant('peer-info'),
  info: fc.record({
    nat: fc.option(jsonObject, { nil: null }),
    view: fc.option(jsonObject, { nil: null }),
  }),
});
const signalData = fc.oneof(
  sdpData,
  candidateData,
  peerInfoData,
  fc.constant({ type: 'restart' }),
  fc.constant({ type: 'peer-info-request' }),
);

const clientMessage = fc.oneof(
  fc.record(
    { type: fc.constant('join'), room: roomId, resume: resumeToken },
    {
      requiredKeys: ['type', 'room'],
    },
  ),
  fc.record({ type: fc.constant('signal'), to: peerId, data: signalData }),
  fc.constant({ type: 'leave' }),
  fc.constant({ type: 'ping' }),
);

const iceServer = fc.record(
  {
    urls: fc.oneof(anyText, fc.array(anyText, { minLength: 1, maxLength: 3 })),
    username: anyText,
    credential: anyText,
  },
  { requiredKeys: ['urls'] },
);
const serverMessage = fc.oneof(
  fc.record({
    type: fc.constant('hello'),
    id: peerId,
    iceServers: fc.array(iceServer),
    limits: fc.record({
      maxFrameBytes: fc.integer({ min: 1024, max: 1 << 20 }),
      roomSize: fc.integer({ min: ROOM_SIZE_RANGE[0], max: ROOM_SIZE_RANGE[1] }),
      rateMessagesPerS: fc.nat(),
      rateBurst: fc.integer({ min: 1, max: 1000 }),
      rateBytesPerS: fc.nat(),
      rateBytesBurst: fc.constant(1 << 20),
    }),
  }),
  fc.record({
    type: fc.constant('joined'),
    room: roomId,
    id: peerId,
    peers: fc.array(peerId, { maxLength: 3 }),
    iceServers: fc.array(iceServer),
  }),
  fc.record({ type: fc.constantFrom('peer-joined', 'peer-left'), id: peerId }),
  fc.record({ type: fc.constant('signal'), from: peerId, data: signalData }),
  fc.record({
    type: fc.constant('error'),
    code: fc.constantFrom('unknown-peer', 'room-full'),
    message: anyText,
  }),
  fc.constant({ type: 'pong' }),
);

/** Texts a parser may be handed: anything, any JSON, valid messages, near misses. */
function frames(messages: fc.Arbitrary<object>): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ unit: 'binary' }),
    fc.json(),
    messages.map((message) => JSON.stringify(message)),
    mutated(messages).map((value) => JSON.stringify(value) ?? ''),
  );
}

// ---- The documented shapes, checked independently of the parsers ----

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
/** Exactly these own keys, in any order. */
const hasKeys = (value: object, keys: string[]) =>
  Object.keys(value).sort().join() === [...keys].sort().join();

function isWellFormedSignalData(data: SignalData): boolean {
  switch (data.type) {
    case 'offer':
    case 'answer':
      return (
        hasKeys(data, ['type', 'sdp']) && data.sdp.length >= 1 && data.sdp.length <= MAX_SDP_CHARS
      );
    case 'candidate': {
      const { candidate, sdpMLineIndex, sdpMid } = data.candidate;
      return (
        hasKeys(data, ['type', 'candidate']) &&
        hasKeys(data.candidate, ['candidate', 'sdpMLineIndex', 'sdpMid']) &&
        typeof candidate === 'string' &&
        candidate.length <= MAX_CANDIDATE_CHARS &&
        (sdpMLineIndex === null || (Number.isInteger(sdpMLineIndex) && sdpMLineIndex >= 0)) &&
        (sdpMid === null || (typeof sdpMid === 'string' && sdpMid.length <= 64))
      );
    }
    case 'peer-info':
      return (
        hasKeys(data, ['type', 'info']) &&
        hasKeys(data.info, ['nat', 'view']) &&
        (data.info.nat === null || isObject(data.info.nat)) &&
        (data.info.view === null || isObject(data.info.view))
      );
    case 'restart':
    case 'peer-info-request':
      return hasKeys(data, ['type']);
    default:
      return false;
  }
}

function isWellFormedClientMessage(message: ClientMessage): boolean {
  switch (message.type) {
    case 'join':
      return (
        ROOM_ID_PATTERN.test(message.room) &&
        (message.resume === undefined
          ? hasKeys(message, ['type', 'room'])
          : hasKeys(message, ['type', 'room', 'resume']) &&
            RESUME_TOKEN_PATTERN.test(message.resume))
      );
    case 'signal':
      return (
        hasKeys(message, ['type', 'to', 'data']) &&
        PEER_ID_PATTERN.test(message.to) &&
        isWellFormedSignalData(message.data)
      );
    case 'leave':
    case 'ping':
      return hasKeys(message, ['type']);
    default:
      return false;
  }
}

function areWellFormedIceServers(servers: readonly IceServer[]): boolean {
  return servers.every(
    (server) =>
      (typeof server.urls === 'string' ||
        (server.urls.length > 0 && server.urls.every((url) => typeof url === 'string'))) &&
      Object.keys(server).every((key) => ['urls', 'username', 'credential'].includes(key)),
  );
}

function isWellFormedServerMessage(message: ServerMessage): boolean {
  switch (message.type) {
    case 'hello':
      return (
        hasKeys(message, ['type', 'id', 'iceServers', 'limits']) &&
        message.limits.roomSize >= ROOM_SIZE_RANGE[0] &&
        message.limits.roomSize <= ROOM_SIZE_RANGE[1] &&
        PEER_ID_PATTERN.test(message.id) &&
        areWellFormedIceServers(message.iceServers)
      );
    case 'joined':
      return (
        hasKeys(message, ['type', 'room', 'id', 'peers', 'iceServers']) &&
        ROOM_ID_PATTERN.test(message.room) &&
        PEER_ID_PATTERN.test(message.id) &&
        message.peers.every((peer) => PEER_ID_PATTERN.test(peer)) &&
        areWellFormedIceServers(message.iceServers)
      );
    case 'peer-joined':
    case 'peer-left':
      return hasKeys(message, ['type', 'id']) && PEER_ID_PATTERN.test(message.id);
    case 'signal':
      return (
        hasKeys(message, ['type', 'from', 'data']) &&
        PEER_ID_PATTERN.test(message.from) &&
        isWellFormedSignalData(message.data)
      );
    case 'error':
      return (
        hasKeys(message, ['type', 'code', 'message']) &&
        (message.code === 'unknown-peer' || message.code === 'room-full') &&
        typeof message.message === 'string'
      );
    case 'pong':
      return hasKeys(message, ['type']);
    default:
      return false;
  }
}

/** Keys a message (or its `data`) may carry; extras drawn from elsewhere must drop. */
const KNOWN_KEYS = new Set([
  'type',
  'room',
  'resume',
  'to',
  'from',
  'data',
  'id',
  'peers',
  'iceServers',
]);
const KNOWN_KEYS_DATA = new Set(['type', 'sdp', 'candidate', 'info']);
const extraKeys = (known: Set<string>) =>
  fc.dictionary(
    fc.string({ minLength: 1, maxLength: 10 }).filter((key) => !known.has(key)),
    fc.jsonValue({ maxDepth: 2 }),
    { maxKeys: 4 },
  );

describe('parseClientMessage (properties)', () => {
  it('never throws, and anything it accepts has exactly the documented shape', () => {
    fc.assert(
      fc.property(frames(clientMessage), (text) => {
        const message = parseClientMessage(text);
        return message === null || isWellFormedClientMessage(message);
      }),
      RUNS,
    );
  });

  it('accepts every valid message, unless a field is over its size limit', () => {
    fc.assert(
      fc.property(clientMessage, (message) => {
        const parsed = parseClientMessage(JSON.stringify(message));
        const data = 'data' in message ? message.data : null;
        const oversized =
          (data?.type === 'offer' || data?.type === 'answer'
            ? data.sdp.length > MAX_SDP_CHARS
            : false) ||
          (data?.type === 'candidate'
            ? data.candidate.candidate.length > MAX_CANDIDATE_CHARS ||
              (data.candidate.sdpMid?.length ?? 0) > 64
            : false);
        return oversized ? parsed === null : parsed !== null;
      }),
      RUNS,
    );
  });

  it('gives the same message back after a JSON round trip of what it accepted', () => {
    fc.assert(
      fc.property(frames(clientMessage), (text) => {
        const message = parseClientMessage(text);
        if (message === null) return;
        expect(parseClientMessage(JSON.stringify(message))).toEqual(message);
      }),
      RUNS,
    );
  });

  it('drops unknown keys, at the top and inside the payload', () => {
    fc.assert(
      fc.property(
        clientMessage,
        extraKeys(KNOWN_KEYS),
        extraKeys(KNOWN_KEYS_DATA),
        (message, extra, extraInData) => {
          const plain = parseClientMessage(JSON.stringify(message));
          const padded =
            'data' in message
              ? { ...extra, ...message, data: { ...extraInData, ...message.data } }
              : { ...extra, ...message };
          expect(parseClientMessage(JSON.stringify(padded))).toEqual(plain);
        },
      ),
      RUNS,
    );
  });
});

describe('parseServerMessage (properties)', () => {
  it('never throws, and anything it accepts has exactly the documented shape', () => {
    fc.assert(
      fc.property(frames(serverMessage), (text) => {
        const message = parseServerMessage(text);
        return message === null || isWellFormedServerMessage(message);
      }),
      RUNS,
    );
  });

  it('gives the same message back after a JSON round trip of what it accepted', () => {
    fc.assert(
      fc.property(frames(serverMessage), (text) => {
        const message = parseServerMessage(text);
        if (message === null) return;
        expect(parseServerMessage(JSON.stringify(message))).toEqual(message);
      }),
      RUNS,
    );
  });

  it('drops unknown keys', () => {
    fc.assert(
      fc.property(serverMessage, extraKeys(KNOWN_KEYS), (message, extra) => {
        expect(parseServerMessage(JSON.stringify({ ...extra, ...message }))).toEqual(
          parseServerMessage(JSON.stringify(message)),
        );
      }),
      RUNS,
    );
  });
});

describe('parseSignalData (properties)', () => {
  it('never throws on any value, JSON or not', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.jsonValue(), mutated(signalData)), (value) => {
        const data = parseSignalData(value);
        return data === null || isWellFormedSignalData(data);
      }),
      RUNS,
    );
  });

  it('returns a fresh copy: changing the input afterwards changes nothing', () => {
    fc.assert(
      fc.property(signalData, (input) => {
        const value = JSON.parse(JSON.stringify(input)) as Record<string, unknown>;
        const data = parseSignalData(value);
        if (data === null) return;
        const before = JSON.stringify(data);
        const scribble = (object: unknown): void => {
          if (!isObject(object)) return;
          for (const key of Object.keys(object)) {
            scribble(object[key]);
            object[key] = 'changed';
          }
          object.added = true;
        };
        scribble(value);
        expect(JSON.stringify(data)).toBe(before);
      }),
      RUNS,
    );
  });
});
