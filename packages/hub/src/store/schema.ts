// Table shapes as Kysely sees them. JSON documents are stored as text so one schema serves
// SQLite and PostgreSQL; timestamps are integers in milliseconds since the epoch.

import type { Generated } from 'kysely';

export interface ApiTokensTable {
  name: string;
  role: string;
  token_hash: string;
  created_at: number;
}

export interface DevicesTable {
  name: string;
  uid: string;
  labels: string;
  token_hash: string;
  lifecycle: string;
  enrollment_group: string | null;
  created_at: number;
  resource_version: number;
  desired_version: number;
  desired_state: string;
  desired_updated_at: number | null;
  reported_version: number;
  reported_state: string;
  reported_desired_version: number | null;
  reported_updated_at: number | null;
  capabilities: string;
  agent_version: string | null;
  heartbeat_ms: number | null;
  last_seen: number | null;
  liveness: string | null;
  replaced_by: string | null;
}

/**
 * Raw readings, one row per device per telemetry write (`blocks.ts`): `readings` is the JSON array
 * of its readings, each `[seq, ts, {metric: value, …}]`.
 */
export interface ReadingBlocksTable {
  device: string;
  seq_last: number;
  seq_first: number;
  ts_first: number;
  ts_last: number;
  count: number;
  readings: string;
}

/**
 * Readings acknowledged and not yet in blocks (the embedded store's staging, `sqlite-writer.ts`):
 * one row per telemetry write, `readings` a JSON object of device: [[seq, ts, {values}], …].
 */
export interface ReadingLogTable {
  id: Generated<number>;
  readings: string;
}

export interface EventsTable {
  id: Generated<number>;
  ts: number;
  device: string | null;
  seq: number | null;
  source: string;
  type: string;
  code: string | null;
  severity: string;
  message: string;
  data: string;
}

export interface EnrollmentGroupsTable {
  name: string;
  uid: string;
  claim_hash: string;
  template: string;
  name_prefix: string;
  max_devices: number | null;
  expires_at: number | null;
  enrolled: number;
  created_at: number;
  resource_version: number;
}

export interface RollupsTable {
  device: string;
  metric: string;
  resolution_ms: number;
  bucket: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  last: number;
  last_ts: number;
}

export interface DeploymentsTable {
  name: string;
  uid: string;
  labels: string;
  selector: string;
  priority: number;
  /** The module specs, a JSON array. */
  modules: string;
  created_at: number;
  resource_version: number;
  generation: number;
  observed_generation: number;
}

export interface PoliciesTable {
  name: string;
  uid: string;
  labels: string;
  spec: string;
  created_at: number;
  resource_version: number;
}

/** A decision, kept whole in `record` (JSON); the other columns are for lists and counts. */
export interface DecisionsTable {
  id: string;
  policy: string;
  property: string;
  degree: string;
  state: string;
  created_at: number;
  updated_at: number;
  record: string;
}

export interface IncidentsTable {
  id: string;
  state: string;
  opened_at: number;
  record: string;
}

export interface AutonomyTable {
  name: string;
  spec: string;
  updated_at: number;
}

export interface RolloutsTable {
  name: string;
  uid: string;
  labels: string;
  created_at: number;
  resource_version: number;
  /** The current revision. */
  revision: number;
}

export interface RolloutRevisionsTable {
  rollout: string;
  revision: number;
  /** The spec with its defaults, JSON. */
  spec: string;
  /** The artifact's signed manifest as it was when the revision was applied, JSON. */
  manifest: string;
  created_at: number;
  phase: string;
  wave_finished_at: number | null;
  /** The halt decision and its evidence, JSON. */
  halt: string | null;
  finished_at: number | null;
  undo_of: number | null;
  /** The counts when the revision finished, JSON, for the history. */
  counts: string | null;
}

export interface RolloutDevicesTable {
  rollout: string;
  revision: number;
  device: string;
  wave: number;
  started_at: number;
  outcome: string | null;
  outcome_at: number | null;
  code: string | null;
  rolled_back: number;
  rollback_requested_at: number | null;
}

export interface HandOversTable {
  id: string;
  from_device: string;
  to_device: string;
  state: string;
  created_at: number;
  record: string;
}

export interface PostMortemsTable {
  incident: string;
  written_at: number;
  record: string;
}

export interface Database {
  hand_overs: HandOversTable;
  postmortems: PostMortemsTable;
  rollouts: RolloutsTable;
  rollout_revisions: RolloutRevisionsTable;
  rollout_devices: RolloutDevicesTable;
  deployments: DeploymentsTable;
  rollups: RollupsTable;
  api_tokens: ApiTokensTable;
  devices: DevicesTable;
  reading_blocks: ReadingBlocksTable;
  reading_log: ReadingLogTable;
  events: EventsTable;
  enrollment_groups: EnrollmentGroupsTable;
  policies: PoliciesTable;
  decisions: DecisionsTable;
  decision_devices: { decision: string; device: string };
  incidents: IncidentsTable;
  incident_devices: { incident: string; device: string };
  autonomy: AutonomyTable;
}
