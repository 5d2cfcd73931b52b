// What each simulated device reports about itself when it connects. The sensors and actuators
// named here are the ones the models below implement; every unit runs ONNX models on its CPU.

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
    actuators: [],
    executionProviders: ['cpu'],
  },
  // An electric panel heater whose controller reads a wired room sensor.
  heater: {
    kind: 'heater',
    cpus: 1,
    memoryBytes: 256 * MIB,
    battery: false,
    sensors: ['roomTemperature', 'supplyTemperature', 'energy'],
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
    actuators: ['drive', 'blade'],
    executionProviders: ['cpu'],
  },
  // A pump controller with a vibration probe on the drive-end bearing.
  pump: {
    kind: 'pump',
    cpus: 2,
    memoryBytes: 1024 * MIB,
    battery: false,
    sensors: ['vibration', 'flow', 'pressure', 'bearingTemperature'],
    actuators: ['motor'],
    executionProviders: ['cpu'],
  },
};

/** A fresh copy of a kind's capabilities (callers may change it freely). */
export function capabilitiesOf(kind: SimKind): Capabilities {
  return structuredClone(table[kind]);
}
