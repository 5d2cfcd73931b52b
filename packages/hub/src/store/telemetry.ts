// Telemetry in the store: readings stored once per (device, seq), rollups per minute and per
// hour maintained in the same transaction, queries by time and by step, retention. SQL kept
// portable between SQLite and PostgreSQL.

import { type Kysely, type Selectable, sql } from 'kysely';
import type { Database, RollupsTable } from './schema.js';
import { type Bucket, type ReadingRow, type Retention, ROLLUP_RESOLUTIONS, rollupFor } from './store.js';

/** Rows per INSERT statement: well under SQLite's bound-parameter limit. */
const INSERT_CHUNK = 500;

export async function insertReadings(db: Kysely<Database>, rows: readonly ReadingRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  return db.transaction().execute(async (trx) => {
    // A reading is identified by (device, seq): one whose seq is stored already is a
    // redelivery (or a reused seq) and is ignored whole, whatever metrics it carries.
    const fresh: ReadingRow[] = [];
    const byDevice = new Map<string, ReadingRow[]>();
    for (const r of rows) {
      const list = byDevice.get(r.device);
      if (list) list.push(r);
      else byDevice.set(r.device, [r]);
    }
    for (const [device, list] of byDevice) {
      const seqs = [...new Set(list.map((r) => r.seq))];
      const stored = new Set<number>();
      for (let i = 0; i < seqs.length; i += INSERT_CHUNK) {
        const found = await trx
          .selectFrom('readings')
          .select('seq')
          .distinct()
          .where('device', '=', device)
          .where('seq', 'in', seqs.slice(i, i + INSERT_CHUNK))
          .execute();
        for (const f of found) stored.add(Number(f.seq));
      }
      for (const r of list) if (!stored.has(r.seq)) fresh.push(r);
    }
    let inserted = 0;
    for (let i = 0; i < fresh.length; i += INSERT_CHUNK) {
      const r = await trx
        .insertInto('readings')
        .values(fresh.slice(i, i + INSERT_CHUNK))
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst();
      inserted += Number(r.numInsertedOrUpdatedRows ?? 0);
    }
    await upsertRollups(trx, fresh);
    return inserted;
  });
}

export async function queryReadings(
  db: Kysely<Database>,
  device: string,
  metric: string,
  from: number,
  to: number,
  limit: number,
): Promise<ReadingRow[]> {
  // The newest `limit` points of the window, returned oldest first.
  const rows = await db
    .selectFrom('readings')
    .selectAll()
    .where('device', '=', device)
    .where('metric', '=', metric)
    .where('ts', '>=', from)
    .where('ts', '<=', to)
    .orderBy('ts', 'desc')
    .orderBy('seq', 'desc')
    .limit(limit)
    .execute();
  return rows
    .map((r) => ({
      device: r.device,
      seq: Number(r.seq),
      metric: r.metric,
      ts: Number(r.ts),
      value: Number(r.value),
    }))
    .reverse();
}

export async function queryBuckets(
  db: Kysely<Database>,
  devices: readonly string[],
  metric: string,
  from: number,
  to: number,
  stepMs: number,
): Promise<Bucket[]> {
  if (devices.length === 0) return [];
  const resolution = rollupFor(stepMs);
  const folder = new BucketFolder(stepMs);
  for (let i = 0; i < devices.length; i += INSERT_CHUNK) {
    const chunk = devices.slice(i, i + INSERT_CHUNK);
    if (resolution === undefined) {
      const rows = await db
        .selectFrom('readings')
        .select(['ts', 'value'])
        .where('device', 'in', chunk)
        .where('metric', '=', metric)
        .where('ts', '>=', from)
        .where('ts', '<=', to)
        .execute();
      for (const r of rows) {
        const v = Number(r.value);
        folder.add(Number(r.ts), 1, v, v, v, v, Number(r.ts));
      }
    } else {
      const rows = await db
        .selectFrom('rollups')
        .selectAll()
        .where('device', 'in', chunk)
        .where('metric', '=', metric)
        .where('resolution_ms', '=', resolution)
        .where('bucket', '>=', Math.floor(from / resolution) * resolution)
        .where('bucket', '<=', to)
        .execute();
      for (const r of rows) {
        folder.add(
          Number(r.bucket),
          Number(r.count),
          Number(r.sum),
          Number(r.min),
          Number(r.max),
          Number(r.last),
          Number(r.last_ts),
        );
      }
    }
  }
  return folder.buckets();
}

export async function pruneTelemetry(
  db: Kysely<Database>,
  now: number,
  retention: Retention,
  limit: number,
): Promise<number> {
  let deleted = 0;
  const raw =
    await sql`delete from readings where (device, seq, metric) in (select device, seq, metric from readings where ts < ${now - retention.rawMs} limit ${limit})`.execute(
      db,
    );
  deleted += Number(raw.numAffectedRows ?? 0);
  for (const [resolution, keep] of [
    [60_000, retention.minuteMs],
    [3_600_000, retention.hourMs],
  ] as const) {
    const r =
      await sql`delete from rollups where (device, metric, resolution_ms, bucket) in (select device, metric, resolution_ms, bucket from rollups where resolution_ms = ${resolution} and bucket < ${now - keep} limit ${limit})`.execute(
        db,
      );
    deleted += Number(r.numAffectedRows ?? 0);
  }
  return deleted;
}

/** Adds fresh readings to the rollups of every resolution, one upsert per bucket. */
/** Fresh readings folded into one rollup row per (device, metric, resolution, bucket). */
export function rollupRows(rows: readonly ReadingRow[]): Selectable<RollupsTable>[] {
  const buckets = new Map<string, Selectable<RollupsTable>>();
  for (const r of rows) {
    for (const resolution of ROLLUP_RESOLUTIONS) {
      const bucket = Math.floor(r.ts / resolution) * resolution;
      const key = `${r.device}\u0000${r.metric}\u0000${resolution}\u0000${bucket}`;
      const b = buckets.get(key);
      if (!b) {
        buckets.set(key, {
          device: r.device,
          metric: r.metric,
          resolution_ms: resolution,
          bucket,
          count: 1,
          sum: r.value,
          min: r.value,
          max: r.value,
          last: r.value,
          last_ts: r.ts,
        });
      } else {
        b.count++;
        b.sum += r.value;
        b.min = Math.min(b.min, r.value);
        b.max = Math.max(b.max, r.value);
        if (r.ts >= b.last_ts) {
          b.last = r.value;
          b.last_ts = r.ts;
        }
      }
    }
  }
  return [...buckets.values()];
}

async function upsertRollups(db: Kysely<Database>, rows: readonly ReadingRow[]): Promise<void> {
  const values = rollupRows(rows);
  for (let i = 0; i < values.length; i += INSERT_CHUNK) {
    await db
      .insertInto('rollups')
      .values(values.slice(i, i + INSERT_CHUNK))
      .onConflict((oc) =>
        oc.columns(['device', 'metric', 'resolution_ms', 'bucket']).doUpdateSet({
          // Portable SQL (no LEAST/GREATEST in SQLite, no two-argument min/max in PostgreSQL).
          count: sql`rollups.count + excluded.count`,
          sum: sql`rollups.sum + excluded.sum`,
          min: sql`case when excluded.min < rollups.min then excluded.min else rollups.min end`,
          max: sql`case when excluded.max > rollups.max then excluded.max else rollups.max end`,
          last: sql`case when excluded.last_ts >= rollups.last_ts then excluded.last else rollups.last end`,
          last_ts: sql`case when excluded.last_ts >= rollups.last_ts then excluded.last_ts else rollups.last_ts end`,
        }),
      )
      .execute();
  }
}

/** Folds rows (raw readings or rollup buckets) into buckets of one step. */
class BucketFolder {
  readonly #step: number;
  readonly #acc = new Map<
    number,
    { count: number; sum: number; min: number; max: number; last: number; lastTs: number }
  >();

  constructor(step: number) {
    this.#step = step;
  }

  add(ts: number, count: number, sum: number, min: number, max: number, last: number, lastTs: number): void {
    const start = Math.floor(ts / this.#step) * this.#step;
    const a = this.#acc.get(start);
    if (!a) {
      this.#acc.set(start, { count, sum, min, max, last, lastTs });
      return;
    }
    a.count += count;
    a.sum += sum;
    a.min = Math.min(a.min, min);
    a.max = Math.max(a.max, max);
    if (lastTs >= a.lastTs) {
      a.last = last;
      a.lastTs = lastTs;
    }
  }

  buckets(): Bucket[] {
    return [...this.#acc.entries()]
      .sort(([x], [y]) => x - y)
      .map(([ts, a]) => ({ ts, count: a.count, min: a.min, max: a.max, avg: a.sum / a.count, last: a.last }));
  }
}
