import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  fingerprintsFromSdp,
  formatFingerprint,
  SAS_ALPHABET,
  SAS_BITS,
  SAS_CONTEXT,
  sdpFingerprint,
  shortAuthString,
} from './sas.ts';

const FP_A =
  'sha-256 D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E:FD:34:8E:5E:EA:6F:AF:52:CE:E6:0F';
const FP_B =
  'sha-256 7B:11:8A:6D:C4:0F:93:E2:58:AF:31:0C:D7:64:BE:19:F5:2A:80:CE:47:9D:03:6B:E8:52:1F:A4:CC:70:39:D6';
const ROOM = 'k3Jd9_-aZQ0wE1rT5yU7iO';

/** The SAS computed another way: node's SHA-256, then BigInt to base32hex, then Crockford. */
function independentSas(roomId: string, x: string, y: string): string {
  const [a, b] = x < y ? [x, y] : [y, x];
  const digest = createHash('sha256')
    .update(JSON.stringify([SAS_CONTEXT, roomId, a, b]), 'utf8')
    .digest();
  const top = BigInt(`0x${digest.subarray(0, SAS_BITS / 8).toString('hex')}`);
  const base32hex = top.toString(32).padStart(SAS_BITS / 5, '0');
  const chars = [...base32hex].map((digit) => SAS_ALPHABET[parseInt(digit, 32)]).join('');
  return chars.match(/.{4}/g)?.join(' ') ?? '';
}

/** A Chromium offer for a data channel only (the fingerprint is at media level). */
const CHROMIUM_OFFER = [
  'v=0',
  'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0',
  'a=extmap-allow-mixed',
  'a=msid-semantic: WMS',
  'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
  'c=IN IP4 0.0.0.0',
  'a=ice-ufrag:EsAw',
  'a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1',
  'a=ice-options:trickle',
  `a=fingerprint:${FP_A}`,
  'a=setup:actpass',
  'a=mid:0',
  'a=sctp-port:5000',
  'a=max-message-size:262144',
  '',
].join('\r\n');

/** Firefox style: the fingerprint at session level, before the first m= line. */
const FIREFOX_ANSWER = [
  'v=0',
  'o=mozilla...THIS_IS_SDPARTA-99.0 1234 0 IN IP4 0.0.0.0',
  's=-',
  't=0 0',
  `a=fingerprint:SHA-256 ${FP_B.slice('sha-256 '.length).toLowerCase()}`,
  'a=group:BUNDLE 0',
  'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
  'a=setup:active',
  '',
].join('\r\n');

describe('fingerprints from SDP (RFC 8122 §5)', () => {
  it('reads Chromium media-level and Firefox session-level lines, normalising case', () => {
    expect(fingerprintsFromSdp(CHROMIUM_OFFER)).toEqual([FP_A]);
    expect(fingerprintsFromSdp(FIREFOX_ANSWER)).toEqual([FP_B]);
    expect(sdpFingerprint(CHROMIUM_OFFER)).toBe(FP_A);
  });

  it('keeps each fingerprint once, and all of them, sorted, as the identity', () => {
    const sdp = [`a=fingerprint:${FP_B}`, `a=fingerprint:${FP_A}`, `a=fingerprint:${FP_A}`].join(
      '\n',
    );
    expect(fingerprintsFromSdp(sdp)).toEqual([FP_B, FP_A]);
    expect(sdpFingerprint(sdp)).toBe(`${FP_B},${FP_A}`);
  });

  it('skips malformed lines and gives null without any', () => {
    const bad = [
      'a=fingerprint:sha-256',
      'a=fingerprint:sha-256 D2:FA:0E',
      'a=fingerprint:sha-256 D2FA0EC3',
      'a=fingerprint:sha-1 D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E',
      'a=fingerprint:sha(256) D2:FA',
      'a=fingerprint:sha-256 G2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E:FD:34:8E:5E:EA:6F:AF:52:CE:E6:0F',
    ].join('\r\n');
    expect(fingerprintsFromSdp(bad)).toEqual([]);
    expect(sdpFingerprint('v=0\r\n')).toBeNull();
  });

  it('formats getStats() certificate fingerprints the same way', () => {
    const hex = FP_A.split(' ')[1] ?? '';
    expect(formatFingerprint('sha-256', hex.toLowerCase())).toBe(FP_A);
    expect(formatFingerprint('x-new-hash', 'AB:CD')).toBe('x-new-hash AB:CD');
    expect(formatFingerprint('sha-256', 'AB:CD')).toBeNull();
  });
});

describe('short authentication string', () => {
  const sas = shortAuthString({ roomId: ROOM, localFingerprint: FP_A, remoteFingerprint: FP_B });

  it('matches an independent computation, and a pinned vector', () => {
    expect(sas).toBe(independentSas(ROOM, FP_A, FP_B));
    expect(sas).toMatch(/^([0-9A-HJKMNP-TV-Z]{4} ){5}[0-9A-HJKMNP-TV-Z]{4}$/);
    expect(sas).toBe(PINNED);
  });

  it('is the same on both sides', () => {
    expect(shortAuthString({ roomId: ROOM, localFingerprint: FP_B, remoteFingerprint: FP_A })).toBe(
      sas,
    );
  });

  it('changes with any fingerprint or the room', () => {
    const other = FP_B.replace(/.$/, '7');
    for (const input of [
      { roomId: `${ROOM}x`, localFingerprint: FP_A, remoteFingerprint: FP_B },
      { roomId: ROOM, localFingerprint: FP_A, remoteFingerprint: other },
      { roomId: ROOM, localFingerprint: other, remoteFingerprint: FP_B },
      // A man in the middle: each side sees its own and the attacker's certificate.
      {
        roomId: ROOM,
        localFingerprint: FP_A,
        remoteFingerprint: FP_A.replace(/^sha-256 D2/, 'sha-256 D3'),
      },
    ]) {
      expect(shortAuthString(input)).not.toBe(sas);
      expect(shortAuthString(input)).toBe(
        independentSas(input.roomId, input.localFingerprint, input.remoteFingerprint),
      );
    }
  });

  it('refuses to make a string without both fingerprints', () => {
    expect(() =>
      shortAuthString({ roomId: ROOM, localFingerprint: FP_A, remoteFingerprint: '' }),
    ).toThrow(RangeError);
  });
});

/** Pinned so that a change of the derivation (which would break verification between versions) shows. */
const PINNED = 'E2FP PP8S G3BF 24SE DK1X AYF0';
