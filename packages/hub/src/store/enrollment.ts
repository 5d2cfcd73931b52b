// Enrollment groups in the store, and the claim that enrolls a device through one: portable SQL
// (SQLite and PostgreSQL) over Kysely. The SqlStore delegates here, as it does for telemetry.

import type { Kysely } from 'kysely';
import { insertDevice } from './devices.js';
import { toDevice, toGroup } from './mappers.js';
import type { Database } from './schema.js';
import type { ClaimOutcome, EnrollmentGroupRecord, NewDevice } from './store.js';

export async function createEnrollmentGroup(db: Kysely<Database>, group: EnrollmentGroupRecord): Promise<boolean> {
  const r = await db
    .insertInto('enrollment_groups')
    .values({
      name: group.name,
      uid: group.uid,
      claim_hash: group.claimHash,
      template: JSON.stringify(group.template),
      name_prefix: group.namePrefix,
      max_devices: group.maxDevices,
      expires_at: group.expiresAt,
      enrolled: group.enrolled,
      created_at: group.createdAt,
      resource_version: group.resourceVersion,
    })
    .onConflict((oc) => oc.doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
}

export async function getEnrollmentGroup(
  db: Kysely<Database>,
  name: string,
): Promise<EnrollmentGroupRecord | undefined> {
  const row = await db.selectFrom('enrollment_groups').selectAll().where('name', '=', name).executeTakeFirst();
  return row && toGroup(row);
}

export async function findEnrollmentGroupByClaimHash(
  db: Kysely<Database>,
  hash: string,
): Promise<EnrollmentGroupRecord | undefined> {
  const row = await db.selectFrom('enrollment_groups').selectAll().where('claim_hash', '=', hash).executeTakeFirst();
  return row && toGroup(row);
}

export async function listEnrollmentGroups(db: Kysely<Database>): Promise<EnrollmentGroupRecord[]> {
  const rows = await db.selectFrom('enrollment_groups').selectAll().orderBy('name').execute();
  return rows.map(toGroup);
}

export async function updateEnrollmentGroup(
  db: Kysely<Database>,
  name: string,
  update: Pick<EnrollmentGroupRecord, 'template' | 'namePrefix' | 'maxDevices' | 'expiresAt'>,
): Promise<EnrollmentGroupRecord | undefined> {
  await db
    .updateTable('enrollment_groups')
    .set((eb) => ({
      template: JSON.stringify(update.template),
      name_prefix: update.namePrefix,
      max_devices: update.maxDevices,
      expires_at: update.expiresAt,
      resource_version: eb('resource_version', '+', 1),
    }))
    .where('name', '=', name)
    .execute();
  return getEnrollmentGroup(db, name);
}

export async function deleteEnrollmentGroup(db: Kysely<Database>, name: string): Promise<boolean> {
  const r = await db.deleteFrom('enrollment_groups').where('name', '=', name).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export async function claimDevice(db: Kysely<Database>, groupName: string, device: NewDevice): Promise<ClaimOutcome> {
  return db.transaction().execute(async (trx) => {
    const group = await trx
      .selectFrom('enrollment_groups')
      .select(['enrolled', 'max_devices'])
      .where('name', '=', groupName)
      .executeTakeFirst();
    if (!group) return { ok: false, reason: 'group-not-found' } as const;
    if (group.max_devices !== null && group.enrolled >= group.max_devices) {
      return { ok: false, reason: 'exhausted' } as const;
    }
    if (!(await insertDevice(trx, device))) return { ok: false, reason: 'name-taken' } as const;
    await trx
      .updateTable('enrollment_groups')
      .set((eb) => ({ enrolled: eb('enrolled', '+', 1) }))
      .where('name', '=', groupName)
      .execute();
    const row = await trx.selectFrom('devices').selectAll().where('name', '=', device.name).executeTakeFirstOrThrow();
    return { ok: true, device: toDevice(row) } as const;
  });
}
