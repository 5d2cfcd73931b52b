// What each simulated device reports about itself when it connects. The sensors and actuators
// named here are the ones the models below implement (`actuate` takes exactly these actuators);
// every unit runs ONNX models on its CPU.

import type { Capabilities } from '@homeostat/protocol';

export type SimKind = 'thermostat' | 'heater' | 'mower' | 'pump';

const MIB = 1024 * 1024;

const table: Record<SimKind, Capabilities> = {
  // A wall unit on a small Linux SoC.
  thermostat: {
    kind: 'thermostat',
    cpus: 1,
    memoryBytes: 256 * MIB,
    battery: false,
    sensors: ['temperature', 'humidity'],
    // Its call for heat on the room's link to the heater (0..1 or a boolean).
    actuators: ['heater'],
    executionProviders: ['cpu'],
  },
  // An electric panel heater whose controller reads a wired room sensor.
  heater: {
    kind: 'heater',
    cpus: 1,
    memoryBytes: 256 * MIB,
    battery: false,
    sensors: ['roomTemperature', 'supplyTemperature', 'energy'],
    // The output in 'manual' mode, 0..1 or a boolean.
    actuators: ['heatingElement'],
    executionProviders: ['cpu'],
  },
  // A robot mower with a quad-core board (navigation, obstacle detection).
  mower: {
    kind: 'mower',
    cpus: 4,
    memoryBytes: 2048 * MIB,
    battery: true,
    sensors: ['battery', 'position', 'bladeRpm'],
    // 'mow' | 'dock', the same setting as the desired mode.
    actuators: ['mode'],
    executionProviders: ['cpu'],
  },
  // A pump controller with a vibration probe on the drive-end bearing.
  pump: {
    kind: 'pump',
    cpus: 2,
    memoryBytes: 1024 * MIB,
    battery: false,
    sensors: ['vibration', 'flow', 'pressure', 'bearingTemperature'],
    // 0..1 and a boolean, the same settings as the desired speed and running.
    actuators: ['speed', 'running'],
    executionProviders: ['cpu'],
  },
};

/** A fresh copy of a kind's capabilities (callers may change it freely). */
export function capabilitiesOf(kind: SimKind): Capabilities {
  return structuredClone(table[kind]);
}
