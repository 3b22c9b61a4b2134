import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CHUNK_HEADER_BYTES,
  decodeChunk,
  encodeChunk,
  encodeFileFrame,
  fileFrameId,
  FILE_PROTOCOL_VERSION,
  MAX_FILE_NAME_CHARS,
  MAX_MIME_CHARS,
  MAX_REASON_CHARS,
  parseFileFrame,
  type FileFrame,
  type FileOfferFrame,
} from './file-protocol.ts';

const ID = '0123456789abcdef';
const SHA = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';
const MAX_OFFSET = Number.MAX_SAFE_INTEGER;

const offer: FileOfferFrame = {
  t: 'file-offer',
  v: FILE_PROTOCOL_VERSION,
  id: ID,
  name: 'holiday photo.jpg',
  size: 123_456,
  mime: 'image/jpeg',
};
const accept = { t: 'file-accept', id: ID, from: 0 } as const;
const decline = { t: 'file-decline', id: ID, reason: '' } as const;
const cancel = { t: 'file-cancel', id: ID, reason: 'The recipient cancelled.' } as const;
const ack = { t: 'file-ack', id: ID, upTo: 1_048_576 } as const;
const done = { t: 'file-done', id: ID, sha256: SHA } as const;
const verified = { t: 'file-verified', id: ID, ok: true } as const;

/** One valid frame of each kind, and each at the edges of what it may carry. */
const VALID: FileFrame[] = [
  offer,
  { ...offer, size: 0, mime: '' },
  { ...offer, size: MAX_OFFSET },
  { ...offer, name: 'x'.repeat(MAX_FILE_NAME_CHARS), mime: 'm'.repeat(MAX_MIME_CHARS) },
  { ...offer, name: ' .bashrc ', mime: 'text/plain; charset=utf-8' },
  { ...offer, name: 'Ünïcødé 文件 📷.png' },
  accept,
  { ...accept, from: MAX_OFFSET },
  decline,
  { ...decline, reason: 'It is larger than the 2 GiB limit of the recipient.' },
  { ...decline, reason: 'r'.repeat(MAX_REASON_CHARS) },
  cancel,
  { ...cancel, reason: '' },
  { ...cancel, reason: 'r'.repeat(MAX_REASON_CHARS) },
  ack,
  { ...ack, upTo: 0 },
  done,
  verified,
  { ...verified, ok: false },
];

const json = (value: unknown): string => JSON.stringify(value);
/** `frame` without its field `key`. */
function without(frame: FileFrame, key: string): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...frame };
  delete copy[key];
  return copy;
}

describe('parseFileFrame', () => {
  it('accepts every kind of frame and returns a fresh, plain object equal to it', () => {
    for (const frame of VALID) {
      const parsed = parseFileFrame(encodeFileFrame(frame));
      expect(parsed, frame.t).toStrictEqual(frame);
      expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    }
  });

  it('drops unknown keys, including __proto__ and a second protocol field', () => {
    for (const frame of VALID) {
      const raw = json({ ...frame, to: 'pb0b0000000000002', extra: 1, sha256x: SHA, ok2: true });
      expect(parseFileFrame(raw), frame.t).toStrictEqual(frame);
    }
    // JSON.parse makes `__proto__` an own key; the parser must not carry it over.
    const sneaky = `{"__proto__":1,"t":"file-ack","id":"${ID}","upTo":5}`;
    const parsed = parseFileFrame(sneaky);
    expect(parsed).toStrictEqual({ t: 'file-ack', id: ID, upTo: 5 });
    expect(Object.keys(parsed ?? {})).toEqual(['t', 'id', 'upTo']);
    // `v` is part of the offer only.
    expect(parseFileFrame(json({ ...accept, v: 1 }))).toStrictEqual(accept);
  });

  it('refuses an offer of another protocol version, or without one', () => {
    for (const v of [0, 2, FILE_PROTOCOL_VERSION + 1, '1', 1.5, null, true]) {
      expect(parseFileFrame(json({ ...offer, v })), String(v)).toBeNull();
    }
    expect(parseFileFrame(json(without(offer, 'v')))).toBeNull();
  });

  it('refuses an id that is not 16 lowercase hex digits', () => {
    for (const id of [
      '0123456789ABCDEF',
      '0123456789abcdeF',
      '0123456789abcde',
      '0123456789abcdef0',
      '0123456789abcdeg',
      ' 0123456789abcdef',
      '0123456789abcdef\n',
      '0x23456789abcdef',
      '',
      123456789,
      null,
      ['0123456789abcdef'],
    ]) {
      for (const frame of [offer, accept, decline, cancel, ack, done, verified]) {
        expect(parseFileFrame(json({ ...frame, id })), `${frame.t} ${String(id)}`).toBeNull();
      }
    }
    for (const frame of [offer, accept, ack]) {
      expect(parseFileFrame(json(without(frame, 'id'))), frame.t).toBeNull();
    }
  });

  it('refuses a size, from or upTo that is negative, fractional, unsafe or not a number', () => {
    const bad: unknown[] = [-1, -0.5, 0.5, 1.5, 2 ** 53, 2 ** 60, '10', null, true, [1]];
    for (const value of bad) {
      expect(parseFileFrame(json({ ...offer, size: value })), `size ${json(value)}`).toBeNull();
      expect(parseFileFrame(json({ ...accept, from: value })), `from ${json(value)}`).toBeNull();
      expect(parseFileFrame(json({ ...ack, upTo: value })), `upTo ${json(value)}`).toBeNull();
    }
    // Numbers JSON.stringify cannot write but a peer can: 1e400 parses as Infinity.
    expect(parseFileFrame(`{"t":"file-ack","id":"${ID}","upTo":1e400}`)).toBeNull();
    expect(parseFileFrame(`{"t":"file-accept","id":"${ID}","from":-1e400}`)).toBeNull();
    expect(parseFileFrame(`{"t":"file-ack","id":"${ID}","upTo":9007199254740993}`)).toBeNull();
  });

  it('refuses an empty, blank, over-long or non-text name, and an over-long media type', () => {
    for (const name of ['', ' ', '   ', '\t\n', 'x'.repeat(MAX_FILE_NAME_CHARS + 1), 7, null]) {
      expect(parseFileFrame(json({ ...offer, name })), json(name)).toBeNull();
    }
    // Length counts UTF-16 code units: 128 emoji are 256 of them.
    expect(parseFileFrame(json({ ...offer, name: '📷'.repeat(128) }))).toBeNull();
    expect(parseFileFrame(json({ ...offer, name: '📷'.repeat(127) }))).not.toBeNull();
    for (const mime of ['m'.repeat(MAX_MIME_CHARS + 1), null, 0]) {
      expect(parseFileFrame(json({ ...offer, mime })), json(mime)).toBeNull();
    }
    expect(parseFileFrame(json(without(offer, 'mime')))).toBeNull();
  });

  it('refuses an over-long or missing reason', () => {
    for (const frame of [decline, cancel]) {
      const long = 'r'.repeat(MAX_REASON_CHARS + 1);
      expect(parseFileFrame(json({ ...frame, reason: long })), frame.t).toBeNull();
      expect(parseFileFrame(json({ ...frame, reason: null })), frame.t).toBeNull();
      expect(parseFileFrame(json({ t: frame.t, id: ID })), frame.t).toBeNull();
    }
  });

  it('refuses a sha256 that is not 64 lowercase hex digits, and an ok that is not boolean', () => {
    for (const sha256 of [
      SHA.toUpperCase(),
      SHA.slice(1),
      `${SHA}0`,
      `${SHA.slice(1)}g`,
      '',
      null,
      42,
    ]) {
      expect(parseFileFrame(json({ ...done, sha256 })), json(sha256)).toBeNull();
    }
    for (const ok of ['true', 1, 0, null]) {
      expect(parseFileFrame(json({ ...verified, ok })), json(ok)).toBeNull();
    }
    expect(parseFileFrame(json({ t: 'file-verified', id: ID }))).toBeNull();
  });

  it('refuses nested JSON and frames with too many keys, whatever the keys are', () => {
    for (const raw of [
      json({ ...ack, extra: {} }),
      json({ ...ack, extra: [] }),
      json({ ...ack, extra: { deep: [[[1]]] } }),
      json({ ...offer, name: { toString: 'x' } }),
      json([ack]),
      json({ frame: ack }),
      json({ ...ack, ...Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])) }),
      `{"t":"file-ack","id":"${ID}","upTo":1,"x":${'['.repeat(5000)}${']'.repeat(5000)}}`,
    ]) {
      expect(parseFileFrame(raw), raw.slice(0, 80)).toBeNull();
    }
  });

  it('refuses text that is not a JSON object, and unknown frame types', () => {
    for (const raw of [
      '',
      ' ',
      '{',
      '}',
      'file-ack',
      `{"t":"file-ack","id":"${ID}","upTo":1,}`,
      `{'t':'file-ack','id':'${ID}','upTo':1}`,
      `{"t":"file-ack","id":"${ID}","upTo":1}garbage`,
      'null',
      'true',
      '42',
      '"file-ack"',
      '[]',
      '{}',
      json({ t: 'file-hello', id: ID }),
      json({ t: 'FILE-ACK', id: ID, upTo: 1 }),
      json({ id: ID, upTo: 1 }),
      json({ type: 'file-ack', id: ID, upTo: 1 }),
    ]) {
      expect(parseFileFrame(raw), raw).toBeNull();
    }
  });
});

describe('fileFrameId', () => {
  it('names the transfer of a frame the parser refused, and nothing for a frame without one', () => {
    expect(fileFrameId(json({ ...ack, upTo: -1 }))).toBe(ID);
    expect(fileFrameId(json({ t: 'file-hello', id: ID }))).toBe(ID);
    expect(fileFrameId(json({ ...ack, id: ID.toUpperCase() }))).toBeNull();
    expect(fileFrameId(json({ ...ack, extra: { nested: 1 } }))).toBeNull();
    expect(fileFrameId('not json')).toBeNull();
    expect(fileFrameId('null')).toBeNull();
  });
});

const idArb = fc.stringMatching(/^[0-9a-f]{16}$/);
/** Any text of at most `max` UTF-16 code units, lone surrogates included. */
const textArb = (max: number, minLength = 0): fc.Arbitrary<string> =>
  fc.string({ unit: 'binary', minLength, maxLength: max }).filter((s) => s.length <= max);

const frameArb: fc.Arbitrary<FileFrame> = fc.oneof(
  fc.record({
    t: fc.constant('file-offer' as const),
    v: fc.constant(FILE_PROTOCOL_VERSION),
    id: idArb,
    name: textArb(MAX_FILE_NAME_CHARS, 1).filter((name) => name.trim() !== ''),
    size: fc.maxSafeNat(),
    mime: textArb(MAX_MIME_CHARS),
  }),
  fc.record({ t: fc.constant('file-accept' as const), id: idArb, from: fc.maxSafeNat() }),
  fc.record({
    t: fc.constant('file-decline' as const),
    id: idArb,
    reason: textArb(MAX_REASON_CHARS),
  }),
  fc.record({
    t: fc.constant('file-cancel' as const),
    id: idArb,
    reason: textArb(MAX_REASON_CHARS),
  }),
  fc.record({ t: fc.constant('file-ack' as const), id: idArb, upTo: fc.maxSafeNat() }),
  fc.record({
    t: fc.constant('file-done' as const),
    id: idArb,
    sha256: fc.stringMatching(/^[0-9a-f]{64}$/),
  }),
  fc.record({ t: fc.constant('file-verified' as const), id: idArb, ok: fc.boolean() }),
);

/** Frame-shaped objects whose fields may hold anything: the near misses a fuzzer finds. */
const nearFrameArb = fc.record(
  {
    t: fc.oneof(
      fc.constantFrom(
        'file-offer',
        'file-accept',
        'file-decline',
        'file-cancel',
        'file-ack',
        'file-done',
        'file-verified',
      ),
      fc.jsonValue(),
    ),
    v: fc.oneof(fc.constant(FILE_PROTOCOL_VERSION), fc.jsonValue()),
    id: fc.oneof(idArb, fc.jsonValue()),
    name: fc.oneof(fc.string({ unit: 'binary' }), fc.jsonValue()),
    size: fc.oneof(fc.maxSafeNat(), fc.double(), fc.jsonValue()),
    mime: fc.jsonValue(),
    from: fc.oneof(fc.maxSafeNat(), fc.double()),
    upTo: fc.oneof(fc.maxSafeNat(), fc.double()),
    reason: fc.oneof(fc.string({ unit: 'binary' }), fc.jsonValue()),
    sha256: fc.oneof(fc.stringMatching(/^[0-9a-fA-F]{63,65}$/), fc.jsonValue()),
    ok: fc.jsonValue(),
  },
  { requiredKeys: [] },
);

/** `null`, or a frame that survives its own encoding unchanged. */
function isNullOrStable(parsed: FileFrame | null): boolean {
  return parsed === null || json(parseFileFrame(encodeFileFrame(parsed))) === json(parsed);
}

describe('parseFileFrame (property)', () => {
  it('round-trips every valid frame through encodeFileFrame', () => {
    fc.assert(
      fc.property(frameArb, (frame) => {
        // fast-check's records have no prototype; the parser's frames are plain objects.
        expect(parseFileFrame(encodeFileFrame(frame))).toStrictEqual({ ...frame });
      }),
      { numRuns: 500 },
    );
  });

  it('never throws, and gives null or a stable frame, on arbitrary text', () => {
    const raws = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.string({ unit: fc.constantFrom('{', '}', '[', ']', '"', '\\', ',', ':', '1', 'a') }),
      fc.json(),
      nearFrameArb.map(json),
      // A valid frame cut short or with text spliced in.
      fc.tuple(frameArb, fc.nat(), fc.string()).map(([frame, at, text]) => {
        const raw = encodeFileFrame(frame);
        const cut = at % (raw.length + 1);
        return raw.slice(0, cut) + text + raw.slice(cut + (at % 3));
      }),
    );
    fc.assert(
      fc.property(raws, (raw) => {
        let parsed: FileFrame | null = null;
        expect(() => (parsed = parseFileFrame(raw))).not.toThrow();
        expect(isNullOrStable(parsed)).toBe(true);
        expect(() => fileFrameId(raw)).not.toThrow();
      }),
      { numRuns: 1000 },
    );
  });
});

const message = (bytes: number[]): ArrayBuffer => new Uint8Array(bytes).buffer;
/** A valid chunk message with its header patched by `patch`. */
function patched(patch: (view: DataView) => void): ArrayBuffer {
  const buffer = encodeChunk(ID, 1024, new Uint8Array([1, 2, 3]));
  patch(new DataView(buffer));
  return buffer;
}

describe('encodeChunk and decodeChunk', () => {
  it('round-trip the id, an offset up to 2^53 - 1 and the bytes', () => {
    const cases: [string, number, Uint8Array][] = [
      [ID, 0, new Uint8Array([0xde, 0xad, 0xbe, 0xef])],
      ['ffffffffffffffff', MAX_OFFSET, new Uint8Array([1])],
      ['0000000000000000', 2 ** 32 + 1, new Uint8Array(4096).fill(0xa5)],
      ['00ff00ff00ff00ff', 1, new Uint8Array(0)],
    ];
    for (const [id, offset, bytes] of cases) {
      const encoded = encodeChunk(id, offset, bytes);
      expect(encoded.byteLength).toBe(CHUNK_HEADER_BYTES + bytes.byteLength);
      const chunk = decodeChunk(encoded);
      expect(chunk?.id).toBe(id);
      expect(chunk?.offset).toBe(offset);
      expect(chunk?.bytes).toEqual(bytes);
    }
  });

  it('decodes the payload as a view into the message, without a copy', () => {
    const encoded = encodeChunk(ID, 7, new Uint8Array([9, 8, 7]));
    const chunk = decodeChunk(encoded);
    expect(chunk?.bytes.buffer).toBe(encoded);
    expect(chunk?.bytes.byteOffset).toBe(CHUNK_HEADER_BYTES);
  });

  it('encodes only the bytes of a view, not the rest of its buffer', () => {
    const whole = new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7]);
    const chunk = decodeChunk(encodeChunk(ID, 2, whole.subarray(2, 5)));
    expect(chunk?.bytes).toEqual(new Uint8Array([2, 3, 4]));
  });

  it('round-trip for any id, safe offset and payload (property)', () => {
    fc.assert(
      fc.property(
        idArb,
        fc.maxSafeNat(),
        fc.uint8Array({ maxLength: 512 }),
        (id, offset, bytes) => {
          const chunk = decodeChunk(encodeChunk(id, offset, bytes));
          expect(chunk).not.toBeNull();
          expect(chunk?.id).toBe(id);
          expect(chunk?.offset).toBe(offset);
          expect(chunk?.bytes).toEqual(bytes);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses a message shorter than the header', () => {
    const full = encodeChunk(ID, 0, new Uint8Array(0));
    for (let length = 0; length < CHUNK_HEADER_BYTES; length++) {
      expect(decodeChunk(full.slice(0, length)), `${length} bytes`).toBeNull();
    }
    expect(decodeChunk(full)?.bytes.byteLength).toBe(0);
    expect(decodeChunk(message([FILE_PROTOCOL_VERSION]))).toBeNull();
  });

  it('refuses another version byte', () => {
    for (const version of [0, FILE_PROTOCOL_VERSION + 1, 0x7b, 0xff]) {
      expect(decodeChunk(patched((view) => view.setUint8(0, version))), `v${version}`).toBeNull();
    }
  });

  it('refuses an offset that is negative, fractional, unsafe or not a number', () => {
    for (const offset of [-1, -0.5, 0.5, 1024.25, 2 ** 53, 2 ** 64, NaN, Infinity, -Infinity]) {
      expect(decodeChunk(patched((view) => view.setFloat64(9, offset))), String(offset)).toBeNull();
    }
    expect(decodeChunk(patched((view) => view.setFloat64(9, MAX_OFFSET)))?.offset).toBe(MAX_OFFSET);
  });

  it('never throws on arbitrary bytes, and decodes only what has a valid header (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.boolean(), (bytes, versioned) => {
        const copy = bytes.slice();
        if (versioned && copy.byteLength > 0) copy[0] = FILE_PROTOCOL_VERSION;
        const chunk = decodeChunk(copy.buffer);
        if (chunk === null) return;
        expect(chunk.id).toMatch(/^[0-9a-f]{16}$/);
        expect(Number.isSafeInteger(chunk.offset) && chunk.offset >= 0).toBe(true);
        expect(chunk.bytes.byteLength).toBe(copy.byteLength - CHUNK_HEADER_BYTES);
      }),
      { numRuns: 500 },
    );
  });
});
