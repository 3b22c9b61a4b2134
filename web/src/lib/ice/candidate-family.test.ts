import { describe, expect, it } from 'vitest';
import {
  candidateFamily,
  familyLabel,
  pairFamily,
  priorityFamily,
  type FamilySource,
} from './candidate-family.ts';
import { parseIceCandidate } from './ice-candidate.ts';

// Chromium's priorities (libwebrtc): host IPv4 precedence 30, host IPv6 (global) 40.
const HOST_V4_PRIORITY = 2113937151;
const HOST_V6_PRIORITY = 2113939711;
// Firefox's host priority: low byte of the local preference 0, no family in it.
const FIREFOX_HOST_PRIORITY = 2122252543;

function line(text: string): FamilySource {
  const parsed = parseIceCandidate(text);
  if (!parsed) throw new Error(`fixture does not parse: ${text}`);
  return parsed;
}

describe('candidateFamily', () => {
  it('reads the family of a visible address', () => {
    expect(candidateFamily({ type: 'srflx', address: '203.0.113.2' })).toEqual({
      family: 'IPv4',
      from: 'address',
    });
    expect(candidateFamily({ type: 'host', address: '2001:db8:1::2' })).toEqual({
      family: 'IPv6',
      from: 'address',
    });
    // An IPv4-mapped IPv6 address travels over IPv4.
    expect(candidateFamily({ type: 'host', address: '::ffff:203.0.113.2' })?.family).toBe('IPv4');
  });

  it("infers the family of an mDNS-hidden host from Chromium's priority, and says so", () => {
    const v6 = line(
      `candidate:1 1 udp ${HOST_V6_PRIORITY} 0c2d7e1f-3a4b-4c5d-9e6f-7a8b9c0d1e2f.local 54401 typ host`,
    );
    expect(candidateFamily(v6)).toEqual({ family: 'IPv6', from: 'priority' });
    expect(familyLabel(candidateFamily(v6))).toBe('IPv6 (by priority)');
    const v4 = { type: 'host', address: 'f1b3c2d4.local', priority: HOST_V4_PRIORITY };
    expect(candidateFamily(v4)).toEqual({ family: 'IPv4', from: 'priority' });
  });

  it('gives no family when neither the address nor the priority tells', () => {
    // Firefox's formula, a hidden remote prflx without priority, a relay (its priority mixes in
    // a relay preference).
    expect(
      candidateFamily({ type: 'host', address: 'x.local', priority: FIREFOX_HOST_PRIORITY }),
    ).toBeNull();
    expect(candidateFamily({ type: 'prflx' })).toBeNull();
    expect(candidateFamily({ type: 'relay', priority: HOST_V6_PRIORITY })).toBeNull();
    expect(familyLabel(null)).toBe('hidden');
  });
});

describe('pairFamily', () => {
  const hiddenV6Host = { type: 'host', address: 'a.local', priority: HOST_V6_PRIORITY };

  it('takes a visible address first, local before remote (RFC 8445 pairs one family)', () => {
    expect(
      pairFamily({
        local: { type: 'srflx', address: '2001:db8:2::5' },
        remote: { type: 'prflx' },
      }),
    ).toEqual({ family: 'IPv6', from: 'address' });
    // The local host is hidden, the remote srflx is not: the address beats the priority.
    expect(
      pairFamily({ local: hiddenV6Host, remote: { type: 'srflx', address: '2001:db8:1::2' } }),
    ).toEqual({ family: 'IPv6', from: 'address' });
  });

  it('falls back to a priority hint when both addresses are hidden', () => {
    expect(pairFamily({ local: hiddenV6Host, remote: { type: 'prflx' } })).toEqual({
      family: 'IPv6',
      from: 'priority',
    });
    expect(pairFamily({ local: { type: 'host' }, remote: { type: 'prflx' } })).toBeNull();
    expect(pairFamily(null)).toBeNull();
  });

  it("reads a relay pair's family from the relayed address", () => {
    expect(
      pairFamily({
        local: { type: 'relay', address: '203.0.113.20' },
        remote: { type: 'srflx', address: '203.0.113.3' },
      }),
    ).toEqual({ family: 'IPv4', from: 'address' });
  });
});

describe('priorityFamily', () => {
  it('reads the low byte of the local preference, and nothing else', () => {
    expect(priorityFamily(HOST_V4_PRIORITY)).toBe('IPv4');
    expect(priorityFamily(HOST_V6_PRIORITY)).toBe('IPv6');
    expect(priorityFamily(FIREFOX_HOST_PRIORITY)).toBeNull();
    expect(priorityFamily(undefined)).toBeNull();
    expect(priorityFamily(0)).toBeNull();
  });
});
