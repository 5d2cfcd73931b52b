// The demo's desired states: one for every kind the fleet plan makes, with telemetry settings the
// agent accepts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parser, TelemetrySettings } from '@homeostat/protocol';
import { DEMO_DESIRED } from './demo-desired.js';
import { planFleet } from './fleet-plan.js';

test('every planned kind has a desired state whose telemetry settings parse, with alarms on its thresholds', () => {
  const kinds = new Set(planFleet({ devices: 20, clockNow: () => 0 }).map((d) => d.kind));
  const settings = parser(TelemetrySettings);
  for (const kind of kinds) {
    const desired = DEMO_DESIRED[kind];
    assert.ok(desired, `no desired state for ${kind}`);
    const parsed = settings.parse(desired.telemetry);
    assert.ok(parsed.ok, `${kind}: ${JSON.stringify(parsed)}`);
    for (const condition of parsed.value.rawWhen ?? []) assert.ok(condition.alarm, `${kind}: ${condition.metric}`);
  }
});
