// Telemetry in the store: readings stored once per (device, seq) in blocks (`blocks.ts`),
// rollups per minute and per hour maintained in the same transaction, queries by time and by
// step, retention. SQL kept portable between SQLite and PostgreSQL.

import { type Kysely, type Selectable, sql } from 'kysely';
import { blocksToRead, MAX_BLOCK_SPAN_MS, planWrite, pointsOf, rangesByDevice, storedIn } from './blocks.js';
import type { Database, RollupsTable } from './schema.js';
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
/** Blocks per INSERT statement: 7 parameters each. */
const BLOCK_INSERT_CHUNK = 100;
/** Blocks read per page by a query by metric: blocks without the metric are skipped in between. */
const QUERY_PAGE = 100;

export async function insertReadings(db: Kysely<Database>, readings: readonly Reading[]): Promise<InsertOutcome> {
  if (readings.length === 0) return { inserted: 0, existing: [] };
  return db.transaction().execute(async (trx) => {
    const ranges = rangesByDevice(readings);
    const stored = new Map<string, Map<number, Reading>>();
    for (const range of ranges) {
      const { device, lowSeq, highSeq } = range;
      // The blocks the range may be in: from the first whose last seq reaches it (the key's order).
      const met = await trx
        .selectFrom('reading_blocks')
        .select(['seq_first', 'seq_last'])
        .where('device', '=', device)
        .where('seq_last', '>=', lowSeq)
        .where('seq_first', '<=', highSeq)
        .execute();
      const toRead = blocksToRead(readings, range, met);
      if (toRead.length === 0) continue;
      const rows = await trx
        .selectFrom('reading_blocks')
        .select('readings')
        .where('device', '=', device)
        .where(
          'seq_last',
          'in',
          toRead.map((b) => b.seq_last),
        )
        .execute();
      stored.set(
        device,
        storedIn(
          device,
          rows.map((r) => r.readings),
          lowSeq,
          highSeq,
        ),
      );
    }
    const plan = planWrite(readings, ranges, stored);
    for (let i = 0; i < plan.blocks.length; i += BLOCK_INSERT_CHUNK) {
      await trx
        .insertInto('reading_blocks')
        .values(plan.blocks.slice(i, i + BLOCK_INSERT_CHUNK))
        .execute();
    }
    await upsertRollups(trx, plan.fresh);
    return { inserted: plan.fresh.length, existing: plan.existing };
  });
}

export async function queryReadings(
  db: Kysely<Database>,
  device: string,
  metric: string,
  from: number,
  to: number,
  limit: number,
): Promise<Point[]> {
  // The newest `limit` points of the window, returned oldest first. Blocks are read by their last
  // time, newest first, a page at a time; a block may hold points older than the next block's, so
  // reading stops once `limit` points are found and the next block ends before the oldest of them.
  const points: Point[] = [];
  /** The time of the `limit`-th newest point found so far (once there are that many). */
  let cutoff = Number.NEGATIVE_INFINITY;
  const trim = () => {
    points.sort((a, b) => b.ts - a.ts || b.seq - a.seq);
    if (points.length >= limit) {
      points.length = limit;
      cutoff = points[limit - 1]!.ts;
    }
  };
  let before: { tsLast: number; seqLast: number } | undefined;
  for (;;) {
    let q = db
      .selectFrom('reading_blocks')
      .select(['seq_last', 'ts_last', 'readings'])
      .where('device', '=', device)
      .where('ts_last', '>=', from)
      .where('ts_first', '<=', to)
      .orderBy('ts_last', 'desc')
      .orderBy('seq_last', 'desc')
      .limit(QUERY_PAGE);
    if (before === undefined) q = q.where('ts_last', '<=', to + MAX_BLOCK_SPAN_MS);
    else {
      const { tsLast, seqLast } = before;
      q = q
        .where('ts_last', '<=', tsLast)
        .where((eb) => eb.or([eb('ts_last', '<', tsLast), eb('seq_last', '<', seqLast)]));
    }
    const rows = await q.execute();
    for (const r of rows) {
      if (Number(r.ts_last) < cutoff) break;
      for (const [seq, ts, value] of pointsOf(r.readings, metric, from, to)) points.push({ seq, ts, value });
      if (points.length >= 2 * limit) trim();
    }
    trim();
    const last = rows[rows.length - 1];
    if (rows.length < QUERY_PAGE || last === undefined || Number(last.ts_last) < cutoff) return points.reverse();
    before = { tsLast: Number(last.ts_last), seqLast: Number(last.seq_last) };
  }
}

/**
 * The newest `limit` points of a metric in [from, to] among points read from blocks and readings
 * not in blocks yet (the embedded store's staged ones), oldest first.
 */
export function newestPoints(
  stored: readonly Point[],
  staged: readonly Reading[],
  metric: string,
  from: number,
  to: number,
  limit: number,
): Point[] {
  // A staged reading may be in `stored` too, when it was moved to blocks while the query ran.
  const seen = new Set(stored.map((p) => p.seq));
  const points = [...stored];
  for (const r of staged) {
    const value = ownValue(r, metric);
    if (value !== undefined && r.ts >= from && r.ts <= to && !seen.has(r.seq)) {
      points.push({ seq: r.seq, ts: r.ts, value });
    }
  }
  points.sort((a, b) => a.ts - b.ts || a.seq - b.seq);
  return points.length > limit ? points.slice(points.length - limit) : points;
}

/** A reading's own value of a metric (not a property every object inherits, such as `toString`). */
function ownValue(r: Reading, metric: string): number | undefined {
  const value: unknown = Object.hasOwn(r.metrics, metric) ? r.metrics[metric] : undefined;
  return typeof value === 'number' ? value : undefined;
}

/** `staged`: readings of these devices not in blocks yet (the embedded store's), counted too. */
export async function queryBuckets(
  db: Kysely<Database>,
  devices: readonly string[],
  metric: string,
  from: number,
  to: number,
  stepMs: number,
  staged: readonly Reading[] = [],
): Promise<Bucket[]> {
  if (devices.length === 0) return [];
  const resolution = rollupFor(stepMs);
  const folder = new BucketFolder(stepMs);
  if (resolution === undefined) {
    for (const r of staged) {
      const v = ownValue(r, metric);
      if (v !== undefined && r.ts >= from && r.ts <= to) folder.add(r.ts, 1, v, v, v, v, r.ts);
    }
  } else {
    const first = Math.floor(from / resolution) * resolution;
    for (const b of rollupRows(staged)) {
      if (b.metric !== metric || b.resolution_ms !== resolution || b.bucket < first || b.bucket > to) continue;
      folder.add(b.bucket, b.count, b.sum, b.min, b.max, b.last, b.last_ts);
    }
  }
  for (let i = 0; i < devices.length; i += INSERT_CHUNK) {
    const chunk = devices.slice(i, i + INSERT_CHUNK);
    if (resolution === undefined) {
      const rows = await db
        .selectFrom('reading_blocks')
        .select('readings')
        .where('device', 'in', chunk)
        .where('ts_last', '>=', from)
        .where('ts_last', '<=', to + MAX_BLOCK_SPAN_MS)
        .where('ts_first', '<=', to)
        .execute();
      for (const r of rows) {
        for (const [, ts, v] of pointsOf(r.readings, metric, from, to)) folder.add(ts, 1, v, v, v, v, ts);
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
  // Raw readings, device by device, on the (device, ts_last) index: a block goes once its last
  // reading is past the age. The devices with such blocks are found by a skip scan of that index
  // (one seek per device).
  const cutoff = now - retention.rawMs;
  const old = await sql<{ device: string }>`with recursive d(device) as (
      select min(device) from reading_blocks
      union all
      select (select min(b.device) from reading_blocks b where b.device > d.device) from d where d.device is not null
    )
    select device from d where device is not null
      and exists (select 1 from reading_blocks b where b.device = d.device and b.ts_last < ${cutoff})`.execute(db);
  let blocks = 0;
  for (const { device } of old.rows) {
    if (blocks >= limit) break;
    const expired = await db
      .selectFrom('reading_blocks')
      .select(['seq_last', 'count'])
      .where('device', '=', device)
      .where('ts_last', '<', cutoff)
      .limit(limit - blocks)
      .execute();
    if (expired.length === 0) continue;
    await db
      .deleteFrom('reading_blocks')
      .where('device', '=', device)
      .where(
        'seq_last',
        'in',
        expired.map((b) => b.seq_last),
      )
      .execute();
    blocks += expired.length;
    for (const b of expired) deleted += Number(b.count);
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
