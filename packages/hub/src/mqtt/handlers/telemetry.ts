// telemetry: readings stored once per (device, seq). A message is taken or refused whole, so a
// device never has to guess which of its readings were kept. A reading stamped far in the future
// (a device clock that jumped) is kept at the hub's time and flagged: refusing it would lose it,
// since the device deletes what the hub acknowledges.

import { HomeostatError, parser, TelemetryMessage } from '@homeostat/protocol';
import type { Reading } from '../../store/store.js';
import type { Handler } from '../context.js';
import { decode } from './decode.js';

const telemetry = parser(TelemetryMessage);

export const handleTelemetry: Handler = async (deps, m) => {
  const decoded = decode(telemetry, m.payload);
  if (!decoded.ok) return decoded;
  const readings = Array.isArray(decoded.value) ? decoded.value : [decoded.value];
  const latest = m.now + deps.config.maxClockSkewMs;
  const future = readings.filter((r) => r.ts !== undefined && r.ts > latest);
  const rows: Reading[] = readings.map((r) => ({
    device: m.deviceId,
    seq: r.seq,
    ts: r.ts === undefined || r.ts > latest ? m.now : r.ts,
    metrics: r.metrics,
  }));
  // Resolves once the batch holding these readings is committed: only then is the PUBACK written.
  const existing = await deps.ingest.submit(rows);
  for (const e of existing) deps.metrics.readingsDuplicate.inc(Object.keys(e.reading.metrics).length);
  if (future.length === 0) return { ok: true };
  deps.metrics.readingsClockCorrected.inc(future.length);
  return {
    ok: true,
    warning: {
      seq: future[0]?.seq,
      error: new HomeostatError(
        'ERR_TELEMETRY_TIMESTAMP',
        `${future.length} reading(s) were more than ${deps.config.maxClockSkewMs} ms ahead of the hub clock; stored at the hub's time`,
        future.slice(0, 10).map((r) => `seq ${r.seq}: ts ${r.ts}`),
      ),
    },
  };
};
