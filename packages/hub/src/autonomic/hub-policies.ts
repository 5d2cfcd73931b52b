// The policies the hub ships for itself (scope hub), installed at start when missing (unless
// HOMEOSTAT_HUB_POLICIES=off): a store near its budget or a disk near full tightens raw retention
// and opens an incident; an ingest backlog applies backpressure on telemetry; controllers falling
// behind shed the work that can wait. Each undoes itself when its symptom clears (hysteresis).
// An operator changes one by applying a policy of the same name, or sets the degree of its
// property to observe or recommend to keep the hub from acting on its own.

import type { PolicySpec } from '@homeostat/protocol';
import type { PolicyDocument } from './demo-policies.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;
const GIB = 1024 ** 3;
const labels = { 'shipped-with': 'hub' };

/** Storage running short: raw readings kept a day while it lasts, and people told. */
function tightenOn(
  name: string,
  trigger: PolicySpec['trigger'],
  symptom: string,
  description: string,
  severity: 'warning' | 'critical',
  title: string,
): PolicyDocument {
  return {
    name,
    labels,
    spec: {
      property: 'self-healing',
      scope: 'hub',
      trigger,
      analysis: { symptom, description },
      plan: [
        { action: 'tighten-retention', rawMs: DAY_MS },
        { action: 'open-incident', severity, title },
      ],
      verify: { check: 'cleared', withinMs: HOUR_MS },
      cooldownMs: 10 * MINUTE_MS,
    },
  };
}

export const HUB_POLICIES: readonly PolicyDocument[] = [
  tightenOn(
    'hub-store-budget',
    { kind: 'hub', metric: 'store-budget-ratio', above: 0.9, clearAt: 0.8, forMs: MINUTE_MS },
    'store-filling',
    'the store takes over 90% of its budget: raw readings are kept a day (rollups as configured) until it is under 80%',
    'warning',
    "the hub's store is near its budget",
  ),
  tightenOn(
    'hub-disk-low',
    { kind: 'hub', metric: 'disk-free-bytes', below: GIB, clearAt: 2 * GIB, forMs: MINUTE_MS },
    'disk-filling',
    'under 1 GiB free under the data directory: a full disk would stop every write of the hub',
    'critical',
    "the hub's disk is nearly full",
  ),
  {
    name: 'hub-ingest-backlog',
    labels,
    spec: {
      property: 'self-optimization',
      scope: 'hub',
      trigger: { kind: 'hub', metric: 'ingest-backlog', above: 50_000, clearAt: 5_000, forMs: 10_000 },
      analysis: {
        symptom: 'ingest-backlog',
        description:
          'readings arrive faster than the store writes them: devices keep theirs a little longer, so alarms, events and the twin go first',
      },
      plan: [{ action: 'backpressure', maxHoldMs: 5_000 }],
      verify: { check: 'cleared', withinMs: 10 * MINUTE_MS },
      cooldownMs: MINUTE_MS,
    },
  },
  {
    name: 'hub-controllers-behind',
    labels,
    spec: {
      property: 'self-optimization',
      scope: 'hub',
      trigger: { kind: 'hub', metric: 'controller-lag-ms', above: 30_000, clearAt: 5_000, forMs: 10_000 },
      analysis: {
        symptom: 'controllers-behind',
        description:
          'a controller has had work waiting over 30 s: the work that can wait (models placed in the hub, the periodic resync) waits',
      },
      plan: [
        { action: 'shed-work', work: 'hub-placement' },
        { action: 'shed-work', work: 'controller-resync' },
      ],
      verify: { check: 'cleared', withinMs: 10 * MINUTE_MS },
      cooldownMs: MINUTE_MS,
    },
  },
];
