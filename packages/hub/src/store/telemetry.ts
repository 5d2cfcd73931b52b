// Telemetry in the store: readings stored once per (device, seq), rollups per minute and per
// hour maintained in the same transaction, queries by time and by step, retention. SQL kept
// portable between SQLite and PostgreSQL.

import { type Kysely, type Selectable, sql } from 'kysely';
import type { Database, ReadingsTable, RollupsTable } from './schema.js';
import {
  type Bucket,
  type InsertOutcome,
  type Point,
  type Reading,
  type Retention,
  ROLLUP_RESOLUTIONS,
  rollupFor,
} from './store.js';

/** Rows per INSERT statement: well under SQLite's bound-parameter limit. */
const INSERT_CHUNK = 500;
/** Rows read per page by a query by metric: readings without the metric are skipped in between. */
const QUERY_PAGE = 1000;

/** A reading as a row: its values as one JSON object. */
export function toRow(r: Reading): ReadingsTable {
  return { device: r.device, seq: r.seq, ts: r.ts, metrics: JSON.stringify(r.metrics) };
}

export function fromRow(r: Selectable<ReadingsTable>): Reading {
  return { device: r.device, seq: Number(r.seq), ts: Number(r.ts), metrics: JSON.parse(r.metrics) };
}

const keyOf = (device: string, seq: number): string => `${device}\u0000${seq}`;

export async function insertReadings(db: Kysely<Database>, readings: readonly Reading[]): Promise<InsertOutcome> {
  if (readings.length === 0) return { inserted: 0, existing: [] };
  return db.transaction().execute(async (trx) => {
    // The primary key (device, seq) tells a new reading from one stored already: the insert
    // returns the keys it stored; only the others are looked up.
    const taken = new Set<string>();
    for (let i = 0; i < readings.length; i += INSERT_CHUNK) {
      const rows = await trx
        .insertInto('readings')
        .values(readings.slice(i, i + INSERT_CHUNK).map(toRow))
        .onConflict((oc) => oc.doNothing())
        .returning(['device', 'seq'])
        .execute();
      for (const r of rows) taken.add(keyOf(r.device, Number(r.seq)));
    }
    const fresh: Reading[] = [];
    const others: number[] = [];
    readings.forEach((r, i) => {
      // A key twice in one write: the first was stored, the second was not.
      if (taken.delete(keyOf(r.device, r.seq))) fresh.push(r);
      else others.push(i);
    });
    const existing: InsertOutcome['existing'] = [];
    if (others.length > 0) {
      const stored = await storedReadings(
        trx,
        others.map((i) => readings[i]!),
      );
      for (const i of others) {
        const r = readings[i]!;
        existing.push({ index: i, stored: stored.get(keyOf(r.device, r.seq))! });
      }
    }
    await upsertRollups(trx, fresh);
    return { inserted: fresh.length, existing };
  });
}

/** The stored readings with the (device, seq) of these, by key. */
async function storedReadings(db: Kysely<Database>, readings: readonly Reading[]): Promise<Map<string, Reading>> {
  const byDevice = new Map<string, number[]>();
  for (const r of readings) {
    const seqs = byDevice.get(r.device);
    if (seqs) seqs.push(r.seq);
    else byDevice.set(r.device, [r.seq]);
  }
  const found = new Map<string, Reading>();
  for (const [device, seqs] of byDevice) {
    for (let i = 0; i < seqs.length; i += INSERT_CHUNK) {
      const rows = await db
        .selectFrom('readings')
        .selectAll()
        .where('device', '=', device)
        .where('seq', 'in', seqs.slice(i, i + INSERT_CHUNK))
        .execute();
      for (const row of rows) found.set(keyOf(row.device, Number(row.seq)), fromRow(row));
    }
  }
  return found;
}

export async function queryReadings(
  db: Kysely<Database>,
  device: string,
  metric: string,
  from: number,
  to: number,
  limit: number,
): Promise<Point[]> {
  // The newest `limit` points of the window, returned oldest first. Rows are read newest first,
  // a page at a time, until `limit` of them carry the metric.
  const points: Point[] = [];
  let before: { ts: number; seq: number } | undefined;
  for (;;) {
    let q = db
      .selectFrom('readings')
      .select(['seq', 'ts', 'metrics'])
      .where('device', '=', device)
      .where('ts', '>=', from)
      .orderBy('ts', 'desc')
      .orderBy('seq', 'desc')
      .limit(QUERY_PAGE);
    if (before === undefined) q = q.where('ts', '<=', to);
    else {
      const { ts, seq } = before;
      q = q.where('ts', '<=', ts).where((eb) => eb.or([eb('ts', '<', ts), eb('seq', '<', seq)]));
    }
    const rows = await q.execute();
    for (const r of rows) {
      const value = metricValue(r.metrics, metric);
      if (value !== undefined) points.push({ seq: Number(r.seq), ts: Number(r.ts), value });
      if (points.length === limit) return points.reverse();
    }
    const last = rows[rows.length - 1];
    if (rows.length < QUERY_PAGE || last === undefined) return points.reverse();
    before = { ts: Number(last.ts), seq: Number(last.seq) };
  }
}

/** One metric's value in a stored JSON object of values; undefined when the reading has none. */
function metricValue(metrics: string, metric: string): number | undefined {
  // Metric names are plain (letters, digits, `_` and `.`): a reading without the name in its
  // text does not have the metric, and is not parsed.
  if (!metrics.includes(`"${metric}"`)) return undefined;
  const value: unknown = (JSON.parse(metrics) as Record<string, unknown>)[metric];
  return typeof value === 'number' ? value : undefined;
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
        .select(['ts', 'metrics'])
        .where('device', 'in', chunk)
        .where('ts', '>=', from)
        .where('ts', '<=', to)
        .execute();
      for (const r of rows) {
        const v = metricValue(r.metrics, metric);
        const ts = Number(r.ts);
        if (v !== undefined) folder.add(ts, 1, v, v, v, v, ts);
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
  // Raw readings, device by device, on the (device, ts) index: there is no index by time alone
  // (one more B-tree entry for every reading, for a job that runs once a minute). The devices
  // with readings past their age are found by a skip scan of that index (one seek per device).
  const cutoff = now - retention.rawMs;
  const old = await sql<{ device: string }>`with recursive d(device) as (
      select min(device) from readings
      union all
      select (select min(r.device) from readings r where r.device > d.device) from d where d.device is not null
    )
    select device from d where device is not null
      and exists (select 1 from readings r where r.device = d.device and r.ts < ${cutoff})`.execute(db);
  for (const { device } of old.rows) {
    if (deleted >= limit) break;
    const r =
      await sql`delete from readings where device = ${device} and seq in (select seq from readings where device = ${device} and ts < ${cutoff} limit ${limit - deleted})`.execute(
        db,
      );
    deleted += Number(r.numAffectedRows ?? 0);
  }
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

/**
 * Fresh readings folded into one rollup row per (device, metric, resolution, bucket). Each value
 * is folded once, into its minute (found through the device and the metric, most often the last
 * minute seen for them); the coarser resolutions are folded from the minutes, which nest in them.
 */
export function rollupRows(readings: readonly Reading[]): Selectable<RollupsTable>[] {
  const [finest, ...coarser] = ROLLUP_RESOLUTIONS;
  const minutes: Selectable<RollupsTable>[] = [];
  const byDevice = new Map<string, Map<string, Selectable<RollupsTable>[]>>();
  for (const r of readings) {
    let byMetric = byDevice.get(r.device);
    if (byMetric === undefined) {
      byMetric = new Map();
      byDevice.set(r.device, byMetric);
    }
    const bucket = Math.floor(r.ts / finest) * finest;
    for (const metric in r.metrics) {
      const value = r.metrics[metric]!;
      let rows = byMetric.get(metric);
      if (rows === undefined) {
        rows = [];
        byMetric.set(metric, rows);
      }
      const last = rows[rows.length - 1];
      const row = last !== undefined && last.bucket === bucket ? last : rows.find((b) => b.bucket === bucket);
      if (row === undefined) {
        const fresh = newRollup(r.device, metric, finest, bucket, 1, value, value, value, value, r.ts);
        rows.push(fresh);
        minutes.push(fresh);
      } else foldInto(row, 1, value, value, value, value, r.ts);
    }
  }
  const out = minutes.slice();
  for (const resolution of coarser) {
    const folded = new Map<string, Selectable<RollupsTable>>();
    for (const m of minutes) {
      const bucket = Math.floor(m.bucket / resolution) * resolution;
      const key = `${m.device}\u0000${m.metric}\u0000${bucket}`;
      const row = folded.get(key);
      if (row === undefined)
        folded.set(
          key,
          newRollup(m.device, m.metric, resolution, bucket, m.count, m.sum, m.min, m.max, m.last, m.last_ts),
        );
      else foldInto(row, m.count, m.sum, m.min, m.max, m.last, m.last_ts);
    }
    out.push(...folded.values());
  }
  return out;
}

function newRollup(
  device: string,
  metric: string,
  resolution_ms: number,
  bucket: number,
  count: number,
  sum: number,
  min: number,
  max: number,
  last: number,
  last_ts: number,
): Selectable<RollupsTable> {
  return { device, metric, resolution_ms, bucket, count, sum, min, max, last, last_ts };
}

function foldInto(
  row: Selectable<RollupsTable>,
  count: number,
  sum: number,
  min: number,
  max: number,
  last: number,
  lastTs: number,
): void {
  row.count += count;
  row.sum += sum;
  if (min < row.min) row.min = min;
  if (max > row.max) row.max = max;
  if (lastTs >= row.last_ts) {
    row.last = last;
    row.last_ts = lastTs;
  }
}

async function upsertRollups(db: Kysely<Database>, readings: readonly Reading[]): Promise<void> {
  const values = rollupRows(readings);
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
