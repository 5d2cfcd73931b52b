// better-sqlite3 as Kysely sees it, with its prepared statements kept by SQL text. Kysely's SQLite
// driver prepares every query it runs: SQLite parses and plans the text again each time, and each
// statement holds native memory until the garbage collector finalizes its small JS wrapper, which
// it is in no hurry to do. The hub's frequent queries (a device read, a reported-state update, a
// liveness save, an event insert) are few distinct texts run many times: each is prepared once.

import type { SqliteDatabase, SqliteStatement } from 'kysely';

/** The part of better-sqlite3's Database this needs. */
export interface PreparingDatabase {
  close(): unknown;
  prepare(sql: string): SqliteStatement & { readonly busy: boolean };
}

/** Distinct statements kept at most (the least recently used goes first). */
const DEFAULT_MAX_STATEMENTS = 500;

export class StatementCache implements SqliteDatabase {
  readonly #db: PreparingDatabase;
  readonly #max: number;
  /** In order of last use, oldest first. */
  readonly #statements = new Map<string, SqliteStatement & { readonly busy: boolean }>();

  constructor(db: PreparingDatabase, max = DEFAULT_MAX_STATEMENTS) {
    if (!Number.isInteger(max) || max < 1)
      throw new Error(`statement cache size must be a positive integer, got ${max}`);
    this.#db = db;
    this.#max = max;
  }

  get size(): number {
    return this.#statements.size;
  }

  prepare(sql: string): SqliteStatement {
    const cached = this.#statements.get(sql);
    if (cached !== undefined) {
      // A statement still being iterated (a streamed query) cannot run again: use a fresh one.
      if (cached.busy) return this.#db.prepare(sql);
      this.#statements.delete(sql);
      this.#statements.set(sql, cached);
      return cached;
    }
    const statement = this.#db.prepare(sql);
    this.#statements.set(sql, statement);
    if (this.#statements.size > this.#max) {
      const oldest = this.#statements.keys().next().value;
      if (oldest !== undefined) this.#statements.delete(oldest);
    }
    return statement;
  }

  close(): void {
    this.#statements.clear();
    this.#db.close();
  }
}
