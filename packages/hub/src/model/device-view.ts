// The Device resource as the API shows it, built from the stored record and live knowledge.

import { API_VERSION, type Device } from '@homeostat/protocol';
import type { DeviceRecord } from '../store/store.js';
import type { LivenessEntry } from './liveness.js';

export function deviceView(record: DeviceRecord, liveness: LivenessEntry, connected: boolean): Device {
  return {
    apiVersion: API_VERSION,
    kind: 'Device',
    metadata: {
      name: record.name,
      uid: record.uid,
      labels: record.labels,
      createdAt: record.createdAt,
      resourceVersion: record.resourceVersion,
    },
    twin: {
      desired: record.desired,
      reported: record.reported,
    },
    status: {
      lifecycle: record.lifecycle,
      liveness: {
        state: liveness.state,
        since: liveness.since,
        lastSeen: liveness.lastSeen,
        heartbeatMs: liveness.heartbeatMs,
        evidence: liveness.evidence,
      },
      connected,
      capabilities: record.capabilities,
      agent: record.agentVersion === null ? null : { version: record.agentVersion },
      enrollmentGroup: record.enrollmentGroup,
      replacedBy: record.replacedBy,
    },
  };
}
