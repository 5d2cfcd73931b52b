// A robot mower on a rectangular lawn with its charging base at one corner.
//
// It mows in parallel lanes (boustrophedon), so its position is a function of the lawn coverage:
// after a break it drives back to where it stopped and resumes there, coverage kept. Battery
// drains while it moves (more on slopes and with the blade on) and charges on the base.
//
// The firmware is deliberately naive: it does NOT go home on low battery. Keeping the battery
// above a threshold is the autonomic layer's job: a rule on the device drives the actuator `mode`
// ('dock' on a low battery, 'mow' once charged), or a hub Policy sends the desired mode 'dock';
// without either the mower runs flat on the lawn and is stranded, which is the failure the demo
// shows. The actuator and the desired `mode` are one setting: the latest order wins.

import type { Capabilities } from '@homeostat/protocol';
import { capabilitiesOf } from './capabilities.js';
import {
  type ActuatorValue,
  choiceOf,
  clamp,
  type Metrics,
  noActuator,
  Setting,
  SimHardware,
  type SimHardwareOptions,
  type State,
} from './hardware.js';
import { DAY_MS, steps } from './sim-time.js';

export type MowerState = 'docked' | 'mowing' | 'returning' | 'charging' | 'stranded';
export type MowerMode = 'mow' | 'dock';
const MOWER_MODES: readonly MowerMode[] = ['mow', 'dock'];

/** The numeric code of each state in the `state` metric (metrics are numbers). */
export const MOWER_STATE_CODES: Readonly<Record<MowerState, number>> = {
  docked: 0,
  mowing: 1,
  returning: 2,
  charging: 3,
  stranded: 4,
};

export interface MowerOptions extends SimHardwareOptions {
  /** Lawn size along the lanes and across them, m. Defaults 40 × 25 (1000 m²). */
  lawnLengthM?: number;
  lawnWidthM?: number;
  /** Distance between lanes, m: the 25 cm cut minus overlap. Default 0.2. */
  laneSpacingM?: number;
  /** Ground speed, m/s, mowing and travelling. Default 0.5. */
  speedMps?: number;
  /** Battery drain while mowing on flat ground on average, %/min. Default 0.8 (~2 h per charge). */
  mowDrainPercentPerMin?: number;
  /** Battery drain while driving with the blade off, %/min. Default 0.5. */
  travelDrainPercentPerMin?: number;
  /** Charging rate on the base, %/min. Default 2. */
  chargePercentPerMin?: number;
  /** Where it starts. Default: docked, full, nothing mowed, desired mode 'mow'. */
  initial?: {
    batteryPercent?: number;
    coveragePercent?: number;
    /** 'mowing' puts it on the lawn at the place matching its coverage. */
    state?: 'docked' | 'mowing';
    mode?: MowerMode;
  };
  /** Phase of the lawn's slopes, rad, so lawns differ. Default 0. */
  slopePhase?: number;
}

/** Extra drain of a `battery-drain` fault by default, %/min: flat within the hour even on its base. */
const BATTERY_DRAIN_PERCENT_PER_MIN = 3;
/** Longest integration step, s (2.5 m of travel at 0.5 m/s). */
const MAX_STEP_S = 5;
/** Blade speed on flat ground, rpm; slopes and thick grass load it down. */
const BLADE_RPM = 3100;

export class MowerHardware extends SimHardware {
  readonly kind = 'mower';
  readonly lawnLengthM: number;
  readonly lawnWidthM: number;
  readonly speedMps: number;
  readonly #lanes: number;
  readonly #laneSpacingM: number;
  readonly #mowDrain: number;
  readonly #travelDrain: number;
  readonly #charge: number;
  readonly #slopePhase: number;
  readonly #mode: Setting<MowerMode>;
  #state: MowerState;
  #batteryPercent: number;
  #coveragePercent: number;
  #x = 0;
  #y = 0;
  /** Mowing, but still driving (blade off) to the resume point. */
  #outbound = false;
  #simMs: number | null = null;
  /** Simulated day number (UTC) last seen: a new day brings a fresh lawn. */
  #day = 0;

  constructor(options: MowerOptions = {}) {
    super(options, { discrete: ['state'], drift: { metric: 'battery', perHour: -2 }, models: ['battery-drain'] });
    this.lawnLengthM = options.lawnLengthM ?? 40;
    this.lawnWidthM = options.lawnWidthM ?? 25;
    this.#laneSpacingM = options.laneSpacingM ?? 0.2;
    this.#lanes = Math.max(1, Math.ceil(this.lawnWidthM / this.#laneSpacingM));
    this.speedMps = options.speedMps ?? 0.5;
    this.#mowDrain = options.mowDrainPercentPerMin ?? 0.8;
    this.#travelDrain = options.travelDrainPercentPerMin ?? 0.5;
    this.#charge = options.chargePercentPerMin ?? 2;
    this.#slopePhase = options.slopePhase ?? 0;
    const initial = options.initial ?? {};
    this.#mode = new Setting(initial.mode ?? 'mow');
    this.#batteryPercent = clamp(initial.batteryPercent ?? 100, 0, 100);
    this.#coveragePercent = clamp(initial.coveragePercent ?? 0, 0, 100);
    this.#state = initial.state ?? 'docked';
    if (this.#state === 'mowing') [this.#x, this.#y] = this.#pathPoint(this.#coveragePercent);
  }

  capabilities(): Capabilities {
    return capabilitiesOf('mower');
  }

  get state(): MowerState {
    return this.#state;
  }
  get mode(): MowerMode {
    return this.#mode.value;
  }
  /** True charge, % (the `battery` metric is this, as the gauge reads it). */
  get batteryPercent(): number {
    return this.#batteryPercent;
  }
  get coveragePercent(): number {
    return this.#coveragePercent;
  }
  /** Straight-line distance to the base, m. */
  get distanceToBaseM(): number {
    return Math.hypot(this.#x, this.#y);
  }

  protected advanceTo(simMs: number): void {
    if (this.#simMs === null) {
      this.#simMs = simMs;
      this.#day = Math.floor(simMs / DAY_MS);
      return;
    }
    const { count, dtS } = steps((simMs - this.#simMs) / 1000, MAX_STEP_S);
    for (let i = 1; i <= count; i++) this.#step(dtS, this.#simMs + i * dtS * 1000);
    this.#simMs = simMs;
  }

  protected read(): Metrics {
    const blade = this.#bladeOn() ? BLADE_RPM * (1 - this.#grade()) + this.rng.gaussian(20) : 0;
    return {
      battery: clamp(this.#batteryPercent + this.rng.uniform(-0.1, 0.1), 0, 100),
      coverage: this.#coveragePercent,
      // Position from RTK GPS, a few centimetres of noise.
      distanceToBase: Math.max(0, this.distanceToBaseM + this.rng.gaussian(0.03)),
      state: MOWER_STATE_CODES[this.#state],
      bladeRpm: Math.max(0, blade),
    };
  }

  protected apply(desired: State): State {
    const mode = desired.mode;
    const valid = typeof mode === 'string' && (MOWER_MODES as readonly string[]).includes(mode);
    // A stranded mower cannot move: a changed order from the hub means a person carried it back
    // to its base (the work order was done), where it starts charging.
    if (this.#mode.desire(valid ? (mode as MowerMode) : undefined) && this.#state === 'stranded') {
      this.#x = 0;
      this.#y = 0;
      this.#state = 'charging';
    }
    return { mode: this.#mode.value, state: this.#state };
  }

  /** `mode`: 'mow' | 'dock', as the desired mode (a stranded mower takes it but stays stranded). */
  protected act(actuator: string, value: ActuatorValue): void {
    if (actuator !== 'mode') throw noActuator(this.kind, actuator);
    this.#mode.value = choiceOf(this.kind, actuator, value, MOWER_MODES);
  }

  #step(dtS: number, simMs: number): void {
    const day = Math.floor(simMs / DAY_MS);
    if (day !== this.#day) {
      this.#day = day;
      // Simple schedule: a finished lawn has grown again by the next day.
      if (this.#coveragePercent >= 100) this.#coveragePercent = 0;
    }
    const minutes = dtS / 60;
    // A failing cell drains whatever the mower does, powered or not.
    const leak = this.faults.model('battery-drain');
    if (leak !== undefined) this.#drain((leak.percentPerMin ?? BATTERY_DRAIN_PERCENT_PER_MIN) * minutes);
    if (!this.faults.powered) return; // electronics off: it stands still, no drain, no charge
    switch (this.#state) {
      case 'stranded':
        return;
      case 'docked':
      case 'charging': {
        this.#batteryPercent = Math.min(100, this.#batteryPercent + this.#charge * minutes);
        this.#state = this.#batteryPercent < 100 ? 'charging' : 'docked';
        if (this.#mode.value === 'mow' && this.#batteryPercent >= 95 && this.#coveragePercent < 100) {
          this.#state = 'mowing';
          this.#outbound = true;
        }
        return;
      }
      case 'mowing': {
        if (this.#mode.value === 'dock') {
          this.#state = 'returning';
          return;
        }
        if (this.#outbound) {
          const [tx, ty] = this.#pathPoint(this.#coveragePercent);
          this.#outbound = !this.#moveToward(tx, ty, dtS);
          this.#drain(this.#travelDrain * minutes);
        } else {
          const ratePerS = (100 * this.speedMps) / (this.#lanes * this.lawnLengthM);
          this.#coveragePercent = Math.min(100, this.#coveragePercent + ratePerS * dtS);
          [this.#x, this.#y] = this.#pathPoint(this.#coveragePercent);
          // Climbing costs energy: the drain factor spans 0.85..1.15 and averages 1 over the lawn.
          const slope = 0.85 + 2 * this.#grade();
          const noise = Math.max(0, 1 + this.rng.gaussian(0.1));
          this.#drain(this.#mowDrain * slope * noise * minutes);
          if (this.#coveragePercent >= 100) this.#state = 'returning';
        }
        if (this.#batteryPercent <= 0) this.#state = 'stranded';
        return;
      }
      case 'returning': {
        if (this.#mode.value === 'mow' && this.#coveragePercent < 100) {
          this.#state = 'mowing';
          this.#outbound = true;
          return;
        }
        const home = this.#moveToward(0, 0, dtS);
        this.#drain(this.#travelDrain * minutes);
        if (home) this.#state = this.#batteryPercent < 100 ? 'charging' : 'docked';
        else if (this.#batteryPercent <= 0) this.#state = 'stranded';
        return;
      }
    }
  }

  #drain(percent: number): void {
    this.#batteryPercent = Math.max(0, this.#batteryPercent - percent);
  }

  #bladeOn(): boolean {
    return this.#state === 'mowing' && !this.#outbound && this.faults.powered;
  }

  /** Drives straight toward (x, y) for `dtS` seconds; true once there. */
  #moveToward(x: number, y: number, dtS: number): boolean {
    const dx = x - this.#x;
    const dy = y - this.#y;
    const dist = Math.hypot(dx, dy);
    const stepM = this.speedMps * dtS;
    if (stepM >= dist) {
      this.#x = x;
      this.#y = y;
      return true;
    }
    this.#x += (dx / dist) * stepM;
    this.#y += (dy / dist) * stepM;
    return false;
  }

  /** Position on the lane pattern at a coverage, m from the base along and across the lanes. */
  #pathPoint(coveragePercent: number): [number, number] {
    const s = (coveragePercent / 100) * this.#lanes * this.lawnLengthM;
    const lane = Math.min(this.#lanes - 1, Math.floor(s / this.lawnLengthM));
    const along = clamp(s - lane * this.lawnLengthM, 0, this.lawnLengthM);
    const x = lane % 2 === 0 ? along : this.lawnLengthM - along;
    return [x, (lane + 0.5) * this.#laneSpacingM];
  }

  /** Slope grade (rise over run, 0..0.15) of the lawn at the mower's position: gentle undulations. */
  #grade(): number {
    return 0.075 * (1 + Math.sin(this.#x / 6 + this.#slopePhase) * Math.cos(this.#y / 4));
  }
}
