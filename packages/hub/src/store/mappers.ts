// Rows of the devices and enrollment groups tables to the store's records, shared by the
// modules that read them.

import type { Lifecycle } from '@homeostat/protocol';
import type { Selectable } from 'kysely';
import type { DevicesTable, EnrollmentGroupsTable } from './schema.js';
import type { DeviceRecord, EnrollmentGroupRecord, LivenessRecord } from './store.js';

export const num = (v: number | null): number | null => (v === null ? null : Number(v));

export function toDevice(row: Selectable<DevicesTable>): DeviceRecord {
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

export function toGroup(row: Selectable<EnrollmentGroupsTable>): EnrollmentGroupRecord {
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
