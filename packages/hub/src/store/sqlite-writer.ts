// The embedded store's telemetry write, on prepared statements: the same blocks and the same
// rules as the portable Kysely path (telemetry.ts), without compiling and preparing new
// statements for every batch. It is the hub's hottest write; PostgreSQL keeps the portable path.

import type BetterSqlite3 from 'better-sqlite3';
import { planWrite, rangesByDevice, storedIn } from './blocks.js';
import type { InsertOutcome, Reading } from './store.js';
import { rollupRows } from './telemetry.js';

export class SqliteTelemetryWriter {
  readonly #write: (readings: readonly Reading[]) => InsertOutcome;

  constructor(db: BetterSqlite3.Database) {
    // The blocks a device's seq range may be in: from the first whose last seq reaches it.
    const overlapping = db
      .prepare<[string, number, number], string>(
        'select readings from reading_blocks where device = ? and seq_last >= ? and seq_first <= ?',
      )
      .pluck();
    const insert = db.prepare(
      'insert into reading_blocks (device, seq_last, seq_first, ts_first, ts_last, count, readings) values (?, ?, ?, ?, ?, ?, ?)',
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
      const ranges = rangesByDevice(readings);
      const stored = new Map<string, Map<number, Reading>>();
      for (const { device, lowSeq, highSeq } of ranges) {
        const blocks = overlapping.all(device, lowSeq, highSeq);
        if (blocks.length > 0) stored.set(device, storedIn(device, blocks, lowSeq, highSeq));
      }
      const plan = planWrite(readings, ranges, stored);
      for (const b of plan.blocks) {
        insert.run(b.device, b.seq_last, b.seq_first, b.ts_first, b.ts_last, b.count, b.readings);
      }
      for (const b of rollupRows(plan.fresh)) {
        upsert.run(b.device, b.metric, b.resolution_ms, b.bucket, b.count, b.sum, b.min, b.max, b.last, b.last_ts);
      }
      return { inserted: plan.fresh.length, existing: plan.existing };
    });
  }

  /** Writes a batch in one transaction. */
  insertReadings(readings: readonly Reading[]): InsertOutcome {
    return this.#write(readings);
  }
}
