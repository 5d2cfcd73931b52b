// The demo fleet: a pure plan of named devices on simulated hardware, reproducible from a seed.
//
// A 'thermostat' unit is a ROOM: one Room model shared by two devices, `room-NN-thermostat` and
// `room-NN-heater`. Mowers and pumps are one device each. Sites alternate paris / lyon, and each
// site has its own weather, shared by its rooms. Every device gets its own noise stream derived
// from (seed, name), so adding devices never changes the others' readings.
//
// Scripted for the demo (fixed, not random, so a demo script can count on them):
// - every fifth mower from the first (mower-01, mower-06, …) starts on the lawn at 30 % battery
//   with a third of the lawn mowed: without a return-to-base rule it strands within the hour;
// - every fifth pump from the second (pump-02, pump-07, …) starts with a worn bearing (w = 0.8)
//   that wears fast (0.02 per run hour at full speed, so it fails after ~12 h at speed 0.8).

import { Environment } from './environment.js';
import type { DeviceHardware } from './hardware.js';
import { MowerHardware } from './mower.js';
import { PumpHardware } from './pump.js';
import { deriveSeed, Random } from './random.js';
import { HeaterHardware, Room, ThermostatHardware } from './room.js';
import { SimTime } from './sim-time.js';

export type PlanKind = 'thermostat' | 'mower' | 'pump';
export const PLAN_KINDS: readonly PlanKind[] = ['thermostat', 'mower', 'pump'];

export interface FleetPlanOptions {
  /** How many devices, about: a room counts two, so an odd count may give one more. */
  devices: number;
  /** The unit kinds to mix, in rotation. Default all three. */
  kinds?: readonly PlanKind[];
  /** Seed of every random choice and noise stream. Default 1. */
  seed?: number;
  /** Simulated seconds per wall second (the models advance by elapsedMs × timeScale). Default 1. */
  timeScale?: number;
  /** The wall clock; read once, as the origin where simulated time equals wall time. */
  clockNow: () => number;
}

export interface PlannedDevice {
  name: string;
  kind: string;
  labels: Record<string, string>;
  hardware: DeviceHardware;
}

const SITES = ['paris', 'lyon'] as const;
/** Weather per site: Lyon is a little colder at night and warmer by day (more continental). */
const SITE_WEATHER: Record<(typeof SITES)[number], { meanC: number; amplitudeC: number }> = {
  paris: { meanC: 8, amplitudeC: 5 },
  lyon: { meanC: 7, amplitudeC: 6.5 },
};

/** Splits `devices` into units, taking the kinds in rotation. */
export function planUnits(devices: number, kinds: readonly PlanKind[] = PLAN_KINDS): PlanKind[] {
  const rotation = [...new Set(kinds)];
  if (rotation.length === 0) throw new RangeError('fleet plan: kinds must not be empty');
  if (!(Number.isInteger(devices) && devices >= 0)) {
    throw new RangeError('fleet plan: devices must be a non-negative integer');
  }
  const units: PlanKind[] = [];
  let total = 0;
  let i = 0;
  while (total < devices) {
    let kind = rotation[i++ % rotation.length]!;
    // With one device left, a room (two devices) would overshoot: take another kind if there is one.
    if (kind === 'thermostat' && devices - total === 1 && rotation.length > 1) {
      kind = rotation[i++ % rotation.length]!;
    }
    units.push(kind);
    total += kind === 'thermostat' ? 2 : 1;
  }
  return units;
}

/** Builds the fleet: names, labels and hardware models, ready to hand to agents. */
export function planFleet(options: FleetPlanOptions): PlannedDevice[] {
  const seed = options.seed ?? 1;
  const units = planUnits(options.devices, options.kinds ?? PLAN_KINDS);
  const time = new SimTime({ originMs: options.clockNow(), timeScale: options.timeScale ?? 1 });
  const pick = new Random(deriveSeed(seed, 'fleet-plan'));
  const environments = new Map<string, Environment>();
  const environmentOf = (site: (typeof SITES)[number]): Environment => {
    let env = environments.get(site);
    if (env === undefined) {
      env = new Environment({ ...SITE_WEATHER[site], seed: deriveSeed(seed, `weather-${site}`) });
      environments.set(site, env);
    }
    return env;
  };
  const count = (k: PlanKind) => units.filter((u) => u === k).length;
  const width = (n: number) => Math.max(2, String(n).length);
  const pad = { thermostat: width(count('thermostat')), mower: width(count('mower')), pump: width(count('pump')) };
  const index = { thermostat: 0, mower: 0, pump: 0 };
  const out: PlannedDevice[] = [];

  for (const unit of units) {
    const n = index[unit]++;
    const num = String(n + 1).padStart(pad[unit], '0');
    const site = SITES[n % SITES.length]!;
    // About one unit in three is of the later hardware revision.
    const revision = pick.next() < 0.3 ? 'rev-b' : 'rev-a';
    const labels = (model: string) => ({ site, model, 'hw-revision': revision });
    const opts = (name: string) => ({ time, seed: deriveSeed(seed, name) });

    if (unit === 'thermostat') {
      const roomName = `room-${num}`;
      const room = new Room({
        environment: environmentOf(site),
        heatCapacityJPerK: pick.uniform(1.6e6, 2.4e6),
        lossWPerK: pick.uniform(80, 110),
        initialTemperatureC: pick.uniform(17, 21),
        vapourPressureKPa: pick.uniform(0.9, 1.2),
      });
      const setpointC = [19, 20, 21][pick.int(3)]!;
      const thermostat = `${roomName}-thermostat`;
      const heater = `${roomName}-heater`;
      out.push({
        name: thermostat,
        kind: 'thermostat',
        labels: { ...labels('th-100'), room: roomName },
        hardware: new ThermostatHardware(room, { ...opts(thermostat), setpointC }),
      });
      out.push({
        name: heater,
        kind: 'heater',
        labels: { ...labels('ht-200'), room: roomName },
        hardware: new HeaterHardware(room, { ...opts(heater), setpointC, maxPowerW: pick.uniform(2000, 2500) }),
      });
    } else if (unit === 'mower') {
      const name = `mower-${num}`;
      const onLawn = n % 5 === 0;
      out.push({
        name,
        kind: 'mower',
        labels: labels('mw-300'),
        hardware: new MowerHardware({
          ...opts(name),
          lawnLengthM: pick.uniform(30, 50),
          lawnWidthM: pick.uniform(20, 30),
          slopePhase: pick.uniform(0, 2 * Math.PI),
          initial: onLawn
            ? { state: 'mowing', batteryPercent: 30, coveragePercent: 33 }
            : { state: 'docked', batteryPercent: pick.uniform(60, 100), coveragePercent: pick.uniform(0, 50) },
        }),
      });
    } else {
      const name = `pump-${num}`;
      const worn = n % 5 === 1;
      out.push({
        name,
        kind: 'pump',
        labels: labels('pm-400'),
        hardware: new PumpHardware({
          ...opts(name),
          initialWear: worn ? 0.8 : pick.uniform(0, 0.3),
          wearPerRunHour: worn ? 0.02 : 1 / 20_000,
          initialRunHours: pick.uniform(500, 8000),
          speed: worn ? 0.8 : pick.uniform(0.6, 0.9),
        }),
      });
    }
  }
  return out;
}
