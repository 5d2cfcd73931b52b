// A room's thermal model, shared by the room's thermostat (which measures it) and its heater
// (which heats it). One lumped heat capacity losing heat through the envelope to the outside:
//
//   C · dT/dt = P_heat − UA · (T − T_out)
//
// Each step holds P_heat and T_out constant and uses the exact solution of that linear equation,
// T(t+dt) = T_eq + (T − T_eq) · exp(−dt · UA / C) with T_eq = T_out + P_heat / UA, so any step
// length is stable (no overshoot, no NaN); steps stay short (15 s) so the heater's controller,
// which decides P_heat, sees the temperature as often as real firmware would.

import type { Capabilities } from '@homeostat/protocol';
import { capabilitiesOf } from './capabilities.js';
import { Environment } from './environment.js';
import type { ModelFault } from './faults.js';
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

/** The thermostat's side of the room's heating link (a wire to the heater, or its radio pairing). */
export interface HeatCaller {
  /** How much heat it calls for now, 0..1; 0 when it has no power (the link goes quiet). */
  callForHeat(): number;
}

/** Something in the room that adds heat; stepped by the room with the room's temperature. */
export interface RoomAppliance {
  /** Advances the appliance by `dtS` seconds ending at `simMs`; returns the heat it gave the room, W. */
  step(roomTemperatureC: number, dtS: number, simMs: number): number;
}

export interface RoomOptions {
  /** The weather outside; rooms of one site share it. Default: a new Environment. */
  environment?: Environment;
  /** Heat capacity of air, furniture and inner walls, J/K. Default 2e6 (a 25 m² room). */
  heatCapacityJPerK?: number;
  /** Envelope heat loss coefficient UA, W/K. Default 100 (a fairly insulated room). */
  lossWPerK?: number;
  /** Temperature at the start, °C. Default 19. */
  initialTemperatureC?: number;
  /** Water vapour partial pressure of the room air, kPa. Default 1.05 (45 % RH at 20 °C). */
  vapourPressureKPa?: number;
}

/** Longest integration step, s: short enough for a 0.5 °C hysteresis to act like firmware. */
const MAX_STEP_S = 15;

export class Room {
  readonly environment: Environment;
  readonly heatCapacityJPerK: number;
  readonly lossWPerK: number;
  readonly vapourPressureKPa: number;
  /** Heat loss added by an open window (the `window-open` fault), W/K; 0 when closed. */
  windowLossWPerK = 0;
  #temperatureC: number;
  #simMs: number | null = null;
  readonly #appliances: RoomAppliance[] = [];
  #caller: HeatCaller | null = null;

  constructor(options: RoomOptions = {}) {
    this.environment = options.environment ?? new Environment();
    this.heatCapacityJPerK = options.heatCapacityJPerK ?? 2e6;
    this.lossWPerK = options.lossWPerK ?? 100;
    this.vapourPressureKPa = options.vapourPressureKPa ?? 1.05;
    this.#temperatureC = options.initialTemperatureC ?? 19;
  }

  attach(appliance: RoomAppliance): void {
    this.#appliances.push(appliance);
  }

  /** Pairs the room's thermostat with its heaters; one link per room, the last one paired wins. */
  pair(caller: HeatCaller): void {
    this.#caller = caller;
  }

  /** What the paired thermostat asks of the heaters in 'remote' mode, 0..1 (0 with none). */
  callForHeat(): number {
    return this.#caller?.callForHeat() ?? 0;
  }

  /** Air temperature, °C. */
  get temperatureC(): number {
    return this.#temperatureC;
  }

  /**
   * Relative humidity, %: the vapour pressure is held constant, so the humidity falls as the air
   * warms (the saturation pressure follows the Magnus formula).
   */
  get humidityPercent(): number {
    const t = this.#temperatureC;
    const saturationKPa = 0.6112 * Math.exp((17.62 * t) / (243.12 + t));
    return clamp((100 * this.vapourPressureKPa) / saturationKPa, 1, 100);
  }

  /**
   * Advances to the simulated time `simMs`. Both devices of the room call this; the second call
   * for the same time does nothing, so the room is advanced once per distinct time.
   */
  advanceTo(simMs: number): void {
    if (this.#simMs === null) {
      this.#simMs = simMs;
      return;
    }
    const { count, dtS } = steps((simMs - this.#simMs) / 1000, MAX_STEP_S);
    const c = this.heatCapacityJPerK;
    const ua = this.lossWPerK + this.windowLossWPerK;
    const decay = Math.exp((-dtS * ua) / c);
    let t = this.#temperatureC;
    for (let i = 1; i <= count; i++) {
      const stepEndMs = this.#simMs + i * dtS * 1000;
      let heatW = 0;
      for (const a of this.#appliances) heatW += a.step(t, dtS, stepEndMs);
      const equilibriumC = this.environment.outsideTemperatureC(stepEndMs - dtS * 500) + heatW / ua;
      t = equilibriumC + (t - equilibriumC) * decay;
    }
    this.#temperatureC = t;
    this.#simMs = Math.max(this.#simMs, simMs);
  }
}

/** Default heat loss of an open window, W/K: wide open on a winter night, more than a heater makes up for. */
const WINDOW_OPEN_W_PER_K = 600;

/** Opens or closes the room's window after a `window-open` fault of one of its devices changed. */
function setWindow(room: Room, fault: ModelFault<'window-open'> | undefined): void {
  room.windowLossWPerK = fault === undefined ? 0 : (fault.lossWPerK ?? WINDOW_OPEN_W_PER_K);
}

export interface ThermostatOptions extends SimHardwareOptions {
  /** Initial setpoint, °C. Default 20. */
  setpointC?: number;
}

/** The setpoint range both room devices accept, °C. */
export const SETPOINT_MIN_C = 5;
export const SETPOINT_MAX_C = 30;

/**
 * A wall thermostat: it measures the room (temperature ±0.05 °C, humidity ±0.5 %) and stores a
 * setpoint. Its actuator `heater` (0..1, or a boolean) is its call for heat on the room's local
 * link: heaters in 'remote' mode run at that level. The thermostat decides nothing itself; a rule
 * deployed to it does, on the device, so the room stays heated when the hub is unreachable.
 */
export class ThermostatHardware extends SimHardware implements HeatCaller {
  readonly kind = 'thermostat';
  readonly room: Room;
  #setpointC: number;
  #call = 0;

  constructor(room: Room, options: ThermostatOptions = {}) {
    super(options, { discrete: ['setpoint'], drift: { metric: 'temperature', perHour: 0.3 }, models: ['window-open'] });
    this.room = room;
    this.#setpointC = options.setpointC ?? 20;
    room.pair(this);
  }

  callForHeat(): number {
    return this.faults.powered ? this.#call : 0;
  }

  protected override faultsChanged(): void {
    setWindow(this.room, this.faults.model('window-open'));
  }

  capabilities(): Capabilities {
    return capabilitiesOf('thermostat');
  }

  protected advanceTo(simMs: number): void {
    this.room.advanceTo(simMs);
  }

  protected read(): Metrics {
    return {
      temperature: this.room.temperatureC + this.rng.uniform(-0.05, 0.05),
      humidity: clamp(this.room.humidityPercent + this.rng.uniform(-0.5, 0.5), 0, 100),
      setpoint: this.#setpointC,
    };
  }

  protected apply(desired: State): State {
    this.#setpointC = numberIn(desired.setpoint, SETPOINT_MIN_C, SETPOINT_MAX_C) ?? this.#setpointC;
    return { setpoint: this.#setpointC };
  }

  protected act(actuator: string, value: ActuatorValue): void {
    if (actuator !== 'heater') throw noActuator(this.kind, actuator);
    this.#call = levelOf(this.kind, actuator, value);
  }
}

/** 'remote': the heater obeys its room's thermostat (see `Room.callForHeat`). */
export type HeaterMode = 'auto' | 'off' | 'manual' | 'remote';
const HEATER_MODES: readonly HeaterMode[] = ['auto', 'off', 'manual', 'remote'];

export interface HeaterOptions extends SimHardwareOptions {
  /** Electrical power at full output, W (all of it ends up in the room). Default 2000. */
  maxPowerW?: number;
  /** Initial setpoint, °C. Default 20. */
  setpointC?: number;
  /** Initial mode. Default 'auto'. */
  mode?: HeaterMode;
  /** Width of the controller's hysteresis band around the setpoint, °C. Default 0.5. */
  hysteresisC?: number;
}

/** Water supply rise above the room at full power, K, and its time constant, s. */
const SUPPLY_RISE_K = 45;
const SUPPLY_TAU_S = 240;

/**
 * An electric heater with its own firmware. In 'auto' it is a bang-bang controller reading the
 * room temperature through a wired sensor: on at or below setpoint − 0.25 °C, off at or above
 * setpoint + 0.25 °C. It keeps working without any network. 'manual' runs at the desired
 * `power` (0..1), which its actuator `heatingElement` also sets; 'remote' runs at the level its
 * room's thermostat calls for (nothing when the thermostat is silent: a heater must not heat on
 * an order it no longer receives); 'off' is off. Power loss turns it off whatever the mode.
 */
export class HeaterHardware extends SimHardware implements RoomAppliance {
  readonly kind = 'heater';
  readonly room: Room;
  readonly maxPowerW: number;
  readonly hysteresisC: number;
  #mode: HeaterMode;
  #setpointC: number;
  readonly #manualPower = new Setting(0);
  /** The output now, 0..1. */
  #power = 0;
  /** The bang-bang controller's latch. */
  #heating = false;
  #supplyC: number;
  #energyWh = 0;

  constructor(room: Room, options: HeaterOptions = {}) {
    super(options, {
      discrete: ['power'],
      drift: { metric: 'supplyTemperature', perHour: 1 },
      models: ['window-open'],
    });
    this.room = room;
    this.maxPowerW = options.maxPowerW ?? 2000;
    this.hysteresisC = options.hysteresisC ?? 0.5;
    this.#mode = options.mode ?? 'auto';
    this.#setpointC = options.setpointC ?? 20;
    this.#supplyC = room.temperatureC;
    room.attach(this);
  }

  capabilities(): Capabilities {
    return capabilitiesOf('heater');
  }

  protected override faultsChanged(): void {
    setWindow(this.room, this.faults.model('window-open'));
  }

  /** Called by the room for each integration step. */
  step(roomTemperatureC: number, dtS: number): number {
    this.#power = this.#decide(roomTemperatureC);
    const targetC = roomTemperatureC + SUPPLY_RISE_K * this.#power;
    this.#supplyC = targetC + (this.#supplyC - targetC) * Math.exp(-dtS / SUPPLY_TAU_S);
    const watts = this.#power * this.maxPowerW;
    this.#energyWh += (watts * dtS) / 3600;
    return watts;
  }

  protected advanceTo(simMs: number): void {
    this.room.advanceTo(simMs);
  }

  protected read(): Metrics {
    return {
      power: this.#power,
      supplyTemperature: this.#supplyC + this.rng.uniform(-0.2, 0.2),
      energyWh: this.#energyWh,
    };
  }

  protected apply(desired: State): State {
    this.#setpointC = numberIn(desired.setpoint, SETPOINT_MIN_C, SETPOINT_MAX_C) ?? this.#setpointC;
    const mode = desired.mode;
    if (typeof mode === 'string' && (HEATER_MODES as readonly string[]).includes(mode)) {
      this.#mode = mode as HeaterMode;
    }
    this.#manualPower.desire(numberIn(desired.power, 0, 1));
    // Act on the change now, so the report says what the heater does from this moment.
    this.#power = this.#decide(this.room.temperatureC);
    return { mode: this.#mode, setpoint: this.#setpointC, power: this.#power };
  }

  protected act(actuator: string, value: ActuatorValue): void {
    if (actuator !== 'heatingElement') throw noActuator(this.kind, actuator);
    this.#manualPower.value = levelOf(this.kind, actuator, value);
    this.#power = this.#decide(this.room.temperatureC);
  }

  #decide(roomTemperatureC: number): number {
    if (!this.faults.powered) {
      this.#heating = false;
      return 0;
    }
    switch (this.#mode) {
      case 'off':
        this.#heating = false;
        return 0;
      case 'manual':
        return this.#manualPower.value;
      case 'remote':
        return this.room.callForHeat();
      case 'auto': {
        const half = this.hysteresisC / 2;
        if (roomTemperatureC <= this.#setpointC - half) this.#heating = true;
        else if (roomTemperatureC >= this.#setpointC + half) this.#heating = false;
        return this.#heating ? 1 : 0;
      }
    }
  }
}
