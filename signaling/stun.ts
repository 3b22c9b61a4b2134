/**
 * STUN responder: answers Binding requests with the sender's server-reflexive address, so a
 * browser pointed at `stun:<this host>:<port>` learns its public address without a third party.
 *
 * Two halves: a pure codec (parse, encode, `respondToStunPacket`) that a unit test can run on
 * bytes, and `startStunResponder` / `startStunService`, the only parts that touch sockets. No
 * authentication, no MESSAGE-INTEGRITY, no TURN: Binding needs none of them to discover a
 * reflexive address, and authentication is each usage's choice (RFC 8489 §9).
 *
 * Layout (`startStunService`): the same plain Binding responder on two ports, P and P + 1, and on
 * both of them again at a second address of this host when one is configured, and at each further
 * address that needs sockets of its own (see signaling/stun-addresses.ts: on a host with several
 * addresses of one family, a wildcard socket may answer from the wrong one). A page gathers
 * against all of them in one RTCPeerConnection and compares the mapped addresses it gets back:
 * the mapping behaviour test of RFC 5780 §4.3, which tells endpoint-independent from address- or
 * port-dependent mapping (RFC 4787 §4.1). We do NOT implement RFC 5780 itself: answers carry no
 * OTHER-ADDRESS or RESPONSE-ORIGIN, and CHANGE-REQUEST gets 420 Unknown Attribute (see
 * `UNDERSTOOD_REQUIRED_ATTRIBUTES`). Browsers cannot send CHANGE-REQUEST anyway, so the filtering
 * test of RFC 5780 §4.4, the one that needs it, is out of a page's reach whatever we did; and
 * without OTHER-ADDRESS an RFC 5780 client knows not to try.
 */
import { createSocket, type Socket, type SocketType } from 'node:dgram';
// node:net only for the sockets, whose hosts dgram judges; the codec uses the shared parsers.
import { isIPv4, isIPv6 } from 'node:net';
import { crc32 } from 'node:zlib';
import {
  IPV4_BYTES,
  IPV6_BYTES,
  canonicalHost,
  formatIpv4,
  formatIpv6,
  isIpv4Mapped,
  parseIpv4,
  parseIpv6,
  type IpFamily,
} from '../common/ip-address.ts';

// ---------------------------------------------------------------------------------------------
// Wire constants (RFC 8489 §5, §14, §18)
// ---------------------------------------------------------------------------------------------

/** Size of the fixed STUN header, bytes: type (2), length (2), magic cookie (4), id (12). §5 */
export const STUN_HEADER_BYTES = 20;
/** Fixed value in header bytes 4–7 that tells STUN from other traffic. RFC 8489 §5 */
export const STUN_MAGIC_COOKIE = 0x2112a442;
/** Size of the transaction id, bytes. RFC 8489 §5 */
export const STUN_TRANSACTION_ID_BYTES = 12;
/** Size of an attribute's type + length prefix, bytes. RFC 8489 §14 */
export const STUN_ATTRIBUTE_HEADER_BYTES = 4;
/** Attribute values are padded to a multiple of this many bytes. RFC 8489 §14 */
export const STUN_ATTRIBUTE_ALIGNMENT_BYTES = 4;
/** Largest value the 16-bit message and attribute length fields can hold, bytes. §5, §14 */
const MAX_LENGTH_FIELD_BYTES = 0xffff;
/** CRC-32 is XORed with this ("STUN" in ASCII) so FINGERPRINT differs from other CRCs. §14.7 */
export const STUN_FINGERPRINT_XOR = 0x5354554e;
/** Size of the FINGERPRINT value, bytes. RFC 8489 §14.7 */
const FINGERPRINT_VALUE_BYTES = 4;
/** Size of an XOR-MAPPED-ADDRESS value, bytes: reserved, family, port, then the address. §14.2 */
const XOR_ADDRESS_PREFIX_BYTES = 4;
/** Largest UDP port; 0 cannot be answered (Node refuses to send there). */
const MAX_PORT = 0xffff;

/** Binding, the only method this server answers. RFC 8489 §18.2 */
export const STUN_METHOD_BINDING = 0x001;

/** Attribute types this module reads or writes, or deliberately recognises. */
export const StunAttributeType = {
  // RFC 8489 §18.3, comprehension-required range (0x0000–0x7FFF).
  MAPPED_ADDRESS: 0x0001,
  USERNAME: 0x0006,
  MESSAGE_INTEGRITY: 0x0008,
  ERROR_CODE: 0x0009,
  UNKNOWN_ATTRIBUTES: 0x000a,
  REALM: 0x0014,
  NONCE: 0x0015,
  MESSAGE_INTEGRITY_SHA256: 0x001c,
  PASSWORD_ALGORITHM: 0x001d,
  USERHASH: 0x001e,
  XOR_MAPPED_ADDRESS: 0x0020,
  // RFC 8445 §16.1 (ICE); browsers put these in Binding requests, as in RFC 5769 §2.1.
  PRIORITY: 0x0024,
  USE_CANDIDATE: 0x0025,
  // RFC 8489 §18.3, comprehension-optional range (0x8000–0xFFFF).
  SOFTWARE: 0x8022,
  FINGERPRINT: 0x8028,
} as const;

/** Error code 420 Unknown Attribute, as class (hundreds) and number. RFC 8489 §14.8 */
const UNKNOWN_ATTRIBUTE_ERROR = { errorClass: 4, errorNumber: 20, reason: 'Unknown Attribute' };

/**
 * Comprehension-required attributes (type < 0x8000) that do not trigger 420. The RFC 8489 ones
 * are ours to know; USERNAME, MESSAGE-INTEGRITY(-SHA256), USERHASH, REALM, NONCE and
 * PASSWORD-ALGORITHM are understood and deliberately unused, because this server has no
 * credentials and answers without authentication. PRIORITY and USE-CANDIDATE are ICE's: they
 * only matter to a peer, and refusing them would refuse the RFC 5769 §2.1 sample request.
 * Not listed on purpose: CHANGE-REQUEST (RFC 5780 §7.2). We answer on a second port, and on a
 * second address when configured, only so that a client can compare plain Binding answers (see
 * the module comment); we never answer from another endpoint on request. Falling through gives
 * 420: what RFC 5780 §6.1 requires from a server without an alternate address and port, and what
 * RFC 8489 §6.3.1 requires for any comprehension-required attribute a server does not implement,
 * which is our case even with a second address, since we implement none of RFC 5780 §6.
 */
const UNDERSTOOD_REQUIRED_ATTRIBUTES: ReadonlySet<number> = new Set([
  StunAttributeType.MAPPED_ADDRESS,
  StunAttributeType.USERNAME,
  StunAttributeType.MESSAGE_INTEGRITY,
  StunAttributeType.ERROR_CODE,
  StunAttributeType.UNKNOWN_ATTRIBUTES,
  StunAttributeType.REALM,
  StunAttributeType.NONCE,
  StunAttributeType.MESSAGE_INTEGRITY_SHA256,
  StunAttributeType.PASSWORD_ALGORITHM,
  StunAttributeType.USERHASH,
  StunAttributeType.XOR_MAPPED_ADDRESS,
  StunAttributeType.PRIORITY,
  StunAttributeType.USE_CANDIDATE,
]);
/** Types at or above this are comprehension-optional and may be ignored. RFC 8489 §14 */
const FIRST_OPTIONAL_ATTRIBUTE_TYPE = 0x8000;

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

/** The four message classes, from the C1/C0 bits of the message type. RFC 8489 §5 */
export type StunClass = 'request' | 'indication' | 'success' | 'error';

/** One attribute as on the wire; `value` excludes the padding. RFC 8489 §14 */
export interface StunAttribute {
  /** 16-bit attribute type. */
  readonly type: number;
  /** Value bytes, without padding; at most 65535 bytes. */
  readonly value: Uint8Array;
}

/** A STUN message that passed every structural check of `parseStunMessage`. */
export interface StunMessage {
  /** 12-bit method, e.g. `STUN_METHOD_BINDING`. */
  readonly method: number;
  readonly messageClass: StunClass;
  /** Exactly `STUN_TRANSACTION_ID_BYTES` (12) bytes. */
  readonly transactionId: Uint8Array;
  /** Every attribute in wire order, FINGERPRINT included; repeated types are kept. */
  readonly attributes: readonly StunAttribute[];
  /** True when a FINGERPRINT was present (it is then valid: an invalid one fails the parse). */
  readonly hasFingerprint: boolean;
}

/** An IP address and UDP port; `address` is a literal (dotted IPv4, or IPv6 without brackets). */
export interface TransportAddress {
  readonly family: IpFamily;
  readonly address: string;
  /** UDP port, 0–65535. */
  readonly port: number;
}

// ---------------------------------------------------------------------------------------------
// Codec (pure)
// ---------------------------------------------------------------------------------------------

/** Attribute value length rounded up to the 4-byte boundary, bytes. RFC 8489 §14 */
function paddedBytes(valueBytes: number): number {
  return Math.ceil(valueBytes / STUN_ATTRIBUTE_ALIGNMENT_BYTES) * STUN_ATTRIBUTE_ALIGNMENT_BYTES;
}

/** The FINGERPRINT value for the bytes before it (header length must already count it). §14.7 */
function fingerprintOf(bytesBeforeFingerprint: Uint8Array): number {
  return (crc32(bytesBeforeFingerprint) ^ STUN_FINGERPRINT_XOR) >>> 0;
}

/**
 * Parses one datagram as a STUN message (RFC 8489 §5, §6.3, §14). Never throws: anything that is
 * not well-formed STUN gives `null`, namely
 * - fewer than 20 bytes, or either of the two top bits of the type set (§5: tells STUN from
 *   RTP/DTLS on a shared port);
 * - a magic cookie other than 0x2112A442 (§5; RFC 3489 clients are not served);
 * - a length field that is not a multiple of 4 or not exactly the bytes after the header
 *   (§5; over UDP one datagram is one message, so trailing bytes mean a bad length);
 * - an attribute running past the end;
 * - a FINGERPRINT that is not 4 bytes, not the last attribute, or does not match (§14.7).
 *
 * Attribute values are copied, so the result does not alias `packet`. Methods and classes are
 * not judged here: a response or an unknown method parses fine.
 */
export function parseStunMessage(packet: Uint8Array): StunMessage | null {
  const totalBytes = packet.byteLength;
  if (totalBytes < STUN_HEADER_BYTES) return null;
  const view = new DataView(packet.buffer, packet.byteOffset, totalBytes);
  const messageType = view.getUint16(0);
  if ((messageType & 0xc000) !== 0) return null;
  const lengthBytes = view.getUint16(2);
  if (lengthBytes % STUN_ATTRIBUTE_ALIGNMENT_BYTES !== 0) return null;
  if (STUN_HEADER_BYTES + lengthBytes !== totalBytes) return null;
  if (view.getUint32(4) !== STUN_MAGIC_COOKIE) return null;

  const attributes: StunAttribute[] = [];
  let hasFingerprint = false;
  let offset = STUN_HEADER_BYTES;
  while (offset < totalBytes) {
    // §14.7: FINGERPRINT, when present, MUST be last.
    if (hasFingerprint) return null;
    if (offset + STUN_ATTRIBUTE_HEADER_BYTES > totalBytes) return null;
    const type = view.getUint16(offset);
    const valueBytes = view.getUint16(offset + 2);
    const valueStart = offset + STUN_ATTRIBUTE_HEADER_BYTES;
    if (valueStart + valueBytes > totalBytes) return null;
    if (type === StunAttributeType.FINGERPRINT) {
      if (valueBytes !== FINGERPRINT_VALUE_BYTES) return null;
      if (view.getUint32(valueStart) !== fingerprintOf(packet.subarray(0, offset))) return null;
      hasFingerprint = true;
    }
    attributes.push({ type, value: copyBytes(packet, valueStart, valueStart + valueBytes) });
    // Padding content is ignored (§14); the length checks above keep this within the packet.
    offset = valueStart + paddedBytes(valueBytes);
  }

  return {
    method: decodeMethod(messageType),
    messageClass: decodeClass(messageType),
    transactionId: copyBytes(packet, 8, STUN_HEADER_BYTES),
    attributes,
    hasFingerprint,
  };
}

/**
 * A plain Uint8Array copy of `bytes[start, end)`. Not `bytes.slice()`: on a Node Buffer (what
 * dgram delivers) `slice` is a view into the pooled receive buffer, not a copy.
 */
function copyBytes(bytes: Uint8Array, start: number, end: number): Uint8Array {
  return new Uint8Array(bytes.subarray(start, end));
}

/** Method bits M0–M11 interleaved with C0/C1 in the 14-bit type: M11..M7 C1 M6..M4 C0 M3..M0. §5 */
function decodeMethod(messageType: number): number {
  return (messageType & 0x000f) | ((messageType & 0x00e0) >> 1) | ((messageType & 0x3e00) >> 2);
}

function decodeClass(messageType: number): StunClass {
  const bits = ((messageType >> 7) & 0b10) | ((messageType >> 4) & 0b01);
  const classes = ['request', 'indication', 'success', 'error'] as const;
  return classes[bits] ?? 'request';
}

function encodeMessageType(method: number, messageClass: StunClass): number {
  const bits = { request: 0b00, indication: 0b01, success: 0b10, error: 0b11 }[messageClass];
  return (
    (method & 0x000f) |
    ((method & 0x0070) << 1) |
    ((method & 0x0f80) << 2) |
    ((bits & 0b01) << 4) |
    ((bits & 0b10) << 7)
  );
}

/**
 * Encodes a STUN message: header, each attribute zero-padded to 4 bytes (§14), then, when
 * `fingerprint` is true, a FINGERPRINT computed over everything before it (§14.7).
 *
 * For our own values, not wire input: throws `RangeError` if `method` is not 12 bits, the
 * transaction id is not 12 bytes, an attribute type is not 16 bits, or a value or the whole
 * message overflows its 16-bit length field (65535 bytes).
 */
export function encodeStunMessage(
  message: Omit<StunMessage, 'hasFingerprint'>,
  { fingerprint }: { fingerprint: boolean },
): Uint8Array {
  const { method, messageClass, transactionId, attributes } = message;
  if (!Number.isInteger(method) || method < 0 || method > 0xfff) {
    throw new RangeError(`STUN method must be 12 bits, got ${method}`);
  }
  if (transactionId.byteLength !== STUN_TRANSACTION_ID_BYTES) {
    throw new RangeError(`transaction id must be ${STUN_TRANSACTION_ID_BYTES} bytes`);
  }
  let bodyBytes = fingerprint ? STUN_ATTRIBUTE_HEADER_BYTES + FINGERPRINT_VALUE_BYTES : 0;
  for (const { type, value } of attributes) {
    if (!Number.isInteger(type) || type < 0 || type > 0xffff) {
      throw new RangeError(`attribute type must be 16 bits, got ${type}`);
    }
    if (value.byteLength > MAX_LENGTH_FIELD_BYTES) {
      throw new RangeError(`attribute 0x${type.toString(16)} value exceeds 65535 bytes`);
    }
    bodyBytes += STUN_ATTRIBUTE_HEADER_BYTES + paddedBytes(value.byteLength);
  }
  if (bodyBytes > MAX_LENGTH_FIELD_BYTES) throw new RangeError('STUN message exceeds 65535 bytes');

  const bytes = new Uint8Array(STUN_HEADER_BYTES + bodyBytes);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, encodeMessageType(method, messageClass));
  view.setUint16(2, bodyBytes);
  view.setUint32(4, STUN_MAGIC_COOKIE);
  bytes.set(transactionId, 8);
  let offset = STUN_HEADER_BYTES;
  for (const { type, value } of attributes) {
    view.setUint16(offset, type);
    view.setUint16(offset + 2, value.byteLength);
    bytes.set(value, offset + STUN_ATTRIBUTE_HEADER_BYTES);
    offset += STUN_ATTRIBUTE_HEADER_BYTES + paddedBytes(value.byteLength);
  }
  if (fingerprint) {
    view.setUint16(offset, StunAttributeType.FINGERPRINT);
    view.setUint16(offset + 2, FINGERPRINT_VALUE_BYTES);
    view.setUint32(offset + STUN_ATTRIBUTE_HEADER_BYTES, fingerprintOf(bytes.subarray(0, offset)));
  }
  return bytes;
}

/** The 16 bytes XORed into an IPv6 address: magic cookie then transaction id. RFC 8489 §14.2 */
function xorMask(transactionId: Uint8Array): Uint8Array {
  const mask = new Uint8Array(IPV6_BYTES);
  new DataView(mask.buffer).setUint32(0, STUN_MAGIC_COOKIE);
  mask.set(transactionId.subarray(0, STUN_TRANSACTION_ID_BYTES), 4);
  return mask;
}

/**
 * Encodes an XOR-MAPPED-ADDRESS value (RFC 8489 §14.2): reserved byte, family (1 = IPv4,
 * 2 = IPv6), port XOR the cookie's top 16 bits, address XOR the cookie (IPv4) or cookie +
 * transaction id (IPv6). Returns the value only (8 or 20 bytes), without the attribute header.
 *
 * Writes the family it is given: unmapping `::ffff:a.b.c.d` is the caller's choice
 * (`respondToStunPacket` does it). Throws `RangeError` for an address that is not a literal of
 * `family`, a port outside 0–65535, or a transaction id that is not 12 bytes.
 */
export function encodeXorMappedAddress(
  mapped: TransportAddress,
  transactionId: Uint8Array,
): Uint8Array {
  if (transactionId.byteLength !== STUN_TRANSACTION_ID_BYTES) {
    throw new RangeError(`transaction id must be ${STUN_TRANSACTION_ID_BYTES} bytes`);
  }
  if (!Number.isInteger(mapped.port) || mapped.port < 0 || mapped.port > MAX_PORT) {
    throw new RangeError(`port must be 0–65535, got ${mapped.port}`);
  }
  const address = mapped.family === 'IPv4' ? parseIpv4(mapped.address) : parseIpv6(mapped.address);
  if (address === null) {
    throw new RangeError(`not an ${mapped.family} literal: ${JSON.stringify(mapped.address)}`);
  }
  const value = new Uint8Array(XOR_ADDRESS_PREFIX_BYTES + address.byteLength);
  const view = new DataView(value.buffer);
  view.setUint8(1, mapped.family === 'IPv4' ? 0x01 : 0x02);
  view.setUint16(2, mapped.port ^ (STUN_MAGIC_COOKIE >>> 16));
  const mask = xorMask(transactionId);
  address.forEach((byte, i) => {
    value[XOR_ADDRESS_PREFIX_BYTES + i] = byte ^ (mask[i] ?? 0);
  });
  return value;
}

/**
 * Decodes an XOR-MAPPED-ADDRESS value (RFC 8489 §14.2), the inverse of
 * `encodeXorMappedAddress`. IPv6 comes back in RFC 5952 form (`2001:db8::1`, `::ffff:1.2.3.4`).
 * Never throws: an unknown family, a value of the wrong length for its family (8 bytes IPv4,
 * 20 bytes IPv6), or a transaction id that is not 12 bytes gives `null`.
 */
export function decodeXorMappedAddress(
  value: Uint8Array,
  transactionId: Uint8Array,
): TransportAddress | null {
  if (transactionId.byteLength !== STUN_TRANSACTION_ID_BYTES) return null;
  if (value.byteLength < XOR_ADDRESS_PREFIX_BYTES) return null;
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const familyCode = view.getUint8(1);
  const addressBytes = familyCode === 0x01 ? IPV4_BYTES : familyCode === 0x02 ? IPV6_BYTES : -1;
  if (value.byteLength !== XOR_ADDRESS_PREFIX_BYTES + addressBytes) return null;
  const mask = xorMask(transactionId);
  const address = copyBytes(value, XOR_ADDRESS_PREFIX_BYTES, value.byteLength).map(
    (byte, i) => byte ^ (mask[i] ?? 0),
  );
  const port = view.getUint16(2) ^ (STUN_MAGIC_COOKIE >>> 16);
  return familyCode === 0x01
    ? { family: 'IPv4', address: formatIpv4(address), port }
    : { family: 'IPv6', address: formatIpv6(address), port };
}

/**
 * Encodes the Binding success response (RFC 8489 §6.3.1.1): same transaction id as the request,
 * XOR-MAPPED-ADDRESS of `mapped`, then FINGERPRINT (§14.7) so a client multiplexing STUN with
 * media can tell it apart. No SOFTWARE: optional, and it would only advertise the version.
 * Throws like `encodeXorMappedAddress` on bad input.
 */
export function encodeBindingSuccessResponse(
  transactionId: Uint8Array,
  mapped: TransportAddress,
): Uint8Array {
  return encodeStunMessage(
    {
      method: STUN_METHOD_BINDING,
      messageClass: 'success',
      transactionId,
      attributes: [
        {
          type: StunAttributeType.XOR_MAPPED_ADDRESS,
          value: encodeXorMappedAddress(mapped, transactionId),
        },
      ],
    },
    { fingerprint: true },
  );
}

/**
 * Encodes a 420 Unknown Attribute error response (RFC 8489 §6.3.1): ERROR-CODE (§14.8) and
 * UNKNOWN-ATTRIBUTES listing each type once as 16-bit values, zero-padded (§14.13), then
 * FINGERPRINT. Each listed type cost the sender at least 4 bytes and costs us 2, so the reply
 * grows no faster than the request. Throws `RangeError` like `encodeStunMessage` on bad input.
 */
export function encodeUnknownAttributesResponse(
  method: number,
  transactionId: Uint8Array,
  unknownTypes: readonly number[],
): Uint8Array {
  const { errorClass, errorNumber, reason } = UNKNOWN_ATTRIBUTE_ERROR;
  const reasonBytes = new TextEncoder().encode(reason);
  const errorCode = new Uint8Array(4 + reasonBytes.byteLength);
  errorCode[2] = errorClass;
  errorCode[3] = errorNumber;
  errorCode.set(reasonBytes, 4);

  const types = [...new Set(unknownTypes)];
  const list = new Uint8Array(types.length * 2);
  const listView = new DataView(list.buffer);
  types.forEach((type, i) => listView.setUint16(i * 2, type));

  return encodeStunMessage(
    {
      method,
      messageClass: 'error',
      transactionId,
      attributes: [
        { type: StunAttributeType.ERROR_CODE, value: errorCode },
        { type: StunAttributeType.UNKNOWN_ATTRIBUTES, value: list },
      ],
    },
    { fingerprint: true },
  );
}

/**
 * Comprehension-required attribute types (< 0x8000) this server does not understand, in order
 * of appearance. Attributes after MESSAGE-INTEGRITY are skipped: RFC 8489 §14.5 says to ignore
 * all but MESSAGE-INTEGRITY-SHA256 and FINGERPRINT there, and both are understood.
 */
function unknownRequiredAttributes(attributes: readonly StunAttribute[]): number[] {
  const unknown: number[] = [];
  for (const { type } of attributes) {
    if (type === StunAttributeType.MESSAGE_INTEGRITY) break;
    if (type < FIRST_OPTIONAL_ATTRIBUTE_TYPE && !UNDERSTOOD_REQUIRED_ATTRIBUTES.has(type)) {
      unknown.push(type);
    }
  }
  return unknown;
}

/**
 * The address to reflect for a datagram's source, or `null` if it cannot be answered (not an IP
 * literal of its family, or port outside 1–65535). `::ffff:a.b.c.d` (IPv4-mapped, RFC 4291
 * §2.5.5.2, what a dual-stack socket reports for an IPv4 peer) becomes IPv4: the client sent
 * IPv4 and compares the answer with IPv4 candidates. A zone (`fe80::1%eth0`) is dropped: it
 * names our interface, which means nothing to the client.
 */
export function reflexiveAddressOf(source: TransportAddress): TransportAddress | null {
  const { port } = source;
  if (!Number.isInteger(port) || port < 1 || port > MAX_PORT) return null;
  if (source.family === 'IPv4') {
    return parseIpv4(source.address) === null
      ? null
      : { family: 'IPv4', address: source.address, port };
  }
  const bytes = parseIpv6(source.address);
  if (bytes === null) return null;
  if (isIpv4Mapped(bytes)) return { family: 'IPv4', address: formatIpv4(bytes.subarray(12)), port };
  return { family: 'IPv6', address: formatIpv6(bytes), port };
}

/**
 * Decides the answer to one datagram from `source` (RFC 8489 §6.3). Never throws. Returns
 * - a Binding success response (`encodeBindingSuccessResponse`) for a valid Binding request;
 * - a 420 error response (`encodeUnknownAttributesResponse`) for a Binding request carrying
 *   comprehension-required attributes we do not understand (§6.3.1);
 * - `null`, meaning send nothing, for everything else: whatever `parseStunMessage` rejects,
 *   indications (§6.3.2 never answers them), responses (we sent no requests, §6.3.3), other
 *   methods, and sources that cannot be answered (see `reflexiveAddressOf`).
 */
export function respondToStunPacket(
  packet: Uint8Array,
  source: TransportAddress,
): Uint8Array | null {
  const message = parseStunMessage(packet);
  if (message === null) return null;
  if (message.messageClass !== 'request' || message.method !== STUN_METHOD_BINDING) return null;
  const mapped = reflexiveAddressOf(source);
  if (mapped === null) return null;
  const unknown = unknownRequiredAttributes(message.attributes);
  if (unknown.length > 0) {
    return encodeUnknownAttributesResponse(message.method, message.transactionId, unknown);
  }
  return encodeBindingSuccessResponse(message.transactionId, mapped);
}

// ---------------------------------------------------------------------------------------------
// UDP responder (the only part with sockets)
// ---------------------------------------------------------------------------------------------

/** Where to listen. */
export interface StunResponderOptions {
  /**
   * IP literal to bind. `'0.0.0.0'` or `'::'` mean every interface of both families where the
   * OS allows: udp4 on 0.0.0.0, plus udp6 on `::` (IPv6-only) on the same port, skipped without
   * error if the host has no IPv6. Any other IPv4 or IPv6 literal binds that one address.
   */
  host: string;
  /** UDP port, 0–65535; 0 picks a free ephemeral port (read it back from `addresses`). */
  port: number;
}

/** A running responder. */
export interface StunResponder {
  /** One entry per bound socket, with the real port (also when `port: 0` was asked). */
  readonly addresses: readonly TransportAddress[];
  /** Closes every socket; resolves once all are closed. Safe to call more than once. */
  close(): Promise<void>;
}

/**
 * Bind errors that mean "this host has no IPv6", after which the wildcard responder runs
 * IPv4-only: EAFNOSUPPORT when the kernel has no IPv6 (`ipv6.disable=1`), EADDRNOTAVAIL when no
 * IPv6 address can be bound. (With only the `disable_ipv6` sysctl set, `::` still binds; that
 * socket then simply receives nothing, which is harmless.)
 */
const IPV6_UNAVAILABLE_CODES: ReadonlySet<string> = new Set(['EAFNOSUPPORT', 'EADDRNOTAVAIL']);
/**
 * With `port: 0` the udp4 socket picks the port and udp6 must take the same number, which another
 * program may already hold on IPv6; then both are released and a new port is tried this often.
 */
const EPHEMERAL_PORT_ATTEMPTS = 5;

/**
 * Starts answering STUN Binding requests over UDP (see `respondToStunPacket`) on
 * `options.host`:`options.port`. Resolves once every socket is bound.
 *
 * Rejects with the bind error (`code` `'EADDRINUSE'`, `'EACCES'`, ...) if a required socket
 * cannot bind, having closed any socket it did bind; with `TypeError` if `host` is not an IP
 * literal; with `RangeError` if `port` is not an integer in 0–65535. Once running, no datagram
 * and no send failure can throw: replies are fire-and-forget, since STUN clients retransmit
 * (RFC 8489 §6.2.1).
 *
 * Two sockets with `ipv6Only` rather than one dual-stack socket: dual-stack behaviour depends on
 * `net.ipv6.bindv6only` and does not exist without IPv6, while two sockets always work the same.
 */
export async function startStunResponder(options: StunResponderOptions): Promise<StunResponder> {
  const { host, port } = options;
  if (!Number.isInteger(port) || port < 0 || port > MAX_PORT) {
    throw new RangeError(`port must be an integer in 0–65535, got ${port}`);
  }
  checkHost(host);
  return responderOf(await bindHost(host, port, false));
}

/** The second port of the service is the first plus this (see the module comment). */
export const STUN_SECOND_PORT_OFFSET = 1;

/** Where `startStunService` listens. */
export interface StunServiceOptions {
  /** As `StunResponderOptions.host`: an IP literal, or `'0.0.0.0'`/`'::'` for every interface. */
  host: string;
  /**
   * First UDP port P, 0–65534; the service also answers on P + {@link STUN_SECOND_PORT_OFFSET}.
   * 0 picks a free ephemeral pair (read it back from `addresses`).
   */
  port: number;
  /**
   * [altAddress=null] A second IP literal of this host (not a wildcard, not `host`), answered on
   * both ports too. Its own sockets make the answers come from that address, as STUN clients
   * require; a wildcard socket would answer from whichever address routing picks.
   */
  altAddress?: string | null;
  /**
   * [addresses=[]] More IP literals of this host (not wildcards), each answered on both ports by
   * sockets of its own, like `altAddress`, so that its answers leave from it. One that equals
   * `host` or `altAddress` (in any spelling) is already answered and is skipped; so are repeats.
   * `npm start` passes `StunAddressPlan.bind` (signaling/stun-addresses.ts).
   */
  addresses?: readonly string[];
  /**
   * [skipUnavailable=false] Leave out an address of `addresses` whose bind fails with
   * `EADDRNOTAVAIL` (not, or not yet, an address of this host: an IPv6 address cannot be bound
   * while duplicate address detection runs, RFC 4862 §5.4) instead of failing: the result's
   * `addresses` then lack it. For discovered addresses; `altAddress` and `host` are always
   * required.
   */
  skipUnavailable?: boolean;
}

/**
 * Starts the responder layout of the module comment: `host` on ports P and P + 1, then
 * `altAddress` (if any) on the same two ports, then each of `addresses` on both. Resolves once
 * every socket is bound; the result's `addresses` come in that order, and `close` closes them all.
 *
 * With a wildcard `host` and an `altAddress` or `addresses`, every socket sets SO_REUSEADDR: Linux
 * lets a specific address share a UDP port with a wildcard socket only when both do, and then
 * delivers to the most specific match. The price: another program that also sets SO_REUSEADDR
 * could bind the same port without EADDRINUSE. Without either nothing changes from
 * `startStunResponder`.
 *
 * Rejects like `startStunResponder`, having closed every socket it bound: with the bind error
 * (`EADDRINUSE` when either port is taken, `EADDRNOTAVAIL` when `altAddress` or one of
 * `addresses` is not an address of this host, unless `skipUnavailable`, ...; the error's
 * `address` names it); with `RangeError` if `port` is not an integer in 0–65534; with `TypeError`
 * if `host`, `altAddress` or one of `addresses` is not an IP literal, `altAddress` is a wildcard
 * or equals `host`, or one of `addresses` is a wildcard.
 */
export async function startStunService(options: StunServiceOptions): Promise<StunResponder> {
  const { host, port } = options;
  const altAddress = options.altAddress ?? null;
  const skipUnavailable = options.skipUnavailable ?? false;
  const lastFirstPort = MAX_PORT - STUN_SECOND_PORT_OFFSET;
  if (!Number.isInteger(port) || port < 0 || port > lastFirstPort) {
    throw new RangeError(`port must be an integer in 0–${lastFirstPort}, got ${port}`);
  }
  checkHost(host);
  if (altAddress !== null) {
    checkHost(altAddress);
    if (isWildcard(altAddress) || altAddress === host) {
      throw new TypeError(
        `altAddress must be one other address, got ${JSON.stringify(altAddress)}`,
      );
    }
  }
  const own = ownAddresses(host, altAddress, options.addresses ?? []);
  const reuseAddress = isWildcard(host) && (altAddress !== null || own.length > 0);
  for (let attempt = 1; ; attempt++) {
    const sockets: Socket[] = [];
    try {
      sockets.push(...(await bindHost(host, port, reuseAddress)));
      const first = sockets[0]?.address().port ?? port;
      const second = first + STUN_SECOND_PORT_OFFSET;
      if (second > MAX_PORT) {
        // Only with port 0: the ephemeral first port was the last one. As good as taken.
        throw Object.assign(new Error(`no port after ${first}`), { code: 'EADDRINUSE' });
      }
      sockets.push(...(await bindHost(host, second, reuseAddress)));
      if (altAddress !== null) {
        sockets.push(...(await bindHost(altAddress, first, reuseAddress)));
        sockets.push(...(await bindHost(altAddress, second, reuseAddress)));
      }
      for (const address of own) {
        const pair: Socket[] = [];
        try {
          pair.push(...(await bindHost(address, first, reuseAddress)));
          pair.push(...(await bindHost(address, second, reuseAddress)));
        } catch (error) {
          await Promise.all(pair.map(closeSocket));
          if (skipUnavailable && errorCode(error) === 'EADDRNOTAVAIL') continue;
          throw error;
        }
        sockets.push(...pair);
      }
      return responderOf(sockets);
    } catch (error) {
      await Promise.all(sockets.map(closeSocket));
      // A fixed port is the operator's choice: say it is taken. Port 0 just tries another pair.
      if (port !== 0 || errorCode(error) !== 'EADDRINUSE' || attempt >= EPHEMERAL_PORT_ATTEMPTS) {
        throw error;
      }
    }
  }
}

/**
 * `addresses` checked (IP literals, no wildcard), without those equal to `host` or `altAddress`
 * and without repeats, compared in one spelling (`canonicalHost`: `2001:DB8::1` is `2001:db8::1`).
 * @throws {TypeError} for an address that is not an IP literal, or is a wildcard.
 */
function ownAddresses(
  host: string,
  altAddress: string | null,
  addresses: readonly string[],
): string[] {
  const taken = new Set([host, altAddress ?? host].map(canonicalHost));
  const own: string[] = [];
  for (const address of addresses) {
    checkHost(address);
    const key = canonicalHost(address);
    if (isWildcard(key)) {
      throw new TypeError(`addresses must not hold a wildcard, got ${JSON.stringify(address)}`);
    }
    if (taken.has(key)) continue;
    taken.add(key);
    own.push(address);
  }
  return own;
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

function checkHost(host: string): void {
  if (!isIPv4(host) && !isIPv6(host)) {
    throw new TypeError(`host must be an IP literal, got ${JSON.stringify(host)}`);
  }
}

/** Binds `host` (an IP literal, checked by the caller) on `port`: one socket, or two for `*`. */
async function bindHost(host: string, port: number, reuseAddress: boolean): Promise<Socket[]> {
  if (isWildcard(host)) return bindBothFamilies(port, reuseAddress);
  const type = isIPv4(host) ? 'udp4' : 'udp6';
  return [await bindResponderSocket(type, host, port, reuseAddress)];
}

async function bindBothFamilies(port: number, reuseAddress: boolean): Promise<Socket[]> {
  for (let attempt = 1; ; attempt++) {
    const udp4 = await bindResponderSocket('udp4', '0.0.0.0', port, reuseAddress);
    try {
      return [udp4, await bindResponderSocket('udp6', '::', udp4.address().port, reuseAddress)];
    } catch (error) {
      const code = errorCode(error);
      if (code !== undefined && IPV6_UNAVAILABLE_CODES.has(code)) return [udp4];
      await closeSocket(udp4);
      if (port !== 0 || code !== 'EADDRINUSE' || attempt >= EPHEMERAL_PORT_ATTEMPTS) throw error;
    }
  }
}

function errorCode(error: unknown): string | undefined {
  const code: unknown = error instanceof Error ? Reflect.get(error, 'code') : undefined;
  return typeof code === 'string' ? code : undefined;
}

/** Binds one socket and wires it to `respondToStunPacket`; on bind failure closes and rejects. */
function bindResponderSocket(
  type: SocketType,
  address: string,
  port: number,
  reuseAddress: boolean,
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type, ipv6Only: type === 'udp6', reuseAddr: reuseAddress });
    // First listener, kept for the socket's life: an 'error' without one would crash the process.
    // After bind, dgram only emits it for rare socket-level faults; a lost reply is retransmitted.
    socket.on('error', () => {});
    const onBindError = (error: Error) => {
      socket.close();
      reject(error);
    };
    socket.once('error', onBindError);
    socket.once('listening', () => {
      socket.off('error', onBindError);
      socket.on('message', (packet, remote) => answer(socket, packet, remote));
      resolve(socket);
    });
    // exclusive: under node:cluster, workers must not share (and split) one STUN port.
    socket.bind({ address, port, exclusive: true });
  });
}

function answer(socket: Socket, packet: Buffer, remote: TransportAddress): void {
  try {
    const reply = respondToStunPacket(packet, remote);
    if (reply === null) return;
    // The callback receives send errors (EHOSTUNREACH, ENOBUFS, ...) so they are not emitted.
    socket.send(reply, remote.port, remote.address, () => {});
  } catch {
    // Unreachable by design (respondToStunPacket never throws, the port is checked); kept so
    // that one odd datagram can never take the signaling process down with it.
  }
}

function closeSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => socket.close(() => resolve()));
}

function responderOf(sockets: readonly Socket[]): StunResponder {
  const addresses = Object.freeze(
    sockets.map((socket): TransportAddress => {
      const { address, port } = socket.address();
      return { family: isIPv6(address) ? 'IPv6' : 'IPv4', address, port };
    }),
  );
  let closing: Promise<void> | undefined;
  return {
    addresses,
    close() {
      closing ??= Promise.all(sockets.map(closeSocket)).then(() => undefined);
      return closing;
    },
  };
}
