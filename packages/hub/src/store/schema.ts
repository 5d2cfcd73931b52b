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
}

/** One row per reading; `metrics` is the JSON object of its values. */
export interface ReadingsTable {
  device: string;
  seq: number;
  ts: number;
  metrics: string;
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

export interface Database {
  rollups: RollupsTable;
  api_tokens: ApiTokensTable;
  devices: DevicesTable;
  readings: ReadingsTable;
  events: EventsTable;
  enrollment_groups: EnrollmentGroupsTable;
}
