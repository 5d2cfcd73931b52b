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

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { NewOutboxEntry, Outbox, OutboxEntry } from './outbox.js';

/** Seqs reserved durably at a time; one fsync per SEQ_BLOCK / 2 seqs. */
const SEQ_BLOCK = 1000;

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
  readonly #stmt: Record<'insert' | 'peek' | 'ack' | 'count' | 'getMeta' | 'setMeta', Statement>;
  #size = 0;
  #nextSeq = 1;
  #reservedSeq = 1;
  /** The reservation was extended inside a transaction, without an fsync yet. */
  #reservationDirty = false;
  #closed = false;

  private constructor(db: Database.Database) {
    this.#db = db;
    this.#stmt = {
      insert: db.prepare(
        'INSERT INTO outbox (topic, payload, qos, priority, created_at) VALUES (@topic, @payload, @qos, @priority, @createdAt)',
      ),
      peek: db.prepare(
        'SELECT id, topic, payload, qos, priority, created_at AS createdAt FROM outbox ORDER BY priority, id LIMIT ?',
      ),
      ack: db.prepare('DELETE FROM outbox WHERE id = ?'),
      count: db.prepare('SELECT count(*) AS n FROM outbox'),
      getMeta: db.prepare('SELECT value FROM meta WHERE key = ?'),
      setMeta: db.prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      ),
    };
  }

  /** Opens (or creates) the outbox file, creating its directory if needed. */
  static open(file: string): SqliteOutbox {
    mkdirSync(dirname(file), { recursive: true });
    const db = new Database(file);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.exec(SCHEMA);
      const outbox = new SqliteOutbox(db);
      outbox.#recover();
      return outbox;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  enqueue(entry: NewOutboxEntry): number {
    const result = this.#stmt.insert.run(entry);
    this.#size++;
    return Number(result.lastInsertRowid);
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
    if (this.#stmt.ack.run(id).changes > 0) this.#size--;
  }

  size(): number {
    return this.#size;
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
    try {
      const result = this.#db.transaction(fn)();
      this.#keepSeqHeadroom();
      return result;
    } catch (err) {
      // The rollback undid the rows and meta; bring the cached copies back in line.
      if (!this.#db.inTransaction) {
        this.#nextSeq = seq;
        this.#reservedSeq = reserved;
        this.#reservationDirty = false;
        this.#size = this.#count();
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
    this.#size = this.#count();
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

  #count(): number {
    return (this.#stmt.count.get() as { n: number }).n;
  }
}
