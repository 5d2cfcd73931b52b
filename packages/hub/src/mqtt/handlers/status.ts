// status: the device says it is online (with its heartbeat interval and capabilities), or
// offline; the broker publishes the last will here when a connection is lost.

import { parser, StatusMessage } from '@homeostat/protocol';
import type { Handler } from '../context.js';
import { decode } from './decode.js';

const status = parser(StatusMessage);

export const handleStatus: Handler = async (deps, m) => {
  const decoded = decode(status, m.payload);
  if (!decoded.ok) return decoded;
  const s = decoded.value;
  if (s.online) {
    deps.liveness.observe(m.deviceId, { kind: 'status-online', at: m.now, heartbeatMs: s.heartbeatMs ?? null });
    await deps.store.updateDeviceStatus(m.deviceId, {
      ...(s.capabilities ? { capabilities: s.capabilities } : {}),
      ...(s.agent ? { agentVersion: s.agent.version } : {}),
      ...(s.heartbeatMs ? { heartbeatMs: s.heartbeatMs } : {}),
      activate: true,
    });
  } else {
    const reason = s.reason ?? (m.isWill ? 'connection lost' : 'device went offline');
    deps.liveness.observe(m.deviceId, {
      kind: m.isWill ? 'last-will' : 'status-offline',
      at: m.now,
      detail: m.isWill ? `last will published by the broker: ${reason}` : `device said: ${reason}`,
    });
  }
  return { ok: true };
};
