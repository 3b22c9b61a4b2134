import 'fake-indexeddb/auto';
import { createStore, set } from 'idb-keyval';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Conversation, type ConversationSnapshot } from './delivery.ts';
import {
  openOutboxStore,
  SnapshotWriter,
  type Durability,
  type OutboxStore,
  type OutboxStoreOptions,
} from './outbox-store.ts';

let databases = 0;
/** A database of its own per test, so tests do not see each other's rooms. */
const fresh = (options: OutboxStoreOptions = {}): OutboxStoreOptions => ({
  databaseName: `test-${databases++}`,
  ...options,
});

const ALICE = 'pa11c000000000001';
const BOB = 'pb0b0000000000002';
const CAROL = 'pca70000000000003';

/**
 * A snapshot with every part filled in: `texts` waiting for Bob and Carol, a line from Bob, the
 * stream it came on and his name.
 */
function snapshotWith(...texts: string[]): ConversationSnapshot {
  const conversation = new Conversation();
  const bob = new Conversation({ name: 'Bob' });
  conversation.connect(BOB);
  for (const { frame } of [
    ...bob.connect(ALICE).frames,
    ...(bob.send('hi', 0, [ALICE])?.frames ?? []),
  ]) {
    conversation.receive(BOB, JSON.stringify(frame), 1_700_000_000_000);
  }
  for (const text of texts) conversation.send(text, 1_700_000_000_000, [BOB, CAROL]);
  return conversation.snapshot();
}

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

describe('openOutboxStore', () => {
  it('keeps each room across a reload', async () => {
    const options = fresh();
    const store = openOutboxStore(options);
    const one = snapshotWith('hello');
    const two = snapshotWith('other room');
    expect(one).toMatchObject({
      outbox: [{ to: [{ peer: BOB }, { peer: CAROL }] }],
      received: [[BOB, expect.any(String), 1]],
      names: [[BOB, 'Bob']],
    });
    expect(await store.save('room-1', one)).toBe('indexeddb');
    expect(await store.save('room-2', two)).toBe('indexeddb');

    const reloaded = openOutboxStore(options);
    expect(await reloaded.load('room-1')).toEqual(one);
    expect(await reloaded.load('room-2')).toEqual(two);
    expect(await reloaded.load('room-3')).toBeNull();
    expect(reloaded.durability).toBe('indexeddb');
    expect(reloaded.failure).toBeNull();
  });

  it('ignores a stored value that is not a snapshot, or one of another version', async () => {
    const options = fresh();
    const idb = createStore(options.databaseName ?? '', 'rooms');
    await set('room', { version: 99 }, idb);
    // What a two-person page (issue #4) stored: no recipients, so it cannot be resent to a group.
    const id = '0123456789abcdef';
    const v1 = {
      version: 1,
      outbox: [{ id, senderId: 'fedcba9876543210', seq: 1, text: 'from v1', sentAt: 0 }],
      received: [['00112233445566ff', 3]],
      entries: [{ id, from: 'me', text: 'from v1', at: 0, status: 'queued' }],
    };
    await set('old', v1, idb);
    const store = openOutboxStore(options);
    expect(await store.load('room')).toBeNull();
    expect(await store.load('old')).toBeNull();
    expect(store.durability).toBe('indexeddb');
  });

  it('falls back to memory without IndexedDB', async () => {
    vi.stubGlobal('indexedDB', undefined);
    const store = openOutboxStore(fresh());
    expect(store.durability).toBe('memory');
    expect(store.failure).toMatch(/^NotSupportedError/);
    const snapshot = snapshotWith('kept in memory');
    expect(await store.save('room', snapshot)).toBe('memory');
    expect(await store.load('room')).toEqual(snapshot);
  });

  it('falls back to memory when the database cannot be opened', async () => {
    vi.stubGlobal('indexedDB', {
      open() {
        const request: Partial<IDBOpenDBRequest> & { onerror?: () => void } = {};
        setTimeout(() => {
          Object.assign(request, { error: new DOMException('private mode', 'InvalidStateError') });
          request.onerror?.();
        });
        return request;
      },
    });
    const store = openOutboxStore(fresh());
    expect(await store.load('room')).toBeNull();
    expect(store.durability).toBe('memory');
    expect(store.failure).toBe('InvalidStateError: private mode');
    expect(await store.save('room', snapshotWith('still works'))).toBe('memory');
  });

  it('gives up on a database that never answers', async () => {
    vi.stubGlobal('indexedDB', { open: () => ({}) });
    const store = openOutboxStore(fresh({ timeoutMs: 10 }));
    const snapshot = snapshotWith('not stuck');
    expect(await store.save('room', snapshot)).toBe('memory');
    expect(store.failure).toMatch(/^TimeoutError/);
    expect(await store.load('room')).toEqual(snapshot);
  });

  it('falls back to memory when the quota is exceeded', async () => {
    const store = openOutboxStore(fresh());
    expect(await store.save('room', snapshotWith('first'))).toBe('indexeddb');
    vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementation(() => {
      throw new DOMException('full', 'QuotaExceededError');
    });
    const second = snapshotWith('second');
    expect(await store.save('room', second)).toBe('memory');
    expect(store.durability).toBe('memory');
    expect(store.failure).toBe('QuotaExceededError: full');
    expect(await store.load('room')).toEqual(second);
  });
});

describe('SnapshotWriter', () => {
  /** A store whose saves finish only when the test says so. */
  function manualStore(): OutboxStore & { saves: ConversationSnapshot[]; finish(): void } {
    const waiting: (() => void)[] = [];
    return {
      durability: 'indexeddb',
      failure: null,
      saves: [],
      load: async () => null,
      save(_roomId, snapshot) {
        this.saves.push(snapshot);
        return new Promise<Durability>((resolve) => waiting.push(() => resolve('indexeddb')));
      },
      finish: () => waiting.shift()?.(),
    };
  }

  it('coalesces requests made during a save into one more save of the latest state', async () => {
    const store = manualStore();
    let state = snapshotWith('1');
    const saved: ConversationSnapshot[] = [];
    const writer = new SnapshotWriter({
      store,
      roomId: 'room',
      take: () => state,
      saved: (snapshot) => saved.push(snapshot),
    });
    writer.request();
    await vi.waitFor(() => expect(store.saves).toHaveLength(1));
    for (const text of ['2', '3', '4']) {
      state = snapshotWith(text);
      writer.request();
    }
    store.finish();
    await vi.waitFor(() => expect(store.saves).toHaveLength(2));
    expect(store.saves[1]).toBe(state);
    store.finish();
    await writer.flush();
    expect(saved).toEqual(store.saves);
  });

  it('drives acknowledgements after each save, end to end', async () => {
    const options = fresh();
    const store = openOutboxStore(options);
    const alice = new Conversation();
    const bob = new Conversation();
    alice.connect(BOB);
    bob.connect(ALICE);
    const acks: string[] = [];
    const writer = new SnapshotWriter({
      store,
      roomId: 'room',
      take: () => bob.snapshot(),
      saved: (snapshot) => {
        for (const { to, frame } of bob.saved(snapshot)) {
          expect(to).toBe(ALICE);
          acks.push(JSON.stringify(frame));
        }
      },
    });
    for (const text of ['a', 'b', 'c']) {
      for (const { frame } of alice.send(text, 0, [BOB])?.frames ?? []) {
        if (bob.receive(ALICE, JSON.stringify(frame), 0).persist) writer.request();
      }
    }
    await writer.flush();
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) alice.receive(BOB, ack, 0);
    expect(alice.outboxSize).toBe(0);
    // Bob reloads: what he acknowledged is there.
    const restored = new Conversation({ snapshot: await openOutboxStore(options).load('room') });
    expect(restored.entries.map((entry) => entry.text)).toEqual(['a', 'b', 'c']);
  });
});
