/**
 * The file protocol (issue #11), version {@link FILE_PROTOCOL_VERSION}: what two pages say to
 * each other on the `files` data channel of their peer connection. Control frames are JSON text;
 * file bytes travel as binary chunk messages with a fixed header. Parsed and validated like the
 * signaling protocol: the parsers never throw and return a fresh object or `null`.
 *
 * One transfer is one file from one sender to one recipient, named by the file's `id` (the same
 * file offered to three people is three transfers with one id, one per channel):
 *
 * ```
 * sender                                   recipient
 *   file-offer {id, name, size, mime}  →
 *                                      ←   file-accept {id, from: 0}    (or file-decline)
 *   chunk(id, offset, bytes) …         →
 *                                      ←   file-ack {id, upTo}          (bytes stored)
 *   file-done {id, sha256}             →
 *                                      ←   file-verified {id, ok}
 * ```
 * Either side may send `file-cancel {id, reason}` at any time. When a channel reopens after the
 * path dropped, the sender offers every unfinished file again and the recipient answers with
 * what it holds: `file-accept {from}` = resume there (issue #11: "resumes from the last
 * acknowledged offset … not from zero"), or the decline, cancel or verdict it already gave.
 */
import { parseBoundedJson, type JsonLimits } from '../../../../signaling/bounded-json.ts';

/** Version of the frames below; an offer of another version is refused, never half-read. */
export const FILE_PROTOCOL_VERSION = 1;

/** Longest file name carried, characters (ext4 and NTFS allow 255). */
export const MAX_FILE_NAME_CHARS = 255;

/** Longest media type carried, characters (RFC 6838 §4.2: 127 per part). */
export const MAX_MIME_CHARS = 255;

/** Longest cancel reason, characters. */
export const MAX_REASON_CHARS = 200;

/** Bytes before the payload in a binary chunk message: version (1), id (8), offset (8, float64). */
export const CHUNK_HEADER_BYTES = 1 + 8 + 8;

export interface FileOfferFrame {
  t: 'file-offer';
  v: typeof FILE_PROTOCOL_VERSION;
  /** 16 hex digits, chosen by the sender; the same for every recipient of one file. */
  id: string;
  name: string;
  /** bytes */
  size: number;
  /** Media type as the sender's browser gave it; `''` when it did not know. */
  mime: string;
}
export interface FileAcceptFrame {
  t: 'file-accept';
  id: string;
  /** Bytes the recipient already holds: the sender (re)starts there. 0 on a first accept. */
  from: number;
}
export interface FileDeclineFrame {
  t: 'file-decline';
  id: string;
  /** Why, when the page declined on its own (e.g. over the size limit); `''` when the person did. */
  reason: string;
}
export interface FileCancelFrame {
  t: 'file-cancel';
  id: string;
  reason: string;
}
export interface FileAckFrame {
  t: 'file-ack';
  id: string;
  /** Every byte below this offset is stored by the recipient. */
  upTo: number;
}
export interface FileDoneFrame {
  t: 'file-done';
  id: string;
  /** SHA-256 of the whole file (FIPS 180-4), 64 hex digits. */
  sha256: string;
}
export interface FileVerifiedFrame {
  t: 'file-verified';
  id: string;
  /** The recipient's copy hashed to the sender's SHA-256. */
  ok: boolean;
}

/** Every control frame of the file protocol. */
export type FileFrame =
  | FileOfferFrame
  | FileAcceptFrame
  | FileDeclineFrame
  | FileCancelFrame
  | FileAckFrame
  | FileDoneFrame
  | FileVerifiedFrame;

/** One binary chunk message, decoded. */
export interface Chunk {
  id: string;
  /** Offset in the file of the first payload byte. */
  offset: number;
  /** A view into the message: no copy. */
  bytes: Uint8Array;
}

const HEX16 = /^[0-9a-f]{16}$/;
const HEX64 = /^[0-9a-f]{64}$/;
const isId = (value: unknown): value is string => typeof value === 'string' && HEX16.test(value);
const isOffset = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const isShortText = (value: unknown, max: number): value is string =>
  typeof value === 'string' && value.length <= max;

/** Every control frame is one flat object of a few fields. */
const FILE_JSON_LIMITS: JsonLimits = { maxDepth: 1, maxItems: 16 };

/**
 * Parses one text message of the `files` channel. Never throws: anything off-protocol (not
 * JSON, nested, unknown `t`, a field missing or of the wrong shape, an offer of another
 * version, an empty or over-long name) gives `null`. Returns a fresh object; unknown keys drop.
 * Whether a valid frame makes sense *now* (an ack past what was sent, say) is the transfer's to
 * judge (transfer.ts).
 */
export function parseFileFrame(raw: string): FileFrame | null {
  const parsed = parseBoundedJson(raw, FILE_JSON_LIMITS);
  if (!parsed.ok || typeof parsed.value !== 'object' || parsed.value === null) return null;
  const v = parsed.value as Record<string, unknown>;
  if (!isId(v.id)) return null;
  const id = v.id;
  switch (v.t) {
    case 'file-offer': {
      const { name, size, mime } = v;
      if (v.v !== FILE_PROTOCOL_VERSION || !isOffset(size)) return null;
      if (!isShortText(name, MAX_FILE_NAME_CHARS) || name.trim() === '') return null;
      if (!isShortText(mime, MAX_MIME_CHARS)) return null;
      return { t: 'file-offer', v: FILE_PROTOCOL_VERSION, id, name, size, mime };
    }
    case 'file-accept':
      return isOffset(v.from) ? { t: 'file-accept', id, from: v.from } : null;
    case 'file-decline':
      return isShortText(v.reason, MAX_REASON_CHARS)
        ? { t: 'file-decline', id, reason: v.reason }
        : null;
    case 'file-cancel':
      return isShortText(v.reason, MAX_REASON_CHARS)
        ? { t: 'file-cancel', id, reason: v.reason }
        : null;
    case 'file-ack':
      return isOffset(v.upTo) ? { t: 'file-ack', id, upTo: v.upTo } : null;
    case 'file-done':
      return typeof v.sha256 === 'string' && HEX64.test(v.sha256)
        ? { t: 'file-done', id, sha256: v.sha256 }
        : null;
    case 'file-verified':
      return typeof v.ok === 'boolean' ? { t: 'file-verified', id, ok: v.ok } : null;
    default:
      return null;
  }
}

/** One control frame as text. */
export function encodeFileFrame(frame: FileFrame): string {
  return JSON.stringify(frame);
}

/**
 * One binary chunk message: {@link CHUNK_HEADER_BYTES} of header (version, the id's 8 bytes,
 * the offset as a big-endian float64, exact below 2^53), then the payload, copied once.
 */
export function encodeChunk(id: string, offset: number, bytes: Uint8Array): ArrayBuffer {
  const message = new Uint8Array(CHUNK_HEADER_BYTES + bytes.byteLength);
  const view = new DataView(message.buffer);
  view.setUint8(0, FILE_PROTOCOL_VERSION);
  for (let i = 0; i < 8; i++) view.setUint8(1 + i, parseInt(id.slice(2 * i, 2 * i + 2), 16));
  view.setFloat64(9, offset);
  message.set(bytes, CHUNK_HEADER_BYTES);
  return message.buffer;
}

/**
 * Decodes a binary chunk message. Never throws; `null` for a message shorter than the header, of
 * another version, or with an offset that is not a safe non-negative integer. An empty payload is
 * allowed here (transfer.ts refuses it).
 */
export function decodeChunk(message: ArrayBuffer): Chunk | null {
  if (message.byteLength < CHUNK_HEADER_BYTES) return null;
  const view = new DataView(message);
  if (view.getUint8(0) !== FILE_PROTOCOL_VERSION) return null;
  let id = '';
  for (let i = 0; i < 8; i++)
    id += view
      .getUint8(1 + i)
      .toString(16)
      .padStart(2, '0');
  const offset = view.getFloat64(9);
  if (!isOffset(offset)) return null;
  return { id, offset, bytes: new Uint8Array(message, CHUNK_HEADER_BYTES) };
}

/**
 * The transfer a text message names, even when {@link parseFileFrame} refused it: a malformed
 * frame about a known transfer ends that transfer with a clear error instead of being ignored.
 * `null` when no valid id can be read. Never throws.
 */
export function fileFrameId(raw: string): string | null {
  const parsed = parseBoundedJson(raw, FILE_JSON_LIMITS);
  if (!parsed.ok || typeof parsed.value !== 'object' || parsed.value === null) return null;
  const { id } = parsed.value as Record<string, unknown>;
  return isId(id) ? id : null;
}
