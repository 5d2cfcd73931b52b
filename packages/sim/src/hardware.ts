// The base of every simulated device: the physics models behind the agent's hardware port.

import type { ActuatorValue, DeviceHardware, Metrics, State } from '@homeostat/agent';
import type { Capabilities } from '@homeostat/protocol';
import { type Fault, type FaultProfile, FaultSet, type FaultType, PowerLossError } from './faults.js';
import { Random } from './random.js';
import { SimTime } from './sim-time.js';

export type { ActuatorValue, DeviceHardware, Metrics, State };

export interface SimHardwareOptions {
  /** Maps wall time to simulated time; shared by the devices of one fleet. Default: real time from 0. */
  time?: SimTime;
  /** Seed of this device's sensor noise. Default 1. */
  seed?: number;
}

/**
 * The shared shape of a simulated device: `sample` and `applyDesired` first advance the model to
 * the (simulated) `now`, then read or act; faults sit between the model and the agent. A model
 * starts at the first time it is asked about (it has no time before), and time never goes
 * backwards: a `now` older than the last one reads the model as it is.
 */
export abstract class SimHardware implements DeviceHardware {
  abstract readonly kind: string;
  protected readonly time: SimTime;
  protected readonly rng: Random;
  protected readonly faults: FaultSet;
  /** The simulated time the model was last advanced to, ms. */
  #simMs: number | null = null;

  constructor(options: SimHardwareOptions, profile: FaultProfile) {
    this.time = options.time ?? new SimTime();
    this.rng = new Random(options.seed ?? 1);
    this.faults = new FaultSet(profile);
  }

  abstract capabilities(): Capabilities;

  sample(now: number): Metrics {
    if (!this.faults.powered) throw new PowerLossError(this.kind);
    const simMs = this.#advance(now);
    return this.faults.apply(this.read(simMs), simMs, this.rng);
  }

  applyDesired(desired: State, now: number): State {
    if (!this.faults.powered) throw new PowerLossError(this.kind);
    const simMs = this.#advance(now);
    return this.apply(desired, simMs);
  }

  /**
   * Drives an actuator (a module does this, e.g. a rule): the model is first advanced to `now`
   * under the old setting, so the change takes effect from this moment.
   */
  actuate(actuator: string, value: ActuatorValue, now: number): void {
    if (!this.faults.powered) throw new PowerLossError(this.kind);
    this.act(actuator, value, this.#advance(now));
  }

  /**
   * Starts a fault. Pass the wall time `now` so the model is first advanced under the conditions
   * that held before the fault (otherwise the fault counts from the last sample).
   */
  inject(fault: Fault | FaultType, now?: number): void {
    const simMs = now === undefined ? this.#simMs : this.#advance(now);
    this.faults.inject(fault, simMs);
    this.faultsChanged();
  }

  /** Ends a fault (every fault without `type`); `now` as for `inject`. */
  clear(type?: FaultType, now?: number): void {
    if (now !== undefined) this.#advance(now);
    this.faults.clear(type);
    this.faultsChanged();
  }

  /** The faults now active. */
  activeFaults(): FaultType[] {
    return this.faults.active();
  }

  /**
   * Called after a fault is injected or cleared, with the model advanced to that moment: for the
   * models whose physical faults act outside their own step (a room's window, a bearing's wear).
   */
  protected faultsChanged(): void {}
  /** Advances the physics to `simMs`; called with increasing times only. */
  protected abstract advanceTo(simMs: number): void;
  /** The true readings at `simMs`, with ordinary sensor noise. */
  protected abstract read(simMs: number): Metrics;
  /** Applies a desired state at `simMs` and returns what to report. */
  protected abstract apply(desired: State, simMs: number): State;
  /** Sets one actuator at `simMs`; throws on an unknown actuator or a value it cannot take. */
  protected abstract act(actuator: string, value: ActuatorValue, simMs: number): void;

  #advance(now: number): number {
    const target = this.time.toSim(now);
    if (this.#simMs === null || target > this.#simMs) {
      this.advanceTo(target);
      this.#simMs = target;
    }
    return this.#simMs;
  }
}

/** `value` when it is a finite number within [min, max], else undefined. */
export function numberIn(value: unknown, min: number, max: number): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max ? value : undefined;
}

export function clamp(value: number, min: number, max: number): number {
  return Math.max(min, Math.min(max, value));
}

/**
 * A setting that two sources drive: the hub's desired state and a local actuator (a rule). The
 * latest order wins. The agent re-applies the whole desired state on every twin update, so a
 * desired value counts only when it differs from the previous desired value: otherwise an
 * unrelated update (a new module, a telemetry setting) would undo what a rule just did, e.g.
 * send a mower that a rule docked on a low battery back to mowing.
 */
export class Setting<T> {
  value: T;
  /** The last desired value taken; the initial value counts as one (the factory setting). */
  #desired: T;

  constructor(initial: T) {
    this.value = initial;
    this.#desired = initial;
  }

  /** Takes a desired value (undefined: absent or invalid); true when it is a new order. */
  desire(value: T | undefined): boolean {
    if (value === undefined || value === this.#desired) return false;
    this.#desired = value;
    this.value = value;
    return true;
  }
}

/** The error for an actuator the device does not have. */
export function noActuator(kind: string, actuator: string): RangeError {
  return new RangeError(`${kind}: no actuator '${actuator}'`);
}

/** An actuator value as a level 0..1: a number in range, or a boolean (on = 1). Throws otherwise. */
export function levelOf(kind: string, actuator: string, value: ActuatorValue): number {
  if (typeof value === 'boolean') return value ? 1 : 0;
  const level = numberIn(value, 0, 1);
  if (level === undefined)
    throw new RangeError(`${kind}: ${actuator} takes 0..1 or a boolean, not ${JSON.stringify(value)}`);
  return level;
}

/** An actuator value that must be one of `choices`. Throws otherwise. */
export function choiceOf<T extends string>(
  kind: string,
  actuator: string,
  value: ActuatorValue,
  choices: readonly T[],
): T {
  if (typeof value === 'string' && (choices as readonly string[]).includes(value)) return value as T;
  throw new RangeError(`${kind}: ${actuator} takes ${choices.join(' | ')}, not ${JSON.stringify(value)}`);
}
