// Rollouts in the store: the rollout, its revisions, and per device of a revision when its
// update started and how it ended. Portable SQL (SQLite and PostgreSQL) over Kysely; the
// SqlStore delegates here, as it does for deployments.

import type { RolloutCounts, RolloutHalt, RolloutPhase, RolloutSpecFull, SignedManifest } from '@homeostat/protocol';
import type { Kysely, Selectable } from 'kysely';
import type { Database, RolloutDevicesTable, RolloutRevisionsTable, RolloutsTable } from './schema.js';

export interface RolloutRecord {
  name: string;
  uid: string;
  labels: Record<string, string>;
  createdAt: number;
  resourceVersion: number;
  /** The current revision. */
  revision: number;
}

export interface RolloutRevisionRecord {
  rollout: string;
  revision: number;
  spec: RolloutSpecFull;
  /** The artifact's signed manifest, as pushed when the revision was applied. */
  manifest: SignedManifest;
  createdAt: number;
  phase: RolloutPhase;
  /** When no device of the last wave was updating any more; null while one is. */
  waveFinishedAt: number | null;
  halt: RolloutHalt | null;
  finishedAt: number | null;
  /** For a revision made by `undo`: the revision it went back to. */
  undoOf: number | null;
  /** The counts when it finished, for the history. */
  counts: RolloutCounts | null;
}

export type RolloutRevisionFields = Partial<
  Pick<RolloutRevisionRecord, 'spec' | 'phase' | 'waveFinishedAt' | 'halt' | 'finishedAt' | 'counts'>
>;

/** One device of one revision: started in `wave` at `startedAt`; `outcome` once it is known. */
export interface RolloutDeviceRecord {
  device: string;
  wave: number;
  startedAt: number;
  outcome: 'succeeded' | 'failed' | null;
  outcomeAt: number | null;
  /** Why it failed: the device's refusal code, or `timeout`. */
  code: string | null;
  /** It reported `rolled-back`: it went back to its version by itself. */
  rolledBack: boolean;
  /** The hub withdrew the update (the revision halted or was replaced) while it had not committed. */
  rollbackRequestedAt: number | null;
}

export interface RolloutStore {
  /** Creates the rollout with its first revision; false when the name is taken. */
  createRollout(rollout: RolloutRecord, first: RolloutRevisionRecord): Promise<boolean>;
  getRollout(name: string): Promise<RolloutRecord | undefined>;
  /** Removes the rollout with its revisions and per-device records; false when there was none. */
  deleteRollout(name: string): Promise<boolean>;
  /** In name order. */
  listRollouts(): Promise<RolloutRecord[]>;
  updateRolloutLabels(name: string, labels: Record<string, string>): Promise<void>;
  /**
   * Makes `next` the current revision if the current one is still `expectedRevision`, and sets
   * the phase of the one it replaces (unless null). False when another change got in between.
   */
  addRolloutRevision(
    name: string,
    expectedRevision: number,
    next: RolloutRevisionRecord,
    replacedPhase: RolloutPhase | null,
  ): Promise<boolean>;
  getRolloutRevision(name: string, revision: number): Promise<RolloutRevisionRecord | undefined>;
  /** Oldest first. */
  listRolloutRevisions(name: string): Promise<RolloutRevisionRecord[]>;
  updateRolloutRevision(name: string, revision: number, fields: RolloutRevisionFields): Promise<void>;
  /** In device name order. */
  listRolloutDevices(name: string, revision: number): Promise<RolloutDeviceRecord[]>;
  /** Inserts or replaces these devices' records of one revision. */
  saveRolloutDevices(name: string, revision: number, rows: readonly RolloutDeviceRecord[]): Promise<void>;
  /** Device events of one type since `since` (ms): the device and time of each, at most `limit`, newest first. */
  deviceEventTimes(type: string, since: number, limit: number): Promise<{ device: string; ts: number }[]>;
}

/** Rows per INSERT: well under SQLite's limit of bound parameters. */
const CHUNK = 200;

export async function createRollout(
  db: Kysely<Database>,
  r: RolloutRecord,
  first: RolloutRevisionRecord,
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const inserted = await trx
      .insertInto('rollouts')
      .values({
        name: r.name,
        uid: r.uid,
        labels: JSON.stringify(r.labels),
        created_at: r.createdAt,
        resource_version: r.resourceVersion,
        revision: r.revision,
      })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) !== 1) return false;
    // A rollout deleted by hand could leave revisions behind; a new one of that name starts clean.
    await trx.deleteFrom('rollout_revisions').where('rollout', '=', r.name).execute();
    await trx.deleteFrom('rollout_devices').where('rollout', '=', r.name).execute();
    await trx.insertInto('rollout_revisions').values(revisionRow(first)).execute();
    return true;
  });
}

export async function deleteRollout(db: Kysely<Database>, name: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const r = await trx.deleteFrom('rollouts').where('name', '=', name).executeTakeFirst();
    await trx.deleteFrom('rollout_revisions').where('rollout', '=', name).execute();
    await trx.deleteFrom('rollout_devices').where('rollout', '=', name).execute();
    return Number(r.numDeletedRows) === 1;
  });
}

export async function getRollout(db: Kysely<Database>, name: string): Promise<RolloutRecord | undefined> {
  const row = await db.selectFrom('rollouts').selectAll().where('name', '=', name).executeTakeFirst();
  return row && toRollout(row);
}

export async function listRollouts(db: Kysely<Database>): Promise<RolloutRecord[]> {
  return (await db.selectFrom('rollouts').selectAll().orderBy('name').execute()).map(toRollout);
}

export async function updateRolloutLabels(
  db: Kysely<Database>,
  name: string,
  labels: Record<string, string>,
): Promise<void> {
  await db
    .updateTable('rollouts')
    .set((eb) => ({ labels: JSON.stringify(labels), resource_version: eb('resource_version', '+', 1) }))
    .where('name', '=', name)
    .execute();
}

export async function addRolloutRevision(
  db: Kysely<Database>,
  name: string,
  expectedRevision: number,
  next: RolloutRevisionRecord,
  replacedPhase: RolloutPhase | null,
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const r = await trx
      .updateTable('rollouts')
      .set((eb) => ({ revision: next.revision, resource_version: eb('resource_version', '+', 1) }))
      .where('name', '=', name)
      .where('revision', '=', expectedRevision)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) return false;
    if (replacedPhase !== null) {
      await trx
        .updateTable('rollout_revisions')
        .set({ phase: replacedPhase, finished_at: next.createdAt })
        .where('rollout', '=', name)
        .where('revision', '=', expectedRevision)
        .execute();
    }
    await trx.insertInto('rollout_revisions').values(revisionRow(next)).execute();
    return true;
  });
}

export async function getRolloutRevision(
  db: Kysely<Database>,
  name: string,
  revision: number,
): Promise<RolloutRevisionRecord | undefined> {
  const row = await db
    .selectFrom('rollout_revisions')
    .selectAll()
    .where('rollout', '=', name)
    .where('revision', '=', revision)
    .executeTakeFirst();
  return row && toRevision(row);
}

export async function listRolloutRevisions(db: Kysely<Database>, name: string): Promise<RolloutRevisionRecord[]> {
  const rows = await db
    .selectFrom('rollout_revisions')
    .selectAll()
    .where('rollout', '=', name)
    .orderBy('revision')
    .execute();
  return rows.map(toRevision);
}

export async function updateRolloutRevision(
  db: Kysely<Database>,
  name: string,
  revision: number,
  f: RolloutRevisionFields,
): Promise<void> {
  const set: Partial<RolloutRevisionsTable> = {};
  if (f.spec !== undefined) set.spec = JSON.stringify(f.spec);
  if (f.phase !== undefined) set.phase = f.phase;
  if (f.waveFinishedAt !== undefined) set.wave_finished_at = f.waveFinishedAt;
  if (f.halt !== undefined) set.halt = f.halt === null ? null : JSON.stringify(f.halt);
  if (f.finishedAt !== undefined) set.finished_at = f.finishedAt;
  if (f.counts !== undefined) set.counts = f.counts === null ? null : JSON.stringify(f.counts);
  if (Object.keys(set).length === 0) return;
  await db
    .updateTable('rollout_revisions')
    .set(set)
    .where('rollout', '=', name)
    .where('revision', '=', revision)
    .execute();
}

export async function listRolloutDevices(
  db: Kysely<Database>,
  name: string,
  revision: number,
): Promise<RolloutDeviceRecord[]> {
  const rows = await db
    .selectFrom('rollout_devices')
    .selectAll()
    .where('rollout', '=', name)
    .where('revision', '=', revision)
    .orderBy('device')
    .execute();
  return rows.map(toDeviceRecord);
}

export async function saveRolloutDevices(
  db: Kysely<Database>,
  name: string,
  revision: number,
  rows: readonly RolloutDeviceRecord[],
): Promise<void> {
  if (rows.length === 0) return;
  await db.transaction().execute(async (trx) => {
    for (let i = 0; i < rows.length; i += CHUNK) {
      const values = rows.slice(i, i + CHUNK).map((d) => ({
        rollout: name,
        revision,
        device: d.device,
        wave: d.wave,
        started_at: d.startedAt,
        outcome: d.outcome,
        outcome_at: d.outcomeAt,
        code: d.code,
        rolled_back: d.rolledBack ? 1 : 0,
        rollback_requested_at: d.rollbackRequestedAt,
      }));
      await trx
        .insertInto('rollout_devices')
        .values(values)
        .onConflict((oc) =>
          oc.columns(['rollout', 'revision', 'device']).doUpdateSet((eb) => ({
            wave: eb.ref('excluded.wave'),
            started_at: eb.ref('excluded.started_at'),
            outcome: eb.ref('excluded.outcome'),
            outcome_at: eb.ref('excluded.outcome_at'),
            code: eb.ref('excluded.code'),
            rolled_back: eb.ref('excluded.rolled_back'),
            rollback_requested_at: eb.ref('excluded.rollback_requested_at'),
          })),
        )
        .execute();
    }
  });
}

export async function deviceEventTimes(
  db: Kysely<Database>,
  type: string,
  since: number,
  limit: number,
): Promise<{ device: string; ts: number }[]> {
  const rows = await db
    .selectFrom('events')
    .select(['device', 'ts'])
    .where('type', '=', type)
    .where('ts', '>=', since)
    .where('source', '=', 'device')
    .orderBy('ts', 'desc')
    .limit(limit)
    .execute();
  return rows.flatMap((r) => (r.device === null ? [] : [{ device: r.device, ts: Number(r.ts) }]));
}

const num = (v: number | null): number | null => (v === null ? null : Number(v));

function revisionRow(r: RolloutRevisionRecord): RolloutRevisionsTable {
  return {
    rollout: r.rollout,
    revision: r.revision,
    spec: JSON.stringify(r.spec),
    manifest: JSON.stringify(r.manifest),
    created_at: r.createdAt,
    phase: r.phase,
    wave_finished_at: r.waveFinishedAt,
    halt: r.halt === null ? null : JSON.stringify(r.halt),
    finished_at: r.finishedAt,
    undo_of: r.undoOf,
    counts: r.counts === null ? null : JSON.stringify(r.counts),
  };
}

function toRollout(row: Selectable<RolloutsTable>): RolloutRecord {
  return {
    name: row.name,
    uid: row.uid,
    labels: JSON.parse(row.labels),
    createdAt: Number(row.created_at),
    resourceVersion: Number(row.resource_version),
    revision: Number(row.revision),
  };
}

function toRevision(row: Selectable<RolloutRevisionsTable>): RolloutRevisionRecord {
  return {
    rollout: row.rollout,
    revision: Number(row.revision),
    spec: JSON.parse(row.spec),
    manifest: JSON.parse(row.manifest),
    createdAt: Number(row.created_at),
    phase: row.phase as RolloutPhase,
    waveFinishedAt: num(row.wave_finished_at),
    halt: row.halt === null ? null : JSON.parse(row.halt),
    finishedAt: num(row.finished_at),
    undoOf: num(row.undo_of),
    counts: row.counts === null ? null : JSON.parse(row.counts),
  };
}

function toDeviceRecord(row: Selectable<RolloutDevicesTable>): RolloutDeviceRecord {
  return {
    device: row.device,
    wave: Number(row.wave),
    startedAt: Number(row.started_at),
    outcome: row.outcome as RolloutDeviceRecord['outcome'],
    outcomeAt: num(row.outcome_at),
    code: row.code,
    rolledBack: Number(row.rolled_back) === 1,
    rollbackRequestedAt: num(row.rollback_requested_at),
  };
}
