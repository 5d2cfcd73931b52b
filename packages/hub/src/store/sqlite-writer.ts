// The embedded store's telemetry write, on prepared statements: the same rows and the same
// rules as the portable Kysely path (telemetry.ts), without compiling and preparing new
// statements for every batch. It is the hub's hottest write; PostgreSQL keeps the portable path.

import type BetterSqlite3 from 'better-sqlite3';
import type { ReadingsTable } from './schema.js';
import type { InsertOutcome, Reading } from './store.js';
import { fromRow, rollupRows } from './telemetry.js';

export class SqliteTelemetryWriter {
  readonly #write: (readings: readonly Reading[]) => InsertOutcome;

  constructor(db: BetterSqlite3.Database) {
    const insert = db.prepare(
      'insert into readings (device, seq, ts, metrics) values (?, ?, ?, ?) on conflict do nothing',
    );
    const stored = db.prepare<[string, number], ReadingsTable>(
      'select device, seq, ts, metrics from readings where device = ? and seq = ?',
    );
    // The same portable upsert as the Kysely path.
    const upsert = db.prepare(
      `insert into rollups (device, metric, resolution_ms, bucket, count, sum, min, max, last, last_ts)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       on conflict (device, metric, resolution_ms, bucket) do update set
         count = rollups.count + excluded.count,
         sum = rollups.sum + excluded.sum,
         min = case when excluded.min < rollups.min then excluded.min else rollups.min end,
         max = case when excluded.max > rollups.max then excluded.max else rollups.max end,
         last = case when excluded.last_ts >= rollups.last_ts then excluded.last else rollups.last end,
         last_ts = case when excluded.last_ts >= rollups.last_ts then excluded.last_ts else rollups.last_ts end`,
    );
    this.#write = db.transaction((readings: readonly Reading[]) => {
      const fresh: Reading[] = [];
      const existing: InsertOutcome['existing'] = [];
      for (let i = 0; i < readings.length; i++) {
        const r = readings[i]!;
        // The primary key tells a new reading from one stored already; only then is it read.
        if (insert.run(r.device, r.seq, r.ts, JSON.stringify(r.metrics)).changes === 1) fresh.push(r);
        else existing.push({ index: i, stored: fromRow(stored.get(r.device, r.seq)!) });
      }
      for (const b of rollupRows(fresh)) {
        upsert.run(b.device, b.metric, b.resolution_ms, b.bucket, b.count, b.sum, b.min, b.max, b.last, b.last_ts);
      }
      return { inserted: fresh.length, existing };
    });
  }

  /** Writes a batch in one transaction. */
  insertReadings(readings: readonly Reading[]): InsertOutcome {
    return this.#write(readings);
  }
}
