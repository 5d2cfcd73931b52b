// The Store over Kysely. The SQL is written once for both dialects; `openSqliteStore` builds
// the embedded default (better-sqlite3, WAL).

import type { AutonomySpec, Decision, Incident, Lifecycle, PostMortem, Role } from '@homeostat/protocol';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql } from 'kysely';
import * as autonomic from './autonomic.js';
import * as deployments from './deployments.js';
import * as devices from './devices.js';
import * as enrollment from './enrollment.js';
import { migrations } from './migrations.js';
import * as rollouts from './rollouts.js';
import type { Database } from './schema.js';
import { SqliteTelemetryWriter, type TelemetryWriterOptions } from './sqlite-writer.js';
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
    try {
      // Staged readings are safe in the log either way; moved now, the next start has none to move.
      await this.#moveStaged();
    } finally {
      await this.#db.destroy();
    }
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

  createDevice(device: NewDevice): Promise<boolean> {
    return devices.insertDevice(this.#db, device);
  }

  countDevices(): Promise<number> {
    return devices.countDevices(this.#db);
  }

  getDevice(name: string): Promise<DeviceRecord | undefined> {
    return devices.getDevice(this.#db, name);
  }

  listDevices(): Promise<DeviceRecord[]> {
    return devices.listDevices(this.#db);
  }

  updateDeviceLabels(name: string, labels: Record<string, string>): Promise<DeviceRecord | undefined> {
    return devices.updateDeviceLabels(this.#db, name, labels);
  }

  setDeviceTokenHash(name: string, tokenHash: string): Promise<boolean> {
    return devices.setDeviceTokenHash(this.#db, name, tokenHash);
  }

  deleteDevice(name: string): Promise<boolean> {
    const writer = this.#writer;
    if (writer === undefined) return devices.deleteDevice(this.#db, name);
    // Its staged readings go to blocks first, and with them: none is left to be moved later.
    return this.#db.connection().execute(async (db) => {
      writer.move();
      return devices.deleteDevice(db, name);
    });
  }

  replaceDesired(
    name: string,
    expectedVersion: number,
    state: Record<string, unknown>,
    now: number,
  ): Promise<DesiredUpdate> {
    return devices.replaceDesired(this.#db, name, expectedVersion, state, now);
  }

  applyReported(
    name: string,
    version: number,
    patch: Record<string, unknown>,
    desiredVersion: number | null,
    now: number,
    replace = false,
  ): Promise<ReportedUpdate> {
    return devices.applyReported(this.#db, name, version, patch, desiredVersion, now, replace);
  }

  updateDeviceStatus(name: string, update: StatusUpdate): Promise<void> {
    return devices.updateDeviceStatus(this.#db, name, update);
  }

  saveLiveness(entries: { name: string; lastSeen: number | null; liveness: LivenessRecord }[]): Promise<void> {
    return devices.saveLiveness(this.#db, entries);
  }

  insertReadings(readings: readonly Reading[]): Promise<InsertOutcome> {
    const writer = this.#writer;
    if (writer === undefined || readings.length === 0) return telemetry.insertReadings(this.#db, readings);
    // Through Kysely's connection lock: the write never lands inside another open transaction.
    return this.#db.connection().execute(async () => writer.insertReadings(readings));
  }

  async queryReadings(device: string, metric: string, from: number, to: number, limit: number): Promise<Point[]> {
    // Staged readings taken first: one moved to blocks while the query reads its pages (writes go
    // on between them) is then in both, and counted once; none is missed.
    const staged = this.#writer?.staged(device) ?? [];
    const stored = await telemetry.queryReadings(this.#db, device, metric, from, to, limit);
    return staged.length === 0 ? stored : telemetry.newestPoints(stored, staged, metric, from, to, limit);
  }

  queryBuckets(
    devices: readonly string[],
    metric: string,
    from: number,
    to: number,
    stepMs: number,
  ): Promise<Bucket[]> {
    const writer = this.#writer;
    if (writer === undefined) return telemetry.queryBuckets(this.#db, devices, metric, from, to, stepMs);
    // With the staged readings, on the store's one connection held throughout: the writer moves
    // staged readings only while it holds it, so each reading is counted once, staged or in blocks
    // (an aggregate cannot tell them apart afterwards).
    return this.#db.connection().execute((db) =>
      telemetry.queryBuckets(
        db,
        devices,
        metric,
        from,
        to,
        stepMs,
        devices.flatMap((d) => writer.staged(d)),
      ),
    );
  }

  /** Moves the writer's staged readings to blocks, on the store's connection as every move is. */
  async #moveStaged(): Promise<void> {
    const writer = this.#writer;
    if (writer) await this.#db.connection().execute(async () => writer.move());
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

  async pruneTelemetry(now: number, retention: Retention, limit: number): Promise<number> {
    // Retention judges what is in blocks: staged readings go there first.
    await this.#moveStaged();
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

  createEnrollmentGroup(group: EnrollmentGroupRecord): Promise<boolean> {
    return enrollment.createEnrollmentGroup(this.#db, group);
  }

  getEnrollmentGroup(name: string): Promise<EnrollmentGroupRecord | undefined> {
    return enrollment.getEnrollmentGroup(this.#db, name);
  }

  findEnrollmentGroupByClaimHash(hash: string): Promise<EnrollmentGroupRecord | undefined> {
    return enrollment.findEnrollmentGroupByClaimHash(this.#db, hash);
  }

  listEnrollmentGroups(): Promise<EnrollmentGroupRecord[]> {
    return enrollment.listEnrollmentGroups(this.#db);
  }

  updateEnrollmentGroup(
    name: string,
    update: Pick<EnrollmentGroupRecord, 'template' | 'namePrefix' | 'maxDevices' | 'expiresAt'>,
  ): Promise<EnrollmentGroupRecord | undefined> {
    return enrollment.updateEnrollmentGroup(this.#db, name, update);
  }

  deleteEnrollmentGroup(name: string): Promise<boolean> {
    return enrollment.deleteEnrollmentGroup(this.#db, name);
  }

  claimDevice(groupName: string, device: NewDevice): Promise<ClaimOutcome> {
    return enrollment.claimDevice(this.#db, groupName, device);
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

  setDeviceLifecycle(name: string, lifecycle: Lifecycle): Promise<boolean> {
    return devices.setDeviceLifecycle(this.#db, name, lifecycle);
  }

  retireDevice(name: string, tokenHash: string, replacedBy: string | null): Promise<boolean> {
    return devices.retireDevice(this.#db, name, tokenHash, replacedBy);
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

/**
 * Opens (creating if needed) the embedded SQLite store; `:memory:` for a throwaway one.
 * `portableWrites` keeps telemetry writes on the Kysely path (the one PostgreSQL takes), so the
 * contract suite proves both.
 */
export async function openSqliteStore(
  path: string,
  options: { portableWrites?: boolean } & TelemetryWriterOptions = {},
): Promise<SqlStore> {
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
  if (options.portableWrites) return new SqlStore(db);
  const writer = new SqliteTelemetryWriter(database, options);
  writer.recover();
  return new SqlStore(db, writer);
}
