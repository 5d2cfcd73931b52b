// Schema migrations, in order, as data. A migration once released is never edited; a change
// is a new entry.

import { type Kysely, type Migration, type MigrationProvider, sql } from 'kysely';

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

export const migrations: MigrationProvider = {
  async getMigrations() {
    return {
      '0001-foundation': m0001,
      '0002-rollups': m0002,
      '0004-deployments': m0004,
      '0005-autonomic': m0005,
      '0006-rollouts': m0006,
    };
  },
};
