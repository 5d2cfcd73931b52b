// A centrifugal pump whose drive-end bearing wears out: the predictive-maintenance case.
//
// Wear w ∈ [0, 1] grows with running hours (faster at high speed). It shows first as vibration:
// overall RMS = (1.2 + 8·w²) mm/s at full speed, i.e. ISO 10816 zone A (< 1.8) when new, zone C
// (> 4.5) past w ≈ 0.65 and zone D (> 7.1) past w ≈ 0.85; a bearing-defect band
// (`vibrationBearing`) grows from nothing; the bearing runs hotter. At w = 1 the bearing seizes:
// the pump stops delivering (flow 0), vibration spikes (the motor keeps trying to start against a
// seized shaft while `running` is desired) and the pump stays failed until `replaceBearing`.
//
// Actuators `speed` (0..1) and `running` (boolean) are the desired settings of the same names,
// driven locally (e.g. a rule slowing a worn pump to stretch its bearing's life); the latest order
// wins.
//
// Hydraulics, by the affinity laws: pump head H = H0·s²·(1 − 0.15·w²) − a·Q² against a system
// curve H = Hs + b·Q², so Q = √((H0·s²·(1 − 0.15·w²) − Hs) / (a + b)) when positive.

import type { Capabilities } from '@homeostat/protocol';
import { capabilitiesOf } from './capabilities.js';
import {
  type ActuatorValue,
  clamp,
  levelOf,
  type Metrics,
  noActuator,
  numberIn,
  Setting,
  SimHardware,
  type SimHardwareOptions,
  type State,
} from './hardware.js';
import { steps } from './sim-time.js';

export interface PumpOptions extends SimHardwareOptions {
  /** Bearing wear at the start, 0..1. Default 0 (new). */
  initialWear?: number;
  /** Wear per running hour at full speed (proportional to speed). Default 1/20 000 (20 000 h life). */
  wearPerRunHour?: number;
  /** Running hours already on the counter, h. Default 0. */
  initialRunHours?: number;
  /** Initial desired speed, 0..1, and whether it runs. Defaults 0.8 and true. */
  speed?: number;
  running?: boolean;
  /** Ambient temperature around the bearing housing, °C. Default 22. */
  ambientC?: number;
}

/** Shut-off head at full speed, m; pump curve coefficient, m/(m³/h)². */
const SHUTOFF_HEAD_M = 40;
const PUMP_CURVE = 0.004;
/** Static head of the system, m, and its friction coefficient, m/(m³/h)². */
const STATIC_HEAD_M = 5;
const SYSTEM_CURVE = 0.002;
/** bar per metre of water column (ρ = 1000 kg/m³, g = 9.81 m/s²). */
const BAR_PER_M = 0.0981;
/** Vibration: base RMS of a healthy pump at full speed, and the wear term, mm/s. */
const VIBRATION_BASE = 1.2;
const VIBRATION_WEAR = 8;
/** Bearing thermal time constant, s. */
const BEARING_TAU_S = 900;
/** Wear after a `bearing-damage` fault by default: ISO zone D (above 7.1 mm/s) at full speed. */
const BEARING_DAMAGE_WEAR = 0.95;
/** Longest integration step, s. */
const MAX_STEP_S = 60;

export class PumpHardware extends SimHardware {
  readonly kind = 'pump';
  readonly wearPerRunHour: number;
  readonly ambientC: number;
  #wear: number;
  #failed: boolean;
  #runHours: number;
  readonly #speed: Setting<number>;
  readonly #running: Setting<boolean>;
  #bearingC: number;
  #simMs: number | null = null;

  constructor(options: PumpOptions = {}) {
    super(options, {
      discrete: ['speed', 'runHours'],
      drift: { metric: 'pressure', perHour: 0.05 },
      models: ['bearing-damage'],
    });
    this.#wear = clamp(options.initialWear ?? 0, 0, 1);
    this.#failed = this.#wear >= 1;
    this.wearPerRunHour = options.wearPerRunHour ?? 1 / 20_000;
    this.#runHours = options.initialRunHours ?? 0;
    this.#speed = new Setting(clamp(options.speed ?? 0.8, 0, 1));
    this.#running = new Setting(options.running ?? true);
    this.ambientC = options.ambientC ?? 22;
    this.#bearingC = this.#bearingTargetC();
  }

  capabilities(): Capabilities {
    return capabilitiesOf('pump');
  }

  /** Bearing wear, 0..1: hidden on a real pump, which is why the vibration is watched. */
  get wear(): number {
    return this.#wear;
  }
  get failed(): boolean {
    return this.#failed;
  }
  get runHours(): number {
    return this.#runHours;
  }

  /** Maintenance: a new bearing (wear 0), and the pump may run again. `now` is the wall time. */
  replaceBearing(now: number): void {
    this.advanceTo(this.time.toSim(now));
    this.#wear = 0;
    this.#failed = false;
  }

  /** A `bearing-damage` fault: the wear jumps (and the bearing may fail at once). */
  protected override faultsChanged(): void {
    const damage = this.faults.model('bearing-damage');
    if (damage === undefined) return;
    this.#wear = Math.max(this.#wear, clamp(damage.wear ?? BEARING_DAMAGE_WEAR, 0, 1));
    if (this.#wear >= 1) this.#failed = true;
  }

  protected advanceTo(simMs: number): void {
    if (this.#simMs === null || simMs <= this.#simMs) {
      this.#simMs = Math.max(this.#simMs ?? simMs, simMs);
      return;
    }
    const { count, dtS } = steps((simMs - this.#simMs) / 1000, MAX_STEP_S);
    const decay = Math.exp(-dtS / BEARING_TAU_S);
    for (let i = 0; i < count; i++) {
      const s = this.#shaftSpeed();
      if (s > 0) {
        this.#runHours += dtS / 3600;
        this.#wear = Math.min(1, this.#wear + (this.wearPerRunHour * s * dtS) / 3600);
        if (this.#wear >= 1) this.#failed = true;
      }
      const target = this.#bearingTargetC();
      this.#bearingC = target + (this.#bearingC - target) * decay;
    }
    this.#simMs = simMs;
  }

  protected read(): Metrics {
    const s = this.#shaftSpeed();
    const w = this.#wear;
    let vibration: number;
    let bearingBand: number;
    if (this.#failed && this.#running.value && this.faults.powered) {
      vibration = 25 + this.rng.gaussian(2);
      bearingBand = 15 + this.rng.gaussian(1.5);
    } else if (s > 0) {
      // Vibration rises with speed: 40 % of the full-speed level at standstill speed, all of it at 1.
      const load = 0.4 + 0.6 * s;
      vibration = (VIBRATION_BASE + VIBRATION_WEAR * w * w) * load * (1 + this.rng.gaussian(0.04));
      bearingBand = (0.05 + 5 * w ** 1.5) * load * (1 + this.rng.gaussian(0.05));
    } else {
      vibration = 0.05 + Math.abs(this.rng.gaussian(0.02)); // the sensor's noise floor
      bearingBand = 0.01 + Math.abs(this.rng.gaussian(0.005));
    }
    const flow = this.#flowM3h(s);
    const headM = STATIC_HEAD_M + SYSTEM_CURVE * flow * flow;
    return {
      vibration: Math.max(0, vibration),
      vibrationBearing: Math.max(0, bearingBand),
      flow: flow > 0 ? Math.max(0, flow * (1 + this.rng.gaussian(0.01))) : 0,
      pressure: Math.max(0, headM * BAR_PER_M + this.rng.gaussian(0.005)),
      bearingTemperature: this.#bearingC + this.rng.gaussian(0.1),
      speed: s,
      runHours: this.#runHours,
    };
  }

  protected apply(desired: State): State {
    this.#speed.desire(numberIn(desired.speed, 0, 1));
    this.#running.desire(typeof desired.running === 'boolean' ? desired.running : undefined);
    return { running: this.#running.value, speed: this.#speed.value, failed: this.#failed };
  }

  protected act(actuator: string, value: ActuatorValue): void {
    switch (actuator) {
      case 'speed':
        this.#speed.value = levelOf(this.kind, actuator, value);
        return;
      case 'running':
        if (typeof value !== 'boolean')
          throw new RangeError(`pump: running takes a boolean, not ${JSON.stringify(value)}`);
        this.#running.value = value;
        return;
      default:
        throw noActuator(this.kind, actuator);
    }
  }

  /** Actual shaft speed, 0..1: zero when stopped, failed or unpowered. */
  #shaftSpeed(): number {
    return this.#running.value && !this.#failed && this.faults.powered ? this.#speed.value : 0;
  }

  #flowM3h(s: number): number {
    const headM = SHUTOFF_HEAD_M * s * s * (1 - 0.15 * this.#wear * this.#wear) - STATIC_HEAD_M;
    return headM > 0 ? Math.sqrt(headM / (PUMP_CURVE + SYSTEM_CURVE)) : 0;
  }

  /** Where the bearing temperature settles, °C: friction heat grows with speed and wear. */
  #bearingTargetC(): number {
    if (this.#failed && this.#running.value && this.faults.powered) return this.ambientC + 70; // rubbing
    const s = this.#shaftSpeed();
    return this.ambientC + s * (18 + 40 * this.#wear * this.#wear);
  }
}
