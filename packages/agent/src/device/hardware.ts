// The hardware port: what the agent needs from the device it runs on. The simulator implements
// it with physics models; a real device implements it with its drivers.

import type { Capabilities } from '@homeostat/protocol';

export type Metrics = Record<string, number>;
export type State = Record<string, unknown>;
export type ActuatorValue = number | boolean | string;

export interface DeviceHardware {
  /** What the device is: `thermostat`, `heater`, `mower`, `pump`… */
  readonly kind: string;
  /** Reported with the device's status when it connects. */
  capabilities(): Capabilities;
  /** Reads the sensors now; metric names follow the protocol's metric pattern. */
  sample(now: number): Metrics;
  /**
   * Applies the whole desired state (unknown keys are ignored, invalid values keep the current
   * setting) and returns the part of the state the device now runs, to be reported.
   */
  applyDesired(desired: State, now: number): State;
  /**
   * Drives one of the actuators named in `capabilities().actuators` (modules do this, e.g. a rule
   * switching a heating element). Throws on an unknown actuator or a value it cannot take.
   */
  actuate?(actuator: string, value: ActuatorValue, now: number): void;
}
