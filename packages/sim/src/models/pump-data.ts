// Training and test data for the pump's bearing-anomaly model, from the simulator itself: seeded
// pump runs whose operator changes the speed now and then (and sometimes stops the pump), read
// once a second like the agent samples, cut into windows and turned into input rows with the same
// `inputRow` the agent and the hub use. Deterministic: the same seed gives the same rows.

import { type InputSpec, inputRow } from '@homeostat/inference';
import type { Feature } from '@homeostat/protocol';
import { PumpHardware } from '../pump.js';
import { Random } from '../random.js';

/** What the model reads: the pump's own sensors, mean and peak over the window. */
export const PUMP_INPUTS: InputSpec & { windowMs: number; features: Feature[]; metrics: string[] } = {
  metrics: ['vibration', 'vibrationBearing', 'bearingTemperature', 'flow', 'pressure', 'speed'],
  features: ['mean', 'max'],
  windowMs: 30_000,
};

/** The agent's default sampling period, ms. */
export const SAMPLE_MS = 1000;

export interface PumpRun {
  seed: number;
  /** Bearing wear, constant over the run (the test data looks at one wear level at a time). */
  wear: number;
  /** Simulated hours. */
  hours: number;
  /** Change the operating point (speed, or a stop) every 20 to 40 minutes. Default true. */
  vary?: boolean;
  /** Speed when not varied, or the first one. Default 0.8. */
  speed?: number;
}

/**
 * The input rows of one run, one per window of `PUMP_INPUTS.windowMs` (windows do not overlap).
 * Windows in which the pump stopped or started are kept: the model must not alarm on them.
 */
export function pumpRows(run: PumpRun): Float32Array[] {
  const pump = new PumpHardware({ seed: run.seed, initialWear: run.wear, wearPerRunHour: 0, speed: run.speed ?? 0.8 });
  const schedule = new Random(run.seed * 7919 + 1);
  const perWindow = PUMP_INPUTS.windowMs / SAMPLE_MS;
  const total = Math.floor((run.hours * 3_600_000) / SAMPLE_MS);
  let nextChange = 0;
  let window: Record<string, number>[] = [];
  const rows: Float32Array[] = [];
  for (let i = 0; i < total; i++) {
    const now = i * SAMPLE_MS;
    if (run.vary !== false && now >= nextChange) {
      if (now > 0) {
        const stop = schedule.next() < 0.15;
        pump.applyDesired(stop ? { running: false } : { running: true, speed: schedule.uniform(0.4, 1) }, now);
      }
      nextChange = now + schedule.uniform(20, 40) * 60_000;
    }
    window.push(pump.sample(now));
    if (window.length === perWindow) {
      const w = window;
      const row = inputRow(PUMP_INPUTS, (m) => w.map((r) => r[m]).filter((v) => v !== undefined));
      if (row) rows.push(row);
      window = [];
    }
  }
  return rows;
}

/** Healthy training runs: new to lightly worn bearings (ISO 10816 zone A), varied operation. */
export function healthyRuns(count: number, firstSeed: number, hours = 4): PumpRun[] {
  return Array.from({ length: count }, (_, i) => ({
    seed: firstSeed + i,
    wear: 0.15 * (i / Math.max(1, count - 1)),
    hours,
  }));
}
