// events: a device's local decisions and alarms, stored once per (device, seq).

import { DeviceEventMessage, parser } from '@homeostat/protocol';
import type { Handler } from '../context.js';
import { decode } from './decode.js';

const deviceEvent = parser(DeviceEventMessage);

export const handleEvents: Handler = async (deps, m) => {
  const decoded = decode(deviceEvent, m.payload);
  if (!decoded.ok) return decoded;
  const e = decoded.value;
  const row = {
    ts: e.ts ?? m.now,
    device: m.deviceId,
    seq: e.seq,
    source: 'device' as const,
    type: e.type,
    code: e.code ?? null,
    severity: e.severity ?? (e.type === 'alarm' ? 'warning' : 'info'),
    message: e.message ?? '',
    data: e.data ?? {},
  };
  // A redelivery (stored already) is not news.
  if ((await deps.store.insertEvents([row])).length > 0) deps.events.signals.emit('event', row);
  return { ok: true };
};
