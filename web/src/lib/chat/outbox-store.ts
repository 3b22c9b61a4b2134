/**
 * Keeps each room's conversation ({@link ConversationSnapshot}: the outbox of unacknowledged
 * messages, the delivered seq per peer stream, the lines shown) in IndexedDB, so that a reload
 * loses nothing (issue #4). One record per room id, through idb-keyval's custom store.
 *
 * Storage is a convenience that may be missing: IndexedDB is absent in some private modes and
 * embedded views, `open()` can fail (Firefox private windows before v115: `InvalidStateError`) or
 * never settle (seen in Safari), and writes can hit the quota. None of that may break the chat:
 * the first failure switches this store to memory for the rest of the page's life, and
 * {@link OutboxStore.durability} tells the UI so it can say "not saved on this device".
 */
import { createStore, get, set, type UseStore } from 'idb-keyval';
import { parseSnapshot, type ConversationSnapshot } from './delivery.ts';

/** Where snapshots go: `'indexeddb'` survives a reload, `'memory'` does not. */
export type Durability = 'indexeddb' | 'memory';

/** Options of {@link openOutboxStore}; the defaults are one object, as used by the page. */
export interface OutboxStoreOptions {
  /** [databaseName='holepunch-chat'] IndexedDB database. */
  databaseName?: string;
  /** [storeName='rooms'] Object store inside it; keys are room ids. */
  storeName?: string;
  /**
   * [timeoutMs=5000] Longest wait for one IndexedDB operation, ms, after which the store gives up
   * on IndexedDB. Acknowledgements wait for saves, so a hung database must not hold them forever.
   */
  timeoutMs?: number;
}

/** Defaults of {@link OutboxStoreOptions}. */
export const OUTBOX_STORE_DEFAULTS = {
  databaseName: 'holepunch-chat',
  storeName: 'rooms',
  timeoutMs: 5 * 1000,
} as const satisfies Required<OutboxStoreOptions>;

/** Saved conversations by room id. No method rejects or throws. */
export interface OutboxStore {
  /** `'memory'` once IndexedDB is missing or has failed once; it never goes back. */
  readonly durability: Durability;
  /** Why the store fell back to memory (`'<error name>: <message>'`), or `null`. */
  readonly failure: string | null;
  /** The room's last saved snapshot, or `null` if none or if what is stored is off-shape. */
  load(roomId: string): Promise<ConversationSnapshot | null>;
  /** Stores `snapshot` as the room's; resolves with where it went (never rejects). */
  save(roomId: string, snapshot: ConversationSnapshot): Promise<Durability>;
}

/** A promise that rejects with a `TimeoutError` if `promise` has not settled within `ms`. */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DOMException(`no answer in ${ms} ms`, 'TimeoutError')), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function describeError(error: unknown): string {
  if (error instanceof Error || error instanceof DOMException)
    return `${error.name}: ${error.message}`;
  return String(error);
}

class IndexedDbOutboxStore implements OutboxStore {
  readonly #timeoutMs: number;
  #idb: UseStore | null = null;
  #failure: string | null = null;
  /** The latest snapshot per room, always: what `load` answers once IndexedDB is gone. */
  readonly #memory = new Map<string, ConversationSnapshot>();

  constructor(options: Required<OutboxStoreOptions>) {
    this.#timeoutMs = options.timeoutMs;
    try {
      // idb-keyval reads the global lazily and would throw a ReferenceError on first use.
      if (typeof indexedDB === 'undefined')
        throw new DOMException('IndexedDB is not available', 'NotSupportedError');
      this.#idb = createStore(options.databaseName, options.storeName);
    } catch (error) {
      this.#fail(error);
    }
  }

  get durability(): Durability {
    return this.#idb ? 'indexeddb' : 'memory';
  }

  get failure(): string | null {
    return this.#failure;
  }

  async load(roomId: string): Promise<ConversationSnapshot | null> {
    const memory = this.#memory.get(roomId);
    if (memory || !this.#idb) return memory ?? null;
    try {
      return parseSnapshot(await withTimeout(get<unknown>(roomId, this.#idb), this.#timeoutMs));
    } catch (error) {
      this.#fail(error);
      return null;
    }
  }

  async save(roomId: string, snapshot: ConversationSnapshot): Promise<Durability> {
    this.#memory.set(roomId, snapshot);
    if (!this.#idb) return 'memory';
    try {
      await withTimeout(set(roomId, snapshot, this.#idb), this.#timeoutMs);
      return 'indexeddb';
    } catch (error) {
      // Also a QuotaExceededError: the record keeps its previous, older value, which a reload
      // then restores; delivery copes with that (duplicates are dropped by seq).
      this.#fail(error);
      return 'memory';
    }
  }

  #fail(error: unknown): void {
    this.#idb = null;
    this.#failure ??= describeError(error);
  }
}

/**
 * Opens the store (lazily: the database is opened by the first `load` or `save`). Never throws;
 * without IndexedDB it starts in memory.
 */
export function openOutboxStore(options: OutboxStoreOptions = {}): OutboxStore {
  return new IndexedDbOutboxStore({ ...OUTBOX_STORE_DEFAULTS, ...options });
}

/** What {@link SnapshotWriter} saves, and whom it tells. */
export interface SnapshotWriterOptions {
  store: OutboxStore;
  roomId: string;
  /** The current state, taken when a save starts (e.g. `() => conversation.snapshot()`). */
  take(): ConversationSnapshot;
  /**
   * `snapshot` is stored (in `durability`): e.g. write `conversation.saved(snapshot)`'s acks.
   * Must not throw.
   */
  saved(snapshot: ConversationSnapshot, durability: Durability): void;
}

/**
 * Saves the latest snapshot of one room, one save at a time: requests made while a save runs
 * coalesce into one more save of the state at the moment it starts. A burst of 200 messages thus
 * costs a few IndexedDB writes, not 200, and every state is either saved or superseded.
 */
export class SnapshotWriter {
  readonly #options: SnapshotWriterOptions;
  #dirty = false;
  #running: Promise<void> | null = null;

  constructor(options: SnapshotWriterOptions) {
    this.#options = options;
  }

  /** Asks for a save of the current state (after a `Step` with `persist`). */
  request(): void {
    this.#dirty = true;
    this.#running ??= this.#run();
  }

  /** Resolves once every state requested so far is saved. */
  async flush(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #run(): Promise<void> {
    // Yield first, so that `#running` is assigned before the `finally` below can clear it.
    await null;
    try {
      while (this.#dirty) {
        this.#dirty = false;
        const snapshot = this.#options.take();
        const durability = await this.#options.store.save(this.#options.roomId, snapshot);
        this.#options.saved(snapshot, durability);
      }
    } finally {
      // No await between the last `#dirty` check and here: no request can fall in between.
      this.#running = null;
    }
  }
}
