// Fault injection: the failures the autonomic layer must notice, applied to any simulated device.
//
// - `sensor-stuck`: the analog readings freeze at their last value (a hung ADC or bus).
// - `sensor-noise`: extra Gaussian noise on the analog readings (a loose connector, EMI).
// - `drift`: one reading gains an offset growing with simulated time (an ageing sensor).
// - `power-loss`: the device's electronics are off: `sample` and `applyDesired` throw, and the
//   models treat the device's actuators as unpowered (a heater stops heating, a pump stops).
//
// Discrete readings (a state code, a setpoint) are outputs of the firmware, not of a sensor, so
// noise, drift and sticking leave them alone.

import type { Metrics } from './hardware.js';
import type { Random } from './random.js';
import { HOUR_MS } from './sim-time.js';

export type FaultType = 'sensor-stuck' | 'sensor-noise' | 'drift' | 'power-loss';
export const FAULT_TYPES: readonly FaultType[] = ['sensor-stuck', 'sensor-noise', 'drift', 'power-loss'];

export type Fault =
  | { type: 'sensor-stuck' }
  /** `sigma`: standard deviation, as a fraction of each reading's magnitude (default 0.05) plus 0.05 units. */
  | { type: 'sensor-noise'; sigma?: number }
  /** `metric` defaults to the device's main reading; `perHour` (units per simulated hour) to its typical drift. */
  | { type: 'drift'; metric?: string; perHour?: number }
  | { type: 'power-loss' };

/** Thrown by `sample` and `applyDesired` while the device has no power. */
export class PowerLossError extends Error {
  override readonly name = 'PowerLossError';
  constructor(kind: string) {
    super(`${kind}: no power (simulated power-loss fault)`);
  }
}

/** What each device says about its readings, for the faults to act on. */
export interface FaultProfile {
  /** Readings that are not sensor values; faults never alter them. */
  discrete: readonly string[];
  /** The reading a `drift` fault shifts by default, and how fast (units per simulated hour). */
  drift: { metric: string; perHour: number };
}

interface ActiveDrift {
  metric: string;
  perHour: number;
  /** When the drift started; null until the first reading if the device was never read before. */
  sinceSimMs: number | null;
}

/** The faults active on one device, and their effect on its readings. */
export class FaultSet {
  readonly #profile: FaultProfile;
  #stuck = false;
  #noiseSigma: number | null = null;
  #drift: ActiveDrift | null = null;
  #powerLoss = false;
  /** The last readings returned, which a stuck sensor keeps returning. */
  #last: Metrics | null = null;

  constructor(profile: FaultProfile) {
    this.#profile = profile;
  }

  /** Starts a fault at simulated time `simMs` (a drift's offset grows from there; null: from the next reading). */
  inject(fault: Fault | FaultType, simMs: number | null): void {
    const f: Fault = typeof fault === 'string' ? ({ type: fault } as Fault) : fault;
    switch (f.type) {
      case 'sensor-stuck':
        this.#stuck = true;
        return;
      case 'sensor-noise':
        this.#noiseSigma = f.sigma ?? 0.05;
        return;
      case 'drift':
        this.#drift = {
          metric: f.metric ?? this.#profile.drift.metric,
          perHour: f.perHour ?? this.#profile.drift.perHour,
          sinceSimMs: simMs,
        };
        return;
      case 'power-loss':
        this.#powerLoss = true;
        return;
      default:
        throw new TypeError(`unknown fault ${JSON.stringify(f)}`);
    }
  }

  /** Ends one fault, or every fault when `type` is omitted. */
  clear(type?: FaultType): void {
    if (type === undefined || type === 'sensor-stuck') this.#stuck = false;
    if (type === undefined || type === 'sensor-noise') this.#noiseSigma = null;
    if (type === undefined || type === 'drift') this.#drift = null;
    if (type === undefined || type === 'power-loss') this.#powerLoss = false;
  }

  /** The active faults, in a stable order. */
  active(): FaultType[] {
    const on: Record<FaultType, boolean> = {
      'sensor-stuck': this.#stuck,
      'sensor-noise': this.#noiseSigma !== null,
      drift: this.#drift !== null,
      'power-loss': this.#powerLoss,
    };
    return FAULT_TYPES.filter((t) => on[t]);
  }

  get powered(): boolean {
    return !this.#powerLoss;
  }

  /** Transforms the true readings into what the faulty sensors report. */
  apply(metrics: Metrics, simMs: number, rng: Random): Metrics {
    const discrete = this.#profile.discrete;
    const out: Metrics = { ...metrics };
    const last = this.#last;
    for (const [name, value] of Object.entries(out)) {
      if (discrete.includes(name)) continue;
      let v = value;
      if (this.#stuck && last !== null && last[name] !== undefined) {
        v = last[name];
      } else {
        const drift = this.#drift;
        if (drift !== null && drift.metric === name) {
          drift.sinceSimMs ??= simMs;
          v += (drift.perHour * Math.max(0, simMs - drift.sinceSimMs)) / HOUR_MS;
        }
        if (this.#noiseSigma !== null) v += rng.gaussian(this.#noiseSigma * Math.abs(v) + 0.05);
      }
      out[name] = v;
    }
    this.#last = out;
    return { ...out };
  }
}
