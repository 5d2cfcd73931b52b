// Behaviour of the updated devices against those not yet updated, for the gates between waves.
// The updated cohort is the devices that committed the version, each watched since it did; the
// other is the eligible devices still pending, watched since the revision started. A signal is
// left out when a cohort is empty (nothing to compare with: the gate does not judge).
//
// - `alarms`: alarm events per device-hour, from the event log;
// - `module-crashes`: module restarts the device reports (reported `modules.*.restarts`), per
//   device (the agent's counters start with the agent, which restarts with an update);
// - `metric:NAME`: the mean of a telemetry metric over the cohort (a sample of it on a big fleet),
//   from the readings since the last device of the cohort joined it (raw readings, or the rollups
//   once that window is a minute or longer).

import { type BehaviourComparison, behaviourKey, reportedModules } from '@homeostat/protocol';
import type { DeviceRecord, Store } from '../store/store.js';
import type { CohortRates } from './plan.js';

/** A device of a cohort and when it started being watched, ms. */
export interface Member {
  device: DeviceRecord;
  since: number;
}

/** Alarm events read at most, newest first. */
const MAX_ALARMS = 100_000;
/** Devices per cohort whose telemetry is read: a sample keeps the query bounded on a big fleet. */
const METRIC_SAMPLE = 500;
/** A device watched for less than this counts as watched this long, so one early alarm is not a huge rate. */
const MIN_WATCH_MS = 60_000;

export async function cohortRates(
  store: Store,
  gates: readonly BehaviourComparison[],
  updated: readonly Member[],
  notUpdated: readonly Member[],
  now: number,
): Promise<CohortRates> {
  const rates: CohortRates = {};
  if (gates.length === 0 || updated.length === 0 || notUpdated.length === 0) return rates;
  const sizes = { updatedDevices: updated.length, notUpdatedDevices: notUpdated.length };
  let alarms: { device: string; ts: number }[] | undefined;
  for (const gate of gates) {
    const key = behaviourKey(gate);
    if (gate.signal === 'alarms') {
      const from = Math.min(...[...updated, ...notUpdated].map((m) => m.since));
      alarms ??= await store.deviceEventTimes('alarm', from, MAX_ALARMS);
      rates[key] = {
        updated: alarmRate(alarms, updated, now),
        notUpdated: alarmRate(alarms, notUpdated, now),
        ...sizes,
      };
    } else if (gate.signal === 'module-crashes') {
      rates[key] = { updated: meanRestarts(updated), notUpdated: meanRestarts(notUpdated), ...sizes };
    } else if (gate.metric !== undefined) {
      const a = await metricMean(store, gate.metric, updated, now);
      const b = await metricMean(store, gate.metric, notUpdated, now);
      if (a !== undefined && b !== undefined) rates[key] = { updated: a, notUpdated: b, ...sizes };
    }
  }
  return rates;
}

function alarmRate(alarms: readonly { device: string; ts: number }[], cohort: readonly Member[], now: number): number {
  const since = new Map(cohort.map((m) => [m.device.name, m.since]));
  const count = alarms.filter((a) => {
    const s = since.get(a.device);
    return s !== undefined && a.ts >= s;
  }).length;
  const hours = cohort.reduce((sum, m) => sum + Math.max(MIN_WATCH_MS, now - m.since), 0) / 3_600_000;
  return count / hours;
}

function meanRestarts(cohort: readonly Member[]): number {
  let total = 0;
  for (const m of cohort) {
    for (const module of reportedModules(m.device.reported.state).values()) total += module.restarts;
  }
  return total / cohort.length;
}

async function metricMean(
  store: Store,
  metric: string,
  cohort: readonly Member[],
  now: number,
): Promise<number | undefined> {
  const step = Math.ceil(cohort.length / METRIC_SAMPLE);
  const sample = cohort.filter((_, i) => i % step === 0);
  // From when the last of them joined the cohort: no device's readings from before its update
  // count for the updated cohort (one query for the sample; the window is the soak at least).
  const from = Math.max(...sample.map((m) => m.since));
  const buckets = await store.queryBuckets(
    sample.map((m) => m.device.name),
    metric,
    from,
    now,
    Math.max(1000, now - from + 1),
  );
  const count = buckets.reduce((n, b) => n + b.count, 0);
  return count === 0 ? undefined : buckets.reduce((sum, b) => sum + b.avg * b.count, 0) / count;
}
