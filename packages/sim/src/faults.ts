// Fault injection: the failures the autonomic layer must notice, applied to any simulated device.
//
// - `sensor-stuck`: the analog readings freeze at their last value (a hung ADC or bus).
// - `sensor-noise`: extra Gaussian noise on the analog readings (a loose connector, EMI).
// - `drift`: one reading gains an offset growing with simulated time (an ageing sensor).
// - `power-loss`: the device's electronics are off: `sample` and `applyDesired` throw, and the
//   models treat the device's actuators as unpowered (a heater stops heating, a pump stops).
//
// Faults of the physical world rather than of the electronics, each on the devices it concerns:
// - `window-open` (a thermostat or heater: the window of their room): extra heat loss, so the room
//   cools while it lasts (on a winter night, below what its heater can hold);
// - `bearing-damage` (a pump): the bearing's wear jumps, and with it the vibration; clearing the
//   fault does not heal the bearing (`replaceBearing` does);
// - `battery-drain` (a mower): a failing cell drains the battery whatever the mower does.
//
// Discrete readings (a state code, a setpoint) are outputs of the firmware, not of a sensor, so
// noise, drift and sticking leave them alone.

import type { Metrics } from './hardware.js';
import type { Random } from './random.js';
import { HOUR_MS } from './sim-time.js';

export type FaultType =
  | 'sensor-stuck'
  | 'sensor-noise'
  | 'drift'
  | 'power-loss'
  | 'window-open'
  | 'bearing-damage'
  | 'battery-drain';
export const FAULT_TYPES: readonly FaultType[] = [
  'sensor-stuck',
  'sensor-noise',
  'drift',
  'power-loss',
  'window-open',
  'bearing-damage',
  'battery-drain',
];
/** The faults of the physical world: each device model says which of them it has. */
export type ModelFaultType = 'window-open' | 'bearing-damage' | 'battery-drain';

export type Fault =
  | { type: 'sensor-stuck' }
  /** `sigma`: standard deviation, as a fraction of each reading's magnitude (default 0.05) plus 0.05 units. */
  | { type: 'sensor-noise'; sigma?: number }
  /** `metric` defaults to the device's main reading; `perHour` (units per simulated hour) to its typical drift. */
  | { type: 'drift'; metric?: string; perHour?: number }
  | { type: 'power-loss' }
  /** `lossWPerK`: the heat loss the open window adds to the room's, W/K (default 600: wide open). */
  | { type: 'window-open'; lossWPerK?: number }
  /** `wear`: the bearing's wear jumps to at least this, 0..1 (default 0.95: ISO zone D at full speed). */
  | { type: 'bearing-damage'; wear?: number }
  /** `percentPerMin`: battery drained on top of the usual, %/min (default 3). */
  | { type: 'battery-drain'; percentPerMin?: number };

/** The active fault of one model type, with its parameters. */
export type ModelFault<T extends ModelFaultType> = Extract<Fault, { type: T }>;

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
  /** The faults of the physical world this device has; injecting another is a RangeError. */
  models?: readonly ModelFaultType[];
}

const MODEL_FAULTS: readonly string[] = ['window-open', 'bearing-damage', 'battery-drain'];

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
  /** Active faults of the physical world, by type; the models read their parameters. */
  readonly #model = new Map<ModelFaultType, Fault>();
  /** The last readings returned, which a stuck sensor keeps returning. */
  #last: Metrics | null = null;

  constructor(profile: FaultProfile) {
    this.#profile = profile;
  }

  /** Starts a fault at simulated time `simMs` (a drift's offset grows from there; null: from the next reading). */
  inject(fault: Fault | FaultType, simMs: number | null): void {
    const f: Fault = typeof fault === 'string' ? ({ type: fault } as Fault) : fault;
    if (MODEL_FAULTS.includes(f.type)) {
      const type = f.type as ModelFaultType;
      if (!this.#profile.models?.includes(type)) throw new RangeError(`fault ${type} does not apply to this device`);
      this.#model.set(type, f);
      return;
    }
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
    if (type === undefined) this.#model.clear();
    else this.#model.delete(type as ModelFaultType);
  }

  /** The active fault of a physical type, with its parameters; undefined when not active. */
  model<T extends ModelFaultType>(type: T): ModelFault<T> | undefined {
    return this.#model.get(type) as ModelFault<T> | undefined;
  }

  /** The active faults, in a stable order. */
  active(): FaultType[] {
    const on: Record<FaultType, boolean> = {
      'sensor-stuck': this.#stuck,
      'sensor-noise': this.#noiseSigma !== null,
      drift: this.#drift !== null,
      'power-loss': this.#powerLoss,
      'window-open': this.#model.has('window-open'),
      'bearing-damage': this.#model.has('bearing-damage'),
      'battery-drain': this.#model.has('battery-drain'),
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
