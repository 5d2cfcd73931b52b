// The embedded store's telemetry write, on prepared statements: the same rows and the same
// rules as the portable Kysely path (telemetry.ts), without compiling and preparing a new
// 500-row statement for every batch. It is the hub's hottest write; PostgreSQL keeps the
// portable path.

import type BetterSqlite3 from 'better-sqlite3';
import type { ReadingRow } from './store.js';
import { rollupRows } from './telemetry.js';

export class SqliteTelemetryWriter {
  readonly #write: (rows: readonly ReadingRow[]) => number;

  constructor(db: BetterSqlite3.Database) {
    const seen = db.prepare('select 1 from readings where device = ? and seq = ? limit 1').pluck();
    const insert = db.prepare(
      'insert into readings (device, seq, metric, ts, value) values (?, ?, ?, ?, ?) on conflict do nothing',
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
    this.#write = db.transaction((rows: readonly ReadingRow[]) => {
      // A reading is identified by (device, seq): one stored already is ignored whole.
      const known = new Map<string, boolean>();
      const fresh: ReadingRow[] = [];
      for (const r of rows) {
        const key = `${r.device}\u0000${r.seq}`;
        let stored = known.get(key);
        if (stored === undefined) {
          stored = seen.get(r.device, r.seq) !== undefined;
          known.set(key, stored);
        }
        if (!stored) fresh.push(r);
      }
      let inserted = 0;
      for (const r of fresh) inserted += insert.run(r.device, r.seq, r.metric, r.ts, r.value).changes;
      for (const b of rollupRows(fresh)) {
        upsert.run(b.device, b.metric, b.resolution_ms, b.bucket, b.count, b.sum, b.min, b.max, b.last, b.last_ts);
      }
      return inserted;
    });
  }

  /** Writes a batch in one transaction; returns how many values were new. */
  insertReadings(rows: readonly ReadingRow[]): number {
    return this.#write(rows);
  }
}
