import { EXAMPLE_LIMITS } from './testing/limits.ts';
import { describe, expect, it } from 'vitest';
import {
  CloseCode,
  MAX_FILE_BYTES,
  parseClientMessage,
  parseIceServers,
  parseServerMessage,
  parseSignalData,
  MAX_SDP_CHARS,
} from './protocol.ts';

const ROOM = 'k3Jd9_-aZQ0wE1rT5yU7iO';
const PEER = 'p0123456789abcdef';
const CANDIDATE = {
  type: 'candidate',
  candidate: {
    candidate: 'candidate:1 1 udp 1686052607 203.0.113.2 40000 typ srflx raddr 0.0.0.0 rport 0',
    sdpMLineIndex: 0,
    sdpMid: '0',
  },
};

describe('parseClientMessage', () => {
  it('accepts the three client messages and drops unknown keys', () => {
    expect(parseClientMessage(JSON.stringify({ type: 'join', room: ROOM, admin: true }))).toEqual({
      type: 'join',
      room: ROOM,
    });
    expect(parseClientMessage(JSON.stringify({ type: 'leave' }))).toEqual({ type: 'leave' });
    expect(parseClientMessage('{"type":"ping"}')).toEqual({ type: 'ping' });
    const resume = 'r'.repeat(22);
    expect(parseClientMessage(JSON.stringify({ type: 'join', room: ROOM, resume }))).toEqual({
      type: 'join',
      room: ROOM,
      resume,
    });
    const signal = { type: 'signal', to: PEER, from: 'pffffffffffffffff', data: CANDIDATE };
    expect(parseClientMessage(JSON.stringify(signal))).toEqual({
      type: 'signal',
      to: PEER,
      data: CANDIDATE,
    });
  });

  it.each([
    ['not JSON', '{"type":'],
    ['a JSON array', '[1,2]'],
    ['a JSON string', '"join"'],
    ['null', 'null'],
    ['an unknown type', '{"type":"list-rooms"}'],
    ['a short room id (< 128 bits)', '{"type":"join","room":"abc"}'],
    ['a room id with a slash', `{"type":"join","room":"${ROOM.slice(0, 21)}/"}`],
    ['a room id as a number', '{"type":"join","room":12345678901234567890123}'],
    ['a short resume token', `{"type":"join","room":"${ROOM}","resume":"abc"}`],
    ['a client-chosen peer id', `{"type":"signal","to":"bob","data":${JSON.stringify(CANDIDATE)}}`],
    ['a signal without data', `{"type":"signal","to":"${PEER}"}`],
    ['renegotiation (not used)', `{"type":"signal","to":"${PEER}","data":{"renegotiate":true}}`],
    [
      'an oversized SDP',
      JSON.stringify({
        type: 'signal',
        to: PEER,
        data: { type: 'offer', sdp: 'v'.repeat(MAX_SDP_CHARS + 1) },
      }),
    ],
  ])('rejects %s', (_, text) => {
    expect(parseClientMessage(text)).toBeNull();
  });
});

describe('parseSignalData', () => {
  it('accepts SDP and candidates, including end-of-candidates', () => {
    expect(parseSignalData({ type: 'answer', sdp: 'v=0\r\n' })).toEqual({
      type: 'answer',
      sdp: 'v=0\r\n',
    });
    expect(parseSignalData({ type: 'candidate', candidate: { candidate: '' } })).toEqual({
      type: 'candidate',
      candidate: { candidate: '', sdpMLineIndex: null, sdpMid: null },
    });
  });

  it("carries a peer's NAT report and diagnostics view as JSON objects", () => {
    const info = {
      nat: { ipv4: { family: 'IPv4', behaviour: 'endpoint-independent' } },
      view: { states: { iceConnectionState: 'connected' } },
    };
    expect(parseSignalData({ type: 'peer-info', info })).toEqual({ type: 'peer-info', info });
    expect(parseSignalData({ type: 'peer-info', info: { nat: null, view: null } })).not.toBeNull();
    expect(parseSignalData({ type: 'peer-info', info: { nat: 'cone', view: null } })).toBeNull();
    expect(parseSignalData({ type: 'peer-info', info: { nat: null, view: [1] } })).toBeNull();
    expect(parseSignalData({ type: 'peer-info', info: { view: null } })).toBeNull();
  });

  it('carries a restart request', () => {
    expect(parseSignalData({ type: 'restart', extra: 1 })).toEqual({ type: 'restart' });
  });

  it('rejects wrong field types', () => {
    expect(parseSignalData({ type: 'offer', sdp: 5 })).toBeNull();
    expect(
      parseSignalData({ type: 'candidate', candidate: { candidate: 'x', sdpMLineIndex: -1 } }),
    ).toBeNull();
    expect(parseSignalData({ type: 'candidate', candidate: 'x' })).toBeNull();
  });
});

describe('parseServerMessage', () => {
  it('reads what the server sends', () => {
    const limits = EXAMPLE_LIMITS;
    const hello = {
      type: 'hello',
      id: PEER,
      iceServers: [{ urls: 'stun:203.0.113.10:3478' }],
      limits,
    };
    expect(parseServerMessage(JSON.stringify(hello))).toEqual(hello);
    // Limits a page could not honour are refused, not guessed around.
    for (const bad of [
      { ...limits, roomSize: 17 },
      { ...limits, maxFrameBytes: 512 },
      { ...limits, rateBurst: 0 },
      { ...limits, rateBytesBurst: 1024 },
      { ...limits, rateMessagesPerS: 1.5 },
      { ...limits, maxFileBytes: 0 },
      { ...limits, maxFileBytes: '2GB' },
      null,
    ]) {
      expect(parseServerMessage(JSON.stringify({ ...hello, limits: bad }))).toBeNull();
    }
    // A server from before issue #11 does not say how large a file may be: the default holds.
    const older: Partial<typeof limits> = { ...limits };
    delete older.maxFileBytes;
    const parsed = parseServerMessage(JSON.stringify({ ...hello, limits: older }));
    expect(parsed).toEqual({ ...hello, limits: { ...older, maxFileBytes: MAX_FILE_BYTES } });
    const joined = {
      type: 'joined',
      room: ROOM,
      id: 'pfedcba9876543210',
      peers: [PEER],
      iceServers: [{ urls: 'turn:203.0.113.20:3478', username: '1:p', credential: 'c' }],
    };
    expect(parseServerMessage(JSON.stringify(joined))).toEqual(joined);
    expect(parseServerMessage(JSON.stringify({ ...joined, iceServers: undefined }))).toBeNull();
    expect(
      parseServerMessage(JSON.stringify({ type: 'joined', room: ROOM, peers: [] })),
    ).toBeNull();
    expect(parseServerMessage('{"type":"pong"}')).toEqual({ type: 'pong' });
    const error = { type: 'error', code: 'room-full', message: 'full' };
    expect(parseServerMessage(JSON.stringify(error))).toEqual(error);
  });

  it('rejects a signal without a server-stamped sender', () => {
    expect(parseServerMessage(JSON.stringify({ type: 'signal', data: CANDIDATE }))).toBeNull();
  });
});

describe('parseIceServers', () => {
  it('copies valid servers and rejects bad ones', () => {
    expect(parseIceServers([{ urls: ['stun:a', 'stun:b'] }])).toEqual([
      { urls: ['stun:a', 'stun:b'] },
    ]);
    expect(parseIceServers([{ urls: [] }])).toBeNull();
    expect(parseIceServers({ urls: 'stun:a' })).toBeNull();
  });
});

describe('CloseCode', () => {
  it('keeps the codes the page knows, distinct and in the application range', () => {
    expect(CloseCode).toEqual({
      MALFORMED: 4000,
      BINARY: 4001,
      OUT_OF_ORDER: 4002,
      ROOM_FULL: 4003,
      REPLACED: 4004,
      RATE_LIMITED: 4008,
      SLOW_READER: 4009,
    });
    const codes = Object.values(CloseCode);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(code >= 4000 && code <= 4999).toBe(true);
  });
});
