// Devices and their twins in the store: portable SQL (SQLite and PostgreSQL) over Kysely. The
// SqlStore delegates here, as it does for telemetry.

import { applyMergePatch, type Lifecycle } from '@homeostat/protocol';
import type { Kysely } from 'kysely';
import { toDevice } from './mappers.js';
import type { Database, DevicesTable } from './schema.js';
import type { DesiredUpdate, DeviceRecord, LivenessRecord, NewDevice, ReportedUpdate, StatusUpdate } from './store.js';

export async function insertDevice(db: Kysely<Database>, device: NewDevice): Promise<boolean> {
  const r = await db
    .insertInto('devices')
    .values({
      name: device.name,
      uid: device.uid,
      labels: JSON.stringify(device.labels),
      token_hash: device.tokenHash,
      lifecycle: 'provisioned',
      enrollment_group: device.enrollmentGroup,
      created_at: device.createdAt,
      resource_version: 1,
      desired_version: Object.keys(device.desired).length > 0 ? 1 : 0,
      desired_state: JSON.stringify(device.desired),
      desired_updated_at: Object.keys(device.desired).length > 0 ? device.createdAt : null,
      reported_version: 0,
      reported_state: '{}',
      reported_desired_version: null,
      reported_updated_at: null,
      capabilities: '{}',
      agent_version: null,
      heartbeat_ms: null,
      last_seen: null,
      liveness: null,
      replaced_by: null,
    })
    .onConflict((oc) => oc.doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
}

export async function countDevices(db: Kysely<Database>): Promise<number> {
  const r = await db
    .selectFrom('devices')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

export async function getDevice(db: Kysely<Database>, name: string): Promise<DeviceRecord | undefined> {
  const row = await db.selectFrom('devices').selectAll().where('name', '=', name).executeTakeFirst();
  return row && toDevice(row);
}

export async function listDevices(db: Kysely<Database>): Promise<DeviceRecord[]> {
  const rows = await db.selectFrom('devices').selectAll().orderBy('name').execute();
  return rows.map(toDevice);
}

export async function updateDeviceLabels(
  db: Kysely<Database>,
  name: string,
  labels: Record<string, string>,
): Promise<DeviceRecord | undefined> {
  await db
    .updateTable('devices')
    .set((eb) => ({ labels: JSON.stringify(labels), resource_version: eb('resource_version', '+', 1) }))
    .where('name', '=', name)
    .execute();
  return getDevice(db, name);
}

export async function setDeviceTokenHash(db: Kysely<Database>, name: string, tokenHash: string): Promise<boolean> {
  const r = await db
    .updateTable('devices')
    .set((eb) => ({ token_hash: tokenHash, resource_version: eb('resource_version', '+', 1) }))
    .where('name', '=', name)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

export async function deleteDevice(db: Kysely<Database>, name: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const r = await trx.deleteFrom('devices').where('name', '=', name).executeTakeFirst();
    await trx.deleteFrom('reading_blocks').where('device', '=', name).execute();
    // Its events stay, as history; their seqs are released so a new device of the same name,
    // counting from 0 again, is not taken for a redelivery.
    await trx.updateTable('events').set({ seq: null }).where('device', '=', name).execute();
    return Number(r.numDeletedRows) > 0;
  });
}

export async function replaceDesired(
  db: Kysely<Database>,
  name: string,
  expectedVersion: number,
  state: Record<string, unknown>,
  now: number,
): Promise<DesiredUpdate> {
  const r = await db
    .updateTable('devices')
    .set((eb) => ({
      desired_state: JSON.stringify(state),
      desired_version: eb('desired_version', '+', 1),
      desired_updated_at: now,
      resource_version: eb('resource_version', '+', 1),
    }))
    .where('name', '=', name)
    .where('desired_version', '=', expectedVersion)
    .executeTakeFirst();
  const device = await getDevice(db, name);
  if (!device) return { ok: false, reason: 'not-found' };
  if (Number(r.numUpdatedRows) === 0) return { ok: false, reason: 'conflict', current: device.desired.version };
  return { ok: true, device };
}

export async function applyReported(
  db: Kysely<Database>,
  name: string,
  version: number,
  patch: Record<string, unknown>,
  desiredVersion: number | null,
  now: number,
  replace: boolean,
): Promise<ReportedUpdate> {
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .selectFrom('devices')
      .select(['reported_version', 'reported_state', 'reported_desired_version'])
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) return { ok: false, reason: 'not-found' } as const;
    if (version <= row.reported_version) return { ok: false, reason: 'stale', current: row.reported_version } as const;
    const merged = replace ? patch : applyMergePatch(JSON.parse(row.reported_state), patch);
    await trx
      .updateTable('devices')
      .set({
        reported_version: version,
        reported_state: JSON.stringify(merged),
        reported_desired_version: replace ? desiredVersion : (desiredVersion ?? row.reported_desired_version),
        reported_updated_at: now,
      })
      .where('name', '=', name)
      .execute();
    return { ok: true } as const;
  });
}

export async function updateDeviceStatus(db: Kysely<Database>, name: string, update: StatusUpdate): Promise<void> {
  const set: Partial<DevicesTable> = {};
  if (update.capabilities !== undefined) set.capabilities = JSON.stringify(update.capabilities);
  if (update.agentVersion !== undefined) set.agent_version = update.agentVersion;
  if (update.heartbeatMs !== undefined) set.heartbeat_ms = update.heartbeatMs;
  if (Object.keys(set).length > 0) {
    await db.updateTable('devices').set(set).where('name', '=', name).execute();
  }
  if (update.activate) {
    await db
      .updateTable('devices')
      .set({ lifecycle: 'active' })
      .where('name', '=', name)
      .where('lifecycle', '=', 'provisioned')
      .execute();
  }
}

export async function saveLiveness(
  db: Kysely<Database>,
  entries: { name: string; lastSeen: number | null; liveness: LivenessRecord }[],
): Promise<void> {
  if (entries.length === 0) return;
  await db.transaction().execute(async (trx) => {
    for (const e of entries) {
      await trx
        .updateTable('devices')
        .set({ last_seen: e.lastSeen, liveness: JSON.stringify(e.liveness) })
        .where('name', '=', e.name)
        .execute();
    }
  });
}

export async function setDeviceLifecycle(db: Kysely<Database>, name: string, lifecycle: Lifecycle): Promise<boolean> {
  const r = await db
    .updateTable('devices')
    .set((eb) => ({ lifecycle, resource_version: eb('resource_version', '+', 1) }))
    .where('name', '=', name)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

export async function retireDevice(
  db: Kysely<Database>,
  name: string,
  tokenHash: string,
  replacedBy: string | null,
): Promise<boolean> {
  const r = await db
    .updateTable('devices')
    .set((eb) => ({
      lifecycle: 'retired',
      token_hash: tokenHash,
      labels: '{}',
      replaced_by: replacedBy,
      resource_version: eb('resource_version', '+', 1),
    }))
    .where('name', '=', name)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}
