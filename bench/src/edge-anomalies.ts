// The anomalies the edge-bytes benchmark injects into the demo fleet, and the alarm each one must
// raise. Chosen by unit number, so a fleet of any size gets them on the same kinds of unit, and
// timed in simulated seconds from the start of the hour. Each is a physical fault of the simulator
// (packages/sim/src/faults.ts) that crosses one of the demo's alarm thresholds
// (packages/sim/src/demo-desired.ts) within the hour, on a winter night.

import type { Fault, PlannedDevice } from '@homeostat/sim';

export interface Anomaly {
  device: string;
  what: string;
  fault: Fault;
  /** Injected at this many simulated seconds after the start of the hour, and cleared at `clearAtS`. */
  atS: number;
  clearAtS?: number;
  /** The code of the alarm it must raise, on `device`. */
  alarm: string;
}

/** Unit number within its kind: `room-03-thermostat` is room 3, `pump-07` pump 7. */
function unitNumber(name: string): number {
  return Number(/-(\d+)/.exec(name)?.[1] ?? Number.NaN);
}

/**
 * Per five units of a kind (by unit number modulo 5): room 3's window open for 40 minutes (its
 * room falls below 16 °C); pump 2 (the demo's worn one) damaged into ISO zone D; pump 4's bearing
 * seizing; mower 3 with a failing cell.
 */
const SCHEDULE: readonly (Omit<Anomaly, 'device'> & { kind: string; unit: number })[] = [
  {
    kind: 'thermostat',
    unit: 3,
    what: 'window open for 40 min',
    fault: { type: 'window-open' },
    atS: 300,
    clearAtS: 2700,
    alarm: 'ROOM_TOO_COLD',
  },
  {
    kind: 'pump',
    unit: 2,
    what: 'bearing damage, wear to 0.95',
    fault: { type: 'bearing-damage', wear: 0.95 },
    atS: 600,
    alarm: 'VIBRATION_ZONE_D',
  },
  {
    kind: 'pump',
    unit: 4,
    what: 'bearing seizes',
    fault: { type: 'bearing-damage', wear: 1 },
    atS: 1800,
    alarm: 'VIBRATION_ZONE_D',
  },
  {
    kind: 'mower',
    unit: 3,
    what: 'battery drain 5 %/min',
    fault: { type: 'battery-drain', percentPerMin: 5 },
    atS: 600,
    alarm: 'BATTERY_LOW',
  },
];

export function planAnomalies(devices: readonly PlannedDevice[]): Anomaly[] {
  return devices.flatMap((d) => {
    const unit = unitNumber(d.name) % 5;
    return SCHEDULE.filter((a) => a.kind === d.kind && a.unit === unit).map(({ kind: _, unit: __, ...a }) => ({
      device: d.name,
      ...a,
    }));
  });
}
