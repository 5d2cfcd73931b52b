// The modules the demo deploys to the simulated fleet, as data: the rules that keep each kind of
// device doing its job on its own, with the hub reachable or not. demo-modules.test.ts runs each
// one on the simulated hardware to show that it does.
//
// - room-heating (thermostats): the thermostat switches its room's heater over their local link,
//   with 0.5 °C of hysteresis around its own setpoint and at least a minute between switches
//   (a relay and a heating element last longer that way). The heater obeys only in its 'remote'
//   mode: deploy HEATER_REMOTE with the rule, or the heater keeps its own 'auto' firmware.
// - mower-return-to-base (mowers): a battery under 25 % for 30 s sends the mower home (far more
//   than the trip across the largest lawn takes); charged past 95 % it mows again, and resumes
//   where it stopped.
// - pump-bearing-alarm (pumps): the edge anomaly model publishes `bearingAnomaly`, a score where
//   0.5 and above means "unlike a healthy bearing"; held for a minute it raises a critical alarm,
//   cleared only once the score has stayed low for ten minutes (after a bearing replacement).
// - pump-vibration-alarm (pumps): the fallback that needs no model, on the raw vibration: a
//   10-minute p95 past 7.1 mm/s is ISO 10816 zone D, where damage is expected.
//
// The alarms use an explicit `until`: a model that stops publishing leaves an alarm raised rather
// than clearing it (stale inputs decide nothing).

import type { ModuleSpec } from '@homeostat/protocol';
import type { SimKind } from './capabilities.js';

type RuleSpec = Extract<ModuleSpec, { kind: 'rule' }>;

const MINUTE_MS = 60_000;

export const ROOM_HEATING: RuleSpec = {
  name: 'room-heating',
  kind: 'rule',
  config: {
    when: { metric: 'temperature', below: { metric: 'setpoint', offset: -0.25 } },
    until: { metric: 'temperature', above: { metric: 'setpoint', offset: 0.25 } },
    minActiveMs: MINUTE_MS,
    minInactiveMs: MINUTE_MS,
    onActivate: [{ actuate: { actuator: 'heater', value: true } }],
    onDeactivate: [{ actuate: { actuator: 'heater', value: false } }],
  },
  permissions: { metrics: ['temperature', 'setpoint'], actuators: ['heater'] },
};

/** The desired state of a heater whose thermostat runs ROOM_HEATING: it follows the thermostat. */
export const HEATER_REMOTE = { mode: 'remote' } as const;

export const MOWER_RETURN_TO_BASE: RuleSpec = {
  name: 'mower-return-to-base',
  kind: 'rule',
  config: {
    when: { metric: 'battery', below: 25, forMs: 30_000 },
    until: { metric: 'battery', above: 95 },
    onActivate: [
      { actuate: { actuator: 'mode', value: 'dock' } },
      {
        raise: {
          type: 'action',
          code: 'RETURN_TO_BASE',
          severity: 'info',
          message: 'battery low: returning to base to charge',
        },
      },
    ],
    onDeactivate: [{ actuate: { actuator: 'mode', value: 'mow' } }],
  },
  permissions: { metrics: ['battery'], actuators: ['mode'] },
};

export const PUMP_BEARING_ALARM: RuleSpec = {
  name: 'pump-bearing-alarm',
  kind: 'rule',
  config: {
    when: { metric: 'bearingAnomaly', above: 0.5, forMs: MINUTE_MS },
    until: { metric: 'bearingAnomaly', below: 0.2, forMs: 10 * MINUTE_MS },
    onActivate: [
      {
        raise: {
          type: 'alarm',
          code: 'BEARING_WEAR',
          severity: 'critical',
          message: 'bearing wear detected at the edge: replace the drive-end bearing before it seizes',
        },
      },
    ],
    onDeactivate: [
      { raise: { type: 'log', code: 'BEARING_WEAR_CLEARED', severity: 'info', message: 'bearing back to normal' } },
    ],
  },
  permissions: { metrics: ['bearingAnomaly'] },
};

export const PUMP_VIBRATION_ALARM: RuleSpec = {
  name: 'pump-vibration-alarm',
  kind: 'rule',
  config: {
    when: { metric: 'vibration', window: { sizeMs: 10 * MINUTE_MS, stat: 'p95' }, above: 7.1 },
    until: { metric: 'vibration', window: { sizeMs: 10 * MINUTE_MS, stat: 'p95' }, below: 4.5, forMs: 10 * MINUTE_MS },
    onActivate: [
      {
        raise: {
          type: 'alarm',
          code: 'VIBRATION_ZONE_D',
          severity: 'warning',
          message: 'vibration in ISO 10816 zone D (p95 over 10 min above 7.1 mm/s)',
        },
      },
    ],
  },
  permissions: { metrics: ['vibration'] },
};

/** The rules the demo deploys to each kind of device. */
export const DEMO_RULES: Readonly<Record<SimKind, readonly RuleSpec[]>> = {
  thermostat: [ROOM_HEATING],
  heater: [],
  mower: [MOWER_RETURN_TO_BASE],
  pump: [PUMP_BEARING_ALARM, PUMP_VIBRATION_ALARM],
};
