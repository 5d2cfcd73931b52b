// The embedded default store: one SQLite file (WAL) under the data directory, the SqlStore over
// it, and the telemetry writes in a worker thread with a connection of its own.

import BetterSqlite3 from 'better-sqlite3';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
} from 'kysely';
import type { Database } from './schema.js';
import { SqlStore } from './sql-store.js';
import { TelemetryWorker } from './sqlite-worker.js';
import { SqliteTelemetryWriter, tuneSqlite } from './sqlite-writer.js';

/**
 * Opens (creating if needed) the embedded SQLite store; `:memory:` for a throwaway one.
 * Telemetry is written by a worker thread with its own connection (a file only: an in-memory
 * database is not shared); `portableWrites` keeps telemetry writes on the Kysely path (the one
 * PostgreSQL takes), so the contract suite proves both.
 */
export async function openSqliteStore(path: string, options: { portableWrites?: boolean } = {}): Promise<SqlStore> {
  const database = new BetterSqlite3(path);
  tuneSqlite(database);
  const db = new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database }) });
  // Migrate first: the writer prepares statements on the tables.
  await new SqlStore(db).migrate();
  if (options.portableWrites) return new SqlStore(db);
  if (database.memory) return new SqlStore(db, new SqliteTelemetryWriter(database));
  const worker = new TelemetryWorker(path);
  try {
    await worker.start();
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return new SqlStore(db, worker);
}

/**
 * Transactions on the hub's connection take the write lock at `begin`. With the telemetry worker
 * writing too, a deferred transaction that read first could not write after a commit of the
 * worker (SQLITE_BUSY_SNAPSHOT, not retried); an immediate one waits its turn (busy_timeout).
 */
class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;

  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }
}

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}
