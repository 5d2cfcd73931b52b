// Deployments in the store: portable SQL (SQLite and PostgreSQL) over Kysely. The SqlStore
// delegates here, as it does for telemetry.

import type { ModuleSpec } from '@homeostat/protocol';
import type { Kysely, Selectable } from 'kysely';
import type { Database, DeploymentsTable } from './schema.js';
import type { DeploymentFields, DeploymentRecord, DeploymentUpdate } from './store.js';

export async function createDeployment(db: Kysely<Database>, d: DeploymentRecord): Promise<boolean> {
  const r = await db
    .insertInto('deployments')
    .values({
      name: d.name,
      uid: d.uid,
      labels: JSON.stringify(d.labels),
      selector: d.selector,
      priority: d.priority,
      modules: JSON.stringify(d.modules),
      created_at: d.createdAt,
      resource_version: d.resourceVersion,
      generation: d.generation,
      observed_generation: d.observedGeneration,
    })
    .onConflict((oc) => oc.doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
}

export async function getDeployment(db: Kysely<Database>, name: string): Promise<DeploymentRecord | undefined> {
  const row = await db.selectFrom('deployments').selectAll().where('name', '=', name).executeTakeFirst();
  return row && toDeployment(row);
}

export async function listDeployments(db: Kysely<Database>): Promise<DeploymentRecord[]> {
  const rows = await db.selectFrom('deployments').selectAll().orderBy('name').execute();
  return rows.map(toDeployment);
}

export async function updateDeployment(
  db: Kysely<Database>,
  name: string,
  expectedResourceVersion: number,
  f: DeploymentFields,
): Promise<DeploymentUpdate> {
  const r = await db
    .updateTable('deployments')
    .set((eb) => ({
      labels: JSON.stringify(f.labels),
      selector: f.selector,
      priority: f.priority,
      modules: JSON.stringify(f.modules),
      generation: f.generation,
      resource_version: eb('resource_version', '+', 1),
    }))
    .where('name', '=', name)
    .where('resource_version', '=', expectedResourceVersion)
    .executeTakeFirst();
  const deployment = await getDeployment(db, name);
  if (!deployment) return { ok: false, reason: 'not-found' };
  if (Number(r.numUpdatedRows) === 0) return { ok: false, reason: 'conflict', current: deployment.resourceVersion };
  return { ok: true, deployment };
}

export async function observeDeployment(db: Kysely<Database>, name: string, generation: number): Promise<void> {
  await db
    .updateTable('deployments')
    .set({ observed_generation: generation })
    .where('name', '=', name)
    .where('observed_generation', '<', generation)
    .where('generation', '>=', generation)
    .execute();
}

export async function deleteDeployment(db: Kysely<Database>, name: string): Promise<boolean> {
  const r = await db.deleteFrom('deployments').where('name', '=', name).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

function toDeployment(row: Selectable<DeploymentsTable>): DeploymentRecord {
  return {
    name: row.name,
    uid: row.uid,
    labels: JSON.parse(row.labels),
    selector: row.selector,
    priority: Number(row.priority),
    modules: JSON.parse(row.modules) as ModuleSpec[],
    createdAt: Number(row.created_at),
    resourceVersion: Number(row.resource_version),
    generation: Number(row.generation),
    observedGeneration: Number(row.observed_generation),
  };
}
