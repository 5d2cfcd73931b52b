// The in-memory outbox: same contract as SqliteOutbox, nothing survives the process. Used by the
// simulator's benchmarks (thousands of agents in one process) and by tests.

import type { NewOutboxEntry, Outbox, OutboxEntry } from './outbox.js';

export class MemoryOutbox implements Outbox {
  /** One map per priority class; a Map iterates in insertion order, which is id order. */
  #classes = new Map<number, Map<number, OutboxEntry>>();
  #size = 0;
  #nextId = 1;
  #seq = 1;
  #meta = new Map<string, string>();
  /** Inverse operations of the current transaction, replayed backwards when it throws. */
  #undo: (() => void)[] | null = null;
  #closed = false;

  enqueue(entry: NewOutboxEntry): number {
    this.#open();
    const id = this.#nextId++;
    this.#insert({ id, ...entry });
    this.#undo?.push(() => this.#remove(id, entry.priority));
    return id;
  }

  peek(limit: number, excludeIds?: ReadonlySet<number>): OutboxEntry[] {
    this.#open();
    const out: OutboxEntry[] = [];
    if (limit <= 0) return out;
    const priorities = [...this.#classes.keys()].sort((a, b) => a - b);
    for (const priority of priorities) {
      for (const entry of this.#classes.get(priority)?.values() ?? []) {
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
      const entry = entries.get(id);
      if (entry === undefined) continue;
      this.#remove(id, priority);
      this.#undo?.push(() => this.#insert(entry, true));
      return;
    }
  }

  size(): number {
    this.#open();
    return this.#size;
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

  #insert(entry: OutboxEntry, restoring = false): void {
    let entries = this.#classes.get(entry.priority);
    if (entries === undefined) {
      entries = new Map();
      this.#classes.set(entry.priority, entries);
    }
    entries.set(entry.id, entry);
    // An undone ack re-inserts an old id at the end; put the class back in id order (rare path).
    if (restoring) {
      const sorted = [...entries.values()].sort((a, b) => a.id - b.id);
      entries.clear();
      for (const e of sorted) entries.set(e.id, e);
    }
    this.#size++;
  }

  #remove(id: number, priority: number): void {
    if (this.#classes.get(priority)?.delete(id)) this.#size--;
  }

  #open(): void {
    if (this.#closed) throw new Error('outbox is closed');
  }
}
