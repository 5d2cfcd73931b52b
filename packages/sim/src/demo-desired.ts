// The desired state each kind of demo device starts with: what `homeostat demo` gives its fleet,
// and what the edge-bytes benchmark measures. Edge aggregation as the demo fleet runs it: a
// summary (min, max, avg) of the continuous metrics every minute instead of a reading every
// second, values rounded to the sensors' resolution, and raw readings for the first minute of an
// abnormal episode, with one alarm per episode (a room too cold, a flat battery, a pump vibrating
// in ISO 10816 zone D). A pump's `bearingAnomaly` is its edge model's score, when the model runs.
// Settings and states (a setpoint, a mower's state code) are not summarised: the twin reports
// them, and a mean of state codes means nothing.

import type { RawWhen, TelemetrySettings } from '@homeostat/protocol';

const summaries = (metrics: string[], rawWhen: RawWhen[] = []): TelemetrySettings => ({
  mode: 'aggregate',
  window: { kind: 'tumbling', sizeMs: 60_000 },
  stats: ['min', 'max', 'avg'],
  metrics,
  decimals: 2,
  ...(rawWhen.length > 0 ? { rawWhen, rawForMs: 60_000 } : {}),
});

/**
 * Heated rooms hold their setpoint (19 to 21 °C) within half a degree; below 16 °C something is
 * wrong (a window left open, a heater that stopped). The episode ends back above 16.5 °C.
 */
const ROOM_TOO_COLD: RawWhen = {
  metric: 'temperature',
  below: 16,
  hysteresis: 0.5,
  alarm: { code: 'ROOM_TOO_COLD', severity: 'warning' },
};
/** A mower below 20 % must head home; the gauge reads ±0.1 %, charging ends the episode at 25 %. */
const BATTERY_LOW: RawWhen = {
  metric: 'battery',
  below: 20,
  hysteresis: 5,
  alarm: { code: 'BATTERY_LOW', severity: 'warning' },
};
/**
 * ISO 10816 zone D (damage likely) above 7.1 mm/s. Readings scatter by about 4 % (0.3 mm/s at the
 * bound): a hysteresis of 0.5 still split a pump hovering at 7.4 into seven episodes in an hour
 * (the edge-bytes benchmark), so the episode ends only back in zone C below 6.1.
 */
const VIBRATION_ZONE_D: RawWhen = {
  metric: 'vibration',
  above: 7.1,
  hysteresis: 1,
  alarm: { code: 'VIBRATION_ZONE_D', severity: 'critical' },
};

/** By device kind (`PlannedDevice.kind`). */
export const DEMO_DESIRED: Readonly<Record<string, Record<string, unknown>>> = {
  thermostat: { setpoint: 21, telemetry: summaries(['temperature', 'humidity'], [ROOM_TOO_COLD]) },
  heater: { mode: 'auto', setpoint: 21, telemetry: summaries(['power', 'supplyTemperature', 'energyWh']) },
  mower: { mode: 'mow', telemetry: summaries(['battery', 'coverage', 'distanceToBase', 'bladeRpm'], [BATTERY_LOW]) },
  pump: {
    running: true,
    speed: 0.8,
    telemetry: summaries(
      ['vibration', 'vibrationBearing', 'flow', 'pressure', 'bearingTemperature'],
      [VIBRATION_ZONE_D],
    ),
  },
};
