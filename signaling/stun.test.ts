import { randomBytes } from 'node:crypto';
import { createSocket, type Socket, type SocketOptions, type SocketType } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { networkInterfaces, platform } from 'node:os';
import { crc32 } from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  STUN_FINGERPRINT_XOR,
  STUN_METHOD_BINDING,
  StunAttributeType,
  decodeXorMappedAddress,
  encodeBindingSuccessResponse,
  encodeStunMessage,
  encodeXorMappedAddress,
  parseStunMessage,
  reflexiveAddressOf,
  respondToStunPacket,
  startStunResponder,
  startStunService,
  type StunAttribute,
  type StunMessage,
  type StunResponder,
  type StunServiceOptions,
  type TransportAddress,
} from './stun.ts';

/**
 * Bind errors to inject into the next udp6 sockets, one per socket, so the IPv6 fallback is
 * tested on every host, not only on one without IPv6. Empty unless a test fills it.
 */
const udp6BindFaults = vi.hoisted(() => ({ codes: [] as string[] }));
vi.mock('node:dgram', async (importOriginal) => {
  const dgram = await importOriginal<typeof import('node:dgram')>();
  return {
    ...dgram,
    createSocket(options: SocketOptions): Socket {
      const socket = dgram.createSocket(options);
      const code = options.type === 'udp6' ? udp6BindFaults.codes.shift() : undefined;
      if (code !== undefined) {
        // What a failed bind does: an async 'error' event, and no 'listening'.
        socket.bind = (() => {
          process.nextTick(() => socket.emit('error', Object.assign(new Error(code), { code })));
          return socket;
        }) as Socket['bind'];
      }
      return socket;
    },
  };
});

/** Hex as RFC 5769 prints it (spaces, line breaks) to bytes. */
function hex(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
}

// RFC 5769 §2.1–2.3, typed in from the RFC. The samples pad with 0x20, not zeros, on purpose.
const SAMPLE_TRANSACTION_ID = hex('b7 e7 a7 01 bc 34 d6 86 fa 87 df ae');
/** §2.1: Binding request with SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME, M-I, FINGERPRINT. */
const SAMPLE_REQUEST = hex(`
  00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
  00 24 00 04 6e 00 01 ff
  80 29 00 08 93 2f f9 b1 51 26 3b 36
  00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
  00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
  80 28 00 04 e5 7a 3b cf`);
/** §2.2: its XOR-MAPPED-ADDRESS (third line) is 192.0.2.1:32853. */
const SAMPLE_IPV4_RESPONSE = hex(`
  01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
  00 20 00 08 00 01 a1 47 e1 12 a6 43
  00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
  80 28 00 04 c0 7d 4c 96`);
/** §2.3: its XOR-MAPPED-ADDRESS is [2001:db8:1234:5678:11:2233:4455:6677]:32853. */
const SAMPLE_IPV6_RESPONSE = hex(`
  01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
  00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
  00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
  80 28 00 04 c8 fb 0b 4c`);

const SAMPLE_MAPPED_ADDRESSES = [
  {
    name: '§2.2 IPv4',
    response: SAMPLE_IPV4_RESPONSE,
    mapped: { family: 'IPv4', address: '192.0.2.1', port: 32853 },
    attribute: hex('00 20 00 08 00 01 a1 47 e1 12 a6 43'),
  },
  {
    name: '§2.3 IPv6',
    response: SAMPLE_IPV6_RESPONSE,
    mapped: { family: 'IPv6', address: '2001:db8:1234:5678:11:2233:4455:6677', port: 32853 },
    attribute: hex('00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9'),
  },
] satisfies {
  name: string;
  response: Uint8Array;
  mapped: TransportAddress;
  attribute: Uint8Array;
}[];

const CLIENT: TransportAddress = { family: 'IPv4', address: '192.0.2.1', port: 32853 };

function bindingRequest(
  attributes: StunAttribute[] = [],
  overrides: Partial<Omit<StunMessage, 'hasFingerprint'>> = {},
  fingerprint = false,
): Uint8Array {
  return encodeStunMessage(
    {
      method: STUN_METHOD_BINDING,
      messageClass: 'request',
      transactionId: Uint8Array.from(randomBytes(12)),
      attributes,
      ...overrides,
    },
    { fingerprint },
  );
}

function attributeOf(message: StunMessage, type: number): Uint8Array | undefined {
  return message.attributes.find((attribute) => attribute.type === type)?.value;
}

/** Parses a reply that must be a valid, fingerprinted Binding response to `transactionId`. */
function parseReply(reply: Uint8Array | null, transactionId: Uint8Array): StunMessage {
  expect(reply).not.toBeNull();
  const message = parseStunMessage(reply ?? new Uint8Array());
  expect(message).not.toBeNull();
  expect(message?.method).toBe(STUN_METHOD_BINDING);
  expect(message?.transactionId).toEqual(transactionId);
  expect(message?.hasFingerprint).toBe(true);
  return message as StunMessage;
}

function mappedAddressOf(message: StunMessage): TransportAddress | null {
  const value = attributeOf(message, StunAttributeType.XOR_MAPPED_ADDRESS);
  return value === undefined ? null : decodeXorMappedAddress(value, message.transactionId);
}

/** Deterministic PRNG (mulberry32) so a fuzz failure reproduces. */
function prng(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

describe('RFC 5769 test vectors', () => {
  it('parses the §2.1 sample request as a Binding request with a valid FINGERPRINT', () => {
    const message = parseStunMessage(SAMPLE_REQUEST);
    expect(message).toMatchObject({
      method: STUN_METHOD_BINDING,
      messageClass: 'request',
      transactionId: SAMPLE_TRANSACTION_ID,
      hasFingerprint: true,
    });
    expect(message?.attributes.map(({ type }) => type)).toEqual([
      0x8022, 0x0024, 0x8029, 0x0006, 0x0008, 0x8028,
    ]);
    expect(new TextDecoder().decode(attributeOf(message as StunMessage, 0x0006))).toBe('evtj:h6vY');
  });

  it.each(SAMPLE_MAPPED_ADDRESSES)(
    'parses the $name sample response with a valid FINGERPRINT',
    ({ response }) => {
      expect(parseStunMessage(response)).toMatchObject({
        method: STUN_METHOD_BINDING,
        messageClass: 'success',
        transactionId: SAMPLE_TRANSACTION_ID,
        hasFingerprint: true,
      });
    },
  );

  it.each(SAMPLE_MAPPED_ADDRESSES)(
    "decodes the $name sample's XOR-MAPPED-ADDRESS",
    ({ response, mapped }) => {
      expect(mappedAddressOf(parseStunMessage(response) as StunMessage)).toEqual(mapped);
    },
  );

  it.each(SAMPLE_MAPPED_ADDRESSES)(
    "encodes the $name address to exactly the sample's attribute bytes",
    ({ mapped, attribute }) => {
      expect(encodeXorMappedAddress(mapped, SAMPLE_TRANSACTION_ID)).toEqual(attribute.subarray(4));
      const response = encodeBindingSuccessResponse(SAMPLE_TRANSACTION_ID, mapped);
      expect(response.subarray(20, 20 + attribute.byteLength)).toEqual(attribute);
    },
  );

  it.each([
    { name: '§2.1 request', sample: SAMPLE_REQUEST },
    ...SAMPLE_MAPPED_ADDRESSES.map(({ name, response }) => ({ name, sample: response })),
  ])('never passes the $name sample with a flipped bit as fingerprint-valid', ({ sample }) => {
    for (let bit = 0; bit < sample.byteLength * 8; bit++) {
      const corrupted = sample.slice();
      corrupted[bit >> 3] = (corrupted[bit >> 3] ?? 0) ^ (0x80 >> (bit & 7));
      // CRC-32 catches every single-bit error (§14.7), but a flipped attribute-length bit can
      // stretch an earlier attribute over the FINGERPRINT, leaving a well-formed message without
      // one. FINGERPRINT protects only a receiver that requires it; this server does not (§7).
      expect(parseStunMessage(corrupted)?.hasFingerprint ?? false, `bit ${bit}`).toBe(false);
    }
  });

  it('answers the §2.1 sample request with its transaction id and the source address', () => {
    const reply = parseReply(respondToStunPacket(SAMPLE_REQUEST, CLIENT), SAMPLE_TRANSACTION_ID);
    expect(reply.messageClass).toBe('success');
    // Only XOR-MAPPED-ADDRESS and FINGERPRINT: 20 + 12 + 8 bytes.
    expect(reply.attributes.map(({ type }) => type)).toEqual([0x0020, 0x8028]);
    expect(mappedAddressOf(reply)).toEqual(CLIENT);
  });
});

describe('respondToStunPacket', () => {
  const bare = bindingRequest();
  const withHeader = (patch: (view: DataView) => void, bytes = bare.slice()) => {
    patch(new DataView(bytes.buffer));
    return bytes;
  };
  const fingerprinted = bindingRequest([], {}, true);

  it('answers a bare Binding request (what browsers send for srflx) with the source', () => {
    const reply = parseReply(respondToStunPacket(bare, CLIENT), bare.subarray(8, 20));
    expect(reply.messageClass).toBe('success');
    expect(mappedAddressOf(reply)).toEqual(CLIENT);
  });

  it.each([
    { name: 'an empty datagram', packet: new Uint8Array() },
    { name: 'a 1-byte datagram', packet: Uint8Array.of(0x00) },
    { name: 'a truncated header (19 bytes)', packet: bare.subarray(0, 19) },
    { name: 'text', packet: new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n') },
    { name: 'the top two type bits set (RTP)', packet: withHeader((v) => v.setUint8(0, 0x80)) },
    { name: 'a bad magic cookie', packet: withHeader((v) => v.setUint32(4, 0x2112a443)) },
    { name: 'an RFC 3489 request (no cookie)', packet: withHeader((v) => v.setUint32(4, 0)) },
    {
      name: 'a length not a multiple of 4',
      packet: withHeader((v) => v.setUint16(2, 2), Uint8Array.from([...bare, 0, 0])),
    },
    { name: 'a length past the end', packet: withHeader((v) => v.setUint16(2, 4)) },
    { name: 'trailing bytes after the length', packet: Uint8Array.from([...bare, 0, 0, 0, 0]) },
    { name: 'a truncated request', packet: SAMPLE_REQUEST.subarray(0, 96) },
    {
      name: 'an attribute running past the end',
      packet: withHeader(
        (v) => {
          v.setUint16(2, 8);
          v.setUint16(20, 0x8022);
          v.setUint16(22, 8);
        },
        Uint8Array.from([...bare, ...new Uint8Array(8)]),
      ),
    },
    {
      name: 'a wrong FINGERPRINT',
      packet: withHeader((v) => v.setUint32(24, v.getUint32(24) ^ 1), fingerprinted.slice()),
    },
    {
      name: 'a FINGERPRINT that is not last',
      packet: withHeader(
        (v) => {
          v.setUint16(2, v.getUint16(2) + 4);
          v.setUint16(28, 0x8022);
          // A correct CRC for the new length, so only the position is wrong.
          v.setUint32(24, (crc32(new Uint8Array(v.buffer, 0, 20)) ^ STUN_FINGERPRINT_XOR) >>> 0);
        },
        Uint8Array.from([...fingerprinted, 0, 0, 0, 0]),
      ),
    },
    { name: 'a Binding indication', packet: bindingRequest([], { messageClass: 'indication' }) },
    { name: 'a Binding success response (§2.2)', packet: SAMPLE_IPV4_RESPONSE },
    { name: 'a Binding error response', packet: bindingRequest([], { messageClass: 'error' }) },
    { name: 'an Allocate request (TURN)', packet: bindingRequest([], { method: 0x003 }) },
  ])('ignores $name', ({ packet }) => {
    expect(respondToStunPacket(packet, CLIENT)).toBeNull();
  });

  it('ignores a source it cannot answer (port 0, or not an IP literal)', () => {
    expect(respondToStunPacket(bare, { ...CLIENT, port: 0 })).toBeNull();
    expect(respondToStunPacket(bare, { ...CLIENT, address: 'example.org' })).toBeNull();
    expect(respondToStunPacket(bare, { ...CLIENT, family: 'IPv6' })).toBeNull();
  });

  it('answers an IPv4-mapped IPv6 source with an IPv4 XOR-MAPPED-ADDRESS', () => {
    const source: TransportAddress = { family: 'IPv6', address: '::ffff:192.0.2.1', port: 32853 };
    const reply = parseReply(respondToStunPacket(bare, source), bare.subarray(8, 20));
    expect(mappedAddressOf(reply)).toEqual(CLIENT);
    // Family byte 0x01 on the wire, not 0x02 with a mapped address.
    expect(attributeOf(reply, StunAttributeType.XOR_MAPPED_ADDRESS)?.[1]).toBe(0x01);
  });

  it('answers an IPv6 source in RFC 5952 form, without its zone', () => {
    const source: TransportAddress = { family: 'IPv6', address: 'FE80:0::0:1%eth0', port: 5000 };
    const reply = parseReply(respondToStunPacket(bare, source), bare.subarray(8, 20));
    expect(mappedAddressOf(reply)).toEqual({ family: 'IPv6', address: 'fe80::1', port: 5000 });
  });

  it('answers 420 listing unknown comprehension-required attributes once each (§6.3.1)', () => {
    const empty = new Uint8Array();
    const request = bindingRequest(
      [
        { type: 0x7fff, value: empty },
        { type: 0x0003, value: new Uint8Array(4) }, // CHANGE-REQUEST: RFC 5780 not implemented
        { type: 0x7fff, value: Uint8Array.of(1) },
        { type: 0xc001, value: empty }, // comprehension-optional: never listed
      ],
      {},
      true,
    );
    const reply = parseReply(respondToStunPacket(request, CLIENT), request.subarray(8, 20));
    expect(reply.messageClass).toBe('error');
    expect(attributeOf(reply, StunAttributeType.ERROR_CODE)).toEqual(
      Uint8Array.from([0, 0, 4, 20, ...new TextEncoder().encode('Unknown Attribute')]),
    );
    expect(attributeOf(reply, StunAttributeType.UNKNOWN_ATTRIBUTES)).toEqual(hex('7f ff 00 03'));
    expect(mappedAddressOf(reply)).toBeNull();
  });

  it('ignores unknown comprehension-optional attributes and anything after MESSAGE-INTEGRITY', () => {
    const request = bindingRequest([
      { type: 0xc001, value: Uint8Array.of(1, 2, 3) },
      { type: StunAttributeType.MESSAGE_INTEGRITY, value: new Uint8Array(20) },
      { type: 0x7fff, value: new Uint8Array() }, // §14.5: ignored after MESSAGE-INTEGRITY
    ]);
    const reply = parseReply(respondToStunPacket(request, CLIENT), request.subarray(8, 20));
    expect(reply.messageClass).toBe('success');
  });

  it('stays silent to an indication with unknown comprehension-required attributes (§6.3.2)', () => {
    const indication = bindingRequest([{ type: 0x7fff, value: new Uint8Array() }], {
      messageClass: 'indication',
    });
    expect(respondToStunPacket(indication, CLIENT)).toBeNull();
  });

  it('never throws on random or mutated datagrams, and only ever answers Binding requests', () => {
    const random = prng(5769);
    const byte = () => Math.floor(random() * 256);
    for (let round = 0; round < 20_000; round++) {
      let packet: Uint8Array;
      if (round % 3 === 0) {
        packet = Uint8Array.from({ length: Math.floor(random() * 120) }, byte);
      } else {
        // Start from valid messages so the fuzz gets past the header checks.
        packet = (round % 3 === 1 ? SAMPLE_REQUEST : bare).slice();
        for (let edits = 1 + Math.floor(random() * 3); edits > 0; edits--) {
          packet[Math.floor(random() * packet.byteLength)] = byte();
        }
        packet = packet.subarray(0, Math.floor(random() * (packet.byteLength + 1)));
      }
      const reply = respondToStunPacket(packet, CLIENT);
      if (reply !== null) {
        const parsed = parseReply(reply, packet.subarray(8, 20));
        expect(parseStunMessage(packet)?.messageClass).toBe('request');
        expect(['success', 'error']).toContain(parsed.messageClass);
      }
    }
  });
});

describe('XOR-MAPPED-ADDRESS and message encoding', () => {
  const transactionId = Uint8Array.from(randomBytes(12));

  it.each([
    { family: 'IPv4', address: '0.0.0.0', port: 1 },
    { family: 'IPv4', address: '255.255.255.255', port: 65535 },
    { family: 'IPv6', address: '::', port: 3478 },
    { family: 'IPv6', address: '::1', port: 3478 },
    { family: 'IPv6', address: '2001:db8::', port: 3478 },
    { family: 'IPv6', address: '1:0:0:2::3', port: 3478 },
    { family: 'IPv6', address: '2001:db8:0:1:1:1:1:1', port: 3478 },
    { family: 'IPv6', address: '::ffff:1.2.3.4', port: 3478 },
  ] satisfies TransportAddress[])('round-trips $address:$port', (mapped) => {
    expect(
      decodeXorMappedAddress(encodeXorMappedAddress(mapped, transactionId), transactionId),
    ).toEqual(mapped);
  });

  it('normalises IPv6 text to RFC 5952 form', () => {
    expect(
      reflexiveAddressOf({ family: 'IPv6', address: '2001:DB8:0:0:1:0:0:1', port: 1 }),
    ).toEqual({
      family: 'IPv6',
      address: '2001:db8::1:0:0:1',
      port: 1,
    });
    expect(reflexiveAddressOf({ family: 'IPv6', address: '1::5.6.7.8', port: 1 })?.address).toBe(
      '1::506:708',
    );
  });

  it('decodes a value of the wrong length or family as null', () => {
    expect(decodeXorMappedAddress(hex('00 01 a1 47 e1 12 a6'), transactionId)).toBeNull();
    expect(decodeXorMappedAddress(hex('00 02 a1 47 e1 12 a6 43'), transactionId)).toBeNull();
    expect(decodeXorMappedAddress(hex('00 03 a1 47 e1 12 a6 43'), transactionId)).toBeNull();
    expect(decodeXorMappedAddress(hex('00 01'), transactionId)).toBeNull();
    expect(decodeXorMappedAddress(hex('00 01 a1 47 e1 12 a6 43'), new Uint8Array(4))).toBeNull();
  });

  it('refuses to encode bad values with RangeError', () => {
    expect(() => encodeXorMappedAddress({ ...CLIENT, port: 65536 }, transactionId)).toThrow(
      RangeError,
    );
    expect(() => encodeXorMappedAddress({ ...CLIENT, address: '::1' }, transactionId)).toThrow(
      RangeError,
    );
    expect(() => encodeXorMappedAddress(CLIENT, new Uint8Array(11))).toThrow(RangeError);
    expect(() => bindingRequest([], { method: 0x1000 })).toThrow(RangeError);
    expect(() => bindingRequest([{ type: 0x8022, value: new Uint8Array(65_536) }])).toThrow(
      RangeError,
    );
    expect(() =>
      bindingRequest([{ type: 0x8022, value: new Uint8Array(65_532) }], {}, true),
    ).toThrow(RangeError);
  });

  it('zero-pads attribute values to 4 bytes and keeps their real length', () => {
    const request = bindingRequest([{ type: 0x8022, value: new TextEncoder().encode('abcde') }]);
    expect(request.byteLength).toBe(20 + 4 + 8);
    expect(request.subarray(20)).toEqual(hex('80 22 00 05 61 62 63 64 65 00 00 00'));
    expect(parseStunMessage(request)?.attributes[0]?.value.byteLength).toBe(5);
  });
});

// --- sockets ---------------------------------------------------------------------------------

/** How long "nothing came back" waits after the last expected reply, ms. Loopback is sub-ms. */
const QUIET_PERIOD_MS = 150;
/** How long to wait for an expected reply before failing, ms. */
const REPLY_TIMEOUT_MS = 2_000;

/** Detected, not guessed: containers often run without IPv6, even on loopback. */
const hasIpv6Loopback = await new Promise<boolean>((resolve, reject) => {
  const probe = createSocket({ type: 'udp6', ipv6Only: true });
  probe.once('error', (error: NodeJS.ErrnoException) => {
    probe.close();
    if (error.code === 'EADDRNOTAVAIL' || error.code === 'EAFNOSUPPORT') resolve(false);
    else reject(error);
  });
  probe.bind({ address: '::1', port: 0 }, () => probe.close(() => resolve(true)));
});

const openSockets: Socket[] = [];
const openResponders: StunResponder[] = [];

afterEach(async () => {
  udp6BindFaults.codes = [];
  await Promise.all(openResponders.splice(0).map((responder) => responder.close()));
  await Promise.all(
    openSockets.splice(0).map((socket) => new Promise<void>((done) => socket.close(() => done()))),
  );
});

async function start(host: string, port = 0): Promise<StunResponder> {
  const responder = await startStunResponder({ host, port });
  openResponders.push(responder);
  return responder;
}

interface Client {
  readonly self: TransportAddress;
  readonly received: Buffer[];
  send(packet: Uint8Array, to: TransportAddress): void;
  /** Resolves with the first datagram carrying `transactionId`; rejects after the timeout. */
  replyTo(transactionId: Uint8Array): Promise<Buffer>;
}

async function client(type: SocketType, address: string): Promise<Client> {
  const socket = createSocket({ type, ipv6Only: type === 'udp6' });
  openSockets.push(socket);
  const received: Buffer[] = [];
  const waiters = new Set<() => void>();
  socket.on('message', (packet) => {
    received.push(packet);
    for (const waiter of waiters) waiter();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address, port: 0 }, resolve);
  });
  const { port } = socket.address();
  return {
    self: { family: type === 'udp4' ? 'IPv4' : 'IPv6', address, port },
    received,
    send: (packet, to) => socket.send(packet, to.port, to.address),
    replyTo: (transactionId) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const match = received.find((packet) =>
            Buffer.from(transactionId).equals(packet.subarray(8, 20)),
          );
          if (match === undefined) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(match);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no reply within ${REPLY_TIMEOUT_MS} ms`));
        }, REPLY_TIMEOUT_MS);
        waiters.add(check);
        check();
      }),
  };
}

/** Sends a fresh Binding request and asserts the reply reflects the client's own address. */
async function expectReflected(from: Client, to: TransportAddress): Promise<void> {
  const request = bindingRequest([], {}, true);
  from.send(request, to);
  const reply = parseReply(await from.replyTo(request.subarray(8, 20)), request.subarray(8, 20));
  expect(reply.messageClass).toBe('success');
  expect(mappedAddressOf(reply)).toEqual(from.self);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('startStunResponder', () => {
  it('binds 127.0.0.1 port 0, reports the real port, and answers the RFC 5769 sample', async () => {
    const responder = await start('127.0.0.1');
    expect(responder.addresses).toEqual([
      { family: 'IPv4', address: '127.0.0.1', port: expect.any(Number) },
    ]);
    const [server] = responder.addresses;
    expect(server?.port).toBeGreaterThan(0);

    const alice = await client('udp4', '127.0.0.1');
    alice.send(SAMPLE_REQUEST, server as TransportAddress);
    const reply = parseReply(await alice.replyTo(SAMPLE_TRANSACTION_ID), SAMPLE_TRANSACTION_ID);
    expect(reply.messageClass).toBe('success');
    expect(mappedAddressOf(reply)).toEqual(alice.self);
  });

  it('sends nothing back for garbage or a 1-byte packet, and keeps answering', async () => {
    const [server] = (await start('127.0.0.1')).addresses as [TransportAddress];
    const alice = await client('udp4', '127.0.0.1');
    alice.send(new TextEncoder().encode('not stun at all, just some bytes'), server);
    alice.send(Uint8Array.of(0x01), server);
    alice.send(new Uint8Array(), server);
    await expectReflected(alice, server);
    await sleep(QUIET_PERIOD_MS);
    expect(alice.received).toHaveLength(1);
  });

  it.skipIf(!hasIpv6Loopback)('binds ::1 and answers over IPv6', async () => {
    const responder = await start('::1');
    const [server] = responder.addresses as [TransportAddress];
    expect(server).toMatchObject({ family: 'IPv6', address: '::1' });
    await expectReflected(await client('udp6', '::1'), server);
  });

  it('binds 0.0.0.0 as udp4, plus udp6 on the same port where IPv6 exists', async () => {
    const responder = await start('0.0.0.0');
    const [udp4, udp6] = responder.addresses;
    expect(udp4).toMatchObject({ family: 'IPv4', address: '0.0.0.0' });
    await expectReflected(await client('udp4', '127.0.0.1'), {
      ...(udp4 as TransportAddress),
      address: '127.0.0.1',
    });
    // IPv6 disabled on every interface still lets `::` bind, so no ::1 does not imply one socket.
    if (udp6 !== undefined || hasIpv6Loopback) {
      expect(udp6).toEqual({ family: 'IPv6', address: '::', port: udp4?.port });
    }
    expect(responder.addresses.length).toBeLessThanOrEqual(2);
    if (!hasIpv6Loopback) return;
    await expectReflected(await client('udp6', '::1'), {
      ...(udp6 as TransportAddress),
      address: '::1',
    });
  });

  it.each(['EAFNOSUPPORT', 'EADDRNOTAVAIL'])(
    'on 0.0.0.0 runs IPv4-only when udp6 fails with %s (no IPv6 on this host)',
    async (code) => {
      udp6BindFaults.codes = [code];
      const responder = await start('0.0.0.0');
      expect(responder.addresses).toEqual([
        { family: 'IPv4', address: '0.0.0.0', port: expect.any(Number) },
      ]);
      const [udp4] = responder.addresses as [TransportAddress];
      await expectReflected(await client('udp4', '127.0.0.1'), { ...udp4, address: '127.0.0.1' });
    },
  );

  it('on 0.0.0.0 port 0, moves to a new port when IPv6 already has the udp4 one', async () => {
    udp6BindFaults.codes = ['EADDRINUSE'];
    const responder = await start('0.0.0.0');
    expect(udp6BindFaults.codes).toEqual([]);
    const [udp4, udp6] = responder.addresses;
    expect(udp4?.family).toBe('IPv4');
    if (udp6 !== undefined) expect(udp6.port).toBe(udp4?.port);
  });

  it('on 0.0.0.0 rejects any other udp6 bind error, releasing the udp4 socket', async () => {
    const [free] = (await start('127.0.0.1')).addresses as [TransportAddress];
    await openResponders.pop()?.close();
    udp6BindFaults.codes = ['EACCES'];
    await expect(startStunResponder({ host: '0.0.0.0', port: free.port })).rejects.toMatchObject({
      code: 'EACCES',
    });
    expect((await start('0.0.0.0', free.port)).addresses[0]?.port).toBe(free.port);
  });

  it('rejects with EADDRINUSE when the port is taken', async () => {
    const [taken] = (await start('127.0.0.1')).addresses as [TransportAddress];
    await expect(startStunResponder({ host: '127.0.0.1', port: taken.port })).rejects.toMatchObject(
      { code: 'EADDRINUSE' },
    );
  });

  it.skipIf(!hasIpv6Loopback)(
    'on 0.0.0.0 with a fixed port taken on IPv6 only, rejects and releases the IPv4 socket',
    async () => {
      const squatter = await client('udp6', '::');
      const port = squatter.self.port;
      await expect(startStunResponder({ host: '0.0.0.0', port })).rejects.toMatchObject({
        code: 'EADDRINUSE',
      });
      // Had the udp4 socket leaked, this bind would fail with EADDRINUSE.
      expect((await start('127.0.0.1', port)).addresses[0]?.port).toBe(port);
    },
  );

  it('rejects a host that is not an IP literal, and a port out of range', async () => {
    await expect(startStunResponder({ host: 'localhost', port: 0 })).rejects.toThrow(TypeError);
    await expect(startStunResponder({ host: '127.0.0.1', port: 65_536 })).rejects.toThrow(
      RangeError,
    );
    await expect(startStunResponder({ host: '127.0.0.1', port: 1.5 })).rejects.toThrow(RangeError);
  });

  it('closes idempotently and frees its port', async () => {
    const responder = await startStunResponder({ host: '127.0.0.1', port: 0 });
    const [server] = responder.addresses as [TransportAddress];
    await Promise.all([responder.close(), responder.close()]);
    await responder.close();
    expect((await start('127.0.0.1', server.port)).addresses[0]?.port).toBe(server.port);
  });
});

/** A Binding request from a fresh socket on `self`: what came back, and from where. */
async function askFrom(self: string, to: TransportAddress, attributes: StunAttribute[] = []) {
  const family = isIPv6(self) ? 'IPv6' : 'IPv4';
  const alice = await client(family === 'IPv6' ? 'udp6' : 'udp4', self);
  const request = bindingRequest(attributes, {}, true);
  const transactionId = request.subarray(8, 20);
  const socket = openSockets.at(-1) as Socket;
  const source = new Promise<TransportAddress>((resolve) =>
    socket.once('message', (_, { address, port }) => resolve({ family, address, port })),
  );
  alice.send(request, to);
  const reply = parseReply(await alice.replyTo(transactionId), transactionId);
  return { reply, mapped: mappedAddressOf(reply), from: await source, self: alice.self };
}

/** {@link askFrom} a fresh 127.0.0.1 socket. */
function askFrom127(to: TransportAddress, attributes: StunAttribute[] = []) {
  return askFrom('127.0.0.1', to, attributes);
}

/**
 * A second IPv6 address of this host besides `::1` (not link-local), or `undefined`: with one, a
 * socket bound to `::` answers a request from `::1` to it from `::1`, the kernel's pick.
 */
const secondIpv6 = Object.values(networkInterfaces())
  .flat()
  .map((nic) => nic?.address)
  .find(
    (address): address is string =>
      address !== undefined && isIPv6(address) && address !== '::1' && !/^fe[89ab]/i.test(address),
  );

describe('startStunService', () => {
  async function service(
    host: string,
    port = 0,
    altAddress: string | null = null,
    more: Partial<StunServiceOptions> = {},
  ) {
    const responder = await startStunService({ host, port, altAddress, ...more });
    openResponders.push(responder);
    return responder;
  }

  /** Each of `addresses` on both ports answers `self`'s address, from the address asked. */
  async function expectEachAnswersItself(port: number, addresses: [self: string, to: string][]) {
    for (const [self, to] of addresses) {
      for (const p of [port, port + 1]) {
        const endpoint: TransportAddress = {
          family: isIPv6(to) ? 'IPv6' : 'IPv4',
          address: to,
          port: p,
        };
        const { reply, mapped, from, self: client } = await askFrom(self, endpoint);
        expect(reply.messageClass).toBe('success');
        expect(mapped).toEqual(client);
        expect(from).toEqual(endpoint);
      }
    }
  }

  it.skipIf(!hasIpv6Loopback)(
    'on 0.0.0.0 binds 127.0.0.1 and ::1 on their own, and each answers from itself',
    async () => {
      const { addresses } = await service('0.0.0.0', 0, null, { addresses: ['127.0.0.1', '::1'] });
      const port = addresses[0]?.port ?? 0;
      expect(addresses.slice(-4)).toEqual([
        { family: 'IPv4', address: '127.0.0.1', port },
        { family: 'IPv4', address: '127.0.0.1', port: port + 1 },
        { family: 'IPv6', address: '::1', port },
        { family: 'IPv6', address: '::1', port: port + 1 },
      ]);
      await expectEachAnswersItself(port, [
        ['127.0.0.1', '127.0.0.1'],
        ['::1', '::1'],
      ]);
    },
  );

  it.skipIf(!hasIpv6Loopback)(
    'binds more addresses beside a specific host, of either family, without SO_REUSEADDR',
    async () => {
      const { addresses } = await service('127.0.0.1', 0, null, { addresses: ['::1'] });
      const port = addresses[0]?.port ?? 0;
      expect(addresses.map((a) => a.address)).toEqual(['127.0.0.1', '127.0.0.1', '::1', '::1']);
      await expectEachAnswersItself(port, [
        ['127.0.0.1', '127.0.0.1'],
        ['::1', '::1'],
      ]);
      // Nothing shares a port with them: a second responder there is refused.
      await expect(startStunService({ host: '::1', port })).rejects.toMatchObject({
        code: 'EADDRINUSE',
      });
    },
  );

  it.skipIf(!hasIpv6Loopback || secondIpv6 === undefined)(
    `on :: with two IPv6 addresses (::1, ${secondIpv6}), answers each from itself`,
    async () => {
      const other = secondIpv6 as string;
      const { addresses } = await service('::', 0, null, { addresses: ['::1', other] });
      // From ::1 to the other address: a socket on `::` alone would answer from ::1.
      await expectEachAnswersItself(addresses[0]?.port ?? 0, [
        ['::1', other],
        [other, '::1'],
        ['::1', '::1'],
      ]);
    },
  );

  it('skips an address that is the host, the alternate or a repeat, in any spelling', async () => {
    const { addresses } = await service('127.0.0.1', 0, null, {
      addresses: ['127.0.0.1', '127.0.0.1'],
    });
    expect(addresses).toHaveLength(2);
    if (platform() === 'linux') {
      const alt = await service('127.0.0.1', 0, '127.0.0.2', { addresses: ['127.0.0.2'] });
      expect(alt.addresses.map((a) => a.address)).toEqual([
        '127.0.0.1',
        '127.0.0.1',
        '127.0.0.2',
        '127.0.0.2',
      ]);
    }
    if (!hasIpv6Loopback) return;
    const v6 = await service('::1', 0, null, { addresses: ['0:0::1', '::1'] });
    expect(v6.addresses).toHaveLength(2);
  });

  it('with skipUnavailable leaves out an address this host lacks; without, rejects naming it', async () => {
    const { addresses } = await service('127.0.0.1', 0, null, {
      addresses: ['192.0.2.1'],
      skipUnavailable: true,
    });
    const port = addresses[0]?.port ?? 0;
    expect(addresses).toEqual([
      { family: 'IPv4', address: '127.0.0.1', port },
      { family: 'IPv4', address: '127.0.0.1', port: port + 1 },
    ]);
    await openResponders.pop()?.close();
    await expect(
      startStunService({ host: '127.0.0.1', port, addresses: ['192.0.2.1'] }),
    ).rejects.toMatchObject({ code: 'EADDRNOTAVAIL', address: '192.0.2.1' });
    // The host's sockets were released.
    expect((await service('127.0.0.1', port)).addresses[0]?.port).toBe(port);
  });

  it.runIf(platform() === 'linux')(
    'with skipUnavailable still fails on any other bind error, e.g. a port taken there',
    async () => {
      const [free] = (await service('127.0.0.1')).addresses as [TransportAddress];
      await openResponders.pop()?.close();
      const squatter = createSocket('udp4');
      openSockets.push(squatter);
      await new Promise<void>((resolve) => squatter.bind(free.port + 1, '127.0.0.2', resolve));
      await expect(
        startStunService({
          host: '127.0.0.1',
          port: free.port,
          addresses: ['127.0.0.2'],
          skipUnavailable: true,
        }),
      ).rejects.toMatchObject({ code: 'EADDRINUSE' });
    },
  );

  it('answers on P and P + 1 from the port asked, and 420s CHANGE-REQUEST on both', async () => {
    const { addresses } = await service('127.0.0.1');
    const [first, second] = addresses as [TransportAddress, TransportAddress];
    expect(addresses).toEqual([first, { ...first, port: first.port + 1 }]);
    for (const endpoint of [first, second]) {
      const { reply, mapped, from, self } = await askFrom127(endpoint);
      expect(reply.messageClass).toBe('success');
      expect(mapped).toEqual(self);
      expect(from).toEqual(endpoint);
      // RFC 5780 §7.2 "change IP and port": we never answer from elsewhere, we say 420.
      const change = { type: 0x0003, value: Uint8Array.of(0, 0, 0, 0b110) };
      expect((await askFrom127(endpoint, [change])).reply.messageClass).toBe('error');
    }
  });

  it.runIf(platform() === 'linux')(
    'on 0.0.0.0 with an alternate address, answers the alternate from the alternate',
    async () => {
      // Linux routes all of 127/8 to lo, so 127.0.0.2 is a second address of this host. A
      // wildcard socket would answer a request to it from 127.0.0.1, which STUN clients drop.
      const { addresses } = await service('0.0.0.0', 0, '127.0.0.2');
      const port = addresses[0]?.port ?? 0;
      expect(addresses.filter((a) => a.family === 'IPv4')).toEqual([
        { family: 'IPv4', address: '0.0.0.0', port },
        { family: 'IPv4', address: '0.0.0.0', port: port + 1 },
        { family: 'IPv4', address: '127.0.0.2', port },
        { family: 'IPv4', address: '127.0.0.2', port: port + 1 },
      ]);
      for (const address of ['127.0.0.1', '127.0.0.2']) {
        for (const endpoint of [port, port + 1].map((p) => ({
          family: 'IPv4',
          address,
          port: p,
        }))) {
          const { mapped, from, self } = await askFrom127(endpoint as TransportAddress);
          expect(mapped).toEqual(self);
          expect(from).toEqual(endpoint);
        }
      }
    },
  );

  it('rejects with EADDRINUSE when P + 1 is taken, releasing P', async () => {
    const [free] = (await service('127.0.0.1')).addresses as [TransportAddress];
    await openResponders.pop()?.close();
    const squatter = createSocket('udp4');
    openSockets.push(squatter);
    await new Promise<void>((resolve) => squatter.bind(free.port + 1, '127.0.0.1', resolve));
    await expect(startStunService({ host: '127.0.0.1', port: free.port })).rejects.toMatchObject({
      code: 'EADDRINUSE',
    });
    expect((await start('127.0.0.1', free.port)).addresses[0]?.port).toBe(free.port);
  });

  it('rejects an alternate address this host does not have, releasing the others', async () => {
    const [free] = (await service('127.0.0.1')).addresses as [TransportAddress];
    await openResponders.pop()?.close();
    await expect(
      startStunService({ host: '127.0.0.1', port: free.port, altAddress: '192.0.2.1' }),
    ).rejects.toMatchObject({ code: 'EADDRNOTAVAIL', address: '192.0.2.1' });
    expect((await service('127.0.0.1', free.port)).addresses[0]?.port).toBe(free.port);
  });

  it('rejects a port with no next one, and an alternate that is not one other IP', async () => {
    const attempt = (port: number, altAddress: string | null = null, host = '127.0.0.1') =>
      startStunService({ host, port, altAddress });
    await expect(attempt(65_535)).rejects.toThrow(RangeError);
    await expect(attempt(-1)).rejects.toThrow(RangeError);
    await expect(attempt(0, '127.0.0.1')).rejects.toThrow(TypeError);
    await expect(attempt(0, '0.0.0.0')).rejects.toThrow(TypeError);
    await expect(attempt(0, 'localhost')).rejects.toThrow(TypeError);
    await expect(attempt(0, null, 'localhost')).rejects.toThrow(TypeError);
    for (const address of ['::', '0.0.0.0', 'localhost']) {
      await expect(
        startStunService({ host: '127.0.0.1', port: 0, addresses: [address] }),
      ).rejects.toThrow(TypeError);
    }
  });
});
