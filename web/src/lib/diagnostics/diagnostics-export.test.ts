import { describe, expect, it } from 'vitest';
import { buildDiagnosticsExport, redactAddresses } from './diagnostics-export.ts';

const view = {
  candidates: [
    'candidate:1 1 udp 2113937151 4bdfe74d-08ec-47a2-a113-f137ff4bc82f.local 36489 typ host',
    'candidate:2 1 udp 1677729535 203.0.113.2 40000 typ srflx raddr 0.0.0.0 rport 0',
    'candidate:3 1 udp 1677729535 2001:db8::1234 40002 typ srflx raddr :: rport 0',
  ],
  selected: { address: '203.0.113.2', port: 40000, url: 'stun:203.0.113.10:3478' },
  rttMs: 12.5,
};

describe('redactAddresses', () => {
  it('hides every address but keeps ports, structure and which ones are equal', () => {
    const redacted = redactAddresses(view);
    const text = JSON.stringify(redacted);
    expect(text).not.toContain('203.0.113.2');
    expect(text).not.toContain('203.0.113.10');
    expect(text).not.toContain('2001:db8');
    expect(text).not.toContain('4bdfe74d');
    expect(redacted.candidates[0]).toBe('candidate:1 1 udp 2113937151 mdns-1 36489 typ host');
    expect(redacted.candidates[1]).toBe(
      'candidate:2 1 udp 1677729535 ip-1 40000 typ srflx raddr 0.0.0.0 rport 0',
    );
    expect(redacted.selected).toEqual({ address: 'ip-1', port: 40000, url: 'stun:ip-3:3478' });
    expect(redacted.rttMs).toBe(12.5);
    expect(view.selected.address).toBe('203.0.113.2');
  });
});

describe('buildDiagnosticsExport', () => {
  it('redacts unless asked to include addresses', () => {
    const nowMs = Date.parse('2026-11-24T12:00:00Z');
    const connections = [{ peerId: 'p0123456789abcdef', name: 'Bob', local: view, remote: view }];
    const redacted = buildDiagnosticsExport(
      { local: view, connections },
      { includeAddresses: false, nowMs },
    );
    expect(redacted.addressesRedacted).toBe(true);
    expect(JSON.stringify(redacted)).not.toContain('203.0.113.2');
    expect(redacted.connections[0]?.name).toBe('Bob');
    const full = buildDiagnosticsExport(
      { local: view, connections },
      { includeAddresses: true, nowMs },
    );
    expect(JSON.stringify(full)).toContain('203.0.113.2');
    expect(full.exportedAt).toBe('2026-11-24T12:00:00.000Z');
  });
});
