import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import { decodeChunk, encodeChunk, encodeFileFrame } from './file-protocol.ts';
import { FileTransfers, MAX_INCOMING_PER_PEER, type FileDeps } from './file-transfers.svelte.ts';
import { FLUSH_BYTES, RECEIVE_WINDOW_BYTES } from './transfer.ts';

const ALICE = 'pa000000000000000';
const BOB = 'pb000000000000000';

/**
 * Two pages' file layers joined by one `files` channel each way: messages are queued and handed
 * over when {@link Pair.flush} runs, so a test can drop what is in flight (the path dropped).
 */
class Pair {
  readonly alice: FileTransfers;
  readonly bob: FileTransfers;
  /** In flight, to the named side. */
  readonly inFlight: { to: 'alice' | 'bob'; data: string | ArrayBuffer }[] = [];
  up = true;
  /** Every message the sender wrote, for counting. */
  chunksSent = 0;
  urls: string[] = [];
  blobs = new Map<string, Blob>();

  constructor(maxFileBytes = 1024 * 1024 * 1024) {
    const deps = (self: 'alice' | 'bob'): FileDeps => ({
      send: (_peer, data) => {
        if (!this.up) return Promise.resolve(false);
        if (typeof data !== 'string') this.chunksSent += 1;
        this.inFlight.push({ to: self === 'alice' ? 'bob' : 'alice', data });
        return Promise.resolve(true);
      },
      maxMessageSize: () => 262144,
      nameOf: (peer) => (peer === ALICE ? 'Alice' : 'Bob'),
      now: () => performance.now(),
      wallClock: () => Date.now(),
      maxFileBytes: () => maxFileBytes,
      urlFor: (blob) => {
        const url = `blob:${this.urls.length}`;
        this.urls.push(url);
        this.blobs.set(url, blob);
        return url;
      },
      releaseUrl: () => undefined,
    });
    this.alice = new FileTransfers(deps('alice'));
    this.bob = new FileTransfers(deps('bob'));
  }

  connect(): void {
    this.up = true;
    this.alice.connected(BOB);
    this.bob.connected(ALICE);
  }

  /** The path drops: what is in flight is lost. */
  drop(): void {
    this.up = false;
    this.inFlight.length = 0;
    this.alice.disconnected(BOB);
    this.bob.disconnected(ALICE);
  }

  /** Delivers messages (and lets the pumps run) until nothing is in flight or `limit` is hit. */
  async flush(limit = Infinity): Promise<void> {
    let delivered = 0;
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      const next = this.inFlight.shift();
      if (!next) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (this.inFlight.length === 0) return;
        continue;
      }
      if (next.to === 'bob') this.bob.receive(ALICE, next.data);
      else this.alice.receive(BOB, next.data);
      if (++delivered >= limit) return;
    }
  }

  async saved(): Promise<Uint8Array> {
    const url = this.bob.lines.find((line) => line.direction === 'in')?.saveUrl;
    const blob = url ? this.blobs.get(url) : undefined;
    if (!blob) throw new Error('no file to save');
    return new Uint8Array(await blob.arrayBuffer());
  }
}

function file(bytes: Uint8Array, name = 'a.bin', type = 'application/octet-stream'): File {
  return new File([bytes as BlobPart], name, { type });
}

function randomBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i += 65536) {
    crypto.getRandomValues(bytes.subarray(i, Math.min(length, i + 65536)));
  }
  return bytes;
}

const incoming = (pair: Pair) => pair.bob.lines.find((line) => line.direction === 'in')!;
const outgoing = (pair: Pair) => pair.alice.lines.find((line) => line.direction === 'out')!;

describe('FileTransfers between two pages', () => {
  it('offers, waits for Accept, then delivers the exact bytes with a matching SHA-256', async () => {
    const pair = new Pair();
    pair.connect();
    const bytes = randomBytes(3 * FLUSH_BYTES + 12345);
    expect(pair.alice.send([file(bytes, 'photo.jpg', 'image/jpeg')], [BOB]).sent).toEqual([
      'photo.jpg',
    ]);
    await pair.flush();
    expect(incoming(pair)).toMatchObject({
      name: 'photo.jpg',
      size: bytes.length,
      mime: 'image/jpeg',
      fromName: 'Alice',
    });
    expect(incoming(pair).rows[0]!.state).toBe('offered');
    expect(pair.chunksSent).toBe(0); // nothing moves unasked
    pair.bob.accept(incoming(pair).key);
    await pair.flush();
    expect(incoming(pair).rows[0]!.state).toBe('verified');
    expect(outgoing(pair).rows[0]).toMatchObject({ state: 'verified', bytes: bytes.length });
    expect(bytesToHex(sha256(await pair.saved()))).toBe(bytesToHex(sha256(bytes)));
  });

  it('resumes from what the recipient holds after the path drops, not from zero', async () => {
    const pair = new Pair();
    pair.connect();
    const bytes = randomBytes(4 * RECEIVE_WINDOW_BYTES);
    pair.alice.send([file(bytes)], [BOB]);
    await pair.flush();
    pair.bob.accept(incoming(pair).key);
    await pair.flush(200); // part of the way
    const before = incoming(pair).rows[0]!.bytes;
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(bytes.length);
    pair.drop();
    expect(outgoing(pair).rows[0]!.paused).toBe(true);
    pair.connect();
    await pair.flush();
    expect(incoming(pair).rows[0]!.state).toBe('verified');
    expect(bytesToHex(sha256(await pair.saved()))).toBe(bytesToHex(sha256(bytes)));
    // Only what was in flight when the path dropped went twice: at most one window.
    const resent = outgoing(pair).rows[0]!.resentBytes;
    expect(resent).toBeGreaterThan(0);
    expect(resent).toBeLessThanOrEqual(RECEIVE_WINDOW_BYTES);
  });

  it('declines on its own a file over the size limit, and too many at once from one peer', async () => {
    const pair = new Pair(1000);
    pair.connect();
    const sent = pair.alice.send([file(randomBytes(1001), 'big.bin')], [BOB]);
    expect(sent.refused).toEqual([
      { name: 'big.bin', reason: 'it is larger than the 1.0 kB limit' },
    ]);
    // A sender with a larger limit offers it anyway: the recipient declines, saying why.
    pair.alice.receive(BOB, encodeFileFrame({ t: 'file-accept', id: '0'.repeat(16), from: 0 }));
    pair.bob.receive(
      ALICE,
      encodeFileFrame({
        t: 'file-offer',
        v: 1,
        id: '1'.repeat(16),
        name: 'x',
        size: 5000,
        mime: '',
      }),
    );
    expect(incoming(pair).rows[0]).toMatchObject({
      state: 'declined',
      error: 'It is larger than the 1.0 kB limit of the recipient.',
    });
    for (let i = 0; i < MAX_INCOMING_PER_PEER + 1; i++) {
      const id = (0x100 + i).toString(16).padStart(16, '0');
      pair.bob.receive(
        ALICE,
        encodeFileFrame({ t: 'file-offer', v: 1, id, name: `f${i}`, size: 10, mime: '' }),
      );
    }
    const states = pair.bob.lines.filter((line) => line.name.startsWith('f'));
    expect(states.filter((line) => line.rows[0]!.state === 'offered')).toHaveLength(
      MAX_INCOMING_PER_PEER,
    );
    expect(states.at(-1)!.rows[0]!.error).toMatch(/already has 16 files/);
  });

  it('ends a transfer whose sender breaks the protocol, and never throws', async () => {
    const pair = new Pair();
    pair.connect();
    const id = 'ab'.repeat(8);
    pair.bob.receive(
      ALICE,
      encodeFileFrame({ t: 'file-offer', v: 1, id, name: 'x.bin', size: 100, mime: '' }),
    );
    pair.bob.accept(incoming(pair).key);
    // Bytes past the end.
    pair.bob.receive(ALICE, encodeChunk(id, 90, new Uint8Array(20)));
    expect(incoming(pair).rows[0]).toMatchObject({ state: 'failed' });
    expect(incoming(pair).rows[0]!.error).toMatch(/past the 100-byte end/);
    // Garbage of every kind is ignored.
    for (const junk of ['', '{', 'null', '[]', '{"t":"file-done","id":"zz"}', 'x'.repeat(10000)]) {
      expect(() => pair.bob.receive(ALICE, junk)).not.toThrow();
    }
    expect(() => pair.bob.receive(ALICE, new ArrayBuffer(3))).not.toThrow();
    // A malformed frame about a known transfer ends it with words.
    const other = 'cd'.repeat(8);
    pair.bob.receive(
      ALICE,
      encodeFileFrame({ t: 'file-offer', v: 1, id: other, name: 'y.bin', size: 100, mime: '' }),
    );
    const line = pair.bob.lines.find((entry) => entry.name === 'y.bin')!;
    pair.bob.accept(line.key);
    pair.bob.receive(ALICE, JSON.stringify({ t: 'file-done', id: other, sha256: 'nope' }));
    const after = pair.bob.lines.find((entry) => entry.name === 'y.bin')!;
    expect(after.rows[0]).toMatchObject({
      state: 'cancelled',
      error: 'The sender sent a malformed frame.',
    });
    // The chunk decoder saw a well-formed header.
    expect(decodeChunk(encodeChunk(id, 0, new Uint8Array(1)))?.id).toBe(id);
  });

  it('ends the transfer with words when the file cannot be read any more', async () => {
    const pair = new Pair();
    pair.connect();
    // A picked file that was deleted or changed on disk: reading it rejects (NotReadableError).
    const gone = {
      name: 'gone.txt',
      size: 5000,
      type: 'text/plain',
      slice: () => ({ arrayBuffer: () => Promise.reject(new Error('NotReadableError')) }),
    } as unknown as File;
    pair.alice.send([gone], [BOB]);
    await pair.flush();
    pair.bob.accept(incoming(pair).key);
    await pair.flush();
    expect(outgoing(pair).rows[0]).toMatchObject({
      state: 'cancelled',
      error: 'This page could not read the file (NotReadableError).',
    });
    expect(incoming(pair).rows[0]).toMatchObject({
      state: 'cancelled',
      error: 'The sender could not read the file.',
    });
  });

  it('lets either side cancel, and the other side is told', async () => {
    const pair = new Pair();
    pair.connect();
    pair.alice.send([file(randomBytes(3 * RECEIVE_WINDOW_BYTES))], [BOB]);
    await pair.flush();
    pair.bob.accept(incoming(pair).key);
    await pair.flush(20);
    pair.alice.cancel(outgoing(pair).key);
    await pair.flush();
    expect(outgoing(pair).rows[0]).toMatchObject({ state: 'cancelled', error: 'You cancelled.' });
    expect(incoming(pair).rows[0]).toMatchObject({
      state: 'cancelled',
      error: 'The sender cancelled.',
    });
    expect(incoming(pair).saveUrl).toBeNull();
  });
});
