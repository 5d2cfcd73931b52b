// The durable outbox: one SQLite file (better-sqlite3, WAL). Readings stay here until the hub
// acknowledged them, across process restarts.
//
// Durability choice: WAL with synchronous=NORMAL. A commit then costs no fsync (it is in the OS
// page cache once the call returns), so a killed or crashed process loses nothing and the drain
// keeps thousands of enqueue+ack per second even on SD cards; FULL would fsync every reading and
// every ack. What NORMAL can lose is the last commits before a power cut or kernel crash. For
// readings that is the tail of a sample stream. For the seq counter it would be worse: a rolled
// back counter hands out seqs the hub already stored, and the hub's (device, seq) de-duplication
// would then silently drop new readings. So seqs are handed out from a reserved block whose upper
// end is written with synchronous=FULL, and an unclean start resumes above the reservation (a gap
// in seq is harmless, a reuse is not).
//
// Byte accounting: the queued bytes (total and per class) are kept in memory, computed once at
// open from the rows (one scan) and then maintained by every insert and delete, which learn the
// size of what they removed through DELETE ... RETURNING. A durable counter in meta would add a
// write to every enqueue and every ack (the drain's hot path) and could drift from the rows after
// a crash; a SUM per enqueue would scan. The rows are the truth, the cache only follows them, and
// a rolled-back transaction restores the cache from a snapshot. The dropped counters, by
// contrast, must be durable: they are written to meta in the transaction that drops.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import {
  copyDrops,
  countDrops,
  DEFAULT_OUTBOX_LIMITS,
  type DropReason,
  entryBytes,
  META_DROPPED,
  type NewOutboxEntry,
  noDrops,
  type Outbox,
  type OutboxDropped,
  type OutboxEntry,
  type OutboxLimits,
  outboxFull,
} from './outbox.js';

/** Seqs reserved durably at a time; one fsync per SEQ_BLOCK / 2 seqs. */
const SEQ_BLOCK = 1000;

/** What an entry counts for against maxBytes, in SQL; must agree with entryBytes(). */
const BYTES_SQL = 'length(CAST(topic AS BLOB)) + length(CAST(payload AS BLOB))';

/** Rows read at once from the head of a class when dropping; grows while a drop needs more. */
const FIRST_DROP_BATCH = 8;
const MAX_DROP_BATCH = 1024;

type StatementName = 'insert' | 'peek' | 'ack' | 'totals' | 'head' | 'dropHead' | 'getMeta' | 'setMeta';

interface HeadRow {
  id: number;
  createdAt: number;
  bytes: number;
}

/** The in-memory caches of the rows, saved by each transaction and restored when it throws. */
interface Snapshot {
  size: number;
  bytes: number;
  classBytes: Map<number, number>;
  dropped: OutboxDropped;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS outbox (
    -- AUTOINCREMENT: ids are never reused, so a late ack can never remove a newer entry.
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload TEXT NOT NULL,
    qos INTEGER NOT NULL,
    priority INTEGER NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS outbox_by_priority ON outbox (priority, id);
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
`;

type Statement = Database.Statement<unknown[], unknown>;

export class SqliteOutbox implements Outbox {
  readonly #db: Database.Database;
  readonly #stmt: Record<StatementName, Statement>;
  readonly limits: Readonly<Required<OutboxLimits>>;
  #size = 0;
  #bytes = 0;
  /** Bytes per class, so enqueue knows without a scan whether evicting can make room. */
  #classBytes = new Map<number, number>();
  #dropped = noDrops();
  /** Classes of entries refused inside a transaction: counted once it ends, even rolled back. */
  #pendingRefusals: number[] = [];
  #nextSeq = 1;
  #reservedSeq = 1;
  /** The reservation was extended inside a transaction, without an fsync yet. */
  #reservationDirty = false;
  #closed = false;

  private constructor(db: Database.Database, limits: OutboxLimits) {
    this.#db = db;
    this.limits = { ...DEFAULT_OUTBOX_LIMITS, ...limits };
    this.#stmt = {
      insert: db.prepare(
        'INSERT INTO outbox (topic, payload, qos, priority, created_at) VALUES (@topic, @payload, @qos, @priority, @createdAt)',
      ),
      peek: db.prepare(
        'SELECT id, topic, payload, qos, priority, created_at AS createdAt FROM outbox ORDER BY priority, id LIMIT ?',
      ),
      ack: db.prepare(`DELETE FROM outbox WHERE id = ? RETURNING priority, ${BYTES_SQL} AS bytes`),
      totals: db.prepare(`SELECT priority, count(*) AS n, sum(${BYTES_SQL}) AS bytes FROM outbox GROUP BY priority`),
      head: db.prepare(
        `SELECT id, created_at AS createdAt, ${BYTES_SQL} AS bytes FROM outbox WHERE priority = ? ORDER BY id LIMIT ?`,
      ),
      dropHead: db.prepare('DELETE FROM outbox WHERE priority = ? AND id <= ?'),
      getMeta: db.prepare('SELECT value FROM meta WHERE key = ?'),
      setMeta: db.prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      ),
    };
  }

  /** Opens (or creates) the outbox file, creating its directory if needed. */
  static open(file: string, limits: OutboxLimits = {}): SqliteOutbox {
    mkdirSync(dirname(file), { recursive: true });
    const db = new Database(file);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.exec(SCHEMA);
      const outbox = new SqliteOutbox(db, limits);
      outbox.#recover();
      return outbox;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  enqueue(entry: NewOutboxEntry): number {
    const bytes = entryBytes(entry);
    // The common case stays one INSERT; only a full outbox pays for a transaction and drops.
    if (this.#bytes + bytes <= this.limits.maxBytes) return this.#insert(entry, bytes);
    this.#checkRoom(entry.priority, bytes);
    return this.transaction(() => {
      this.#evict(entry.priority, bytes);
      return this.#insert(entry, bytes);
    });
  }

  peek(limit: number, excludeIds?: ReadonlySet<number>): OutboxEntry[] {
    if (limit <= 0) return [];
    const excluded = excludeIds?.size ?? 0;
    // Fetching limit + excluded rows guarantees `limit` rows survive the filter when they exist;
    // a NOT IN list of the in-flight ids would cost as much and re-prepare every time.
    const rows = this.#stmt.peek.all(limit + excluded) as OutboxEntry[];
    const out = excluded === 0 ? rows : rows.filter((r) => !excludeIds?.has(r.id));
    return out.length > limit ? out.slice(0, limit) : out;
  }

  ack(id: number): void {
    const row = this.#stmt.ack.get(id) as { priority: number; bytes: number } | undefined;
    if (row !== undefined) this.#removed(row.priority, 1, row.bytes);
  }

  size(): number {
    return this.#size;
  }

  bytes(): number {
    return this.#bytes;
  }

  pruneExpired(now: number): number {
    const cutoff = now - this.limits.maxAgeMs;
    return this.transaction(() => {
      let pruned = 0;
      for (const priority of this.#classBytes.keys()) {
        pruned += this.#dropHead(priority, 'expired', (row) => row.createdAt >= cutoff);
      }
      return pruned;
    });
  }

  dropped(): OutboxDropped {
    return copyDrops(this.#dropped);
  }

  nextSeq(): number {
    const seq = this.#nextSeq++;
    this.#setMeta('seq.next', String(this.#nextSeq));
    if (this.#nextSeq >= this.#reservedSeq) {
      // Only reachable inside a transaction that used up the headroom (see #keepSeqHeadroom):
      // extend the reservation in the same commit rather than hand out unreserved seqs.
      this.#reservedSeq = this.#nextSeq + SEQ_BLOCK;
      this.#setMeta('seq.reserved', String(this.#reservedSeq));
      this.#reservationDirty = true;
    }
    this.#keepSeqHeadroom();
    return seq;
  }

  getMeta(key: string): string | undefined {
    const row = this.#stmt.getMeta.get(key) as { value: string } | undefined;
    return row?.value;
  }

  setMeta(key: string, value: string): void {
    this.#setMeta(key, value);
  }

  transaction<T>(fn: () => T): T {
    const seq = this.#nextSeq;
    const reserved = this.#reservedSeq;
    const snapshot = this.#snapshot();
    try {
      const result = this.#db.transaction(fn)();
      this.#keepSeqHeadroom();
      this.#countRefusals();
      return result;
    } catch (err) {
      // The rollback (of this level's savepoint, when nested) undid rows and meta: so do the caches.
      this.#restore(snapshot);
      if (!this.#db.inTransaction) {
        this.#nextSeq = seq;
        this.#reservedSeq = reserved;
        this.#reservationDirty = false;
        this.#countRefusals();
      }
      throw err;
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // A clean close records the exact counter, so the next start continues without a gap.
    this.#durably(() => {
      this.#setMeta('seq.next', String(this.#nextSeq));
      this.#setMeta('clean', '1');
    });
    this.#db.close();
  }

  #recover(): void {
    for (const row of this.#stmt.totals.all() as { priority: number; n: number; bytes: number }[]) {
      this.#size += row.n;
      this.#bytes += row.bytes;
      this.#classBytes.set(row.priority, row.bytes);
    }
    const dropped = this.getMeta(META_DROPPED);
    if (dropped !== undefined) this.#dropped = JSON.parse(dropped) as OutboxDropped;
    const next = Number(this.getMeta('seq.next') ?? '1');
    const reserved = Number(this.getMeta('seq.reserved') ?? '1');
    const clean = this.getMeta('clean') === '1';
    // After an unclean stop, seqs up to the reservation may have reached the hub even if the
    // commit recording them was lost: resume above all of them.
    this.#nextSeq = clean ? next : Math.max(next, reserved);
    this.#durably(() => {
      this.#setMeta('clean', '0');
      this.#setMeta('seq.next', String(this.#nextSeq));
      this.#reservedSeq = this.#nextSeq + SEQ_BLOCK;
      this.#setMeta('seq.reserved', String(this.#reservedSeq));
    });
  }

  /**
   * Outside transactions, extends the durable reservation when less than half a block is left, or
   * fsyncs one extended inside a transaction; either way before the new seqs can be sent.
   */
  #keepSeqHeadroom(): void {
    if (this.#db.inTransaction) return;
    if (!this.#reservationDirty && this.#reservedSeq - this.#nextSeq > SEQ_BLOCK / 2) return;
    this.#reservationDirty = false;
    this.#durably(() => {
      this.#reservedSeq = this.#nextSeq + SEQ_BLOCK;
      this.#setMeta('seq.reserved', String(this.#reservedSeq));
    });
  }

  /** Commits `fn` with synchronous=FULL: the WAL, and every commit before this one, is fsynced. */
  #durably(fn: () => void): void {
    this.#db.pragma('synchronous = FULL');
    try {
      this.#db.transaction(fn)();
    } finally {
      this.#db.pragma('synchronous = NORMAL');
    }
  }

  #setMeta(key: string, value: string): void {
    this.#stmt.setMeta.run(key, value);
  }

  #insert(entry: NewOutboxEntry, bytes: number): number {
    const result = this.#stmt.insert.run(entry);
    this.#size++;
    this.#bytes += bytes;
    this.#classBytes.set(entry.priority, (this.#classBytes.get(entry.priority) ?? 0) + bytes);
    return Number(result.lastInsertRowid);
  }

  #removed(priority: number, count: number, bytes: number): void {
    this.#size -= count;
    this.#bytes -= bytes;
    this.#classBytes.set(priority, (this.#classBytes.get(priority) ?? 0) - bytes);
  }

  /** Throws (and counts the refusal) when evicting classes down to `priority` cannot fit `bytes`. */
  #checkRoom(priority: number, bytes: number): void {
    const { maxBytes } = this.limits;
    let evictable = 0;
    for (const [p, b] of this.#classBytes) if (p >= priority) evictable += b;
    if (bytes <= maxBytes && this.#bytes - evictable + bytes <= maxBytes) return;
    this.#pendingRefusals.push(priority);
    // Outside a transaction it is counted now; inside, when the outermost one ends (see there).
    this.#countRefusals();
    throw outboxFull(bytes, maxBytes);
  }

  /** Drops the oldest entries of the least important classes, down to `priority`, until `bytes` fit. */
  #evict(priority: number, bytes: number): void {
    const { maxBytes } = this.limits;
    const classes = [...this.#classBytes.keys()].filter((p) => p >= priority).sort((a, b) => b - a);
    for (const p of classes) {
      if (this.#bytes + bytes <= maxBytes) return;
      this.#dropHead(p, 'full', (_row, freed) => this.#bytes - freed + bytes <= maxBytes);
    }
  }

  /**
   * Deletes entries of one class from its oldest on, until `keep` holds for the next one (given
   * the bytes freed so far), and counts them; returns how many. Reads the head in growing batches
   * and deletes each batch with one range DELETE on the (priority, id) index.
   */
  #dropHead(priority: number, reason: DropReason, keep: (row: HeadRow, freed: number) => boolean): number {
    let dropped = 0;
    let batch = FIRST_DROP_BATCH;
    for (;;) {
      const rows = this.#stmt.head.all(priority, batch) as HeadRow[];
      let freed = 0;
      let lastId = -1;
      let n = 0;
      for (const row of rows) {
        if (keep(row, freed)) break;
        freed += row.bytes;
        lastId = row.id;
        n++;
      }
      if (n > 0) {
        this.#stmt.dropHead.run(priority, lastId);
        this.#removed(priority, n, freed);
        dropped += n;
      }
      if (n < rows.length || rows.length < batch) break;
      batch = Math.min(batch * 2, MAX_DROP_BATCH);
    }
    if (dropped > 0) {
      countDrops(this.#dropped, priority, reason, dropped);
      this.#setMeta(META_DROPPED, JSON.stringify(this.#dropped));
    }
    return dropped;
  }

  /** Outside any transaction, counts the refusals recorded inside one, in a commit of their own. */
  #countRefusals(): void {
    if (this.#pendingRefusals.length === 0 || this.#db.inTransaction) return;
    const refusals = this.#pendingRefusals;
    this.#pendingRefusals = [];
    this.#db.transaction(() => {
      for (const priority of refusals) countDrops(this.#dropped, priority, 'full');
      this.#setMeta(META_DROPPED, JSON.stringify(this.#dropped));
    })();
  }

  #snapshot(): Snapshot {
    return {
      size: this.#size,
      bytes: this.#bytes,
      classBytes: new Map(this.#classBytes),
      dropped: copyDrops(this.#dropped),
    };
  }

  #restore(snapshot: Snapshot): void {
    this.#size = snapshot.size;
    this.#bytes = snapshot.bytes;
    this.#classBytes = snapshot.classBytes;
    this.#dropped = snapshot.dropped;
  }
}
