// The autonomic manager's knowledge over Kysely, for both dialects: policies, decisions,
// incidents and the autonomy settings. Decisions and incidents are kept whole as JSON; the
// device link tables answer "everything about this device" without scanning the records.

import type {
  AutonomySpec,
  Decision,
  DecisionState,
  Degree,
  Incident,
  PostMortem,
  Property,
} from '@homeostat/protocol';
import { type Kysely, sql } from 'kysely';
import type { Database } from './schema.js';
import type {
  DecisionCount,
  DecisionQuery,
  HandOverQuery,
  HandOverRecord,
  IncidentQuery,
  PolicyRecord,
} from './store.js';

type Db = Kysely<Database>;

/** The table that links a kind of record to the devices it concerns. */
type Link = { table: 'decision_devices'; key: 'decision' } | { table: 'incident_devices'; key: 'incident' };
const DECISION_LINK: Link = { table: 'decision_devices', key: 'decision' };
const INCIDENT_LINK: Link = { table: 'incident_devices', key: 'incident' };

/** Makes the record `id` concern exactly these devices (a held partition decision gains some). */
async function relink(db: Db, link: Link, id: string, devices: readonly string[]): Promise<void> {
  const table = sql.table(link.table);
  await sql`delete from ${table} where ${sql.ref(link.key)} = ${id}`.execute(db);
  const rows = [...new Set(devices)].map((device) => sql`(${id}, ${device})`);
  if (rows.length > 0)
    await sql`insert into ${table} (${sql.ref(link.key)}, device) values ${sql.join(rows)}`.execute(db);
}

/** A condition: the record concerns this device. */
const concerns = (link: Link, device: string) =>
  sql<boolean>`id in (select ${sql.ref(link.key)} from ${sql.table(link.table)} where device = ${device})`;

export async function putPolicy(db: Db, p: PolicyRecord): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const existing = await trx.selectFrom('policies').select('name').where('name', '=', p.name).executeTakeFirst();
    const row = {
      uid: p.uid,
      labels: JSON.stringify(p.labels),
      spec: JSON.stringify(p.spec),
      created_at: p.createdAt,
      resource_version: p.resourceVersion,
    };
    if (existing) {
      await trx.updateTable('policies').set(row).where('name', '=', p.name).execute();
      return false;
    }
    await trx
      .insertInto('policies')
      .values({ name: p.name, ...row })
      .execute();
    return true;
  });
}

export async function getPolicy(db: Db, name: string): Promise<PolicyRecord | undefined> {
  const row = await db.selectFrom('policies').selectAll().where('name', '=', name).executeTakeFirst();
  return row && toPolicy(row);
}

export async function listPolicies(db: Db): Promise<PolicyRecord[]> {
  return (await db.selectFrom('policies').selectAll().orderBy('name').execute()).map(toPolicy);
}

export async function deletePolicy(db: Db, name: string): Promise<boolean> {
  const r = await db.deleteFrom('policies').where('name', '=', name).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

function toPolicy(row: Database['policies']): PolicyRecord {
  return {
    name: row.name,
    uid: row.uid,
    labels: JSON.parse(row.labels),
    spec: JSON.parse(row.spec),
    createdAt: Number(row.created_at),
    resourceVersion: Number(row.resource_version),
  };
}

export async function saveDecision(db: Db, d: Decision): Promise<void> {
  const row = {
    policy: d.policy,
    property: d.property,
    degree: d.degree,
    state: d.state,
    created_at: d.createdAt,
    updated_at: d.updatedAt,
    record: JSON.stringify(d),
  };
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('decisions')
      .values({ id: d.id, ...row })
      .onConflict((oc) => oc.column('id').doUpdateSet(row))
      .execute();
    await relink(trx, DECISION_LINK, d.id, d.devices);
  });
}

export async function getDecision(db: Db, id: string): Promise<Decision | undefined> {
  const row = await db.selectFrom('decisions').select('record').where('id', '=', id).executeTakeFirst();
  return row && (JSON.parse(row.record) as Decision);
}

export async function listDecisions(db: Db, q: DecisionQuery): Promise<Decision[]> {
  let query = db.selectFrom('decisions').select('record');
  if (q.device !== undefined) query = query.where(concerns(DECISION_LINK, q.device));
  if (q.policy !== undefined) query = query.where('policy', '=', q.policy);
  if (q.states !== undefined) {
    if (q.states.length === 0) return [];
    query = query.where('state', 'in', [...q.states]);
  }
  const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(q.limit).execute();
  return rows.map((r) => JSON.parse(r.record) as Decision);
}

export async function countDecisions(db: Db): Promise<DecisionCount[]> {
  const rows = await db
    .selectFrom('decisions')
    .select(['property', 'degree', 'state', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy(['property', 'degree', 'state'])
    .orderBy('property')
    .orderBy('degree')
    .orderBy('state')
    .execute();
  return rows.map((r) => ({
    property: r.property as Property,
    degree: r.degree as Degree,
    state: r.state as DecisionState,
    count: Number(r.n),
  }));
}

export async function saveIncident(db: Db, i: Incident): Promise<void> {
  const row = { state: i.state, opened_at: i.openedAt, record: JSON.stringify(i) };
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('incidents')
      .values({ id: i.id, ...row })
      .onConflict((oc) => oc.column('id').doUpdateSet(row))
      .execute();
    await relink(trx, INCIDENT_LINK, i.id, i.devices);
  });
}

export async function getIncident(db: Db, id: string): Promise<Incident | undefined> {
  const row = await db.selectFrom('incidents').select('record').where('id', '=', id).executeTakeFirst();
  return row && (JSON.parse(row.record) as Incident);
}

export async function listIncidents(db: Db, q: IncidentQuery): Promise<Incident[]> {
  let query = db.selectFrom('incidents').select('record');
  if (q.device !== undefined) query = query.where(concerns(INCIDENT_LINK, q.device));
  if (q.state !== undefined) query = query.where('state', '=', q.state);
  const rows = await query.orderBy('opened_at', 'desc').orderBy('id', 'desc').limit(q.limit).execute();
  return rows.map((r) => JSON.parse(r.record) as Incident);
}

/** One settings document for the whole hub, under the name `fleet`. */
const AUTONOMY_NAME = 'fleet';

export async function getAutonomy(db: Db): Promise<AutonomySpec | undefined> {
  const row = await db.selectFrom('autonomy').select('spec').where('name', '=', AUTONOMY_NAME).executeTakeFirst();
  return row && (JSON.parse(row.spec) as AutonomySpec);
}

export async function putAutonomy(db: Db, spec: AutonomySpec, now: number): Promise<void> {
  const row = { spec: JSON.stringify(spec), updated_at: now };
  await db
    .insertInto('autonomy')
    .values({ name: AUTONOMY_NAME, ...row })
    .onConflict((oc) => oc.column('name').doUpdateSet(row))
    .execute();
}

export async function saveHandOver(db: Db, h: HandOverRecord): Promise<void> {
  const row = {
    from_device: h.from,
    to_device: h.to,
    state: h.state,
    created_at: h.createdAt,
    record: JSON.stringify(h),
  };
  await db
    .insertInto('hand_overs')
    .values({ id: h.id, ...row })
    .onConflict((oc) => oc.column('id').doUpdateSet(row))
    .execute();
}

export async function listHandOvers(db: Db, q: HandOverQuery): Promise<HandOverRecord[]> {
  let query = db.selectFrom('hand_overs').select('record');
  if (q.state !== undefined) query = query.where('state', '=', q.state);
  const { device } = q;
  if (device !== undefined)
    query = query.where((eb) => eb.or([eb('from_device', '=', device), eb('to_device', '=', device)]));
  const rows = await query.orderBy('created_at').orderBy('id').execute();
  return rows.map((r) => JSON.parse(r.record) as HandOverRecord);
}

export async function savePostMortem(db: Db, p: PostMortem): Promise<void> {
  const row = { written_at: p.writtenAt, record: JSON.stringify(p) };
  await db
    .insertInto('postmortems')
    .values({ incident: p.incident, ...row })
    .onConflict((oc) => oc.column('incident').doUpdateSet(row))
    .execute();
}

export async function getPostMortem(db: Db, incident: string): Promise<PostMortem | undefined> {
  const row = await db.selectFrom('postmortems').select('record').where('incident', '=', incident).executeTakeFirst();
  return row && (JSON.parse(row.record) as PostMortem);
}
