// Schema migrations, in order, as data. A migration once released is never edited; a change
// is a new entry.

import { type Kysely, type Migration, type MigrationProvider, sql } from 'kysely';
import { planWrite, rangesByDevice } from './blocks.js';

const m0001: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('api_tokens')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('token_hash', 'text', (c) => c.notNull().unique())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('devices')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('uid', 'text', (c) => c.notNull().unique())
      .addColumn('labels', 'text', (c) => c.notNull())
      .addColumn('token_hash', 'text', (c) => c.notNull())
      .addColumn('lifecycle', 'text', (c) => c.notNull())
      .addColumn('enrollment_group', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('resource_version', 'integer', (c) => c.notNull())
      .addColumn('desired_version', 'integer', (c) => c.notNull())
      .addColumn('desired_state', 'text', (c) => c.notNull())
      .addColumn('desired_updated_at', 'bigint')
      .addColumn('reported_version', 'integer', (c) => c.notNull())
      .addColumn('reported_state', 'text', (c) => c.notNull())
      .addColumn('reported_desired_version', 'integer')
      .addColumn('reported_updated_at', 'bigint')
      .addColumn('capabilities', 'text', (c) => c.notNull())
      .addColumn('agent_version', 'text')
      .addColumn('heartbeat_ms', 'integer')
      .addColumn('last_seen', 'bigint')
      .addColumn('liveness', 'text')
      .execute();
    await db.schema
      .createTable('readings')
      .addColumn('device', 'text', (c) => c.notNull())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('metric', 'text', (c) => c.notNull())
      .addColumn('ts', 'bigint', (c) => c.notNull())
      .addColumn('value', 'double precision', (c) => c.notNull())
      .addPrimaryKeyConstraint('readings_pk', ['device', 'seq', 'metric'])
      .execute();
    await db.schema.createIndex('readings_by_metric_time').on('readings').columns(['device', 'metric', 'ts']).execute();
    await db.schema
      .createTable('events')
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('ts', 'bigint', (c) => c.notNull())
      .addColumn('device', 'text')
      .addColumn('seq', 'bigint')
      .addColumn('source', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('code', 'text')
      .addColumn('severity', 'text', (c) => c.notNull())
      .addColumn('message', 'text', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .execute();
    // Device events are stored once per (device, seq); hub events have no seq.
    await sql`create unique index events_device_seq on events (device, seq) where seq is not null`.execute(db);
    await db.schema.createIndex('events_by_device').on('events').columns(['device', 'id']).execute();
    await db.schema
      .createTable('enrollment_groups')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('uid', 'text', (c) => c.notNull().unique())
      .addColumn('claim_hash', 'text', (c) => c.notNull().unique())
      .addColumn('template', 'text', (c) => c.notNull())
      .addColumn('name_prefix', 'text', (c) => c.notNull())
      .addColumn('max_devices', 'integer')
      .addColumn('expires_at', 'bigint')
      .addColumn('enrolled', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('resource_version', 'integer', (c) => c.notNull())
      .execute();
  },
};

const m0002: Migration = {
  async up(db: Kysely<unknown>) {
    // Downsampled telemetry, maintained as readings arrive: one row per device, metric,
    // resolution (ms) and bucket. Kept longer than raw readings.
    await db.schema
      .createTable('rollups')
      .addColumn('device', 'text', (c) => c.notNull())
      .addColumn('metric', 'text', (c) => c.notNull())
      .addColumn('resolution_ms', 'integer', (c) => c.notNull())
      .addColumn('bucket', 'bigint', (c) => c.notNull())
      .addColumn('count', 'integer', (c) => c.notNull())
      .addColumn('sum', 'double precision', (c) => c.notNull())
      .addColumn('min', 'double precision', (c) => c.notNull())
      .addColumn('max', 'double precision', (c) => c.notNull())
      .addColumn('last', 'double precision', (c) => c.notNull())
      .addColumn('last_ts', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('rollups_pk', ['device', 'metric', 'resolution_ms', 'bucket'])
      .execute();
    await db.schema.createIndex('rollups_by_bucket').on('rollups').columns(['resolution_ms', 'bucket']).execute();
    // Retention deletes by age.
    await db.schema.createIndex('readings_by_time').on('readings').column('ts').execute();
  },
};

const m0004: Migration = {
  async up(db: Kysely<unknown>) {
    // Which modules run where: a selector, a priority and the module specs (a JSON array).
    await db.schema
      .createTable('deployments')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('uid', 'text', (c) => c.notNull().unique())
      .addColumn('labels', 'text', (c) => c.notNull())
      .addColumn('selector', 'text', (c) => c.notNull())
      .addColumn('priority', 'integer', (c) => c.notNull())
      .addColumn('modules', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('resource_version', 'integer', (c) => c.notNull())
      .addColumn('generation', 'integer', (c) => c.notNull())
      .addColumn('observed_generation', 'integer', (c) => c.notNull())
      .execute();
  },
};

const m0005: Migration = {
  async up(db: Kysely<unknown>) {
    // The autonomic manager's knowledge. Each record is kept whole as JSON (it is read whole);
    // the columns beside it are what lists filter and count on.
    await db.schema
      .createTable('policies')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('uid', 'text', (c) => c.notNull().unique())
      .addColumn('labels', 'text', (c) => c.notNull())
      .addColumn('spec', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('resource_version', 'integer', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('decisions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('policy', 'text', (c) => c.notNull())
      .addColumn('property', 'text', (c) => c.notNull())
      .addColumn('degree', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addColumn('record', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('decisions_by_time').on('decisions').columns(['created_at', 'id']).execute();
    await db.schema.createIndex('decisions_by_state').on('decisions').column('state').execute();
    await db.schema
      .createTable('decision_devices')
      .addColumn('decision', 'text', (c) => c.notNull())
      .addColumn('device', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('decision_devices_pk', ['decision', 'device'])
      .execute();
    await db.schema.createIndex('decision_devices_by_device').on('decision_devices').column('device').execute();
    await db.schema
      .createTable('incidents')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('opened_at', 'bigint', (c) => c.notNull())
      .addColumn('record', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('incident_devices')
      .addColumn('incident', 'text', (c) => c.notNull())
      .addColumn('device', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('incident_devices_pk', ['incident', 'device'])
      .execute();
    await db.schema.createIndex('incident_devices_by_device').on('incident_devices').column('device').execute();
    await db.schema
      .createTable('autonomy')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('spec', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
  },
};

const m0006: Migration = {
  async up(db: Kysely<unknown>) {
    // Rollouts, their revisions (one per artifact version applied) and per device the start and
    // the outcome of each revision: what a restarted hub needs to carry on where it stopped.
    await db.schema
      .createTable('rollouts')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('uid', 'text', (c) => c.notNull().unique())
      .addColumn('labels', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('resource_version', 'integer', (c) => c.notNull())
      .addColumn('revision', 'integer', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('rollout_revisions')
      .addColumn('rollout', 'text', (c) => c.notNull())
      .addColumn('revision', 'integer', (c) => c.notNull())
      .addColumn('spec', 'text', (c) => c.notNull())
      .addColumn('manifest', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('phase', 'text', (c) => c.notNull())
      .addColumn('wave_finished_at', 'bigint')
      .addColumn('halt', 'text')
      .addColumn('finished_at', 'bigint')
      .addColumn('undo_of', 'integer')
      .addColumn('counts', 'text')
      .addPrimaryKeyConstraint('rollout_revisions_pk', ['rollout', 'revision'])
      .execute();
    await db.schema
      .createTable('rollout_devices')
      .addColumn('rollout', 'text', (c) => c.notNull())
      .addColumn('revision', 'integer', (c) => c.notNull())
      .addColumn('device', 'text', (c) => c.notNull())
      .addColumn('wave', 'integer', (c) => c.notNull())
      .addColumn('started_at', 'bigint', (c) => c.notNull())
      .addColumn('outcome', 'text')
      .addColumn('outcome_at', 'bigint')
      .addColumn('code', 'text')
      .addColumn('rolled_back', 'integer', (c) => c.notNull())
      .addColumn('rollback_requested_at', 'bigint')
      .addPrimaryKeyConstraint('rollout_devices_pk', ['rollout', 'revision', 'device'])
      .execute();
    // The behaviour gates count alarms per device over a window.
    await db.schema.createIndex('events_by_type_time').on('events').columns(['type', 'ts']).execute();
  },
};

// 0007 carries the readings over to one row per reading. It was written beside 0004 to 0006 and
// is named after them: migrations run in name order, and databases made meanwhile had run those.
/** Old rows read per query while 0007 carries readings over. */
const COPY_PAGE = 5000;
/** New rows per INSERT: 4 parameters each, well under the bound-parameter limits. */
const COPY_INSERT = 500;

const m0007: Migration = {
  async up(db: Kysely<unknown>) {
    // Kysely runs SQLite migrations outside a transaction (PostgreSQL's inside one); this one
    // drops a table, so it is all or nothing on both.
    if (db.isTransaction) await oneRowPerReading(db);
    else await db.transaction().execute(oneRowPerReading);
  },
};

/**
 * One row per reading instead of one per metric value: a 2-metric reading was two rows, each in
 * the primary key and two indexes; now it is one row, its key and one index, and the primary key
 * alone tells a new reading from a redelivery. The index by (device, ts) serves the queries by
 * time and retention (device by device); queries by metric pick the metric out of the JSON.
 */
async function oneRowPerReading(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('readings_0007')
    .addColumn('device', 'text', (c) => c.notNull())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('ts', 'bigint', (c) => c.notNull())
    .addColumn('metrics', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('readings_0007_pk', ['device', 'seq'])
    .execute();
  await carryReadingsOver(db);
  await db.schema.dropTable('readings').execute();
  await db.schema.alterTable('readings_0007').renameTo('readings').execute();
  // seq last: a page of a query ordered by (ts, seq) is read straight from the index.
  await db.schema.createIndex('readings_by_device_time').on('readings').columns(['device', 'ts', 'seq']).execute();
}

interface OldReading {
  device: string;
  seq: number | string;
  metric: string;
  ts: number | string;
  value: number | string;
}

interface NewReading {
  device: string;
  seq: number;
  ts: number;
  metrics: Record<string, number>;
}

/** Copies the per-value rows of 0001 into one row per (device, seq), in pages (any size fits). */
async function carryReadingsOver(db: Kysely<unknown>): Promise<void> {
  let after: OldReading | undefined;
  // The reading being gathered: its values may continue on the next page.
  let open: NewReading | undefined;
  const done: NewReading[] = [];
  const flush = async (all: boolean) => {
    while (done.length >= (all ? 1 : COPY_INSERT)) {
      const chunk = done.splice(0, COPY_INSERT);
      await sql`insert into readings_0007 (device, seq, ts, metrics) values ${sql.join(
        chunk.map((r) => sql`(${r.device}, ${r.seq}, ${r.ts}, ${JSON.stringify(r.metrics)})`),
      )}`.execute(db);
    }
  };
  for (;;) {
    const where = after ? sql`where (device, seq, metric) > (${after.device}, ${after.seq}, ${after.metric})` : sql``;
    const page = await sql<OldReading>`select device, seq, metric, ts, value from readings ${where}
      order by device, seq, metric limit ${COPY_PAGE}`.execute(db);
    for (const row of page.rows) {
      const seq = Number(row.seq);
      if (open === undefined || open.device !== row.device || open.seq !== seq) {
        if (open) done.push(open);
        open = { device: row.device, seq, ts: Number(row.ts), metrics: {} };
      }
      open.metrics[row.metric] = Number(row.value);
    }
    await flush(false);
    if (page.rows.length < COPY_PAGE) break;
    after = page.rows[page.rows.length - 1];
  }
  if (open) done.push(open);
  await flush(true);
}

const m0008: Migration = {
  async up(db: Kysely<unknown>) {
    // Device replacement: a retired device names the one that replaced it.
    await db.schema.alterTable('devices').addColumn('replaced_by', 'text').execute();
    // Duties the loop moved to other devices while one was silent, so they can be handed back:
    // the record is the whole hand-over (keys, values before and after), kept as JSON.
    await db.schema
      .createTable('hand_overs')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('from_device', 'text', (c) => c.notNull())
      .addColumn('to_device', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('record', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('hand_overs_by_state').on('hand_overs').columns(['state', 'from_device']).execute();
    // One blameless post-mortem per resolved incident.
    await db.schema
      .createTable('postmortems')
      .addColumn('incident', 'text', (c) => c.primaryKey())
      .addColumn('written_at', 'bigint', (c) => c.notNull())
      .addColumn('record', 'text', (c) => c.notNull())
      .execute();
  },
};

// 0009 carries the readings over to blocks (`blocks.ts`), in pages of the (device, ts, seq) index:
// a device's readings of one page make its blocks, so a block holds readings close in time.
/** Rows of one-row-per-reading read per query while 0009 carries readings over. */
const BLOCK_COPY_PAGE = 5000;
/** Blocks per INSERT: 7 parameters each. */
const BLOCK_COPY_INSERT = 100;

const m0009: Migration = {
  async up(db: Kysely<unknown>) {
    if (db.isTransaction) await readingsToBlocks(db);
    else await db.transaction().execute(readingsToBlocks);
  },
};

async function readingsToBlocks(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('reading_blocks')
    .addColumn('device', 'text', (c) => c.notNull())
    .addColumn('seq_last', 'bigint', (c) => c.notNull())
    .addColumn('seq_first', 'bigint', (c) => c.notNull())
    .addColumn('ts_first', 'bigint', (c) => c.notNull())
    .addColumn('ts_last', 'bigint', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .addColumn('readings', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('reading_blocks_pk', ['device', 'seq_last'])
    .execute();
  // Queries by time and retention, device by device.
  await db.schema.createIndex('reading_blocks_by_time').on('reading_blocks').columns(['device', 'ts_last']).execute();
  // The embedded store's staged readings (`sqlite-writer.ts`): acknowledged, not in blocks yet.
  await db.schema
    .createTable('reading_log')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('readings', 'text', (c) => c.notNull())
    .execute();
  let after: { device: string; ts: number; seq: number } | undefined;
  for (;;) {
    const where = after ? sql`where (device, ts, seq) > (${after.device}, ${after.ts}, ${after.seq})` : sql``;
    const page = await sql<{ device: string; seq: number | string; ts: number | string; metrics: string }>`
      select device, seq, ts, metrics from readings ${where} order by device, ts, seq limit ${BLOCK_COPY_PAGE}`.execute(
      db,
    );
    const readings = page.rows.map((r) => ({
      device: r.device,
      seq: Number(r.seq),
      ts: Number(r.ts),
      metrics: JSON.parse(r.metrics) as Record<string, number>,
    }));
    const { blocks } = planWrite(readings, rangesByDevice(readings), new Map());
    for (let i = 0; i < blocks.length; i += BLOCK_COPY_INSERT) {
      const rows = blocks
        .slice(i, i + BLOCK_COPY_INSERT)
        .map(
          (b) =>
            sql`(${b.device}, ${b.seq_last}, ${b.seq_first}, ${b.ts_first}, ${b.ts_last}, ${b.count}, ${b.readings})`,
        );
      await sql`insert into reading_blocks (device, seq_last, seq_first, ts_first, ts_last, count, readings)
        values ${sql.join(rows)}`.execute(db);
    }
    const last = readings[readings.length - 1];
    if (page.rows.length < BLOCK_COPY_PAGE || last === undefined) break;
    after = { device: last.device, ts: last.ts, seq: last.seq };
  }
  await db.schema.dropTable('readings').execute();
}

export const migrations: MigrationProvider = {
  async getMigrations() {
    return {
      '0001-foundation': m0001,
      '0002-rollups': m0002,
      '0004-deployments': m0004,
      '0005-autonomic': m0005,
      '0006-rollouts': m0006,
      '0007-one-row-per-reading': m0007,
      '0008-replacement-postmortems': m0008,
      '0009-reading-blocks': m0009,
    };
  },
};
