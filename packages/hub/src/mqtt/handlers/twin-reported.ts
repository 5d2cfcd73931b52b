// twin/reported: merge patches of the reported state, applied in version order.

import { HomeostatError, parser, TwinReportedMessage } from '@homeostat/protocol';
import type { Handler } from '../context.js';
import { decode } from './decode.js';

const reported = parser(TwinReportedMessage);

export const handleTwinReported: Handler = async (deps, m) => {
  const decoded = decode(reported, m.payload);
  if (!decoded.ok) return decoded;
  const { version, state, desiredVersion, full } = decoded.value;
  const r = await deps.store.applyReported(m.deviceId, version, state, desiredVersion ?? null, m.now, full === true);
  if (r.ok) deps.events.signals.emit('reported', { device: m.deviceId, state, at: m.now });
  if (r.ok || r.reason === 'not-found') return { ok: true };
  return {
    ok: false,
    // The device adopts this version and reports its whole state above it (it lost its own count).
    data: { currentVersion: r.current ?? 0 },
    error: new HomeostatError(
      'ERR_TWIN_STALE_REPORTED',
      `reported version ${version} is not above the stored version ${r.current ?? 0}; ignored`,
    ),
  };
};
