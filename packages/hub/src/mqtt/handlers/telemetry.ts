// telemetry: readings stored once per (device, seq). A message is taken or refused whole, so a
// device never has to guess which of its readings were kept. A reading stamped far in the future
// (a device clock that jumped) is kept at the hub's time and flagged: refusing it would lose it,
// since the device deletes what the hub acknowledges. A reading whose (device, seq) is stored
// already is a redelivery when its content is the same, and a conflict (a reused seq: the first
// reading is kept, the device told) when it is not; either way it is acknowledged, since sending
// it again could never change the answer.

import { HomeostatError, jsonEqual, parser, TelemetryMessage } from '@homeostat/protocol';
import type { AlreadyStored } from '../../ingest/batcher.js';
import type { Reading } from '../../store/store.js';
import type { Handler, HandlerDeps, HandlerResult } from '../context.js';
import { decode } from './decode.js';

const telemetry = parser(TelemetryMessage);
type Warning = NonNullable<Extract<HandlerResult, { ok: true }>['warnings']>[number];
/** Readings listed in one notice's details at most. */
const MAX_DETAILS = 10;

export const handleTelemetry: Handler = (deps, m) => {
  const decoded = decode(telemetry, m.payload);
  if (!decoded.ok) return decoded;
  const sent = Array.isArray(decoded.value) ? decoded.value : [decoded.value];
  const latest = m.now + deps.config.maxClockSkewMs;
  const readings: Reading[] = [];
  // Readings stamped by the hub (no ts, or one too far ahead): their stored ts is not the device's.
  let stamped: Set<Reading> | undefined;
  let future: { seq: number; ts: number }[] | undefined;
  for (const r of sent) {
    const ts = r.ts === undefined || r.ts > latest ? m.now : r.ts;
    const reading = { device: m.deviceId, seq: r.seq, ts, metrics: r.metrics };
    readings.push(reading);
    if (ts === r.ts) continue;
    stamped ??= new Set();
    stamped.add(reading);
    if (r.ts !== undefined) {
      future ??= [];
      future.push({ seq: r.seq, ts: r.ts });
    }
  }
  // Under backpressure the message waits here, before it is queued and unacknowledged (the device
  // keeps its readings), and so does the broker before it reads this connection's next packets.
  // Otherwise the handler answers at once: no promise of its own on the hub's busiest path.
  const held = deps.backpressure?.admit();
  if (held === undefined) return queue(deps, readings, future, stamped);
  return held.then(() => queue(deps, readings, future, stamped));
};

/** Queues the readings; the PUBACK waits for `committed`, which resolves once their batch is. */
function queue(
  deps: HandlerDeps,
  readings: Reading[],
  future: { seq: number; ts: number }[] | undefined,
  stamped: Set<Reading> | undefined,
): HandlerResult {
  return {
    ok: true,
    committed: deps.ingest.submit(readings, (existing) => settle(deps, existing, future, stamped)),
  };
}

/** What the commit found: readings stamped by the hub, redeliveries and seq conflicts, as warnings. */
function settle(
  deps: HandlerDeps,
  existing: AlreadyStored[],
  future: { seq: number; ts: number }[] | undefined,
  stamped: Set<Reading> | undefined,
): HandlerResult {
  if (future === undefined && existing.length === 0) return { ok: true };
  const warnings: Warning[] = [];
  if (future !== undefined) {
    deps.metrics.readingsClockCorrected.inc(future.length);
    warnings.push({
      seq: future[0]?.seq,
      error: new HomeostatError(
        'ERR_TELEMETRY_TIMESTAMP',
        `${future.length} reading(s) were more than ${deps.config.maxClockSkewMs} ms ahead of the hub clock; stored at the hub's time`,
        future.slice(0, MAX_DETAILS).map((r) => `seq ${r.seq}: ts ${r.ts}`),
      ),
    });
  }
  if (existing.length > 0) {
    const conflicts: AlreadyStored[] = [];
    let duplicateValues = 0;
    for (const e of existing) {
      if (sameReading(e, stamped?.has(e.reading) === true)) duplicateValues += Object.keys(e.reading.metrics).length;
      else conflicts.push(e);
    }
    deps.metrics.readingsDuplicate.inc(duplicateValues);
    if (conflicts.length > 0) {
      deps.metrics.readingsConflict.inc(conflicts.length);
      warnings.push({
        seq: conflicts[0]?.reading.seq,
        error: new HomeostatError(
          'ERR_TELEMETRY_SEQ_CONFLICT',
          `${conflicts.length} reading(s) reused a seq stored already with another timestamp or other values; the first reading is kept`,
          conflicts
            .slice(0, MAX_DETAILS)
            .map((c) => `seq ${c.reading.seq}: ${describe(c.stored)} stored, ${describe(c.reading)} received`),
        ),
      });
    }
  }
  return warnings.length > 0 ? { ok: true, warnings } : { ok: true };
}

/** A redelivery: the same values, and the same ts unless the hub stamped it (it differs each time). */
function sameReading({ reading, stored }: AlreadyStored, stampedByHub: boolean): boolean {
  return (stampedByHub || reading.ts === stored.ts) && jsonEqual(reading.metrics, stored.metrics);
}

function describe(r: Reading): string {
  return `ts ${r.ts} ${JSON.stringify(r.metrics)}`;
}
