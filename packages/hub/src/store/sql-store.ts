// The Store over Kysely. The SQL is written once for both dialects; `openSqliteStore` builds
// the embedded default (better-sqlite3, WAL).

import {
  type AutonomySpec,
  applyMergePatch,
  type Decision,
  type Incident,
  type Lifecycle,
  type PostMortem,
  type Role,
} from '@homeostat/protocol';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, type Selectable, SqliteDialect, sql } from 'kysely';
import * as autonomic from './autonomic.js';
import * as deployments from './deployments.js';
import { migrations } from './migrations.js';
import * as rollouts from './rollouts.js';
import type { Database, DevicesTable, EnrollmentGroupsTable } from './schema.js';
import { SqliteTelemetryWriter } from './sqlite-writer.js';
import { StatementCache } from './statement-cache.js';
import type {
  Bucket,
  ClaimOutcome,
  DecisionCount,
  DecisionQuery,
  DeploymentFields,
  DeploymentRecord,
  DeploymentUpdate,
  DesiredUpdate,
  DeviceRecord,
  EnrollmentGroupRecord,
  EventQuery,
  EventRow,
  HandOverQuery,
  HandOverRecord,
  IncidentQuery,
  InsertOutcome,
  LivenessRecord,
  NewDevice,
  Point,
  PolicyRecord,
  Reading,
  ReportedUpdate,
  Retention,
  RolloutDeviceRecord,
  RolloutRecord,
  RolloutRevisionFields,
  RolloutRevisionRecord,
  StatusUpdate,
  Store,
  StoredEvent,
} from './store.js';
import * as telemetry from './telemetry.js';

export class SqlStore implements Store {
  readonly #db: Kysely<Database>;
  readonly #writer: SqliteTelemetryWriter | undefined;

  /** `writer`: the embedded store's prepared-statement path for telemetry writes. */
  constructor(db: Kysely<Database>, writer?: SqliteTelemetryWriter) {
    this.#db = db;
    this.#writer = writer;
  }

  async migrate(): Promise<void> {
    const { error, results } = await new Migrator({ db: this.#db, provider: migrations }).migrateToLatest();
    const failed = results?.find((r) => r.status === 'Error');
    if (error || failed) {
      throw new Error(`store migration ${failed?.migrationName ?? ''} failed: ${String(error)}`);
    }
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.#db);
  }

  async close(): Promise<void> {
    await this.#db.destroy();
  }

  async createApiToken(token: { name: string; role: Role; tokenHash: string; createdAt: number }): Promise<boolean> {
    const r = await this.#db
      .insertInto('api_tokens')
      .values({ name: token.name, role: token.role, token_hash: token.tokenHash, created_at: token.createdAt })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  async findApiTokenByHash(hash: string) {
    const row = await this.#db.selectFrom('api_tokens').selectAll().where('token_hash', '=', hash).executeTakeFirst();
    return (
      row && { name: row.name, role: row.role as Role, tokenHash: row.token_hash, createdAt: Number(row.created_at) }
    );
  }

  async listApiTokens() {
    const rows = await this.#db.selectFrom('api_tokens').selectAll().orderBy('name').execute();
    return rows.map((row) => ({
      name: row.name,
      role: row.role as Role,
      tokenHash: row.token_hash,
      createdAt: Number(row.created_at),
    }));
  }

  async deleteApiToken(name: string): Promise<boolean> {
    const r = await this.#db.deleteFrom('api_tokens').where('name', '=', name).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async countApiTokens(): Promise<number> {
    const r = await this.#db
      .selectFrom('api_tokens')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async createDevice(device: NewDevice): Promise<boolean> {
    return insertDevice(this.#db, device);
  }

  async countDevices(): Promise<number> {
    const r = await this.#db
      .selectFrom('devices')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async getDevice(name: string): Promise<DeviceRecord | undefined> {
    const row = await this.#db.selectFrom('devices').selectAll().where('name', '=', name).executeTakeFirst();
    return row && toDevice(row);
  }

  async listDevices(): Promise<DeviceRecord[]> {
    const rows = await this.#db.selectFrom('devices').selectAll().orderBy('name').execute();
    return rows.map(toDevice);
  }

  async updateDeviceLabels(name: string, labels: Record<string, string>): Promise<DeviceRecord | undefined> {
    await this.#db
      .updateTable('devices')
      .set((eb) => ({ labels: JSON.stringify(labels), resource_version: eb('resource_version', '+', 1) }))
      .where('name', '=', name)
      .execute();
    return this.getDevice(name);
  }

  async setDeviceTokenHash(name: string, tokenHash: string): Promise<boolean> {
    const r = await this.#db
      .updateTable('devices')
      .set((eb) => ({ token_hash: tokenHash, resource_version: eb('resource_version', '+', 1) }))
      .where('name', '=', name)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async deleteDevice(name: string): Promise<boolean> {
    return this.#db.transaction().execute(async (trx) => {
      const r = await trx.deleteFrom('devices').where('name', '=', name).executeTakeFirst();
      await trx.deleteFrom('readings').where('device', '=', name).execute();
      // Its events stay, as history; their seqs are released so a new device of the same name,
      // counting from 0 again, is not taken for a redelivery.
      await trx.updateTable('events').set({ seq: null }).where('device', '=', name).execute();
      return Number(r.numDeletedRows) > 0;
    });
  }

  async replaceDesired(
    name: string,
    expectedVersion: number,
    state: Record<string, unknown>,
    now: number,
  ): Promise<DesiredUpdate> {
    const r = await this.#db
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
    const device = await this.getDevice(name);
    if (!device) return { ok: false, reason: 'not-found' };
    if (Number(r.numUpdatedRows) === 0) return { ok: false, reason: 'conflict', current: device.desired.version };
    return { ok: true, device };
  }

  async applyReported(
    name: string,
    version: number,
    patch: Record<string, unknown>,
    desiredVersion: number | null,
    now: number,
    replace = false,
  ): Promise<ReportedUpdate> {
    return this.#db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('devices')
        .select(['reported_version', 'reported_state', 'reported_desired_version'])
        .where('name', '=', name)
        .executeTakeFirst();
      if (!row) return { ok: false, reason: 'not-found' } as const;
      if (version <= row.reported_version)
        return { ok: false, reason: 'stale', current: row.reported_version } as const;
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

  async updateDeviceStatus(name: string, update: StatusUpdate): Promise<void> {
    const set: Partial<DevicesTable> = {};
    if (update.capabilities !== undefined) set.capabilities = JSON.stringify(update.capabilities);
    if (update.agentVersion !== undefined) set.agent_version = update.agentVersion;
    if (update.heartbeatMs !== undefined) set.heartbeat_ms = update.heartbeatMs;
    if (Object.keys(set).length > 0) {
      await this.#db.updateTable('devices').set(set).where('name', '=', name).execute();
    }
    if (update.activate) {
      await this.#db
        .updateTable('devices')
        .set({ lifecycle: 'active' })
        .where('name', '=', name)
        .where('lifecycle', '=', 'provisioned')
        .execute();
    }
  }

  async saveLiveness(entries: { name: string; lastSeen: number | null; liveness: LivenessRecord }[]): Promise<void> {
    if (entries.length === 0) return;
    await this.#db.transaction().execute(async (trx) => {
      for (const e of entries) {
        await trx
          .updateTable('devices')
          .set({ last_seen: e.lastSeen, liveness: JSON.stringify(e.liveness) })
          .where('name', '=', e.name)
          .execute();
      }
    });
  }

  insertReadings(readings: readonly Reading[]): Promise<InsertOutcome> {
    const writer = this.#writer;
    if (writer === undefined || readings.length === 0) return telemetry.insertReadings(this.#db, readings);
    // Through Kysely's connection lock: the write never lands inside another open transaction.
    return this.#db.connection().execute(async () => writer.insertReadings(readings));
  }

  queryReadings(device: string, metric: string, from: number, to: number, limit: number): Promise<Point[]> {
    return telemetry.queryReadings(this.#db, device, metric, from, to, limit);
  }

  queryBuckets(
    devices: readonly string[],
    metric: string,
    from: number,
    to: number,
    stepMs: number,
  ): Promise<Bucket[]> {
    return telemetry.queryBuckets(this.#db, devices, metric, from, to, stepMs);
  }

  async sizeBytes(): Promise<number> {
    // Pages in use: a DELETE frees pages for reuse without shrinking the file, and what retention
    // frees is what the budget must see.
    const { rows } = await sql<{
      bytes: number;
    }>`select ((select page_count from pragma_page_count()) - (select freelist_count from pragma_freelist_count())) * (select page_size from pragma_page_size()) as bytes`.execute(
      this.#db,
    );
    return Number(rows[0]?.bytes ?? 0);
  }

  pruneTelemetry(now: number, retention: Retention, limit: number): Promise<number> {
    return telemetry.pruneTelemetry(this.#db, now, retention, limit);
  }

  async insertEvents(rows: readonly EventRow[]): Promise<number[]> {
    if (rows.length === 0) return [];
    const values = rows.map((e) => ({
      ts: e.ts,
      device: e.device,
      seq: e.seq,
      source: e.source,
      type: e.type,
      code: e.code,
      severity: e.severity,
      message: e.message,
      data: JSON.stringify(e.data),
    }));
    const ids: number[] = [];
    await this.#db.transaction().execute(async (trx) => {
      for (const v of values) {
        const r = await trx
          .insertInto('events')
          .values(v)
          .onConflict((oc) => oc.doNothing())
          .returning('id')
          .executeTakeFirst();
        if (r) ids.push(Number(r.id));
      }
    });
    return ids;
  }

  async listEvents(query: EventQuery): Promise<StoredEvent[]> {
    let q = this.#db.selectFrom('events').selectAll();
    if (query.device !== undefined) q = q.where('device', '=', query.device);
    if (query.type !== undefined) q = q.where('type', '=', query.type);
    // With `after`, page forward from it (the oldest first); without, the newest `limit`.
    const rows =
      query.after !== undefined
        ? await q.where('id', '>', query.after).orderBy('id', 'asc').limit(query.limit).execute()
        : (await q.orderBy('id', 'desc').limit(query.limit).execute()).reverse();
    return rows.map((r) => ({
      id: Number(r.id),
      ts: Number(r.ts),
      device: r.device,
      seq: r.seq === null ? null : Number(r.seq),
      source: r.source as 'hub' | 'device',
      type: r.type,
      code: r.code,
      severity: r.severity as 'info' | 'warning' | 'critical',
      message: r.message,
      data: JSON.parse(r.data) as Record<string, unknown>,
    }));
  }

  async createEnrollmentGroup(group: EnrollmentGroupRecord): Promise<boolean> {
    const r = await this.#db
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

  async getEnrollmentGroup(name: string): Promise<EnrollmentGroupRecord | undefined> {
    const row = await this.#db.selectFrom('enrollment_groups').selectAll().where('name', '=', name).executeTakeFirst();
    return row && toGroup(row);
  }

  async findEnrollmentGroupByClaimHash(hash: string): Promise<EnrollmentGroupRecord | undefined> {
    const row = await this.#db
      .selectFrom('enrollment_groups')
      .selectAll()
      .where('claim_hash', '=', hash)
      .executeTakeFirst();
    return row && toGroup(row);
  }

  async listEnrollmentGroups(): Promise<EnrollmentGroupRecord[]> {
    const rows = await this.#db.selectFrom('enrollment_groups').selectAll().orderBy('name').execute();
    return rows.map(toGroup);
  }

  async updateEnrollmentGroup(
    name: string,
    update: Pick<EnrollmentGroupRecord, 'template' | 'namePrefix' | 'maxDevices' | 'expiresAt'>,
  ): Promise<EnrollmentGroupRecord | undefined> {
    await this.#db
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
    return this.getEnrollmentGroup(name);
  }

  async deleteEnrollmentGroup(name: string): Promise<boolean> {
    const r = await this.#db.deleteFrom('enrollment_groups').where('name', '=', name).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async claimDevice(groupName: string, device: NewDevice): Promise<ClaimOutcome> {
    return this.#db.transaction().execute(async (trx) => {
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

  createDeployment(deployment: DeploymentRecord): Promise<boolean> {
    return deployments.createDeployment(this.#db, deployment);
  }

  getDeployment(name: string): Promise<DeploymentRecord | undefined> {
    return deployments.getDeployment(this.#db, name);
  }

  listDeployments(): Promise<DeploymentRecord[]> {
    return deployments.listDeployments(this.#db);
  }

  updateDeployment(name: string, expectedResourceVersion: number, fields: DeploymentFields): Promise<DeploymentUpdate> {
    return deployments.updateDeployment(this.#db, name, expectedResourceVersion, fields);
  }

  observeDeployment(name: string, generation: number): Promise<void> {
    return deployments.observeDeployment(this.#db, name, generation);
  }

  deleteDeployment(name: string): Promise<boolean> {
    return deployments.deleteDeployment(this.#db, name);
  }

  async setDeviceLifecycle(name: string, lifecycle: Lifecycle): Promise<boolean> {
    const r = await this.#db
      .updateTable('devices')
      .set((eb) => ({ lifecycle, resource_version: eb('resource_version', '+', 1) }))
      .where('name', '=', name)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async retireDevice(name: string, tokenHash: string, replacedBy: string | null): Promise<boolean> {
    const r = await this.#db
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

  saveHandOver(handOver: HandOverRecord): Promise<void> {
    return autonomic.saveHandOver(this.#db, handOver);
  }

  listHandOvers(query: HandOverQuery): Promise<HandOverRecord[]> {
    return autonomic.listHandOvers(this.#db, query);
  }

  savePostMortem(postMortem: PostMortem): Promise<void> {
    return autonomic.savePostMortem(this.#db, postMortem);
  }

  getPostMortem(incident: string): Promise<PostMortem | undefined> {
    return autonomic.getPostMortem(this.#db, incident);
  }

  putPolicy(policy: PolicyRecord): Promise<boolean> {
    return autonomic.putPolicy(this.#db, policy);
  }

  getPolicy(name: string): Promise<PolicyRecord | undefined> {
    return autonomic.getPolicy(this.#db, name);
  }

  listPolicies(): Promise<PolicyRecord[]> {
    return autonomic.listPolicies(this.#db);
  }

  deletePolicy(name: string): Promise<boolean> {
    return autonomic.deletePolicy(this.#db, name);
  }

  saveDecision(decision: Decision): Promise<void> {
    return autonomic.saveDecision(this.#db, decision);
  }

  getDecision(id: string): Promise<Decision | undefined> {
    return autonomic.getDecision(this.#db, id);
  }

  listDecisions(query: DecisionQuery): Promise<Decision[]> {
    return autonomic.listDecisions(this.#db, query);
  }

  countDecisions(): Promise<DecisionCount[]> {
    return autonomic.countDecisions(this.#db);
  }

  saveIncident(incident: Incident): Promise<void> {
    return autonomic.saveIncident(this.#db, incident);
  }

  getIncident(id: string): Promise<Incident | undefined> {
    return autonomic.getIncident(this.#db, id);
  }

  listIncidents(query: IncidentQuery): Promise<Incident[]> {
    return autonomic.listIncidents(this.#db, query);
  }

  getAutonomy(): Promise<AutonomySpec | undefined> {
    return autonomic.getAutonomy(this.#db);
  }

  putAutonomy(spec: AutonomySpec, now: number): Promise<void> {
    return autonomic.putAutonomy(this.#db, spec, now);
  }

  createRollout(rollout: RolloutRecord, first: RolloutRevisionRecord): Promise<boolean> {
    return rollouts.createRollout(this.#db, rollout, first);
  }

  getRollout(name: string): Promise<RolloutRecord | undefined> {
    return rollouts.getRollout(this.#db, name);
  }

  deleteRollout(name: string): Promise<boolean> {
    return rollouts.deleteRollout(this.#db, name);
  }

  listRollouts(): Promise<RolloutRecord[]> {
    return rollouts.listRollouts(this.#db);
  }

  updateRolloutLabels(name: string, labels: Record<string, string>): Promise<void> {
    return rollouts.updateRolloutLabels(this.#db, name, labels);
  }

  addRolloutRevision(
    name: string,
    expectedRevision: number,
    next: RolloutRevisionRecord,
    replacedPhase: RolloutRevisionRecord['phase'] | null,
  ): Promise<boolean> {
    return rollouts.addRolloutRevision(this.#db, name, expectedRevision, next, replacedPhase);
  }

  getRolloutRevision(name: string, revision: number): Promise<RolloutRevisionRecord | undefined> {
    return rollouts.getRolloutRevision(this.#db, name, revision);
  }

  listRolloutRevisions(name: string): Promise<RolloutRevisionRecord[]> {
    return rollouts.listRolloutRevisions(this.#db, name);
  }

  updateRolloutRevision(name: string, revision: number, fields: RolloutRevisionFields): Promise<void> {
    return rollouts.updateRolloutRevision(this.#db, name, revision, fields);
  }

  listRolloutDevices(name: string, revision: number): Promise<RolloutDeviceRecord[]> {
    return rollouts.listRolloutDevices(this.#db, name, revision);
  }

  saveRolloutDevices(name: string, revision: number, rows: readonly RolloutDeviceRecord[]): Promise<void> {
    return rollouts.saveRolloutDevices(this.#db, name, revision, rows);
  }

  deviceEventTimes(type: string, since: number, limit: number): Promise<{ device: string; ts: number }[]> {
    return rollouts.deviceEventTimes(this.#db, type, since, limit);
  }
}

async function insertDevice(db: Kysely<Database>, device: NewDevice): Promise<boolean> {
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

const num = (v: number | null): number | null => (v === null ? null : Number(v));

function toDevice(row: Selectable<DevicesTable>): DeviceRecord {
  return {
    name: row.name,
    uid: row.uid,
    labels: JSON.parse(row.labels),
    tokenHash: row.token_hash,
    lifecycle: row.lifecycle as Lifecycle,
    enrollmentGroup: row.enrollment_group,
    createdAt: Number(row.created_at),
    resourceVersion: Number(row.resource_version),
    desired: {
      version: Number(row.desired_version),
      state: JSON.parse(row.desired_state),
      updatedAt: num(row.desired_updated_at),
    },
    reported: {
      version: Number(row.reported_version),
      state: JSON.parse(row.reported_state),
      desiredVersion: num(row.reported_desired_version),
      updatedAt: num(row.reported_updated_at),
    },
    capabilities: JSON.parse(row.capabilities),
    agentVersion: row.agent_version,
    heartbeatMs: num(row.heartbeat_ms),
    lastSeen: num(row.last_seen),
    liveness: row.liveness === null ? null : (JSON.parse(row.liveness) as LivenessRecord),
    replacedBy: row.replaced_by ?? null,
  };
}

function toGroup(row: Selectable<EnrollmentGroupsTable>): EnrollmentGroupRecord {
  return {
    name: row.name,
    uid: row.uid,
    claimHash: row.claim_hash,
    template: JSON.parse(row.template),
    namePrefix: row.name_prefix,
    maxDevices: num(row.max_devices),
    expiresAt: num(row.expires_at),
    enrolled: Number(row.enrolled),
    createdAt: Number(row.created_at),
    resourceVersion: Number(row.resource_version),
  };
}

/**
 * Opens (creating if needed) the embedded SQLite store; `:memory:` for a throwaway one.
 * `portableWrites` keeps telemetry writes on the Kysely path (the one PostgreSQL takes), so the
 * contract suite proves both.
 */
export async function openSqliteStore(path: string, options: { portableWrites?: boolean } = {}): Promise<SqlStore> {
  const database = new BetterSqlite3(path);
  database.pragma('journal_mode = WAL');
  // NORMAL in WAL mode survives a process crash (the case that matters for acknowledged
  // readings); only an OS crash or power loss may drop the last transactions.
  database.pragma('synchronous = NORMAL');
  database.pragma('busy_timeout = 5000');
  // Checkpoint the WAL every ~40 MiB instead of every 4 MiB: index pages rewritten by many
  // ingest batches are copied back once, not once per checkpoint (fewer stalls of the loop).
  database.pragma('wal_autocheckpoint = 10000');
  database.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: new StatementCache(database) }) });
  // Migrate first: the writer prepares statements on the tables.
  await new SqlStore(db).migrate();
  return options.portableWrites ? new SqlStore(db) : new SqlStore(db, new SqliteTelemetryWriter(database));
}
