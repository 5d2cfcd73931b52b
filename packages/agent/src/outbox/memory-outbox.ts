// The in-memory outbox: same contract as SqliteOutbox, nothing survives the process. Used by the
// simulator's benchmarks (thousands of agents in one process) and by tests.

import {
  copyDrops,
  countDrops,
  DEFAULT_OUTBOX_LIMITS,
  type DropReason,
  entryBytes,
  type NewOutboxEntry,
  noDrops,
  type Outbox,
  type OutboxDropped,
  type OutboxEntry,
  type OutboxLimits,
  outboxFull,
} from './outbox.js';

interface Stored {
  entry: OutboxEntry;
  bytes: number;
}

export class MemoryOutbox implements Outbox {
  readonly limits: Readonly<Required<OutboxLimits>>;
  /** One map per priority class; a Map iterates in insertion order, which is id order. */
  #classes = new Map<number, Map<number, Stored>>();
  #size = 0;
  #bytes = 0;
  /** Bytes per class, so enqueue knows without a scan whether evicting can make room. */
  #classBytes = new Map<number, number>();
  #dropped = noDrops();
  #nextId = 1;
  #seq = 1;
  #meta = new Map<string, string>();
  /** Inverse operations of the current transaction, replayed backwards when it throws. */
  #undo: (() => void)[] | null = null;
  #closed = false;

  constructor(limits: OutboxLimits = {}) {
    this.limits = { ...DEFAULT_OUTBOX_LIMITS, ...limits };
  }

  enqueue(entry: NewOutboxEntry): number {
    this.#open();
    const bytes = entryBytes(entry);
    this.#makeRoom(entry.priority, bytes);
    const id = this.#nextId++;
    this.#insert({ entry: { id, ...entry }, bytes });
    this.#undo?.push(() => this.#remove(id, entry.priority));
    return id;
  }

  peek(limit: number, excludeIds?: ReadonlySet<number>): OutboxEntry[] {
    this.#open();
    const out: OutboxEntry[] = [];
    if (limit <= 0) return out;
    const priorities = [...this.#classes.keys()].sort((a, b) => a - b);
    for (const priority of priorities) {
      for (const { entry } of this.#classes.get(priority)?.values() ?? []) {
        if (excludeIds?.has(entry.id)) continue;
        out.push({ ...entry });
        if (out.length >= limit) return out;
      }
    }
    return out;
  }

  ack(id: number): void {
    this.#open();
    for (const [priority, entries] of this.#classes) {
      const stored = entries.get(id);
      if (stored === undefined) continue;
      this.#remove(id, priority);
      this.#undo?.push(() => this.#insert(stored, true));
      return;
    }
  }

  size(): number {
    this.#open();
    return this.#size;
  }

  bytes(): number {
    this.#open();
    return this.#bytes;
  }

  pruneExpired(now: number): number {
    this.#open();
    const cutoff = now - this.limits.maxAgeMs;
    let pruned = 0;
    for (const [priority, entries] of this.#classes) {
      let count = 0;
      for (const stored of entries.values()) {
        if (stored.entry.createdAt >= cutoff) break;
        this.#drop(stored);
        count++;
      }
      if (count > 0) this.#countDrops(priority, 'expired', count);
      pruned += count;
    }
    return pruned;
  }

  dropped(): OutboxDropped {
    this.#open();
    return copyDrops(this.#dropped);
  }

  nextSeq(): number {
    this.#open();
    const seq = this.#seq++;
    this.#undo?.push(() => {
      this.#seq = seq;
    });
    return seq;
  }

  getMeta(key: string): string | undefined {
    this.#open();
    return this.#meta.get(key);
  }

  setMeta(key: string, value: string): void {
    this.#open();
    const previous = this.#meta.get(key);
    this.#meta.set(key, value);
    this.#undo?.push(() => {
      if (previous === undefined) this.#meta.delete(key);
      else this.#meta.set(key, previous);
    });
  }

  transaction<T>(fn: () => T): T {
    this.#open();
    if (this.#undo !== null) return fn(); // nested: the outermost transaction owns the undo log
    const undo: (() => void)[] = [];
    this.#undo = undo;
    try {
      return fn();
    } catch (err) {
      for (let i = undo.length - 1; i >= 0; i--) undo[i]?.();
      throw err;
    } finally {
      this.#undo = null;
    }
  }

  close(): void {
    this.#closed = true;
  }

  /**
   * Evicts the oldest entries of the least important classes, down to `priority`, until `bytes`
   * more fit; refuses (throws, counting the refusal) when that cannot be enough.
   */
  #makeRoom(priority: number, bytes: number): void {
    const { maxBytes } = this.limits;
    if (this.#bytes + bytes <= maxBytes) return;
    let evictable = 0;
    for (const [p, b] of this.#classBytes) if (p >= priority) evictable += b;
    if (bytes > maxBytes || this.#bytes - evictable + bytes > maxBytes) {
      // Not in the undo log: the refusal happened even if the caller's transaction rolls back.
      countDrops(this.#dropped, priority, 'full');
      throw outboxFull(bytes, maxBytes);
    }
    const classes = [...this.#classes.keys()].filter((p) => p >= priority).sort((a, b) => b - a);
    for (const p of classes) {
      let count = 0;
      for (const stored of this.#classes.get(p)?.values() ?? []) {
        if (this.#bytes + bytes <= maxBytes) break;
        this.#drop(stored);
        count++;
      }
      if (count > 0) this.#countDrops(p, 'full', count);
      if (this.#bytes + bytes <= maxBytes) return;
    }
  }

  #drop(stored: Stored): void {
    this.#remove(stored.entry.id, stored.entry.priority);
    this.#undo?.push(() => this.#insert(stored, true));
  }

  #countDrops(priority: number, reason: DropReason, count: number): void {
    const before = copyDrops(this.#dropped);
    countDrops(this.#dropped, priority, reason, count);
    this.#undo?.push(() => {
      this.#dropped = before;
    });
  }

  #insert(stored: Stored, restoring = false): void {
    const { priority, id } = stored.entry;
    let entries = this.#classes.get(priority);
    if (entries === undefined) {
      entries = new Map();
      this.#classes.set(priority, entries);
    }
    entries.set(id, stored);
    // An undone ack or drop re-inserts an old id at the end; put the class back in id order.
    if (restoring) {
      const sorted = [...entries.values()].sort((a, b) => a.entry.id - b.entry.id);
      entries.clear();
      for (const s of sorted) entries.set(s.entry.id, s);
    }
    this.#size++;
    this.#bytes += stored.bytes;
    this.#classBytes.set(priority, (this.#classBytes.get(priority) ?? 0) + stored.bytes);
  }

  #remove(id: number, priority: number): void {
    const entries = this.#classes.get(priority);
    const stored = entries?.get(id);
    if (entries === undefined || stored === undefined) return;
    entries.delete(id);
    this.#size--;
    this.#bytes -= stored.bytes;
    this.#classBytes.set(priority, (this.#classBytes.get(priority) ?? 0) - stored.bytes);
  }

  #open(): void {
    if (this.#closed) throw new Error('outbox is closed');
  }
}
